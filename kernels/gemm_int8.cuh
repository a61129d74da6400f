// ft4j's own INT8 GEMM with fused epilogues (docs/int8.md).
//
//   acc[m, n] = sum_k A[m, k] * B[n, k]                  int8 x int8 -> int32, exact
//   A: [M, K] row-major int8 (activations, tokens x features)
//   B: [N, K] row-major int8 (a PyTorch [out, in] weight: "TN", each output's weights contiguous)
//   out: [M, N] row-major, by `out_kind`:
//     INT32:  out = acc (no scaling; what cuBLASLt's int8->int32 gives)
//     FLOAT:  y = acc * a_m * w_n (+ bias[n]) (then gelu(y) when gelu), stored as `dtype` (FP32/FP16)
//     INT8:   y as for FLOAT, stored as clamp(rint(y * out_inv[n]), -127, 127)
//     INT8_DEQUANTIZED: that int8 value / out_inv[n], stored as T (mode 2's Q/K/V for the attention)
//   a_m = a_scale[m] (per-token input scales) or a_static when a_scale is NULL; w_n = w_scale[n]
//   (per-channel weight scales); out_inv[n] = out_inv_scale[n] (per channel) or out_inv_static.
//
// Three kinds of kernel, chosen per launch (launch_gemm_int8):
//  - simple: 64 x 64 per block of 128 threads (2 x 2 warps of 32 x 32), k-steps of 32, load then
//    compute. sm_80 and newer multiply with mma.sync m16n8k32 (s8 in, s32 accumulate); sm_75
//    computes the same fragments with __dp4a. Any M, N, K >= 1: edges are zero-filled; 16-byte
//    loads when K % 16 == 0 and A, B are 16-byte aligned, byte loads otherwise.
//  - pipelined (sm_80+, 16-byte loads only), a 4-stage cp.async pipeline: 128 x 128 per block of
//    256 threads (2 x 4 warps of 64 x 32) when its tiles are at least one per SM; else 64 x 64 per
//    block of 128 threads (2 x 2 warps of 32 x 32), split along K (grid z) while its tiles leave
//    SMs idle (small M: batch 1, short sequences), each split adding its int32 sums into the
//    workspace with atomics (exact) and a second kernel applying the epilogue. INT32 outputs are
//    summed in place and need no workspace. plan_gemm_int8 makes the choice.
//  - warpgroup (sm_90 with a library built for sm_90a; 16-byte loads only): wgmma m64n128k32 from
//    128-byte-swizzled shared tiles, 128 x 128 per block of 256 threads, k-steps of 128 through a
//    cp.async pipeline, split-K as above; two shapes (gemm_int8.cu, WgTile): 5 stages with one
//    block per SM, and the "pair" with 3 stages and two blocks per SM. The automatic plan takes the
//    pair instead of the 128 x 128 pipelined kernel on sm_90 (FT4J_INT8_WGMMA=0 turns that off); a
//    forced (tuned) plan may name either.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>
#include <string>

namespace ft4j {

enum class GemmInt8Out : int { INT32 = 0, FLOAT = 1, INT8 = 2, INT8_DEQUANTIZED = 3 };

template <typename T>  // T: float or __half, the FLOAT output and bias type
struct GemmInt8Params {
  void* out;                   // [M, N]: int32, T, int8 or T by out_kind
  const int8_t* a;             // [M, K]
  const int8_t* b;             // [N, K]
  const float* a_scale;        // [M] or NULL
  float a_static;
  const float* w_scale;        // [N] (FLOAT and INT8 outputs)
  const T* bias;               // [N] or NULL
  const float* out_inv_scale;  // [N] or NULL (INT8 output)
  float out_inv_static;
  int gelu;
  GemmInt8Out out_kind;
  int m;
  int n;
  int k;
  int32_t* workspace;      // split-K partial sums, or NULL (then no split unless INT32 output)
  size_t workspace_bytes;  // a split needs M * N * 4 (not for INT32 output)
  int forced_kernel;       // < 0: plan_gemm_int8 chooses; else a GemmInt8Kernel (a tuned choice)
  int forced_splits;       // with forced_kernel: its K splits (>= 1)
};

enum class GemmInt8Kernel : int { SIMPLE = 0, TILE128 = 1, TILE64 = 2, WGMMA = 3, WGMMA_PAIR = 4 };

struct GemmInt8Plan {
  GemmInt8Kernel kernel;
  int splits;  // K splits (grid z); 1: none
};

// How launch_gemm_int8 runs p on the current device: the forced plan when p has one (checked by
// check_gemm_int8), else the automatic choice.
template <typename T>
GemmInt8Plan plan_gemm_int8(const GemmInt8Params<T>& p);

template <typename T>
std::string check_gemm_int8(const GemmInt8Params<T>& p);

template <typename T>
cudaError_t launch_gemm_int8(const GemmInt8Params<T>& p, cudaStream_t stream);

}  // namespace ft4j
