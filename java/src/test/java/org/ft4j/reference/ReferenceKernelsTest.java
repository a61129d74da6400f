package org.ft4j.reference;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

/**
 * Hand-worked cases of every reference kernel. Expected numbers are derived in the comments; the
 * erf values are the correctly rounded doubles of the true function.
 */
class ReferenceKernelsTest {

  // --- erf, erfc, gelu -------------------------------------------------------------------------

  @Test
  void erfAtKnownPoints() {
    assertEquals(0.0, ReferenceKernels.erf(0.0));
    assertEquals(1.1283791670955126e-10, ReferenceKernels.erf(1e-10), 1e-25); // ~ 2x/sqrt(pi)
    assertEquals(0.1124629160182849, ReferenceKernels.erf(0.1), 2e-16);
    assertEquals(0.5204998778130465, ReferenceKernels.erf(0.5), 2e-16);
    assertEquals(0.8427007929497149, ReferenceKernels.erf(1.0), 2e-16);
    assertEquals(0.9953222650189527, ReferenceKernels.erf(2.0), 5e-16);
    assertEquals(0.9999589021219005, ReferenceKernels.erf(2.9), 1e-15); // series branch
    assertEquals(0.9999779095030014, ReferenceKernels.erf(3.0), 1e-15); // continued fraction
    assertEquals(0.9999992569016276, ReferenceKernels.erf(3.5), 2e-16);
    assertEquals(0.9999999999984626, ReferenceKernels.erf(5.0), 2e-16);
    // large |x|: erf is 1 to double precision from x ~ 6 on, and stays so
    assertEquals(1.0, ReferenceKernels.erf(6.5));
    assertEquals(1.0, ReferenceKernels.erf(40.0));
    assertEquals(1.0, ReferenceKernels.erf(Double.POSITIVE_INFINITY));
    assertEquals(-1.0, ReferenceKernels.erf(Double.NEGATIVE_INFINITY));
    assertTrue(Double.isNaN(ReferenceKernels.erf(Double.NaN)));
  }

  @Test
  void erfIsOdd() {
    SplittableRandom r = new SplittableRandom(1);
    for (int i = 0; i < 2000; i++) {
      double x = r.nextDouble(-8, 8);
      assertEquals(-ReferenceKernels.erf(x), ReferenceKernels.erf(-x), "x = " + x);
    }
  }

  @Test
  void erfSeriesAndContinuedFractionAgreeWhereTheyMeet() {
    // the two branches are independent formulas; on [2.2, 4.5] both converge and must agree to
    // their accuracy (~1e-15 each)
    for (double x = 2.2; x <= 4.5; x += 0.01) {
      double series = ReferenceKernels.erfSeries(x);
      double fraction = 1.0 - ReferenceKernels.erfcContinuedFraction(x);
      assertEquals(series, fraction, 3e-15, "x = " + x);
    }
  }

  @Test
  void erfcKeepsRelativeAccuracyInTheTail() {
    assertEquals(1.537459794428035e-12, ReferenceKernels.erfc(5.0), 1.537459794428035e-12 * 1e-14);
    assertEquals(2.088487583762545e-45, ReferenceKernels.erfc(10.0), 2.088487583762545e-45 * 1e-13);
    assertEquals(
        5.663192408856143e-296, ReferenceKernels.erfc(26.0), 5.663192408856143e-296 * 1e-12);
    assertEquals(2.0, ReferenceKernels.erfc(-10.0));
    assertEquals(1.0 - 0.5204998778130465, ReferenceKernels.erfc(0.5), 2e-16);
  }

