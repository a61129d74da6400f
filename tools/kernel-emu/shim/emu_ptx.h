// kernel-emu: CPU models of the PTX instructions behind kernels/ptx.cuh (prep.py includes this
// file in its place). Written from the PTX ISA's descriptions of the instructions and of their
// fragment layouts, independently of the kernels, so that a kernel that indexes fragments wrongly
// gives wrong results here as on the GPU. Same function names and signatures as ptx.cuh.
//
//  - cp.async (16 bytes, optional zero fill): the copy lands when issued, at the thread's
//    cp.async.wait_group that covers it, or either (per copy, random), depending on the schedule
//    (shim/cuda_runtime.h, kSchedules): a kernel that reads a stage before waiting (or before the
//    __syncthreads after every thread's wait), or that issues a copy into a buffer still being
//    read, gets schedule-dependent results, which the emulator reports. Copies not waited for land
//    when the thread exits. Destination must be shared and source global memory, both 16-byte
//    aligned.
//  - ldmatrix .x4 (.trans): warp-wide; lanes 8j..8j+7 give the row addresses of matrix j (16-byte
//    aligned, shared memory); lane l receives in register j the two b16 elements (row l / 4,
//    columns 2 (l % 4), +1) of matrix j, or with .trans (rows 2 (l % 4), +1, column l / 4).
//  - mma.sync m16n8k16 .row.col f32.f16.f16.f32 and m16n8k32 .row.col s32.s8.s8.s32: warp-wide;
//    the 16 x K A, K x 8 B and 16 x 8 C matrices are assembled from the 32 lanes' fragments
//    (groupID g = lane / 4, t = lane % 4):
//      f16 A: register i holds row g + 8 (i % 2), columns 2t + 8 (i / 2) + {0, 1}
//      f16 B: register i holds rows (k) 2t + 8i + {0, 1}, column g
//      s8  A: register i holds row g + 8 (i % 2), columns 4t + 16 (i / 2) + {0..3} (byte order)
//      s8  B: register i holds rows (k) 4t + 16i + {0..3}, column g
//      C, D:  c0, c1 = row g, columns 2t, 2t + 1; c2, c3 = row g + 8, the same columns
//    D = C + A B: exact in int32 (wrapping) for s8; for f16 the products and sums are taken in
//    double and rounded to float once (the tensor cores' own accumulation order and rounding are
//    not reproduced: tests compare with tolerances that cover FP32 accumulation). The first lane
//    to resume computes the warp's whole D (emu::warp_result), each lane takes its fragment.
//  - wgmma (sm_90a), from the PTX ISA's sections on the warpgroup MMA and its shared-memory matrix
//    descriptor: the descriptor packs (address >> 4) in bits 0-13, the leading and stride byte
//    offsets (>> 4) in bits 16-29 and 32-45, a base offset in 49-51 and the layout in 62-63 (1 =
//    128-byte swizzle). The emulator's shared addresses are offsets into the dynamic arena (the
//    only shared memory a descriptor may point at here). Only the layout ft4j uses is modelled:
//    K-major, 128-byte swizzle, base offset 0: element (row r, byte k < 32) of an operand lies at
//    address x = start + (r / 8) * stride + (r % 8) * 128 + k, read at x with bits 4-6 XORed with
//    bits 7-9 (the 16-byte chunk permuted by the row within its 1024-byte atom; the atoms must be
//    1024-byte aligned for the writer's layout to match). The MN-major reading (imm-trans-b = 1,
//    FP16 B only): element (k, n) at start + (n / 64) * LBO + (k / 8) * SBO + (k % 8) * 128 +
//    2 (n % 64), swizzled the same way (the PTX ISA's canonical layout ((T,8,m),(8,k)) :
//    ((1,T,LBO),(8T,SBO))). Shapes: m64n128k32 s8 x s8 -> s32 (A and B K-major), m64nNk16 f16 x
//    f16 -> f32 with N = 64 or 128, either A and B K-major from shared memory or A from registers
//    (warp w holds rows 16w .. 16w + 15 in mma.m16n8k16's A-fragment layout, captured at issue)
//    and B MN-major. Warp w of the warpgroup, lane (g, t) accumulates rows 16w + g (+ 8), columns
//    8j + 2t (+ 1) in d[j][0..3] (mma.m16n8's layout): exact in wrapping int32, or for f16 the
//    products summed in double and added to the FP32 accumulator with one rounding per
//    instruction; the operations on one accumulator are performed in issue order. The operation
//    is asynchronous: it is performed
//    when issued, at the wgmma.wait_group that covers it, or either (per operation, random), as
//    the schedule says for cp.async, so reading the accumulators or overwriting its shared tiles
//    before the wait gives schedule-dependent results; exiting without the wait is reported. The
//    32 lanes of a warp must give the same descriptors. fence.proxy.async and wgmma.fence are
//    no-ops (their absence cannot show here).
#pragma once

