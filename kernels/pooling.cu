// pool_rows (see pooling.cuh): one block per sequence; each thread owns the columns c = tid +
// k * blockDim.x, sums them down the valid rows (coalesced across the block for every row), writes
// them, and after one block reduction of the squares scales its own columns: no thread reads what
// another wrote.
#include <cuda_fp16.h>

#include "common.cuh"
#include "pooling.cuh"

namespace ft4j {
namespace {

template <typename T>
__global__ void pool_rows_kernel(PoolRowsParams<T> p) {
  __shared__ float scratch[33];
  for (int b = blockIdx.x; b < p.batch; b += gridDim.x) {
    int len = p.lengths[b];
    len = len < 1 ? 1 : (len > p.seq ? p.seq : len);
    const int rows = p.mean ? len : 1;
    const T* base = p.states + int64_t(b) * p.seq * p.hidden;
    float* out = p.out + int64_t(b) * p.hidden;
    const float inv_rows = 1.f / static_cast<float>(rows);
    float amax = 0.f;
    for (int c = threadIdx.x; c < p.hidden; c += blockDim.x) {
      float sum = 0.f;
      for (int r = 0; r < rows; ++r) sum += to_float(base[int64_t(r) * p.hidden + c]);
      const float v = sum * inv_rows;
      out[c] = v;
      amax = fmaxf(amax, fabsf(v));
    }
    if (p.normalize) {
      // The squares are taken of v / max|v| (in [0, 1], their sum in [1, hidden]), so that they
      // neither underflow (|v| < ~1e-19) nor overflow (|v| > ~1e19) in float.
      const float m = block_max(amax, scratch);  // synchronises the block; same m everywhere
      if (m > 0.f) {                             // a zero vector stays zero
        float squares = 0.f;
        for (int c = threadIdx.x; c < p.hidden; c += blockDim.x) {
          const float t = out[c] / m;
          squares += t * t;
        }
        const float inv_norm = 1.f / sqrtf(block_sum(squares, scratch));
        for (int c = threadIdx.x; c < p.hidden; c += blockDim.x) out[c] = out[c] / m * inv_norm;
      }
    }
  }
}

}  // namespace

template <typename T>
std::string check_pool_rows(const PoolRowsParams<T>& p) {
  if (p.batch < 1 || p.seq < 1 || p.hidden < 1) return "all sizes must be >= 1";
  if (p.mean != 0 && p.mean != 1) return "mean must be 0 (CLS) or 1 (mean)";
  if (p.normalize != 0 && p.normalize != 1) return "normalize must be 0 or 1";
  return "";
}

template <typename T>
cudaError_t launch_pool_rows(const PoolRowsParams<T>& p, cudaStream_t stream) {
  const int threads = row_block_threads(p.hidden, 1, 256);
  pool_rows_kernel<T><<<row_blocks(p.batch), threads, 0, stream>>>(p);
  return cudaGetLastError();
}

template std::string check_pool_rows<float>(const PoolRowsParams<float>&);
template std::string check_pool_rows<__half>(const PoolRowsParams<__half>&);
template cudaError_t launch_pool_rows<float>(const PoolRowsParams<float>&, cudaStream_t);
template cudaError_t launch_pool_rows<__half>(const PoolRowsParams<__half>&, cudaStream_t);

}  // namespace ft4j
