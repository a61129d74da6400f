// The unfused attention path around the two batched GEMMs (scores = Q K^T, context = P V):
//  - add_qkv_bias_split_heads: qkv [batch * seq, 3 * hidden] with columns (Q | K | V), each
//    hidden = heads * size_per_head wide and ordered (head, d), plus qkv_bias [3 * hidden] (or
//    none) -> q, k, v [batch, heads, seq, size_per_head]:
//      q[b, h, s, d] = qkv[b * seq + s, 0 * hidden + h * size_per_head + d] + bias[...], k, v alike
//  - masked_softmax, in place on scores [batch, heads, seq (query i), seq (key j)]; len =
//  lengths[b]
//    clamped to [0, seq]:
//      p[j] = exp(scale * s[j] - m) / sum_{j' < len} exp(scale * s[j'] - m) for j < len,
//      m = max_{j < len} scale * s[j];
//      p[j] = 0 for j >= len; query rows i >= len are computed the same way (valid keys only)
//  - merge_heads: in [batch, heads, seq, size_per_head] -> out [batch * seq, heads * size_per_head]
// Split and merge move vectors of the widest width (<= 16 bytes) that divides size_per_head and
// the alignment of every pointer. The softmax keeps a row in registers (plan_row_in_registers in
// common.cuh: one lane group per row for seq <= 1024, or 256 when seq is not a multiple of the
// 16-byte vector; else one block per row) and streams rows too long for registers (seq > 16384,
// 4096 for scalars) from global memory in three passes; math in float, with expf (not __expf:
// FP32 results must hold 1e-6).
#include "attention.cuh"
#include "common.cuh"