#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cfloat>
#include <cmath>
#include <cstdint>
#include <cstring>

// The kernels' sm_90a-only code (ptx.cuh defines this in sm_90a device passes) runs here too.
#define FT4J_WGMMA_CODE 1

namespace ft4j {

namespace emu_ptx {

inline bool aligned16(const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; }

inline void check_copy(const void* smem, const void* gmem) {
  if (!::emu::is_shared(smem, 16)) ::emu::report("PTX", "cp.async destination is not shared memory");
  if (gmem != nullptr && ::emu::is_shared(gmem, 1)) {
    ::emu::report("PTX", "cp.async source is shared memory (must be global)");
  }
  if (!aligned16(smem) || (gmem != nullptr && !aligned16(gmem))) {
    ::emu::report("PTX", "cp.async of 16 bytes with an address that is not 16-byte aligned");
  }
}

inline void issue(void* smem, const void* gmem) {
  ::emu::Fiber* f = ::emu::cur_fiber();
  const ::emu::AsyncCopy c{static_cast<char*>(smem), static_cast<const char*>(gmem), f->async_group};
  const int policy = ::emu::cur_sched()->async_land;
  const bool now = policy == 0 || (policy == 2 && (::emu::rng()() & 1u));
  if (now) ::emu::land(c); else f->async.push_back(c);
}

// The C/D fragment of lane (g, t): c0, c1 = row g, columns 2t, 2t + 1; c2, c3 = row g + 8.
template <typename M, typename V>
inline void put_c(M (&C)[16][8], int g, int t, const V (&c)[4]) {
  C[g][2 * t] = c[0];
  C[g][2 * t + 1] = c[1];
  C[g + 8][2 * t] = c[2];
  C[g + 8][2 * t + 1] = c[3];
}
template <typename M, typename V>
inline void take_c(V (&c)[4], const M (&D)[16][8]) {
  const unsigned lane = ::emu::current_tid() & 31;
  const int g = lane / 4, t = lane % 4;
  for (int e = 0; e < 4; ++e) c[e] = D[g + 8 * (e / 2)][2 * t + e % 2];
}

inline float half_bits(uint32_t word, int hi) {
  __half h;
  h.x = static_cast<unsigned short>(hi ? word >> 16 : word & 0xffffu);
  return __half2float(h);
}

// A thread's wait_group: of its committed groups (0 .. committed - 1) the newest `pending` may
// stay in flight; the operations of the older ones are completed (`complete`) in issue order.
template <typename Op, typename F>
inline void complete_groups(std::vector<Op>& ops, unsigned committed, int pending, F&& complete) {
  const long keep_from = long(committed) - pending;
  std::vector<Op> still;
  for (const Op& op : ops) {
    if (long(op.group) < keep_from) complete(op); else still.push_back(op);
  }
  ops.swap(still);
}

// ---- wgmma ----
constexpr int kMmaRowBytes = 128;  // one row of the 128-byte swizzle

inline char* mma_arena() { return ::emu::arena_lo(::emu::dyn_arena()); }

// The address of byte k of row r of the operand a descriptor describes (128-byte swizzle).
inline const int8_t* mma_element(uint64_t desc, int r, int k) {
  const size_t start = size_t(desc & 0x3FFF) << 4;
  const size_t stride = size_t((desc >> 32) & 0x3FFF) << 4;
  const size_t x = start + size_t(r / 8) * stride + size_t(r % 8) * kMmaRowBytes + size_t(k);
  const size_t y = x ^ (((x >> 7) & 7) << 4);
  return reinterpret_cast<const int8_t*>(mma_arena() + y);
}

inline void mma_check_desc(uint64_t desc, int rows, const char* what) {
  const int layout = int(desc >> 62);
  const int base = int((desc >> 49) & 7);
  const size_t stride = size_t((desc >> 32) & 0x3FFF) << 4;
  const size_t start = size_t(desc & 0x3FFF) << 4;
  if (layout != 1 || base != 0) {
    ::emu::report("PTX", std::string("wgmma ") + what + " descriptor: layout " +
                             std::to_string(layout) + ", base offset " + std::to_string(base) +
                             " (only the 128-byte swizzle with base offset 0 is modelled)");
    return;
  }
  const size_t last = start + size_t((rows - 1) / 8) * stride + 7 * kMmaRowBytes + kMmaRowBytes;
  if (stride == 0 || last > ::emu::dyn_arena().size) {
    ::emu::report("PTX", std::string("wgmma ") + what + " descriptor reaches past the dynamic "
                             "shared memory (start " + std::to_string(start) + ", stride " +
                             std::to_string(stride) + ")");
  }
}

// The MN-major reading of the same swizzle (imm-trans-b = 1; PTX ISA canonical layout
// ((T,8,m),(8,k)) : ((1,T,LBO),(8T,SBO)) with T = 8 halves): element (k, n) of an FP16 operand at
// start + (n / 64) * LBO + (k / 8) * SBO + (k % 8) * 128 + 2 (n % 64), then swizzled.
inline uint16_t mma_half_mn(uint64_t desc, int k, int n) {
  const size_t start = size_t(desc & 0x3FFF) << 4;
  const size_t lbo = size_t((desc >> 16) & 0x3FFF) << 4;
  const size_t stride = size_t((desc >> 32) & 0x3FFF) << 4;
  const size_t x = start + size_t(n / 64) * lbo + size_t(k / 8) * stride +
                   size_t(k % 8) * kMmaRowBytes + 2 * size_t(n % 64);
  const size_t y = x ^ (((x >> 7) & 7) << 4);
  uint16_t v;
  memcpy(&v, mma_arena() + y, 2);
  return v;
}
// Element (row r, k) of a K-major FP16 operand: bytes 2k, 2k + 1 of the row (one 16-byte chunk).
inline uint16_t mma_half_k(uint64_t desc, int r, int k) {
  uint16_t v;
  memcpy(&v, mma_element(desc, r, 2 * k), 2);
  return v;
}
inline double half_value(uint16_t bits) {
  __half h;
  h.x = bits;
  return __half2float(h);
}

inline void mma_check_desc_mn(uint64_t desc, int k_rows, int n, const char* what) {
  const int layout = int(desc >> 62);
  const int base = int((desc >> 49) & 7);
  const size_t start = size_t(desc & 0x3FFF) << 4;
  const size_t lbo = size_t((desc >> 16) & 0x3FFF) << 4;
  const size_t stride = size_t((desc >> 32) & 0x3FFF) << 4;
  if (layout != 1 || base != 0) {
    ::emu::report("PTX", std::string("wgmma ") + what + " descriptor (MN-major): layout " +
                             std::to_string(layout) + ", base offset " + std::to_string(base) +
                             " (only the 128-byte swizzle with base offset 0 is modelled)");
    return;
  }
  const size_t last = start + size_t((n - 1) / 64) * lbo + size_t((k_rows - 1) / 8) * stride +
                      8 * kMmaRowBytes;
  if (stride == 0 || (n > 64 && lbo == 0) || last > ::emu::dyn_arena().size) {
    ::emu::report("PTX", std::string("wgmma ") + what + " descriptor (MN-major) reaches past the "
                             "dynamic shared memory or has a zero offset (start " +
                             std::to_string(start) + ", leading " + std::to_string(lbo) +
                             ", stride " + std::to_string(stride) + ")");
  }
}

// Performs one wgmma for the calling thread: its accumulator elements (rows 16 w + g (+ 8),
// columns 8 j + 2 t (+ 1)) plus the dot products over K, exact in wrapping int32 (s8) or taken in
// double and rounded to float once (f16).
inline void mma_perform(const ::emu::AsyncMma& op) {
  const unsigned tid = ::emu::current_tid();
  const int w = int((tid >> 5) & 3), lane = int(tid & 31), g = lane / 4, t = lane % 4;
  for (int j = 0; j < op.n / 8; ++j) {
    for (int e = 0; e < 4; ++e) {
      const int row = 16 * w + g + 8 * (e / 2), col = 8 * j + 2 * t + e % 2;
      if (op.kind == ::emu::AsyncMma::kS8) {
        int* d = static_cast<int*>(op.d);
        uint32_t sum = static_cast<uint32_t>(d[4 * j + e]);
        for (int k = 0; k < 32; ++k) {
          sum += static_cast<uint32_t>(int(*mma_element(op.a, row, k)) * int(*mma_element(op.b, col, k)));
        }
        d[4 * j + e] = static_cast<int>(sum);
        continue;
      }
      float* d = static_cast<float*>(op.d);
      double sum = d[4 * j + e];
      for (int k = 0; k < 16; ++k) {
        double a, b;
        if (op.kind == ::emu::AsyncMma::kF16) {
          a = half_value(mma_half_k(op.a, row, k));
          b = half_value(mma_half_k(op.b, col, k));
        } else {
          // A fragment of the warp (mma.m16n8k16's layout): lane 4 (r % 8) + (k % 8) / 2,
          // register 2 (k / 8) + (r % 16) / 8, half k % 2
          const int r = row % 16;
          const uint32_t reg = op.a_regs[4 * (4 * (r % 8) + (k % 8) / 2) + 2 * (k / 8) + r / 8];
          a = half_bits(reg, k % 2);
          b = half_value(mma_half_mn(op.b, k, col));
        }
        sum += a * b;
      }
      d[4 * j + e] = static_cast<float>(sum);
    }
  }
}

}  // namespace emu_ptx

// ex2.approx.ftz.f32: the host's exp2 (the GPU's approximation error, < 2 ulp, is not reproduced),
// denormal inputs and results flushed to zero.
inline float fast_exp2(float x) {
  if (std::fabs(x) < FLT_MIN) x = 0.f;
  const float y = std::exp2(x);
  return y < FLT_MIN ? 0.f : y;
}

inline void fence_proxy_async_shared() {}
inline void wgmma_fence() {}

inline uint64_t wgmma_desc_sw128(const void* start) {
  const char* p = static_cast<const char*>(start);
  const char* lo = emu_ptx::mma_arena();
  if (p < lo || p >= lo + ::emu::dyn_arena().size || (p - lo) % 16 != 0) {
    ::emu::report("PTX", "wgmma descriptor start is not a 16-byte aligned address in dynamic "
                         "shared memory");
    return 0;
  }
  const uint64_t a = static_cast<uint64_t>(p - lo);
  return ((a & 0x3FFFF) >> 4) | (uint64_t(1) << 16) | (uint64_t(1024 >> 4) << 32) |
         (uint64_t(1) << 62);
}

inline uint64_t wgmma_desc_sw128_mn(const void* start, uint32_t lbo) {
  const uint64_t k_major = wgmma_desc_sw128(start);
  if (lbo % 16 != 0) ::emu::report("PTX", "wgmma leading byte offset not a multiple of 16");
  return (k_major & ~(uint64_t(0x3FFF) << 16)) | (uint64_t((lbo & 0x3FFFF) >> 4) << 16);
}

namespace emu_ptx {
// The warp-wide part of every wgmma: whole warpgroups, the lanes' descriptors (the first `same`
// bytes of what each lane gives) identical; returns the gathered lanes.
inline const unsigned char* wgmma_gather(const char* name, const void* mine, size_t bytes,
                                         size_t same) {
  if (::emu::ls().nwarps % 4 != 0) {
    ::emu::report("PTX", "wgmma in a block that is not whole warpgroups (128 threads each)");
  }
  const unsigned char* all = ::emu::warp_gather(name, mine, bytes);
  if ((::emu::current_tid() & 31) == 0) {
    for (int l = 1; l < 32; ++l) {
      if (memcmp(all + l * ::emu::kWarpBlob, all, same) != 0) {
        ::emu::report("PTX", "wgmma descriptors differ between the lanes of a warp");
        break;
      }
    }
  }
  return all;
}
// Performs `op` now or leaves it in flight, as the schedule says. Operations on one accumulator
// are performed in issue order, as the hardware does (FP32 accumulation is not associative): one
// performed now first performs the earlier ones still in flight on the same accumulator.
inline void wgmma_issue(const ::emu::AsyncMma& op) {
  ::emu::Fiber* f = ::emu::cur_fiber();
  const int policy = ::emu::cur_sched()->async_land;
  const bool now = policy == 0 || (policy == 2 && (::emu::rng()() & 1u));
  if (!now) {
    f->mma.push_back(op);
    return;
  }
  std::vector<::emu::AsyncMma> still;
  for (const ::emu::AsyncMma& earlier : f->mma) {
    if (earlier.d == op.d) mma_perform(earlier); else still.push_back(earlier);
  }
  f->mma.swap(still);
  mma_perform(op);
}
}  // namespace emu_ptx

inline void wgmma_s8_m64n128k32(int (&d)[16][4], uint64_t a, uint64_t b) {
  const uint64_t mine[2] = {a, b};
  emu_ptx::wgmma_gather("wgmma.m64n128k32.s8", mine, sizeof(mine), sizeof(mine));
  if ((::emu::current_tid() & 31) == 0) {
    emu_ptx::mma_check_desc(a, 64, "A");
    emu_ptx::mma_check_desc(b, 128, "B");
  }
  ::emu::AsyncMma op{&d[0][0], a, b, ::emu::cur_fiber()->mma_group};
  emu_ptx::wgmma_issue(op);
}

template <int kN>
inline void wgmma_f16_ss(float (&d)[kN / 8][4], uint64_t a, uint64_t b) {
  static_assert(kN == 64 || kN == 128, "modelled shapes: m64n64k16, m64n128k16");
  const uint64_t mine[2] = {a, b};
  emu_ptx::wgmma_gather(kN == 64 ? "wgmma.m64n64k16.f16" : "wgmma.m64n128k16.f16", mine,
                        sizeof(mine), sizeof(mine));
  if ((::emu::current_tid() & 31) == 0) {
    // K-major 16 halves = the first 32 bytes of each 128-byte row
    emu_ptx::mma_check_desc(a, 64, "A");
    emu_ptx::mma_check_desc(b, kN, "B");
  }
  ::emu::AsyncMma op{&d[0][0], a, b, ::emu::cur_fiber()->mma_group, ::emu::AsyncMma::kF16, kN};
  emu_ptx::wgmma_issue(op);
}

template <int kN>
inline void wgmma_f16_rs_tb(float (&d)[kN / 8][4], const uint32_t (&a)[4], uint64_t b) {
  static_assert(kN == 64 || kN == 128, "modelled shapes: m64n64k16, m64n128k16");
  struct In { uint64_t b; uint32_t a[4]; } mine{b, {a[0], a[1], a[2], a[3]}};
  const unsigned char* all =
      emu_ptx::wgmma_gather(kN == 64 ? "wgmma.m64n64k16.f16.regA" : "wgmma.m64n128k16.f16.regA",
                            &mine, sizeof(mine), sizeof(uint64_t));
  if ((::emu::current_tid() & 31) == 0) emu_ptx::mma_check_desc_mn(b, 16, kN, "B");
  ::emu::AsyncMma op{&d[0][0], 0, b, ::emu::cur_fiber()->mma_group,
                     ::emu::AsyncMma::kF16RegATransB, kN};
  for (int l = 0; l < 32; ++l) {
    In in;
    memcpy(&in, all + l * ::emu::kWarpBlob, sizeof(in));
    for (int i = 0; i < 4; ++i) op.a_regs[4 * l + i] = in.a[i];
  }
  emu_ptx::wgmma_issue(op);
}

template <int kN, typename V>
inline void wgmma_fence_operand(V (&)[kN][4]) {}

inline void wgmma_commit() { ::emu::cur_fiber()->mma_group++; }

template <int kPending>
inline void wgmma_wait() {
  ::emu::Fiber* f = ::emu::cur_fiber();
  emu_ptx::complete_groups(f->mma, f->mma_group, kPending, emu_ptx::mma_perform);
}

inline void cp_async_16(void* smem, const void* gmem) {
  emu_ptx::check_copy(smem, gmem);
  emu_ptx::issue(smem, gmem);
}

inline void cp_async_16_zfill(void* smem, const void* gmem, bool valid) {
  emu_ptx::check_copy(smem, valid ? gmem : nullptr);
  emu_ptx::issue(smem, valid ? gmem : nullptr);
}

inline void cp_async_commit() { ::emu::cur_fiber()->async_group++; }

template <int kPending>
inline void cp_async_wait() {
  ::emu::Fiber* f = ::emu::cur_fiber();
  emu_ptx::complete_groups(f->async, f->async_group, kPending,
                           [](const ::emu::AsyncCopy& c) { ::emu::land(c); });
}

template <bool kTrans>
inline void ldmatrix_x4(uint32_t (&r)[4], const __half* row) {
  const unsigned lane = ::emu::current_tid() & 31;
  const unsigned char* all = ::emu::warp_gather(kTrans ? "ldmatrix.x4.trans" : "ldmatrix.x4", &row,
                                                sizeof(row));
  const __half* rows[32];
  for (int l = 0; l < 32; ++l) memcpy(&rows[l], all + l * ::emu::kWarpBlob, sizeof(rows[l]));
  if (lane == 0) {
    for (int l = 0; l < 32; ++l) {
      if (!emu_ptx::aligned16(rows[l]) || !::emu::is_shared(rows[l], 16)) {
        ::emu::report("PTX", "ldmatrix row address of lane " + std::to_string(l) +
                                 " is not a 16-byte aligned shared memory row");
        break;
      }
    }
  }
  for (int j = 0; j < 4; ++j) {
    __half lo, hi;
    if (!kTrans) {
      const __half* src = rows[8 * j + lane / 4] + 2 * (lane % 4);
      lo = src[0];
      hi = src[1];
    } else {
      lo = rows[8 * j + 2 * (lane % 4)][lane / 4];
      hi = rows[8 * j + 2 * (lane % 4) + 1][lane / 4];
    }
    r[j] = uint32_t(lo.x) | (uint32_t(hi.x) << 16);
  }
}

inline void mma_16816(float (&c)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
  struct In { uint32_t a[4], b[2]; float c[4]; } mine{{a[0], a[1], a[2], a[3]}, {b0, b1}, {c[0], c[1], c[2], c[3]}};
  const unsigned char* all = ::emu::warp_gather("mma.m16n8k16.f32.f16", &mine, sizeof(mine));
  auto [slot, compute] = ::emu::warp_result();
  float (&D)[16][8] = *reinterpret_cast<float (*)[16][8]>(slot);
  static_assert(sizeof(D) <= sizeof(::emu::LaunchState::WarpResult::data), "result slot");
  if (compute) {
    double A[16][16], B[16][8], C[16][8];
    for (int l = 0; l < 32; ++l) {
      In in;
      memcpy(&in, all + l * ::emu::kWarpBlob, sizeof(in));
      const int g = l / 4, t = l % 4;
      for (int i = 0; i < 4; ++i) {
        const int row = g + 8 * (i % 2), col = 2 * t + 8 * (i / 2);
        A[row][col] = emu_ptx::half_bits(in.a[i], 0);
        A[row][col + 1] = emu_ptx::half_bits(in.a[i], 1);
      }
      for (int i = 0; i < 2; ++i) {
        B[2 * t + 8 * i][g] = emu_ptx::half_bits(in.b[i], 0);
        B[2 * t + 8 * i + 1][g] = emu_ptx::half_bits(in.b[i], 1);
      }
      emu_ptx::put_c(C, g, t, in.c);
    }
    for (int row = 0; row < 16; ++row) {
      for (int col = 0; col < 8; ++col) {
        double d = C[row][col];
        for (int k = 0; k < 16; ++k) d += A[row][k] * B[k][col];
        D[row][col] = static_cast<float>(d);
      }
    }
  }
  emu_ptx::take_c(c, D);
}

inline void mma_s8_16832(int (&c)[4], int a0, int a1, int a2, int a3, int b0, int b1) {
  struct In { int a[4], b[2], c[4]; } mine{{a0, a1, a2, a3}, {b0, b1}, {c[0], c[1], c[2], c[3]}};
  const unsigned char* all = ::emu::warp_gather("mma.m16n8k32.s32.s8", &mine, sizeof(mine));
  auto [slot, compute] = ::emu::warp_result();
  int32_t (&D)[16][8] = *reinterpret_cast<int32_t (*)[16][8]>(slot);
  if (compute) {
    int A[16][32], B[32][8], C[16][8];
    for (int l = 0; l < 32; ++l) {
      In in;
      memcpy(&in, all + l * ::emu::kWarpBlob, sizeof(in));
      const int g = l / 4, t = l % 4;
      for (int i = 0; i < 4; ++i) {
        for (int j = 0; j < 4; ++j) {
          A[g + 8 * (i % 2)][4 * t + 16 * (i / 2) + j] = (int8_t)(in.a[i] >> (8 * j));
        }
      }
      for (int i = 0; i < 2; ++i) {
        for (int j = 0; j < 4; ++j) B[4 * t + 16 * i + j][g] = (int8_t)(in.b[i] >> (8 * j));
      }
      emu_ptx::put_c(C, g, t, in.c);
    }
    for (int row = 0; row < 16; ++row) {
      for (int col = 0; col < 8; ++col) {
        uint32_t d = static_cast<uint32_t>(C[row][col]);
        for (int k = 0; k < 32; ++k) d += static_cast<uint32_t>(A[row][k] * B[k][col]);
        D[row][col] = static_cast<int32_t>(d);
      }
    }
  }
  emu_ptx::take_c(c, D);
}

}  // namespace ft4j
