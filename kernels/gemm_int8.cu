// INT8 GEMM with fused epilogues (formula and layouts: gemm_int8.cuh).
//
// Fragment ownership follows PTX's mma.m16n8k32 (s8): with g = lane / 4 and t = lane % 4, a thread
// holds A rows g and g + 8 at k = 4t..4t+3 and 16+4t..16+4t+3, B column g at the same k, and the
// accumulators (row g, cols 2t, 2t+1) and (row g + 8, cols 2t, 2t+1) of each 16 x 8 tile. The sm_75
// path computes exactly those accumulators with __dp4a, so the epilogue is shared.
#include <cuda_fp16.h>

#include "common.cuh"
#include "gemm_int8.cuh"

namespace ft4j {
namespace {

constexpr int kBM = 64;
constexpr int kBN = 64;
constexpr int kBK = 32;
constexpr int kPad = 16;  // bytes of padding per shared row: keeps 16-byte alignment
constexpr int kThreads = 128;

__device__ __forceinline__ float gelu_exact(float x) {
  return 0.5f * x * (1.f + erff(x * 0.70710678118654752f));
}

// Loads a 64 x 32 int8 tile (rows row0.., k0..k0+31) of a [rows, k] row-major matrix into smem,
// zero-filling outside the matrix. Each of the 128 threads moves 16 bytes.
template <bool kVector>
__device__ __forceinline__ void load_tile(int8_t (*tile)[kBK + kPad], const int8_t* src, int rows,
                                          int k, int row0, int k0) {
  const int r = threadIdx.x >> 1;
  const int c = (threadIdx.x & 1) * 16;
  const int gr = row0 + r;
  const int gk = k0 + c;
  if (kVector) {
    int4 v = make_int4(0, 0, 0, 0);
    if (gr < rows && gk < k) v = *reinterpret_cast<const int4*>(src + int64_t(gr) * k + gk);
    *reinterpret_cast<int4*>(&tile[r][c]) = v;
  } else {
#pragma unroll
    for (int i = 0; i < 16; ++i) {
      tile[r][c + i] = (gr < rows && gk + i < k) ? src[int64_t(gr) * k + gk + i] : int8_t(0);
    }
  }
}

__device__ __forceinline__ int load_s32(const int8_t* p) { return *reinterpret_cast<const int*>(p); }

template <typename T>
__device__ __forceinline__ void store_out(const GemmInt8Params<T>& p, int row, int col, int acc) {
  if (row >= p.m || col >= p.n) return;
  const int64_t at = int64_t(row) * p.n + col;
  if (p.out_kind == GemmInt8Out::INT32) {
    static_cast<int32_t*>(p.out)[at] = acc;
    return;
  }
  const float a = p.a_scale != nullptr ? p.a_scale[row] : p.a_static;
  float y = static_cast<float>(acc) * a * p.w_scale[col];
  if (p.bias != nullptr) y += to_float(p.bias[col]);
  if (p.gelu) y = gelu_exact(y);
  if (p.out_kind == GemmInt8Out::FLOAT) {
    static_cast<T*>(p.out)[at] = from_float<T>(y);
  } else {
    const float inv = p.out_inv_scale != nullptr ? p.out_inv_scale[col] : p.out_inv_static;
    const int8_t q = quantize_int8(y, inv);
    if (p.out_kind == GemmInt8Out::INT8) {
      static_cast<int8_t*>(p.out)[at] = q;
    } else {
      static_cast<T*>(p.out)[at] = from_float<T>(static_cast<float>(q) / inv);
    }
  }
}

// Stores a warp's accumulators, kI x kJ tiles of 16 x 8 from (row0, col0), through the epilogue.
template <typename T, int kI, int kJ>
__device__ __forceinline__ void store_fragments(const GemmInt8Params<T>& p,
                                                const int (&acc)[kI][kJ][4], int row0, int col0) {
  const int g = (threadIdx.x & 31) >> 2;
  const int t = threadIdx.x & 3;
#pragma unroll
  for (int i = 0; i < kI; ++i) {
    const int row = row0 + i * 16 + g;
#pragma unroll
    for (int j = 0; j < kJ; ++j) {
      const int col = col0 + j * 8 + 2 * t;
      store_out(p, row, col, acc[i][j][0]);
      store_out(p, row, col + 1, acc[i][j][1]);
      store_out(p, row + 8, col, acc[i][j][2]);
      store_out(p, row + 8, col + 1, acc[i][j][3]);
    }
  }
}

template <typename T, bool kVector>
__global__ void __launch_bounds__(kThreads) gemm_int8_kernel(GemmInt8Params<T> p) {
  __shared__ __align__(16) int8_t as[kBM][kBK + kPad];
  __shared__ __align__(16) int8_t bs[kBN][kBK + kPad];
  const int lane = threadIdx.x & 31;
  const int warp = threadIdx.x >> 5;
  const int g = lane >> 2;
  const int t = lane & 3;
  const int warp_m = (warp >> 1) * 32;
  const int warp_n = (warp & 1) * 32;
  const int block_m = blockIdx.y * kBM;
  const int block_n = blockIdx.x * kBN;

  int acc[2][4][4];  // [m16 tile][n8 tile][fragment]
#pragma unroll
  for (int i = 0; i < 2; ++i)
#pragma unroll
    for (int j = 0; j < 4; ++j)
#pragma unroll
      for (int f = 0; f < 4; ++f) acc[i][j][f] = 0;

  for (int k0 = 0; k0 < p.k; k0 += kBK) {
    load_tile<kVector>(as, p.a, p.m, p.k, block_m, k0);
    load_tile<kVector>(bs, p.b, p.n, p.k, block_n, k0);
    __syncthreads();
#pragma unroll
    for (int i = 0; i < 2; ++i) {
      const int r = warp_m + i * 16 + g;
#pragma unroll
      for (int j = 0; j < 4; ++j) {
        const int c = warp_n + j * 8 + g;
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
        const int a0 = load_s32(&as[r][4 * t]);
        const int a1 = load_s32(&as[r + 8][4 * t]);
        const int a2 = load_s32(&as[r][16 + 4 * t]);
        const int a3 = load_s32(&as[r + 8][16 + 4 * t]);
        const int b0 = load_s32(&bs[c][4 * t]);
        const int b1 = load_s32(&bs[c][16 + 4 * t]);
        asm volatile(
            "mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, "
            "{%8,%9}, {%0,%1,%2,%3};\n"
            : "+r"(acc[i][j][0]), "+r"(acc[i][j][1]), "+r"(acc[i][j][2]), "+r"(acc[i][j][3])
            : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1));
#else
        // the same four accumulators: rows r, r + 8; columns warp_n + j*8 + 2t, +1
        const int c0 = warp_n + j * 8 + 2 * t;
#pragma unroll
        for (int w = 0; w < kBK / 4; ++w) {
          const int x0 = load_s32(&as[r][4 * w]);
          const int x1 = load_s32(&as[r + 8][4 * w]);
          const int y0 = load_s32(&bs[c0][4 * w]);
          const int y1 = load_s32(&bs[c0 + 1][4 * w]);
          acc[i][j][0] = __dp4a(x0, y0, acc[i][j][0]);
          acc[i][j][1] = __dp4a(x0, y1, acc[i][j][1]);
          acc[i][j][2] = __dp4a(x1, y0, acc[i][j][2]);
          acc[i][j][3] = __dp4a(x1, y1, acc[i][j][3]);
        }
        (void)c;
#endif
      }
    }
    __syncthreads();
  }

