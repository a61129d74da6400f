// Element type conversion: dst[i] = (Dst) src[i] for i < count, Dst, Src in {float, __half};
// FP32 -> FP16 rounds to nearest even (overflow -> inf), FP16 -> FP32 is exact, same-type calls
// copy bit for bit. dst, src: [count] with count up to and past 2^31 (size_t indices).
// Variants: N = 4 elements per access (8 for half -> half) when both pointers are aligned to it,
// else scalars; a grid-stride loop over the vectors, then over the count % N tail.
#include "common.cuh"
#include "convert.cuh"

namespace ft4j {
namespace {

template <typename Dst, typename Src, int N>
__global__ void convert_kernel(ConvertParams<Dst, Src> p) {
  const size_t vecs = p.count / N;
  const size_t stride = size_t(gridDim.x) * blockDim.x;
  const size_t first = size_t(blockIdx.x) * blockDim.x + threadIdx.x;
  for (size_t i = first; i < vecs; i += stride) {
    if constexpr (std::is_same_v<Dst, Src>) {
      copy<Dst, N>(p.dst + i * N, p.src + i * N);
    } else {
      float x[N];
      load<Src, N>(p.src + i * N, x);
      store<Dst, N>(p.dst + i * N, x);
    }
  }
  for (size_t i = vecs * N + first; i < p.count; i += stride) {
    float x;
    load<Src, 1>(p.src + i, &x);
    store<Dst, 1>(p.dst + i, &x);
  }
}

}  // namespace

// Every count is supported.
template <typename Dst, typename Src>
std::string check_convert(const ConvertParams<Dst, Src>&) {
  return "";
}

template <typename Dst, typename Src>
cudaError_t launch_convert(const ConvertParams<Dst, Src>& p, cudaStream_t stream) {
  constexpr int kThreads = 256;
  constexpr int kVec = std::is_same_v<Dst, Src> ? 16 / sizeof(Dst) : 4;  // 16 bytes of float
  constexpr int64_t kMaxBlocks = 1 << 20;  // beyond: grid-stride (count > 2^31 elements)
  const bool vectors =
      is_aligned(p.dst, kVec * sizeof(Dst)) && is_aligned(p.src, kVec * sizeof(Src));
  const int64_t work = vectors ? p.count / kVec + p.count % kVec : p.count;
  const dim3 grid(static_cast<unsigned>(std::min(ceil_div(work, kThreads), kMaxBlocks)));
  if (vectors) {
    convert_kernel<Dst, Src, kVec><<<grid, kThreads, 0, stream>>>(p);
  } else {
    convert_kernel<Dst, Src, 1><<<grid, kThreads, 0, stream>>>(p);
  }
  return cudaGetLastError();
}

#define FT4J_INSTANTIATE(Dst, Src)                                    \
  template std::string check_convert(const ConvertParams<Dst, Src>&); \
  template cudaError_t launch_convert(const ConvertParams<Dst, Src>&, cudaStream_t);
FT4J_INSTANTIATE(float, float)
FT4J_INSTANTIATE(float, __half)
FT4J_INSTANTIATE(__half, float)
FT4J_INSTANTIATE(__half, __half)
#undef FT4J_INSTANTIATE

}  // namespace ft4j
