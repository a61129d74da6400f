// Shared device helpers of the kernel families (included by kernels/*.cu only, never by host C++):
//  - float <-> T conversion for the storage types T in {float, __half} (all arithmetic is float);
//  - vector loads/stores of N consecutive T in one access of N * sizeof(T) <= 16 bytes;
//  - warp and block sum/max reductions with shuffles;
//  - host-side launch planning shared by the families: the widest legal vector, the 2-D
//    [rows, vectors] grid of element-wise kernels, and the row-in-registers plan of row kernels.
#pragma once

#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <type_traits>
#include <utility>

namespace ft4j {

// --- scalar conversion -----------------------------------------------------------------------

__device__ __forceinline__ float to_float(float x) { return x; }
__device__ __forceinline__ float to_float(__half x) { return __half2float(x); }

template <typename T>
__device__ __forceinline__ T from_float(float x);
template <>
__device__ __forceinline__ float from_float<float>(float x) {
  return x;
}
template <>
__device__ __forceinline__ __half from_float<__half>(float x) {
  return __float2half_rn(x);  // round to nearest even, like the host reference
}

// --- vector access ---------------------------------------------------------------------------

// The native type of one access of `Bytes` bytes; it makes the compiler emit a single ld/st.
template <int Bytes>
struct RawAccess;
template <>
struct RawAccess<16> {
  using type = uint4;
};
template <>
struct RawAccess<8> {
  using type = uint2;
};
template <>
struct RawAccess<4> {
  using type = unsigned int;
};
template <>
struct RawAccess<2> {
  using type = unsigned short;
};

// N values of T viewed as one raw access.
template <typename T, int N>
union Pack {
  using Raw = typename RawAccess<sizeof(T) * N>::type;
  Raw raw;
  T v[N];
};

// x[0, N) = (float) p[0, N); p must be aligned to N * sizeof(T).
template <typename T, int N>
__device__ __forceinline__ void load(const T* p, float* x) {
  Pack<T, N> pack;
  pack.raw = *reinterpret_cast<const typename Pack<T, N>::Raw*>(p);
#pragma unroll
  for (int i = 0; i < N; ++i) x[i] = to_float(pack.v[i]);
}

// p[0, N) = (T) x[0, N); p must be aligned to N * sizeof(T).
template <typename T, int N>
__device__ __forceinline__ void store(T* p, const float* x) {
  Pack<T, N> pack;
#pragma unroll
  for (int i = 0; i < N; ++i) pack.v[i] = from_float<T>(x[i]);
  *reinterpret_cast<typename Pack<T, N>::Raw*>(p) = pack.raw;
}

// p[0, N) = q[0, N) bit for bit; both aligned to N * sizeof(T).
template <typename T, int N>
__device__ __forceinline__ void copy(T* p, const T* q) {
  using Raw = typename Pack<T, N>::Raw;
  *reinterpret_cast<Raw*>(p) = *reinterpret_cast<const Raw*>(q);
}

// --- reductions --------------------------------------------------------------------------------

// Sum / max over aligned groups of `width` lanes (a power of two <= 32), returned to every lane of
// the group. All 32 lanes of the warp must call it.
__device__ __forceinline__ float warp_sum(float v, int width = 32) {
#pragma unroll
  for (int offset = width >> 1; offset > 0; offset >>= 1) {
    v += __shfl_xor_sync(0xffffffffu, v, offset);
  }
  return v;
}

__device__ __forceinline__ float warp_max(float v, int width = 32) {
#pragma unroll
  for (int offset = width >> 1; offset > 0; offset >>= 1) {
    v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, offset));
  }
  return v;
}

// Sum / max over a 1-D block (blockDim.x a multiple of 32), returned to every thread. Every thread
// of the block must call it; `smem` is 32 floats of shared memory, reusable from one call to the
// next (the leading barrier protects the previous call's readers).
template <bool Max>
__device__ __forceinline__ float block_reduce(float v, float* smem) {
  v = Max ? warp_max(v) : warp_sum(v);
  const int lane = threadIdx.x & 31;
  const int warp = threadIdx.x >> 5;
  __syncthreads();
  if (lane == 0) smem[warp] = v;
  __syncthreads();
  const float identity = Max ? -INFINITY : 0.f;
  v = lane < static_cast<int>(blockDim.x >> 5) ? smem[lane] : identity;
  return Max ? warp_max(v) : warp_sum(v);
}

__device__ __forceinline__ float block_sum(float v, float* smem) {
  return block_reduce<false>(v, smem);
}
__device__ __forceinline__ float block_max(float v, float* smem) {
  return block_reduce<true>(v, smem);
}

// Reduction over the `group` threads that share a row: a group <= 32 is a lane group of a warp,
// a larger group is the whole block.
__device__ __forceinline__ float group_sum(float v, int group, float* smem) {
  return group <= 32 ? warp_sum(v, group) : block_sum(v, smem);
}
__device__ __forceinline__ float group_max(float v, int group, float* smem) {
  return group <= 32 ? warp_max(v, group) : block_max(v, smem);
}

// --- host-side launch planning ----------------------------------------------------------------

inline int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

