package org.ft4j.model;

/** Turns a text's last hidden states into its embedding (computed in double). */
public final class Pooler {
  private Pooler() {}

  /**
   * Pools {@code states} ([length, hidden], row-major, at least {@code length * hidden} values).
   *
   * @param pooling CLS: row 0; MEAN: the mean of the {@code length} rows; NONE: every row
   * @param normalize divide the result (each row for NONE) by its L2 norm (a zero vector stays 0)
   * @return [hidden] for CLS and MEAN, [length * hidden] for NONE
   */
  public static float[] pool(
      float[] states, int length, int hidden, Pooling pooling, boolean normalize) {
    if (states == null) {
      throw new IllegalArgumentException("states is null");
    }
    if (pooling == null) {
      throw new IllegalArgumentException("pooling is null");
    }
    if (length < 1 || hidden < 1) {
      throw new IllegalArgumentException(
          "length = " + length + ", hidden = " + hidden + "; both must be >= 1");
    }
    if ((long) length * hidden > states.length) {
      throw new IllegalArgumentException(
          "states has "
              + states.length
              + " values, fewer than length * hidden = "
              + (long) length * hidden);
    }
    switch (pooling) {
      case CLS -> {
        double[] v = new double[hidden];
        for (int c = 0; c < hidden; c++) {
          v[c] = states[c];
        }
        return finish(v, normalize);
      }
      case MEAN -> {
        double[] v = new double[hidden];
        for (int r = 0; r < length; r++) {
          int base = r * hidden;
          for (int c = 0; c < hidden; c++) {
            v[c] += states[base + c];
          }
        }
        for (int c = 0; c < hidden; c++) {
          v[c] /= length;
        }
        return finish(v, normalize);
      }
      case NONE -> {
        float[] out = new float[length * hidden];
        double[] row = new double[hidden];
        for (int r = 0; r < length; r++) {
          for (int c = 0; c < hidden; c++) {
            row[c] = states[r * hidden + c];
          }
          System.arraycopy(finish(row, normalize), 0, out, r * hidden, hidden);
        }
        return out;
      }
      default -> throw new IllegalArgumentException("unknown pooling " + pooling);
    }
  }

  private static float[] finish(double[] v, boolean normalize) {
    double scale = 1;
    if (normalize) {
      double sum = 0;
      for (double x : v) {
        sum += x * x;
      }
      double norm = Math.sqrt(sum);
      scale = norm > 0 ? 1 / norm : 1;
    }
    float[] out = new float[v.length];
    for (int i = 0; i < v.length; i++) {
      out[i] = (float) (v[i] * scale);
    }
    return out;
  }
}
