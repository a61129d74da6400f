// Unfused attention kernels: the pieces around the two batched GEMMs of
//   context = softmax(scale * Q K^T, masked to each sequence's length) V.
//
// add_qkv_bias_split_heads: qkv [batch*seq, 3*hidden] (columns Q | K | V, each (head, d)) plus
//   qkv_bias [3*hidden] (may be NULL) -> q, k, v [batch, heads, seq, size_per_head].
// masked_softmax: scores [batch, heads, seq(query), seq(key)] in place; for each row with
//   len = lengths[b]: p[j] = exp(scale*s[j] - m) / sum_{j'<len} exp(scale*s[j'] - m) for j < len,
//   m = max_{j<len} scale*s[j]; p[j] = 0 for j >= len. Query rows past len are computed the same
//   way. A length outside [1, seq] (callers check lengths before) is clamped to [0, seq]; length 0
//   gives an all-zero row.
// merge_heads: in [batch, heads, seq, size_per_head] -> out [batch*seq, heads*size_per_head].
#pragma once

#include <cuda_runtime.h>

#include <string>

namespace ft4j {

template <typename T>
struct AddQkvBiasSplitHeadsParams {
  T* q;
  T* k;
  T* v;
  const T* qkv;
  const T* qkv_bias;  // may be NULL
  int batch;
  int seq;
  int heads;
  int size_per_head;
};

template <typename T>
struct MaskedSoftmaxParams {
  T* scores;
  const int* lengths;  // device, [batch]
  int batch;
  int heads;
  int seq;
  float scale;
};

template <typename T>
struct MergeHeadsParams {
  T* out;
  const T* in;
  int batch;
  int seq;
  int heads;
  int size_per_head;
};

template <typename T>
std::string check_add_qkv_bias_split_heads(const AddQkvBiasSplitHeadsParams<T>& p);
template <typename T>
cudaError_t launch_add_qkv_bias_split_heads(const AddQkvBiasSplitHeadsParams<T>& p,
                                            cudaStream_t stream);

template <typename T>
std::string check_masked_softmax(const MaskedSoftmaxParams<T>& p);
template <typename T>
cudaError_t launch_masked_softmax(const MaskedSoftmaxParams<T>& p, cudaStream_t stream);

template <typename T>
std::string check_merge_heads(const MergeHeadsParams<T>& p);
template <typename T>
cudaError_t launch_merge_heads(const MergeHeadsParams<T>& p, cudaStream_t stream);

}  // namespace ft4j
