// Activation kernels.
//
// add_bias_gelu: data[r, c] = gelu(data[r, c] + bias[c]), exact GELU 0.5 x (1 + erf(x / sqrt 2)),
// in place on data [rows, cols] (row-major), bias [cols]. Computed in float; stored as T.
#pragma once

#include <cuda_runtime.h>

#include <string>

namespace ft4j {

template <typename T>
struct AddBiasGeluParams {
  T* data;
  const T* bias;
  int rows;
  int cols;
};

// "" when the launch can run, else the reason (every shape with rows, cols >= 1 is supported).
template <typename T>
std::string check_add_bias_gelu(const AddBiasGeluParams<T>& p);

template <typename T>
cudaError_t launch_add_bias_gelu(const AddBiasGeluParams<T>& p, cudaStream_t stream);

}  // namespace ft4j
