// add bias + exact GELU, in place:
//   data[r, c] = gelu(data[r, c] + bias[c]),  gelu(x) = 0.5 x (1 + erf(x / sqrt 2))
// data: [rows, cols] row-major, bias: [cols]; T in {float, __half}, math in float.
// Variants: vectors of N = 16 / sizeof(T), 8 / sizeof(T), ... elements, the widest one that divides
// cols and the alignment of both pointers (scalar fallback N = 1).
#include "activation.cuh"
#include "common.cuh"

namespace ft4j {
namespace {

__device__ __forceinline__ float gelu(float x) {
  return 0.5f * x * (1.f + erff(x * 0.70710678118654752440f));
}

template <typename T, int N>
__global__ void add_bias_gelu_kernel(AddBiasGeluParams<T> p) {
  const int64_t vecs = p.cols / N;
  for (int64_t r = int64_t(blockIdx.x) * blockDim.y + threadIdx.y; r < p.rows;
       r += int64_t(gridDim.x) * blockDim.y) {
    T* row = p.data + r * p.cols;  // [cols]
    for (int64_t c = int64_t(blockIdx.y) * blockDim.x + threadIdx.x; c < vecs;
         c += int64_t(gridDim.y) * blockDim.x) {
      float x[N], b[N];
      load<T, N>(row + c * N, x);
      load<T, N>(p.bias + c * N, b);
#pragma unroll
      for (int i = 0; i < N; ++i) x[i] = gelu(x[i] + b[i]);
      store<T, N>(row + c * N, x);
    }
  }
}

}  // namespace

// Every shape is supported.
template <typename T>
std::string check_add_bias_gelu(const AddBiasGeluParams<T>&) {
  return "";
}

template <typename T>
cudaError_t launch_add_bias_gelu(const AddBiasGeluParams<T>& p, cudaStream_t stream) {
  const int n = vector_width<T>(p.cols, {p.data, p.bias});
  const RowsByVectors plan = plan_rows_by_vectors(p.rows, p.cols / n);
  with_pow2<16 / sizeof(T)>(n, [&](auto width) {
    add_bias_gelu_kernel<T, decltype(width)::value><<<plan.grid, plan.block, 0, stream>>>(p);
  });
  return cudaGetLastError();
}

template std::string check_add_bias_gelu(const AddBiasGeluParams<float>&);
template std::string check_add_bias_gelu(const AddBiasGeluParams<__half>&);
template cudaError_t launch_add_bias_gelu(const AddBiasGeluParams<float>&, cudaStream_t);
template cudaError_t launch_add_bias_gelu(const AddBiasGeluParams<__half>&, cudaStream_t);

}  // namespace ft4j
