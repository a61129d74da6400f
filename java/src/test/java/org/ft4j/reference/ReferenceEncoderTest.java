package org.ft4j.reference;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.SplittableRandom;
import java.util.stream.IntStream;
import org.ft4j.encoder.EncoderConfig;
import org.ft4j.encoder.EncoderWeights;
import org.ft4j.encoder.LayerParam;
import org.ft4j.encoder.Precision;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

/**
 * Properties of the reference encoder and its agreement with an independent composition of the
 * reference kernels, run in the GPU encoder's order on the padded layout.
 */
class ReferenceEncoderTest {
  /**
   * 3 heads of 8 (hidden 24), intermediate 40 (not 4 * hidden, so that a mixed-up width shows), eps
   * 1e-3 (large enough that ignoring it shows), precision FP16 (ignored by the reference).
   */
  private static final EncoderConfig CONFIG =
      new EncoderConfig(2, 3, 8, 24, 40, 1e-3, Precision.FP16);

  private static final EncoderWeights WEIGHTS = EncoderWeights.random(CONFIG, 11);

  @Test
  void paddedPositionsAreExactlyZeroAndValidOnesAreNot() {
    int batch = 3;
    int seq = 7;
    int[] lengths = {7, 3, 1};
    float[] out = new ReferenceEncoder(WEIGHTS).forward(input(batch, seq, 1), lengths, batch, seq);
    int hidden = CONFIG.hidden();
    for (int b = 0; b < batch; b++) {
      for (int t = 0; t < seq; t++) {
        double norm = 0;
        for (int c = 0; c < hidden; c++) {
          float v = out[(b * seq + t) * hidden + c];
          if (t >= lengths[b]) {
            assertEquals(0f, v, "b " + b + " t " + t + " c " + c); // +0.0f, bit for bit
          }
          norm += v * v;
        }
        if (t < lengths[b]) {
          // layernorm output with gamma ~ 1: the row has a norm near sqrt(hidden)
          assertTrue(norm > 1, "valid row b " + b + " t " + t + " has norm^2 " + norm);
        }
      }
    }
  }

  @Test
  void inputAtPaddedPositionsChangesNothing() {
    int batch = 3;
    int seq = 6;
    int[] lengths = {2, 6, 5};
    float[] a = input(batch, seq, 2);
    float[] b = a.clone();
    int hidden = CONFIG.hidden();
    for (int s = 0; s < batch; s++) {
      for (int t = lengths[s]; t < seq; t++) {
        for (int c = 0; c < hidden; c++) {
          b[(s * seq + t) * hidden + c] = c % 2 == 0 ? Float.NaN : 1e30f;
        }
      }
    }
    ReferenceEncoder encoder = new ReferenceEncoder(WEIGHTS);
    assertArrayEquals(
        encoder.forwardFloat64(a, lengths, batch, seq),
        encoder.forwardFloat64(b, lengths, batch, seq));
  }

  @Test
  void aSequenceAloneEqualsTheSameSequenceInABatch() {
    int batch = 4;
    int seq = 9;
    int[] lengths = {9, 4, 1, 6};
    int hidden = CONFIG.hidden();
    float[] in = input(batch, seq, 3);
    ReferenceEncoder encoder = new ReferenceEncoder(WEIGHTS);
    double[] together = encoder.forwardFloat64(in, lengths, batch, seq);
    for (int b = 0; b < batch; b++) {
      // alone, padded to a different seq (its own length + 2)
      int aloneSeq = lengths[b] + 2;
      float[] alone = new float[aloneSeq * hidden];
      System.arraycopy(in, b * seq * hidden, alone, 0, lengths[b] * hidden);
      double[] out = encoder.forwardFloat64(alone, new int[] {lengths[b]}, 1, aloneSeq);
      for (int i = 0; i < lengths[b] * hidden; i++) {
        assertEquals(together[b * seq * hidden + i], out[i], 1e-13, "sequence " + b + " at " + i);
      }
    }
  }

  @Test
  void lengthOneLayerIsTheFeedForwardOfV() {
    lengthOneLayer(false);
  }

