// The PTX instructions of the tensor-core kernels, each behind one small device function: async
// copies global -> shared (sm_80+), the warp-wide matrix loads (ldmatrix) and the two MMA shapes.
// Kernels use these functions, never inline asm of their own, so that the CPU emulator
// (tools/kernel-emu) can put its models of the same instructions in their place
// (tools/kernel-emu/shim/emu_ptx.h, written from the PTX ISA's fragment tables, not from this file).
// fast_exp2 (ex2.approx.ftz) is the one instruction here that every architecture has.
//
// Below sm_80 (and in host passes) the functions compile to nothing: their callers are sm_80+ code.
// The warpgroup MMA (wgmma, at the end) exists only in sm_90a code (FT4J_WGMMA_CODE): elsewhere it
// compiles to nothing too, and the host never launches its kernel there (FT4J_HAS_SM90A).
#pragma once

#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>

namespace ft4j {

// Async 16-byte copy global -> shared (both 16-byte aligned).
__device__ __forceinline__ void cp_async_16(void* smem, const void* gmem) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  const uint32_t s = static_cast<uint32_t>(__cvta_generic_to_shared(smem));
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16;\n" ::"r"(s), "l"(gmem));
#endif
}
// The same, reading nothing and writing 16 zero bytes when !valid (gmem must still be a valid
// address): edges of a tile.
__device__ __forceinline__ void cp_async_16_zfill(void* smem, const void* gmem, bool valid) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  const uint32_t s = static_cast<uint32_t>(__cvta_generic_to_shared(smem));
  const int bytes = valid ? 16 : 0;
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(s), "l"(gmem), "r"(bytes));
#endif
}
// Closes this thread's group of copies issued since the last commit.
__device__ __forceinline__ void cp_async_commit() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  asm volatile("cp.async.commit_group;\n" ::);
#endif
}
// Waits until at most kPending of this thread's committed groups are still in flight (other
// threads' copies need a __syncthreads() after their own wait).
template <int kPending>
__device__ __forceinline__ void cp_async_wait() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  asm volatile("cp.async.wait_group %0;\n" ::"n"(kPending));
#endif
}

// Four 8x8 b16 matrices from shared memory; lane t gives the row address of matrix t / 8, row t % 8.
// Plain: lane l receives row l / 4, columns 2 (l % 4) + {0, 1} of each matrix; .trans: the element
// (row 2 (l % 4) + {0, 1}, column l / 4), i.e. the transposed matrix.
template <bool kTrans>
__device__ __forceinline__ void ldmatrix_x4(uint32_t (&r)[4], const __half* row) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  const uint32_t a = static_cast<uint32_t>(__cvta_generic_to_shared(row));
  if (kTrans) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(a));
  } else {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(a));
  }
#endif
}

// 2^x by the hardware's approximation (ex2.approx.ftz: one MUFU.EX2), denormal inputs and results
// flushed to zero: for softmax weights, where anything below 2^-126 of the row maximum is 0 anyway.
// (exp2f compiles to ex2.approx.f32 plus instructions that keep denormals.)
__device__ __forceinline__ float fast_exp2(float x) {
#if defined(__CUDA_ARCH__)
  float y;
  asm("ex2.approx.ftz.f32 %0, %1;\n" : "=f"(y) : "f"(x));
  return y;
#else
  return exp2f(x);
#endif
}

// c += a * b for a 16 x 16 FP16 A (row-major fragments), 16 x 8 FP16 B (column-major), FP32 c.
__device__ __forceinline__ void mma_16816(float (&c)[4], const uint32_t (&a)[4], uint32_t b0,
                                          uint32_t b1) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
      "{%0,%1,%2,%3};\n"
      : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
#endif
}

// c += a * b for a 16 x 32 int8 A (row-major fragments), 32 x 8 int8 B (column-major), int32 c.
__device__ __forceinline__ void mma_s8_16832(int (&c)[4], int a0, int a1, int a2, int a3, int b0,
                                             int b1) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  asm volatile(
      "mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, "
      "{%8,%9}, {%0,%1,%2,%3};\n"
      : "+r"(c[0]), "+r"(c[1]), "+r"(c[2]), "+r"(c[3])
      : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1));
#endif
}

// ---- warpgroup MMA (sm_90a) -----------------------------------------------------------------
#if defined(__CUDA_ARCH__) && defined(__CUDA_ARCH_FEAT_SM90_ALL)
#define FT4J_WGMMA_CODE 1
#endif

