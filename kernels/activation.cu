// add_bias_gelu (see activation.cuh). One block per row (grid-stride over rows), threads stride
// over the columns; 16-byte packs when cols and both pointers allow it.
#include <cuda_fp16.h>

#include "activation.cuh"
#include "common.cuh"

namespace ft4j {
namespace {


template <typename T, int N>
__global__ void add_bias_gelu_kernel(T* __restrict__ data, const T* __restrict__ bias, int rows,
                                     int cols) {
  using P = Pack<T, N>;
  const int packs = cols / N;
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    P* row = reinterpret_cast<P*>(data + r * cols);
    const P* b = reinterpret_cast<const P*>(bias);
    for (int c = threadIdx.x; c < packs; c += blockDim.x) {
      P x = row[c];
      const P bb = b[c];
#pragma unroll
      for (int i = 0; i < N; ++i) x.v[i] = from_float<T>(gelu_erf(to_float(x.v[i]) + to_float(bb.v[i])));
      row[c] = x;
    }
  }
}

template <typename T, int N>
cudaError_t launch(const AddBiasGeluParams<T>& p, cudaStream_t stream) {
  const int threads = row_block_threads(p.cols / N, 1, 256);
  add_bias_gelu_kernel<T, N><<<row_blocks(p.rows), threads, 0, stream>>>(p.data, p.bias, p.rows, p.cols);
  return cudaGetLastError();
}

}  // namespace

template <typename T>
std::string check_add_bias_gelu(const AddBiasGeluParams<T>& p) {
  if (p.rows < 1 || p.cols < 1) return "rows and cols must be >= 1";
  return "";
}

template <typename T>
cudaError_t launch_add_bias_gelu(const AddBiasGeluParams<T>& p, cudaStream_t stream) {
  constexpr int kWide = 16 / sizeof(T);
  if (p.cols % kWide == 0 && aligned_to(p.data, 16) && aligned_to(p.bias, 16)) {
    return launch<T, kWide>(p, stream);
  }
  return launch<T, 1>(p, stream);
}

template std::string check_add_bias_gelu<float>(const AddBiasGeluParams<float>&);
template std::string check_add_bias_gelu<__half>(const AddBiasGeluParams<__half>&);
template cudaError_t launch_add_bias_gelu<float>(const AddBiasGeluParams<float>&, cudaStream_t);
template cudaError_t launch_add_bias_gelu<__half>(const AddBiasGeluParams<__half>&, cudaStream_t);

}  // namespace ft4j
