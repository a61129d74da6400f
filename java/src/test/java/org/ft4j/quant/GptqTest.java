package org.ft4j.quant;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.SplittableRandom;
import org.ft4j.encoder.EncoderConfig;
import org.ft4j.encoder.Precision;
import org.ft4j.reference.ActivationHook.Point;
import org.junit.jupiter.api.Test;

/** GPTQ rounding and the second moments it reads, against independent float64 formulations. */
class GptqTest {

  /** [rows, in] inputs with strongly correlated columns (mixed from a few latent factors). */
  static double[] correlatedInputs(int rows, int in, long seed) {
    SplittableRandom r = new SplittableRandom(seed);
    int factors = Math.max(2, in / 4);
    double[][] mix = new double[factors][in];
    for (double[] m : mix) {
      for (int i = 0; i < in; i++) {
        m[i] = r.nextGaussian();
      }
    }
    double[] x = new double[rows * in];
    for (int t = 0; t < rows; t++) {
      for (int f = 0; f < factors; f++) {
        double z = r.nextGaussian();
        for (int i = 0; i < in; i++) {
          x[t * in + i] += z * mix[f][i];
        }
      }
      for (int i = 0; i < in; i++) {
        x[t * in + i] += 0.05 * r.nextGaussian();
      }
    }
    return x;
  }

  static double[][] secondMoments(double[] x, int rows, int in) {
    double[][] h = new double[in][in];
    for (int t = 0; t < rows; t++) {
      for (int i = 0; i < in; i++) {
        for (int j = 0; j < in; j++) {
          h[i][j] += x[t * in + i] * x[t * in + j];
        }
      }
    }
    return h;
  }

  static float[] randomWeight(int out, int in, long seed) {
    SplittableRandom r = new SplittableRandom(seed);
    float[] w = new float[out * in];
    for (int i = 0; i < w.length; i++) {
      w[i] = (float) (0.05 * r.nextGaussian());
    }
    return w;
  }

  /** Σ_o (w_o − q_o)ᵀ H (w_o − q_o): with H = Σ x xᵀ, the product error Σ_t |x_t (w − q)ᵀ|². */
  static double quadraticError(float[] w, float[] q, int out, int in, double[][] h) {
    double e = 0;
    double[] d = new double[in];
    for (int o = 0; o < out; o++) {
      for (int i = 0; i < in; i++) {
        d[i] = w[o * in + i] - q[o * in + i];
      }
      for (int i = 0; i < in; i++) {
        double hd = 0;
        for (int j = 0; j < in; j++) {
          hd += h[i][j] * d[j];
        }
        e += d[i] * hd;
      }
    }
    return e;
  }

  @Test
  void uncorrelatedInputsGiveRoundToNearest() {
    int out = 13;
    int in = 37;
    float[] w = randomWeight(out, in, 5);
    double[][] h = new double[in][in];
    SplittableRandom r = new SplittableRandom(9);
    for (int i = 0; i < in; i++) {
      h[i][i] = 0.5 + r.nextDouble(); // diagonal: no column can compensate another
    }
    assertArrayEquals(
        Int8.quantizeWeight(w, out, in, true).values(), Gptq.round(w, out, in, h, 0.01));
  }

  /**
   * The defining property, computed another way: after rounding columns 0..i, the columns not yet
   * rounded are set to the exact minimiser of the damped quadratic error with the rounded ones
   * fixed (a linear solve per step), and column i + 1 is rounded from there.
   */
  @Test
  void matchesSequentialLeastSquaresOnSmallShapes() {
    for (int in : new int[] {2, 5, 9}) {
      int out = 4;
      int rows = 3 * in;
      double[] x = correlatedInputs(rows, in, 100 + in);
      double[][] h = secondMoments(x, rows, in);
      float[] w = randomWeight(out, in, 200 + in);
      double damping = 0.01;
      assertArrayEquals(
          sequentialInOrder(w, out, in, h, damping),
          Gptq.round(w, out, in, h, damping),
          "natural order, in = " + in);
      assertArrayEquals(
          sequentialLeastSquares(w, out, in, h, damping),
          Gptq.round(w, out, in, h, damping, true),
          "act order, in = " + in);
    }
  }