// Makes this thread's generic-proxy writes to shared memory (stores, landed cp.async copies)
// visible to the async proxy, which wgmma reads shared memory through; then a barrier.
__device__ __forceinline__ void fence_proxy_async_shared() {
#ifdef FT4J_WGMMA_CODE
  asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
#endif
}

// wgmma's shared-memory matrix descriptor of a K-major operand tile stored with the 128-byte
// swizzle: rows of 128 bytes (int8: 128 k values), 8-row groups 1024 bytes apart, the 16-byte chunk
// c of row r stored at chunk c ^ (r % 8), the tile 1024-byte aligned. `start`: the tile's first
// row plus the byte offset of the k-slice an instruction reads (a multiple of 16 below 128).
// Fields: start address >> 4 (bits 0-13), leading byte offset >> 4 (16-29: unused for this layout,
// 1), stride byte offset >> 4 (32-45: 1024), base offset 0 (49-51), layout 1 = 128-byte swizzle
// (62-63).
__device__ __forceinline__ uint64_t wgmma_desc_sw128(const void* start) {
#ifdef FT4J_WGMMA_CODE
  const uint64_t a = static_cast<uint32_t>(__cvta_generic_to_shared(start));
  return ((a & 0x3FFFF) >> 4) | (uint64_t(1) << 16) | (uint64_t(1024 >> 4) << 32) |
         (uint64_t(1) << 62);
#else
  return 0;
#endif
}

// The same layout read MN-major (wgmma's imm-trans-b = 1): the operand's N index runs along the
// 128-byte rows (64 halves), its K index down them. Element (k, n) of an FP16 B operand lies at
// start + (n / 64) * lbo + (k / 8) * 1024 + (k % 8) * 128 + 2 (n % 64), swizzled as above: `lbo`
// (leading byte offset) is the distance between the 64-column sub-tiles, the stride byte offset
// the 1024 bytes between groups of 8 k rows.
__device__ __forceinline__ uint64_t wgmma_desc_sw128_mn(const void* start, uint32_t lbo) {
#ifdef FT4J_WGMMA_CODE
  const uint64_t a = static_cast<uint32_t>(__cvta_generic_to_shared(start));
  return ((a & 0x3FFFF) >> 4) | (uint64_t((lbo & 0x3FFFF) >> 4) << 16) |
         (uint64_t(1024 >> 4) << 32) | (uint64_t(1) << 62);
#else
  (void)lbo;
  return 0;
#endif
}

// Orders this thread's earlier accesses to the accumulator registers before the wgmma that
// follows (needed before the first wgmma and after any other access to them).
__device__ __forceinline__ void wgmma_fence() {
#ifdef FT4J_WGMMA_CODE
  asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory");
#endif
}
// Closes the group of wgmma operations issued since the last commit.
__device__ __forceinline__ void wgmma_commit() {
#ifdef FT4J_WGMMA_CODE
  asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory");
#endif
}
// Waits until at most kPending committed wgmma groups are in flight; their accumulators (and the
// shared memory they read) are free again.
template <int kPending>
__device__ __forceinline__ void wgmma_wait() {
#ifdef FT4J_WGMMA_CODE
  asm volatile("wgmma.wait_group.sync.aligned %0;\n" ::"n"(kPending) : "memory");
#endif
}

