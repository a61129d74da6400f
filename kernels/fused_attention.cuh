// Fused multi-head attention: one launch per layer computes, for every sequence b, head h and
// query i < len_b,
//   out[row(b, i), h*D:(h+1)*D] = sum_j softmax_j(scale * q_i . k_j) v_j      over keys j < len_b
// with q, k, v read straight from the fused QKV projection (bias added on load):
//   q_i = qkv[row(b, i), 0*H + h*D + :] + bias[0*H + h*D + :]   (k: 1*H, v: 2*H; H = heads * D)
// No [batch, heads, seq, seq] buffer exists: scores live in registers (online softmax).
//
// Rows: len_b = offsets[b+1] - offsets[b] (cumulative lengths, offsets[0] = 0).
//  - packed token stream (padded_seq == 0): row(b, i) = offsets[b] + i;
//  - padded batch (padded_seq > 0):          row(b, i) = b * padded_seq + i, and query rows
//    len_b <= i < padded_seq are written as zeros.
// qkv: [rows, 3H], out: [rows, H] (the layout the attention-output GEMM reads), FP32 or FP16.
//
// INT8 variants (docs/int8.md): out is int8 for the attention-output GEMM,
//   out8 = clamp(rint(out * 127 / out_amax), -127, 127)           (padding query rows: 0)
// and qkv is either the encoder's type T (INT8 mode 1: the QKV GEMM's dequantized output) or, in
// mode 2, the int8 output of the QKV GEMM before the bias, Q, K and V each quantized per tensor:
//   q_i = q_step * qkv8[row(b, i), 0*H + h*D + :] + bias[...]   (k: k_step, v: v_step)
// The arithmetic inside is the FP16 (or FP32) kernel's: int8 only changes what is read and
// written, halving the bytes of the QKV tensor (mode 2) and of the context, and replacing the
// separate quantize kernel. T (the bias) is FP16 (tensor-core path) or FP32 (the FP32 encoder).
//
// Paths (chosen in select_fused_attention_path, the one place that decides):
//  - "mma": FP16 on sm_80+, D in {16, 32, 64, 96, 128}: mma.sync m16n8k16 tensor cores, FP32
//    accumulation and softmax, 64 queries x 64 keys per step;
//  - "wgmma": FP16 in and out on sm_90 (a library built with sm_90a), D in {64, 128}: warpgroup
//    MMAs, 64 queries per warpgroup, 1 or 2 warpgroups per block, 64 or 128 keys per step; the
//    default there since it was measured (H200, 2026-11-27; FT4J_ATTENTION_WGMMA=0 turns it off);
//  - "simt": FP32 (any arch) and FP16 where mma does not apply (sm_75, D = 256 or other sizes):
//    CUDA-core FMA, float math, 16 queries x 32 keys per step; any D <= 256.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>
#include <string>

namespace ft4j {

template <typename T>
struct FusedAttentionParams {
  T* out;              // [rows, heads * size_per_head]
  const T* qkv;        // [rows, 3 * heads * size_per_head]
  const T* qkv_bias;   // [3 * heads * size_per_head] or NULL
  const int* offsets;  // device, [batch + 1], cumulative sequence lengths
  int batch;
  int heads;
  int size_per_head;
  int padded_seq;  // 0: packed rows; > 0: rows are b * padded_seq + i
  int max_seq;     // upper bound of every length (the grid covers it)
  float scale;     // usually 1 / sqrt(size_per_head)
};

// TIn: int8_t (mode 2) or T (mode 1).
template <typename TIn, typename T>
struct Int8FusedAttentionParams {
  int8_t* out;         // [rows, heads * size_per_head]
  const TIn* qkv;      // [rows, 3 * heads * size_per_head]
  const T* qkv_bias;   // [3 * heads * size_per_head] or NULL
  const int* offsets;  // device, [batch + 1], cumulative sequence lengths
  int batch;
  int heads;
  int size_per_head;
  int padded_seq;
  int max_seq;
  float scale;
  float q_step;    // int8 qkv: dequantization steps of its Q, K and V parts (amax / 127), > 0;
                   // else 1 (ignored)
  float k_step;
  float v_step;
  float out_amax;  // static amax of the output (attn_out_in), > 0
};

enum class FusedAttentionPath { kNone, kMma, kSimt, kWgmma };

// The path a launch on the current device takes, or kNone with `reason` set.
template <typename T>
FusedAttentionPath select_fused_attention_path(const FusedAttentionParams<T>& p,
                                               std::string* reason);

template <typename T>
std::string check_fused_attention(const FusedAttentionParams<T>& p);

template <typename T>
cudaError_t launch_fused_attention(const FusedAttentionParams<T>& p, cudaStream_t stream);

template <typename TIn, typename T>
FusedAttentionPath select_fused_attention_path(const Int8FusedAttentionParams<TIn, T>& p,
                                               std::string* reason);

template <typename TIn, typename T>
std::string check_fused_attention(const Int8FusedAttentionParams<TIn, T>& p);

template <typename TIn, typename T>
cudaError_t launch_fused_attention(const Int8FusedAttentionParams<TIn, T>& p,
                                   cudaStream_t stream);

// Tiling of the tensor-core path for every later launch: warps per block (4 or 8) and m16 tiles
// per warp (1 or 2; 2 applies to head sizes <= 64), 0 = the automatic choice (the default). For
// benchmarks; false for other values.
bool set_fused_attention_tiling(int warps, int m_tiles);

// The warpgroup (wgmma) path for every later launch where it applies (FP16 in and out, head size
// 64 or 128, an sm_90 device, a library with sm_90a code): warpgroups per block (1 or 2: 64 or
// 128 queries; 0 = automatic, -1 = never) and keys per tile (64 or 128; 0 = automatic).
// Automatic takes the path unless FT4J_ATTENTION_WGMMA=0 is in the environment (1 warpgroup up to
// 128 queries, else 2; 64 keys). For benchmarks and tests; false for other values.
bool set_fused_attention_wgmma(int warpgroups, int keys);

// offsets[0] = 0, offsets[b+1] = offsets[b] + lengths[b] (one block; any batch).
cudaError_t launch_lengths_to_offsets(const int* lengths, int batch, int* offsets,
                                      cudaStream_t stream);

}  // namespace ft4j
