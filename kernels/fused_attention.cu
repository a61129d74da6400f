// Fused multi-head attention (see fused_attention.cuh for the formula, layouts and paths).
//
// mma path (FP16, sm_80+): a block = 4 (or 8) warps = 64 (128) queries of one (sequence, head);
// each warp owns 16 query rows (or 32: kMT = 2 m16 tiles, a benchmark option for now) whose Q
// fragments stay in registers. Per step, the block stages 64 keys of K and V
// (bias added) in shared memory; each warp computes S = Q K^T with mma.sync m16n8k16 (FP32
// accumulators), updates the running row max / row sum (online softmax, exp2 with the scale folded
// in), turns P into FP16 A-fragments in registers (the C layout of two n-tiles is the A layout of
// one k-tile) and accumulates O += P V. Keys >= len are masked to -inf; tiles past len are never
// loaded.
//
// simt path: a block = 4 warps = 16 queries (4 per warp, one at a time); 32 keys per step staged in
// shared memory as float; lane j scores key j, the warp does the online softmax with shuffles, and
// lane l accumulates output dims l, l+32, ...
//
// INT8 variants (both paths, through AttentionArgs): int8 output (modes 1 and 2) is quantized with
// 127 / out_amax as it is stored. With int8 input (mode 2) the mma path stages K and V as int8
// (cp.async, two stages) and widens each tile to one FP16 tile before the MMAs. K and V are widened
// without their steps (integers <= 127 are exact in FP16): k_step is folded into the softmax scale
// and v_step into the final 1 / rowsum, so the MMAs see no extra rounding. Q is dequantized
// (q_step) when it is staged, its bias added as in FP16.
#include <cuda_fp16.h>

#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <mutex>
#include <map>
#include <utility>
#include <type_traits>
#include <vector>

#include "common.cuh"
#include "fused_attention.cuh"

