/*
 * ft4j.h — the only C API the Java side sees.
 *
 * Rules of this surface:
 *  - extern "C", plain types only (ints, floats, size_t, untyped device pointers, a CUDA stream);
 *  - every function returns an ft4j status code (FT4J_OK == 0); on failure the reason is kept in a
 *    thread-local message that ft4j_last_error() returns (valid until the next ft4j call on the
 *    same thread);
 *  - no C++ exception and no exit()/abort() crosses it;
 *  - device pointers are raw CUDA device addresses owned by the caller; ft4j never frees them;
 *  - every kernel launch is asynchronous on the given stream (NULL = legacy default stream) and
 *    checks its arguments first: a rejected call launches nothing and returns
 *    FT4J_ERR_INVALID_ARGUMENT or FT4J_ERR_UNSUPPORTED with a message naming the value.
 *
 * Tensors are row-major; the shape comment names the dimensions from slowest to fastest.
 * "dtype" is FT4J_DTYPE_FP32 (float) or FT4J_DTYPE_FP16 (IEEE half); all arithmetic inside the
 * kernels is done in float whatever the storage type.
 */
#ifndef FT4J_H_
#define FT4J_H_

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The library is built with hidden visibility; only this API is exported. */
#if defined(__GNUC__)
#define FT4J_API __attribute__((visibility("default")))
#else
#define FT4J_API
#endif

/* cudaStream_t is `struct CUstream_st*`; declaring the struct keeps CUDA headers out of this file. */
struct CUstream_st;

/* Status codes. */
#define FT4J_OK 0
#define FT4J_ERR_INVALID_ARGUMENT 1 /* a shape, pointer or value the call cannot accept */
#define FT4J_ERR_UNSUPPORTED 2      /* valid request, not implemented (dtype, head size...) */
#define FT4J_ERR_CUDA 3             /* the CUDA runtime reported an error */
#define FT4J_ERR_INTERNAL 4         /* a bug in ft4j */

/* Storage types. */
#define FT4J_DTYPE_FP32 0
#define FT4J_DTYPE_FP16 1
#define FT4J_DTYPE_INT8 2 /* only where a function says so */

/* Message of the last failed call on this thread ("" if none). Never NULL. */
FT4J_API const char* ft4j_last_error(void);

/* Library version, e.g. "0.1.0". */
FT4J_API const char* ft4j_version(void);

/* Number of CUDA devices; 0 (and FT4J_OK) when there is no driver or no device, so that callers
 * can probe without failing. */
FT4J_API int ft4j_cuda_device_count(int* count);

/* Compute capability of `device` (e.g. 9, 0) and the CUDA runtime / driver versions (e.g. 13000). */
FT4J_API int ft4j_cuda_device_info(int device, int* sm_major, int* sm_minor, int* runtime_version,
                          int* driver_version);

/* --- activation ---------------------------------------------------------------------------------
 * data[r, c] = gelu(data[r, c] + bias[c]) with the exact GELU 0.5 x (1 + erf(x / sqrt 2)).
 * data: [rows, cols] in place; bias: [cols]. */
FT4J_API int ft4j_add_bias_gelu(int dtype, void* data, const void* bias, int rows, int cols,
                       struct CUstream_st* stream);

/* --- layernorm ----------------------------------------------------------------------------------
 * x = input[r, :] + bias + residual[r, :]
 * out[r, c] = (x[c] - mean(x)) / sqrt(var(x) + eps) * gamma[c] + beta[c]   (biased variance)
 * out, input, residual: [rows, cols]; bias, gamma, beta: [cols]. `bias` may be NULL (no bias).
 * `out` may alias `input` or `residual`. */
FT4J_API int ft4j_add_bias_residual_layernorm(int dtype, void* out, const void* input, const void* bias,
                                     const void* residual, const void* gamma, const void* beta,
                                     float eps, int rows, int cols, struct CUstream_st* stream);

