// Element type conversion FP32 <-> FP16 and same-type copies (see convert.cu).
#pragma once

#include <cuda_fp16.h>
#include <cuda_runtime_api.h>

#include <cstddef>
#include <string>

namespace ft4j {

template <typename Dst, typename Src>
struct ConvertParams {
  Dst* dst;        // [count]; must not overlap src
  const Src* src;  // [count]
  size_t count;
};

// "" or why the request is not supported (FT4J_ERR_UNSUPPORTED). Pointers are checked by the
// caller: non-NULL and aligned to the element size.
template <typename Dst, typename Src>
std::string check_convert(const ConvertParams<Dst, Src>& p);

template <typename Dst, typename Src>
cudaError_t launch_convert(const ConvertParams<Dst, Src>& p, cudaStream_t stream);

}  // namespace ft4j