  @Test
  void lengthOneLayerWithTheTanhGelu() {
    double[] tanh = lengthOneLayer(true);
    double[] erf = lengthOneLayer(false);
    double diff = 0;
    for (int i = 0; i < tanh.length; i++) {
      diff = Math.max(diff, Math.abs(tanh[i] - erf[i]));
    }
    assertTrue(diff > 1e-7, "the tanh GELU must change the output, max diff " + diff);
  }

  private double[] lengthOneLayer(boolean tanhGelu) {
    // With one valid token the softmax is exactly 1, so the attention context is v itself:
    //   a = LN(v Wo^T + bo + x),  x' = LN(gelu(a Wi^T + bi) Wo2^T + bo2 + a),  v = x Wv^T + bv.
    // Every sequence has length 1 here, so the batch also checks that no sequence attends to
    // another one or to padding.
    EncoderWeights w = EncoderWeights.random(CONFIG.withLayers(1), 5);
    int batch = 3;
    int seq = 4;
    int hidden = CONFIG.hidden();
    int inter = CONFIG.intermediateSize();
    float[] in = input(batch, seq, 4);
    ReferenceEncoder encoder = new ReferenceEncoder(w);
    if (tanhGelu) {
      encoder = encoder.withTanhGelu();
    }
    assertEquals(tanhGelu, encoder.tanhGelu());
    double[] out = encoder.forwardFloat64(in, new int[] {1, 1, 1}, batch, seq);
    for (int b = 0; b < batch; b++) {
      double[] x = new double[hidden];
      for (int c = 0; c < hidden; c++) {
        x[c] = in[b * seq * hidden + c];
      }
      double[] v =
          ReferenceKernels.linear(
              x, d(w, LayerParam.VALUE_WEIGHT), d(w, LayerParam.VALUE_BIAS), 1, hidden, hidden);
      double[] dense =
          ReferenceKernels.linear(
              v, d(w, LayerParam.ATTENTION_OUTPUT_WEIGHT), null, 1, hidden, hidden);
      double[] a =
          ReferenceKernels.addBiasResidualLayerNorm(
              dense,
              d(w, LayerParam.ATTENTION_OUTPUT_BIAS),
              x,
              d(w, LayerParam.ATTENTION_LAYERNORM_WEIGHT),
              d(w, LayerParam.ATTENTION_LAYERNORM_BIAS),
              CONFIG.layerNormEps(),
              1,
              hidden);
      double[] h =
          ReferenceKernels.linear(
              a,
              d(w, LayerParam.INTERMEDIATE_WEIGHT),
              d(w, LayerParam.INTERMEDIATE_BIAS),
              1,
              hidden,
              inter);
      for (int c = 0; c < inter; c++) {
        h[c] = tanhGelu ? ReferenceKernels.geluTanh(h[c]) : ReferenceKernels.gelu(h[c]);
      }
      double[] expected =
          ReferenceKernels.addBiasResidualLayerNorm(
              ReferenceKernels.linear(h, d(w, LayerParam.OUTPUT_WEIGHT), null, 1, inter, hidden),
              d(w, LayerParam.OUTPUT_BIAS),
              a,
              d(w, LayerParam.OUTPUT_LAYERNORM_WEIGHT),
              d(w, LayerParam.OUTPUT_LAYERNORM_BIAS),
              CONFIG.layerNormEps(),
              1,
              hidden);
      for (int c = 0; c < hidden; c++) {
        assertEquals(expected[c], out[b * seq * hidden + c], 1e-13, "sequence " + b + " c " + c);
      }
    }
    return out;
  }

  @Test
  void equalsTheKernelsComposedInTheGpuOrder() {
    int batch = 4;
    int seq = 9;
    int[] lengths = {9, 4, 1, 6};
    float[] in = input(batch, seq, 6);
    double[] expected = composedEncoder(WEIGHTS, in, lengths, batch, seq);
    ReferenceEncoder encoder = new ReferenceEncoder(WEIGHTS);
    assertArrayEquals(expected, encoder.forwardFloat64(in, lengths, batch, seq), 1e-12);
    float[] rounded = encoder.forward(in, lengths, batch, seq);
    for (int i = 0; i < rounded.length; i++) {
      assertEquals((float) expected[i], rounded[i], 1e-6f, "float output at " + i);
    }
  }