// d += A B for the warpgroup (128 threads, all of them): A 64 x 32 int8 (K-major, descriptor a),
// B 32 x 128 int8 (K-major: B's 128 columns are rows of 32 k values, descriptor b), d 64 x 128
// int32. Thread (warp w of the warpgroup, g = lane / 4, t = lane % 4) holds in d[j][0..3] the
// elements (16w + g, 8j + 2t), (16w + g, 8j + 2t + 1), (16w + g + 8, 8j + 2t), (16w + g + 8,
// 8j + 2t + 1): mma.m16n8's accumulator layout, per warp, 16 times along N. Asynchronous: d may be
// touched again only after wgmma_commit + wgmma_wait.
__device__ __forceinline__ void wgmma_s8_m64n128k32(int (&d)[16][4], uint64_t a, uint64_t b) {
#ifdef FT4J_WGMMA_CODE
  asm volatile(
      "{\n.reg .pred p;\nsetp.ne.b32 p, 1, 0;\n"
      "wgmma.mma_async.sync.aligned.m64n128k32.s32.s8.s8 "
      "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, "
      "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, "
      "%32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, "
      "%48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63}, "
      "%64, %65, p;\n}\n"
      : "+r"(d[0][0]), "+r"(d[0][1]), "+r"(d[0][2]), "+r"(d[0][3]), "+r"(d[1][0]), "+r"(d[1][1]),
        "+r"(d[1][2]), "+r"(d[1][3]), "+r"(d[2][0]), "+r"(d[2][1]), "+r"(d[2][2]), "+r"(d[2][3]),
        "+r"(d[3][0]), "+r"(d[3][1]), "+r"(d[3][2]), "+r"(d[3][3]), "+r"(d[4][0]), "+r"(d[4][1]),
        "+r"(d[4][2]), "+r"(d[4][3]), "+r"(d[5][0]), "+r"(d[5][1]), "+r"(d[5][2]), "+r"(d[5][3]),
        "+r"(d[6][0]), "+r"(d[6][1]), "+r"(d[6][2]), "+r"(d[6][3]), "+r"(d[7][0]), "+r"(d[7][1]),
        "+r"(d[7][2]), "+r"(d[7][3]), "+r"(d[8][0]), "+r"(d[8][1]), "+r"(d[8][2]), "+r"(d[8][3]),
        "+r"(d[9][0]), "+r"(d[9][1]), "+r"(d[9][2]), "+r"(d[9][3]), "+r"(d[10][0]), "+r"(d[10][1]),
        "+r"(d[10][2]), "+r"(d[10][3]), "+r"(d[11][0]), "+r"(d[11][1]), "+r"(d[11][2]),
        "+r"(d[11][3]), "+r"(d[12][0]), "+r"(d[12][1]), "+r"(d[12][2]), "+r"(d[12][3]),
        "+r"(d[13][0]), "+r"(d[13][1]), "+r"(d[13][2]), "+r"(d[13][3]), "+r"(d[14][0]),
        "+r"(d[14][1]), "+r"(d[14][2]), "+r"(d[14][3]), "+r"(d[15][0]), "+r"(d[15][1]),
        "+r"(d[15][2]), "+r"(d[15][3])
      : "l"(a), "l"(b)
      : "memory");
#endif
}

// Keeps the compiler from moving reads or writes of these registers across the wgmma waits and
// issues around them (an empty asm that "changes" each register): accumulators are written by the
// asynchronous wgmma behind the compiler's back.
__device__ __forceinline__ void wgmma_fence_register(float& x) {
#ifdef FT4J_WGMMA_CODE
  asm volatile("" : "+f"(x)::"memory");
#endif
}
__device__ __forceinline__ void wgmma_fence_register(int& x) {
#ifdef FT4J_WGMMA_CODE
  asm volatile("" : "+r"(x)::"memory");
#endif
}
template <typename V, int kN>
__device__ __forceinline__ void wgmma_fence_operand(V (&d)[kN][4]) {
#pragma unroll
  for (int j = 0; j < kN; ++j)
#pragma unroll
    for (int e = 0; e < 4; ++e) wgmma_fence_register(d[j][e]);
}

// The output operand lists of the FP32-accumulator wgmma wrappers below: 32 or 64 registers,
// d[j][0..3] in order, and their placeholders in the instruction text.
#define FT4J_WGMMA_D32                                                                 \
  "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, " \
  "%18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31}"
#define FT4J_WGMMA_D64                                                                 \
  "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, " \
  "%18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, %32, %33, "   \
  "%34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, %48, %49, "   \
  "%50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63}"
#define FT4J_WGMMA_F32_ACC32(d) \
      "+f"(d[0][0]), "+f"(d[0][1]), "+f"(d[0][2]), "+f"(d[0][3]), "+f"(d[1][0]), "+f"(d[1][1]), \
      "+f"(d[1][2]), "+f"(d[1][3]), "+f"(d[2][0]), "+f"(d[2][1]), "+f"(d[2][2]), "+f"(d[2][3]), \
      "+f"(d[3][0]), "+f"(d[3][1]), "+f"(d[3][2]), "+f"(d[3][3]), "+f"(d[4][0]), "+f"(d[4][1]), \
      "+f"(d[4][2]), "+f"(d[4][3]), "+f"(d[5][0]), "+f"(d[5][1]), "+f"(d[5][2]), "+f"(d[5][3]), \
      "+f"(d[6][0]), "+f"(d[6][1]), "+f"(d[6][2]), "+f"(d[6][3]), "+f"(d[7][0]), "+f"(d[7][1]), \
      "+f"(d[7][2]), "+f"(d[7][3])