namespace ft4j {
namespace {

constexpr float kLog2e = 1.4426950408889634f;

// What a kernel reads and writes. In = T (FP32/FP16) or int8_t (the QKV GEMM's int8 output,
// dequantized with q/k/v_step), Bias = T, Out = T or int8_t (quantized with out_inv).
template <typename TIn, typename TBias, typename TOut>
struct AttentionArgs {
  using In = TIn;
  using Bias = TBias;
  using Out = TOut;
  static constexpr bool kInt8In = std::is_same<TIn, int8_t>::value;
  static constexpr bool kInt8Out = std::is_same<TOut, int8_t>::value;
  TOut* out;
  const TIn* qkv;
  const TBias* qkv_bias;
  const int* offsets;
  int batch;
  int heads;
  int size_per_head;
  int padded_seq;
  int max_seq;
  float scale;
  float q_step;   // int8 input only (else 1)
  float k_step;
  float v_step;
  float out_inv;  // int8 output only: 127 / out_amax
};

template <typename T>
AttentionArgs<T, T, T> args_of(const FusedAttentionParams<T>& p) {
  return {p.out,          p.qkv,        p.qkv_bias, p.offsets, p.batch, p.heads,
          p.size_per_head, p.padded_seq, p.max_seq, p.scale,   1.f,     1.f,
          1.f,            1.f};
}

template <typename TIn, typename T>
AttentionArgs<TIn, T, int8_t> args_of(const Int8FusedAttentionParams<TIn, T>& p) {
  return {p.out,          p.qkv,        p.qkv_bias, p.offsets, p.batch,  p.heads,
          p.size_per_head, p.padded_seq, p.max_seq, p.scale,   p.q_step, p.k_step,
          p.v_step,       127.f / p.out_amax};
}

// An input element as float: storage types as they are, int8 times its step.
template <typename T>
__device__ __forceinline__ float input_value(T v, float) {
  return to_float(v);
}
__device__ __forceinline__ float input_value(int8_t v, float step) {
  return static_cast<float>(v) * step;
}

// An output element from float: storage types rounded, int8 quantized with inv (127 / amax).
template <typename T>
__device__ __forceinline__ T output_value(float v, float) {
  return from_float<T>(v);
}
template <>
__device__ __forceinline__ int8_t output_value<int8_t>(float v, float inv) {
  return quantize_int8(v, inv);
}

struct SeqBounds {
  int64_t base;  // row of query/key 0
  int len;
};

__device__ __forceinline__ SeqBounds seq_bounds(const int* offsets, int b, int padded_seq) {
  const int start = offsets[b];
  int len = offsets[b + 1] - start;
  if (padded_seq > 0 && len > padded_seq) len = padded_seq;
  if (len < 0) len = 0;
  return {padded_seq > 0 ? int64_t(b) * padded_seq : int64_t(start), len};
}

// ------------------------------------------------------------------------------------------------
// mma path

constexpr int kMmaKeys = 64;  // keys per step; a block has kWarps x kMT x 16 queries

__device__ __forceinline__ uint32_t pack_half2(float lo, float hi) {
  __half2 h = __floats2half2_rn(lo, hi);
  return *reinterpret_cast<uint32_t*>(&h);
}

// Shared memory of the mma kernel: the block's Q rows and K and V tiles as FP16 rows of D + 8
// halves, two stages each for FP16 input; for int8 input one FP16 stage each plus two int8 stages
// of K and V (rows of D bytes) that the async copies fill.
inline size_t mma_shared_bytes(int d, int query_rows, bool int8) {
  return sizeof(__half) * (query_rows + (int8 ? 2 : 4) * kMmaKeys) * (d + 8) +
         (int8 ? 4 * kMmaKeys * size_t(d) : 0);
}

// Row pitch (elements) of a staged K/V tile of TIn: FP16 rows padded for ldmatrix, int8 rows not
// (they are only read row-wise, by widen_kv_tile).
template <typename TIn, int D>
__host__ __device__ constexpr int staged_ld() {
  return sizeof(TIn) == 2 ? D + 8 : D;
}

// Starts the async copy of keys [k0, k0 + 64) of K and V into one stage; rows >= len are zeroed
// (plain stores). K and V are copied without their bias: see the kernel for why that is exact.
template <int D, int kThreads, typename TIn>
__device__ __forceinline__ void issue_kv_tile(TIn* ks, TIn* vs, const TIn* qkv, int64_t base,
                                              int k0, int len, int hidden, int h) {
  constexpr int kElems = 16 / sizeof(TIn);  // elements per 16-byte copy
  constexpr int kVecs = D / kElems;
  constexpr int kLd = staged_ld<TIn, D>();
  const int64_t pitch = 3 * int64_t(hidden);
  for (int i = threadIdx.x; i < kMmaKeys * kVecs; i += kThreads) {
    const int r = i / kVecs;
    const int c = (i - r * kVecs) * kElems;
    TIn* kd = ks + r * kLd + c;
    TIn* vd = vs + r * kLd + c;
    if (k0 + r < len) {
      const TIn* src = qkv + (base + k0 + r) * pitch + h * D + c;
      cp_async_16(kd, src + hidden);
      cp_async_16(vd, src + 2 * hidden);
    } else {
      *reinterpret_cast<uint4*>(kd) = make_uint4(0, 0, 0, 0);
      *reinterpret_cast<uint4*>(vd) = make_uint4(0, 0, 0, 0);
    }
  }
  cp_async_commit();
}

// Eight int8 values (8-byte aligned) as eight halves of v * step (16-byte aligned destination).
__device__ __forceinline__ void widen8(__half* dst, const int8_t* src, float step) {
  const uint2 raw = *reinterpret_cast<const uint2*>(src);
  const int8_t* b = reinterpret_cast<const int8_t*>(&raw);
  uint4 out;
  out.x = pack_half2(b[0] * step, b[1] * step);
  out.y = pack_half2(b[2] * step, b[3] * step);
  out.z = pack_half2(b[4] * step, b[5] * step);
  out.w = pack_half2(b[6] * step, b[7] * step);
  *reinterpret_cast<uint4*>(dst) = out;
}

// The int8 K and V tiles of one stage as the FP16 tiles the MMAs read (integers, exact).
template <int D, int kThreads>
__device__ __forceinline__ void widen_kv_tile(__half* ks, __half* vs, const int8_t* k8,
                                              const int8_t* v8) {
  constexpr int kLd = D + 8;
  for (int i = threadIdx.x; i < kMmaKeys * (D / 8); i += kThreads) {
    const int r = i / (D / 8);
    const int c = (i - r * (D / 8)) * 8;
    widen8(ks + r * kLd + c, k8 + r * D + c, 1.f);
    widen8(vs + r * kLd + c, v8 + r * D + c, 1.f);
  }
}

// Zeros the output rows q0 .. q0 + kQueries - 1 (those < query_rows) of head h: a tile of padding
// queries in a padded batch.
template <int D, int kQueries, int kThreads, typename TOut>
__device__ __forceinline__ void zero_query_tile(TOut* out, int64_t base, int q0, int query_rows,
                                                int hidden, int h) {
  constexpr int kOutElems = 16 / sizeof(TOut);  // per 16-byte store
  for (int i = threadIdx.x; i < kQueries * (D / kOutElems); i += kThreads) {
    const int r = i / (D / kOutElems);
    const int c = (i - r * (D / kOutElems)) * kOutElems;
    if (q0 + r < query_rows) {
      *reinterpret_cast<uint4*>(out + (base + q0 + r) * hidden + h * D + c) = make_uint4(0, 0, 0, 0);
    }
  }
}

// One key tile of the online softmax for rows g and g + 8 of an m16 tile (the thread's share of
// mma.m16n8's C layout, tg = lane % 4): s holds the raw scores of keys key0 .. key0 + kKeys - 1;
// keys >= len are masked to -inf, the row maxima taken on the raw scores (scale2 = scale * log2 e
// > 0, check_args, so the scaled maximum is the maximum scaled), each weight computed as
// 2^(s scale2 - max) with one FMA and one ex2 (fast_exp2), the running max m (log2 domain) and sum
// l (of this thread's columns) updated, the output accumulators o rescaled, and P left in pa as
// FP16 A fragments (the C layout of two n-tiles is the A layout of one k-tile).
template <int kKeys, int kOutTiles>
__device__ __forceinline__ void online_softmax_tile(float (&s)[kKeys / 8][4],
                                                    float (&o)[kOutTiles][4],
                                                    uint32_t (&pa)[kKeys / 16][4], float& m0,
                                                    float& m1, float& l0, float& l1, int key0,
                                                    int len, float scale2, int tg) {
  if (key0 + kKeys > len) {  // the last tile: keys past the sequence get weight 0
#pragma unroll
    for (int nt = 0; nt < kKeys / 8; ++nt) {
      const int key = key0 + nt * 8 + tg * 2;
#pragma unroll
      for (int e = 0; e < 2; ++e) {
        if (key + e >= len) s[nt][e] = s[nt][2 + e] = -INFINITY;
      }
    }
  }
  float t0 = -INFINITY, t1 = -INFINITY;
#pragma unroll
  for (int nt = 0; nt < kKeys / 8; ++nt) {
    t0 = fmaxf(t0, fmaxf(s[nt][0], s[nt][1]));
    t1 = fmaxf(t1, fmaxf(s[nt][2], s[nt][3]));
  }
  t0 = fmaxf(t0, __shfl_xor_sync(0xffffffffu, t0, 1));
  t0 = fmaxf(t0, __shfl_xor_sync(0xffffffffu, t0, 2));
  t1 = fmaxf(t1, __shfl_xor_sync(0xffffffffu, t1, 1));
  t1 = fmaxf(t1, __shfl_xor_sync(0xffffffffu, t1, 2));
  const float n0 = fmaxf(m0, t0 * scale2);  // finite: key key0 < len is valid
  const float n1 = fmaxf(m1, t1 * scale2);
  const float c0 = fast_exp2(m0 - n0);  // 0 on the first tile (m = -inf)
  const float c1 = fast_exp2(m1 - n1);
  m0 = n0;
  m1 = n1;

  float r0 = 0.f, r1 = 0.f;
#pragma unroll
  for (int nt = 0; nt < kKeys / 8; ++nt) {  // masked: fma(-inf, scale2 > 0, -n) = -inf -> 0
    s[nt][0] = fast_exp2(fmaf(s[nt][0], scale2, -n0));
    s[nt][1] = fast_exp2(fmaf(s[nt][1], scale2, -n0));
    s[nt][2] = fast_exp2(fmaf(s[nt][2], scale2, -n1));
    s[nt][3] = fast_exp2(fmaf(s[nt][3], scale2, -n1));
    r0 += s[nt][0] + s[nt][1];
    r1 += s[nt][2] + s[nt][3];
  }
  l0 = l0 * c0 + r0;
  l1 = l1 * c1 + r1;
#pragma unroll
  for (int dn = 0; dn < kOutTiles; ++dn) {
    o[dn][0] *= c0;
    o[dn][1] *= c0;
    o[dn][2] *= c1;
    o[dn][3] *= c1;
  }
#pragma unroll
  for (int kk = 0; kk < kKeys / 16; ++kk) {
    pa[kk][0] = pack_half2(s[2 * kk][0], s[2 * kk][1]);
    pa[kk][1] = pack_half2(s[2 * kk][2], s[2 * kk][3]);
    pa[kk][2] = pack_half2(s[2 * kk + 1][0], s[2 * kk + 1][1]);
    pa[kk][3] = pack_half2(s[2 * kk + 1][2], s[2 * kk + 1][3]);
  }
}

// Stores rows row0 and row0 + 8 of head h from the accumulators o (mma.m16n8's C layout, D / 8
// n-tiles) and this thread's running sums l0, l1: o / sum + the V bias (sum_j p_j (v_j + bv) =
// sum_j p_j v_j + bv because the p_j sum to 1); zeros for padding queries (len <= row <
// query_rows); int8 output quantized with out_inv, int8 V's step folded into 1 / sum.
template <int D, typename A>
__device__ __forceinline__ void store_query_rows(const A& p, const float (&o)[D / 8][4], float l0,
                                                 float l1, int row0, const SeqBounds& seq,
                                                 int query_rows, int h, int tg) {
  using TOut = typename A::Out;
  const int hidden = p.heads * D;
  const __half* vbias = p.qkv_bias == nullptr ? nullptr : p.qkv_bias + 2 * hidden;
  // Stores two adjacent outputs of one row (zeros for padding queries).
  auto store2 = [&](int row, int c, float x, float y) {
    TOut* at = p.out + (seq.base + row) * hidden + c;
    const bool valid = row < seq.len;
    if constexpr (A::kInt8Out) {
      *reinterpret_cast<char2*>(at) =
          valid ? make_char2(quantize_int8(x, p.out_inv), quantize_int8(y, p.out_inv))
                : make_char2(0, 0);
    } else {
      *reinterpret_cast<__half2*>(at) =
          valid ? __floats2half2_rn(x, y) : __floats2half2_rn(0.f, 0.f);
    }
  };
  float s0 = l0, s1 = l1;
  s0 += __shfl_xor_sync(0xffffffffu, s0, 1);
  s0 += __shfl_xor_sync(0xffffffffu, s0, 2);
  s1 += __shfl_xor_sync(0xffffffffu, s1, 1);
  s1 += __shfl_xor_sync(0xffffffffu, s1, 2);
  // int8: V was integers, v_step joins the normalisation
  const float inv0 = (A::kInt8In ? p.v_step : 1.f) / s0;
  const float inv1 = (A::kInt8In ? p.v_step : 1.f) / s1;
  const int row1 = row0 + 8;
#pragma unroll
  for (int dn = 0; dn < D / 8; ++dn) {
    const int c = h * D + dn * 8 + tg * 2;
    float2 bv = make_float2(0.f, 0.f);
    if (vbias != nullptr) bv = __half22float2(*reinterpret_cast<const __half2*>(vbias + c));
    if (row0 < query_rows) store2(row0, c, o[dn][0] * inv0 + bv.x, o[dn][1] * inv0 + bv.y);
    if (row1 < query_rows) store2(row1, c, o[dn][2] * inv1 + bv.x, o[dn][3] * inv1 + bv.y);
  }
}

// Biases: q gets its bias on load. The K bias is dropped: q . (k_j + bk) = q . k_j + q . bk, and
// the second term is the same for every key j, which softmax cancels exactly. The V bias is added
// to the output: sum_j p_j (v_j + bv) = sum_j p_j v_j + bv because the p_j sum to 1.
// kMT: m16 tiles (16 query rows each) per warp, 1 or 2. With 2 every K and V fragment a warp
// loads from shared memory feeds two MMAs (FlashAttention-2's 32 rows per warp); it needs about
// twice the accumulator registers, so it is used for head sizes <= 64 only (fused_attention_mma_tiles).
template <int D, int kWarps, int kMT, typename A>
__global__ void __launch_bounds__(kWarps * 32) fused_attention_mma_kernel(A p) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  static_assert(std::is_same<typename A::Bias, __half>::value, "the mma path is FP16");
  constexpr bool kInt8In = A::kInt8In;  // int8 staging and steps (the output: A::kInt8Out)
  using TIn = typename A::In;
  constexpr int kMmaQueries = 16 * kMT * kWarps;
  constexpr int kMmaThreads = 32 * kWarps;
  constexpr int kLd = D + 8;  // halves; +16 bytes per row: conflict-free ldmatrix rows
  constexpr int kStage = kMmaKeys * kLd;
  constexpr int kHalfStages = kInt8In ? 1 : 2;
  constexpr int kStage8 = kMmaKeys * D;  // int8 stage (int8 input only)
  extern __shared__ __align__(16) unsigned char mma_smem[];
  __half* qs = reinterpret_cast<__half*>(mma_smem);  // [kMmaQueries][kLd]
  __half* ks = qs + kMmaQueries * kLd;                // [kHalfStages][64][kLd]
  __half* vs = ks + kHalfStages * kStage;             // [kHalfStages][64][kLd]
  int8_t* k8 = reinterpret_cast<int8_t*>(vs + kHalfStages * kStage);  // [2][64][D] (int8 only)
  int8_t* v8 = k8 + 2 * kStage8;                                       // [2][64][D]
  // Where the async copies of one stage land: the FP16 tiles themselves, or the int8 stages.
  auto k_stage = [&](int st) -> TIn* {
    if constexpr (kInt8In) return k8 + st * kStage8;
    else return ks + st * kStage;
  };
  auto v_stage = [&](int st) -> TIn* {
    if constexpr (kInt8In) return v8 + st * kStage8;
    else return vs + st * kStage;
  };