/* --- attention (unfused path) -------------------------------------------------------------------
 * Split the fused QKV projection into per-head tensors and add its bias.
 * qkv: [batch * seq, 3 * hidden], columns ordered (Q | K | V), each hidden = heads * size_per_head
 * wide and ordered (head, d); qkv_bias: [3 * hidden] (may be NULL).
 * q, k, v: [batch, heads, seq, size_per_head]. */
FT4J_API int ft4j_add_qkv_bias_split_heads(int dtype, void* q, void* k, void* v, const void* qkv,
                                  const void* qkv_bias, int batch, int seq, int heads,
                                  int size_per_head, struct CUstream_st* stream);

/* Row softmax of attention scores masked by per-sequence lengths, in place:
 * scores: [batch, heads, seq (query), seq (key)]; lengths: device int[batch], 1 <= len <= seq.
 * For every row (b, h, i): p[j] = exp(scale*s[j] - max) / sum over j < lengths[b], and p[j] = 0
 * for j >= lengths[b]. Query rows i >= lengths[b] are computed the same way (they only see valid
 * keys), so no row is left undefined. */
FT4J_API int ft4j_masked_softmax(int dtype, void* scores, const int* lengths, int batch, int heads, int seq,
                        float scale, struct CUstream_st* stream);

/* Inverse of the split: in [batch, heads, seq, size_per_head] -> out [batch * seq, heads *
 * size_per_head]; out and in must not overlap. */
FT4J_API int ft4j_merge_heads(int dtype, void* out, const void* in, int batch, int seq, int heads,
                     int size_per_head, struct CUstream_st* stream);

/* --- embedding --------------------------------------------------------------------------------
 * out[r, :] = layernorm(word[ids[r]] + position[(r % seq) + position_offset] + token_type[t_r])
 * with t_r = type_ids[r] (type_ids may be NULL: type 0), gamma/beta [hidden], eps > 0.
 * out: [rows, hidden]; ids, type_ids: device int[rows]; tables row-major [n, hidden]. Ids outside
 * a table are clamped into it (validate them before upload). hidden <= 12224. */
FT4J_API int ft4j_embedding_layernorm(int dtype, void* out, const int* ids, const int* type_ids,
                                      const void* word, const void* position,
                                      const void* token_type, const void* gamma, const void* beta,
                                      float eps, int rows, int seq, int hidden, int vocab,
                                      int max_positions, int type_vocab, int position_offset,
                                      struct CUstream_st* stream);

/* --- fused attention ----------------------------------------------------------------------------
 * One launch per layer: out[row(b,i), h*D:(h+1)*D] = softmax_j<len_b(scale * q_i . k_j) v_j with
 * q, k, v read from the fused QKV projection qkv [rows, 3*H] (columns Q | K | V, each (head, d),
 * H = heads * D) plus qkv_bias [3*H] (may be NULL); out: [rows, H]; scale > 0 (usually
 * 1 / sqrt(D)). No score buffer.
 * offsets: device int[batch + 1], cumulative lengths (offsets[0] = 0, len_b = offsets[b+1] -
 * offsets[b], see ft4j_lengths_to_offsets). Rows:
 *   padded_seq == 0: packed token stream, row(b, i) = offsets[b] + i, max_seq >= every length;
 *   padded_seq  > 0: padded batch, row(b, i) = b * padded_seq + i, max_seq == padded_seq, and the
 *                    query rows len_b <= i < padded_seq are written as zeros.
 * FP16 runs on tensor cores on sm_80+ for D in {16, 32, 64, 96, 128}; FP32, sm_75 and other D up to
 * 256 use a CUDA-core path. Unsupported combinations return FT4J_ERR_UNSUPPORTED naming what is
 * supported. */
FT4J_API int ft4j_fused_attention(int dtype, void* out, const void* qkv, const void* qkv_bias,
                                  const int* offsets, int batch, int heads, int size_per_head,
                                  int padded_seq, int max_seq, float scale,
                                  struct CUstream_st* stream);