// (rows 8 .. 15 of the 64-register list are rows 0 .. 7 of d + 8)
#define FT4J_WGMMA_F32_ACC64(d) FT4J_WGMMA_F32_ACC32(d), FT4J_WGMMA_F32_ACC32((d + 8))

// d += A B for the warpgroup, FP16 inputs, FP32 accumulators, kN = 64 or 128 columns (d[kN / 8][4],
// mma.m16n8's layout per warp as for the int8 wgmma above):
//  - wgmma_f16_ss: A 64 x 16 (K-major, descriptor a), B 16 x kN K-major (descriptor b: B's kN
//    columns are rows of 16 k values, wgmma_desc_sw128);
//  - wgmma_f16_rs_tb: A 64 x 16 from registers (warp w holds rows 16w .. 16w + 15 in
//    mma.m16n8k16's A-fragment layout), B 16 x kN MN-major (wgmma_desc_sw128_mn; imm-trans-b = 1).
// Asynchronous like the int8 one; a's registers too must stay untouched until the wait.
template <int kN>
__device__ __forceinline__ void wgmma_f16_ss(float (&d)[kN / 8][4], uint64_t a, uint64_t b);
template <int kN>
__device__ __forceinline__ void wgmma_f16_rs_tb(float (&d)[kN / 8][4], const uint32_t (&a)[4],
                                                uint64_t b);

template <>
__device__ __forceinline__ void wgmma_f16_ss<64>(float (&d)[8][4], uint64_t a, uint64_t b) {
#ifdef FT4J_WGMMA_CODE
  asm volatile(
      "{\n.reg .pred p;\nsetp.ne.b32 p, 1, 0;\n"
      "wgmma.mma_async.sync.aligned.m64n64k16.f32.f16.f16 "
      FT4J_WGMMA_D32 ", "
      "%32, %33, p, 1, 1, 0, 0;\n}\n"
      : FT4J_WGMMA_F32_ACC32(d)
      : "l"(a), "l"(b)
      : "memory");
#endif
}

template <>
__device__ __forceinline__ void wgmma_f16_ss<128>(float (&d)[16][4], uint64_t a, uint64_t b) {
#ifdef FT4J_WGMMA_CODE
  asm volatile(
      "{\n.reg .pred p;\nsetp.ne.b32 p, 1, 0;\n"
      "wgmma.mma_async.sync.aligned.m64n128k16.f32.f16.f16 "
      FT4J_WGMMA_D64 ", "
      "%64, %65, p, 1, 1, 0, 0;\n}\n"
      : FT4J_WGMMA_F32_ACC64(d)
      : "l"(a), "l"(b)
      : "memory");
#endif
}

template <>
__device__ __forceinline__ void wgmma_f16_rs_tb<64>(float (&d)[8][4], const uint32_t (&a)[4],
                                                    uint64_t b) {
#ifdef FT4J_WGMMA_CODE
  asm volatile(
      "{\n.reg .pred p;\nsetp.ne.b32 p, 1, 0;\n"
      "wgmma.mma_async.sync.aligned.m64n64k16.f32.f16.f16 "
      FT4J_WGMMA_D32 ", "
      "{%32, %33, %34, %35}, %36, p, 1, 1, 1;\n}\n"
      : FT4J_WGMMA_F32_ACC32(d)
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(b)
      : "memory");
#endif
}

template <>
__device__ __forceinline__ void wgmma_f16_rs_tb<128>(float (&d)[16][4], const uint32_t (&a)[4],
                                                     uint64_t b) {
#ifdef FT4J_WGMMA_CODE
  asm volatile(
      "{\n.reg .pred p;\nsetp.ne.b32 p, 1, 0;\n"
      "wgmma.mma_async.sync.aligned.m64n128k16.f32.f16.f16 "
      FT4J_WGMMA_D64 ", "
      "{%64, %65, %66, %67}, %68, p, 1, 1, 1;\n}\n"
      : FT4J_WGMMA_F32_ACC64(d)
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(b)
      : "memory");
#endif
}

#undef FT4J_WGMMA_D32
#undef FT4J_WGMMA_D64
#undef FT4J_WGMMA_F32_ACC32
#undef FT4J_WGMMA_F32_ACC64

}  // namespace ft4j
