// Pooling of the encoder's last hidden states into one vector per sequence, on the device, so that
// an embedding request copies [batch, hidden] to the host instead of [batch, seq, hidden].
//
// pool_rows: out[b, :] (FP32) = row 0 of sequence b (mean == 0: CLS) or the mean of its first
// len_b rows (mean == 1), len_b = lengths[b] clamped to [1, seq]; then, with normalize, divided by
// its L2 norm (a zero vector stays zero). states: padded [batch, seq, hidden] of T; lengths: device
// int[batch]. Sums in FP32 per column, in row order.
#pragma once

#include <cuda_runtime.h>

#include <string>

namespace ft4j {

template <typename T>
struct PoolRowsParams {
  float* out;          // [batch, hidden]
  const T* states;     // [batch, seq, hidden]
  const int* lengths;  // device, [batch]
  int batch;
  int seq;
  int hidden;
  int mean;       // 0: CLS (row 0), 1: mean over the valid rows
  int normalize;  // 1: divide by the L2 norm
};

template <typename T>
std::string check_pool_rows(const PoolRowsParams<T>& p);
template <typename T>
cudaError_t launch_pool_rows(const PoolRowsParams<T>& p, cudaStream_t stream);

}  // namespace ft4j
