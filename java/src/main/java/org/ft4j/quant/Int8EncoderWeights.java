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
 * smoothing factors the kernels apply to the GEMM inputs; the static amax of attn_out_in.
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
   */
  public record Layer(
      Int8.QuantizedWeight qkv,
      Int8.QuantizedWeight attentionOutput,
      Int8.QuantizedWeight intermediate,
      Int8.QuantizedWeight output,
      float[] qkvInvSmooth,
      float[] ffn1InvSmooth,
      float[] ffn2InvSmooth,
      float attentionOutputAmax) {}

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
    if (weights == null || scales == null) {
      throw new IllegalArgumentException("weights and INT8 scales must not be null");
    }
    EncoderConfig config = weights.config();
    scales.require(config, Precision.INT8_MODE_1);
    Layer[] layers = new Layer[config.layers()];
    for (int l = 0; l < layers.length; l++) {
      float[] qkv =
          weights.stacked(
              l, LayerParam.QUERY_WEIGHT, LayerParam.KEY_WEIGHT, LayerParam.VALUE_WEIGHT);
      int h = config.hidden();
      int i = config.intermediateSize();
      float amax = (float) scales.amax(l, Point.ATTN_OUT_IN);
      layers[l] =
          new Layer(
              quantize(qkv, 3 * h, h, scales.smooth(l, Point.QKV_IN)),
              quantize(weights.get(l, LayerParam.ATTENTION_OUTPUT_WEIGHT), h, h, null),
              quantize(
                  weights.get(l, LayerParam.INTERMEDIATE_WEIGHT),
                  i,
                  h,
                  scales.smooth(l, Point.FFN1_IN)),
              quantize(
                  weights.get(l, LayerParam.OUTPUT_WEIGHT), h, i, scales.smooth(l, Point.FFN2_IN)),
              inverse(scales.smooth(l, Point.QKV_IN)),
              inverse(scales.smooth(l, Point.FFN1_IN)),
              inverse(scales.smooth(l, Point.FFN2_IN)),
              amax);
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

  private static Int8.QuantizedWeight quantize(float[] w, int out, int in, double[] smooth) {
    QuantizedReference.smooth(w, out, in, smooth);
    return Int8.quantizeWeight(w, out, in, true);
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
