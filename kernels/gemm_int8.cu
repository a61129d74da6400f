// INT8 GEMM with fused epilogues (formula and layouts: gemm_int8.cuh).
//
// Fragment ownership follows PTX's mma.m16n8k32 (s8): with g = lane / 4 and t = lane % 4, a thread
// holds A rows g and g + 8 at k = 4t..4t+3 and 16+4t..16+4t+3, B column g at the same k, and the
// accumulators (row g, cols 2t, 2t+1) and (row g + 8, cols 2t, 2t+1) of each 16 x 8 tile. The sm_75
// path computes exactly those accumulators with __dp4a, so the epilogue is shared.
#include <cuda_fp16.h>

#include <algorithm>
#include <cstdlib>
#include <mutex>
#include <vector>

#include "common.cuh"
#include "gemm_int8.cuh"

namespace ft4j {
namespace {

constexpr int kBM = 64;
constexpr int kBN = 64;
constexpr int kBK = 32;
constexpr int kPad = 16;  // bytes of padding per shared row: keeps 16-byte alignment
constexpr int kThreads = 128;


// Loads a 64 x 32 int8 tile (rows row0.., k0..k0+31) of a [rows, k] row-major matrix into smem,
// zero-filling outside the matrix. Each of the 128 threads moves 16 bytes.
template <bool kVector>
__device__ __forceinline__ void load_tile(int8_t (*tile)[kBK + kPad], const int8_t* src, int rows,
                                          int k, int row0, int k0) {
  const int r = threadIdx.x >> 1;
  const int c = (threadIdx.x & 1) * 16;
  const int gr = row0 + r;
  const int gk = k0 + c;
  if (kVector) {
    int4 v = make_int4(0, 0, 0, 0);
    if (gr < rows && gk < k) v = *reinterpret_cast<const int4*>(src + int64_t(gr) * k + gk);
    *reinterpret_cast<int4*>(&tile[r][c]) = v;
  } else {
#pragma unroll
    for (int i = 0; i < 16; ++i) {
      tile[r][c + i] = (gr < rows && gk + i < k) ? src[int64_t(gr) * k + gk + i] : int8_t(0);
    }
  }
}

__device__ __forceinline__ int load_s32(const int8_t* p) { return *reinterpret_cast<const int*>(p); }

// The epilogue's value at (row, col) before any output rounding: acc * a_m * w_n (+ bias) (GELU).
// Where the epilogue finds its per-row and per-column factors. GlobalEpi reads them from global
// memory where they are used (the simple kernel, the split-K epilogue kernel). StagedEpi reads a
// copy that the tiled kernels stage in shared memory after their main loop (stage_epilogue), so
// that no output pair waits on a global load behind its bounds check. Both give the same float
// values, so outputs are bit for bit the same either way. Measured on an H200 (2026-11-27): FP16 and
// int8 outputs still take about twice the int32 outputs' time (pair warpgroup kernel, QKV at 4096
// tokens: 97 us against 44 us; staging moved it from ~101 us only), so the loads were not the
// cause; see store_pairs_as for the suspect since.
template <typename T>
struct GlobalEpi {
  const GemmInt8Params<T>& p;
  __device__ __forceinline__ float a(int row) const {
    return p.a_scale != nullptr ? p.a_scale[row] : p.a_static;
  }
  __device__ __forceinline__ float w(int col) const { return p.w_scale[col]; }
  __device__ __forceinline__ float bias(int col) const { return to_float(p.bias[col]); }
  __device__ __forceinline__ float inv(int col) const {
    return p.out_inv_scale != nullptr ? p.out_inv_scale[col] : p.out_inv_static;
  }
};

// kRows row scales, then kCols each of w_scale, bias and the output's inverse scale, for the tile
// at (row0, col0); see stage_epilogue.
template <int kRows, int kCols>
struct StagedEpi {
  const float* s;
  int row0;
  int col0;
  __device__ __forceinline__ float a(int row) const { return s[row - row0]; }
  __device__ __forceinline__ float w(int col) const { return s[kRows + col - col0]; }
  __device__ __forceinline__ float bias(int col) const { return s[kRows + kCols + col - col0]; }
  __device__ __forceinline__ float inv(int col) const { return s[kRows + 2 * kCols + col - col0]; }
};

// Fills s (kRows + 3 kCols floats of shared memory no thread still reads) for the tile at (row0,
// col0) and synchronises the block. Nothing to stage for int32 outputs.
template <int kRows, int kCols, typename T>
__device__ __forceinline__ StagedEpi<kRows, kCols> stage_epilogue(const GemmInt8Params<T>& p,
                                                                  float* s, int row0, int col0) {
  if (p.out_kind != GemmInt8Out::INT32) {
    const GlobalEpi<T> g{p};
    for (int i = threadIdx.x; i < kRows + 3 * kCols; i += blockDim.x) {
      float v = 0.f;
      if (i < kRows) {
        if (row0 + i < p.m) v = g.a(row0 + i);
      } else {
        const int what = (i - kRows) / kCols;
        const int col = col0 + (i - kRows) % kCols;
        if (col < p.n) {
          v = what == 0 ? g.w(col) : what == 1 ? (p.bias != nullptr ? g.bias(col) : 0.f) : g.inv(col);
        }
      }
      s[i] = v;
    }
  }
  __syncthreads();
  return {s, row0, col0};
}

// The epilogue's value at (row, col) before any output rounding: acc * a_m * w_n (+ bias) (GELU).
template <typename T, typename E>
__device__ __forceinline__ float scaled(const GemmInt8Params<T>& p, const E& e, int row, int col,
                                        int acc) {
  float y = static_cast<float>(acc) * e.a(row) * e.w(col);
  if (p.bias != nullptr) y += e.bias(col);
  if (p.gelu) y = gelu_erf(y);
  return y;
}

template <typename T, typename E>
__device__ __forceinline__ void store_out(const GemmInt8Params<T>& p, const E& e, int row, int col,
                                          int acc) {
  if (row >= p.m || col >= p.n) return;
  const int64_t at = int64_t(row) * p.n + col;
  if (p.out_kind == GemmInt8Out::INT32) {
    static_cast<int32_t*>(p.out)[at] = acc;
    return;
  }
  const float y = scaled(p, e, row, col, acc);
  if (p.out_kind == GemmInt8Out::FLOAT) {
    static_cast<T*>(p.out)[at] = from_float<T>(y);
  } else {
    const float inv = e.inv(col);
    const int8_t q = quantize_int8(y, inv);
    if (p.out_kind == GemmInt8Out::INT8) {
      static_cast<int8_t*>(p.out)[at] = q;
    } else {
      static_cast<T*>(p.out)[at] = from_float<T>(static_cast<float>(q) / inv);
    }
  }
}

// Two adjacent outputs stored as one access.
template <typename E>
struct alignas(2 * sizeof(E)) OutPair {
  E x;
  E y;
};
template <typename E>
__device__ __forceinline__ void put_pair(void* out, int64_t at, E x, E y) {
  *reinterpret_cast<OutPair<E>*>(static_cast<E*>(out) + at) = OutPair<E>{x, y};
}

// Calls f(row, col, v0, v1) for each pair of a warp's accumulators that a thread holds side by
// side, (row, col) and (row, col + 1) with col even: kI x kJ tiles of 16 x 8 from (row0, col0), in
// the fragment layout above (c0, c1 on row g; c2, c3 on row g + 8).
template <int kI, int kJ, typename F>
__device__ __forceinline__ void for_each_pair(const int (&acc)[kI][kJ][4], int row0, int col0,
                                              F&& f) {
  const int g = (threadIdx.x & 31) >> 2;
  const int t = threadIdx.x & 3;
#pragma unroll
  for (int i = 0; i < kI; ++i) {
    const int row = row0 + i * 16 + g;
#pragma unroll
    for (int j = 0; j < kJ; ++j) {
      const int col = col0 + j * 8 + 2 * t;
      f(row, col, acc[i][j][0], acc[i][j][1]);
      f(row + 8, col, acc[i][j][2], acc[i][j][3]);
    }
  }
}

// The epilogue of one output kind (and GELU or not) fixed at compile time: (row, col) and (row,
// col + 1) (col even) as one access where `paired` (N even and the output aligned to two
// elements: then every pair of a row is), else one store each. Values are store_out's, bit for
// bit.
//
// Why the kind is a template argument: with the kind chosen per output pair, the unrolled
// epilogue of a 128 x 128 warpgroup tile held every kind's code for each of a thread's 32 pairs,
// ~16,700 instructions (~260 KiB of SASS) in which the FP16 and int8 paths of consecutive pairs
// lay ~8 KiB apart; the int32 path skipped most of it. Measured on an H200 (2026-11-27), FP16 and
// int8 outputs took about twice the int32 time (pair warpgroup kernel, QKV at 4096 tokens: 97
// against 44 us), and neither __ldg nor staging the factors in shared memory changed that. Suspected
// (not yet measured): instruction fetch, each warp walking a fresh part of that code for every
// pair. Here each kind's epilogue is one contiguous unrolled block (FP16 out: ~30 instructions per
// pair), chosen once per tile.
template <GemmInt8Out kOut, bool kGelu, typename T, typename E>
__device__ __forceinline__ float scaled_as(const GemmInt8Params<T>& p, const E& e, int row, int col,
                                           int acc) {
  float y = static_cast<float>(acc) * e.a(row) * e.w(col);
  if (p.bias != nullptr) y += e.bias(col);
  if (kGelu) y = gelu_erf(y);
  return y;
}

template <GemmInt8Out kOut, bool kGelu, typename T, typename E, int kI, int kJ>
__device__ __forceinline__ void store_pairs_as(const GemmInt8Params<T>& p, const E& e, bool paired,
                                               const int (&acc)[kI][kJ][4], int row0, int col0) {
  for_each_pair(acc, row0, col0, [&](int row, int col, int v0, int v1) {
    if (row >= p.m || col >= p.n) return;
    const int64_t at = int64_t(row) * p.n + col;
    // (col + 1 < N always holds when paired: N even, col even.) A missing second column reads
    // col's factors, in bounds, and is not stored.
    const bool second = col + 1 < p.n;
    const int col1 = second ? col + 1 : col;
    auto put = [&](auto* out, auto x, auto y) {
      if (paired) {
        put_pair(out, at, x, y);
      } else {
        out[at] = x;
        if (second) out[at + 1] = y;
      }
    };
    if constexpr (kOut == GemmInt8Out::INT32) {
      put(static_cast<int32_t*>(p.out), v0, v1);
    } else {
      const float y0 = scaled_as<kOut, kGelu>(p, e, row, col, v0);
      const float y1 = scaled_as<kOut, kGelu>(p, e, row, col1, v1);
      if constexpr (kOut == GemmInt8Out::FLOAT) {
        put(static_cast<T*>(p.out), from_float<T>(y0), from_float<T>(y1));
      } else {
        const float inv0 = e.inv(col);
        const float inv1 = e.inv(col1);
        const int8_t q0 = quantize_int8(y0, inv0);
        const int8_t q1 = quantize_int8(y1, inv1);
        if constexpr (kOut == GemmInt8Out::INT8) {
          put(static_cast<int8_t*>(p.out), q0, q1);
        } else {
          put(static_cast<T*>(p.out), from_float<T>(static_cast<float>(q0) / inv0),
              from_float<T>(static_cast<float>(q1) / inv1));
        }
      }
    }
  });
}

// store_pairs_as with GELU or without, as p asks.
template <GemmInt8Out kOut, typename T, typename E, int kI, int kJ>
__device__ __forceinline__ void store_pairs_gelu(const GemmInt8Params<T>& p, const E& e, bool paired,
                                                 const int (&acc)[kI][kJ][4], int row0, int col0) {
  if (p.gelu) {
    store_pairs_as<kOut, true>(p, e, paired, acc, row0, col0);
  } else {
    store_pairs_as<kOut, false>(p, e, paired, acc, row0, col0);
  }
}

// Stores a warp's accumulators through the epilogue, as the output kind's block above: each pair of
// columns as one access where N is even and the output aligned for pairs (every BERT shape), else
// one store per element (odd N, an unaligned output view).
template <typename T, typename E, int kI, int kJ>
__device__ __forceinline__ void store_fragments(const GemmInt8Params<T>& p, const E& e,
                                                const int (&acc)[kI][kJ][4], int row0, int col0) {
  const size_t esize = p.out_kind == GemmInt8Out::INT32 ? 4
                       : p.out_kind == GemmInt8Out::INT8 ? 1
                                                          : sizeof(T);
  const bool paired = !(p.n & 1) && reinterpret_cast<uintptr_t>(p.out) % (2 * esize) == 0;
  switch (p.out_kind) {
    case GemmInt8Out::INT32:
      store_pairs_as<GemmInt8Out::INT32, false>(p, e, paired, acc, row0, col0);
      break;
    case GemmInt8Out::FLOAT:
      store_pairs_gelu<GemmInt8Out::FLOAT>(p, e, paired, acc, row0, col0);
      break;
    case GemmInt8Out::INT8:
      store_pairs_gelu<GemmInt8Out::INT8>(p, e, paired, acc, row0, col0);
      break;
    default:  // INT8_DEQUANTIZED
      store_pairs_gelu<GemmInt8Out::INT8_DEQUANTIZED>(p, e, paired, acc, row0, col0);
      break;
  }
}

template <typename T, bool kVector>
__global__ void __launch_bounds__(kThreads) gemm_int8_kernel(GemmInt8Params<T> p) {
  __shared__ __align__(16) int8_t as[kBM][kBK + kPad];
  __shared__ __align__(16) int8_t bs[kBN][kBK + kPad];
  const int lane = threadIdx.x & 31;
  const int warp = threadIdx.x >> 5;
  const int g = lane >> 2;
  const int t = lane & 3;
  const int warp_m = (warp >> 1) * 32;
  const int warp_n = (warp & 1) * 32;
  const int block_m = blockIdx.y * kBM;
  const int block_n = blockIdx.x * kBN;

  int acc[2][4][4];  // [m16 tile][n8 tile][fragment]
#pragma unroll
  for (int i = 0; i < 2; ++i)
#pragma unroll
    for (int j = 0; j < 4; ++j)
#pragma unroll
      for (int f = 0; f < 4; ++f) acc[i][j][f] = 0;

  for (int k0 = 0; k0 < p.k; k0 += kBK) {
    load_tile<kVector>(as, p.a, p.m, p.k, block_m, k0);
    load_tile<kVector>(bs, p.b, p.n, p.k, block_n, k0);
    __syncthreads();
#pragma unroll
    for (int i = 0; i < 2; ++i) {
      const int r = warp_m + i * 16 + g;
#pragma unroll
      for (int j = 0; j < 4; ++j) {
        const int c = warp_n + j * 8 + g;
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
        const int a0 = load_s32(&as[r][4 * t]);
        const int a1 = load_s32(&as[r + 8][4 * t]);
        const int a2 = load_s32(&as[r][16 + 4 * t]);
        const int a3 = load_s32(&as[r + 8][16 + 4 * t]);
        const int b0 = load_s32(&bs[c][4 * t]);
        const int b1 = load_s32(&bs[c][16 + 4 * t]);
        mma_s8_16832(acc[i][j], a0, a1, a2, a3, b0, b1);
#else
        // the same four accumulators: rows r, r + 8; columns warp_n + j*8 + 2t, +1
        const int c0 = warp_n + j * 8 + 2 * t;
#pragma unroll
        for (int w = 0; w < kBK / 4; ++w) {
          const int x0 = load_s32(&as[r][4 * w]);
          const int x1 = load_s32(&as[r + 8][4 * w]);
          const int y0 = load_s32(&bs[c0][4 * w]);
          const int y1 = load_s32(&bs[c0 + 1][4 * w]);
          acc[i][j][0] = __dp4a(x0, y0, acc[i][j][0]);
          acc[i][j][1] = __dp4a(x0, y1, acc[i][j][1]);
          acc[i][j][2] = __dp4a(x1, y0, acc[i][j][2]);
          acc[i][j][3] = __dp4a(x1, y1, acc[i][j][3]);
        }
        (void)c;
#endif
      }
    }
    __syncthreads();
  }

  store_fragments(p, GlobalEpi<T>{p}, acc, block_m + warp_m, block_n + warp_n);
}

// ---------------------------------------------------------------------------------------------
// The pipelined kernel (sm_80+, 16-byte loads): tiles of kBMt x kBNt per block, kWM x kWN warps,
// k-steps of 32 through a 4-stage cp.async pipeline, the same fragments, accumulators and epilogue
// as the kernel above. Two tile configurations (Tile128, Tile64) and split-K (gridDim.z > 1: each
// z adds its share of the k-steps into an int32 buffer with atomics, exact, then the epilogue runs
// as a separate kernel); plan_gemm_int8 picks among them and the simple kernel.
constexpr int kPStages = 4;
constexpr int kPPitch = kBK + kPad;  // 48 bytes: the LDS.32 fragment reads are conflict-free

template <int kBMt, int kBNt, int kWMt, int kWNt>
struct PipeTile {
  static constexpr int kBM = kBMt;
  static constexpr int kBN = kBNt;
  static constexpr int kWM = kWMt;
  static constexpr int kWN = kWNt;
  static constexpr int kThreads = 32 * kWM * kWN;
  static constexpr int kWarpRows = kBM / kWM;
  static constexpr int kWarpCols = kBN / kWN;
  static constexpr int kI = kWarpRows / 16;  // m16 tiles per warp
  static constexpr int kJ = kWarpCols / 8;   // n8 tiles per warp
};
using Tile128 = PipeTile<128, 128, 2, 4>;  // 256 threads, warps of 64 x 32; 48 KiB of stages
using Tile64 = PipeTile<64, 64, 2, 2>;     // 128 threads, warps of 32 x 32; 24 KiB

// Issues the copy of one kRows x 32 tile (rows row0.., k0..k0+31) of a [rows, k] row-major int8
// matrix (k % 16 == 0), zero-filled at or past k_end (k_end: a multiple of 16).
template <int kRows, int kThreadsT>
__device__ __forceinline__ void issue_tile(int8_t (*tile)[kPPitch], const int8_t* src, int rows,
                                           int k, int k_end, int row0, int k0) {
  for (int i = threadIdx.x; i < kRows * 2; i += kThreadsT) {
    const int r = i >> 1;
    const int c = (i & 1) * 16;
    const int gr = row0 + r;
    const int gk = k0 + c;
    const bool valid = gr < rows && gk < k_end;
    cp_async_16_zfill(&tile[r][c], valid ? src + int64_t(gr) * k + gk : src, valid);
  }
}

// Adds a warp's accumulators into partial [m, n].
template <int kI, int kJ>
__device__ __forceinline__ void add_fragments(int32_t* partial, int m, int n,
                                              const int (&acc)[kI][kJ][4], int row0, int col0) {
  for_each_pair(acc, row0, col0, [&](int row, int col, int v0, int v1) {
    if (row >= m) return;
    if (col < n) atomicAdd(partial + int64_t(row) * n + col, v0);
    if (col + 1 < n) atomicAdd(partial + int64_t(row) * n + col + 1, v1);
  });
}

// The k-steps of split blockIdx.z: [kt0, kt1) of ceil(k / step), shared out evenly.
struct KRange {
  int kt0;
  int kt1;
};
__device__ __forceinline__ KRange split_range(int k, int step = kBK) {
  const int ktiles = (k + step - 1) / step;
  const int per = (ktiles + gridDim.z - 1) / gridDim.z;
  const int kt0 = blockIdx.z * per;
  return {kt0, min(ktiles, kt0 + per)};
}

// partial == NULL: one split, the epilogue stores the output. Else: this split's sums are added
// into partial [M, N] (zeroed before the launch).
template <typename T, typename Tile>
__global__ void __launch_bounds__(Tile::kThreads)
    gemm_int8_pipelined_kernel(GemmInt8Params<T> p, int32_t* partial) {
  // Launched on sm_80+ only (plan_gemm_int8): below that cp.async and the mma compile to nothing.
  constexpr int kI = Tile::kI;
  constexpr int kJ = Tile::kJ;
  __shared__ __align__(16) int8_t as[kPStages][Tile::kBM][kPPitch];
  __shared__ __align__(16) int8_t bs[kPStages][Tile::kBN][kPPitch];
  const int lane = threadIdx.x & 31;
  const int warp = threadIdx.x >> 5;
  const int g = lane >> 2;
  const int t = lane & 3;
  const int warp_m = (warp / Tile::kWN) * Tile::kWarpRows;
  const int warp_n = (warp % Tile::kWN) * Tile::kWarpCols;
  const int block_m = blockIdx.y * Tile::kBM;
  const int block_n = blockIdx.x * Tile::kBN;
  const KRange range = split_range(p.k);
  if (range.kt0 >= range.kt1) return;  // an empty split (whole block)
  const int ktiles = range.kt1 - range.kt0;
  const int k_end = min(p.k, range.kt1 * kBK);
  auto issue = [&](int stage, int kt) {  // kt: relative to this split
    const int k0 = (range.kt0 + kt) * kBK;
    issue_tile<Tile::kBM, Tile::kThreads>(as[stage], p.a, p.m, p.k, k_end, block_m, k0);
    issue_tile<Tile::kBN, Tile::kThreads>(bs[stage], p.b, p.n, p.k, k_end, block_n, k0);
  };

  int acc[kI][kJ][4];  // [m16 tile][n8 tile][fragment]
#pragma unroll
  for (int i = 0; i < kI; ++i)
#pragma unroll
    for (int j = 0; j < kJ; ++j)
#pragma unroll
      for (int f = 0; f < 4; ++f) acc[i][j][f] = 0;

  // Prologue: stages 0 .. kPStages - 2 in flight (one commit group each, empty past the end).
#pragma unroll
  for (int s = 0; s < kPStages - 1; ++s) {
    if (s < ktiles) issue(s, s);
    cp_async_commit();
  }
  for (int kt = 0; kt < ktiles; ++kt) {
    cp_async_wait<kPStages - 2>();  // the group of tile kt has landed (for this thread)
    __syncthreads();                // ... for every thread; and tile kt - 1 is consumed
    const int next = kt + kPStages - 1;
    if (next < ktiles) issue(next % kPStages, next);  // into the buffer of tile kt - 1
    cp_async_commit();
    const int s = kt % kPStages;
    int af[kI][4];
    int bf[kJ][2];
#pragma unroll
    for (int i = 0; i < kI; ++i) {
      const int r = warp_m + i * 16 + g;
      af[i][0] = load_s32(&as[s][r][4 * t]);
      af[i][1] = load_s32(&as[s][r + 8][4 * t]);
      af[i][2] = load_s32(&as[s][r][16 + 4 * t]);
      af[i][3] = load_s32(&as[s][r + 8][16 + 4 * t]);
    }
#pragma unroll
    for (int j = 0; j < kJ; ++j) {
      const int c = warp_n + j * 8 + g;
      bf[j][0] = load_s32(&bs[s][c][4 * t]);
      bf[j][1] = load_s32(&bs[s][c][16 + 4 * t]);
    }
#pragma unroll
    for (int i = 0; i < kI; ++i) {
#pragma unroll
      for (int j = 0; j < kJ; ++j) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
        mma_s8_16832(acc[i][j], af[i][0], af[i][1], af[i][2], af[i][3], bf[j][0], bf[j][1]);
#endif
      }
    }
  }
  cp_async_wait<0>();

