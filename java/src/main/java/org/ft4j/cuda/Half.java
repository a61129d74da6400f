package org.ft4j.cuda;

/**
 * IEEE 754 binary16 conversions on the host (JDK 17 has none): float → half rounds to nearest, ties
 * to even, like the device's __float2half_rn; overflow gives infinity; NaN stays NaN.
 */
public final class Half {
  private Half() {}

  /** The binary16 bit pattern nearest to {@code value}. */
  public static short fromFloat(float value) {
    int bits = Float.floatToRawIntBits(value);
    int sign = (bits >>> 16) & 0x8000;
    int exponent = (bits >>> 23) & 0xFF;
    int mantissa = bits & 0x7FFFFF;
    if (exponent == 0xFF) { // Inf or NaN (keep a quiet NaN payload bit)
      return (short) (sign | 0x7C00 | (mantissa != 0 ? 0x200 | (mantissa >>> 13) : 0));
    }
    int e = exponent - 127 + 15; // rebias
    if (e >= 0x1F) {
      return (short) (sign | 0x7C00); // overflow → infinity
    }
    if (e <= 0) { // subnormal half or zero
      if (e < -10) {
        return (short) sign; // below half the smallest subnormal: ±0
      }
      int m = mantissa | 0x800000; // implicit leading 1
      int shift = 14 - e; // 24-bit significand → 10-bit subnormal field
      int half = m >>> shift;
      int rest = m & ((1 << shift) - 1);
      int midpoint = 1 << (shift - 1);
      if (rest > midpoint || (rest == midpoint && (half & 1) != 0)) {
        half++;
      }
      return (short) (sign | half);
    }
    int half = (e << 10) | (mantissa >>> 13);
    int rest = mantissa & 0x1FFF;
    if (rest > 0x1000 || (rest == 0x1000 && (half & 1) != 0)) {
      half++; // may carry into the exponent, up to infinity: still correct
    }
    return (short) (sign | half);
  }

  /** The float value of a binary16 bit pattern (exact). */
  public static float toFloat(short halfBits) {
    int h = halfBits & 0xFFFF;
    int sign = (h & 0x8000) << 16;
    int exponent = (h >>> 10) & 0x1F;
    int mantissa = h & 0x3FF;
    if (exponent == 0x1F) {
      return Float.intBitsToFloat(sign | 0x7F800000 | (mantissa << 13));
    }
    if (exponent == 0) {
      float magnitude = mantissa * 0x1p-24f; // subnormal (or zero)
      return sign != 0 ? -magnitude : magnitude;
    }
    return Float.intBitsToFloat(sign | ((exponent - 15 + 127) << 23) | (mantissa << 13));
  }

  /** {@code value} rounded to the nearest half and back. */
  public static float round(float value) {
    return toFloat(fromFloat(value));
  }

  /** Element-wise {@link #fromFloat}. */
  public static short[] fromFloats(float[] values) {
    short[] out = new short[values.length];
    for (int i = 0; i < values.length; i++) {
      out[i] = fromFloat(values[i]);
    }
    return out;
  }

  /** Element-wise {@link #toFloat}. */
  public static float[] toFloats(short[] halves) {
    float[] out = new float[halves.length];
    for (int i = 0; i < halves.length; i++) {
      out[i] = toFloat(halves[i]);
    }
    return out;
  }
}
