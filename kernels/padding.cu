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

// One block per padded row [b, s]; 16-byte packs when hidden and the pointers allow.
template <typename T, int N>
__global__ void padding_copy_kernel(PaddingCopyParams<T> p) {
  using P = Pack<T, N>;
  const int64_t rows = int64_t(p.batch) * p.seq;
  const int packs = p.hidden / N;
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const int b = static_cast<int>(r / p.seq);
    const int s = static_cast<int>(r - int64_t(b) * p.seq);
    const int start = p.offsets[b];
    int len = p.offsets[b + 1] - start;
    len = len < 0 ? 0 : (len > p.seq ? p.seq : len);
    const bool valid = s < len;
    if (!p.restore && !valid) continue;
    P* padded = reinterpret_cast<P*>((p.restore ? p.dst : const_cast<T*>(p.src)) + r * p.hidden);
    P* packed = reinterpret_cast<P*>(
        (p.restore ? const_cast<T*>(p.src) : p.dst) + (int64_t(start) + s) * p.hidden);
    for (int c = threadIdx.x; c < packs; c += blockDim.x) {
      if (!p.restore) {
        packed[c] = padded[c];
      } else if (valid) {
        padded[c] = packed[c];
      } else {
        P z;
#pragma unroll
        for (int e = 0; e < N; ++e) z.v[e] = from_float<T>(0.f);
        padded[c] = z;
      }
    }
  }
}

}  // namespace

template <typename T>
std::string check_padding_copy(const PaddingCopyParams<T>& p) {
  if (p.batch < 1 || p.seq < 1 || p.hidden < 1) return "all sizes must be >= 1";
  return "";
}

template <typename T>
cudaError_t launch_padding_copy(const PaddingCopyParams<T>& p, cudaStream_t stream) {
  constexpr int kWide = 16 / sizeof(T);
  const unsigned blocks = row_blocks(int64_t(p.batch) * p.seq);
  if (p.hidden % kWide == 0 && aligned_to(p.dst, 16) && aligned_to(p.src, 16)) {
    padding_copy_kernel<T, kWide><<<blocks, row_block_threads(p.hidden / kWide, 1, 256), 0, stream>>>(p);
  } else {
    padding_copy_kernel<T, 1><<<blocks, row_block_threads(p.hidden, 2, 256), 0, stream>>>(p);
  }
  return cudaGetLastError();
}

template std::string check_padding_copy<float>(const PaddingCopyParams<float>&);
template std::string check_padding_copy<__half>(const PaddingCopyParams<__half>&);
template cudaError_t launch_padding_copy<float>(const PaddingCopyParams<float>&, cudaStream_t);
template cudaError_t launch_padding_copy<__half>(const PaddingCopyParams<__half>&, cudaStream_t);

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