  const int b = blockIdx.z;
  const int h = blockIdx.y;
  const int q0 = blockIdx.x * kMmaQueries;
  const SeqBounds seq = seq_bounds(p.offsets, b, p.padded_seq);
  const int hidden = p.heads * D;
  const int warp = threadIdx.x >> 5;
  const int lane = threadIdx.x & 31;
  const int g = lane >> 2;  // fragment row group
  const int tg = lane & 3;  // thread in group
  const int query_rows = p.padded_seq > 0 ? p.padded_seq : seq.len;
  if (q0 >= query_rows) return;

  if (q0 >= seq.len) {  // padded mode: a tile of padding queries only
    zero_query_tile<D, kMmaQueries, kMmaThreads>(p.out, seq.base, q0, query_rows, hidden, h);
    return;
  }

  // Q rows and the first K/V tile load together, so their latencies overlap: FP16 Q by cp.async,
  // int8 Q by plain loads widened with q_step while K/V's copies fly. Q's bias is added while its
  // fragments move to registers.
  const int64_t pitch = 3 * int64_t(hidden);
  if constexpr (kInt8In) {
    issue_kv_tile<D, kMmaThreads>(k_stage(0), v_stage(0), p.qkv, seq.base, 0, seq.len, hidden, h);
    for (int i = threadIdx.x; i < kMmaQueries * (D / 8); i += kMmaThreads) {
      const int r = i / (D / 8);
      const int c = (i - r * (D / 8)) * 8;
      __half* dst = qs + r * kLd + c;
      if (q0 + r < seq.len) {
        widen8(dst, p.qkv + (seq.base + q0 + r) * pitch + h * D + c, p.q_step);
      } else {
        *reinterpret_cast<uint4*>(dst) = make_uint4(0, 0, 0, 0);
      }
    }
  } else {
    for (int i = threadIdx.x; i < kMmaQueries * (D / 8); i += kMmaThreads) {
      const int r = i / (D / 8);
      const int c = (i - r * (D / 8)) * 8;
      __half* dst = qs + r * kLd + c;
      if (q0 + r < seq.len) {
        cp_async_16(dst, p.qkv + (seq.base + q0 + r) * pitch + h * D + c);
      } else {
        *reinterpret_cast<uint4*>(dst) = make_uint4(0, 0, 0, 0);
      }
    }
    // commits Q's copies with the tile's
    issue_kv_tile<D, kMmaThreads>(k_stage(0), v_stage(0), p.qkv, seq.base, 0, seq.len, hidden, h);
  }
  cp_async_wait<0>();
  __syncthreads();
  // Rows of this warp: m-tile mt holds rows warp * 16 * kMT + mt * 16 + {g, g + 8}.
  uint32_t qf[kMT][D / 16][4];
#pragma unroll
  for (int mt = 0; mt < kMT; ++mt) {
    const __half* qrow0 = qs + ((warp * kMT + mt) * 16 + g) * kLd;
    const __half* qrow1 = qrow0 + 8 * kLd;
#pragma unroll
    for (int kt = 0; kt < D / 16; ++kt) {
      const int c = kt * 16 + tg * 2;
      __half2 b0 = __floats2half2_rn(0.f, 0.f);
      __half2 b1 = b0;
      if (p.qkv_bias != nullptr) {
        b0 = *reinterpret_cast<const __half2*>(p.qkv_bias + h * D + c);
        b1 = *reinterpret_cast<const __half2*>(p.qkv_bias + h * D + c + 8);
      }
      auto add = [](const __half* q, __half2 bias) {
        const float2 x = __half22float2(*reinterpret_cast<const __half2*>(q));
        const float2 y = __half22float2(bias);
        return pack_half2(x.x + y.x, x.y + y.y);
      };
      qf[mt][kt][0] = add(qrow0 + c, b0);
      qf[mt][kt][1] = add(qrow1 + c, b0);
      qf[mt][kt][2] = add(qrow0 + c + 8, b1);
      qf[mt][kt][3] = add(qrow1 + c + 8, b1);
    }
  }