  @Test
  void geluAtKnownPoints() {
    // gelu(x) = x * Phi(x): Phi(1) = 0.8413447460685429, Phi(-1) = 1 - Phi(1)
    assertEquals(0.8413447460685429, ReferenceKernels.gelu(1.0), 2e-16);
    assertEquals(-0.15865525393145707, ReferenceKernels.gelu(-1.0), 1e-16);
    assertEquals(2.99595030590511, ReferenceKernels.gelu(3.0), 1e-15);
    assertEquals(-0.0040496940948902835, ReferenceKernels.gelu(-3.0), 2e-15);
    assertEquals(0.0, ReferenceKernels.gelu(0.0));
    // large |x|: gelu(10) = 10 exactly in double; gelu(-10) = -10 Phi(-10) ~ -7.6e-23 keeps its
    // relative accuracy (0.5 x (1 + erf) would cancel to 0 there)
    assertEquals(10.0, ReferenceKernels.gelu(10.0));
    assertEquals(-7.619853024160526e-23, ReferenceKernels.gelu(-10.0), 7.62e-23 * 1e-13);
    assertEquals(0.0, ReferenceKernels.gelu(-60.0), 0.0);
    assertEquals(1e6, ReferenceKernels.gelu(1e6));
  }

  @Test
  void tanhGeluAtKnownPointsAndWithinItsBoundOfTheExactOne() {
    // 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), evaluated independently in Python
    assertEquals(0.8411919906082768, ReferenceKernels.geluTanh(1.0), 1e-15);
    assertEquals(-0.15880800939172324, ReferenceKernels.geluTanh(-1.0), 1e-15);
    assertEquals(2.996362607918227, ReferenceKernels.geluTanh(3.0), 1e-14);
    assertEquals(0.0, ReferenceKernels.geluTanh(0.0));
    double worst = 0;
    double at = 0;
    for (int i = -10000; i <= 10000; i++) {
      double x = i / 1000.0;
      double d = Math.abs(ReferenceKernels.geluTanh(x) - ReferenceKernels.gelu(x));
      if (d > worst) {
        worst = d;
        at = x;
      }
    }
    // the documented bound: 4.73e-4 at |x| = 2.699 (not an identity: the two differ)
    assertTrue(worst > 4.7e-4 && worst < 4.8e-4, "max |tanh - erf GELU| = " + worst);
    assertEquals(2.699, Math.abs(at), 1e-9);
  }

  @Test
  void addBiasGeluAddsThePerColumnBiasFirst() {
    // row 0: 0.5 + 0.5 = 1 -> gelu(1); -2 + 1 = -1 -> gelu(-1)
    // row 1: -0.5 + 0.5 = 0 -> 0;      9 + 1 = 10 -> 10
    float[] out =
        ReferenceKernels.addBiasGelu(
            new float[] {0.5f, -2f, -0.5f, 9f}, new float[] {0.5f, 1f}, 2, 2);
    assertArrayEquals(new float[] {0.8413447f, -0.15865526f, 0f, 10f}, out, 1e-7f);
  }

  // --- layernorm -------------------------------------------------------------------------------

  @Test
  void layerNormOfAFourWideRowByHand() {
    // row 0: input {1, 2, 3, 4} + residual {1, 0, 1, 0} = {2, 2, 4, 4}; mean 3, deviations
    //        {-1, -1, 1, 1}, biased variance 4/4 = 1; with eps 0: {-1, -1, 1, 1}.
    //        * gamma {1, 2, 3, 4} + beta {0.5, 0, 0, -0.5} = {-0.5, -2, 3, 3.5}
    // row 1: input {0, 0, 0, 0} + residual {5, 7, 5, 7}: mean 6, deviations {-1, 1, -1, 1},
    //        variance 1 -> {-1 + 0.5, 2, -3, 4 - 0.5} = {-0.5, 2, -3, 3.5}
    float[] input = {1, 2, 3, 4, 0, 0, 0, 0};
    float[] residual = {1, 0, 1, 0, 5, 7, 5, 7};
    float[] gamma = {1, 2, 3, 4};
    float[] beta = {0.5f, 0, 0, -0.5f};
    float[] noBias =
        ReferenceKernels.addBiasResidualLayerNorm(input, null, residual, gamma, beta, 0, 2, 4);
    assertArrayEquals(new float[] {-0.5f, -2, 3, 3.5f, -0.5f, 2, -3, 3.5f}, noBias, 1e-6f);

    // with bias {0, 2, -2, 0}: row 0 becomes {2, 4, 2, 4}: deviations {-1, 1, -1, 1}, var 1
    //        -> {-0.5, 2, -3, 3.5}; row 1 becomes {5, 9, 3, 7}: mean 6, deviations
    //        {-1, 3, -3, 1}, var (1 + 9 + 9 + 1) / 4 = 5 -> dev / sqrt 5 * gamma + beta
    float[] bias = {0, 2, -2, 0};
    float[] withBias =
        ReferenceKernels.addBiasResidualLayerNorm(input, bias, residual, gamma, beta, 0, 2, 4);
    double s5 = Math.sqrt(5);
    float[] expected = {
      -0.5f,
      2,
      -3,
      3.5f,
      (float) (-1 / s5 + 0.5),
      (float) (3 / s5 * 2),
      (float) (-3 / s5 * 3),
      (float) (4 / s5 - 0.5)
    };
    assertArrayEquals(expected, withBias, 1e-6f);
  }