namespace ft4j {
namespace {

// lengths[b] clamped to [0, seq]: a bad length masks keys but never reads out of the row. A row
// with no valid key (length <= 0, outside the contract) comes out as zeros, not NaN.
__device__ __forceinline__ int valid_keys(const int* lengths, int64_t b, int seq) {
  return min(max(lengths[b], 0), seq);
}

template <typename T, int N>
__global__ void add_qkv_bias_split_heads_kernel(AddQkvBiasSplitHeadsParams<T> p) {
  const int hidden = p.heads * p.size_per_head;
  const int hidden_vecs = hidden / N;
  const int head_vecs = p.size_per_head / N;
  const int64_t tokens = int64_t(p.batch) * p.seq;
  for (int64_t t = int64_t(blockIdx.x) * blockDim.y + threadIdx.y; t < tokens;
       t += int64_t(gridDim.x) * blockDim.y) {
    const int64_t b = t / p.seq;
    const int64_t s = t - b * p.seq;
    const T* src = p.qkv + size_t(t) * 3 * hidden;  // [3 * hidden]
    for (int64_t c = int64_t(blockIdx.y) * blockDim.x + threadIdx.x; c < 3 * hidden_vecs;
         c += int64_t(gridDim.y) * blockDim.x) {
      const int which = int(c) / hidden_vecs;  // 0: q, 1: k, 2: v
      const int within = int(c) - which * hidden_vecs;
      const int h = within / head_vecs;
      const int d = (within - h * head_vecs) * N;
      T* dst = which == 0 ? p.q : which == 1 ? p.k : p.v;  // [batch, heads, seq, size_per_head]
      dst += ((b * p.heads + h) * p.seq + s) * p.size_per_head + d;
      if (p.qkv_bias == nullptr) {
        copy<T, N>(dst, src + c * N);
        continue;
      }
      float x[N], bias[N];
      load<T, N>(src + c * N, x);
      load<T, N>(p.qkv_bias + c * N, bias);
#pragma unroll
      for (int i = 0; i < N; ++i) x[i] += bias[i];
      store<T, N>(dst, x);
    }
  }
}

template <typename T, int N>
__global__ void merge_heads_kernel(MergeHeadsParams<T> p) {
  const int hidden_vecs = p.heads * p.size_per_head / N;
  const int head_vecs = p.size_per_head / N;
  const int64_t tokens = int64_t(p.batch) * p.seq;
  for (int64_t t = int64_t(blockIdx.x) * blockDim.y + threadIdx.y; t < tokens;
       t += int64_t(gridDim.x) * blockDim.y) {
    const int64_t b = t / p.seq;
    const int64_t s = t - b * p.seq;
    T* dst = p.out + size_t(t) * hidden_vecs * N;  // [hidden]
    for (int64_t c = int64_t(blockIdx.y) * blockDim.x + threadIdx.x; c < hidden_vecs;
         c += int64_t(gridDim.y) * blockDim.x) {
      const int h = int(c) / head_vecs;
      const int d = (int(c) - h * head_vecs) * N;
      copy<T, N>(dst + c * N, p.in + ((b * p.heads + h) * p.seq + s) * p.size_per_head + d);
    }
  }
}

// Softmax with the row in registers: thread `lane` of the row's group holds vectors lane,
// lane + group, ...; vectors entirely past the row's length are neither read nor exponentiated.
template <typename T, int N, int V>
__global__ void __launch_bounds__(kMaxRowThreads)
    softmax_in_registers(MaskedSoftmaxParams<T> p, int group) {
  __shared__ float smem[32];
  const int lane = threadIdx.x % group;
  const int rows_per_block = blockDim.x / group;
  const int64_t rows_per_batch = int64_t(p.heads) * p.seq;
  const int64_t rows = p.batch * rows_per_batch;
  // the loop bound is uniform over the block: every thread reaches the reductions' barriers
  for (int64_t first = int64_t(blockIdx.x) * rows_per_block; first < rows;
       first += int64_t(gridDim.x) * rows_per_block) {
    const int64_t r = first + threadIdx.x / group;
    const bool active = r < rows;
    const int len = active ? valid_keys(p.lengths, r / rows_per_batch, p.seq) : 0;
    T* row = p.scores + size_t(active ? r : 0) * p.seq;  // [seq]
    float x[V][N] = {};  // scale * s, then exp(scale * s - max); 0 at masked keys
    float max = -INFINITY;
#pragma unroll
    for (int v = 0; v < V; ++v) {
      const int j = (v * group + lane) * N;
      if (j < len) load<T, N>(row + j, x[v]);
#pragma unroll
      for (int i = 0; i < N; ++i) {
        x[v][i] = j + i < len ? p.scale * x[v][i] : 0.f;  // masked keys of a loaded vector too
        if (j + i < len) max = fmaxf(max, x[v][i]);
      }
    }
    max = group_max(max, group, smem);
    float sum = 0.f;
#pragma unroll
    for (int v = 0; v < V; ++v) {
      const int j = (v * group + lane) * N;
#pragma unroll
      for (int i = 0; i < N; ++i) {
        if (j + i < len) {
          x[v][i] = expf(x[v][i] - max);
          sum += x[v][i];
        }
      }
    }
    // sum >= 1 (the max's own term) whenever len >= 1; no valid key: zeros, not 0 * inf
    const float total = group_sum(sum, group, smem);
    const float inv_sum = len > 0 ? 1.f / total : 0.f;
#pragma unroll
    for (int v = 0; v < V; ++v) {
      const int j = (v * group + lane) * N;
      if (active && j < p.seq) {
#pragma unroll
        for (int i = 0; i < N; ++i) x[v][i] *= inv_sum;  // masked keys: exactly 0
        store<T, N>(row + j, x[v]);
      }
    }
  }
}

// Rows too long for registers: one block per row, three passes over the row in global memory.
template <typename T, int N>
__global__ void __launch_bounds__(kMaxRowThreads) softmax_streaming(MaskedSoftmaxParams<T> p) {
  __shared__ float smem[32];
  const int64_t rows_per_batch = int64_t(p.heads) * p.seq;
  const int64_t rows = p.batch * rows_per_batch;
  const int64_t step = int64_t(blockDim.x) * N;
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const int len = valid_keys(p.lengths, r / rows_per_batch, p.seq);
    T* row = p.scores + size_t(r) * p.seq;  // [seq]
    float x[N];
    float max = -INFINITY;
    for (int64_t j = threadIdx.x * N; j < len; j += step) {
      load<T, N>(row + j, x);
#pragma unroll
      for (int i = 0; i < N; ++i) {
        if (j + i < len) max = fmaxf(max, p.scale * x[i]);
      }
    }
    max = block_max(max, smem);
    float sum = 0.f;
    for (int64_t j = threadIdx.x * N; j < len; j += step) {
      load<T, N>(row + j, x);
#pragma unroll
      for (int i = 0; i < N; ++i) {
        if (j + i < len) sum += expf(p.scale * x[i] - max);
      }
    }
    // the barriers in block_sum also order every read of the row before the first write
    const float total = block_sum(sum, smem);
    const float inv_sum = len > 0 ? 1.f / total : 0.f;
    for (int64_t j = threadIdx.x * N; j < p.seq; j += step) {
      float y[N] = {};
      if (j < len) {
        load<T, N>(row + j, x);
#pragma unroll
        for (int i = 0; i < N; ++i) {
          if (j + i < len) y[i] = expf(p.scale * x[i] - max) * inv_sum;
        }
      }
      store<T, N>(row + j, y);
    }
  }
}

}  // namespace