  float o[kMT][D / 8][4];
#pragma unroll
  for (int mt = 0; mt < kMT; ++mt)
#pragma unroll
    for (int i = 0; i < D / 8; ++i) o[mt][i][0] = o[mt][i][1] = o[mt][i][2] = o[mt][i][3] = 0.f;
  // running max (log2 domain) of rows g and g + 8 of each m-tile, and running sums (this
  // thread's columns)
  float m0[kMT], m1[kMT], l0[kMT], l1[kMT];
#pragma unroll
  for (int mt = 0; mt < kMT; ++mt) {
    m0[mt] = m1[mt] = -INFINITY;
    l0[mt] = l1[mt] = 0.f;
  }
  // int8: the MMAs see K as integers, so k_step joins the scale
  const float scale2 = (kInt8In ? p.scale * p.k_step : p.scale) * kLog2e;
  // ldmatrix row of this lane: matrix lane / 8, row lane % 8
  const int mi = lane >> 3;
  const int mr = lane & 7;

  int stage = 0;
  for (int k0 = 0; k0 < seq.len; k0 += kMmaKeys) {
    if (k0 + kMmaKeys < seq.len) {  // prefetch the next tile into the other stage
      issue_kv_tile<D, kMmaThreads>(k_stage(stage ^ 1), v_stage(stage ^ 1), p.qkv, seq.base,
                                    k0 + kMmaKeys, seq.len, hidden, h);
      cp_async_wait<1>();
    } else {
      cp_async_wait<0>();
    }
    __syncthreads();
    const __half* kt_base = ks;
    const __half* vt_base = vs;
    if constexpr (kInt8In) {
      // the previous step's MMAs are done with the FP16 tiles (the sync closing each step)
      widen_kv_tile<D, kMmaThreads>(ks, vs, k_stage(stage), v_stage(stage));
      __syncthreads();
    } else {
      kt_base = ks + stage * kStage;
      vt_base = vs + stage * kStage;
    }

    float s[kMT][kMmaKeys / 8][4];
#pragma unroll
    for (int mt = 0; mt < kMT; ++mt)
#pragma unroll
      for (int nt = 0; nt < kMmaKeys / 8; ++nt)
        s[mt][nt][0] = s[mt][nt][1] = s[mt][nt][2] = s[mt][nt][3] = 0.f;
#pragma unroll
    for (int kt = 0; kt < D / 16; ++kt) {
#pragma unroll
      for (int nt = 0; nt < kMmaKeys / 8; nt += 2) {
        // matrices: (keys nt, dims lo), (keys nt, dims hi), (keys nt+1, lo), (keys nt+1, hi)
        uint32_t kb[4];
        ldmatrix_x4<false>(kb, kt_base + ((nt + (mi >> 1)) * 8 + mr) * kLd + kt * 16 + (mi & 1) * 8);
#pragma unroll
        for (int mt = 0; mt < kMT; ++mt) {
          mma_16816(s[mt][nt], qf[mt][kt], kb[0], kb[1]);
          mma_16816(s[mt][nt + 1], qf[mt][kt], kb[2], kb[3]);
        }
      }
    }

    uint32_t pa[kMT][kMmaKeys / 16][4];  // P as A fragments, per m-tile
#pragma unroll
    for (int mt = 0; mt < kMT; ++mt) {
      online_softmax_tile<kMmaKeys, D / 8>(s[mt], o[mt], pa[mt], m0[mt], m1[mt], l0[mt], l1[mt],
                                           k0, seq.len, scale2, tg);
    }

    // O += P V: V through ldmatrix.trans, each fragment used by every m-tile.
#pragma unroll
    for (int kk = 0; kk < kMmaKeys / 16; ++kk) {
#pragma unroll
      for (int dn = 0; dn < D / 8; dn += 2) {
        // matrices: (keys lo, dims dn), (keys hi, dims dn), (keys lo, dn+1), (keys hi, dn+1)
        uint32_t vb[4];
        ldmatrix_x4<true>(vb, vt_base + (kk * 16 + (mi & 1) * 8 + mr) * kLd + (dn + (mi >> 1)) * 8);
#pragma unroll
        for (int mt = 0; mt < kMT; ++mt) {
          mma_16816(o[mt][dn], pa[mt][kk], vb[0], vb[1]);
          mma_16816(o[mt][dn + 1], pa[mt][kk], vb[2], vb[3]);
        }
      }
    }
    __syncthreads();  // this stage is read by everyone before the next prefetch overwrites it
    stage ^= 1;
  }

#pragma unroll
  for (int mt = 0; mt < kMT; ++mt) {
    store_query_rows<D>(p, o[mt], l0[mt], l1[mt], q0 + (warp * kMT + mt) * 16 + g, seq, query_rows,
                        h, tg);
  }
#endif
}

// ------------------------------------------------------------------------------------------------
// wgmma path (sm_90a, FP16 in and out): a block = kWG warpgroups of 128 threads, each owning 64
// query rows of one (sequence, head); keys in tiles of kN. The block's Q rows (bias added) and
// the K and V tiles live in shared memory in the 128-byte swizzle (ptx.cuh), D / 64 sub-tiles of
// 64 columns (128 bytes) per row. Per key tile, each warpgroup:
//   S = Q K^T   D / 16 wgmma m64nNk16 (N = kN), A = Q and B = K both K-major from shared memory;
//   softmax     online_softmax_tile on S in registers (the wgmma accumulator layout is mma.m16n8's
//               per warp), P left as FP16 A fragments in registers;
//   O += P V    kN / 16 wgmma m64nDk16 with A = P from registers and B = V read MN-major
//               (imm-trans-b: V's rows are keys, its columns the output's), no transpose copy.
// The P V wgmmas stay in flight into the next tile: they are waited for together with its S. K/V
// copies (cp.async) run one tile ahead through kWgStages = 3 stages: a stage is refilled two
// tiles after it was read, when every warpgroup has waited for its P V (the barrier at the top of
// each tile). Biases as on the mma path. Launched only where the library has sm_90a code and the
// device is sm_90 (select_path); elsewhere the wgmma wrappers compile to nothing.
constexpr int kWgStages = 3;

// Shared memory of a wgmma block: its Q rows, the K/V stages, and slack to align them to 1024
// bytes (what the 128-byte swizzle needs).
constexpr size_t wgmma_shared_bytes(int d, int warpgroups, int keys) {
  return size_t(64) * warpgroups * d * 2 + size_t(kWgStages) * 2 * size_t(keys) * d * 2 + 1024;
}

template <int D, int kWG, int kN>
struct WgmmaTiling {
  static_assert(D % 64 == 0 && (kN == 64 || kN == 128) && (kWG == 1 || kWG == 2), "tiling");
  static constexpr int kThreads = 128 * kWG;
  static constexpr int kQueries = 64 * kWG;
  static constexpr int kQBytes = kQueries * D * 2;
  static constexpr int kTileBytes = kN * D * 2;  // one K or V tile
  static constexpr size_t kShared = wgmma_shared_bytes(D, kWG, kN);
};

// Byte offset of the 16-byte chunk holding halves c .. c + 7 (c % 8 == 0) of row r in a tile of
// `rows` rows stored as 64-column sub-tiles in the 128-byte swizzle.
__device__ __forceinline__ int sw128_chunk(int rows, int r, int c) {
  return (c >> 6) * rows * 128 + r * 128 + 16 * (((c & 63) >> 3) ^ (r & 7));
}

// Eight halves plus eight bias halves, added in float and rounded once (as the mma path does).
__device__ __forceinline__ uint4 add_bias8(uint4 v, const __half* bias) {
  const uint4 b = *reinterpret_cast<const uint4*>(bias);
  uint32_t* x = reinterpret_cast<uint32_t*>(&v);
  const uint32_t* y = reinterpret_cast<const uint32_t*>(&b);
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    const float2 fx = __half22float2(*reinterpret_cast<const __half2*>(&x[i]));
    const float2 fy = __half22float2(*reinterpret_cast<const __half2*>(&y[i]));
    x[i] = pack_half2(fx.x + fy.x, fx.y + fy.y);
  }
  return v;
}