  /**
   * The reference in act order (largest H_ii first, ties by index): the columns permuted, rounded
   * in sequence ({@link #sequentialInOrder}), permuted back.
   */
  static byte[] sequentialLeastSquares(float[] w, int out, int in, double[][] h0, double damping) {
    Integer[] boxed = new Integer[in];
    for (int i = 0; i < in; i++) {
      boxed[i] = i;
    }
    java.util.Arrays.sort(boxed, (a, b) -> Double.compare(h0[b][b], h0[a][a]));
    float[] wp = new float[w.length];
    double[][] hp = new double[in][in];
    for (int i = 0; i < in; i++) {
      for (int o = 0; o < out; o++) {
        wp[o * in + i] = w[o * in + boxed[i]];
      }
      for (int j = 0; j < in; j++) {
        hp[i][j] = h0[boxed[i]][boxed[j]];
      }
    }
    byte[] qp = sequentialInOrder(wp, out, in, hp, damping);
    byte[] q = new byte[qp.length];
    for (int o = 0; o < out; o++) {
      for (int i = 0; i < in; i++) {
        q[o * in + boxed[i]] = qp[o * in + i];
      }
    }
    return q;
  }

  static byte[] sequentialInOrder(float[] w, int out, int in, double[][] h0, double damping) {
    double[][] h = new double[in][];
    double mean = 0;
    for (int i = 0; i < in; i++) {
      h[i] = h0[i].clone();
      mean += h[i][i] / in;
    }
    for (int i = 0; i < in; i++) {
      h[i][i] += damping * mean;
    }
    float[] amax = Int8.channelAmax(w, out, in);
    byte[] q = new byte[out * in];
    for (int o = 0; o < out; o++) {
      double step = amax[o] / 127.0;
      double[] orig = new double[in];
      for (int i = 0; i < in; i++) {
        orig[i] = w[o * in + i];
      }
      double[] cur = orig.clone();
      double[] fixed = new double[in];
      for (int i = 0; i < in; i++) {
        int v = Int8.quantize(cur[i], 127.0 / amax[o]);
        q[o * in + i] = (byte) v;
        fixed[i] = v * step;
        int rest = in - i - 1;
        if (rest == 0) {
          break;
        }
        // minimise (d)ᵀ H (d), d = orig − [fixed_0..i, y]: H_rr (orig_r − y) = −H_rf (orig_f −
        // fixed_f)
        double[][] a = new double[rest][rest + 1];
        for (int r = 0; r < rest; r++) {
          double b = 0;
          for (int f = 0; f <= i; f++) {
            b -= h[i + 1 + r][f] * (orig[f] - fixed[f]);
          }
          for (int c = 0; c < rest; c++) {
            a[r][c] = h[i + 1 + r][i + 1 + c];
          }
          a[r][rest] = b;
        }
        double[] dr = solve(a);
        for (int r = 0; r < rest; r++) {
          cur[i + 1 + r] = orig[i + 1 + r] - dr[r];
        }
      }
    }
    return q;
  }

  /** Gaussian elimination with partial pivoting on the augmented [n, n + 1] matrix. */
  static double[] solve(double[][] a) {
    int n = a.length;
    for (int c = 0; c < n; c++) {
      int p = c;
      for (int r = c + 1; r < n; r++) {
        if (Math.abs(a[r][c]) > Math.abs(a[p][c])) {
          p = r;
        }
      }
      double[] t = a[c];
      a[c] = a[p];
      a[p] = t;
      for (int r = c + 1; r < n; r++) {
        double f = a[r][c] / a[c][c];
        for (int k = c; k <= n; k++) {
          a[r][k] -= f * a[c][k];
        }
      }
    }
    double[] x = new double[n];
    for (int r = n - 1; r >= 0; r--) {
      double s = a[r][n];
      for (int k = r + 1; k < n; k++) {
        s -= a[r][k] * x[k];
      }
      x[r] = s / a[r][r];
    }
    return x;
  }

