// Zeroing of padded rows: data[b, s, :] = 0 for s >= lengths[b] (lengths on the device, read by
// the kernel: no host sync). data: [batch, seq, hidden] row-major; valid rows are not touched.
// Variants: stores of the widest vector (<= 16 bytes) that divides hidden and the pointer's
// alignment.
#include "common.cuh"
#include "padding.cuh"

namespace ft4j {
namespace {

template <typename T, int N>
__global__ void zero_padded_rows_kernel(ZeroPaddedRowsParams<T> p) {
  const int64_t vecs = p.hidden / N;
  const int64_t rows = int64_t(p.batch) * p.seq;
  const float zeros[N] = {};
  for (int64_t r = int64_t(blockIdx.x) * blockDim.y + threadIdx.y; r < rows;
       r += int64_t(gridDim.x) * blockDim.y) {
    const int64_t b = r / p.seq;
    if (r - b * p.seq < p.lengths[b]) continue;  // a valid token
    T* row = p.data + size_t(r) * p.hidden;      // [hidden]
    for (int64_t c = int64_t(blockIdx.y) * blockDim.x + threadIdx.x; c < vecs;
         c += int64_t(gridDim.y) * blockDim.x) {
      store<T, N>(row + c * N, zeros);
    }
  }
}

}  // namespace

// Every shape is supported.
template <typename T>
std::string check_zero_padded_rows(const ZeroPaddedRowsParams<T>&) {
  return "";
}

template <typename T>
cudaError_t launch_zero_padded_rows(const ZeroPaddedRowsParams<T>& p, cudaStream_t stream) {
  const int n = vector_width<T>(p.hidden, {p.data});
  const RowsByVectors plan = plan_rows_by_vectors(int64_t(p.batch) * p.seq, p.hidden / n);
  with_pow2<16 / sizeof(T)>(n, [&](auto width) {
    zero_padded_rows_kernel<T, decltype(width)::value><<<plan.grid, plan.block, 0, stream>>>(p);
  });
  return cudaGetLastError();
}

template std::string check_zero_padded_rows(const ZeroPaddedRowsParams<float>&);
template std::string check_zero_padded_rows(const ZeroPaddedRowsParams<__half>&);
template cudaError_t launch_zero_padded_rows(const ZeroPaddedRowsParams<float>&, cudaStream_t);
template cudaError_t launch_zero_padded_rows(const ZeroPaddedRowsParams<__half>&, cudaStream_t);

}  // namespace ft4j