template <int D, int kWG, int kN, typename A>
__global__ void __launch_bounds__(128 * kWG) fused_attention_wgmma_kernel(A p) {
#ifdef FT4J_WGMMA_CODE  // sm_90a device code (and the CPU emulator); empty elsewhere
  static_assert(std::is_same<typename A::In, __half>::value &&
                    std::is_same<typename A::Out, __half>::value,
                "the wgmma path is FP16 in and out");
  using Tl = WgmmaTiling<D, kWG, kN>;
  extern __shared__ __align__(16) unsigned char wgmma_attn_smem[];
  const uint32_t raw = static_cast<uint32_t>(__cvta_generic_to_shared(wgmma_attn_smem));
  unsigned char* const smem = wgmma_attn_smem + ((1024 - (raw & 1023)) & 1023);
  unsigned char* const qs = smem;  // [D / 64][kQueries][128 bytes]
  auto k_tile = [&](int st) { return smem + Tl::kQBytes + st * 2 * Tl::kTileBytes; };
  auto v_tile = [&](int st) { return smem + Tl::kQBytes + st * 2 * Tl::kTileBytes + Tl::kTileBytes; };

  const int b = blockIdx.z;
  const int h = blockIdx.y;
  const int q0 = blockIdx.x * Tl::kQueries;
  const SeqBounds seq = seq_bounds(p.offsets, b, p.padded_seq);
  const int hidden = p.heads * D;
  const int wg = threadIdx.x >> 7;
  const int warp = (threadIdx.x >> 5) & 3;
  const int lane = threadIdx.x & 31;
  const int g = lane >> 2;
  const int tg = lane & 3;
  const int query_rows = p.padded_seq > 0 ? p.padded_seq : seq.len;
  if (q0 >= query_rows) return;
  if (q0 >= seq.len) {  // padded mode: a tile of padding queries only
    zero_query_tile<D, Tl::kQueries, Tl::kThreads>(p.out, seq.base, q0, query_rows, hidden, h);
    return;
  }
  const int64_t pitch = 3 * int64_t(hidden);
  const int tiles = (seq.len + kN - 1) / kN;

  // Keys tile * kN .. of K and V into stage st, rows >= len zero-filled (the K bias is dropped,
  // the V bias added to the output: see the mma kernel).
  auto issue = [&](int st, int tile) {
    const int k0 = tile * kN;
    for (int i = threadIdx.x; i < kN * (D / 8); i += Tl::kThreads) {
      const int r = i / (D / 8);
      const int c = (i - r * (D / 8)) * 8;
      const bool valid = k0 + r < seq.len;
      const __half* src = p.qkv + (valid ? (seq.base + k0 + r) * pitch + h * D + c : 0) + hidden;
      const int at = sw128_chunk(kN, r, c);
      cp_async_16_zfill(k_tile(st) + at, src, valid);
      cp_async_16_zfill(v_tile(st) + at, src + hidden, valid);
    }
    cp_async_commit();
  };
  issue(0, 0);
  // Q rows with their bias (plain loads, while the first tile's copies fly), swizzled
  for (int i = threadIdx.x; i < Tl::kQueries * (D / 8); i += Tl::kThreads) {
    const int r = i / (D / 8);
    const int c = (i - r * (D / 8)) * 8;
    uint4 v = make_uint4(0, 0, 0, 0);
    if (q0 + r < seq.len) {
      v = *reinterpret_cast<const uint4*>(p.qkv + (seq.base + q0 + r) * pitch + h * D + c);
      if (p.qkv_bias != nullptr) v = add_bias8(v, p.qkv_bias + h * D + c);
    }
    *reinterpret_cast<uint4*>(qs + sw128_chunk(Tl::kQueries, r, c)) = v;
  }
  const unsigned char* const qw = qs + wg * 64 * 128;  // this warpgroup's rows, sub-tile 0

  float o[D / 8][4];
#pragma unroll
  for (int i = 0; i < D / 8; ++i) o[i][0] = o[i][1] = o[i][2] = o[i][3] = 0.f;
  float m0 = -INFINITY, m1 = -INFINITY, l0 = 0.f, l1 = 0.f;
  const float scale2 = p.scale * kLog2e;

  for (int j = 0; j < tiles; ++j) {
    const int st = j % kWgStages;
    cp_async_wait<0>();          // this thread's copies of tile j (and Q's stores) are done ...
    fence_proxy_async_shared();  // ... and visible to wgmma's reads
    __syncthreads();  // every thread's; every warpgroup has waited for tile j - 1's S (and so
                      // for tile j - 2's P V): stage (j + 1) % 3 is free
    if (j + 1 < tiles) issue((j + 1) % kWgStages, j + 1);

    float s[kN / 8][4];
#pragma unroll
    for (int i = 0; i < kN / 8; ++i) s[i][0] = s[i][1] = s[i][2] = s[i][3] = 0.f;
    wgmma_fence();
#pragma unroll
    for (int kk = 0; kk < D / 16; ++kk) {
      // head dims 16 kk .. 16 kk + 15: sub-tile kk / 4, bytes 32 (kk % 4) of each row
      wgmma_f16_ss<kN>(s, wgmma_desc_sw128(qw + (kk >> 2) * Tl::kQueries * 128 + 32 * (kk & 3)),
                       wgmma_desc_sw128(k_tile(st) + (kk >> 2) * kN * 128 + 32 * (kk & 3)));
    }
    wgmma_commit();
    wgmma_wait<0>();  // S of tile j, and the P V of tile j - 1
    wgmma_fence_operand(s);
    wgmma_fence_operand(o);

    uint32_t pa[kN / 16][4];
    online_softmax_tile<kN, D / 8>(s, o, pa, m0, m1, l0, l1, j * kN, seq.len, scale2, tg);

    wgmma_fence();
#pragma unroll
    for (int kk = 0; kk < kN / 16; ++kk) {  // keys 16 kk .. 16 kk + 15: rows of the V tile
      wgmma_f16_rs_tb<D>(o, pa[kk], wgmma_desc_sw128_mn(v_tile(st) + kk * 16 * 128, kN * 128));
    }
    wgmma_commit();
  }
  wgmma_wait<0>();
  wgmma_fence_operand(o);
  store_query_rows<D>(p, o, l0, l1, q0 + wg * 64 + warp * 16 + g, seq, query_rows, h, tg);
#endif
}

// ------------------------------------------------------------------------------------------------
// simt path

constexpr int kSimtWarps = 4;
constexpr int kSimtQueriesPerWarp = 4;
constexpr int kSimtQueries = kSimtWarps * kSimtQueriesPerWarp;  // 16 per block
constexpr int kSimtKeys = 32;                                    // per step