inline bool is_aligned(const void* p, size_t bytes) {
  return reinterpret_cast<uintptr_t>(p) % bytes == 0;
}

// The widest vector (elements, <= 16 bytes) that divides `cols` and to which every non-NULL
// pointer is aligned, so that every row of a [rows, cols] tensor starts on a vector boundary.
template <typename T>
int vector_width(int64_t cols, std::initializer_list<const void*> pointers) {
  for (int n = 16 / static_cast<int>(sizeof(T)); n > 1; n /= 2) {
    bool ok = cols % n == 0;
    for (const void* p : pointers) ok = ok && (p == nullptr || is_aligned(p, n * sizeof(T)));
    if (ok) return n;
  }
  return 1;
}

// Calls f(std::integral_constant<int, P>{}) with P == p, for a power of two 1 <= p <= Max: turns a
// runtime vector width or count into a template argument.
template <int Max, int P = 1, typename F>
void with_pow2(int p, F&& f) {
  if constexpr (P < Max) {
    if (p > P) return with_pow2<Max, 2 * P>(p, std::forward<F>(f));
  }
  f(std::integral_constant<int, P>{});
}

inline int pow2_ceil(int64_t n) {
  int p = 1;
  while (p < n) p *= 2;
  return p;
}

// Element-wise kernels over [rows, vecs]: threadIdx.x + blockIdx.y walk the vectors of a row,
// threadIdx.y + blockIdx.x walk rows (the big dimension in x), both grid-stride. The row is cut in
// equal chunks of <= 256 threads so that no chunk is mostly idle (e.g. 384 vectors = 2 x 192).
struct RowsByVectors {
  dim3 grid, block;
};

inline RowsByVectors plan_rows_by_vectors(int64_t rows, int64_t vecs) {
  constexpr int kThreads = 256;
  const int64_t chunks = ceil_div(vecs, kThreads);
  const int tx = static_cast<int>(ceil_div(vecs, chunks));
  const int ty = std::max(1, kThreads / tx);
  RowsByVectors plan;
  plan.block = dim3(tx, ty);
  plan.grid = dim3(static_cast<unsigned>(std::min<int64_t>(ceil_div(rows, ty), INT_MAX)),
                   static_cast<unsigned>(std::min<int64_t>(chunks, 65535)));
  return plan;
}

// Row kernels (one row reduced by a group of threads) that keep the row in registers: each thread
// holds `per_thread` vectors of `vec` elements, vector c of the row in thread c % group
// (coalesced).
//  - rows of <= 32 * max_vectors_per_thread(vec) vectors: a lane group of `group` <= 32 threads
//    per row (shuffles only), several rows per block of kSmallRowBlock threads;
//  - longer rows: one block of `group` threads (a multiple of 32, <= kMaxRowThreads) per row;
//  - rows of more than kMaxRowThreads * max_vectors_per_thread(vec) vectors do not fit:
//    in_registers = false (the families stream such rows from global memory instead).
constexpr int kMaxFloatsPerThread = 32;
constexpr int kMaxVectorsPerThread = 8;  // more separate (scalar) accesses only add registers
constexpr int kMaxRowThreads = 512;
constexpr int kTargetRowThreads = 256;  // long rows: grow per_thread before the block
constexpr int kSmallRowBlock = 128;

// Vectors per thread at most, for vectors of `vec` elements (a template bound of the kernels).
constexpr int max_vectors_per_thread(int vec) {
  return kMaxFloatsPerThread / vec < kMaxVectorsPerThread ? kMaxFloatsPerThread / vec
                                                          : kMaxVectorsPerThread;
}

struct RowPlan {
  int vec;         // elements per vector access (the full width or 1, the instantiated ones)
  int per_thread;  // vectors per thread, a power of two <= max_vectors_per_thread(vec)
  int group;       // threads per row
  int block;       // threads per block
  bool in_registers;
};

inline RowPlan plan_row_in_registers(int64_t cols, int vec) {
  const int max_vectors = max_vectors_per_thread(vec);
  const int64_t vecs = cols / vec;
  RowPlan plan{vec, 1, 0, 0, true};
  if (vecs <= 32 * max_vectors) {
    plan.group = std::min(32, pow2_ceil(vecs));
    plan.per_thread = pow2_ceil(ceil_div(vecs, plan.group));
    plan.block = kSmallRowBlock;
  } else {
    while (plan.per_thread < max_vectors && ceil_div(vecs, plan.per_thread) > kTargetRowThreads) {
      plan.per_thread *= 2;
    }
    const int64_t threads = ceil_div(ceil_div(vecs, plan.per_thread), 32) * 32;
    plan.in_registers = threads <= kMaxRowThreads;
    plan.group = plan.block = static_cast<int>(std::min<int64_t>(threads, kMaxRowThreads));
  }
  return plan;
}

// Blocks for `rows` rows at `rows_per_block` each; kernels grid-stride over the rest.
inline unsigned row_blocks(int64_t rows, int rows_per_block) {
  return static_cast<unsigned>(std::min<int64_t>(ceil_div(rows, rows_per_block), INT_MAX));
}

}  // namespace ft4j
