package org.ft4j.quant;

import org.ft4j.encoder.EncoderConfig;
import org.ft4j.encoder.EncoderWeights;
import org.ft4j.encoder.LayerParam;
import org.ft4j.encoder.Precision;
import org.ft4j.reference.ActivationHook;
import org.ft4j.reference.ReferenceEncoder;

/**
 * The fake-quantized CPU reference of the INT8 encoder: {@link ReferenceEncoder} (float64) with
 * every GEMM weight replaced by its int8 grid value and the activations at each quantization point
 * of the mode rounded to their int8 grid. An int8 x int8 product summed in int32 and scaled by s_x
 * s_w equals the float64 product of the dequantized operands, so this is what an INT8 GPU encoder
 * computes up to its FP16/FP32 rounding elsewhere — its oracle — and the measure of INT8 accuracy
 * on the CPU.
 *
 * <p>Both modes:
 *
 * <ul>
 *   <li>GEMM weights: multiplied per input column by the scale set's smoothing factors (if any),
 *       then int8 per output channel.
 *   <li>GEMM inputs (qkv_in, attn_out_in, ffn1_in, ffn2_in): divided by the smoothing factors (if
 *       any), then int8 with the per-tensor amax.
 * </ul>
 *
 * With {@link InputScaling#PER_TOKEN} (the default) qkv_in, ffn1_in and ffn2_in use each row's own
 * amax instead of the calibrated one.
 *
 * <p>Mode 1 stops there: GEMM outputs dequantized, residual and layernorm on unquantized values
 * (FP16 on the GPU). Mode 2 also quantizes q/k/v_out per tensor (the attention reads int8 Q, K, V),
 * attn_out_out, ffn1_out and ffn2_out per channel when the scale set has per-channel amax for them
 * (per tensor otherwise), all before their bias; and the residual adds the int8 layer input and
 * attention layernorm output (per-channel scale amax/127 · s_c when smoothed). With {@link
 * ScaleSet#ffn2OutTokenScaled()} ffn2_out is quantized with unit step_r · amax_c / 127, step_r the
 * per-token step of the same rows of ffn2_in.
 */
public final class QuantizedReference {
  private QuantizedReference() {}

  /**
   * How the GEMM inputs get their int8 scale: qkv_in and ffn1_in (written by a layernorm), ffn2_in
   * (bias + GELU; these three after smoothing) and attn_out_in (the attention context).
   */
  public enum InputScaling {
    /** One calibrated amax per tensor (FasterTransformer's way; any int8 GEMM can consume it). */
    STATIC,
    /**
     * The amax of each token's row, found by the kernel that writes the row (a quantize kernel
     * after the attention); the GEMM epilogue multiplies by a per-row and a per-column scale.
     * Measured on MiniLM (docs/int8.md): mode 1 mean cosine 0.9967 static, 0.9989 per token; a
     * static attn_out_in clips texts unlike the calibration texts (BGE-small on a Hindi question:
     * 0.912, per token 0.9987).
     */
    PER_TOKEN
  }

  /** The default input scaling: {@link InputScaling#PER_TOKEN}. */
  public static final InputScaling DEFAULT_SCALING = InputScaling.PER_TOKEN;

  /** {@link #of(EncoderWeights, ScaleSet, Precision, InputScaling)} with the default scaling. */
  public static ReferenceEncoder of(EncoderWeights weights, ScaleSet scales, Precision mode) {
    return of(weights, scales, mode, DEFAULT_SCALING);
  }

  /**
   * The fake-quantized reference encoder of {@code weights} in {@code mode} with {@code scales}.
   */
  public static ReferenceEncoder of(
      EncoderWeights weights, ScaleSet scales, Precision mode, InputScaling scaling) {
    EncoderConfig config = weights.config();
    scales.require(config, mode);
    return new ReferenceEncoder(quantizeWeights(weights, scales), hook(scales, mode, scaling));
  }