  @Test
  void layerNormAddsEpsToTheVariance() {
    // {2, 4, 2, 4}: var 1; eps 3 -> sd = sqrt(1 + 3) = 2: deviations {-1, 1, -1, 1} / 2
    //   * gamma {1, 2, 3, 4} + beta {0.5, 0, 0, -0.5} = {0, 1, -1.5, 1.5}
    double[] out =
        ReferenceKernels.addBiasResidualLayerNorm(
            new double[] {2, 4, 2, 4},
            null,
            new double[4],
            new double[] {1, 2, 3, 4},
            new double[] {0.5, 0, 0, -0.5},
            3.0,
            1,
            4);
    assertArrayEquals(new double[] {0, 1, -1.5, 1.5}, out, 1e-15);
  }

  @Test
  void layerNormVarianceIsTwoPassOnAnOffsetRow() {
    // {1e9, 1e9 + 2, 1e9, 1e9 + 2}: mean 1e9 + 1, var exactly 1 -> {-1, 1, -1, 1}. A one-pass
    // E[x^2] - mean^2 loses every digit here (x^2 ~ 1e18, ulp 128).
    double[] out =
        ReferenceKernels.addBiasResidualLayerNorm(
            new double[] {1e9, 1e9 + 2, 1e9, 1e9 + 2},
            null,
            new double[4],
            new double[] {1, 1, 1, 1},
            new double[4],
            0.0,
            1,
            4);
    assertArrayEquals(new double[] {-1, 1, -1, 1}, out, 1e-12);
  }

  // --- attention -------------------------------------------------------------------------------

  @Test
  void maskedSoftmaxOfA3x3WithLength2ByHand() {
    // [1, 1, 3, 3], length 2: key 2 is masked in every row, query row 2 is padding but still
    // computed over keys 0 and 1.
    //   row 0 {1, 1, 7}:          e^0, e^0        -> {1/2, 1/2, 0}   (7 would dominate if seen)
    //   row 1 {ln 3, 0, -100}:    3, 1            -> {3/4, 1/4, 0}
    //   row 2 {0, ln 4, 100}:     1, 4            -> {1/5, 4/5, 0}
    double ln3 = Math.log(3);
    double ln4 = Math.log(4);
    double[] scores = {1, 1, 7, ln3, 0, -100, 0, ln4, 100};
    double[] p = ReferenceKernels.maskedSoftmax(scores, new int[] {2}, 1, 1, 3, 1.0);
    assertArrayEquals(new double[] {0.5, 0.5, 0, 0.75, 0.25, 0, 0.2, 0.8, 0}, p, 1e-15);
    for (int row = 0; row < 3; row++) {
      // exact +0.0 at the masked key (assertEquals on doubles compares bit patterns)
      assertEquals(0.0, p[row * 3 + 2], "masked key of row " + row);
    }
    // the scale multiplies the scores before the exponential: scale 0.5 on {2 ln 3, 0} gives
    // 3 : 1 again
    double[] scaled =
        ReferenceKernels.maskedSoftmax(
            new double[] {2 * ln3, 0, 5, 0, 2 * ln4, 5, 0, 0, 5}, new int[] {2}, 1, 1, 3, 0.5);
    assertArrayEquals(new double[] {0.75, 0.25, 0, 0.2, 0.8, 0, 0.5, 0.5, 0}, scaled, 1e-15);
    // float overload, length 3 (no mask) on row {0, 0, ln 2}: {1/4, 1/4, 1/2}
    float[] full =
        ReferenceKernels.maskedSoftmax(
            new float[] {0, 0, (float) Math.log(2), 0, 0, 0, 5, 5, 5}, new int[] {3}, 1, 1, 3, 1f);
    assertArrayEquals(
        new float[] {0.25f, 0.25f, 0.5f, 1 / 3f, 1 / 3f, 1 / 3f, 1 / 3f, 1 / 3f, 1 / 3f},
        full,
        1e-7f);
  }