/* Which path ft4j_fused_attention takes on the current device for 16-byte aligned buffers:
 * *path = 0 (unsupported), 1 (tensor cores, mma.sync), 2 (CUDA cores), 3 (tensor cores, warpgroup
 * MMA: sm_90, see ft4j_set_fused_attention_wgmma). */
FT4J_API int ft4j_fused_attention_path(int dtype, int heads, int size_per_head, int* path);

/* The fused attention of the INT8 modes: ft4j_fused_attention's formula and rows with out int8,
 * clamp(rint(o * 127 / out_amax), -127, 127) (padding query rows 0), for the attention-output
 * GEMM. dtype: the encoder's type (FT4J_DTYPE_FP32 or _FP16), that of qkv_bias [3*H] (may be
 * NULL). qkv_dtype:
 *   dtype (mode 1): qkv holds the QKV GEMM's dequantized output; the steps are ignored;
 *   FT4J_DTYPE_INT8 (mode 2): qkv is the int8 QKV GEMM output before the bias, its Q, K and V
 *     parts dequantized with q_step, k_step, v_step (each amax / 127 of its part, > 0).
 * FP16 runs on tensor cores on sm_80+ for D in {16, 32, 64, 96, 128}, the rest on CUDA cores; the
 * arithmetic inside is the FP16/FP32 kernel's. */
FT4J_API int ft4j_fused_attention_int8(int dtype, int qkv_dtype, void* out, const void* qkv,
                                       const void* qkv_bias, const int* offsets, int batch,
                                       int heads, int size_per_head, int padded_seq, int max_seq,
                                       float scale, float q_step, float k_step, float v_step,
                                       float out_amax, struct CUstream_st* stream);

/* Benchmarking knob: the tiling of the fused attentions' tensor-core path for all later launches
 * in this process: warps per block (4, 8, or 0 = automatic: 8 from max_seq 512 on, else 4) and
 * m16 tiles per warp (1, 2, or 0 = automatic: 1; 2 applies to head sizes <= 64 only); a block
 * holds 16 x warps x m_tiles queries. */
FT4J_API int ft4j_set_fused_attention_tiling(int warps, int m_tiles);

/* Benchmarking knob: the warpgroup-MMA (wgmma) path of ft4j_fused_attention for all later launches
 * in this process where it applies (FP16, head size 64 or 128, an sm_90 GPU, a library built with
 * sm_90a): warpgroups per block (1 or 2, i.e. 64 or 128 queries; 0 = automatic, which takes the
 * path unless the environment has FT4J_ATTENTION_WGMMA=0: 1 warpgroup up to 128 queries, else 2;
 * -1 = never) and keys per step (64 or 128; 0 = automatic: 64). Takes precedence over
 * ft4j_set_fused_attention_tiling where it applies. */
FT4J_API int ft4j_set_fused_attention_wgmma(int warpgroups, int keys);

/* Which path ft4j_fused_attention_int8 takes (as ft4j_fused_attention_path). */
FT4J_API int ft4j_fused_attention_int8_path(int dtype, int qkv_dtype, int heads,
                                            int size_per_head, int* path);

/* offsets[0] = 0, offsets[b + 1] = offsets[b] + lengths[b] on the device (lengths, offsets:
 * device int[batch], int[batch + 1], not overlapping). */
FT4J_API int ft4j_lengths_to_offsets(const int* lengths, int batch, int* offsets,
                                     struct CUstream_st* stream);

/* --- padding ------------------------------------------------------------------------------------
 * data: [batch, seq, hidden]; sets data[b, s, :] = 0 for s >= lengths[b] (device int[batch]). */
FT4J_API int ft4j_zero_padded_rows(int dtype, void* data, const int* lengths, int batch, int seq,
                          int hidden, struct CUstream_st* stream);

