package org.ft4j.quant;

import java.util.stream.IntStream;
import org.ft4j.encoder.EncoderConfig;
import org.ft4j.reference.ActivationHook.Point;

/**
 * The second moments H = Σ x xᵀ of the four GEMM inputs of every layer (qkv_in, attn_out_in,
 * ffn1_in, ffn2_in) over the calibration tokens, as seen by the GEMM: after smoothing. {@link Gptq}
 * rounds a weight so that its error on these inputs, Σ_o (w_o − q_o)ᵀ H (w_o − q_o), is small.
 *
 * <p>Stored as packed upper triangles in float64: layers × (3 hidden² + intermediate²) / 2 × 8
 * bytes (MiniLM and BGE-small: 60 and 120 MB; BERT-base 0.5 GB).
 */
public final class Hessians {
  private final EncoderConfig config;
  private final double[][][]
      upper; // [layer][point][packed upper triangle], null = not a GEMM input
  private long tokens;

  public Hessians(EncoderConfig config) {
    this.config = config;
    this.upper = new double[config.layers()][Point.values().length][];
  }

  /** The number of columns of the GEMM input {@code p}. */
  static int size(EncoderConfig config, Point p) {
    return p == Point.FFN2_IN ? config.intermediateSize() : config.hidden();
  }

  /** Index of (i, j), i ≤ j, in the packed upper triangle of an n × n matrix. */
  static int packed(int n, int i, int j) {
    return i * n - i * (i - 1) / 2 + (j - i);
  }

  /**
   * Adds the rows of {@code x} (row-major [rows, cols], the smoothed GEMM input {@code point} of
   * {@code layer}) to its H. Not thread-safe (the calibrator serialises its calls).
   */
  public void add(int layer, Point point, double[] x, int rows, int cols) {
    if (!point.isGemmInput()) {
      throw new IllegalArgumentException(point.key() + " is not a GEMM input");
    }
    if (cols != size(config, point) || x.length < (long) rows * cols) {
      throw new IllegalArgumentException(
          point.key() + ": [" + rows + ", " + cols + "] does not fit " + x.length + " values");
    }
    double[] h = upper[layer][point.ordinal()];
    if (h == null) {
      h = new double[cols * (cols + 1) / 2];
      upper[layer][point.ordinal()] = h;
    }
    double[] hh = h;
    // Rows of the triangle are independent: split them across cores. Within one, tokens go in
    // blocks of 4, so each H value is loaded and stored once per 4 multiply-adds.
    IntStream.range(0, cols)
        .parallel()
        .forEach(
            i -> {
              int base = packed(cols, i, i) - i;
              int r = 0;
              for (; r + 4 <= rows; r += 4) {
                int a0 = r * cols;
                int a1 = a0 + cols;
                int a2 = a1 + cols;
                int a3 = a2 + cols;
                double x0 = x[a0 + i];
                double x1 = x[a1 + i];
                double x2 = x[a2 + i];
                double x3 = x[a3 + i];
                if (x0 == 0 && x1 == 0 && x2 == 0 && x3 == 0) {
                  continue;
                }
                for (int j = i; j < cols; j++) {
                  hh[base + j] += x0 * x[a0 + j] + x1 * x[a1 + j] + x2 * x[a2 + j] + x3 * x[a3 + j];
                }
              }
              for (; r < rows; r++) {
                int at = r * cols;
                double xi = x[at + i];
                if (xi != 0) {
                  for (int j = i; j < cols; j++) {
                    hh[base + j] += xi * x[at + j];
                  }
                }
              }
            });
    if (layer == 0 && point == Point.QKV_IN) {
      tokens += rows;
    }
  }

  /** Tokens added (counted at layer 0's qkv_in). */
  public long tokens() {
    return tokens;
  }

  /**
   * H of one GEMM input as a full symmetric n × n matrix (a copy), or null when nothing was added.
   */
  public double[][] matrix(int layer, Point point) {
    double[] h = upper[layer][point.ordinal()];
    if (h == null) {
      return null;
    }
    int n = size(config, point);
    double[][] m = new double[n][n];
    for (int i = 0; i < n; i++) {
      for (int j = i; j < n; j++) {
        double v = h[packed(n, i, j)];
        m[i][j] = v;
        m[j][i] = v;
      }
    }
    return m;
  }
}
