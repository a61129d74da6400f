// kernel-emu: IEEE binary16 `__half` for the CPU, converted in software (round to nearest even,
// subnormals kept), so that no compiler _Float16 support is needed. test_emu checks the
// conversions against _Float16 where the compiler has it.
#pragma once

#include <cstdint>
#include <cstring>

#include "cuda_runtime.h"

struct __half {
  unsigned short x;
};

inline float __half2float(__half h) {
  // F. Giesen's half_to_float: shift into place, rebias; subnormals renormalised by a subtraction.
  const uint32_t shifted_exp = 0x7c00u << 13;
  uint32_t o = (uint32_t)(h.x & 0x7fffu) << 13;
  const uint32_t exp = shifted_exp & o;
  o += (127u - 15u) << 23;
  float f;
  if (exp == shifted_exp) {  // Inf / NaN
    o += (128u - 16u) << 23;
    memcpy(&f, &o, 4);
  } else if (exp == 0) {  // zero / subnormal
    o += 1u << 23;
    memcpy(&f, &o, 4);
    const uint32_t magic_bits = 113u << 23;
    float magic;
    memcpy(&magic, &magic_bits, 4);
    f -= magic;
  } else {
    memcpy(&f, &o, 4);
  }
  uint32_t bits;
  memcpy(&bits, &f, 4);
  bits |= (uint32_t)(h.x & 0x8000u) << 16;
  memcpy(&f, &bits, 4);
  return f;
}

inline __half __float2half_rn(float value) {
  // F. Giesen's float_to_half_fast3_rtne.
  uint32_t u;
  memcpy(&u, &value, 4);
  const uint32_t sign = u & 0x80000000u;
  u ^= sign;
  uint16_t o;
  if (u >= ((127u + 16u) << 23)) {  // >= 65536 (or Inf / NaN): Inf, NaN stays NaN
    o = u > (255u << 23) ? 0x7e00 : 0x7c00;
  } else if (u < (113u << 23)) {  // subnormal or zero: let the FPU round at the right bit
    const uint32_t magic_bits = ((127u - 15u) + (23u - 10u) + 1u) << 23;
    float f, magic;
    memcpy(&f, &u, 4);
    memcpy(&magic, &magic_bits, 4);
    f += magic;
    uint32_t r;
    memcpy(&r, &f, 4);
    o = (uint16_t)(r - magic_bits);
  } else {
    const uint32_t mant_odd = (u >> 13) & 1u;
    u += ((uint32_t)(15 - 127) << 23) + 0xfffu;
    u += mant_odd;
    o = (uint16_t)(u >> 13);
  }
  __half h;
  h.x = (unsigned short)(o | (sign >> 16));
  return h;
}
inline __half __float2half(float f) { return __float2half_rn(f); }
inline __half __ushort_as_half(unsigned short x) { __half h; h.x = x; return h; }
inline unsigned short __half_as_ushort(__half h) { return h.x; }

// Two halves in one 32-bit word, x in the low 16 bits (as on the GPU).
struct alignas(4) __half2 {
  __half x, y;
};
inline __half2 __floats2half2_rn(float a, float b) { return {__float2half_rn(a), __float2half_rn(b)}; }
inline __half2 __halves2half2(__half a, __half b) { return {a, b}; }
inline float2 __half22float2(__half2 h) { return {__half2float(h.x), __half2float(h.y)}; }
inline float __low2float(__half2 h) { return __half2float(h.x); }
inline float __high2float(__half2 h) { return __half2float(h.y); }
