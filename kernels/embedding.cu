// embedding_layernorm (see embedding.cuh): one block per token row (grid-stride over rows); the
// summed row is kept in shared memory as float (hidden <= 12224) for the two-pass statistics.
#include <cuda_fp16.h>

#include "common.cuh"
#include "embedding.cuh"

namespace ft4j {
namespace {

__device__ __forceinline__ int clamp_index(int i, int n) { return i < 0 ? 0 : (i >= n ? n - 1 : i); }

template <typename T>
__global__ void embedding_layernorm_kernel(EmbeddingLayernormParams<T> p) {
  extern __shared__ float row[];  // hidden floats
  __shared__ float scratch[33];
  const float inv = 1.f / static_cast<float>(p.hidden);
  for (int64_t r = blockIdx.x; r < p.rows; r += gridDim.x) {
    const int id = clamp_index(p.ids[r], p.vocab);
    const int pos = clamp_index(static_cast<int>(r % p.seq) + p.position_offset, p.max_positions);
    const int type = p.type_ids == nullptr ? 0 : clamp_index(p.type_ids[r], p.type_vocab);
    const T* w = p.word + int64_t(id) * p.hidden;
    const T* q = p.position + int64_t(pos) * p.hidden;
    const T* t = p.token_type + int64_t(type) * p.hidden;
    float sum = 0.f;
    for (int c = threadIdx.x; c < p.hidden; c += blockDim.x) {
      const float x = to_float(w[c]) + to_float(q[c]) + to_float(t[c]);
      row[c] = x;
      sum += x;
    }
    const float mean = block_sum(sum, scratch) * inv;
    float sq = 0.f;
    for (int c = threadIdx.x; c < p.hidden; c += blockDim.x) {
      const float d = row[c] - mean;
      sq += d * d;
    }
    const float rstd = rsqrtf(block_sum(sq, scratch) * inv + p.eps);
    T* out = p.out + r * p.hidden;
    for (int c = threadIdx.x; c < p.hidden; c += blockDim.x) {
      out[c] = from_float<T>((row[c] - mean) * rstd * to_float(p.gamma[c]) + to_float(p.beta[c]));
    }
    // each thread touches only its own columns of `row`: the next row may overwrite at once
  }
}

}  // namespace

template <typename T>
std::string check_embedding_layernorm(const EmbeddingLayernormParams<T>& p) {
  if (p.rows < 1 || p.seq < 1 || p.hidden < 1 || p.vocab < 1 || p.max_positions < 1 ||
      p.type_vocab < 1) {
    return "all sizes must be >= 1";
  }
  if (sizeof(float) * static_cast<size_t>(p.hidden) > kRowSharedBytes) {
    return "hidden = " + std::to_string(p.hidden) + " is above the supported " +
           std::to_string(kRowSharedBytes / sizeof(float));
  }
  return "";
}

template <typename T>
cudaError_t launch_embedding_layernorm(const EmbeddingLayernormParams<T>& p, cudaStream_t stream) {
  const int threads = row_block_threads(p.hidden, 2, 512);
  embedding_layernorm_kernel<T><<<row_blocks(p.rows), threads, sizeof(float) * p.hidden, stream>>>(p);
  return cudaGetLastError();
}

template std::string check_embedding_layernorm<float>(const EmbeddingLayernormParams<float>&);
template std::string check_embedding_layernorm<__half>(const EmbeddingLayernormParams<__half>&);
template cudaError_t launch_embedding_layernorm<float>(const EmbeddingLayernormParams<float>&,
                                                       cudaStream_t);
template cudaError_t launch_embedding_layernorm<__half>(const EmbeddingLayernormParams<__half>&,
                                                        cudaStream_t);

}  // namespace ft4j