// Shared memory of the simt kernel for head size d (floats): K and V tiles with a +1 row pad, and
// the block's queries.
inline size_t simt_shared_bytes(int d) {
  return sizeof(float) * (2 * size_t(kSimtKeys) * (d + 1) + size_t(kSimtQueries) * d);
}

template <typename A, int kDimsPerLane>
__global__ void __launch_bounds__(kSimtWarps * 32) fused_attention_simt_kernel(A p) {
  extern __shared__ float smem[];
  const int D = p.size_per_head;
  const int ld = D + 1;
  float* ks = smem;                        // [32][D + 1]
  float* vs = ks + kSimtKeys * ld;         // [32][D + 1]
  float* qs = vs + kSimtKeys * ld;         // [16][D]

  const int b = blockIdx.z;
  const int h = blockIdx.y;
  const int q0 = blockIdx.x * kSimtQueries;
  const SeqBounds seq = seq_bounds(p.offsets, b, p.padded_seq);
  const int hidden = p.heads * D;
  const int64_t pitch = 3 * int64_t(hidden);
  const int warp = threadIdx.x >> 5;
  const int lane = threadIdx.x & 31;
  const int query_rows = p.padded_seq > 0 ? p.padded_seq : seq.len;
  if (q0 >= query_rows) return;

  // step: the int8 input's dequantization step of this part (ignored for FP32/FP16 input)
  auto load = [&](int64_t row, int col, float step) {
    float x = input_value(p.qkv[row * pitch + col], step);
    if (p.qkv_bias != nullptr) x += to_float(p.qkv_bias[col]);
    return x;
  };

  for (int i = threadIdx.x; i < kSimtQueries * D; i += blockDim.x) {
    const int r = i / D;
    const int c = i - r * D;
    qs[i] = q0 + r < seq.len ? load(seq.base + q0 + r, h * D + c, p.q_step) : 0.f;
  }

  float o[kSimtQueriesPerWarp][kDimsPerLane];
  float m[kSimtQueriesPerWarp], l[kSimtQueriesPerWarp];
#pragma unroll
  for (int q = 0; q < kSimtQueriesPerWarp; ++q) {
    m[q] = -INFINITY;
    l[q] = 0.f;
#pragma unroll
    for (int i = 0; i < kDimsPerLane; ++i) o[q][i] = 0.f;
  }
  const float scale2 = p.scale * kLog2e;

  for (int k0 = 0; k0 < seq.len; k0 += kSimtKeys) {
    __syncthreads();
    for (int i = threadIdx.x; i < kSimtKeys * D; i += blockDim.x) {
      const int r = i / D;
      const int c = i - r * D;
      const bool valid = k0 + r < seq.len;
      ks[r * ld + c] = valid ? load(seq.base + k0 + r, hidden + h * D + c, p.k_step) : 0.f;
      vs[r * ld + c] = valid ? load(seq.base + k0 + r, 2 * hidden + h * D + c, p.v_step) : 0.f;
    }
    __syncthreads();
    const bool key_valid = k0 + lane < seq.len;
#pragma unroll
    for (int q = 0; q < kSimtQueriesPerWarp; ++q) {
      const float* qrow = qs + (warp * kSimtQueriesPerWarp + q) * D;
      const float* krow = ks + lane * ld;
      float dot = 0.f;
      for (int d = 0; d < D; ++d) dot = fmaf(qrow[d], krow[d], dot);
      const float s = key_valid ? dot * scale2 : -INFINITY;
      const float n = fmaxf(m[q], warp_max(s));
      const float c = exp2f(m[q] - n);
      const float e = exp2f(s - n);
      l[q] = l[q] * c + warp_sum(e);
      m[q] = n;
#pragma unroll
      for (int i = 0; i < kDimsPerLane; ++i) o[q][i] *= c;
      const int keys = min(kSimtKeys, seq.len - k0);
      for (int j = 0; j < keys; ++j) {
        const float pj = __shfl_sync(0xffffffffu, e, j);
        const float* vrow = vs + j * ld;
#pragma unroll
        for (int i = 0; i < kDimsPerLane; ++i) {
          const int d = lane + 32 * i;
          if (d < D) o[q][i] = fmaf(pj, vrow[d], o[q][i]);
        }
      }
    }
  }

#pragma unroll
  for (int q = 0; q < kSimtQueriesPerWarp; ++q) {
    const int row = q0 + warp * kSimtQueriesPerWarp + q;
    if (row >= query_rows) continue;
    const bool valid = row < seq.len;
    const float inv = valid ? 1.f / l[q] : 0.f;
#pragma unroll
    for (int i = 0; i < kDimsPerLane; ++i) {
      const int d = lane + 32 * i;
      if (d < D) {
        p.out[(seq.base + row) * hidden + h * D + d] =
            output_value<typename A::Out>(valid ? o[q][i] * inv : 0.f, p.out_inv);
      }
    }
  }
}

__global__ void lengths_to_offsets_kernel(const int* __restrict__ lengths, int batch,
                                          int* __restrict__ offsets) {
  // One block of 1024 threads: chunked inclusive scan with a running carry.
  __shared__ int buffer[1024];
  __shared__ int carry;
  if (threadIdx.x == 0) {
    carry = 0;
    offsets[0] = 0;
  }
  __syncthreads();
  for (int base = 0; base < batch; base += blockDim.x) {
    const int i = base + threadIdx.x;
    buffer[threadIdx.x] = i < batch ? lengths[i] : 0;
    __syncthreads();
    const int tid = static_cast<int>(threadIdx.x);
    for (int step = 1; step < static_cast<int>(blockDim.x); step <<= 1) {
      const int add = tid >= step ? buffer[tid - step] : 0;
      __syncthreads();
      buffer[threadIdx.x] += add;
      __syncthreads();
    }
    if (i < batch) offsets[i + 1] = carry + buffer[threadIdx.x];
    __syncthreads();
    if (threadIdx.x == blockDim.x - 1) carry += buffer[threadIdx.x];
    __syncthreads();
  }
}

// Facts of the current device, cached per device: compute capability (e.g. 90) and the largest
// dynamic shared memory a block may opt in to.
struct DeviceFacts {
  int sm = 0;
  int optin_shared = 0;
  bool wgmma = false;  // sm_90 and the library has sm_90a code
};

DeviceFacts current_device_facts() {
  static std::mutex mutex;
  static std::vector<DeviceFacts> cache;
  int device = 0;
  if (cudaGetDevice(&device) != cudaSuccess) return {};
  std::lock_guard<std::mutex> lock(mutex);
  if (device >= static_cast<int>(cache.size())) cache.resize(device + 1);
  if (cache[device].sm == 0) {
    int major = 0, minor = 0, optin = 0;
    if (cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device) != cudaSuccess ||
        cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, device) != cudaSuccess ||
        cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, device) !=
            cudaSuccess) {
      cudaGetLastError();
      return {};
    }
    bool wgmma = false;
#ifdef FT4J_HAS_SM90A
    wgmma = major == 9 && minor == 0;
#endif
    cache[device] = {usable_sm(major, minor), optin, wgmma};
  }
  return cache[device];
}

constexpr int kMaxSimtHeadSize = 256;


template <typename A, int kDimsPerLane>
cudaError_t launch_simt(const A& p, cudaStream_t stream) {
  const size_t shared = simt_shared_bytes(p.size_per_head);
  auto kernel = fused_attention_simt_kernel<A, kDimsPerLane>;
  const cudaError_t e = allow_shared(reinterpret_cast<const void*>(kernel), shared);
  if (e != cudaSuccess) return e;
  const dim3 grid(static_cast<unsigned>(ceil_div(p.max_seq, kSimtQueries)), p.heads, p.batch);
  kernel<<<grid, kSimtWarps * 32, shared, stream>>>(p);
  return cudaGetLastError();
}

