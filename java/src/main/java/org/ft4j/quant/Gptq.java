package org.ft4j.quant;

import java.util.stream.IntStream;

/**
 * Error-compensating rounding of an int8 weight (the GPTQ method, Frantar et al. 2022) with the
 * same per-output-channel scales as round-to-nearest: the input columns are rounded one after
 * another, and each column's rounding error is spread over the columns not yet rounded, weighted by
 * how the calibration inputs correlate them, so that the product error on those inputs, Σ_o (w_o −
 * q_o)ᵀ H (w_o − q_o) with H = Σ x xᵀ, is much smaller than round-to-nearest's (on MiniLM about a
 * third). The int8 format, scales and kernels do not change: only which grid point each weight
 * gets.
 *
 * <p>Columns go in their natural order, or optionally in {@link #activationOrder} (largest H_ii
 * first). With U the upper Cholesky factor of H⁻¹ (H⁻¹ = Uᵀ U), rounding column i of row w gives
 * error e = (w_i − q_i) / U_ii, and w_j −= e · U_ij for j &gt; i. H is damped first: H_ii +=
 * damping · mean(diag H); inputs never seen (H_ii = 0) get H_ii = 1 and their weights rounded as
 * they are.
 */
public final class Gptq {
  /** The default damping: 1 % of the mean diagonal. */
  public static final double DEFAULT_DAMPING = 0.01;

  private Gptq() {}

  /**
   * Rounds the row-major [out, in] weight {@code w} with scales amax(row) / 127, column by column
   * in their natural order.
   *
   * @param h H = Σ x xᵀ of the inputs, [in][in], symmetric positive semi-definite
   * @param damping fraction of the mean diagonal added to the diagonal, &gt; 0
   * @return the int8 values, row-major [out, in]
   * @throws IllegalArgumentException on shapes that do not fit, or an H that is not positive
   *     definite after damping (not a second-moment matrix)
   */
  public static byte[] round(float[] w, int out, int in, double[][] h, double damping) {
    return round(w, out, in, h, damping, false);
  }

  /**
   * {@link #round(float[], int, int, double[][], double)}, the columns in {@link #activationOrder}
   * when {@code actOrder}, else in their natural order.
   */
  public static byte[] round(
      float[] w, int out, int in, double[][] h, double damping, boolean actOrder) {
    checkShapes(w, out, in, h, damping);
    if (!actOrder) {
      return roundInOrder(w, out, in, h, damping);
    }
    int[] order = activationOrder(h);
    float[] wp = new float[w.length];
    double[][] hp = new double[in][in];
    for (int i = 0; i < in; i++) {
      for (int o = 0; o < out; o++) {
        wp[o * in + i] = w[o * in + order[i]];
      }
      for (int j = 0; j < in; j++) {
        hp[i][j] = h[order[i]][order[j]];
      }
    }
    byte[] qp = roundInOrder(wp, out, in, hp, damping);
    byte[] q = new byte[qp.length];
    for (int o = 0; o < out; o++) {
      for (int i = 0; i < in; i++) {
        q[o * in + order[i]] = qp[o * in + i];
      }
    }
    return q;
  }

  /**
   * The order the columns are rounded in: largest H_ii (the inputs with the most energy) first,
   * ties by index ("act order"): their errors then have the most columns left to absorb them. On
   * MiniLM it cuts the product error by a further 12 %, but the embeddings gain little and
   * BGE-small none (docs/int8.md): an option, off by default.
   */
  static int[] activationOrder(double[][] h) {
    Integer[] order = new Integer[h.length];
    for (int i = 0; i < order.length; i++) {
      order[i] = i;
    }
    java.util.Arrays.sort(order, (a, b) -> Double.compare(h[b][b], h[a][a]));
    int[] o = new int[order.length];
    for (int i = 0; i < o.length; i++) {
      o[i] = order[i];
    }
    return o;
  }

  private static void checkShapes(float[] w, int out, int in, double[][] h, double damping) {
    if (w.length != (long) out * in || h.length != in) {
      throw new IllegalArgumentException(
          "weight of "
              + w.length
              + " values and H of "
              + h.length
              + " rows do not fit [out "
              + out
              + ", in "
              + in
              + "]");
    }
    if (!(damping > 0) || Double.isInfinite(damping)) {
      throw new IllegalArgumentException("damping = " + damping + ", must be finite and > 0");
    }
    for (double[] row : h) {
      if (row.length != in) {
        throw new IllegalArgumentException("H row has " + row.length + " values, expected " + in);
      }
    }
  }

