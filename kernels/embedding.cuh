// Embedding layer of BERT-family models.
//
// embedding_layernorm, for each row r < rows (token r of a padded batch [batch, seq] or of any
// token list):
//   x[c]   = word[ids[r], c] + position[(r % seq) + position_offset, c] + token_type[t_r, c]
//            with t_r = type_ids[r] (type_ids may be NULL: all 0)
//   out[r, c] = (x[c] - mean(x)) / sqrt(var(x) + eps) * gamma[c] + beta[c]     (biased variance)
// out: [rows, hidden]; word [vocab, hidden], position [max_positions, hidden], token_type
// [type_vocab, hidden], gamma/beta [hidden]. Ids outside their table are clamped into it (callers
// validate ids before upload; the clamp only keeps a bad id from reading outside the table).
#pragma once

#include <cuda_runtime.h>

#include <string>

namespace ft4j {

template <typename T>
struct EmbeddingLayernormParams {
  T* out;
  const int* ids;       // device [rows]
  const int* type_ids;  // device [rows] or NULL
  const T* word;
  const T* position;
  const T* token_type;
  const T* gamma;
  const T* beta;
  float eps;
  int rows;
  int seq;  // positions restart every seq rows
  int hidden;
  int vocab;
  int max_positions;
  int type_vocab;
  int position_offset;
};

template <typename T>
std::string check_embedding_layernorm(const EmbeddingLayernormParams<T>& p);

template <typename T>
cudaError_t launch_embedding_layernorm(const EmbeddingLayernormParams<T>& p, cudaStream_t stream);

}  // namespace ft4j
