// The unfused attention path around the two batched GEMMs (see attention.cu): QKV bias + split
// into heads, masked softmax of the scores, merge of the heads.
#pragma once

#include <cuda_fp16.h>
#include <cuda_runtime_api.h>

#include <string>

namespace ft4j {

template <typename T>
struct AddQkvBiasSplitHeadsParams {
  T* q;               // [batch, heads, seq, size_per_head]
  T* k;               // [batch, heads, seq, size_per_head]
  T* v;               // [batch, heads, seq, size_per_head]
  const T* qkv;       // [batch * seq, 3 * hidden], hidden = heads * size_per_head
  const T* qkv_bias;  // [3 * hidden] or NULL
  int batch;
  int seq;
  int heads;
  int size_per_head;
};

template <typename T>
struct MaskedSoftmaxParams {
  T* scores;           // [batch, heads, seq (query), seq (key)], in place
  const int* lengths;  // [batch], device
  int batch;
  int heads;
  int seq;
  float scale;
};

template <typename T>
struct MergeHeadsParams {
  T* out;       // [batch * seq, heads * size_per_head]
  const T* in;  // [batch, heads, seq, size_per_head]
  int batch;
  int seq;
  int heads;
  int size_per_head;
};

// "" or why the shape is not supported (FT4J_ERR_UNSUPPORTED). Pointers are checked by the caller:
// non-NULL where required and aligned to the element size.
template <typename T>
std::string check_add_qkv_bias_split_heads(const AddQkvBiasSplitHeadsParams<T>& p);
template <typename T>
std::string check_masked_softmax(const MaskedSoftmaxParams<T>& p);
template <typename T>
std::string check_merge_heads(const MergeHeadsParams<T>& p);

template <typename T>
cudaError_t launch_add_qkv_bias_split_heads(const AddQkvBiasSplitHeadsParams<T>& p,
                                            cudaStream_t stream);
template <typename T>
cudaError_t launch_masked_softmax(const MaskedSoftmaxParams<T>& p, cudaStream_t stream);
template <typename T>
cudaError_t launch_merge_heads(const MergeHeadsParams<T>& p, cudaStream_t stream);

}  // namespace ft4j
