// add_bias_residual_layernorm (see layernorm.cuh). One block per row (grid-stride over rows).
// The row's x = input + bias + residual is kept in shared memory as float when it fits (cols <=
// 12224), otherwise recomputed from global memory for each pass. Each thread reads and writes only
// its own columns, so aliasing out with input/residual is safe once the statistics are reduced.
#include <cuda_fp16.h>

#include "common.cuh"
#include "layernorm.cuh"

namespace ft4j {
namespace {

template <typename T, int N, bool kCached>
__global__ void add_bias_residual_layernorm_kernel(AddBiasResidualLayernormParams<T> p) {
  using P = Pack<T, N>;
  extern __shared__ float cache[];  // cols floats when kCached
  __shared__ float scratch[33];
  const int packs = p.cols / N;
  const float inv_cols = 1.f / static_cast<float>(p.cols);
  const P* bias = reinterpret_cast<const P*>(p.bias);
  const P* gamma = reinterpret_cast<const P*>(p.gamma);
  const P* beta = reinterpret_cast<const P*>(p.beta);

  for (int64_t r = blockIdx.x; r < p.rows; r += gridDim.x) {
    const P* in = reinterpret_cast<const P*>(p.input + r * p.cols);
    const P* res = reinterpret_cast<const P*>(p.residual + r * p.cols);
    P* out = reinterpret_cast<P*>(p.out + r * p.cols);

    // x for pack c, into v[].
    auto load_x = [&](int c, float (&v)[N]) {
      const P a = in[c];
      const P b = res[c];
      P z;
      if (bias != nullptr) z = bias[c];
#pragma unroll
      for (int i = 0; i < N; ++i) {
        v[i] = to_float(a.v[i]) + to_float(b.v[i]) + (bias != nullptr ? to_float(z.v[i]) : 0.f);
      }
    };

    float sum = 0.f;
    for (int c = threadIdx.x; c < packs; c += blockDim.x) {
      float v[N];
      load_x(c, v);
#pragma unroll
      for (int i = 0; i < N; ++i) {
        sum += v[i];
        if (kCached) cache[c * N + i] = v[i];
      }
    }
    const float mean = block_sum(sum, scratch) * inv_cols;

    float sq = 0.f;
    for (int c = threadIdx.x; c < packs; c += blockDim.x) {
      float v[N];
      if (kCached) {
#pragma unroll
        for (int i = 0; i < N; ++i) v[i] = cache[c * N + i];
      } else {
        load_x(c, v);
      }
#pragma unroll
      for (int i = 0; i < N; ++i) {
        const float d = v[i] - mean;
        sq += d * d;
      }
    }
    const float rstd = rsqrtf(block_sum(sq, scratch) * inv_cols + p.eps);

    for (int c = threadIdx.x; c < packs; c += blockDim.x) {
      float v[N];
      if (kCached) {
#pragma unroll
        for (int i = 0; i < N; ++i) v[i] = cache[c * N + i];
      } else {
        load_x(c, v);
      }
      const P g = gamma[c];
      const P b = beta[c];
      P o;
#pragma unroll
      for (int i = 0; i < N; ++i) {
        o.v[i] = from_float<T>((v[i] - mean) * rstd * to_float(g.v[i]) + to_float(b.v[i]));
      }
      out[c] = o;
    }
  }
}

template <typename T, int N>
cudaError_t launch(const AddBiasResidualLayernormParams<T>& p, cudaStream_t stream) {
  const int threads = row_block_threads(p.cols / N, 2, 512);
  const size_t shared = sizeof(float) * static_cast<size_t>(p.cols);
  if (shared <= kRowSharedBytes) {
    add_bias_residual_layernorm_kernel<T, N, true><<<row_blocks(p.rows), threads, shared, stream>>>(p);
  } else {
    add_bias_residual_layernorm_kernel<T, N, false><<<row_blocks(p.rows), threads, 0, stream>>>(p);
  }
  return cudaGetLastError();
}

}  // namespace

template <typename T>
std::string check_add_bias_residual_layernorm(const AddBiasResidualLayernormParams<T>& p) {
  if (p.rows < 1 || p.cols < 1) return "rows and cols must be >= 1";
  return "";
}

template <typename T>
cudaError_t launch_add_bias_residual_layernorm(const AddBiasResidualLayernormParams<T>& p,
                                               cudaStream_t stream) {
  constexpr int kWide = 16 / sizeof(T);
  const bool wide = p.cols % kWide == 0 && aligned_to(p.out, 16) && aligned_to(p.input, 16) &&
                    aligned_to(p.residual, 16) && aligned_to(p.gamma, 16) &&
                    aligned_to(p.beta, 16) && aligned_to(p.bias, 16);  // NULL is aligned
  return wide ? launch<T, kWide>(p, stream) : launch<T, 1>(p, stream);
}

template std::string check_add_bias_residual_layernorm<float>(
    const AddBiasResidualLayernormParams<float>&);
template std::string check_add_bias_residual_layernorm<__half>(
    const AddBiasResidualLayernormParams<__half>&);
template cudaError_t launch_add_bias_residual_layernorm<float>(
    const AddBiasResidualLayernormParams<float>&, cudaStream_t);
template cudaError_t launch_add_bias_residual_layernorm<__half>(
    const AddBiasResidualLayernormParams<__half>&, cudaStream_t);

}  // namespace ft4j