  if (partial != nullptr) {
    add_fragments(partial, p.m, p.n, acc, block_m + warp_m, block_n + warp_n);
  } else {
    __syncthreads();  // every warp is done with the stages: they hold the epilogue's factors now
    const auto e = stage_epilogue<Tile::kBM, Tile::kBN>(p, reinterpret_cast<float*>(&as[0][0][0]),
                                                        block_m, block_n);
    store_fragments(p, e, acc, block_m + warp_m, block_n + warp_n);
  }
}

// ---------------------------------------------------------------------------------------------
// The warpgroup kernels (sm_90a: wgmma): 128 x 128 per block of 256 threads, two warpgroups of
// 64 x 128 each, k-steps of 128 through a kStages-stage cp.async pipeline into 128-byte-swizzled
// tiles (ptx.cuh, wgmma_desc_sw128) in dynamic shared memory, four wgmma m64n128k32 per step and
// warpgroup. kInFlight steps of wgmmas stay in flight while the next step's are issued
// (wgmma_wait<kInFlight>), so a stage is refilled only 1 + kInFlight steps after it was read, and
// copies run kStages - 1 - kInFlight steps ahead. Two shapes of it (WgTile):
//  - WgDeep (GemmInt8Kernel::WGMMA): 5 stages, one step of wgmmas in flight, copies 3 steps ahead;
//    161 KiB of shared memory, one block per SM.
//  - WgPair (WGMMA_PAIR): 3 stages, no wgmma in flight across steps, copies 2 steps ahead; 97 KiB,
//    two blocks per SM, so that one block's prologue (the first copies' latency) and epilogue
//    overlap the other's wgmmas. Short K (BERT-base: 768 = 6 steps) leaves the one-block kernel
//    idle for a large share of each tile; the pair is meant to hide that.
// Their accumulators have mma.m16n8's layout per warp (ptx.cuh), so the epilogue and the split-K
// path are the ones above. Launched only where the library has sm_90a code and the device is
// sm_90 (plan_gemm_int8); elsewhere the body is empty.
constexpr int kWBM = 128;
constexpr int kWBN = 128;
constexpr int kWBK = 128;  // bytes = int8 values: one 128-byte swizzle row
constexpr int kWThreads = 256;
constexpr int kWTileBytes = kWBM * kWBK;  // 16 KiB per operand and stage (kWBM == kWBN)

template <int kStagesT, int kInFlightT, int kMinBlocksT>
struct WgTile {
  static constexpr int kStages = kStagesT;
  static constexpr int kInFlight = kInFlightT;              // wgmma steps left in flight
  static constexpr int kPrefetch = kStages - 1 - kInFlight;  // k-steps of copies ahead
  static constexpr int kMinBlocks = kMinBlocksT;             // blocks per SM (launch bounds)
  // the stages plus slack to align them to 1024 bytes (what the 128-byte swizzle needs)
  static constexpr size_t kSharedBytes = size_t(kStages) * 2 * kWTileBytes + 1024;
  static_assert(kPrefetch >= 1, "at least one step of copies ahead");
};
using WgDeep = WgTile<5, 1, 1>;
using WgPair = WgTile<3, 0, 2>;

// Issues the copy of one 128 x 128 tile (rows row0.., k0..k0+127) of a [rows, k] row-major int8
// matrix (k % 16 == 0) into `tile` (1024-byte aligned) in the 128-byte swizzle: chunk c (16
// bytes) of row r at byte r * 128 + 16 (c ^ r % 8); zero-filled at or past k_end.
__device__ __forceinline__ void issue_swizzled(int8_t* tile, const int8_t* src, int rows, int k,
                                               int k_end, int row0, int k0) {
  for (int i = threadIdx.x; i < kWBM * 8; i += kWThreads) {
    const int r = i >> 3;
    const int c = i & 7;
    const int gr = row0 + r;
    const int gk = k0 + 16 * c;
    const bool valid = gr < rows && gk < k_end;
    cp_async_16_zfill(tile + r * kWBK + 16 * (c ^ (r & 7)), valid ? src + int64_t(gr) * k + gk : src,
                      valid);
  }
}

template <typename T, typename Wg>
__global__ void __launch_bounds__(kWThreads, Wg::kMinBlocks)
    gemm_int8_wgmma_kernel(GemmInt8Params<T> p, int32_t* partial) {
#ifdef FT4J_WGMMA_CODE  // sm_90a device code (and the CPU emulator); empty elsewhere
  extern __shared__ int8_t wgmma_smem[];
  // the first 1024-byte aligned shared address of the allocation
  const uint32_t raw = static_cast<uint32_t>(__cvta_generic_to_shared(wgmma_smem));
  int8_t* const stages = wgmma_smem + ((1024 - (raw & 1023)) & 1023);
  const int wg = threadIdx.x >> 7;  // warpgroup: rows 64 wg .. 64 wg + 63 of the block
  const int warp = (threadIdx.x >> 5) & 3;
  const int block_m = blockIdx.y * kWBM;
  const int block_n = blockIdx.x * kWBN;
  const KRange range = split_range(p.k, kWBK);
  if (range.kt0 >= range.kt1) return;  // an empty split (whole block)
  const int ktiles = range.kt1 - range.kt0;
  const int k_end = min(p.k, range.kt1 * kWBK);
  auto a_tile = [&](int stage) { return stages + stage * 2 * kWTileBytes; };
  auto b_tile = [&](int stage) { return stages + stage * 2 * kWTileBytes + kWTileBytes; };
  auto issue = [&](int stage, int kt) {  // kt: relative to this split
    const int k0 = (range.kt0 + kt) * kWBK;
    issue_swizzled(a_tile(stage), p.a, p.m, p.k, k_end, block_m, k0);
    issue_swizzled(b_tile(stage), p.b, p.n, p.k, k_end, block_n, k0);
  };

  int acc[1][16][4];
#pragma unroll
  for (int j = 0; j < 16; ++j)
#pragma unroll
    for (int f = 0; f < 4; ++f) acc[0][j][f] = 0;

#pragma unroll
  for (int s = 0; s < Wg::kPrefetch; ++s) {
    if (s < ktiles) issue(s, s);
    cp_async_commit();
  }
  for (int kt = 0; kt < ktiles; ++kt) {
    cp_async_wait<Wg::kPrefetch - 1>();  // this thread's copies of tile kt have landed
    fence_proxy_async_shared();          // ... and are visible to wgmma's reads
    // every thread's; and every warpgroup has waited for tile kt - 1 - kInFlight's wgmmas
    __syncthreads();
    const int next = kt + Wg::kPrefetch;
    // into the stage of tile kt - 1 - kInFlight, whose wgmmas are done
    if (next < ktiles) issue(next % Wg::kStages, next);
    cp_async_commit();
    const int8_t* a = a_tile(kt % Wg::kStages) + wg * 64 * kWBK;
    const int8_t* b = b_tile(kt % Wg::kStages);
    wgmma_fence();
#pragma unroll
    for (int kk = 0; kk < kWBK / 32; ++kk) {
      wgmma_s8_m64n128k32(acc[0], wgmma_desc_sw128(a + 32 * kk), wgmma_desc_sw128(b + 32 * kk));
    }
    wgmma_commit();
    // tile kt - kInFlight's wgmmas are done: its stage may be refilled next step
    wgmma_wait<Wg::kInFlight>();
  }
  wgmma_wait<0>();
  wgmma_fence_operand(acc[0]);  // the epilogue's reads stay after the wait
  cp_async_wait<0>();

  const int row0 = block_m + wg * 64 + warp * 16;
  if (partial != nullptr) {
    add_fragments(partial, p.m, p.n, acc, row0, block_n);
  } else {
    __syncthreads();  // both warpgroups' wgmmas are done: the stages hold the epilogue's factors
    const auto e =
        stage_epilogue<kWBM, kWBN>(p, reinterpret_cast<float*>(stages), block_m, block_n);
    store_fragments(p, e, acc, row0, block_n);
  }
#endif
}

// The epilogue of a split-K GEMM over its summed accumulators.
template <typename T>
__global__ void gemm_int8_epilogue_kernel(GemmInt8Params<T> p, const int32_t* partial) {
  const int64_t total = int64_t(p.m) * p.n;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < total;
       i += int64_t(gridDim.x) * blockDim.x) {
    store_out(p, GlobalEpi<T>{p}, static_cast<int>(i / p.n), static_cast<int>(i % p.n),
              partial[i]);
  }
}

