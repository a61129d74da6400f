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

// remove_padding: packed[offsets[b] + s, :] = padded[b, s, :] for s < len_b
// restore_padding: padded[b, s, :] = packed[offsets[b] + s, :] for s < len_b, else 0
// (len_b = offsets[b + 1] - offsets[b], clamped to [0, seq]); padded [batch, seq, hidden],
// packed [offsets[batch], hidden]. Mode 0 = remove, 1 = restore.
template <typename T>
struct PaddingCopyParams {
  T* dst;
  const T* src;
  const int* offsets;  // device, [batch + 1]
  int batch;
  int seq;
  int hidden;
  int restore;  // 0: padded -> packed, 1: packed -> padded (zeros at padding)
};

template <typename T>
std::string check_padding_copy(const PaddingCopyParams<T>& p);
template <typename T>
cudaError_t launch_padding_copy(const PaddingCopyParams<T>& p, cudaStream_t stream);

template <typename T>
std::string check_zero_padded_rows(const ZeroPaddedRowsParams<T>& p);
template <typename T>
cudaError_t launch_zero_padded_rows(const ZeroPaddedRowsParams<T>& p, cudaStream_t stream);

}  // namespace ft4j