  store_fragments(p, acc, block_m + warp_m, block_n + warp_n);
}

// ---------------------------------------------------------------------------------------------
// The pipelined kernel (sm_80+, 16-byte loads): 128 x 128 tiles, 256 threads as 2 x 4 warps of
// 64 x 32, k-steps of 32, a 4-stage cp.async pipeline (4 x 12 KiB of shared memory), the same
// fragments, accumulators and epilogue as the kernel above. Chosen where its tiles fill the GPU
// (pick_pipelined); the simple kernel keeps small problems and the unaligned / sm_75 cases.
constexpr int kPBM = 128;
constexpr int kPBN = 128;
constexpr int kPStages = 4;
constexpr int kPThreads = 256;
constexpr int kPPitch = kBK + kPad;  // 48 bytes: the LDS.32 fragment reads are conflict-free

// Issues the copy of one 128 x 32 tile (rows row0.., k0..k0+31) of a [rows, k] row-major int8
// matrix (k % 16 == 0): each of the 256 threads moves 16 bytes.
__device__ __forceinline__ void issue_tile(int8_t (*tile)[kPPitch], const int8_t* src, int rows,
                                           int k, int row0, int k0) {
  const int r = threadIdx.x >> 1;
  const int c = (threadIdx.x & 1) * 16;
  const int gr = row0 + r;
  const int gk = k0 + c;
  const bool valid = gr < rows && gk < k;
  cp_async_16_zfill(&tile[r][c], valid ? src + int64_t(gr) * k + gk : src, valid);
}

template <typename T>
__global__ void __launch_bounds__(kPThreads) gemm_int8_pipelined_kernel(GemmInt8Params<T> p) {
  // Launched on sm_80+ only (pick_pipelined): below that cp.async and the mma compile to nothing.
  __shared__ __align__(16) int8_t as[kPStages][kPBM][kPPitch];
  __shared__ __align__(16) int8_t bs[kPStages][kPBN][kPPitch];
  const int lane = threadIdx.x & 31;
  const int warp = threadIdx.x >> 5;
  const int g = lane >> 2;
  const int t = lane & 3;
  const int warp_m = (warp >> 2) * 64;
  const int warp_n = (warp & 3) * 32;
  const int block_m = blockIdx.y * kPBM;
  const int block_n = blockIdx.x * kPBN;
  const int ktiles = (p.k + kBK - 1) / kBK;

  int acc[4][4][4];  // [m16 tile][n8 tile][fragment]
#pragma unroll
  for (int i = 0; i < 4; ++i)
#pragma unroll
    for (int j = 0; j < 4; ++j)
#pragma unroll
      for (int f = 0; f < 4; ++f) acc[i][j][f] = 0;

  // Prologue: stages 0 .. kPStages - 2 in flight (one commit group each, empty past the end).
#pragma unroll
  for (int s = 0; s < kPStages - 1; ++s) {
    if (s < ktiles) {
      issue_tile(as[s], p.a, p.m, p.k, block_m, s * kBK);
      issue_tile(bs[s], p.b, p.n, p.k, block_n, s * kBK);
    }
    cp_async_commit();
  }
  for (int kt = 0; kt < ktiles; ++kt) {
    cp_async_wait<kPStages - 2>();  // the group of tile kt has landed (for this thread)
    __syncthreads();                      // ... for every thread; and tile kt - 1 is consumed
    const int next = kt + kPStages - 1;
    if (next < ktiles) {
      const int s = next % kPStages;  // the buffer of tile kt - 1
      issue_tile(as[s], p.a, p.m, p.k, block_m, next * kBK);
      issue_tile(bs[s], p.b, p.n, p.k, block_n, next * kBK);
    }
    cp_async_commit();
    const int s = kt % kPStages;
    int af[4][4];
    int bf[4][2];
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      const int r = warp_m + i * 16 + g;
      af[i][0] = load_s32(&as[s][r][4 * t]);
      af[i][1] = load_s32(&as[s][r + 8][4 * t]);
      af[i][2] = load_s32(&as[s][r][16 + 4 * t]);
      af[i][3] = load_s32(&as[s][r + 8][16 + 4 * t]);
    }
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      const int c = warp_n + j * 8 + g;
      bf[j][0] = load_s32(&bs[s][c][4 * t]);
      bf[j][1] = load_s32(&bs[s][c][16 + 4 * t]);
    }
#pragma unroll
    for (int i = 0; i < 4; ++i) {
#pragma unroll
      for (int j = 0; j < 4; ++j) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
        asm volatile(
            "mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, "
            "{%8,%9}, {%0,%1,%2,%3};\n"
            : "+r"(acc[i][j][0]), "+r"(acc[i][j][1]), "+r"(acc[i][j][2]), "+r"(acc[i][j][3])
            : "r"(af[i][0]), "r"(af[i][1]), "r"(af[i][2]), "r"(af[i][3]), "r"(bf[j][0]),
              "r"(bf[j][1]));
#endif
      }
    }
  }
  cp_async_wait<0>();

  store_fragments(p, acc, block_m + warp_m, block_n + warp_n);
}