  /** {@link #hook(ScaleSet, Precision, InputScaling)} with static scaling. */
  public static ActivationHook hook(ScaleSet scales, Precision mode) {
    return hook(scales, mode, InputScaling.STATIC);
  }

  /** Whether {@code p} is quantized per token under {@code scaling}. */
  static boolean perToken(ActivationHook.Point p, InputScaling scaling) {
    return scaling == InputScaling.PER_TOKEN && p.isGemmInput();
  }

  /** The hook that rounds the activations of {@code mode}'s points to their int8 grid. */
  public static ActivationHook hook(ScaleSet scales, Precision mode, InputScaling scaling) {
    if (scaling == null) {
      throw new IllegalArgumentException("input scaling is null (STATIC or PER_TOKEN)");
    }
    boolean[] quantized = new boolean[ActivationHook.Point.values().length];
    for (ActivationHook.Point p : ScaleSet.pointsOf(mode)) {
      quantized[p.ordinal()] = true;
    }
    boolean mode2 = mode == Precision.INT8_MODE_2;
    // per thread (forward passes may run concurrently), per layer: the last ffn2_in row steps
    ThreadLocal<double[][]> ffn2InStep =
        ThreadLocal.withInitial(() -> new double[scales.layers()][]);
    return new ActivationHook() {
      @Override
      public void apply(int layer, Point point, double[] values, int rows, int cols) {
        if (!quantized[point.ordinal()]) {
          return;
        }
        double amax = scales.amax(layer, point);
        if (point.isGemmInput()) {
          double[] s = scales.smooth(layer, point);
          if (s != null) {
            for (int i = 0; i < values.length; i++) {
              values[i] /= s[i % cols];
            }
          }
          boolean rowScaled = perToken(point, scaling);
          if (point == Point.FFN2_IN) { // ffn2_out's per-token unit comes from these rows
            double[] step = new double[rows];
            if (rowScaled) {
              step = Calibrator.rowSteps(values, rows, cols);
            } else {
              java.util.Arrays.fill(step, Int8.scale(amax));
            }
            ffn2InStep.get()[layer] = step;
          }
          if (rowScaled) {
            fakeQuantizeRows(values, rows, cols, null);
          } else {
            Int8.fakeQuantize(values, amax);
          }
          return;
        }
        double[] channel = scales.channelAmax(layer, point);
        if (point == Point.FFN2_OUT && scales.ffn2OutTokenScaled()) {
          double[] step = ffn2InStep.get()[layer];
          for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
              double unit = step[r] * channel[c] / Int8.QMAX;
              values[r * cols + c] = Int8.quantize(values[r * cols + c], 1 / unit) * unit;
            }
          }
          return;
        }
        if (channel == null) {
          Int8.fakeQuantize(values, amax);
        } else {
          fakeQuantizeColumns(values, cols, channel, null);
        }
      }

      @Override
      public boolean quantizedResidual() {
        return mode2;
      }