// SM count and compute capability major of the current device, cached per device.
struct GemmDevice {
  int major = 0;
  int sms = 0;
  bool wgmma = false;  // sm_90 and the library has sm_90a code
};
GemmDevice gemm_device() {
  static std::mutex mutex;
  static std::vector<GemmDevice> cache;
  int device = 0;
  if (cudaGetDevice(&device) != cudaSuccess) {
    cudaGetLastError();
    return {};
  }
  std::lock_guard<std::mutex> lock(mutex);
  if (device >= static_cast<int>(cache.size())) cache.resize(device + 1);
  if (cache[device].sms == 0) {
    GemmDevice d;
    if (cudaDeviceGetAttribute(&d.major, cudaDevAttrComputeCapabilityMajor, device) !=
            cudaSuccess ||
        cudaDeviceGetAttribute(&d.sms, cudaDevAttrMultiProcessorCount, device) != cudaSuccess) {
      cudaGetLastError();
      return {};
    }
    int minor = 0;
    if (cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, device) != cudaSuccess) {
      cudaGetLastError();
      return {};
    }
#ifdef FT4J_HAS_SM90A
    d.wgmma = d.major == 9 && minor == 0;
#endif
    d.major = usable_sm(d.major, minor) / 10;  // 7 in a build without sm_80+ code
    cache[device] = d;
  }
  return cache[device];
}