  @Test
  void maskedSoftmaxUsesEachSequencesLengthAcrossBatchAndHeads() {
    // batch 2, heads 2, seq 2, all scores 0: batch 0 (length 1) rows are {1, 0}, batch 1
    // (length 2) rows {1/2, 1/2}
    double[] p = ReferenceKernels.maskedSoftmax(new double[16], new int[] {1, 2}, 2, 2, 2, 1.0);
    double[] expected = new double[16];
    for (int row = 0; row < 4; row++) {
      expected[row * 2] = 1;
    }
    Arrays.fill(expected, 8, 16, 0.5);
    assertArrayEquals(expected, p, 0.0);
  }

  @Test
  void splitHeadsPlacesEachColumnByIndex() {
    // batch 2, seq 2, heads 2, size 3: hidden 6, qkv [4, 18] with qkv[i] = i, bias[c] = 1000 c
    int batch = 2;
    int seq = 2;
    int heads = 2;
    int size = 3;
    double[] qkv = new double[4 * 18];
    for (int i = 0; i < qkv.length; i++) {
      qkv[i] = i;
    }
    double[] bias = new double[18];
    for (int c = 0; c < 18; c++) {
      bias[c] = 1000 * c;
    }
    double[][] split = ReferenceKernels.addQkvBiasSplitHeads(qkv, bias, batch, seq, heads, size);
    double[] q = split[0];
    double[] k = split[1];
    double[] v = split[2];
    // q[b=0, h=0, s=0, d=0] = qkv[row 0, col 0] + bias[0] = 0
    assertEquals(0, q[0]);
    // q[b=0, h=1, s=0, d=2]: flat ((0 * 2 + 1) * 2 + 0) * 3 + 2 = 8; row 0, col 0 + 1 * 3 + 2 = 5
    //   -> 5 + 5000
    assertEquals(5005, q[8]);
    // k[b=1, h=0, s=1, d=2]: flat ((1 * 2 + 0) * 2 + 1) * 3 + 2 = 17; row 1 * 2 + 1 = 3,
    //   col 6 + 0 + 2 = 8 -> qkv 3 * 18 + 8 = 62, bias 8000 -> 8062
    assertEquals(8062, k[17]);
    // v[b=1, h=1, s=0, d=1]: flat ((1 * 2 + 1) * 2 + 0) * 3 + 1 = 19; row 2, col 12 + 3 + 1 = 16
    //   -> 2 * 18 + 16 = 52, bias 16000 -> 16052
    assertEquals(16052, v[19]);
    // v[b=0, h=0, s=1, d=0]: flat 3; row 1, col 12 -> 18 + 12 = 30, bias 12000
    assertEquals(12030, v[3]);

    // without bias every qkv value appears exactly once across q, k, v
    double[][] plain = ReferenceKernels.addQkvBiasSplitHeads(qkv, null, batch, seq, heads, size);
    double[] all = new double[qkv.length];
    System.arraycopy(plain[0], 0, all, 0, 24);
    System.arraycopy(plain[1], 0, all, 24, 24);
    System.arraycopy(plain[2], 0, all, 48, 24);
    Arrays.sort(all);
    assertArrayEquals(qkv, all, 0.0);
  }

