// zero_padded_rows (see padding.cuh): one block per [b, s] row (grid-stride over rows); blocks of
// valid rows return after one read of lengths[b].
#include <cuda_fp16.h>

#include "common.cuh"
#include "padding.cuh"

namespace ft4j {
namespace {

template <typename T>
__global__ void zero_padded_rows_kernel(ZeroPaddedRowsParams<T> p) {
  const int64_t rows = int64_t(p.batch) * p.seq;
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const int64_t b = r / p.seq;
    const int s = static_cast<int>(r - b * p.seq);
    if (s < p.lengths[b]) continue;
    T* row = p.data + r * p.hidden;
    for (int c = threadIdx.x; c < p.hidden; c += blockDim.x) row[c] = from_float<T>(0.f);
  }
}

}  // namespace

template <typename T>
std::string check_zero_padded_rows(const ZeroPaddedRowsParams<T>& p) {
  if (p.batch < 1 || p.seq < 1 || p.hidden < 1) return "all sizes must be >= 1";
  return "";
}

template <typename T>
cudaError_t launch_zero_padded_rows(const ZeroPaddedRowsParams<T>& p, cudaStream_t stream) {
  const int threads = row_block_threads(p.hidden, 2, 256);
  zero_padded_rows_kernel<T><<<row_blocks(int64_t(p.batch) * p.seq), threads, 0, stream>>>(p);
  return cudaGetLastError();
}

template std::string check_zero_padded_rows<float>(const ZeroPaddedRowsParams<float>&);
template std::string check_zero_padded_rows<__half>(const ZeroPaddedRowsParams<__half>&);
template cudaError_t launch_zero_padded_rows<float>(const ZeroPaddedRowsParams<float>&, cudaStream_t);
template cudaError_t launch_zero_padded_rows<__half>(const ZeroPaddedRowsParams<__half>&, cudaStream_t);

}  // namespace ft4j