// Whether the pipelined kernel runs p: 16-byte loads possible, sm_80 or newer, and at least one
// 128 x 128 tile per SM (below that the 64 x 64 kernel spreads the work over more SMs).
template <typename T>
bool pick_pipelined(const GemmInt8Params<T>& p, bool vector) {
  if (!vector) return false;
  int device = 0;
  int major = 0;
  int sms = 0;
  if (cudaGetDevice(&device) != cudaSuccess ||
      cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device) != cudaSuccess ||
      cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device) != cudaSuccess) {
    return false;
  }
  return major >= 8 && ceil_div(p.m, kPBM) * ceil_div(p.n, kPBN) >= sms;
}

}  // namespace

template <typename T>
std::string check_gemm_int8(const GemmInt8Params<T>& p) {
  if (p.m < 1 || p.n < 1 || p.k < 1) return "M, N and K must be >= 1";
  if (int64_t(p.m + kBM - 1) / kBM > 65535) {
    return "M = " + std::to_string(p.m) + " needs more than 65535 row blocks of " +
           std::to_string(kBM);
  }
  if (p.out_kind != GemmInt8Out::INT32 && p.w_scale == nullptr) {
    return "a scaled output needs w_scale";
  }
  return "";
}

template <typename T>
cudaError_t launch_gemm_int8(const GemmInt8Params<T>& p, cudaStream_t stream) {
  const dim3 grid(static_cast<unsigned>(ceil_div(p.n, kBN)),
                  static_cast<unsigned>(ceil_div(p.m, kBM)));
  const bool vector = p.k % 16 == 0 && aligned_to(p.a, 16) && aligned_to(p.b, 16);
  if (pick_pipelined(p, vector)) {
    const dim3 big(static_cast<unsigned>(ceil_div(p.n, kPBN)),
                   static_cast<unsigned>(ceil_div(p.m, kPBM)));
    gemm_int8_pipelined_kernel<T><<<big, kPThreads, 0, stream>>>(p);
  } else if (vector) {
    gemm_int8_kernel<T, true><<<grid, kThreads, 0, stream>>>(p);
  } else {
    gemm_int8_kernel<T, false><<<grid, kThreads, 0, stream>>>(p);
  }
  return cudaGetLastError();
}

template std::string check_gemm_int8<float>(const GemmInt8Params<float>&);
template std::string check_gemm_int8<__half>(const GemmInt8Params<__half>&);
template cudaError_t launch_gemm_int8<float>(const GemmInt8Params<float>&, cudaStream_t);
template cudaError_t launch_gemm_int8<__half>(const GemmInt8Params<__half>&, cudaStream_t);

}  // namespace ft4j
