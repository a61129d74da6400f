// Unfused attention kernels (see attention.cuh).
//  - split/merge: element-wise grid-stride loops in 64-bit indices; packs of N elements when
//    size_per_head and the pointers allow (a pack never crosses a head).
//  - masked_softmax: one block per score row (grid-stride over rows); the valid part of the row is
//    cached in shared memory as float when seq <= 12224, else re-read for each pass.
#include <cuda_fp16.h>

#include <initializer_list>

#include "attention.cuh"
#include "common.cuh"

namespace ft4j {
namespace {

template <typename T, int N>
__global__ void add_qkv_bias_split_heads_kernel(AddQkvBiasSplitHeadsParams<T> p) {
  using P = Pack<T, N>;
  const int hidden = p.heads * p.size_per_head;
  const int row_packs = 3 * hidden / N;
  const int64_t total = int64_t(p.batch) * p.seq * row_packs;
  const P* src = reinterpret_cast<const P*>(p.qkv);
  const P* bias = reinterpret_cast<const P*>(p.qkv_bias);
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total;
       i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t row = i / row_packs;  // b * seq + s
    const int col = static_cast<int>(i - row * row_packs) * N;
    const int part = col / hidden;  // 0 = Q, 1 = K, 2 = V
    const int hd = col - part * hidden;
    const int h = hd / p.size_per_head;
    const int d = hd - h * p.size_per_head;
    const int64_t b = row / p.seq;
    const int64_t s = row - b * p.seq;
    P x = src[i];
    if (bias != nullptr) {
      const P z = bias[col / N];
#pragma unroll
      for (int e = 0; e < N; ++e) x.v[e] = from_float<T>(to_float(x.v[e]) + to_float(z.v[e]));
    }
    T* dst = part == 0 ? p.q : (part == 1 ? p.k : p.v);
    const int64_t offset = ((b * p.heads + h) * p.seq + s) * p.size_per_head + d;
    *reinterpret_cast<P*>(dst + offset) = x;
  }
}

template <typename T, int N>
__global__ void merge_heads_kernel(MergeHeadsParams<T> p) {
  using P = Pack<T, N>;
  const int hidden = p.heads * p.size_per_head;
  const int row_packs = hidden / N;
  const int64_t total = int64_t(p.batch) * p.seq * row_packs;
  P* dst = reinterpret_cast<P*>(p.out);
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total;
       i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t row = i / row_packs;
    const int col = static_cast<int>(i - row * row_packs) * N;
    const int h = col / p.size_per_head;
    const int d = col - h * p.size_per_head;
    const int64_t b = row / p.seq;
    const int64_t s = row - b * p.seq;
    const int64_t offset = ((b * p.heads + h) * p.seq + s) * p.size_per_head + d;
    dst[i] = *reinterpret_cast<const P*>(p.in + offset);
  }
}

template <typename T, bool kCached>
__global__ void masked_softmax_kernel(MaskedSoftmaxParams<T> p) {
  extern __shared__ float cache[];  // seq floats when kCached
  __shared__ float scratch[33];
  const int64_t rows = int64_t(p.batch) * p.heads * p.seq;
  const int64_t rows_per_batch = int64_t(p.heads) * p.seq;
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    T* row = p.scores + r * p.seq;
    int len = p.lengths[r / rows_per_batch];
    len = len < 0 ? 0 : (len > p.seq ? p.seq : len);

    float m = -INFINITY;
    for (int j = threadIdx.x; j < len; j += blockDim.x) {
      const float t = p.scale * to_float(row[j]);
      if (kCached) cache[j] = t;
      m = fmaxf(m, t);
    }
    m = block_max(m, scratch);

    float sum = 0.f;
    for (int j = threadIdx.x; j < len; j += blockDim.x) {
      const float t = kCached ? cache[j] : p.scale * to_float(row[j]);
      const float e = __expf(t - m);
      if (kCached) cache[j] = e;
      sum += e;
    }
    sum = block_sum(sum, scratch);
    const float inv = len > 0 ? 1.f / sum : 0.f;

    for (int j = threadIdx.x; j < p.seq; j += blockDim.x) {
      float v = 0.f;
      if (j < len) v = (kCached ? cache[j] : __expf(p.scale * to_float(row[j]) - m)) * inv;
      row[j] = from_float<T>(v);
    }
    // Each thread touched only its own cache entries, so the next row may reuse the cache at once.
  }
}