/* Pooling: out [batch, hidden] FP32 = per sequence of states [batch, seq, hidden] (dtype) row 0
 * (mean == 0, CLS) or the mean of its first lengths[b] rows (mean == 1; lengths device int[batch],
 * clamped to [1, seq]); normalize == 1 divides each vector by its L2 norm (zero stays zero). */
FT4J_API int ft4j_pool_rows(int dtype, float* out, const void* states, const int* lengths, int batch,
                            int seq, int hidden, int mean, int normalize,
                            struct CUstream_st* stream);

/* Padding removal: restore == 0: packed[offsets[b] + s, :] = padded[b, s, :] for s < len_b;
 * restore == 1: padded[b, s, :] = packed[offsets[b] + s, :] for s < len_b and 0 for s >= len_b.
 * padded: [batch, seq, hidden]; packed: [offsets[batch], hidden]; offsets: device int[batch + 1],
 * cumulative lengths (ft4j_lengths_to_offsets), len_b = offsets[b+1] - offsets[b] <= seq.
 * dst and src must not overlap (refused where the host can see it: dst == src, or the packed
 * buffer starting inside the padded one; the packed extent, offsets[batch], is on the device). */
FT4J_API int ft4j_padding_copy(int dtype, void* dst, const void* src, const int* offsets, int batch,
                               int seq, int hidden, int restore, struct CUstream_st* stream);

/* --- conversion ---------------------------------------------------------------------------------
 * dst[i] = (dst_dtype) src[i] for i < count; FP32 -> FP16 rounds to nearest even. Same-type calls
 * copy. dst and src must not overlap. */
FT4J_API int ft4j_convert(int dst_dtype, void* dst, int src_dtype, const void* src, size_t count,
                 struct CUstream_st* stream);

/* --- INT8 quantization, modes 1 and 2 (docs/int8.md) ----------------------------------------------
 * Symmetric int8: q = clamp(rint(v * 127 / amax), -127, 127), dequantization scale amax / 127.
 * Buffers are device memory; `dtype` is that of the FP32/FP16 tensors; int8 buffers hold signed
 * char, scales and smoothing factors float, acc int32. Each quantized output takes inv_smooth
 * (float[cols], v = x * inv_smooth[c], or NULL) and out_scale (float[rows]: per-token
 * quantization, out_scale[r] = row amax / 127, amax 1 for a row of zeros; or NULL: static, amax =
 * static_amax > 0). cols <= 12224.
 *
 * acc_int8 = 1 (mode 2): acc holds the int8 output of an int8-out GEMM instead of int32.
 *
 * qout[r, c] = q(input[r, c]); input: dtype [rows, cols]. deq_out (dtype [rows, cols] or NULL; may
 * alias input): q * step_r / inv_smooth[c], the dequantized qout (mode 2's residual). */
FT4J_API int ft4j_quantize_rows(int dtype, void* qout, void* out_scale, const void* input,
                                const void* inv_smooth, float static_amax, void* deq_out,
                                int rows, int cols, struct CUstream_st* stream);

/* y[r, c] = acc[r, c] * a_r * w_scale[c] + bias[c] with a_r = in_scale[r] (float[rows]) or, when
 * in_scale is NULL, in_static_scale; y = gelu(y) (exact erf GELU) when gelu = 1; out[r, c] = y
 * (dtype, when out is not NULL) and qout[r, c] = q(y) (when qout is not NULL; at least one of
 * them). acc: int32 [rows, cols]; w_scale: float[cols]; bias: dtype[cols] or NULL. */
FT4J_API int ft4j_dequantize_bias_act(int dtype, void* out, void* qout, void* qout_scale,
                                      const void* acc, int acc_int8, const void* in_scale,
                                      float in_static_scale,
                                      const void* w_scale, const void* bias, const void* inv_smooth,
                                      float static_amax, int gelu, int rows, int cols,
                                      struct CUstream_st* stream);