// Fewest k-steps (of 32) a split keeps: below that the atomics and the extra launches outweigh
// the parallelism gained.
constexpr int kMinSplitSteps = 8;

// Whether the automatic plan takes the warpgroup kernel (its pair variant) where it can: by
// default since the H200 run of 2026-11-27 (8th session: every INT8 GEMM test and memcheck pass,
// and the pair variant beat the mma.sync 128 x 128 kernel on all four BERT-base GEMMs at 4096
// tokens, 151 against 268 us per layer with int32 outputs); FT4J_INT8_WGMMA=0 in the environment
// turns it off (mma.sync kernels only).
bool wgmma_by_default() {
  static const bool on = !env_switch_off("FT4J_INT8_WGMMA");
  return on;
}

}  // namespace

// The one place that chooses how a GEMM runs: where 128 x 128 tiles give every SM one, the pair
// warpgroup kernel on sm_90 (unless FT4J_INT8_WGMMA=0), else the 128 x 128 pipelined kernel; with
// fewer tiles the 64 x 64 pipelined kernel, split along K while its tiles fill fewer than all SMs, as far as the workspace (M x N int32, unless the output is INT32 itself) and
// kMinSplitSteps allow; the simple kernel without 16-byte loads or below sm_80.
template <typename T>
GemmInt8Plan plan_gemm_int8(const GemmInt8Params<T>& p) {
  if (p.forced_kernel >= 0) {
    return {static_cast<GemmInt8Kernel>(p.forced_kernel), p.forced_splits};
  }
  const bool vector = p.k % 16 == 0 && aligned_to(p.a, 16) && aligned_to(p.b, 16);
  const GemmDevice d = gemm_device();
  if (!vector || d.major < 8) return {GemmInt8Kernel::SIMPLE, 1};
  if (ceil_div(p.m, Tile128::kBM) * ceil_div(p.n, Tile128::kBN) >= d.sms) {
    return {d.wgmma && wgmma_by_default() ? GemmInt8Kernel::WGMMA_PAIR : GemmInt8Kernel::TILE128,
            1};
  }
  const int64_t tiles = ceil_div(p.m, Tile64::kBM) * ceil_div(p.n, Tile64::kBN);
  int64_t splits = std::min<int64_t>(d.sms / tiles, ceil_div(p.k, kBK) / kMinSplitSteps);
  const bool room = p.out_kind == GemmInt8Out::INT32 ||
                    (p.workspace != nullptr &&
                     p.workspace_bytes >= sizeof(int32_t) * size_t(p.m) * size_t(p.n));
  if (splits < 2 || !room) splits = 1;
  return {GemmInt8Kernel::TILE64, static_cast<int>(std::min<int64_t>(splits, 65535))};
}

