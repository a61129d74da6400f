// add bias + residual + layernorm, one row at a time:
//   x[c]      = input[r, c] + bias[c] + residual[r, c]          (bias may be NULL)
//   mean      = sum_c x[c] / cols
//   var       = sum_c (x[c] - mean)^2 / cols                     (biased, two passes: stable)
//   out[r, c] = (x[c] - mean) / sqrt(var + eps) * gamma[c] + beta[c]
// out, input, residual: [rows, cols] row-major; bias, gamma, beta: [cols]; math in float.
// x is computed shifted by the row's first input and residual, x' = (input - input[r, 0]) +
// (residual - residual[r, 0]) + bias: same deviations from the mean and same variance, but the
// float sums run at the scale of the spread, not of the offset (a row of values near 32 would
// otherwise lose ~1e-6 absolute to rounding, ~5e-7 of relative error after normalization).
// out may alias input or residual: every element is read and written by the same thread, and the
// row is read in full before the first write of it.
// Variants (plan_row_in_registers in common.cuh):
//  - rows that fit in registers (cols <= 16384 with 16-byte vectors, 4096 with scalars): x stays
//    in registers, one lane group (cols <= 1024, 256 scalars) or one block per row; vectors of 16
//    bytes when cols and every pointer allow it, else scalars;
//  - longer rows: one block per row that streams the row from global memory three times.
#include "common.cuh"
#include "layernorm.cuh"

