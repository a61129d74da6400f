// INT8 quantization kernels (formulas and layouts: quantize.cuh). One block per row with a
// grid-stride loop over rows; the row lives in shared memory as float (cols <= kMaxQuantizeCols).
// Columns go in packs of N: N = 8 when cols % 8 == 0 and every pointer is 16-byte aligned (one
// 16-byte access per pack for halves, two for floats and int32, one 8-byte access for int8), else
// N = 1. A thread owns the packs threadIdx.x + k * blockDim.x of every pass over its row, and keeps
// element i of pack c at row[i * packs + c] (consecutive threads, consecutive banks), so only the
// block reductions exchange data between threads.
#include <cuda_fp16.h>

#include "common.cuh"
#include "quantize.cuh"

namespace ft4j {
namespace {

constexpr int kWidePack = 8;

template <int B>
struct RawOf;
template <>
struct RawOf<16> {
  using type = uint4;
};
template <>
struct RawOf<8> {
  using type = uint2;
};
template <>
struct RawOf<4> {
  using type = unsigned;
};
template <>
struct RawOf<2> {
  using type = unsigned short;
};
template <>
struct RawOf<1> {
  using type = unsigned char;
};

// N consecutive elements of X moved in accesses of min(16, N * sizeof(X)) bytes; the pointer must
// be aligned to that size (launch_width checks it).
template <typename X, int N>
struct Elems {
  static constexpr int kBytes = N * static_cast<int>(sizeof(X));
  static constexpr int kChunk = kBytes < 16 ? kBytes : 16;
  using Raw = typename RawOf<kChunk>::type;
  alignas(kChunk) X v[N];