namespace {

// Runs a tiled kernel over p, `launch(partial)` starting it on `stream` (partial NULL: the kernel
// stores the output itself). Split along K (splits > 1): an INT32 output is zeroed and the splits
// add straight into it; else they add into the zeroed workspace and a second kernel applies the
// epilogue.
template <typename T, typename Launch>
cudaError_t launch_split(const GemmInt8Params<T>& p, int splits, cudaStream_t stream,
                         Launch&& launch) {
  if (splits == 1) {
    launch(nullptr);
    return cudaGetLastError();
  }
  const bool direct = p.out_kind == GemmInt8Out::INT32;
  int32_t* partial = static_cast<int32_t*>(direct ? p.out : p.workspace);
  cudaError_t e = cudaMemsetAsync(partial, 0, sizeof(int32_t) * size_t(p.m) * size_t(p.n), stream);
  if (e != cudaSuccess) return e;
  launch(partial);
  e = cudaGetLastError();
  if (e != cudaSuccess || direct) return e;
  const int threads = 256;
  gemm_int8_epilogue_kernel<T><<<elementwise_blocks(int64_t(p.m) * p.n, threads), threads, 0,
                                 stream>>>(p, partial);
  return cudaGetLastError();
}

template <typename T, typename Tile>
cudaError_t launch_pipelined(const GemmInt8Params<T>& p, int splits, cudaStream_t stream) {
  const dim3 grid(static_cast<unsigned>(ceil_div(p.n, Tile::kBN)),
                  static_cast<unsigned>(ceil_div(p.m, Tile::kBM)), static_cast<unsigned>(splits));
  return launch_split(p, splits, stream, [&](int32_t* partial) {
    gemm_int8_pipelined_kernel<T, Tile><<<grid, Tile::kThreads, 0, stream>>>(p, partial);
  });
}

template <typename T, typename Wg>
cudaError_t launch_wgmma(const GemmInt8Params<T>& p, int splits, cudaStream_t stream) {
  auto kernel = gemm_int8_wgmma_kernel<T, Wg>;
  const cudaError_t e = allow_shared(reinterpret_cast<const void*>(kernel), Wg::kSharedBytes);
  if (e != cudaSuccess) return e;
  const dim3 grid(static_cast<unsigned>(ceil_div(p.n, kWBN)),
                  static_cast<unsigned>(ceil_div(p.m, kWBM)), static_cast<unsigned>(splits));
  return launch_split(p, splits, stream, [&](int32_t* partial) {
    kernel<<<grid, kWThreads, Wg::kSharedBytes, stream>>>(p, partial);
  });
}

}  // namespace

