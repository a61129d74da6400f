// convert (see convert.cuh): element-wise grid-stride loop in 64-bit indices.
#include <cuda_fp16.h>

#include "common.cuh"
#include "convert.cuh"

namespace ft4j {
namespace {

template <typename Dst, typename Src>
__global__ void convert_kernel(Dst* __restrict__ dst, const Src* __restrict__ src, size_t count) {
  for (size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x; i < count;
       i += size_t(gridDim.x) * blockDim.x) {
    dst[i] = from_float<Dst>(to_float(src[i]));
  }
}

}  // namespace

template <typename Dst, typename Src>
std::string check_convert(const ConvertParams<Dst, Src>& p) {
  if (p.count < 1) return "count must be >= 1";
  return "";
}

template <typename Dst, typename Src>
cudaError_t launch_convert(const ConvertParams<Dst, Src>& p, cudaStream_t stream) {
  const int threads = 256;
  convert_kernel<Dst, Src><<<elementwise_blocks(static_cast<int64_t>(p.count), threads), threads, 0,
                             stream>>>(p.dst, p.src, p.count);
  return cudaGetLastError();
}

#define FT4J_INSTANTIATE(D, S)                                                          \
  template std::string check_convert<D, S>(const ConvertParams<D, S>&);                 \
  template cudaError_t launch_convert<D, S>(const ConvertParams<D, S>&, cudaStream_t);
FT4J_INSTANTIATE(float, float)
FT4J_INSTANTIATE(float, __half)
FT4J_INSTANTIATE(__half, float)
FT4J_INSTANTIATE(__half, __half)
#undef FT4J_INSTANTIATE

}  // namespace ft4j
