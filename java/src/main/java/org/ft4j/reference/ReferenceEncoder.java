package org.ft4j.reference;

import java.util.stream.IntStream;
import org.ft4j.encoder.Encoder;
import org.ft4j.encoder.EncoderConfig;
import org.ft4j.encoder.EncoderInputs;
import org.ft4j.encoder.EncoderWeights;
import org.ft4j.encoder.LayerParam;

/**
 * The BERT encoder stack on the CPU in float64: the oracle of the GPU encoder and the {@code
 * --backend cpu} of the command line.
 *
 * <p>Each layer is BERT's post-layernorm block. With x the [tokens, hidden] activations of the
 * valid tokens (t &lt; lengths[b]) only, d = sizePerHead and the weights in PyTorch layout [out,
 * in]:
 *
 * <pre>
 *   q, k, v = x Wq^T + bq,  x Wk^T + bk,  x Wv^T + bv
 *   p       = softmax_j(q_i . k_j / sqrt d)       per sequence and head, over its len valid keys
 *   ctx     = p v                                  heads merged back to [tokens, hidden]
 *   a       = LN_attention(ctx Wo^T + bo + x)
 *   x'      = LN_output(gelu(a Wi^T + bi) Wo2^T + bo2 + a)
 * </pre>
 *
 * with LN(y) = (y - mean) / sqrt(biased var + eps) * gamma + beta and the exact erf GELU ({@link
 * #withTanhGelu()}: its tanh approximation). The output is [batch, seq, hidden] with exactly 0 at
 * padded positions (t &gt;= lengths[b]); the input at padded positions is never read.
 *
 * <p><b>Precision:</b> the config's {@link org.ft4j.encoder.Precision} is ignored. The reference
 * always widens the FP32 inputs and weights to float64, keeps every activation in float64 between
 * steps and rounds to float once at the end ({@link #forward}); {@link #forwardFloat64} returns the
 * unrounded result.
 *
 * <p><b>Performance:</b> the projections run as register-tiled GEMMs split by blocks of tokens, the
 * attention by (sequence, head, block of 64 queries), all on the common fork-join pool.
 *
 * <p><b>Thread safety:</b> holds no mutable state; concurrent calls are safe. {@link #close()} does
 * nothing.
 */
public final class ReferenceEncoder implements Encoder {
  /** Query rows per attention task. */
  private static final int QUERY_BLOCK = 64;

  private final EncoderWeights weights;
  private final EncoderConfig config;
  private final ActivationHook hook; // null: plain float64
  private final boolean tanhGelu; // the FFN's GELU: tanh approximation instead of erf

  /** A reference encoder over {@code weights} (not copied; EncoderWeights is immutable). */
  public ReferenceEncoder(EncoderWeights weights) {
    this(weights, null);
  }

  /**
   * A reference encoder that hands the activations at every {@link ActivationHook.Point} to {@code
   * hook} (to observe them for calibration, or to fake-quantize them); null = no hook.
   */
  public ReferenceEncoder(EncoderWeights weights, ActivationHook hook) {
    this(weights, hook, false);
  }

  private ReferenceEncoder(EncoderWeights weights, ActivationHook hook, boolean tanhGelu) {
    if (weights == null) {
      throw new IllegalArgumentException("weights is null");
    }
    this.weights = weights;
    this.config = weights.config();
    this.hook = hook;
    this.tanhGelu = tanhGelu;
  }

  /**
   * This encoder with the tanh approximation of GELU in the feed-forward layer ({@link
   * ReferenceKernels#geluTanh}) instead of the exact erf GELU: the oracle of the GPU encoder with
   * {@code BertEncoder.Options.withGeluEpilogue(true)}, and the measure of what the approximation
   * costs.
   */
  public ReferenceEncoder withTanhGelu() {
    return new ReferenceEncoder(weights, hook, true);
  }

  /** True when the feed-forward GELU is the tanh approximation ({@link #withTanhGelu()}). */
  public boolean tanhGelu() {
    return tanhGelu;
  }