/* x[c] = acc[r, c] * a_r * w_scale[c] + bias[c] + residual[r, c];
 * out[r, c] = (x[c] - mean) / sqrt(var + eps) * gamma[c] + beta[c] (biased variance);
 * qout[r, c] = q(out[r, c]) when qout is not NULL. out may alias residual. out_dequantized = 1
 * (needs qout): out gets the dequantized qout instead (q * step_r / inv_smooth[c]). */
FT4J_API int ft4j_dequantize_bias_residual_layernorm(
    int dtype, void* out, void* qout, void* qout_scale, const void* acc, int acc_int8,
    const void* in_scale, float in_static_scale, const void* w_scale, const void* bias,
    const void* residual, const void* gamma, const void* beta, const void* inv_smooth,
    float static_amax, float eps, int out_dequantized, int rows, int cols,
    struct CUstream_st* stream);

/* --- INT8 GEMM (ft4j's own; docs/int8.md) ---------------------------------------------------------
 * acc[m, n] = sum_k a[m, k] * b[n, k]: a int8 [M, K] row-major, b int8 [N, K] row-major (a PyTorch
 * [out, in] weight), exact int32 accumulation. out [M, N] row-major by out_kind:
 *   0 (INT32): out = acc;
 *   1 (FLOAT): y = acc * a_m * w_scale[n] (+ bias[n]) (gelu(y) when gelu = 1), stored as dtype;
 *   2 (INT8):  y as for FLOAT, stored as clamp(rint(y * inv_n), -127, 127);
 *   3 (INT8_DEQUANTIZED): that int8 value divided by inv_n again, stored as dtype (INT8 mode 2's
 *              Q/K/V: the attention reads the dequantized int8 GEMM output). 
 * a_m = a_scale[m] (float[M]) or a_static when a_scale is NULL; inv_n = out_inv_scale[n]
 * (float[N]) or out_inv_static when NULL. bias: dtype[N] or NULL. dtype: type of FLOAT outputs
 * and of bias. workspace (device, may be NULL) of workspace_bytes: where too few tiles would fill
 * the GPU (small M), K is split across blocks that sum into M * N int32 of it (exact) before the
 * epilogue; without room (or with an INT32 output, summed in place) that needs nothing. The
 * workspace is used in stream order: it may be shared with other work on the same stream.
 * out must not overlap a, b or the workspace. plan_kernel < 0: ft4j chooses the kernel and splits (ft4j_gemm_int8_plan); else a tuned choice,
 * kernel plan_kernel (as ft4j_gemm_int8_plan's codes) with plan_splits K splits, rejected with
 * FT4J_ERR_UNSUPPORTED where it cannot run this launch. */
FT4J_API int ft4j_gemm_int8(int dtype, int out_kind, void* out, const void* a, const void* b,
                            const void* a_scale, float a_static, const void* w_scale,
                            const void* bias, const void* out_inv_scale, float out_inv_static,
                            int gelu, int m, int n, int k, int plan_kernel, int plan_splits,
                            void* workspace, size_t workspace_bytes, struct CUstream_st* stream);

/* How ft4j_gemm_int8 runs an [M, N, K] GEMM with out_kind on the current device for 16-byte
 * aligned operands and workspace_bytes of workspace: *kernel = 0 (simple 64 x 64), 1 (pipelined
 * 128 x 128), 2 (pipelined 64 x 64), 3 (warpgroup/wgmma 128 x 128: sm_90 with a library built for
 * sm_90a; tuned or forced plans only), 4 (the warpgroup kernel with 3 stages and two blocks per
 * SM: the automatic choice on sm_90 where 1 is otherwise, unless FT4J_INT8_WGMMA=0 is set);
 * *splits = the K splits (1: none). */
FT4J_API int ft4j_gemm_int8_plan(int out_kind, int m, int n, int k, size_t workspace_bytes,
                                 int* kernel, int* splits);

#ifdef __cplusplus
}
#endif

#endif /* FT4J_H_ */
