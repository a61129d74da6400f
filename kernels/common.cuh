// Shared device helpers of the ft4j kernel families: float <-> storage conversion, warp and block
// reductions, launch-size arithmetic. Every kernel computes in float whatever the storage type.
#pragma once

#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>
#include <cstdlib>
#include <map>
#include <mutex>
#include <string>
#include <utility>

#include "ptx.cuh"

namespace ft4j {

template <typename T>
__device__ __forceinline__ float to_float(T v);
template <>
__device__ __forceinline__ float to_float<float>(float v) {
  return v;
}
template <>
__device__ __forceinline__ float to_float<__half>(__half v) {
  return __half2float(v);
}

template <typename T>
__device__ __forceinline__ T from_float(float v);
template <>
__device__ __forceinline__ float from_float<float>(float v) {
  return v;
}
template <>
__device__ __forceinline__ __half from_float<__half>(float v) {
  return __float2half_rn(v);
}

// Symmetric int8 rounding of every INT8 kernel: clamp(rint(v * inv_step), -127, 127), half to
// even (-128 is never produced).
__device__ __forceinline__ int8_t quantize_int8(float v, float inv_step) {
  int q = __float2int_rn(v * inv_step);
  q = q > 127 ? 127 : (q < -127 ? -127 : q);
  return static_cast<int8_t>(q);
}

__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
  for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_xor_sync(0xffffffffu, v, offset);
  return v;
}

__device__ __forceinline__ float warp_max(float v) {
#pragma unroll
  for (int offset = 16; offset > 0; offset >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, offset));
  return v;
}

// Sum over the block (blockDim.x a multiple of 32, <= 1024); every thread gets the result.
// `scratch` holds 33 floats of shared memory; the call ends with the block synchronised so that
// the scratch can be reused right away.
__device__ __forceinline__ float block_sum(float v, float* scratch) {
  const int lane = threadIdx.x & 31;
  const int warp = threadIdx.x >> 5;
  const int warps = blockDim.x >> 5;
  v = warp_sum(v);
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  if (warp == 0) {
    float t = lane < warps ? scratch[lane] : 0.f;
    t = warp_sum(t);
    if (lane == 0) scratch[32] = t;
  }
  __syncthreads();
  const float total = scratch[32];
  __syncthreads();
  return total;
}

// Max over the block; same contract as block_sum.
__device__ __forceinline__ float block_max(float v, float* scratch) {
  const int lane = threadIdx.x & 31;
  const int warp = threadIdx.x >> 5;
  const int warps = blockDim.x >> 5;
  v = warp_max(v);
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  if (warp == 0) {
    float t = lane < warps ? scratch[lane] : -INFINITY;
    t = warp_max(t);
    if (lane == 0) scratch[32] = t;
  }
  __syncthreads();
  const float total = scratch[32];
  __syncthreads();
  return total;
}

// The compute capability the kernels may treat a device as: its own, but at most 7.5 when the
// library holds no sm_80+ code (a build narrowed to sm_75, see CMakeLists.txt), so that no
// tensor-core path is chosen whose kernel would be empty there.
// Whether the environment variable `name` is exactly "1" (opt-in switches of kernel choices).
inline bool env_switch_on(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr && std::string(v) == "1";
}

// Whether the environment variable `name` is exactly "0" (opt-out switches of kernel choices).
inline bool env_switch_off(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr && std::string(v) == "0";
}

inline int usable_sm(int major, int minor) {
#ifdef FT4J_NO_SM80_CODE
  return major * 10 + minor < 75 ? major * 10 + minor : 75;
#else
  return major * 10 + minor;
#endif
}

inline int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// Threads per block for a row of `cols` elements: a multiple of 32 in [32, max_threads].
inline int row_block_threads(int64_t cols, int per_thread, int max_threads) {
  int64_t t = ceil_div(ceil_div(cols, per_thread), 32) * 32;
  if (t < 32) t = 32;
  if (t > max_threads) t = max_threads;
  return static_cast<int>(t);
}

// Blocks of an element-wise grid-stride launch: enough to fill the GPU, never above the grid limit.
inline unsigned elementwise_blocks(int64_t elements, int threads) {
  int64_t blocks = ceil_div(elements, threads);
  const int64_t cap = int64_t(1) << 20;
  if (blocks > cap) blocks = cap;
  if (blocks < 1) blocks = 1;
  return static_cast<unsigned>(blocks);
}

// Rows handled by one block each with a grid-stride loop over rows.
inline unsigned row_blocks(int64_t rows) {
  const int64_t cap = int64_t(1) << 30;
  return static_cast<unsigned>(rows < cap ? rows : cap);
}

// BERT's exact GELU, 0.5 x (1 + erf(x / sqrt 2)), written with erfc so that it keeps its relative
// accuracy for negative x (1 + erff(...) cancels: 4 % off at x = -5, 0 below -5.6; with per-token
// int8 scaling a row of such values is scaled up by its own amax, so the relative error matters).
__device__ __forceinline__ float gelu_erf(float x) {
  return 0.5f * x * erfcf(-x * 0.70710678118654752f);
}

// Largest shared memory a kernel may use without opting in (48 KiB on every target): dynamic and
// static together.
constexpr size_t kDefaultSharedBytes = 48 * 1024;

// Dynamic shared memory a row kernel may ask for beside its static reduction scratch (block_sum /
// block_max: 33 floats, 144 bytes per ptxas): 48 KiB minus 256 bytes, a row of up to 12224 floats.
// (Asking for the whole 48 KiB fails the launch with cudaErrorInvalidValue.)
constexpr size_t kRowSharedBytes = kDefaultSharedBytes - 256;

// Raises a kernel's dynamic shared memory limit per device, only when a launch needs more than
// was raised before (one kernel may serve several sizes, e.g. the attention's head sizes); not a
// stream operation, but kept out of the launch path so that graph capture only sees the launch.
inline cudaError_t allow_shared(const void* kernel, size_t bytes) {
  if (bytes <= kDefaultSharedBytes) return cudaSuccess;
  static std::mutex mutex;
  static std::map<std::pair<int, const void*>, size_t> raised;  // (device, kernel) -> bytes
  int device = 0;
  cudaError_t e = cudaGetDevice(&device);
  if (e != cudaSuccess) return e;
  std::lock_guard<std::mutex> lock(mutex);
  const auto key = std::make_pair(device, kernel);
  const auto it = raised.find(key);
  if (it != raised.end() && it->second >= bytes) return cudaSuccess;
  e = cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, int(bytes));
  if (e == cudaSuccess) raised[key] = bytes;
  return e;
}

}  // namespace ft4j

namespace ft4j {

// N elements of T loaded or stored as one aligned access (16 bytes for the wide packs).
template <typename T, int N>
struct alignas(sizeof(T) * N) Pack {
  T v[N];
};

// True when `p` can be read as packs of `bytes`.
inline bool aligned_to(const void* p, size_t bytes) {
  return reinterpret_cast<uintptr_t>(p) % bytes == 0;
}

}  // namespace ft4j
