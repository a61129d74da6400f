package org.ft4j.quant;

import org.ft4j.encoder.EncoderConfig;
import org.ft4j.encoder.EncoderWeights;
import org.ft4j.encoder.LayerParam;
import org.ft4j.encoder.Precision;
import org.ft4j.reference.ActivationHook.Point;

/**
 * What an INT8 mode-1 GPU encoder uploads besides biases and layernorm parameters, prepared on the
 * host from FP32 weights and a scale set: each GEMM weight multiplied per input column by its
 * smoothing factors (when the scale set has them), then int8 per output channel; the inverse
 * smoothing factors the kernels apply to the GEMM inputs; the static amax of attn_out_in (for
 * static input scaling; the GPU encoders quantize attn_out_in per token).
 *
 * <p>The int8 values times their scales are exactly the weights {@link
 * QuantizedReference#quantizeWeights} gives the fake-quantized reference, so the GPU encoder and
 * its CPU oracle multiply the same numbers.
 */
public final class Int8EncoderWeights {
  /**
   * One layer.
   *
   * @param qkv [3 hidden, hidden]: query, key and value weights stacked (per-row scales)
   * @param attentionOutput [hidden, hidden]
   * @param intermediate [intermediate, hidden]
   * @param output [hidden, intermediate]
   * @param qkvInvSmooth [hidden] 1 / s_c for qkv_in, or null (not smoothed)
   * @param ffn1InvSmooth [hidden] for ffn1_in, or null
   * @param ffn2InvSmooth [intermediate] for ffn2_in, or null
   * @param attentionOutputAmax the static amax of attn_out_in (the attention output)
   * @param mode2 INT8 mode 2's GEMM output amax, null in mode 1
   */
  public record Layer(
      Int8.QuantizedWeight qkv,
      Int8.QuantizedWeight attentionOutput,
      Int8.QuantizedWeight intermediate,
      Int8.QuantizedWeight output,
      float[] qkvInvSmooth,
      float[] ffn1InvSmooth,
      float[] ffn2InvSmooth,
      float attentionOutputAmax,
      Mode2Outputs mode2) {}

  private final EncoderConfig config;
  private final Layer[] layers;

  private Int8EncoderWeights(EncoderConfig config, Layer[] layers) {
    this.config = config;
    this.layers = layers;
  }

  /**
   * Quantizes {@code weights} for INT8 mode 1 with {@code scales}.
   *
   * @throws ScaleSetException when the scales do not fit the weights' shape or lack a point mode 1
   *     needs
   */
  public static Int8EncoderWeights of(EncoderWeights weights, ScaleSet scales) {
    return of(weights, scales, Precision.INT8_MODE_1);
  }

  /**
   * Quantizes {@code weights} for INT8 {@code mode} with {@code scales}; mode 2 also takes the GEMM
   * outputs' amax ({@link Layer#mode2()}).
   *
   * @throws ScaleSetException when the scales do not fit the weights' shape or lack a point the
   *     mode needs
   */
  public static Int8EncoderWeights of(EncoderWeights weights, ScaleSet scales, Precision mode) {
    if (weights == null || scales == null) {
      throw new IllegalArgumentException("weights and INT8 scales must not be null");
    }
    if (mode != Precision.INT8_MODE_1 && mode != Precision.INT8_MODE_2) {
      throw new IllegalArgumentException("not an INT8 mode: " + mode);
    }
    EncoderConfig config = weights.config();
    scales.require(config, mode);
    Layer[] layers = new Layer[config.layers()];
    for (int l = 0; l < layers.length; l++) {
      int h = config.hidden();
      float amax = (float) scales.amax(l, Point.ATTN_OUT_IN);
      layers[l] =
          new Layer(
              stack(
                  quantizeWeight(weights, scales, l, LayerParam.QUERY_WEIGHT),
                  quantizeWeight(weights, scales, l, LayerParam.KEY_WEIGHT),
                  quantizeWeight(weights, scales, l, LayerParam.VALUE_WEIGHT)),
              quantizeWeight(weights, scales, l, LayerParam.ATTENTION_OUTPUT_WEIGHT),
              quantizeWeight(weights, scales, l, LayerParam.INTERMEDIATE_WEIGHT),
              quantizeWeight(weights, scales, l, LayerParam.OUTPUT_WEIGHT),
              inverse(scales.smooth(l, Point.QKV_IN)),
              inverse(scales.smooth(l, Point.FFN1_IN)),
              inverse(scales.smooth(l, Point.FFN2_IN)),
              amax,
              mode == Precision.INT8_MODE_2 ? mode2Outputs(scales, config, l) : null);
      if (layers[l].qkv().out() != 3 * h) {
        throw new IllegalStateException("QKV weight has " + layers[l].qkv().out() + " rows");
      }
    }
    return new Int8EncoderWeights(config, layers);
  }