  /** The hook given at construction, or null. */
  public ActivationHook hook() {
    return hook;
  }

  @Override
  public EncoderConfig config() {
    return config;
  }

  /**
   * Runs every layer; see the class comment for the formula.
   *
   * @param input [batch, seq, hidden]
   * @param lengths [batch], each in [1, seq]
   * @return [batch, seq, hidden], the float64 result rounded to float, 0 at padded positions
   * @throws IllegalArgumentException from {@link EncoderInputs#check} on a bad shape or length
   */
  @Override
  public float[] forward(float[] input, int[] lengths, int batch, int seq) {
    return ReferenceKernels.toFloat(forwardFloat64(input, lengths, batch, seq));
  }

  /**
   * Same as {@link #forward} without the final rounding: [batch, seq, hidden] in float64, 0 at
   * padded positions.
   */
  public double[] forwardFloat64(float[] input, int[] lengths, int batch, int seq) {
    EncoderInputs.check(config, input, lengths, batch, seq);
    int hidden = config.hidden();
    int[] offsets = new int[batch + 1]; // first compact row of each sequence
    for (int b = 0; b < batch; b++) {
      offsets[b + 1] = offsets[b] + lengths[b];
    }
    int tokens = offsets[batch];
    double[] x = new double[tokens * hidden]; // [tokens, hidden], valid tokens only
    for (int b = 0; b < batch; b++) {
      for (int t = 0; t < lengths[b]; t++) {
        int src = (b * seq + t) * hidden;
        int dst = (offsets[b] + t) * hidden;
        for (int c = 0; c < hidden; c++) {
          x[dst + c] = input[src + c];
        }
      }
    }
    for (int layer = 0; layer < config.layers(); layer++) {
      x = layer(layer, x, offsets, batch);
    }
    double[] out = new double[batch * seq * hidden]; // zeros at padded positions
    for (int b = 0; b < batch; b++) {
      System.arraycopy(x, offsets[b] * hidden, out, b * seq * hidden, lengths[b] * hidden);
    }
    return out;
  }