  @Test
  void correlatedInputsGetAMuchSmallerProductError() {
    int out = 24;
    int in = 96;
    int rows = 400;
    double[] x = correlatedInputs(rows, in, 3);
    double[][] h = secondMoments(x, rows, in);
    float[] w = randomWeight(out, in, 4);
    Int8.QuantizedWeight nearest = Int8.quantizeWeight(w, out, in, true);
    byte[] g = Gptq.round(w, out, in, h, Gptq.DEFAULT_DAMPING);
    double eNearest = quadraticError(w, nearest.dequantize(), out, in, h);
    double eGptq =
        quadraticError(
            w, new Int8.QuantizedWeight(g, nearest.scales(), out, in).dequantize(), out, in, h);
    assertTrue(eGptq < 0.5 * eNearest, "GPTQ " + eGptq + " vs round-to-nearest " + eNearest);
    int changed = 0;
    for (int i = 0; i < g.length; i++) {
      assertTrue(g[i] >= -127, "never -128");
      changed += g[i] != nearest.values()[i] ? 1 : 0;
    }
    assertTrue(changed > g.length / 20, "GPTQ moved " + changed + " of " + g.length);
  }

  @Test
  void deadInputsAndBadArgumentsAreHandled() {
    int out = 3;
    int in = 6;
    double[] x = correlatedInputs(30, in, 8);
    for (int t = 0; t < 30; t++) {
      x[t * in + 2] = 0; // input 2 never seen
    }
    double[][] h = secondMoments(x, 30, in);
    float[] w = randomWeight(out, in, 1);
    byte[] g = Gptq.round(w, out, in, h, 0.01);
    assertEquals(out * in, g.length);
    assertThrows(IllegalArgumentException.class, () -> Gptq.round(w, out, in + 1, h, 0.01));
    assertThrows(IllegalArgumentException.class, () -> Gptq.round(w, out, in, h, 0));
    double[][] negative = new double[in][in];
    for (int i = 0; i < in; i++) {
      negative[i][i] = 1;
    }
    negative[4][4] = -100;
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> Gptq.round(w, out, in, negative, 0.01));
    assertTrue(e.getMessage().contains("not positive definite"), e.getMessage());
  }

  @Test
  void hessiansSumOuterProductsOfEveryGemmInput() {
    EncoderConfig config = EncoderConfig.of(1, 2, 8, Precision.FP32); // hidden 16, inter 64
    Hessians hs = new Hessians(config);
    double[] a = correlatedInputs(7, 16, 1);
    double[] b = correlatedInputs(5, 16, 2);
    hs.add(0, Point.QKV_IN, a, 7, 16);
    hs.add(0, Point.QKV_IN, b, 5, 16);
    double[][] ha = secondMoments(a, 7, 16);
    double[][] hb = secondMoments(b, 5, 16);
    double[][] h = hs.matrix(0, Point.QKV_IN);
    for (int i = 0; i < 16; i++) {
      for (int j = 0; j < 16; j++) {
        assertEquals(ha[i][j] + hb[i][j], h[i][j], 1e-12 * (1 + Math.abs(h[i][j])));
      }
    }
    assertEquals(12, hs.tokens());
    double[] wide = correlatedInputs(3, 64, 3);
    hs.add(0, Point.FFN2_IN, wide, 3, 64);
    assertEquals(64, hs.matrix(0, Point.FFN2_IN).length);
    assertEquals(null, hs.matrix(0, Point.FFN1_IN), "nothing added there");
    assertThrows(IllegalArgumentException.class, () -> hs.add(0, Point.Q_OUT, a, 7, 16));
    assertThrows(IllegalArgumentException.class, () -> hs.add(0, Point.FFN2_IN, a, 7, 16));
  }
}
