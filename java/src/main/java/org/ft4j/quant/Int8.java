package org.ft4j.quant;

/**
 * Symmetric int8 quantization, the one definition every ft4j INT8 path follows (CPU reference,
 * kernels, GEMM epilogues):
 *
 * <pre>
 *   scale = amax / 127          q = clamp(rint(x * (127 / amax)), -127, 127)          x' = q * scale
 * </pre>
 *
 * rint rounds half to even (CUDA's __float2int_rn); -128 is never produced, so negation stays exact
 * and the grid is symmetric. Weights use their own amax: per output channel (row of the PyTorch
 * [out, in] matrix) in INT8 mode 1, per tensor in mode 2.
 */
public final class Int8 {
  /** The largest quantized magnitude. */
  public static final int QMAX = 127;

  private Int8() {}

  /** amax / 127; amax must be finite and &gt; 0. */
  public static double scale(double amax) {
    checkAmax(amax);
    return amax / QMAX;
  }

  /** clamp(rint(x * invScale), -127, 127), with invScale = 127 / amax. */
  public static int quantize(double x, double invScale) {
    double q = Math.rint(x * invScale);
    return (int) Math.max(-QMAX, Math.min(QMAX, q));
  }

  /** Replaces each value by its int8 grid point: quantize then dequantize with {@code amax}. */
  public static void fakeQuantize(double[] x, double amax) {
    checkAmax(amax);
    double inv = QMAX / amax;
    double scale = amax / QMAX;
    for (int i = 0; i < x.length; i++) {
      x[i] = quantize(x[i], inv) * scale;
    }
  }

  /** max |w[o, :]| per output channel of a row-major [out, in] weight. */
  public static float[] channelAmax(float[] w, int out, int in) {
    if (w.length != (long) out * in) {
      throw new IllegalArgumentException(
          "weight has " + w.length + " values, expected [" + out + ", " + in + "]");
    }
    float[] amax = new float[out];
    for (int o = 0; o < out; o++) {
      float m = 0;
      for (int i = o * in; i < (o + 1) * in; i++) {
        m = Math.max(m, Math.abs(w[i]));
      }
      amax[o] = m;
    }
    return amax;
  }

  /** max |w| over the whole tensor. */
  public static float tensorAmax(float[] w) {
    float m = 0;
    for (float v : w) {
      m = Math.max(m, Math.abs(v));
    }
    return m;
  }

  /**
   * A weight [out, in] quantized with per-row amax ({@code amax.length == out}, mode 1) or one amax
   * ({@code amax.length == 1}, mode 2). An all-zero row (amax 0) quantizes to zeros with scale 1.
   */
  public static QuantizedWeight quantizeWeight(float[] w, int out, int in, boolean perChannel) {
    float[] amax = perChannel ? channelAmax(w, out, in) : new float[] {tensorAmax(w)};
    byte[] q = new byte[w.length];
    float[] scales = new float[amax.length];
    for (int o = 0; o < out; o++) {
      float a = amax[perChannel ? o : 0];
      double inv = a > 0 ? QMAX / (double) a : 0;
      for (int i = o * in; i < (o + 1) * in; i++) {
        q[i] = (byte) quantize(w[i], inv);
      }
    }
    for (int c = 0; c < amax.length; c++) {
      scales[c] = amax[c] > 0 ? amax[c] / QMAX : 1f;
    }
    return new QuantizedWeight(q, scales, out, in);
  }

  /**
   * An int8 weight and its dequantization scales.
   *
   * @param values row-major [out, in]
   * @param scales [out] (per channel) or [1] (per tensor): w ≈ values * scale
   */
  public record QuantizedWeight(byte[] values, float[] scales, int out, int in) {
    /** The scale of output channel {@code o}. */
    public float scale(int o) {
      return scales.length == 1 ? scales[0] : scales[o];
    }

    /** values * scale as floats, [out, in]: the weight the fake-quantized reference multiplies. */
    public float[] dequantize() {
      float[] w = new float[values.length];
      for (int o = 0; o < out; o++) {
        double s = scale(o);
        for (int i = o * in; i < (o + 1) * in; i++) {
          w[i] = (float) (values[i] * s);
        }
      }
      return w;
    }
  }

  private static void checkAmax(double amax) {
    if (!(amax > 0) || Double.isInfinite(amax)) {
      throw new IllegalArgumentException("amax = " + amax + ", must be finite and > 0");
    }
  }
}
