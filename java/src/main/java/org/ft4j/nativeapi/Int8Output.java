package org.ft4j.nativeapi;

import org.ft4j.cuda.DeviceBuffer;

/**
 * Where and how a kernel writes an int8 tensor [rows, cols] (docs/int8.md): q = clamp(rint(v · 127
 * / amax), −127, 127) with v = x · invSmooth[c] when {@code invSmooth} is given.
 *
 * @param values int8 [rows, cols]
 * @param rowScale float [rows] for per-token quantization (the kernel writes each row's amax / 127
 *     there), or null for static quantization with {@code staticAmax}
 * @param invSmooth float [cols] (1 / s_c of the smoothing), or null
 * @param staticAmax the amax of static quantization (&gt; 0); ignored per token
 */
public record Int8Output(
    DeviceBuffer values, DeviceBuffer rowScale, DeviceBuffer invSmooth, float staticAmax) {
  public Int8Output {
    if (values == null) {
      throw new IllegalArgumentException("int8 output buffer is null");
    }
    if (rowScale == null && !(staticAmax > 0 && staticAmax < Float.POSITIVE_INFINITY)) {
      throw new IllegalArgumentException(
          "static int8 quantization needs amax > 0 and finite, got " + staticAmax);
    }
  }

  /** Per-token quantization into {@code values} with scales to {@code rowScale}. */
  public static Int8Output perToken(DeviceBuffer values, DeviceBuffer rowScale, DeviceBuffer inv) {
    if (rowScale == null) {
      throw new IllegalArgumentException("per-token int8 output needs a row-scale buffer");
    }
    return new Int8Output(values, rowScale, inv, 0f);
  }

  /** Static quantization of {@code values} with one calibrated amax. */
  public static Int8Output ofStatic(DeviceBuffer values, float amax, DeviceBuffer inv) {
    return new Int8Output(values, null, inv, amax);
  }

  void requireFits(int rows, int cols, String what) {
    String shape = " [" + rows + ", " + cols + "]";
    values.requireFits(org.ft4j.cuda.DType.INT8, (long) rows * cols, what + " int8 out" + shape);
    if (rowScale != null) {
      rowScale.requireFits(org.ft4j.cuda.DType.FP32, rows, what + " row scales [" + rows + "]");
    }
    if (invSmooth != null) {
      invSmooth.requireFits(org.ft4j.cuda.DType.FP32, cols, what + " inv_smooth [" + cols + "]");
    }
  }
}
