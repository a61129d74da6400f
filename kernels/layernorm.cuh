// Layer normalisation kernels.
//
// add_bias_residual_layernorm, per row r of [rows, cols] (row-major):
//   x[c]   = input[r, c] + bias[c] + residual[r, c]          (bias may be NULL: no bias)
//   mean   = sum(x) / cols,  var = sum((x - mean)^2) / cols  (biased, two-pass)
//   out[r, c] = (x[c] - mean) / sqrt(var + eps) * gamma[c] + beta[c]
// `out` may alias `input` or `residual`: a row is read whole before any of it is written.
#pragma once

#include <cuda_runtime.h>

#include <string>

namespace ft4j {

template <typename T>
struct AddBiasResidualLayernormParams {
  T* out;
  const T* input;
  const T* bias;  // may be NULL
  const T* residual;
  const T* gamma;
  const T* beta;
  float eps;
  int rows;
  int cols;
};

template <typename T>
std::string check_add_bias_residual_layernorm(const AddBiasResidualLayernormParams<T>& p);

template <typename T>
cudaError_t launch_add_bias_residual_layernorm(const AddBiasResidualLayernormParams<T>& p,
                                               cudaStream_t stream);

}  // namespace ft4j