template <typename T>
std::string check_gemm_int8(const GemmInt8Params<T>& p) {
  if (p.m < 1 || p.n < 1 || p.k < 1) return "M, N and K must be >= 1";
  if ((int64_t(p.m) + kBM - 1) / kBM > 65535) {
    return "M = " + std::to_string(p.m) + " needs more than 65535 row blocks of " +
           std::to_string(kBM);
  }
  if (p.out_kind != GemmInt8Out::INT32 && p.w_scale == nullptr) {
    return "a scaled output needs w_scale";
  }
  if (p.forced_kernel >= 0) {  // a tuned plan: it must fit this launch
    const std::string plan = "kernel " + std::to_string(p.forced_kernel) + " with " +
                             std::to_string(p.forced_splits) + " K splits";
    if (p.forced_kernel > 4) return "unknown " + plan + " (kernels 0, 1, 2, 3, 4)";
    if (p.forced_splits < 1 || p.forced_splits > 65535) return plan + ": splits must be 1..65535";
    if (p.forced_kernel == 0 && p.forced_splits != 1) return plan + ": the simple kernel has none";
    if (p.forced_kernel != 0) {
      const bool vector = p.k % 16 == 0 && aligned_to(p.a, 16) && aligned_to(p.b, 16);
      if (!vector || gemm_device().major < 8) {
        return plan + ": the pipelined kernels need sm_80+, K % 16 == 0 and 16-byte aligned A, B";
      }
      if (p.forced_kernel >= 3 && !gemm_device().wgmma) {
        return plan + ": the warpgroup (wgmma) kernel needs an sm_90 GPU and a library built with"
                      " sm_90a code (CUDA architecture 90a)";
      }
    }
    if (p.forced_splits > 1 && p.out_kind != GemmInt8Out::INT32 &&
        (p.workspace == nullptr ||
         p.workspace_bytes < sizeof(int32_t) * size_t(p.m) * size_t(p.n))) {
      return plan + ": splitting needs a workspace of M * N * 4 = " +
             std::to_string(sizeof(int32_t) * size_t(p.m) * size_t(p.n)) + " bytes";
    }
  }
  return "";
}