  /** GPTQ over the columns in their given order. */
  private static byte[] roundInOrder(float[] w, int out, int in, double[][] h, double damping) {
    double[][] a = new double[in][];
    double mean = 0;
    for (int i = 0; i < in; i++) {
      a[i] = h[i].clone();
      mean += a[i][i];
    }
    mean = mean > 0 ? mean / in : 1;
    for (int i = 0; i < in; i++) {
      if (a[i][i] == 0) {
        a[i][i] = 1;
      }
      a[i][i] += damping * mean;
    }
    double[][] u = upperFactorOfInverse(a);
    float[] amax = Int8.channelAmax(w, out, in);
    byte[] q = new byte[w.length];
    IntStream.range(0, out)
        .parallel()
        .forEach(
            o -> {
              double[] row = new double[in];
              for (int i = 0; i < in; i++) {
                row[i] = w[o * in + i];
              }
              double inv = amax[o] > 0 ? Int8.QMAX / (double) amax[o] : 0;
              double step = amax[o] > 0 ? amax[o] / (double) Int8.QMAX : 0;
              for (int i = 0; i < in; i++) {
                int v = Int8.quantize(row[i], inv);
                q[o * in + i] = (byte) v;
                double e = (row[i] - v * step) / u[i][i];
                if (e != 0) {
                  double[] ui = u[i];
                  for (int j = i + 1; j < in; j++) {
                    row[j] -= e * ui[j];
                  }
                }
              }
            });
    return q;
  }

  /** U upper triangular with Uᵀ U = a⁻¹, for symmetric positive definite a. */
  static double[][] upperFactorOfInverse(double[][] a) {
    int n = a.length;
    double[][] l = cholesky(a, "H");
    // Columns of L⁻¹ (lower triangular), stored as rows: column c solves L x = e_c.
    double[][] col = new double[n][];
    IntStream.range(0, n)
        .parallel()
        .forEach(
            c -> {
              double[] x = new double[n];
              for (int i = c; i < n; i++) {
                double t = i == c ? 1 : 0;
                double[] lrow = l[i];
                for (int k = c; k < i; k++) {
                  t -= lrow[k] * x[k];
                }
                x[i] = t / lrow[i];
              }
              col[c] = x;
            });
    // a⁻¹ = L⁻ᵀ L⁻¹: entry (i, j) is the dot product of columns i and j of L⁻¹ (zero above the
    // diagonal, so from max(i, j) on).
    double[][] inv = new double[n][n];
    IntStream.range(0, n)
        .parallel()
        .forEach(
            i -> {
              double[] ci = col[i];
              for (int j = i; j < n; j++) {
                double[] cj = col[j];
                double t = 0;
                for (int k = j; k < n; k++) {
                  t += ci[k] * cj[k];
                }
                inv[i][j] = t;
              }
            });
    for (int i = 0; i < n; i++) {
      for (int j = 0; j < i; j++) {
        inv[i][j] = inv[j][i];
      }
    }
    // a⁻¹ = L' L'ᵀ  ⇒  U = L'ᵀ.
    double[][] l2 = cholesky(inv, "H^-1");
    double[][] u = new double[n][n];
    for (int i = 0; i < n; i++) {
      for (int j = i; j < n; j++) {
        u[i][j] = l2[j][i];
      }
    }
    return u;
  }

  /** Lower triangular L with L Lᵀ = a. */
  static double[][] cholesky(double[][] a, String what) {
    int n = a.length;
    double[][] l = new double[n][n];
    for (int j = 0; j < n; j++) {
      double d = a[j][j];
      double[] lj = l[j];
      for (int k = 0; k < j; k++) {
        d -= lj[k] * lj[k];
      }
      if (!(d > 0)) {
        throw new IllegalArgumentException(
            what + " is not positive definite (pivot " + j + " = " + d + ")");
      }
      double ljj = Math.sqrt(d);
      lj[j] = ljj;
      int jj = j;
      IntStream.range(j + 1, n)
          .parallel()
          .forEach(
              i -> {
                double t = a[i][jj];
                double[] li = l[i];
                for (int k = 0; k < jj; k++) {
                  t -= li[k] * lj[k];
                }
                li[jj] = t / ljj;
              });
    }
    return l;
  }
}
