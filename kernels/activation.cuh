// add bias + GELU (see activation.cu).
#pragma once

#include <cuda_fp16.h>
#include <cuda_runtime_api.h>

#include <string>

namespace ft4j {

template <typename T>
struct AddBiasGeluParams {
  T* data;        // [rows, cols], in place
  const T* bias;  // [cols]
  int rows;
  int cols;
};

// "" or why the shape is not supported (FT4J_ERR_UNSUPPORTED). Pointers are checked by the caller:
// non-NULL where required and aligned to the element size.
template <typename T>
std::string check_add_bias_gelu(const AddBiasGeluParams<T>& p);

template <typename T>
cudaError_t launch_add_bias_gelu(const AddBiasGeluParams<T>& p, cudaStream_t stream);

}  // namespace ft4j
