// Toy kernels for test_emu.cpp: they go through prep.py like the real ones and exercise what the
// emulator must model or detect.
#include <cuda_runtime.h>

namespace emutest {

__global__ void block_sum_kernel(const float* in, float* out, int n, int outputs) {
  __shared__ float scratch[33];
  for (int b = blockIdx.x; b < outputs; b += gridDim.x) {  // grid-stride: the emulator may cap grids
    float v = 0.f;
    for (int i = threadIdx.x; i < n; i += blockDim.x) v += in[i];
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    if ((threadIdx.x & 31) == 0) scratch[threadIdx.x >> 5] = v;
    __syncthreads();
    if (threadIdx.x == 0) {
      float t = 0.f;
      for (int w = 0; w < (int)(blockDim.x / 32); ++w) t += scratch[w];
      out[b] = t;
    }
    __syncthreads();
  }
}

// Reads a neighbour's shared value without a barrier.
__global__ void racy_kernel(float* out) {
  __shared__ float s[256];
  s[threadIdx.x] = (float)threadIdx.x;
  out[threadIdx.x] = s[threadIdx.x ^ 1];
}

// Blocks write the same element.
__global__ void block_race_kernel(int* out) { if (threadIdx.x == 0) out[0] = (int)blockIdx.x; }

__global__ void partial_mask_kernel(float* out) {
  out[threadIdx.x] = __shfl_xor_sync(0x0000ffffu, 1.f, 1);
}

__global__ void divergent_barrier_kernel(float* out) {
  if (threadIdx.x < 16) __syncthreads();
  out[threadIdx.x] = 1.f;
}

__global__ void divergent_shuffle_kernel(float* out) {
  if (threadIdx.x < 16) out[threadIdx.x] = __shfl_xor_sync(0xffffffffu, 1.f, 1);
}

__global__ void smem_kernel(float* out, int n) {
  extern __shared__ float dyn[];
  __shared__ float scratch[33];
  if (threadIdx.x == 0) out[0] = 1.f;
  if (n > 0) dyn[n - 1] = 0.f;
  scratch[0] = 0.f;
}

__global__ void grid_stride_kernel(int* count, int n) {
  for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) {
    count[i] += 1;
  }
}

__global__ void read_at_kernel(const float* in, float* out, int i) {
  if (threadIdx.x == 0) out[0] = in[i];
}

__global__ void write_input_kernel(float* in) { if (threadIdx.x == 0) in[0] = 1.f; }

__global__ void smem_at_kernel(float* out, int i) {
  extern __shared__ float dyn[];
  dyn[i] = 1.f;
  out[0] = 0.f;
}

// A __shared__ array declared in a helper that runs twice and inside a loop: one array each.
__device__ float* helper_array() {
  __shared__ float h[4];
  return h;
}
__global__ void shared_sites_kernel(int* out) {
  float* a = helper_array();
  float* b = helper_array();
  int same = a == b;
  float* first = nullptr;
  for (int i = 0; i < 3; ++i) {
    __shared__ float in_loop[8];
    if (i == 0) first = in_loop;
    same &= first == in_loop;
  }
  same &= (void*)first != (void*)a;
  if (threadIdx.x == 0) out[0] = same;
}

}  // namespace emutest

cudaError_t launch_block_sum(const float* in, float* out, int n, int blocks, int threads) {
  emutest::block_sum_kernel<<<blocks, threads, 0, nullptr>>>(in, out, n, blocks);
  return cudaGetLastError();
}
cudaError_t launch_racy(float* out) {
  emutest::racy_kernel<<<1, 64>>>(out);
  return cudaGetLastError();
}
cudaError_t launch_block_race(int* out) {
  emutest::block_race_kernel<<<4, 32>>>(out);
  return cudaGetLastError();
}
cudaError_t launch_partial_mask(float* out) {
  emutest::partial_mask_kernel<<<1, 32>>>(out);
  return cudaGetLastError();
}
cudaError_t launch_divergent_barrier(float* out) {
  emutest::divergent_barrier_kernel<<<1, 32>>>(out);
  return cudaGetLastError();
}
cudaError_t launch_divergent_shuffle(float* out) {
  emutest::divergent_shuffle_kernel<<<1, 32>>>(out);
  return cudaGetLastError();
}
cudaError_t launch_smem(float* out, size_t dyn_bytes, int threads) {
  emutest::smem_kernel<<<1, threads, dyn_bytes>>>(out, (int)(dyn_bytes / sizeof(float)));
  return cudaGetLastError();
}
cudaError_t launch_grid_stride(int* count, int n, int blocks) {
  emutest::grid_stride_kernel<<<blocks, 128>>>(count, n);
  return cudaGetLastError();
}
cudaError_t launch_read_at(const float* in, float* out, int i) {
  emutest::read_at_kernel<<<1, 32>>>(in, out, i);
  return cudaGetLastError();
}
cudaError_t launch_write_input(float* in) {
  emutest::write_input_kernel<<<1, 32>>>(in);
  return cudaGetLastError();
}
cudaError_t launch_smem_at(float* out, size_t dyn_bytes, int i) {
  emutest::smem_at_kernel<<<1, 32, dyn_bytes>>>(out, i);
  return cudaGetLastError();
}
cudaError_t launch_shared_sites(int* out) {
  emutest::shared_sites_kernel<<<2, 64>>>(out);
  return cudaGetLastError();
}
