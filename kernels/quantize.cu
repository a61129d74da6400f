// INT8 quantization kernels (formulas and layouts: quantize.cuh). One block per row with a
// grid-stride loop over rows; the row lives in shared memory as float (cols <= kMaxQuantizeCols),
// each thread handles columns threadIdx.x + k * blockDim.x. Scalar accesses: these kernels are
// bandwidth-light next to the GEMMs around them; widen them when a profile says so.
#include <cuda_fp16.h>

#include "common.cuh"
#include "quantize.cuh"

namespace ft4j {
namespace {


// Quantizes the cached row v[0, cols) (already multiplied by inv_smooth) into qout_row: per token
// when out_scale != NULL (writes out_scale[r]), else with static_amax. With deq_row, also writes
// q * step / inv_smooth[c] there (step = amax / 127, as stored in out_scale). Ends synchronised.
template <typename T>
__device__ void quantize_cached_row(const float* v, int cols, int8_t* qout_row, float* out_scale,
                                    int64_t r, float static_amax, float* scratch, T* deq_row,
                                    const float* inv_smooth) {
  float amax = static_amax;
  if (out_scale != nullptr) {
    float m = 0.f;
    for (int c = threadIdx.x; c < cols; c += blockDim.x) m = fmaxf(m, fabsf(v[c]));
    amax = block_max(m, scratch);
    if (!(amax > 0.f)) amax = 1.f;  // a row of zeros
    if (threadIdx.x == 0) out_scale[r] = amax / 127.f;
  }
  const float inv_step = 127.f / amax;
  const float step = amax / 127.f;
  for (int c = threadIdx.x; c < cols; c += blockDim.x) {
    const int8_t q = quantize_int8(v[c], inv_step);
    qout_row[c] = q;
    if (deq_row != nullptr) {
      float d = static_cast<float>(q) * step;
      if (inv_smooth != nullptr) d /= inv_smooth[c];
      deq_row[c] = from_float<T>(d);
    }
  }
  __syncthreads();
}

// acc[c] of a row as float: the int32 or (mode 2) int8 GEMM output.
__device__ __forceinline__ float acc_value(const int32_t* acc, const int8_t* acc8, int64_t i) {
  return acc8 != nullptr ? static_cast<float>(acc8[i]) : static_cast<float>(acc[i]);
}

template <typename T>
__global__ void quantize_rows_kernel(QuantizeRowsParams<T> p) {
  extern __shared__ float row[];
  __shared__ float scratch[33];
  for (int64_t r = blockIdx.x; r < p.rows; r += gridDim.x) {
    const T* in = p.input + r * p.cols;
    for (int c = threadIdx.x; c < p.cols; c += blockDim.x) {
      float v = to_float(in[c]);
      if (p.inv_smooth != nullptr) v *= p.inv_smooth[c];
      row[c] = v;
    }
    __syncthreads();  // the whole row is read before deq_out (which may alias input) is written
    quantize_cached_row(row, p.cols, p.qout + r * p.cols, p.out_scale, r, p.static_amax, scratch,
                        p.deq_out != nullptr ? p.deq_out + r * p.cols : static_cast<T*>(nullptr),
                        p.inv_smooth);
  }
}

template <typename T>
__global__ void dequantize_bias_act_kernel(DequantizeBiasActParams<T> p) {
  extern __shared__ float row[];
  __shared__ float scratch[33];
  for (int64_t r = blockIdx.x; r < p.rows; r += gridDim.x) {
    const int64_t at = r * p.cols;
    const float a = p.in_scale != nullptr ? p.in_scale[r] : p.in_static_scale;
    for (int c = threadIdx.x; c < p.cols; c += blockDim.x) {
      float y = acc_value(p.acc, p.acc8, at + c) * a * p.w_scale[c];
      if (p.bias != nullptr) y += to_float(p.bias[c]);
      if (p.gelu) y = gelu_erf(y);
      if (p.out != nullptr) p.out[r * p.cols + c] = from_float<T>(y);
      row[c] = p.inv_smooth != nullptr ? y * p.inv_smooth[c] : y;
    }
    __syncthreads();
    if (p.qout != nullptr) {
      quantize_cached_row(row, p.cols, p.qout + r * p.cols, p.qout_scale, r, p.static_amax,
                          scratch, static_cast<T*>(nullptr), nullptr);
    }
  }
}

template <typename T>
__global__ void dequantize_bias_residual_layernorm_kernel(
    DequantizeBiasResidualLayernormParams<T> p) {
  extern __shared__ float row[];
  __shared__ float scratch[33];
  const float inv_cols = 1.f / static_cast<float>(p.cols);
  for (int64_t r = blockIdx.x; r < p.rows; r += gridDim.x) {
    const int64_t at = r * p.cols;
    const T* res = p.residual + at;
    const float a = p.in_scale != nullptr ? p.in_scale[r] : p.in_static_scale;
    float sum = 0.f;
    for (int c = threadIdx.x; c < p.cols; c += blockDim.x) {
      float x = acc_value(p.acc, p.acc8, at + c) * a * p.w_scale[c] + to_float(res[c]);
      if (p.bias != nullptr) x += to_float(p.bias[c]);
      row[c] = x;
      sum += x;
    }
    const float mean = block_sum(sum, scratch) * inv_cols;  // synchronises: row complete
    float sq = 0.f;
    for (int c = threadIdx.x; c < p.cols; c += blockDim.x) {
      const float d = row[c] - mean;
      sq += d * d;
    }
    const float rstd = rsqrtf(block_sum(sq, scratch) * inv_cols + p.eps);
    T* out = p.out + r * p.cols;  // may alias residual: every read of the row is done
    for (int c = threadIdx.x; c < p.cols; c += blockDim.x) {
      const float y = (row[c] - mean) * rstd * to_float(p.gamma[c]) + to_float(p.beta[c]);
      if (!p.out_dequantized) out[c] = from_float<T>(y);
      row[c] = p.inv_smooth != nullptr ? y * p.inv_smooth[c] : y;
    }
    __syncthreads();
    if (p.qout != nullptr) {
      quantize_cached_row(row, p.cols, p.qout + r * p.cols, p.qout_scale, r, p.static_amax,
                          scratch, p.out_dequantized ? out : static_cast<T*>(nullptr),
                          p.inv_smooth);
    }
  }
}

int threads_for(int cols) { return row_block_threads(cols, 4, 1024); }

std::string check_acc(const int32_t* acc, const int8_t* acc8) {
  if ((acc == nullptr) == (acc8 == nullptr)) return "exactly one of acc (int32) and acc8 (int8) is needed";
  return "";
}

std::string check_common(int rows, int cols, bool per_token, float static_amax, bool quantizes) {
  if (rows < 1 || cols < 1) return "rows and cols must be >= 1";
  if (cols > kMaxQuantizeCols) {
    return "cols = " + std::to_string(cols) + " exceeds the " + std::to_string(kMaxQuantizeCols) +
           " columns a row-cached quantization kernel supports";
  }
  if (quantizes && !per_token && !(static_amax > 0.f && static_amax < INFINITY)) {
    return "static_amax = " + std::to_string(static_amax) + " must be > 0 and finite";
  }
  return "";
}

}  // namespace

template <typename T>
std::string check_quantize_rows(const QuantizeRowsParams<T>& p) {
  return check_common(p.rows, p.cols, p.out_scale != nullptr, p.static_amax, true);
}

template <typename T>
cudaError_t launch_quantize_rows(const QuantizeRowsParams<T>& p, cudaStream_t stream) {
  const size_t shared = sizeof(float) * static_cast<size_t>(p.cols);
  quantize_rows_kernel<T><<<row_blocks(p.rows), threads_for(p.cols), shared, stream>>>(p);
  return cudaGetLastError();
}

template <typename T>
std::string check_dequantize_bias_act(const DequantizeBiasActParams<T>& p) {
  if (p.out == nullptr && p.qout == nullptr) return "neither out nor qout is given";
  const std::string acc = check_acc(p.acc, p.acc8);
  if (!acc.empty()) return acc;
  if (p.in_scale == nullptr && !(p.in_static_scale > 0.f && p.in_static_scale < INFINITY)) {
    return "in_static_scale must be > 0 and finite when in_scale is NULL";
  }
  return check_common(p.rows, p.cols, p.qout_scale != nullptr, p.static_amax, p.qout != nullptr);
}

template <typename T>
cudaError_t launch_dequantize_bias_act(const DequantizeBiasActParams<T>& p, cudaStream_t stream) {
  const size_t shared = sizeof(float) * static_cast<size_t>(p.cols);
  dequantize_bias_act_kernel<T><<<row_blocks(p.rows), threads_for(p.cols), shared, stream>>>(p);
  return cudaGetLastError();
}

template <typename T>
std::string check_dequantize_bias_residual_layernorm(
    const DequantizeBiasResidualLayernormParams<T>& p) {
  const std::string acc = check_acc(p.acc, p.acc8);
  if (!acc.empty()) return acc;
  if (p.out_dequantized && p.qout == nullptr) return "out_dequantized needs qout";
  if (p.in_scale == nullptr && !(p.in_static_scale > 0.f && p.in_static_scale < INFINITY)) {
    return "in_static_scale must be > 0 and finite when in_scale is NULL";
  }
  return check_common(p.rows, p.cols, p.qout_scale != nullptr, p.static_amax, p.qout != nullptr);
}

template <typename T>
cudaError_t launch_dequantize_bias_residual_layernorm(
    const DequantizeBiasResidualLayernormParams<T>& p, cudaStream_t stream) {
  const size_t shared = sizeof(float) * static_cast<size_t>(p.cols);
  dequantize_bias_residual_layernorm_kernel<T>
      <<<row_blocks(p.rows), threads_for(p.cols), shared, stream>>>(p);
  return cudaGetLastError();
}

template std::string check_quantize_rows<float>(const QuantizeRowsParams<float>&);
template std::string check_quantize_rows<__half>(const QuantizeRowsParams<__half>&);
template cudaError_t launch_quantize_rows<float>(const QuantizeRowsParams<float>&, cudaStream_t);
template cudaError_t launch_quantize_rows<__half>(const QuantizeRowsParams<__half>&, cudaStream_t);
template std::string check_dequantize_bias_act<float>(const DequantizeBiasActParams<float>&);
template std::string check_dequantize_bias_act<__half>(const DequantizeBiasActParams<__half>&);
template cudaError_t launch_dequantize_bias_act<float>(const DequantizeBiasActParams<float>&,
                                                       cudaStream_t);
template cudaError_t launch_dequantize_bias_act<__half>(const DequantizeBiasActParams<__half>&,
                                                        cudaStream_t);
template std::string check_dequantize_bias_residual_layernorm<float>(
    const DequantizeBiasResidualLayernormParams<float>&);
template std::string check_dequantize_bias_residual_layernorm<__half>(
    const DequantizeBiasResidualLayernormParams<__half>&);
template cudaError_t launch_dequantize_bias_residual_layernorm<float>(
    const DequantizeBiasResidualLayernormParams<float>&, cudaStream_t);
template cudaError_t launch_dequantize_bias_residual_layernorm<__half>(
    const DequantizeBiasResidualLayernormParams<__half>&, cudaStream_t);

}  // namespace ft4j