  __device__ __forceinline__ void load(const X* p) {
    const Raw* s = reinterpret_cast<const Raw*>(p);
    Raw* d = reinterpret_cast<Raw*>(v);
#pragma unroll
    for (int i = 0; i < kBytes / kChunk; ++i) d[i] = s[i];
  }
  __device__ __forceinline__ void store(X* p) const {
    const Raw* s = reinterpret_cast<const Raw*>(v);
    Raw* d = reinterpret_cast<Raw*>(p);
#pragma unroll
    for (int i = 0; i < kBytes / kChunk; ++i) d[i] = s[i];
  }
};

// Any element as float: the storage types through to_float, the GEMM outputs exactly (int8) or
// rounded to nearest (int32 beyond 2^24).
template <typename X>
__device__ __forceinline__ float as_float(X v) {
  return to_float(v);
}
__device__ __forceinline__ float as_float(int32_t v) { return static_cast<float>(v); }
__device__ __forceinline__ float as_float(int8_t v) { return static_cast<float>(v); }

// Pack c of `base` (elements [c * N, c * N + N)) as floats.
template <int N, typename X>
__device__ __forceinline__ void load_floats(const X* base, int c, float (&out)[N]) {
  Elems<X, N> e;
  e.load(base + static_cast<int64_t>(c) * N);
#pragma unroll
  for (int i = 0; i < N; ++i) out[i] = as_float(e.v[i]);
}

// Pack c of the int32 or (mode 2) int8 GEMM output row as floats.
template <int N>
__device__ __forceinline__ void load_acc(const int32_t* acc, const int8_t* acc8, int c,
                                         float (&out)[N]) {
  if (acc8 != nullptr) {
    load_floats<N>(acc8, c, out);
  } else {
    load_floats<N>(acc, c, out);
  }
}

// v[i] += pack c of `base` (a bias), when base is given.
template <int N, typename X>
__device__ __forceinline__ void add_pack(float (&v)[N], const X* base, int c) {
  if (base == nullptr) return;
  float b[N];
  load_floats<N>(base, c, b);
#pragma unroll
  for (int i = 0; i < N; ++i) v[i] += b[i];
}

// v[i] *= pack c of `base` (inverse smoothing factors), when base is given.
template <int N>
__device__ __forceinline__ void scale_pack(float (&v)[N], const float* base, int c) {
  if (base == nullptr) return;
  float f[N];
  load_floats<N>(base, c, f);
#pragma unroll
  for (int i = 0; i < N; ++i) v[i] *= f[i];
}

template <int N, typename T>
__device__ __forceinline__ void store_floats(T* base, int c, const float (&v)[N]) {
  Elems<T, N> e;
#pragma unroll
  for (int i = 0; i < N; ++i) e.v[i] = from_float<T>(v[i]);
  e.store(base + static_cast<int64_t>(c) * N);
}

// Quantizes the cached row (packs of N at row[i * packs + c], already multiplied by inv_smooth)
// into qout_row: per token when out_scale != NULL (writes out_scale[r]), else with static_amax.
// With deq_row, also writes q * step / inv_smooth[c] there (step = amax / 127, as stored in
// out_scale). Ends synchronised.
template <typename T, int N>
__device__ void quantize_cached_row(const float* row, int packs, int8_t* qout_row,
                                    float* out_scale, int64_t r, float static_amax,
                                    float* scratch, T* deq_row, const float* inv_smooth) {
  float amax = static_amax;
  if (out_scale != nullptr) {
    float m = 0.f;
    for (int c = threadIdx.x; c < packs; c += blockDim.x) {
#pragma unroll
      for (int i = 0; i < N; ++i) m = fmaxf(m, fabsf(row[i * packs + c]));
    }
    amax = block_max(m, scratch);
    if (!(amax > 0.f)) amax = 1.f;  // a row of zeros
    if (threadIdx.x == 0) out_scale[r] = amax / 127.f;
  }
  const float inv_step = 127.f / amax;
  const float step = amax / 127.f;
  for (int c = threadIdx.x; c < packs; c += blockDim.x) {
    Elems<int8_t, N> q;
#pragma unroll
    for (int i = 0; i < N; ++i) q.v[i] = quantize_int8(row[i * packs + c], inv_step);
    q.store(qout_row + static_cast<int64_t>(c) * N);
    if (deq_row != nullptr) {
      float d[N];
      float s[N];
      if (inv_smooth != nullptr) load_floats<N>(inv_smooth, c, s);
#pragma unroll
      for (int i = 0; i < N; ++i) {
        d[i] = static_cast<float>(q.v[i]) * step;
        if (inv_smooth != nullptr) d[i] /= s[i];
      }
      store_floats<N>(deq_row, c, d);
    }
  }
  __syncthreads();
}

template <typename T, int N>
__global__ void quantize_rows_kernel(QuantizeRowsParams<T> p) {
  extern __shared__ float row[];
  __shared__ float scratch[33];
  const int packs = p.cols / N;
  for (int64_t r = blockIdx.x; r < p.rows; r += gridDim.x) {
    const T* in = p.input + r * p.cols;
    for (int c = threadIdx.x; c < packs; c += blockDim.x) {
      float v[N];
      load_floats<N>(in, c, v);
      scale_pack(v, p.inv_smooth, c);
#pragma unroll
      for (int i = 0; i < N; ++i) row[i * packs + c] = v[i];
    }
    __syncthreads();  // the whole row is read before deq_out (which may alias input) is written
    quantize_cached_row<T, N>(row, packs, p.qout + r * p.cols, p.out_scale, r, p.static_amax,
                              scratch,
                              p.deq_out != nullptr ? p.deq_out + r * p.cols : static_cast<T*>(nullptr),
                              p.inv_smooth);
  }
}

template <typename T, int N>
__global__ void dequantize_bias_act_kernel(DequantizeBiasActParams<T> p) {
  extern __shared__ float row[];
  __shared__ float scratch[33];
  const int packs = p.cols / N;
  for (int64_t r = blockIdx.x; r < p.rows; r += gridDim.x) {
    const int64_t at = r * p.cols;
    const int32_t* acc = p.acc != nullptr ? p.acc + at : nullptr;
    const int8_t* acc8 = p.acc8 != nullptr ? p.acc8 + at : nullptr;
    const float a = p.in_scale != nullptr ? p.in_scale[r] : p.in_static_scale;
    for (int c = threadIdx.x; c < packs; c += blockDim.x) {
      float y[N];
      float w[N];
      load_acc<N>(acc, acc8, c, y);
      load_floats<N>(p.w_scale, c, w);
#pragma unroll
      for (int i = 0; i < N; ++i) y[i] = y[i] * a * w[i];
      add_pack(y, p.bias, c);
      if (p.gelu) {
#pragma unroll
        for (int i = 0; i < N; ++i) y[i] = gelu_erf(y[i]);
      }
      if (p.out != nullptr) store_floats<N>(p.out + at, c, y);
      scale_pack(y, p.inv_smooth, c);
#pragma unroll
      for (int i = 0; i < N; ++i) row[i * packs + c] = y[i];
    }
    __syncthreads();
    if (p.qout != nullptr) {
      quantize_cached_row<T, N>(row, packs, p.qout + at, p.qout_scale, r, p.static_amax, scratch,
                                static_cast<T*>(nullptr), nullptr);
    }
  }
}

template <typename T, int N>
__global__ void dequantize_bias_residual_layernorm_kernel(
    DequantizeBiasResidualLayernormParams<T> p) {
  extern __shared__ float row[];
  __shared__ float scratch[33];
  const int packs = p.cols / N;
  const float inv_cols = 1.f / static_cast<float>(p.cols);
  for (int64_t r = blockIdx.x; r < p.rows; r += gridDim.x) {
    const int64_t at = r * p.cols;
    const int32_t* acc = p.acc != nullptr ? p.acc + at : nullptr;
    const int8_t* acc8 = p.acc8 != nullptr ? p.acc8 + at : nullptr;
    const float a = p.in_scale != nullptr ? p.in_scale[r] : p.in_static_scale;
    float sum = 0.f;
    for (int c = threadIdx.x; c < packs; c += blockDim.x) {
      float x[N];
      float w[N];
      float res[N];
      load_acc<N>(acc, acc8, c, x);
      load_floats<N>(p.w_scale, c, w);
      load_floats<N>(p.residual + at, c, res);
#pragma unroll
      for (int i = 0; i < N; ++i) x[i] = x[i] * a * w[i] + res[i];
      add_pack(x, p.bias, c);
#pragma unroll
      for (int i = 0; i < N; ++i) {
        row[i * packs + c] = x[i];
        sum += x[i];
      }
    }
    const float mean = block_sum(sum, scratch) * inv_cols;  // synchronises: row complete
    float sq = 0.f;
    for (int c = threadIdx.x; c < packs; c += blockDim.x) {
#pragma unroll
      for (int i = 0; i < N; ++i) {
        const float d = row[i * packs + c] - mean;
        sq += d * d;
      }
    }
    const float rstd = rsqrtf(block_sum(sq, scratch) * inv_cols + p.eps);
    T* out = p.out + at;  // may alias residual: every read of the row is done
    for (int c = threadIdx.x; c < packs; c += blockDim.x) {
      float g[N];
      float b[N];
      float y[N];
      load_floats<N>(p.gamma, c, g);
      load_floats<N>(p.beta, c, b);
#pragma unroll
      for (int i = 0; i < N; ++i) y[i] = (row[i * packs + c] - mean) * rstd * g[i] + b[i];
      if (!p.out_dequantized) store_floats<N>(out, c, y);
      scale_pack(y, p.inv_smooth, c);
#pragma unroll
      for (int i = 0; i < N; ++i) row[i * packs + c] = y[i];
    }
    __syncthreads();
    if (p.qout != nullptr) {
      quantize_cached_row<T, N>(row, packs, p.qout + at, p.qout_scale, r, p.static_amax, scratch,
                                p.out_dequantized ? out : static_cast<T*>(nullptr), p.inv_smooth);
    }
  }
}

// Threads per row block for packs of n: scalar (n = 1) four columns per thread, packed one pack
// per thread (hidden 768: 96 threads; 3072: 384), at most 1024.
int threads_for(int cols, int n) {
  return n == 1 ? row_block_threads(cols, 4, 1024) : row_block_threads(cols / n, 1, 1024);
}

// Whether pointer p (NULL counts as aligned) allows 16-byte pack accesses.
bool wide_ok(const void* p) { return aligned_to(p, 16); }

template <typename T>
int launch_width(const QuantizeRowsParams<T>& p) {
  return p.cols % kWidePack == 0 && wide_ok(p.qout) && wide_ok(p.input) && wide_ok(p.inv_smooth) &&
                 wide_ok(p.deq_out)
             ? kWidePack
             : 1;
}

template <typename T>
int launch_width(const DequantizeBiasActParams<T>& p) {
  return p.cols % kWidePack == 0 && wide_ok(p.out) && wide_ok(p.qout) && wide_ok(p.acc) &&
                 wide_ok(p.acc8) && wide_ok(p.w_scale) && wide_ok(p.bias) && wide_ok(p.inv_smooth)
             ? kWidePack
             : 1;
}

template <typename T>
int launch_width(const DequantizeBiasResidualLayernormParams<T>& p) {
  return p.cols % kWidePack == 0 && wide_ok(p.out) && wide_ok(p.qout) && wide_ok(p.acc) &&
                 wide_ok(p.acc8) && wide_ok(p.w_scale) && wide_ok(p.bias) &&
                 wide_ok(p.residual) && wide_ok(p.gamma) && wide_ok(p.beta) &&
                 wide_ok(p.inv_smooth)
             ? kWidePack
             : 1;
}

// Launches kernel<T, 8> or kernel<T, 1> over one block per row with the row cached in shared
// memory.
template <typename P, typename K8, typename K1>
cudaError_t launch_rows(const P& p, K8 wide, K1 narrow, cudaStream_t stream) {
  const size_t shared = sizeof(float) * static_cast<size_t>(p.cols);
  const int n = launch_width(p);
  if (n == kWidePack) {
    wide<<<row_blocks(p.rows), threads_for(p.cols, n), shared, stream>>>(p);
  } else {
    narrow<<<row_blocks(p.rows), threads_for(p.cols, n), shared, stream>>>(p);
  }
  return cudaGetLastError();
}

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
  return launch_rows(p, quantize_rows_kernel<T, kWidePack>, quantize_rows_kernel<T, 1>, stream);
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
  return launch_rows(p, dequantize_bias_act_kernel<T, kWidePack>, dequantize_bias_act_kernel<T, 1>,
                     stream);
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
  return launch_rows(p, dequantize_bias_residual_layernorm_kernel<T, kWidePack>,
                     dequantize_bias_residual_layernorm_kernel<T, 1>, stream);
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