  /** One layer on the compact activations x [tokens, hidden]; returns the new activations. */
  private double[] layer(int layer, double[] input, int[] offsets, int batch) {
    int hidden = config.hidden();
    int inter = config.intermediateSize();
    int heads = config.heads();
    int d = config.sizePerHead();
    int tokens = offsets[batch];
    double eps = config.layerNormEps();

    // The GEMM input; with a hook that quantizes the residual too (INT8 mode 2), x itself.
    double[] xin = gemmInput(layer, ActivationHook.Point.QKV_IN, input, tokens, hidden);
    double[] x = residual(layer, ActivationHook.Point.QKV_IN, input, tokens, hidden);

    // Q, K, V projections: [tokens, hidden] each (three GEMMs rather than one [3 hidden, hidden]
    // weight, so that no buffer exceeds [tokens, max(hidden, intermediate)]).
    double[] qp =
        project(
            layer,
            LayerParam.QUERY_WEIGHT,
            LayerParam.QUERY_BIAS,
            ActivationHook.Point.Q_OUT,
            xin,
            tokens);
    double[] kp =
        project(
            layer,
            LayerParam.KEY_WEIGHT,
            LayerParam.KEY_BIAS,
            ActivationHook.Point.K_OUT,
            xin,
            tokens);
    double[] vp =
        project(
            layer,
            LayerParam.VALUE_WEIGHT,
            LayerParam.VALUE_BIAS,
            ActivationHook.Point.V_OUT,
            xin,
            tokens);

    // Head-major copies: q and k as [heads, tokens, d]; v transposed per sequence and head, so
    // that sequence b of head h is [d, len] at (h * tokens + offsets[b]) * d.
    double[] q = new double[tokens * hidden];
    double[] k = new double[tokens * hidden];
    double[] vt = new double[tokens * hidden];
    IntStream.range(0, batch)
        .parallel()
        .forEach(
            b -> {
              int len = offsets[b + 1] - offsets[b];
              for (int h = 0; h < heads; h++) {
                int seqAt = (h * tokens + offsets[b]) * d;
                for (int t = 0; t < len; t++) {
                  int row = (offsets[b] + t) * hidden + h * d;
                  int at = (h * tokens + offsets[b] + t) * d;
                  System.arraycopy(qp, row, q, at, d);
                  System.arraycopy(kp, row, k, at, d);
                  for (int c = 0; c < d; c++) {
                    vt[seqAt + c * len + t] = vp[row + c];
                  }
                }
              }
            });

    // Attention per (sequence, block of queries, head): [tokens, hidden] context.
    int[][] qb = EncoderInputs.queryBlocks(offsets, QUERY_BLOCK);
    int[] blockSeq = qb[0];
    int[] blockStart = qb[1];
    int blocks = blockSeq.length;
    double scale = 1.0 / Math.sqrt(d);
    double[] ctx = new double[tokens * hidden];
    IntStream.range(0, blocks * heads)
        .parallel()
        .forEach(
            task -> {
              int blk = task / heads;
              int h = task % heads;
              int b = blockSeq[blk];
              int i0 = blockStart[blk];
              int len = offsets[b + 1] - offsets[b];
              int m = Math.min(QUERY_BLOCK, len - i0);
              int seqAt = (h * tokens + offsets[b]) * d;
              double[] p = new double[m * len]; // [m, len]
              ReferenceKernels.gemmNt(q, seqAt + i0 * d, k, seqAt, p, 0, m, len, d);
              for (int i = 0; i < m; i++) {
                ReferenceKernels.softmaxRow(p, i * len, len, scale, p, i * len);
              }
              double[] c = new double[m * d]; // [m, d]
              ReferenceKernels.gemmNt(p, 0, vt, seqAt, c, 0, m, d, len);
              for (int i = 0; i < m; i++) {
                System.arraycopy(c, i * d, ctx, (offsets[b] + i0 + i) * hidden + h * d, d);
              }
            });

    // a = LN(ctx Wo^T + bo + x)
    double[] dense =
        linear(
            layer,
            LayerParam.ATTENTION_OUTPUT_WEIGHT,
            LayerParam.ATTENTION_OUTPUT_BIAS,
            ActivationHook.Point.ATTN_OUT_OUT,
            gemmInput(layer, ActivationHook.Point.ATTN_OUT_IN, ctx, tokens, hidden),
            tokens,
            hidden,
            hidden);
    double[] normed =
        residualLayerNorm(
            dense,
            x,
            widen(weights.get(layer, LayerParam.ATTENTION_LAYERNORM_WEIGHT)),
            widen(weights.get(layer, LayerParam.ATTENTION_LAYERNORM_BIAS)),
            eps,
            tokens,
            hidden);

    // h = gelu(a Wi^T + bi): [tokens, intermediate]
    double[] ain = gemmInput(layer, ActivationHook.Point.FFN1_IN, normed, tokens, hidden);
    double[] attention = residual(layer, ActivationHook.Point.FFN1_IN, normed, tokens, hidden);
    double[] ffn =
        linear(
            layer,
            LayerParam.INTERMEDIATE_WEIGHT,
            LayerParam.INTERMEDIATE_BIAS,
            ActivationHook.Point.FFN1_OUT,
            ain,
            tokens,
            hidden,
            inter);
    IntStream.range(0, tokens)
        .parallel()
        .forEach(
            t -> {
              for (int c = t * inter; c < (t + 1) * inter; c++) {
                ffn[c] =
                    tanhGelu ? ReferenceKernels.geluTanh(ffn[c]) : ReferenceKernels.gelu(ffn[c]);
              }
            });

    // x' = LN(h Wo2^T + bo2 + a)
    dense =
        linear(
            layer,
            LayerParam.OUTPUT_WEIGHT,
            LayerParam.OUTPUT_BIAS,
            ActivationHook.Point.FFN2_OUT,
            gemmInput(layer, ActivationHook.Point.FFN2_IN, ffn, tokens, inter),
            tokens,
            inter,
            hidden);
    return residualLayerNorm(
        dense,
        attention,
        widen(weights.get(layer, LayerParam.OUTPUT_LAYERNORM_WEIGHT)),
        widen(weights.get(layer, LayerParam.OUTPUT_LAYERNORM_BIAS)),
        eps,
        tokens,
        hidden);
  }