  @Test
  void mergeInvertsSplit() {
    // merge(q part of split(qkv)) is the Q column block of qkv, row by row
    int batch = 2;
    int seq = 3;
    int heads = 4;
    int size = 5;
    int hidden = heads * size;
    float[] qkv = new float[batch * seq * 3 * hidden];
    SplittableRandom r = new SplittableRandom(4);
    for (int i = 0; i < qkv.length; i++) {
      qkv[i] = (float) r.nextDouble(-1, 1);
    }
    float[][] split = ReferenceKernels.addQkvBiasSplitHeads(qkv, null, batch, seq, heads, size);
    for (int part = 0; part < 3; part++) {
      float[] merged = ReferenceKernels.mergeHeads(split[part], batch, seq, heads, size);
      for (int t = 0; t < batch * seq; t++) {
        for (int c = 0; c < hidden; c++) {
          assertEquals(
              qkv[t * 3 * hidden + part * hidden + c],
              merged[t * hidden + c],
              "part " + part + " token " + t + " column " + c);
        }
      }
    }
    // and merge places by index: in[b=1, h=2, s=0, d=4] (flat ((1*4+2)*3+0)*5+4 = 94) goes to
    // out[row 1 * 3 + 0 = 3, column 2 * 5 + 4 = 14] (flat 3 * 20 + 14 = 74)
    double[] in = new double[batch * heads * seq * size];
    in[94] = 42;
    double[] out = ReferenceKernels.mergeHeads(in, batch, seq, heads, size);
    assertEquals(42, out[74]);
    assertEquals(42, Arrays.stream(out).sum());
  }

  @Test
  void batchedScoresAndContextByHand() {
    // one head, seq 2, size 2: q = {{1, 2}, {3, 4}}, k = {{1, 0}, {0, 1}}, scale 0.5
    //   scores = 0.5 * q k^T = 0.5 * {{1, 2}, {3, 4}} = {{0.5, 1}, {1.5, 2}}
    float[] scores =
        ReferenceKernels.batchedScores(
            new float[] {1, 2, 3, 4}, new float[] {1, 0, 0, 1}, 1, 1, 2, 2, 0.5);
    assertArrayEquals(new float[] {0.5f, 1, 1.5f, 2}, scores, 0f);
    // p = {{1/4, 3/4}, {1, 0}}, v = {{4, 8}, {0, 4}}: ctx row 0 = {1, 2 + 3} = {1, 5}; row 1 = v0
    float[] ctx =
        ReferenceKernels.batchedContext(
            new float[] {0.25f, 0.75f, 1, 0}, new float[] {4, 8, 0, 4}, 1, 1, 2, 2);
    assertArrayEquals(new float[] {1, 5, 4, 8}, ctx, 0f);
  }

  @Test
  void batchedGemmsMatchPlainLoopsOnSmallIntegers() {
    // small integers: every sum is exact, so any indexing slip shows as a mismatch
    int batch = 2;
    int heads = 3;
    int seq = 7; // one 4 x 4 tile plus edges
    int size = 5;
    double[] q = smallIntegers(batch * heads * seq * size, 1);
    double[] k = smallIntegers(batch * heads * seq * size, 2);
    double[] v = smallIntegers(batch * heads * seq * size, 3);
    double[] scores = ReferenceKernels.batchedScores(q, k, batch, heads, seq, size, 2.0);
    double[] ctx = ReferenceKernels.batchedContext(scores, v, batch, heads, seq, size);
    for (int bh = 0; bh < batch * heads; bh++) {
      for (int i = 0; i < seq; i++) {
        for (int j = 0; j < seq; j++) {
          double s = 0;
          for (int d = 0; d < size; d++) {
            s += q[(bh * seq + i) * size + d] * k[(bh * seq + j) * size + d];
          }
          assertEquals(2 * s, scores[(bh * seq + i) * seq + j], "score " + bh + "," + i + "," + j);
        }
        for (int d = 0; d < size; d++) {
          double c = 0;
          for (int j = 0; j < seq; j++) {
            c += scores[(bh * seq + i) * seq + j] * v[(bh * seq + j) * size + d];
          }
          assertEquals(c, ctx[(bh * seq + i) * size + d], "context " + bh + "," + i + "," + d);
        }
      }
    }
  }