template <typename T>
cudaError_t launch_gemm_int8(const GemmInt8Params<T>& p, cudaStream_t stream) {
  const GemmInt8Plan plan = plan_gemm_int8(p);
  switch (plan.kernel) {
    case GemmInt8Kernel::TILE128: return launch_pipelined<T, Tile128>(p, plan.splits, stream);
    case GemmInt8Kernel::TILE64: return launch_pipelined<T, Tile64>(p, plan.splits, stream);
    case GemmInt8Kernel::WGMMA: return launch_wgmma<T, WgDeep>(p, plan.splits, stream);
    case GemmInt8Kernel::WGMMA_PAIR: return launch_wgmma<T, WgPair>(p, plan.splits, stream);
    default: break;
  }
  const dim3 grid(static_cast<unsigned>(ceil_div(p.n, kBN)),
                  static_cast<unsigned>(ceil_div(p.m, kBM)));
  if (p.k % 16 == 0 && aligned_to(p.a, 16) && aligned_to(p.b, 16)) {
    gemm_int8_kernel<T, true><<<grid, kThreads, 0, stream>>>(p);
  } else {
    gemm_int8_kernel<T, false><<<grid, kThreads, 0, stream>>>(p);
  }
  return cudaGetLastError();
}

template std::string check_gemm_int8<float>(const GemmInt8Params<float>&);
template std::string check_gemm_int8<__half>(const GemmInt8Params<__half>&);
template cudaError_t launch_gemm_int8<float>(const GemmInt8Params<float>&, cudaStream_t);
template cudaError_t launch_gemm_int8<__half>(const GemmInt8Params<__half>&, cudaStream_t);
template GemmInt8Plan plan_gemm_int8<float>(const GemmInt8Params<float>&);
template GemmInt8Plan plan_gemm_int8<__half>(const GemmInt8Params<__half>&);

}  // namespace ft4j