      @Override
      public void applyResidual(int layer, Point point, double[] values, int rows, int cols) {
        double amax = scales.amax(layer, point);
        double[] s = scales.smooth(layer, point);
        if (perToken(point, scaling)) {
          fakeQuantizeRows(values, rows, cols, s);
          return;
        }
        if (s == null) {
          Int8.fakeQuantize(values, amax);
          return;
        }
        double[] a = new double[cols];
        java.util.Arrays.fill(a, amax);
        fakeQuantizeColumns(values, cols, a, s);
      }
    };
  }

  /**
   * Rounds each row of the row-major [rows, cols] {@code values} to the grid of its own amax (of
   * x_c / s_c when s is given, the values then multiplied back by s_c). An all-zero row stays 0.
   */
  static void fakeQuantizeRows(double[] values, int rows, int cols, double[] s) {
    for (int r = 0; r < rows; r++) {
      int at = r * cols;
      double amax = 0;
      for (int c = 0; c < cols; c++) {
        amax = Math.max(amax, Math.abs(s == null ? values[at + c] : values[at + c] / s[c]));
      }
      if (amax == 0) {
        continue;
      }
      double inv = Int8.QMAX / amax;
      double step = Int8.scale(amax);
      for (int c = 0; c < cols; c++) {
        double f = s == null ? 1 : s[c];
        values[at + c] = Int8.quantize(values[at + c] / f, inv) * step * f;
      }
    }
  }

  /**
   * Rounds column c of the row-major [*, cols] {@code values} to the grid of amax[c] (times s[c]
   * when given: quantize x_c / s_c with amax[c], dequantize, multiply back by s_c).
   */
  static void fakeQuantizeColumns(double[] values, int cols, double[] amax, double[] s) {
    double[] inv = new double[cols];
    double[] step = new double[cols];
    for (int c = 0; c < cols; c++) {
      double f = s == null ? 1 : s[c];
      inv[c] = Int8.QMAX / amax[c] / f;
      step[c] = Int8.scale(amax[c]) * f;
    }
    for (int i = 0; i < values.length; i++) {
      int c = i % cols;
      values[i] = Int8.quantize(values[i], inv[c]) * step[c];
    }
  }

  /**
   * {@code weights} with every GEMM weight multiplied per input column by the scale set's smoothing
   * factors (when it has them) and replaced by its dequantized per-output-channel int8 value
   * ({@link Int8EncoderWeights#quantizeWeight}: rounded to nearest or as the scale set's weight
   * rounding says). Biases and layernorm parameters are kept.
   */
  public static EncoderWeights quantizeWeights(EncoderWeights weights, ScaleSet scales) {
    return transformWeights(weights, scales, true);
  }

  /**
   * {@code weights} with every GEMM weight multiplied per input column by the scale set's smoothing
   * factors, not quantized: with GEMM inputs divided by the same factors the encoder computes the
   * same function (up to rounding).
   */
  public static EncoderWeights smoothWeights(EncoderWeights weights, ScaleSet scales) {
    return transformWeights(weights, scales, false);
  }

  private static EncoderWeights transformWeights(
      EncoderWeights weights, ScaleSet scales, boolean quantize) {
    EncoderConfig config = weights.config();
    EncoderWeights.Builder b = EncoderWeights.builder(config);
    for (int l = 0; l < config.layers(); l++) {
      for (LayerParam p : LayerParam.values()) {
        float[] w = weights.get(l, p);
        int[] shape = p.shape(config);
        if (p.isMatrix()) {
          if (quantize) {
            w = Int8EncoderWeights.quantizeWeight(weights, scales, l, p).dequantize();
          } else {
            smooth(w, shape[0], shape[1], scales == null ? null : scales.smooth(l, inputOf(p)));
          }
        }
        b.put(p.nameIn(l), w, shape);
      }
    }
    return b.build();
  }

  /**
   * Multiplies column c of the row-major [out, in] weight {@code w} by s[c], in place (SmoothQuant:
   * the input is divided by the same factors); nothing when s is null.
   */
  static void smooth(float[] w, int out, int in, double[] s) {
    if (s == null) {
      return;
    }
    for (int o = 0; o < out; o++) {
      for (int c = 0; c < in; c++) {
        w[o * in + c] = (float) (w[o * in + c] * s[c]);
      }
    }
  }

  /** The GEMM input a weight reads. */
  static ActivationHook.Point inputOf(LayerParam weight) {
    return switch (weight) {
      case QUERY_WEIGHT, KEY_WEIGHT, VALUE_WEIGHT -> ActivationHook.Point.QKV_IN;
      case ATTENTION_OUTPUT_WEIGHT -> ActivationHook.Point.ATTN_OUT_IN;
      case INTERMEDIATE_WEIGHT -> ActivationHook.Point.FFN1_IN;
      case OUTPUT_WEIGHT -> ActivationHook.Point.FFN2_IN;
      default -> throw new IllegalArgumentException(weight + " is not a GEMM weight");
    };
  }
}