  @Test
  void equalsTheComposedKernelsWithSequencesLongerThanOneAttentionBlock() {
    // seq 70 > 64 query rows per attention task; two heads of 4, intermediate 12
    EncoderConfig config = new EncoderConfig(1, 2, 4, 8, 12, 1e-12, Precision.FP32);
    EncoderWeights w = EncoderWeights.random(config, 8);
    int batch = 2;
    int seq = 70;
    int[] lengths = {70, 65};
    float[] in = input(config, batch, seq, 9);
    double[] expected = composedEncoder(w, in, lengths, batch, seq);
    assertArrayEquals(
        expected, new ReferenceEncoder(w).forwardFloat64(in, lengths, batch, seq), 1e-12);
  }

  @Test
  void precisionInTheConfigIsIgnored() {
    int batch = 2;
    int seq = 5;
    int[] lengths = {5, 3};
    float[] in = input(batch, seq, 7);
    float[] fp16 = new ReferenceEncoder(WEIGHTS).forward(in, lengths, batch, seq);
    float[] fp32 =
        new ReferenceEncoder(WEIGHTS.withConfig(CONFIG.withPrecision(Precision.FP32)))
            .forward(in, lengths, batch, seq);
    assertArrayEquals(fp16, fp32);
    // and the layers do something: the output is not the input
    assertNotEquals(in[0], fp16[0]);
  }

  @Test
  void concurrentCallsGiveTheSameResult() {
    int batch = 2;
    int seq = 8;
    int[] lengths = {8, 3};
    float[] in = input(batch, seq, 10);
    ReferenceEncoder encoder = new ReferenceEncoder(WEIGHTS);
    float[] once = encoder.forward(in, lengths, batch, seq);
    IntStream.range(0, 8)
        .parallel()
        .forEach(i -> assertArrayEquals(once, encoder.forward(in, lengths, batch, seq)));
  }

  @Test
  void badArgumentsAreRejectedNamingTheValue() {
    ReferenceEncoder encoder = new ReferenceEncoder(WEIGHTS);
    assertSame(CONFIG, encoder.config());
    int hidden = CONFIG.hidden();
    assertMessage(
        "input has 5 values, expected batch * seq * hidden = 1 * 2 * 24 = 48",
        () -> encoder.forward(new float[5], new int[] {2}, 1, 2));
    assertMessage(
        "lengths[1] = 3, must be in [1, seq = 2]",
        () -> encoder.forward(new float[2 * 2 * hidden], new int[] {2, 3}, 2, 2));
    assertMessage(
        "lengths[0] = 0, must be in [1, seq = 2]",
        () -> encoder.forward(new float[2 * hidden], new int[] {0}, 1, 2));
    assertMessage(
        "lengths has 1 entries, expected batch = 2",
        () -> encoder.forward(new float[2 * 2 * hidden], new int[] {2}, 2, 2));
    assertMessage("batch = 0, must be >= 1", () -> encoder.forward(new float[0], new int[0], 0, 2));
    assertMessage("weights is null", () -> new ReferenceEncoder(null));
    encoder.close(); // a no-op: still usable
    encoder.close();
    assertEquals(2 * hidden, encoder.forward(new float[2 * hidden], new int[] {1}, 1, 2).length);
  }

  // ---------------------------------------------------------------------------------------------

