// add bias + residual + layernorm (see layernorm.cu).
#pragma once

#include <cuda_fp16.h>
#include <cuda_runtime_api.h>

#include <string>

namespace ft4j {

template <typename T>
struct AddBiasResidualLayernormParams {
  T* out;             // [rows, cols]; may alias input or residual
  const T* input;     // [rows, cols]
  const T* bias;      // [cols] or NULL (no bias)
  const T* residual;  // [rows, cols]
  const T* gamma;     // [cols]
  const T* beta;      // [cols]
  float eps;
  int rows;
  int cols;
};

// "" or why the shape is not supported (FT4J_ERR_UNSUPPORTED). Pointers are checked by the caller:
// non-NULL where required and aligned to the element size.
template <typename T>
std::string check_add_bias_residual_layernorm(const AddBiasResidualLayernormParams<T>& p);

template <typename T>
cudaError_t launch_add_bias_residual_layernorm(const AddBiasResidualLayernormParams<T>& p,
                                               cudaStream_t stream);

}  // namespace ft4j