  /** x W^T + bias for one of the hidden x hidden projections: [tokens, hidden]. */
  private double[] project(
      int layer,
      LayerParam weight,
      LayerParam bias,
      ActivationHook.Point product,
      double[] x,
      int tokens) {
    int hidden = config.hidden();
    return linear(layer, weight, bias, product, x, tokens, hidden, hidden);
  }

  /**
   * x W^T + bias: [rows, out]. Without a hook one fused GEMM; with one, the product goes to the
   * hook at {@code product} before the bias is added (where an INT8 GEMM's output is quantized).
   */
  private double[] linear(
      int layer,
      LayerParam weight,
      LayerParam bias,
      ActivationHook.Point product,
      double[] x,
      int rows,
      int in,
      int out) {
    double[] y = new double[rows * out];
    double[] b = widen(weights.get(layer, bias));
    if (hook == null) {
      ReferenceKernels.linearInto(x, widen(weights.get(layer, weight)), b, rows, in, out, y);
      return y;
    }
    ReferenceKernels.linearInto(x, widen(weights.get(layer, weight)), null, rows, in, out, y);
    hook.apply(layer, product, y, rows, out);
    IntStream.range(0, rows)
        .parallel()
        .forEach(
            r -> {
              for (int o = 0; o < out; o++) {
                y[r * out + o] += b[o];
              }
            });
    return y;
  }

  /**
   * What the residual path adds of the activations at {@code point}: x itself, or a copy changed by
   * {@link ActivationHook#applyResidual} when the hook quantizes the residual (INT8 mode 2).
   */
  private double[] residual(int layer, ActivationHook.Point point, double[] x, int rows, int cols) {
    if (hook == null || !hook.quantizedResidual()) {
      return x;
    }
    double[] copy = x.clone();
    hook.applyResidual(layer, point, copy, rows, cols);
    return copy;
  }

  /**
   * The activations a GEMM reads at {@code point}: x itself without a hook, else a copy the hook
   * may change (x stays what the residual path adds, unless the hook quantizes that too).
   */
  private double[] gemmInput(
      int layer, ActivationHook.Point point, double[] x, int rows, int cols) {
    if (hook == null) {
      return x;
    }
    double[] copy = x.clone();
    hook.apply(layer, point, copy, rows, cols);
    return copy;
  }

  /** out[r, :] = LN(y[r, :] + residual[r, :]) for r &lt; rows, in parallel over rows. */
  private static double[] residualLayerNorm(
      double[] y,
      double[] residual,
      double[] gamma,
      double[] beta,
      double eps,
      int rows,
      int cols) {
    double[] out = new double[rows * cols];
    IntStream.range(0, rows)
        .parallel()
        .forEach(
            r -> {
              double[] row = new double[cols];
              int base = r * cols;
              for (int c = 0; c < cols; c++) {
                row[c] = y[base + c] + residual[base + c];
              }
              ReferenceKernels.layerNormRow(row, gamma, beta, eps, out, base);
            });
    return out;
  }

  private static double[] widen(float[] x) {
    double[] d = new double[x.length];
    widen(x, d, 0);
    return d;
  }

  private static void widen(float[] x, double[] dst, int at) {
    for (int i = 0; i < x.length; i++) {
      dst[at + i] = x[i];
    }
  }

  /** Nothing to release. */
  @Override
  public void close() {}
}
