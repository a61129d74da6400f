// Padding kernels.
//
// zero_padded_rows: data [batch, seq, hidden]; data[b, s, :] = 0 for every s >= lengths[b]
// (lengths: device int[batch]; a length outside [0, seq] is clamped to it).
#pragma once

#include <cuda_runtime.h>

#include <string>

namespace ft4j {

template <typename T>
struct ZeroPaddedRowsParams {
  T* data;
  const int* lengths;  // device, [batch]
  int batch;
  int seq;
  int hidden;
};

template <typename T>
std::string check_zero_padded_rows(const ZeroPaddedRowsParams<T>& p);
template <typename T>
cudaError_t launch_zero_padded_rows(const ZeroPaddedRowsParams<T>& p, cudaStream_t stream);

}  // namespace ft4j
