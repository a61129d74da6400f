// INT8 quantization kernels of INT8 modes 1 and 2 (the scheme: docs/int8.md).
//
// Symmetric int8 everywhere:  q = clamp(rint(v * 127 / amax), -127, 127)   (rint = __float2int_rn,
// half to even; -128 is never produced), dequantization scale amax / 127.
//
// Every kernel that quantizes a row takes:
//   inv_smooth [cols] or NULL   v = x * inv_smooth[c] (SmoothQuant: 1 / s_c) before quantizing
//   out_scale  [rows] or NULL   per token: amax = max_c |v[r, c]| of the row, out_scale[r] = amax/127
//                               (a row of zeros gets amax 1); NULL: static, amax = static_amax
//
// quantize_rows:          qout[r, c] = q(input[r, c])
// dequantize_bias_act:    y[r, c] = acc[r, c] * a_r * w_scale[c] + bias[c],  a_r = in_scale[r]
//                         (per token) or in_static_scale; y = gelu(y) when gelu (exact erf GELU);
//                         out[r, c] = y (when out != NULL); qout[r, c] = q(y) (when qout != NULL)
// dequantize_bias_residual_layernorm:
//                         x[c] = acc[r, c] * a_r * w_scale[c] + bias[c] + residual[r, c]
//                         y = (x - mean) / sqrt(var + eps) * gamma + beta  (biased variance)
//                         out[r, c] = y; qout[r, c] = q(y) (when qout != NULL)
// acc is the int32 output of an int8 x int8 GEMM [rows, cols] (row-major, tokens x features), or,
// when acc8 is given instead (INT8 mode 2), its int8 output, read the same way (in scale 1 and
// w_scale = the output's per-column step amax / 127 dequantize it).
// Mode 2's residual is the int8 GEMM input, so a kernel that quantizes a GEMM input can also write
// its dequantized value, q * step_r / inv_smooth[c] (step_r = out_scale[r] or static_amax / 127):
// quantize_rows into deq_out, the layernorm kernel into out (out_dequantized = 1) instead of y.
// One block per row; the row is kept in shared memory as float, so cols <= kMaxQuantizeCols.
// `out` may alias `residual` (the row is read whole before any of it is written).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>
#include <string>

namespace ft4j {

constexpr int kMaxQuantizeCols = 12224;  // the row in 48 KiB of shared memory beside the scratch

template <typename T>
struct QuantizeRowsParams {
  int8_t* qout;             // [rows, cols]
  float* out_scale;         // [rows] or NULL (static)
  const T* input;           // [rows, cols]
  const float* inv_smooth;  // [cols] or NULL
  float static_amax;        // > 0 when out_scale == NULL
  T* deq_out;               // [rows, cols] or NULL: the dequantized qout (may alias input)
  int rows;
  int cols;
};

template <typename T>
struct DequantizeBiasActParams {
  T* out;                   // [rows, cols] or NULL
  int8_t* qout;             // [rows, cols] or NULL
  float* qout_scale;        // [rows] or NULL (static quantization of qout)
  const int32_t* acc;       // [rows, cols], or NULL when acc8 is given
  const int8_t* acc8;       // [rows, cols] or NULL
  const float* in_scale;    // [rows] or NULL (then in_static_scale)
  float in_static_scale;
  const float* w_scale;     // [cols]
  const T* bias;            // [cols] or NULL
  const float* inv_smooth;  // [cols] or NULL
  float static_amax;        // for qout when qout_scale == NULL
  int gelu;                 // 0 or 1
  int rows;
  int cols;
};

template <typename T>
struct DequantizeBiasResidualLayernormParams {
  T* out;                   // [rows, cols]
  int8_t* qout;             // [rows, cols] or NULL
  float* qout_scale;        // [rows] or NULL
  const int32_t* acc;       // [rows, cols], or NULL when acc8 is given
  const int8_t* acc8;       // [rows, cols] or NULL
  const float* in_scale;    // [rows] or NULL (then in_static_scale)
  float in_static_scale;
  const float* w_scale;     // [cols]
  const T* bias;            // [cols] or NULL
  const T* residual;        // [rows, cols]
  const T* gamma;           // [cols]
  const T* beta;            // [cols]
  const float* inv_smooth;  // [cols] or NULL
  float static_amax;
  float eps;
  int out_dequantized;      // 1: out = dequantized qout (needs qout), 0: out = y
  int rows;
  int cols;
};

template <typename T>
std::string check_quantize_rows(const QuantizeRowsParams<T>& p);
template <typename T>
cudaError_t launch_quantize_rows(const QuantizeRowsParams<T>& p, cudaStream_t stream);

template <typename T>
std::string check_dequantize_bias_act(const DequantizeBiasActParams<T>& p);
template <typename T>
cudaError_t launch_dequantize_bias_act(const DequantizeBiasActParams<T>& p, cudaStream_t stream);

template <typename T>
std::string check_dequantize_bias_residual_layernorm(
    const DequantizeBiasResidualLayernormParams<T>& p);
template <typename T>
cudaError_t launch_dequantize_bias_residual_layernorm(
    const DequantizeBiasResidualLayernormParams<T>& p, cudaStream_t stream);

}  // namespace ft4j