namespace ft4j {
namespace {

template <typename T>
using Params = AddBiasResidualLayernormParams<T>;

// Row in registers: thread `lane` of the row's group holds vectors lane, lane + group, ...
template <typename T, int N, int V>
__global__ void __launch_bounds__(kMaxRowThreads) layernorm_in_registers(Params<T> p, int group) {
  __shared__ float smem[32];
  const int lane = threadIdx.x % group;
  const int rows_per_block = blockDim.x / group;
  const int vecs = p.cols / N;
  const float inv_cols = 1.f / p.cols;
  // the loop bound is uniform over the block: every thread reaches the reductions' barriers
  for (int64_t first = int64_t(blockIdx.x) * rows_per_block; first < p.rows;
       first += int64_t(gridDim.x) * rows_per_block) {
    const int64_t r = first + threadIdx.x / group;
    const bool active = r < p.rows;
    const size_t offset = active ? size_t(r) * p.cols : 0;
    const float input0 = to_float(p.input[offset]);
    const float residual0 = to_float(p.residual[offset]);
    float x[V][N];  // the thread's part of the row, x'
    float sum = 0.f;
#pragma unroll
    for (int v = 0; v < V; ++v) {
      const int c = (v * group + lane) * N;
      if (active && c < p.cols) {
        float res[N], b[N] = {};
        load<T, N>(p.input + offset + c, x[v]);
        load<T, N>(p.residual + offset + c, res);
        if (p.bias != nullptr) load<T, N>(p.bias + c, b);
#pragma unroll
        for (int i = 0; i < N; ++i) {
          x[v][i] = (x[v][i] - input0) + (res[i] - residual0) + b[i];
          sum += x[v][i];
        }
      }
    }
    const float mean = group_sum(sum, group, smem) * inv_cols;
    float squares = 0.f;
#pragma unroll
    for (int v = 0; v < V; ++v) {
      if (active && (v * group + lane) < vecs) {
#pragma unroll
        for (int i = 0; i < N; ++i) {
          x[v][i] -= mean;
          squares += x[v][i] * x[v][i];
        }
      }
    }
    const float rstd = rsqrtf(group_sum(squares, group, smem) * inv_cols + p.eps);
#pragma unroll
    for (int v = 0; v < V; ++v) {
      const int c = (v * group + lane) * N;
      if (active && c < p.cols) {
        float g[N], b[N];
        load<T, N>(p.gamma + c, g);
        load<T, N>(p.beta + c, b);
#pragma unroll
        for (int i = 0; i < N; ++i) x[v][i] = x[v][i] * rstd * g[i] + b[i];
        store<T, N>(p.out + offset + c, x[v]);
      }
    }
  }
}

// Rows too long for registers: one block per row, x recomputed from global memory in each pass.
template <typename T, int N>
__global__ void __launch_bounds__(kMaxRowThreads) layernorm_streaming(Params<T> p) {
  __shared__ float smem[32];
  const float inv_cols = 1.f / p.cols;
  const int step = blockDim.x * N;
  for (int64_t r = blockIdx.x; r < p.rows; r += gridDim.x) {
    const size_t offset = size_t(r) * p.cols;
    const float input0 = to_float(p.input[offset]);
    const float residual0 = to_float(p.residual[offset]);
    auto load_x = [&](int64_t c, float* x) {  // x' at [c, c + N)
      float res[N], b[N] = {};
      load<T, N>(p.input + offset + c, x);
      load<T, N>(p.residual + offset + c, res);
      if (p.bias != nullptr) load<T, N>(p.bias + c, b);
#pragma unroll
      for (int i = 0; i < N; ++i) x[i] = (x[i] - input0) + (res[i] - residual0) + b[i];
    };
    float x[N];
    float sum = 0.f;
    for (int64_t c = threadIdx.x * N; c < p.cols; c += step) {
      load_x(c, x);
#pragma unroll
      for (int i = 0; i < N; ++i) sum += x[i];
    }
    const float mean = block_sum(sum, smem) * inv_cols;
    float squares = 0.f;
    for (int64_t c = threadIdx.x * N; c < p.cols; c += step) {
      load_x(c, x);
#pragma unroll
      for (int i = 0; i < N; ++i) squares += (x[i] - mean) * (x[i] - mean);
    }
    // the barriers in block_sum also order every read of the row before the first write
    const float rstd = rsqrtf(block_sum(squares, smem) * inv_cols + p.eps);
    for (int64_t c = threadIdx.x * N; c < p.cols; c += step) {
      float g[N], b[N];
      load_x(c, x);
      load<T, N>(p.gamma + c, g);
      load<T, N>(p.beta + c, b);
#pragma unroll
      for (int i = 0; i < N; ++i) x[i] = (x[i] - mean) * rstd * g[i] + b[i];
      store<T, N>(p.out + offset + c, x);
    }
  }
}

}  // namespace

// Every shape is supported (rows too long for registers are streamed).
template <typename T>
std::string check_add_bias_residual_layernorm(const Params<T>&) {
  return "";
}

template <typename T>
cudaError_t launch_add_bias_residual_layernorm(const Params<T>& p, cudaStream_t stream) {
  constexpr int kVec = 16 / sizeof(T);
  // only the full width and scalars are instantiated: the other widths would add little
  const int vec =
      vector_width<T>(p.cols, {p.out, p.input, p.bias, p.residual, p.gamma, p.beta}) == kVec ? kVec
                                                                                             : 1;
  const RowPlan plan = plan_row_in_registers(p.cols, vec);
  auto launch = [&](auto n) {
    constexpr int N = decltype(n)::value;
    if (!plan.in_registers) {
      layernorm_streaming<T, N><<<row_blocks(p.rows, 1), kMaxRowThreads, 0, stream>>>(p);
      return;
    }
    const unsigned blocks = row_blocks(p.rows, plan.block / plan.group);
    with_pow2<max_vectors_per_thread(N)>(plan.per_thread, [&](auto v) {
      layernorm_in_registers<T, N, decltype(v)::value>
          <<<blocks, plan.block, 0, stream>>>(p, plan.group);
    });
  };
  if (vec == kVec) {
    launch(std::integral_constant<int, kVec>{});
  } else {
    launch(std::integral_constant<int, 1>{});
  }
  return cudaGetLastError();
}

template std::string check_add_bias_residual_layernorm(const Params<float>&);
template std::string check_add_bias_residual_layernorm(const Params<__half>&);
template cudaError_t launch_add_bias_residual_layernorm(const Params<float>&, cudaStream_t);
template cudaError_t launch_add_bias_residual_layernorm(const Params<__half>&, cudaStream_t);

}  // namespace ft4j