// Every shape is supported (softmax rows too long for registers are streamed).
template <typename T>
std::string check_add_qkv_bias_split_heads(const AddQkvBiasSplitHeadsParams<T>&) {
  return "";
}

template <typename T>
std::string check_masked_softmax(const MaskedSoftmaxParams<T>&) {
  return "";
}

template <typename T>
std::string check_merge_heads(const MergeHeadsParams<T>&) {
  return "";
}

template <typename T>
cudaError_t launch_add_qkv_bias_split_heads(const AddQkvBiasSplitHeadsParams<T>& p,
                                            cudaStream_t stream) {
  const int n = vector_width<T>(p.size_per_head, {p.q, p.k, p.v, p.qkv, p.qkv_bias});
  const int64_t hidden = int64_t(p.heads) * p.size_per_head;
  const RowsByVectors plan = plan_rows_by_vectors(int64_t(p.batch) * p.seq, 3 * hidden / n);
  with_pow2<16 / sizeof(T)>(n, [&](auto width) {
    add_qkv_bias_split_heads_kernel<T, decltype(width)::value>
        <<<plan.grid, plan.block, 0, stream>>>(p);
  });
  return cudaGetLastError();
}

template <typename T>
cudaError_t launch_masked_softmax(const MaskedSoftmaxParams<T>& p, cudaStream_t stream) {
  constexpr int kVec = 16 / sizeof(T);
  // only the full width and scalars are instantiated: the other widths would add little
  const int vec = vector_width<T>(p.seq, {p.scores}) == kVec ? kVec : 1;
  const RowPlan plan = plan_row_in_registers(p.seq, vec);
  const int64_t rows = int64_t(p.batch) * p.heads * p.seq;
  auto launch = [&](auto n) {
    constexpr int N = decltype(n)::value;
    if (!plan.in_registers) {
      softmax_streaming<T, N><<<row_blocks(rows, 1), kMaxRowThreads, 0, stream>>>(p);
      return;
    }
    const unsigned blocks = row_blocks(rows, plan.block / plan.group);
    with_pow2<max_vectors_per_thread(N)>(plan.per_thread, [&](auto v) {
      softmax_in_registers<T, N, decltype(v)::value>
          <<<blocks, plan.block, 0, stream>>>(p, plan.group);
    });
  };
  if (vec == kVec) {
    launch(std::integral_constant<int, kVec>{});
  } else {
    launch(std::integral_constant<int, 1>{});
  }
  return cudaGetLastError();
}

template <typename T>
cudaError_t launch_merge_heads(const MergeHeadsParams<T>& p, cudaStream_t stream) {
  const int n = vector_width<T>(p.size_per_head, {p.out, p.in});
  const int64_t hidden = int64_t(p.heads) * p.size_per_head;
  const RowsByVectors plan = plan_rows_by_vectors(int64_t(p.batch) * p.seq, hidden / n);
  with_pow2<16 / sizeof(T)>(n, [&](auto width) {
    merge_heads_kernel<T, decltype(width)::value><<<plan.grid, plan.block, 0, stream>>>(p);
  });
  return cudaGetLastError();
}

#define FT4J_INSTANTIATE(T)                                                                  \
  template std::string check_add_qkv_bias_split_heads(const AddQkvBiasSplitHeadsParams<T>&); \
  template std::string check_masked_softmax(const MaskedSoftmaxParams<T>&);                  \
  template std::string check_merge_heads(const MergeHeadsParams<T>&);                        \
  template cudaError_t launch_add_qkv_bias_split_heads(const AddQkvBiasSplitHeadsParams<T>&, \
                                                       cudaStream_t);                        \
  template cudaError_t launch_masked_softmax(const MaskedSoftmaxParams<T>&, cudaStream_t);   \
  template cudaError_t launch_merge_heads(const MergeHeadsParams<T>&, cudaStream_t);
FT4J_INSTANTIATE(float)
FT4J_INSTANTIATE(__half)
#undef FT4J_INSTANTIATE

}  // namespace ft4j