// Launch parameters of the mma path, in one place: 8 warps (128 queries) per block once sequences
// are long enough to fill the GPU with such blocks and the device's shared memory takes them (not
// D = 128 on the 99 KB devices, sm_86 / sm_89), else 4 (64 queries), one m16 tile (16 query rows)
// per warp; a benchmark may force the warps and 2 m-tiles per warp (head sizes <= 64: beyond that
// the accumulators spill) with set_fused_attention_tiling. Read once per launch (select_path), so
// that a concurrent set_fused_attention_tiling cannot change it between the check and the launch.
struct MmaTiling {
  int warps;
  int m_tiles;
  int queries() const { return 16 * warps * m_tiles; }
};
std::atomic<int> g_warps_override{0};
std::atomic<int> g_m_tiles_override{0};
inline MmaTiling mma_tiling(int max_seq, int d, bool int8_in, int optin_shared) {
  const int forced_warps = g_warps_override.load(std::memory_order_relaxed);
  const int m_tiles = g_m_tiles_override.load(std::memory_order_relaxed) == 2 && d <= 64 ? 2 : 1;
  if (forced_warps != 0) return {forced_warps, m_tiles};
  if (max_seq >= 512 &&
      mma_shared_bytes(d, 16 * 8 * m_tiles, int8_in) <= static_cast<size_t>(optin_shared)) {
    return {8, m_tiles};
  }
  return {4, m_tiles};
}

template <int D, int kWarps, int kMT, typename A>
cudaError_t launch_mma_with(const A& p, cudaStream_t stream) {
  const MmaTiling tiling{kWarps, kMT};
  const size_t shared = mma_shared_bytes(D, tiling.queries(), A::kInt8In);
  auto kernel = fused_attention_mma_kernel<D, kWarps, kMT, A>;
  const cudaError_t e = allow_shared(reinterpret_cast<const void*>(kernel), shared);
  if (e != cudaSuccess) return e;
  const dim3 grid(static_cast<unsigned>(ceil_div(p.max_seq, tiling.queries())), p.heads,
                  p.batch);
  kernel<<<grid, 32 * kWarps, shared, stream>>>(p);
  return cudaGetLastError();
}

template <int D, typename A>
cudaError_t launch_mma(const A& p, const MmaTiling& t, cudaStream_t stream) {
  if constexpr (D <= 64) {
    if (t.m_tiles == 2) {
      return t.warps == 8 ? launch_mma_with<D, 8, 2>(p, stream)
                          : launch_mma_with<D, 4, 2>(p, stream);
    }
  }
  return t.warps == 8 ? launch_mma_with<D, 8, 1>(p, stream) : launch_mma_with<D, 4, 1>(p, stream);
}

// Launch parameters of the wgmma path, in one place: warpgroups per block (64 queries each) and
// keys per tile. Automatic, from AttentionBench on an H200 (2026-11-27, 12 heads x 64, us per
// layer, mma.sync default in brackets): 32x128 1x64 15.4, 2x64 16.6, 1x128 17.7 (17.5); 32x384
// 1x64 77.2, 2x64 66.8, 1x128 89.3 (73.7); 4x4096 1x64 713, 2x64 595, 1x128 670 (965): tiles of
// 64 keys, 1 warpgroup up to 128 queries, 2 above. Taken by default on sm_90 with 90a code
// (FT4J_ATTENTION_WGMMA=0 turns it off); set_fused_attention_wgmma forces a tiling, or turns the
// path off (-1).
struct WgmmaChoice {
  int warpgroups;  // 0: the path is not taken
  int keys;
};
std::atomic<int> g_wgmma_warpgroups_override{0};
std::atomic<int> g_wgmma_keys_override{0};

bool attention_wgmma_by_default() {
  static const bool on = !env_switch_off("FT4J_ATTENTION_WGMMA");
  return on;
}

inline WgmmaChoice wgmma_choice(int max_seq) {
  const int forced = g_wgmma_warpgroups_override.load(std::memory_order_relaxed);
  const int keys = g_wgmma_keys_override.load(std::memory_order_relaxed);
  if (forced < 0 || (forced == 0 && !attention_wgmma_by_default())) return {0, 0};
  return {forced > 0 ? forced : (max_seq > 128 ? 2 : 1), keys > 0 ? keys : 64};
}

template <int D, int kWG, int kN, typename A>
cudaError_t launch_wgmma_with(const A& p, cudaStream_t stream) {
  using Tl = WgmmaTiling<D, kWG, kN>;
  auto kernel = fused_attention_wgmma_kernel<D, kWG, kN, A>;
  const cudaError_t e = allow_shared(reinterpret_cast<const void*>(kernel), Tl::kShared);
  if (e != cudaSuccess) return e;
  const dim3 grid(static_cast<unsigned>(ceil_div(p.max_seq, Tl::kQueries)), p.heads, p.batch);
  kernel<<<grid, Tl::kThreads, Tl::kShared, stream>>>(p);
  return cudaGetLastError();
}

template <int D, typename A>
cudaError_t launch_wgmma(const A& p, const WgmmaChoice& c, cudaStream_t stream) {
  if (c.warpgroups == 2) {
    return c.keys == 128 ? launch_wgmma_with<D, 2, 128>(p, stream)
                         : launch_wgmma_with<D, 2, 64>(p, stream);
  }
  return c.keys == 128 ? launch_wgmma_with<D, 1, 128>(p, stream)
                       : launch_wgmma_with<D, 1, 64>(p, stream);
}

bool mma_head_size(int d) { return d == 16 || d == 32 || d == 64 || d == 96 || d == 128; }

// The one place that picks a path: tensor cores for FP16 (bias, and FP16 or int8 I/O) on sm_80+
// with a tensor-core head size and 16-byte aligned buffers, else CUDA cores.
template <typename A>
FusedAttentionPath select_path(const A& p, std::string* reason, MmaTiling* tiling = nullptr,
                               WgmmaChoice* wgmma = nullptr) {
  const int d = p.size_per_head;
  if (d < 1 || d > kMaxSimtHeadSize) {
    *reason = "size_per_head = " + std::to_string(d) +
              " is not supported (1..256; tensor cores for FP16 with 16, 32, 64, 96, 128)";
    return FusedAttentionPath::kNone;
  }
  const DeviceFacts facts = current_device_facts();
  const int sm = facts.sm;
  if (sm < 75) {
    *reason = "compute capability " + std::to_string(sm / 10) + "." + std::to_string(sm % 10) +
              " is not supported (sm_75 or newer)";
    return FusedAttentionPath::kNone;
  }
  if constexpr (std::is_same<typename A::Bias, __half>::value) {
    if constexpr (std::is_same<typename A::In, __half>::value &&
                  std::is_same<typename A::Out, __half>::value) {
      const WgmmaChoice c = wgmma_choice(p.max_seq);
      if (c.warpgroups > 0 && facts.wgmma && (d == 64 || d == 128) && aligned_to(p.qkv, 16) &&
          aligned_to(p.out, 16) && aligned_to(p.qkv_bias, 16) &&
          wgmma_shared_bytes(d, c.warpgroups, c.keys) <= static_cast<size_t>(facts.optin_shared)) {
        if (wgmma != nullptr) *wgmma = c;
        return FusedAttentionPath::kWgmma;
      }
    }
    const MmaTiling t = mma_tiling(p.max_seq, d, A::kInt8In, facts.optin_shared);
    if (sm >= 80 && mma_head_size(d) && aligned_to(p.qkv, 16) && aligned_to(p.out, 16) &&
        aligned_to(p.qkv_bias, 16) &&
        mma_shared_bytes(d, t.queries(), A::kInt8In) <= static_cast<size_t>(facts.optin_shared)) {
      if (tiling != nullptr) *tiling = t;
      return FusedAttentionPath::kMma;
    }
  }
  if (simt_shared_bytes(d) > static_cast<size_t>(facts.optin_shared)) {
    *reason = "size_per_head = " + std::to_string(d) + " needs " +
              std::to_string(simt_shared_bytes(d)) + " bytes of shared memory, this device allows " +
              std::to_string(facts.optin_shared);
    return FusedAttentionPath::kNone;
  }
  return FusedAttentionPath::kSimt;
}