// Pack width usable for a head-structured copy: 16 bytes when size_per_head and pointers allow.
template <typename T>
bool wide_ok(int size_per_head, std::initializer_list<const void*> pointers) {
  constexpr int kWide = 16 / sizeof(T);
  if (size_per_head % kWide != 0) return false;
  for (const void* q : pointers) {
    if (!aligned_to(q, 16)) return false;
  }
  return true;
}

}  // namespace

template <typename T>
std::string check_add_qkv_bias_split_heads(const AddQkvBiasSplitHeadsParams<T>& p) {
  if (p.batch < 1 || p.seq < 1 || p.heads < 1 || p.size_per_head < 1) return "all sizes must be >= 1";
  return "";
}

template <typename T>
cudaError_t launch_add_qkv_bias_split_heads(const AddQkvBiasSplitHeadsParams<T>& p,
                                            cudaStream_t stream) {
  constexpr int kWide = 16 / sizeof(T);
  const int64_t elements = int64_t(p.batch) * p.seq * 3 * p.heads * p.size_per_head;
  const int threads = 256;
  if (wide_ok<T>(p.size_per_head, {p.q, p.k, p.v, p.qkv, p.qkv_bias})) {
    add_qkv_bias_split_heads_kernel<T, kWide>
        <<<elementwise_blocks(elements / kWide, threads), threads, 0, stream>>>(p);
  } else {
    add_qkv_bias_split_heads_kernel<T, 1>
        <<<elementwise_blocks(elements, threads), threads, 0, stream>>>(p);
  }
  return cudaGetLastError();
}

template <typename T>
std::string check_masked_softmax(const MaskedSoftmaxParams<T>& p) {
  if (p.batch < 1 || p.seq < 1 || p.heads < 1) return "all sizes must be >= 1";
  return "";
}

template <typename T>
cudaError_t launch_masked_softmax(const MaskedSoftmaxParams<T>& p, cudaStream_t stream) {
  const int64_t rows = int64_t(p.batch) * p.heads * p.seq;
  const int threads = row_block_threads(p.seq, 4, 512);
  const size_t shared = sizeof(float) * static_cast<size_t>(p.seq);
  if (shared <= kRowSharedBytes) {
    masked_softmax_kernel<T, true><<<row_blocks(rows), threads, shared, stream>>>(p);
  } else {
    masked_softmax_kernel<T, false><<<row_blocks(rows), threads, 0, stream>>>(p);
  }
  return cudaGetLastError();
}

template <typename T>
std::string check_merge_heads(const MergeHeadsParams<T>& p) {
  if (p.batch < 1 || p.seq < 1 || p.heads < 1 || p.size_per_head < 1) return "all sizes must be >= 1";
  return "";
}

template <typename T>
cudaError_t launch_merge_heads(const MergeHeadsParams<T>& p, cudaStream_t stream) {
  constexpr int kWide = 16 / sizeof(T);
  const int64_t elements = int64_t(p.batch) * p.seq * p.heads * p.size_per_head;
  const int threads = 256;
  if (wide_ok<T>(p.size_per_head, {p.out, p.in})) {
    merge_heads_kernel<T, kWide><<<elementwise_blocks(elements / kWide, threads), threads, 0, stream>>>(p);
  } else {
    merge_heads_kernel<T, 1><<<elementwise_blocks(elements, threads), threads, 0, stream>>>(p);
  }
  return cudaGetLastError();
}

#define FT4J_INSTANTIATE(T)                                                                     \
  template std::string check_add_qkv_bias_split_heads<T>(const AddQkvBiasSplitHeadsParams<T>&); \
  template cudaError_t launch_add_qkv_bias_split_heads<T>(const AddQkvBiasSplitHeadsParams<T>&, \
                                                          cudaStream_t);                        \
  template std::string check_masked_softmax<T>(const MaskedSoftmaxParams<T>&);                   \
  template cudaError_t launch_masked_softmax<T>(const MaskedSoftmaxParams<T>&, cudaStream_t);    \
  template std::string check_merge_heads<T>(const MergeHeadsParams<T>&);                         \
  template cudaError_t launch_merge_heads<T>(const MergeHeadsParams<T>&, cudaStream_t);
FT4J_INSTANTIATE(float)
FT4J_INSTANTIATE(__half)
#undef FT4J_INSTANTIATE

}  // namespace ft4j