  /**
   * The encoder built from the reference kernels on the padded [batch, seq, hidden] layout in the
   * order the GPU runs them: one [3 hidden, hidden] QKV GEMM, split heads + bias, scaled scores
   * over all keys, masked softmax, context, merge, O GEMM, bias + residual + LN, FFN1 GEMM, bias +
   * GELU, FFN2 GEMM, bias + residual + LN; padded rows zeroed at the end. All in float64.
   */
  static double[] composedEncoder(
      EncoderWeights w, float[] input, int[] lengths, int batch, int seq) {
    EncoderConfig c = w.config();
    int hidden = c.hidden();
    int inter = c.intermediateSize();
    int heads = c.heads();
    int size = c.sizePerHead();
    int tokens = batch * seq;
    double eps = c.layerNormEps();
    double[] x = new double[input.length];
    for (int i = 0; i < x.length; i++) {
      x[i] = input[i];
    }
    for (int l = 0; l < c.layers(); l++) {
      double[] wqkv =
          concat(
              d(w, l, LayerParam.QUERY_WEIGHT),
              d(w, l, LayerParam.KEY_WEIGHT),
              d(w, l, LayerParam.VALUE_WEIGHT));
      double[] bqkv =
          concat(
              d(w, l, LayerParam.QUERY_BIAS),
              d(w, l, LayerParam.KEY_BIAS),
              d(w, l, LayerParam.VALUE_BIAS));
      double[] qkv = ReferenceKernels.linear(x, wqkv, null, tokens, hidden, 3 * hidden);
      double[][] split = ReferenceKernels.addQkvBiasSplitHeads(qkv, bqkv, batch, seq, heads, size);
      double[] scores =
          ReferenceKernels.batchedScores(
              split[0], split[1], batch, heads, seq, size, 1 / Math.sqrt(size));
      double[] p = ReferenceKernels.maskedSoftmax(scores, lengths, batch, heads, seq, 1.0);
      double[] ctx = ReferenceKernels.batchedContext(p, split[2], batch, heads, seq, size);
      double[] merged = ReferenceKernels.mergeHeads(ctx, batch, seq, heads, size);
      double[] dense =
          ReferenceKernels.linear(
              merged, d(w, l, LayerParam.ATTENTION_OUTPUT_WEIGHT), null, tokens, hidden, hidden);
      double[] a =
          ReferenceKernels.addBiasResidualLayerNorm(
              dense,
              d(w, l, LayerParam.ATTENTION_OUTPUT_BIAS),
              x,
              d(w, l, LayerParam.ATTENTION_LAYERNORM_WEIGHT),
              d(w, l, LayerParam.ATTENTION_LAYERNORM_BIAS),
              eps,
              tokens,
              hidden);
      double[] ffn =
          ReferenceKernels.linear(
              a, d(w, l, LayerParam.INTERMEDIATE_WEIGHT), null, tokens, hidden, inter);
      double[] h =
          ReferenceKernels.addBiasGelu(ffn, d(w, l, LayerParam.INTERMEDIATE_BIAS), tokens, inter);
      double[] out =
          ReferenceKernels.linear(
              h, d(w, l, LayerParam.OUTPUT_WEIGHT), null, tokens, inter, hidden);
      x =
          ReferenceKernels.addBiasResidualLayerNorm(
              out,
              d(w, l, LayerParam.OUTPUT_BIAS),
              a,
              d(w, l, LayerParam.OUTPUT_LAYERNORM_WEIGHT),
              d(w, l, LayerParam.OUTPUT_LAYERNORM_BIAS),
              eps,
              tokens,
              hidden);
    }
    return ReferenceKernels.zeroPaddedRows(x, lengths, batch, seq, hidden);
  }

  private static double[] d(EncoderWeights w, LayerParam p) {
    return d(w, 0, p);
  }

  private static double[] d(EncoderWeights w, int layer, LayerParam p) {
    float[] f = w.get(layer, p);
    double[] x = new double[f.length];
    for (int i = 0; i < f.length; i++) {
      x[i] = f[i];
    }
    return x;
  }

  private static double[] concat(double[]... parts) {
    int n = 0;
    for (double[] p : parts) {
      n += p.length;
    }
    double[] out = new double[n];
    int at = 0;
    for (double[] p : parts) {
      System.arraycopy(p, 0, out, at, p.length);
      at += p.length;
    }
    return out;
  }

  private static float[] input(int batch, int seq, long seed) {
    return input(CONFIG, batch, seq, seed);
  }

  private static float[] input(EncoderConfig c, int batch, int seq, long seed) {
    SplittableRandom r = new SplittableRandom(seed);
    float[] x = new float[batch * seq * c.hidden()];
    for (int i = 0; i < x.length; i++) {
      x[i] = (float) r.nextDouble(-1, 1);
    }
    return x;
  }

  private static void assertMessage(String fragment, Executable call) {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, call);
    assertTrue(
        e.getMessage().contains(fragment),
        () -> "message '" + e.getMessage() + "' should contain '" + fragment + "'");
  }
}
