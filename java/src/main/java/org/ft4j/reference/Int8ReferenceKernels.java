package org.ft4j.reference;

/**
 * CPU references of the INT8 mode-1 row kernels (native/include/ft4j.h, kernels/quantize.cuh), in
 * float64 with the kernels' formulas; the oracle of their GPU tests. Quantization follows {@link
 * org.ft4j.quant.Int8}: q = clamp(rint(v · 127 / amax), −127, 127).
 */
public final class Int8ReferenceKernels {
  private Int8ReferenceKernels() {}

  /**
   * An int8 tensor and its per-row dequantization scales.
   *
   * @param values [rows, cols]
   * @param rowScale [rows] (amax / 127 of each row) for per-token quantization, null when static
   * @param scaled the values before rounding, v · 127 / amax: where a GPU may round the other way
   *     (|scaled − (k + 0.5)| tiny) tests accept a difference of one
   */
  public record Quantized(byte[] values, float[] rowScale, double[] scaled) {}

  /**
   * Quantizes y [rows, cols] (times invSmooth[c] when not null): per token when {@code perToken} (a
   * row of zeros gets amax 1), else with {@code staticAmax}.
   */
  public static Quantized quantizeRows(
      double[] y, int rows, int cols, float[] invSmooth, boolean perToken, float staticAmax) {
    byte[] q = new byte[rows * cols];
    double[] scaled = new double[rows * cols];
    float[] rowScale = perToken ? new float[rows] : null;
    double[] v = new double[cols];
    for (int r = 0; r < rows; r++) {
      double amax = staticAmax;
      double m = 0;
      for (int c = 0; c < cols; c++) {
        v[c] = y[r * cols + c] * (invSmooth == null ? 1 : invSmooth[c]);
        m = Math.max(m, Math.abs(v[c]));
      }
      if (perToken) {
        amax = m > 0 ? m : 1;
        rowScale[r] = (float) (amax / 127);
      }
      for (int c = 0; c < cols; c++) {
        double s = v[c] * 127 / amax;
        scaled[r * cols + c] = s;
        q[r * cols + c] = (byte) Math.max(-127, Math.min(127, Math.rint(s)));
      }
    }
    return new Quantized(q, rowScale, scaled);
  }

  /** Float input version of {@link #quantizeRows(double[], int, int, float[], boolean, float)}. */
  public static Quantized quantizeRows(
      float[] x, int rows, int cols, float[] invSmooth, boolean perToken, float staticAmax) {
    double[] y = new double[x.length];
    for (int i = 0; i < x.length; i++) {
      y[i] = x[i];
    }
    return quantizeRows(y, rows, cols, invSmooth, perToken, staticAmax);
  }

  /**
   * y[r, c] = acc[r, c] · a_r · wScale[c] + bias[c] (a_r = inScale[r], or inStaticScale when
   * inScale is null), then the exact GELU when {@code gelu}.
   */
  public static double[] dequantizeBiasAct(
      int[] acc,
      float[] inScale,
      float inStaticScale,
      float[] wScale,
      float[] bias,
      boolean gelu,
      int rows,
      int cols) {
    double[] y = new double[rows * cols];
    for (int r = 0; r < rows; r++) {
      double a = inScale != null ? inScale[r] : inStaticScale;
      for (int c = 0; c < cols; c++) {
        double v = acc[r * cols + c] * a * wScale[c] + (bias == null ? 0 : bias[c]);
        y[r * cols + c] = gelu ? ReferenceKernels.gelu(v) : v;
      }
    }
    return y;
  }

  /** out[r, :] = layernorm(acc[r, :] · a_r · wScale + bias + residual[r, :]) · gamma + beta. */
  public static double[] dequantizeBiasResidualLayerNorm(
      int[] acc,
      float[] inScale,
      float inStaticScale,
      float[] wScale,
      float[] bias,
      float[] residual,
      float[] gamma,
      float[] beta,
      double eps,
      int rows,
      int cols) {
    double[] out = new double[rows * cols];
    double[] g = new double[cols];
    double[] b = new double[cols];
    for (int c = 0; c < cols; c++) {
      g[c] = gamma[c];
      b[c] = beta[c];
    }
    double[] row = new double[cols];
    for (int r = 0; r < rows; r++) {
      double a = inScale != null ? inScale[r] : inStaticScale;
      for (int c = 0; c < cols; c++) {
        row[c] =
            acc[r * cols + c] * a * wScale[c]
                + (bias == null ? 0 : bias[c])
                + residual[r * cols + c];
      }
      ReferenceKernels.layerNormRow(row, g, b, eps, out, r * cols);
    }
    return out;
  }