  // --- padding ---------------------------------------------------------------------------------

  @Test
  void zeroPaddedRowsClearsOnlyPositionsAtOrPastTheLength() {
    // batch 2, seq 3, hidden 2, lengths {1, 3}: rows (0, 1) and (0, 2) become 0
    float[] data = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
    float[] out = ReferenceKernels.zeroPaddedRows(data, new int[] {1, 3}, 2, 3, 2);
    assertArrayEquals(new float[] {1, 2, 0, 0, 0, 0, 7, 8, 9, 10, 11, 12}, out, 0f);
    assertEquals(3f, data[2], "input left untouched");
  }

  // --- linear ----------------------------------------------------------------------------------

  @Test
  void linearOnA2x3ByHand() {
    // x = {{1, 2, 3}, {4, 5, 6}}, W [out 2, in 3] = {{1, 0, -1}, {2, 1, 0}}, bias {10, 20}
    //   y[0] = {1 - 3 + 10, 2 + 2 + 20} = {8, 24}
    //   y[1] = {4 - 6 + 10, 8 + 5 + 20} = {8, 33}
    float[] x = {1, 2, 3, 4, 5, 6};
    float[] w = {1, 0, -1, 2, 1, 0};
    assertArrayEquals(
        new float[] {8, 24, 8, 33},
        ReferenceKernels.linear(x, w, new float[] {10, 20}, 2, 3, 2),
        0f);
    assertArrayEquals(
        new float[] {-2, 4, -2, 13}, ReferenceKernels.linear(x, w, null, 2, 3, 2), 0f);
  }

  @Test
  void linearMatchesPlainLoopsAcrossTilesAndEdges() {
    // rows and out not multiples of the 4 x 4 tile; more rows than one parallel block (32)
    int rows = 70;
    int in = 9;
    int out = 11;
    double[] x = smallIntegers(rows * in, 5);
    double[] w = smallIntegers(out * in, 6);
    double[] bias = smallIntegers(out, 7);
    double[] y = ReferenceKernels.linear(x, w, bias, rows, in, out);
    for (int r = 0; r < rows; r++) {
      for (int o = 0; o < out; o++) {
        double s = bias[o];
        for (int i = 0; i < in; i++) {
          s += x[r * in + i] * w[o * in + i];
        }
        assertEquals(s, y[r * out + o], "y[" + r + ", " + o + "]");
      }
    }
  }

  // --- validation ------------------------------------------------------------------------------

  @Test
  void wrongLengthsAndDimensionsAreRejectedWithTheValue() {
    assertMessage(
        "data has 5 values, expected 2 * 2 = 4",
        () -> ReferenceKernels.addBiasGelu(new float[5], new float[2], 2, 2));
    assertMessage(
        "bias has 3 values, expected 2",
        () -> ReferenceKernels.addBiasGelu(new float[4], new float[3], 2, 2));
    assertMessage(
        "rows = 0, must be >= 1",
        () -> ReferenceKernels.addBiasGelu(new float[0], new float[2], 0, 2));
    assertMessage("data is null", () -> ReferenceKernels.addBiasGelu(null, new float[2], 1, 2));
    assertMessage(
        "gamma has 3 values, expected 4",
        () ->
            ReferenceKernels.addBiasResidualLayerNorm(
                new float[4], null, new float[4], new float[3], new float[4], 1e-5, 1, 4));
    assertMessage(
        "eps = -1.0",
        () ->
            ReferenceKernels.addBiasResidualLayerNorm(
                new float[4], null, new float[4], new float[4], new float[4], -1, 1, 4));
    assertMessage(
        "lengths[1] = 4, must be in [1, seq = 3]",
        () -> ReferenceKernels.maskedSoftmax(new float[2 * 9], new int[] {1, 4}, 2, 1, 3, 1f));
    assertMessage(
        "lengths[0] = 0, must be in [1, seq = 3]",
        () -> ReferenceKernels.maskedSoftmax(new float[9], new int[] {0}, 1, 1, 3, 1f));
    assertMessage(
        "lengths has 1 entries, expected batch = 2",
        () -> ReferenceKernels.zeroPaddedRows(new float[12], new int[] {1}, 2, 3, 2));
    assertMessage(
        "qkv has 17 values, expected 2 * 9 = 18",
        () -> ReferenceKernels.addQkvBiasSplitHeads(new float[17], null, 1, 2, 1, 3));
    assertMessage(
        "heads = -1, must be >= 1", () -> ReferenceKernels.mergeHeads(new float[4], 1, 2, -1, 2));
    assertMessage(
        "weight has 5 values, expected 2 * 3 = 6",
        () -> ReferenceKernels.linear(new float[6], new float[5], null, 2, 3, 2));
    assertMessage(
        "v has 3 values, expected 2 * 2 = 4",
        () -> ReferenceKernels.batchedContext(new float[4], new float[3], 1, 1, 2, 2));
  }

