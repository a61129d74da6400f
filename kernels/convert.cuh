// Storage-type conversion: dst[i] = (Dst) src[i] for i < count. FP32 -> FP16 rounds to nearest
// even (values beyond the FP16 range become +-inf, NaN stays NaN); same-type conversion copies.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <string>

namespace ft4j {

template <typename Dst, typename Src>
struct ConvertParams {
  Dst* dst;
  const Src* src;
  size_t count;
};

template <typename Dst, typename Src>
std::string check_convert(const ConvertParams<Dst, Src>& p);
template <typename Dst, typename Src>
cudaError_t launch_convert(const ConvertParams<Dst, Src>& p, cudaStream_t stream);

}  // namespace ft4j