  /**
   * The dequantized values of {@code q} [rows, cols] in the units of the tensor it was quantized
   * from: q · step_r / invSmooth[c], step_r = rowScale[r] (per token) or staticAmax / 127. What a
   * row kernel writes beside its int8 output in INT8 mode 2, where the residual adds the int8 GEMM
   * input rather than the FP16 value.
   */
  public static float[] dequantized(
      Quantized q, int rows, int cols, float[] invSmooth, float staticAmax) {
    float[] out = new float[rows * cols];
    for (int r = 0; r < rows; r++) {
      double step = q.rowScale() != null ? q.rowScale()[r] : staticAmax / 127.0;
      for (int c = 0; c < cols; c++) {
        out[r * cols + c] =
            (float) (q.values()[r * cols + c] * step / (invSmooth == null ? 1 : invSmooth[c]));
      }
    }
    return out;
  }

  /**
   * ft4j's INT8 GEMM with the int8 epilogue: y = acc[m, n] · a_m · wScale[n] (a_m = aScale[m], or
   * aStatic when aScale is null), stored as clamp(rint(y · 127 / outAmax[n]), −127, 127).
   */
  public static byte[] gemmInt8ToInt8(
      byte[] a,
      byte[] b,
      int m,
      int n,
      int k,
      float[] aScale,
      float aStatic,
      float[] wScale,
      float[] outAmax) {
    int[] acc = gemmInt8(a, b, m, n, k);
    byte[] q = new byte[m * n];
    for (int i = 0; i < m; i++) {
      double am = aScale != null ? aScale[i] : aStatic;
      for (int j = 0; j < n; j++) {
        double y = acc[i * n + j] * am * wScale[j];
        q[i * n + j] = (byte) Math.max(-127, Math.min(127, Math.rint(y * 127 / outAmax[j])));
      }
    }
    return q;
  }

  /**
   * INT8 mode 2's fused attention ({@code ft4j_fused_attention_int8}): {@link
   * ReferenceKernels#attention} of qkv [batch·seq, 3·hidden] int8 dequantized per part (Q · qStep,
   * K · kStep, V · vStep; hidden = heads · size) plus qkvBias (may be null), quantized with the
   * static {@code outAmax}. Padded query rows come out as 0.
   */
  public static Quantized attentionInt8(
      byte[] qkv,
      float[] qkvBias,
      int[] lengths,
      int batch,
      int seq,
      int heads,
      int size,
      double scale,
      float qStep,
      float kStep,
      float vStep,
      float outAmax) {
    int hidden = heads * size;
    int rows = batch * seq;
    if (qkv.length != (long) rows * 3 * hidden) {
      throw new IllegalArgumentException(
          "attentionInt8: qkv holds "
              + qkv.length
              + " values, expected ["
              + rows
              + ", "
              + 3 * hidden
              + "]");
    }
    float[] steps = {qStep, kStep, vStep};
    float[] x = new float[qkv.length];
    for (int r = 0; r < rows; r++) {
      for (int c = 0; c < 3 * hidden; c++) {
        int i = r * 3 * hidden + c;
        x[i] = (float) (qkv[i] * (double) steps[c / hidden]);
      }
    }
    float[] out = ReferenceKernels.attention(x, qkvBias, lengths, batch, seq, heads, size, scale);
    return quantizeRows(out, rows, hidden, null, false, outAmax);
  }

  /** The values of {@code q} as ints (a dequantizing kernel reads int8 like int32). */
  public static int[] widen(byte[] q) {
    int[] v = new int[q.length];
    for (int i = 0; i < q.length; i++) {
      v[i] = q[i];
    }
    return v;
  }

  /** amax / 127 per column: the dequantization scales of an int8 GEMM output. */
  public static float[] steps(float[] amax) {
    float[] s = new float[amax.length];
    for (int i = 0; i < amax.length; i++) {
      s[i] = amax[i] / 127f;
    }
    return s;
  }

  /** acc[m, n] = sum_k a[m, k] · b[n, k] exactly (a [m, k], b [n, k] row-major int8). */
  public static int[] gemmInt8(byte[] a, byte[] b, int m, int n, int k) {
    int[] acc = new int[m * n];
    for (int i = 0; i < m; i++) {
      for (int j = 0; j < n; j++) {
        long s = 0;
        for (int t = 0; t < k; t++) {
          s += a[i * k + t] * b[j * k + t];
        }
        if (s != (int) s) {
          throw new ArithmeticException("int32 accumulator overflows at [" + i + ", " + j + "]");
        }
        acc[i * n + j] = (int) s;
      }
    }
    return acc;
  }
}