  private static void assertMessage(String fragment, Executable call) {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, call);
    assertTrue(
        e.getMessage().contains(fragment),
        () -> "message '" + e.getMessage() + "' should contain '" + fragment + "'");
  }

  static double[] smallIntegers(int n, long seed) {
    SplittableRandom r = new SplittableRandom(seed);
    double[] x = new double[n];
    for (int i = 0; i < n; i++) {
      x[i] = r.nextInt(-3, 4);
    }
    return x;
  }

  @Test
  void attentionOfOneKeyIsItsValueAndEqualKeysAverage() {
    // batch 2, seq 2, 1 head of size 2; qkv rows (q | k | v); bias adds 1 to v
    float[] qkv = {
      1, 0, 5, 5, 1, 2, // b0 i0
      0, 1, 5, 5, 3, 4, // b0 i1: same key as i0 -> equal weights
      1, 1, 2, 0, 7, 8, // b1 i0: length 1 -> only its own value
      9, 9, 9, 9, 9, 9 // b1 i1: padding, never read; output row is zero
    };
    float[] bias = {0, 0, 0, 0, 1, 1};
    float[] out = ReferenceKernels.attention(qkv, bias, new int[] {2, 1}, 2, 2, 1, 2, 0.5);
    assertArrayEquals(new float[] {3, 4, 3, 4, 8, 9, 0, 0}, out, 1e-6f);
  }

  @Test
  void embeddingLayerNormSumsTheThreeTablesAtTheRightRowsThenNormalises() {
    // hidden 2: any row x = (a, b) normalises to (-1, 1) * gamma + beta when a < b (eps tiny)
    float[] word = {0, 1, 5, 2}; // id 1 -> (5, 2)
    float[] pos = {0, 0, 1, 0, 0, 10, 0, 0}; // rows 0..3; offset 1 -> row 1 then 2
    float[] type = {0, 0, 0, 0};
    float[] gamma = {2, 3};
    float[] beta = {0.5f, -0.5f};
    double[] out =
        ReferenceKernels.embeddingLayerNorm(
            new int[] {1, 1}, null, word, pos, type, gamma, beta, 1e-12, 2, 2, 1);
    // token 0: (5, 2) + pos row 1 (1, 0) = (6, 2): a > b -> (1, -1) -> (2.5, -3.5)
    // token 1: (5, 2) + pos row 2 (0, 10) = (5, 12): a < b -> (-1, 1) -> (-1.5, 2.5)
    assertArrayEquals(new double[] {2.5, -3.5, -1.5, 2.5}, out, 1e-9);
    assertThrows(
        IllegalArgumentException.class,
        () ->
            ReferenceKernels.embeddingLayerNorm(
                new int[] {2}, null, word, pos, type, gamma, beta, 1e-12, 1, 2, 0));
  }
}