  public EncoderConfig config() {
    return config;
  }

  public int layers() {
    return layers.length;
  }

  public Layer layer(int l) {
    if (l < 0 || l >= layers.length) {
      throw new IndexOutOfBoundsException(
          "layer " + l + " out of range [0, " + layers.length + ")");
    }
    return layers[l];
  }

  /**
   * The int8 weight {@code p} (a GEMM weight, [out, in]) of {@code layer} that both INT8 modes
   * multiply, on the GPU and in the CPU reference: multiplied per input column by the scale set's
   * smoothing factors for its input (when it has them), int8 per output channel with scale
   * amax(row) / 127, rounded to nearest or as the scale set's {@link WeightRounding} says.
   *
   * @throws ScaleSetException when the scale set's weight rounding does not fit these weights
   */
  public static Int8.QuantizedWeight quantizeWeight(
      EncoderWeights weights, ScaleSet scales, int layer, LayerParam p) {
    int[] shape = p.shape(weights.config());
    float[] w = weights.get(layer, p);
    QuantizedReference.smooth(
        w,
        shape[0],
        shape[1],
        scales == null ? null : scales.smooth(layer, QuantizedReference.inputOf(p)));
    Int8.QuantizedWeight q = Int8.quantizeWeight(w, shape[0], shape[1], true);
    WeightRounding r = scales == null ? null : scales.weightRounding();
    return r == null ? q : r.apply(layer, p, q);
  }

  /** Per-channel weights with the same input width, their rows one after the other. */
  static Int8.QuantizedWeight stack(Int8.QuantizedWeight... parts) {
    int out = 0;
    for (Int8.QuantizedWeight p : parts) {
      if (p.in() != parts[0].in() || p.scales().length != p.out()) {
        throw new IllegalArgumentException(
            "cannot stack weights of different widths or per-tensor scales");
      }
      out += p.out();
    }
    int in = parts[0].in();
    byte[] v = new byte[out * in];
    float[] sc = new float[out];
    int row = 0;
    for (Int8.QuantizedWeight p : parts) {
      System.arraycopy(p.values(), 0, v, row * in, p.values().length);
      System.arraycopy(p.scales(), 0, sc, row, p.out());
      row += p.out();
    }
    return new Int8.QuantizedWeight(v, sc, out, in);
  }

  /**
   * The amax INT8 mode 2 quantizes one layer's GEMM outputs with (before the bias), one per output
   * column: q/k/v_out per tensor (each repeated over its third of the QKV output), attn_out_out,
   * ffn1_out and ffn2_out per channel where the scale set has per-channel amax, else per tensor.
   *
   * @param qkv [3 hidden]
   * @param attentionOutput [hidden]
   * @param intermediate [intermediate]
   * @param output [hidden]; with {@code outputTokenScaled} in units of the FFN2 input's per-token
   *     step ({@link ScaleSet#ffn2OutTokenScaled()})
   * @param outputTokenScaled whether ffn2_out is quantized per token and channel
   */
  public record Mode2Outputs(
      float[] qkv,
      float[] attentionOutput,
      float[] intermediate,
      float[] output,
      boolean outputTokenScaled) {}

  /**
   * {@link Mode2Outputs} of {@code layer}.
   *
   * @throws ScaleSetException when the scale set lacks a mode-2 point
   */
  public static Mode2Outputs mode2Outputs(ScaleSet scales, EncoderConfig config, int layer) {
    scales.require(config, Precision.INT8_MODE_2);
    int h = config.hidden();
    float[] qkv = new float[3 * h];
    Point[] parts = {Point.Q_OUT, Point.K_OUT, Point.V_OUT};
    for (int part = 0; part < 3; part++) { // per tensor, or per channel where the set has it
      System.arraycopy(columnAmax(scales, layer, parts[part], h), 0, qkv, part * h, h);
    }
    return new Mode2Outputs(
        qkv,
        columnAmax(scales, layer, Point.ATTN_OUT_OUT, h),
        columnAmax(scales, layer, Point.FFN1_OUT, config.intermediateSize()),
        columnAmax(scales, layer, Point.FFN2_OUT, h),
        scales.ffn2OutTokenScaled());
  }

  private static float[] columnAmax(ScaleSet scales, int layer, Point p, int cols) {
    double[] c = scales.channelAmax(layer, p);
    float[] a = new float[cols];
    for (int i = 0; i < cols; i++) {
      a[i] = (float) (c != null ? c[i] : scales.amax(layer, p));
    }
    return a;
  }

  /** 1 / s_c as floats, or null. */
  static float[] inverse(double[] s) {
    if (s == null) {
      return null;
    }
    float[] inv = new float[s.length];
    for (int c = 0; c < s.length; c++) {
      inv[c] = (float) (1 / s[c]);
    }
    return inv;
  }
}