template <typename A>
std::string check_args(const A& p) {
  if (p.batch < 1 || p.heads < 1 || p.max_seq < 1) return "batch, heads and max_seq must be >= 1";
  if (p.batch > 65535) return "batch = " + std::to_string(p.batch) + " exceeds 65535 sequences";
  if (p.heads > 65535) return "heads = " + std::to_string(p.heads) + " exceeds 65535";
  if (p.padded_seq < 0) return "padded_seq must be >= 0";
  if (p.padded_seq > 0 && p.max_seq != p.padded_seq) return "max_seq must equal padded_seq";
  // > 0: the tensor-core paths take the row maxima on the unscaled scores
  if (!(p.scale > 0.f) || !std::isfinite(p.scale)) {
    return "scale = " + std::to_string(p.scale) + " must be > 0 and finite";
  }
  std::string reason;
  if (select_path(p, &reason) == FusedAttentionPath::kNone) return reason;
  return "";
}

template <typename A>
cudaError_t launch_args(const A& p, cudaStream_t stream) {
  std::string reason;
  MmaTiling t{4, 1};
  WgmmaChoice c{0, 0};
  const FusedAttentionPath path = select_path(p, &reason, &t, &c);
  if constexpr (std::is_same<typename A::In, __half>::value &&
                std::is_same<typename A::Out, __half>::value) {
    if (path == FusedAttentionPath::kWgmma) {
      return p.size_per_head == 64 ? launch_wgmma<64>(p, c, stream)
                                   : launch_wgmma<128>(p, c, stream);
    }
  }
  if constexpr (std::is_same<typename A::Bias, __half>::value) {
    if (path == FusedAttentionPath::kMma) {
      switch (p.size_per_head) {
        case 16: return launch_mma<16>(p, t, stream);
        case 32: return launch_mma<32>(p, t, stream);
        case 64: return launch_mma<64>(p, t, stream);
        case 96: return launch_mma<96>(p, t, stream);
        case 128: return launch_mma<128>(p, t, stream);
        default: return cudaErrorInvalidValue;
      }
    }
  }
  if (path != FusedAttentionPath::kSimt) return cudaErrorInvalidValue;
  switch (ceil_div(p.size_per_head, 32)) {
    case 1: return launch_simt<A, 1>(p, stream);
    case 2: return launch_simt<A, 2>(p, stream);
    case 3: return launch_simt<A, 3>(p, stream);
    case 4: return launch_simt<A, 4>(p, stream);
    case 5: return launch_simt<A, 5>(p, stream);
    case 6: return launch_simt<A, 6>(p, stream);
    case 7: return launch_simt<A, 7>(p, stream);
    default: return launch_simt<A, 8>(p, stream);
  }
}

bool positive_finite(float v) { return std::isfinite(v) && v > 0.f; }

}  // namespace

template <typename T>
FusedAttentionPath select_fused_attention_path(const FusedAttentionParams<T>& p,
                                               std::string* reason) {
  return select_path(args_of(p), reason);
}

template <typename TIn, typename T>
FusedAttentionPath select_fused_attention_path(const Int8FusedAttentionParams<TIn, T>& p,
                                               std::string* reason) {
  return select_path(args_of(p), reason);
}

template <typename T>
std::string check_fused_attention(const FusedAttentionParams<T>& p) {
  return check_args(args_of(p));
}

template <typename TIn, typename T>
std::string check_fused_attention(const Int8FusedAttentionParams<TIn, T>& p) {
  if (!positive_finite(p.q_step) || !positive_finite(p.k_step) || !positive_finite(p.v_step)) {
    return "q/k/v steps = " + std::to_string(p.q_step) + ", " + std::to_string(p.k_step) + ", " +
           std::to_string(p.v_step) + " must be finite and > 0";
  }
  if (!positive_finite(p.out_amax)) {
    return "out_amax = " + std::to_string(p.out_amax) + " must be finite and > 0";
  }
  return check_args(args_of(p));
}

template <typename T>
cudaError_t launch_fused_attention(const FusedAttentionParams<T>& p, cudaStream_t stream) {
  return launch_args(args_of(p), stream);
}

template <typename TIn, typename T>
cudaError_t launch_fused_attention(const Int8FusedAttentionParams<TIn, T>& p,
                                   cudaStream_t stream) {
  return launch_args(args_of(p), stream);
}

bool set_fused_attention_tiling(int warps, int m_tiles) {
  if ((warps != 0 && warps != 4 && warps != 8) || m_tiles < 0 || m_tiles > 2) return false;
  g_warps_override.store(warps, std::memory_order_relaxed);
  g_m_tiles_override.store(m_tiles, std::memory_order_relaxed);
  return true;
}

bool set_fused_attention_wgmma(int warpgroups, int keys) {
  if (warpgroups < -1 || warpgroups > 2 || (keys != 0 && keys != 64 && keys != 128)) return false;
  g_wgmma_warpgroups_override.store(warpgroups, std::memory_order_relaxed);
  g_wgmma_keys_override.store(keys, std::memory_order_relaxed);
  return true;
}

cudaError_t launch_lengths_to_offsets(const int* lengths, int batch, int* offsets,
                                      cudaStream_t stream) {
  lengths_to_offsets_kernel<<<1, 1024, 0, stream>>>(lengths, batch, offsets);
  return cudaGetLastError();
}

#define FT4J_FUSED_ATTENTION_INSTANCES(P)                                                      \
  template FusedAttentionPath select_fused_attention_path(const P&, std::string*);             \
  template std::string check_fused_attention(const P&);                                        \
  template cudaError_t launch_fused_attention(const P&, cudaStream_t);
FT4J_FUSED_ATTENTION_INSTANCES(FusedAttentionParams<float>)
FT4J_FUSED_ATTENTION_INSTANCES(FusedAttentionParams<__half>)
using Int8InFp32 = Int8FusedAttentionParams<int8_t, float>;
using Int8InFp16 = Int8FusedAttentionParams<int8_t, __half>;
using Fp32InInt8Out = Int8FusedAttentionParams<float, float>;
using Fp16InInt8Out = Int8FusedAttentionParams<__half, __half>;
FT4J_FUSED_ATTENTION_INSTANCES(Int8InFp32)
FT4J_FUSED_ATTENTION_INSTANCES(Int8InFp16)
FT4J_FUSED_ATTENTION_INSTANCES(Fp32InInt8Out)
FT4J_FUSED_ATTENTION_INSTANCES(Fp16InInt8Out)
#undef FT4J_FUSED_ATTENTION_INSTANCES

}  // namespace ft4j
