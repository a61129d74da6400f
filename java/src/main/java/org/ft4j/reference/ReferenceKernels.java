package org.ft4j.reference;

import java.util.stream.IntStream;

/**
 * Float64 CPU references of the kernels declared in {@code native/include/ft4j.h}, plus the GEMMs
 * the encoder runs through cuBLASLt. They are the oracle the GPU tests compare against.
 *
 * <p>Conventions shared by every method:
 *
 * <ul>
 *   <li>Tensors are row-major; a shape {@code [a, b, c]} lists dimensions from slowest to fastest.
 *   <li>Each operation exists twice: on {@code float[]} (what the GPU tests hand to a kernel) and
 *       on {@code double[]} (to chain operations without rounding in between). The float version
 *       widens its inputs, runs the double version and rounds the result to float once.
 *   <li>Inputs are never modified; every result is a new array. The in-place and aliasing variants
 *       of the CUDA kernels ({@code out == input} ...) therefore all map to the same call here.
 *   <li>Arguments are checked first: a null array (where not documented as nullable), a dimension
 *       below 1, an array whose length does not match the dimensions, or a sequence length outside
 *       {@code [1, seq]} throws {@link IllegalArgumentException} naming the value.
 * </ul>
 *
 * <p>Large operations ({@link #linear}, {@link #batchedScores}, {@link #batchedContext}) run in
 * parallel on the common fork-join pool; all methods are stateless and thread-safe.
 */
public final class ReferenceKernels {
  private static final double TWO_OVER_SQRT_PI = 1.1283791670955126; // 2 / sqrt(pi)
  private static final double ONE_OVER_SQRT_PI = 0.5641895835477563; // 1 / sqrt(pi)
  private static final double ONE_OVER_SQRT_2 = 0.7071067811865476; // 1 / sqrt(2)
  private static final double SQRT_2_OVER_PI = 0.7978845608028654; // sqrt(2 / pi)

  /** Below this |x| erf uses its power series, at and above it the erfc continued fraction. */
  static final double ERF_SERIES_LIMIT = 3.0;

  /** TWO_OVER_ODD[n] = 2 / (2n + 1): the ratio of consecutive erf series terms over x^2. */
  private static final double[] TWO_OVER_ODD = new double[160];

  static {
    for (int n = 0; n < TWO_OVER_ODD.length; n++) {
      TWO_OVER_ODD[n] = 2.0 / (2 * n + 1);
    }
  }

  /** Rows of x (or of the left operand) handled by one parallel task of the GEMM. */
  private static final int GEMM_ROW_BLOCK = 32;

  /** Below this many multiply-adds a GEMM runs on the calling thread. */
  private static final long GEMM_SERIAL_WORK = 1L << 18;

  private ReferenceKernels() {}

  // --- scalar functions ------------------------------------------------------------------------

  /**
   * The error function erf(x) = 2/sqrt(pi) * integral from 0 to x of exp(-t^2) dt, with an absolute
   * error below 2e-15 over the whole real line (largest seen against 40-digit values: 1.3e-15, near
   * x = 2.9).
   *
   * <p>For |x| &lt; 3 it sums the series erf(x) = 2/sqrt(pi) * exp(-x^2) * sum_{n>=0} 2^n x^(2n+1)
   * / (1 * 3 * ... * (2n+1)), whose terms all have the sign of x (no cancellation). For |x| &gt;= 3
   * it returns sign(x) * (1 - erfc(|x|)) with erfc from its continued fraction (see {@link #erfc}).
   * NaN gives NaN.
   */
  public static double erf(double x) {
    if (Double.isNaN(x)) {
      return Double.NaN;
    }
    double a = Math.abs(x);
    if (a < ERF_SERIES_LIMIT) {
      return erfSeries(x);
    }
    double r = 1.0 - erfcContinuedFraction(a);
    return x < 0 ? -r : r;
  }

  /**
   * The complementary error function erfc(x) = 1 - erf(x), accurate in relative terms where it is
   * small (x &gt;= 3, through the continued fraction erfc(x) = exp(-x^2)/sqrt(pi) * 1/(x + (1/2)/(x
   * + 1/(x + (3/2)/(x + 2/(x + ...))))) and in absolute terms (2e-15) elsewhere. NaN gives NaN.
   */
  public static double erfc(double x) {
    if (Double.isNaN(x)) {
      return Double.NaN;
    }
    if (x >= ERF_SERIES_LIMIT) {
      return erfcContinuedFraction(x);
    }
    if (x <= -ERF_SERIES_LIMIT) {
      return 2.0 - erfcContinuedFraction(-x);
    }
    return 1.0 - erfSeries(x);
  }

  /**
   * The exact (erf) GELU of BERT: gelu(x) = x * Phi(x) = 0.5 x (1 + erf(x / sqrt 2)), computed as
   * 0.5 x erfc(-x / sqrt 2) so that it keeps its relative accuracy for large negative x (where 1 +
   * erf would cancel to 0). gelu(x) = x for x &gt;= ~8.3 and tends to -0 for very negative x.
   */
  public static double gelu(double x) {
    return 0.5 * x * erfc(-x * ONE_OVER_SQRT_2);
  }

  /**
   * The tanh approximation of GELU (Hendrycks and Gimpel), the one cuBLASLt's GELU epilogue
   * computes: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))). It differs from the exact GELU by at
   * most 4.8e-4 in absolute value (near |x| = 2.7), half of FP16's rounding step at that size.
   */
  public static double geluTanh(double x) {
    return 0.5 * x * (1 + Math.tanh(SQRT_2_OVER_PI * (x + 0.044715 * x * x * x)));
  }

  /** Power series of erf, for |x| below {@link #ERF_SERIES_LIMIT}. */
  static double erfSeries(double x) {
    double x2 = x * x;
    double term = x; // 2^n x^(2n+1) / (2n+1)!!
    double sum = x;
    for (int n = 1; n < TWO_OVER_ODD.length; n++) {
      term *= x2 * TWO_OVER_ODD[n];
      sum += term;
      if (Math.abs(term) <= 1e-17 * Math.abs(sum)) {
        break;
      }
    }
    return TWO_OVER_SQRT_PI * Math.exp(-x2) * sum;
  }

  /**
   * erfc(x) for x &gt; 0 from its continued fraction, evaluated with the modified Lentz method. It
   * converges fast for x &gt;= 2; used for x &gt;= {@link #ERF_SERIES_LIMIT}.
   */
  static double erfcContinuedFraction(double x) {
    if (x > 27.3) {
      return 0.0; // exp(-x^2) underflows below the smallest subnormal
    }
    // erfc(x) * sqrt(pi) * exp(x^2) = 1 / (x + a1 / (x + a2 / (x + ...))), a_k = k / 2.
    final double tiny = 1e-300;
    double f = x;
    double c = x;
    double d = 0.0;
    for (int k = 1; k < 500; k++) {
      double ak = 0.5 * k;
      d = x + ak * d;
      if (d == 0.0) {
        d = tiny;
      }
      c = x + ak / c;
      if (c == 0.0) {
        c = tiny;
      }
      d = 1.0 / d;
      double delta = c * d;
      f *= delta;
      if (Math.abs(delta - 1.0) < 1e-16) {
        break;
      }
    }
    return ONE_OVER_SQRT_PI * Math.exp(-x * x) / f;
  }

  // --- activation ------------------------------------------------------------------------------

  /**
   * out[r, c] = gelu(data[r, c] + bias[c]) (exact erf GELU), as {@code ft4j_add_bias_gelu}.
   *
   * @param data [rows, cols]
   * @param bias [cols]
   * @return [rows, cols]
   */
  public static float[] addBiasGelu(float[] data, float[] bias, int rows, int cols) {
    return toFloat(addBiasGelu(toDouble(data, "data"), toDouble(bias, "bias"), rows, cols));
  }

  /** Float64 version of {@link #addBiasGelu(float[], float[], int, int)}. */
  public static double[] addBiasGelu(double[] data, double[] bias, int rows, int cols) {
    String op = "addBiasGelu";
    positive(op, "rows", rows);
    positive(op, "cols", cols);
    length(op, "data", data, rows, cols);
    length(op, "bias", bias, cols);
    double[] out = new double[data.length];
    forEachRow(
        rows,
        cols,
        r -> {
          int base = r * cols;
          for (int c = 0; c < cols; c++) {
            out[base + c] = gelu(data[base + c] + bias[c]);
          }
        });
    return out;
  }

  // --- layernorm -------------------------------------------------------------------------------

  /**
   * Add bias and residual, then layernorm each row, as {@code ft4j_add_bias_residual_layernorm}:
   *
   * <pre>
   *   x[c]      = input[r, c] + bias[c] + residual[r, c]      (bias term omitted when bias is null)
   *   mean      = sum_c x[c] / cols
   *   var       = sum_c (x[c] - mean)^2 / cols                (biased; two passes over the row)
   *   out[r, c] = (x[c] - mean) / sqrt(var + eps) * gamma[c] + beta[c]
   * </pre>
   *
   * @param input [rows, cols]
   * @param bias [cols] or null
   * @param residual [rows, cols]
   * @param gamma [cols]
   * @param beta [cols]
   * @param eps added to the variance, &gt;= 0 and finite
   * @return [rows, cols]
   */
  public static float[] addBiasResidualLayerNorm(
      float[] input,
      float[] bias,
      float[] residual,
      float[] gamma,
      float[] beta,
      double eps,
      int rows,
      int cols) {
    return toFloat(
        addBiasResidualLayerNorm(
            toDouble(input, "input"),
            bias == null ? null : toDouble(bias, "bias"),
            toDouble(residual, "residual"),
            toDouble(gamma, "gamma"),
            toDouble(beta, "beta"),
            eps,
            rows,
            cols));
  }

  /**
   * Float64 version of {@link #addBiasResidualLayerNorm(float[], float[], float[], float[],
   * float[], double, int, int)}.
   */
  public static double[] addBiasResidualLayerNorm(
      double[] input,
      double[] bias,
      double[] residual,
      double[] gamma,
      double[] beta,
      double eps,
      int rows,
      int cols) {
    String op = "addBiasResidualLayerNorm";
    positive(op, "rows", rows);
    positive(op, "cols", cols);
    length(op, "input", input, rows, cols);
    if (bias != null) {
      length(op, "bias", bias, cols);
    }
    length(op, "residual", residual, rows, cols);
    length(op, "gamma", gamma, cols);
    length(op, "beta", beta, cols);
    if (!(eps >= 0) || Double.isInfinite(eps)) {
      throw new IllegalArgumentException(op + ": eps = " + eps + ", must be >= 0 and finite");
    }
    double[] out = new double[input.length];
    forEachRow(
        rows,
        cols,
        r -> {
          double[] x = new double[cols];
          int base = r * cols;
          for (int c = 0; c < cols; c++) {
            x[c] = input[base + c] + (bias == null ? 0.0 : bias[c]) + residual[base + c];
          }
          layerNormRow(x, gamma, beta, eps, out, base);
        });
    return out;
  }

  /** out[base + c] = (x[c] - mean) / sqrt(var + eps) * gamma[c] + beta[c], two-pass variance. */
  static void layerNormRow(
      double[] x, double[] gamma, double[] beta, double eps, double[] out, int base) {
    int cols = x.length;
    double sum = 0;
    for (int c = 0; c < cols; c++) {
      sum += x[c];
    }
    double mean = sum / cols;
    double sq = 0;
    for (int c = 0; c < cols; c++) {
      double d = x[c] - mean;
      sq += d * d;
    }
    double sd = Math.sqrt(sq / cols + eps);
    for (int c = 0; c < cols; c++) {
      out[base + c] = (x[c] - mean) / sd * gamma[c] + beta[c];
    }
  }

  // --- attention (unfused path) ----------------------------------------------------------------

  /**
   * Split the fused QKV projection into per-head tensors and add its bias, as {@code
   * ft4j_add_qkv_bias_split_heads}:
   *
   * <pre>
   *   q[b, h, s, d] = qkv[b * seq + s, 0 * hidden + c] + qkvBias[0 * hidden + c]
   *   k[b, h, s, d] = qkv[b * seq + s, 1 * hidden + c] + qkvBias[1 * hidden + c]
   *   v[b, h, s, d] = qkv[b * seq + s, 2 * hidden + c] + qkvBias[2 * hidden + c]
   * </pre>
   *
   * with c = h * size + d and hidden = heads * size.
   *
   * @param qkv [batch * seq, 3 * hidden], columns (Q | K | V), each ordered (head, d)
   * @param qkvBias [3 * hidden] or null
   * @return {q, k, v}, each [batch, heads, seq, size]
   */
  public static float[][] addQkvBiasSplitHeads(
      float[] qkv, float[] qkvBias, int batch, int seq, int heads, int size) {
    double[][] r =
        addQkvBiasSplitHeads(
            toDouble(qkv, "qkv"),
            qkvBias == null ? null : toDouble(qkvBias, "qkvBias"),
            batch,
            seq,
            heads,
            size);
    return new float[][] {toFloat(r[0]), toFloat(r[1]), toFloat(r[2])};
  }

  /** Float64 version of {@link #addQkvBiasSplitHeads(float[], float[], int, int, int, int)}. */
  public static double[][] addQkvBiasSplitHeads(
      double[] qkv, double[] qkvBias, int batch, int seq, int heads, int size) {
    String op = "addQkvBiasSplitHeads";
    checkHeadDims(op, batch, seq, heads, size);
    int hidden = heads * size;
    int tokens = batch * seq;
    length(op, "qkv", qkv, tokens, 3L * hidden);
    if (qkvBias != null) {
      length(op, "qkvBias", qkvBias, 3L * hidden);
    }
    double[][] qkvOut = {
      new double[tokens * hidden], new double[tokens * hidden], new double[tokens * hidden]
    };
    for (int b = 0; b < batch; b++) {
      for (int s = 0; s < seq; s++) {
        int row = (b * seq + s) * 3 * hidden;
        for (int part = 0; part < 3; part++) {
          double[] dst = qkvOut[part];
          for (int h = 0; h < heads; h++) {
            int src = row + part * hidden + h * size;
            int biasAt = part * hidden + h * size;
            int at = ((b * heads + h) * seq + s) * size;
            for (int d = 0; d < size; d++) {
              dst[at + d] = qkv[src + d] + (qkvBias == null ? 0.0 : qkvBias[biasAt + d]);
            }
          }
        }
      }
    }
    return qkvOut;
  }

  /**
   * Row softmax of attention scores masked by sequence lengths, as {@code ft4j_masked_softmax}. For
   * every row (b, h, i), with len = lengths[b]:
   *
   * <pre>
   *   m       = max_{j &lt; len} scale * s[j]
   *   p[j]    = exp(scale * s[j] - m) / sum_{j' &lt; len} exp(scale * s[j'] - m)   for j &lt; len
   *   p[j]    = 0 (exactly)                                                    for j &gt;= len
   * </pre>
   *
   * Query rows i &gt;= len are computed the same way (they see only the valid keys).
   *
   * @param scores [batch, heads, seq (query), seq (key)]
   * @param lengths [batch], each in [1, seq]
   * @return [batch, heads, seq, seq]
   */
  public static float[] maskedSoftmax(
      float[] scores, int[] lengths, int batch, int heads, int seq, double scale) {
    return toFloat(maskedSoftmax(toDouble(scores, "scores"), lengths, batch, heads, seq, scale));
  }

  /** Float64 version of {@link #maskedSoftmax(float[], int[], int, int, int, double)}. */
  public static double[] maskedSoftmax(
      double[] scores, int[] lengths, int batch, int heads, int seq, double scale) {
    String op = "maskedSoftmax";
    positive(op, "batch", batch);
    positive(op, "heads", heads);
    positive(op, "seq", seq);
    length(op, "scores", scores, (long) batch * heads * seq, seq);
    checkLengths(op, lengths, batch, seq);
    if (!Double.isFinite(scale)) {
      throw new IllegalArgumentException(op + ": scale = " + scale + ", must be finite");
    }
    double[] out = new double[scores.length];
    forEachRow(
        batch * heads * seq,
        seq,
        row -> {
          int len = lengths[row / (heads * seq)];
          softmaxRow(scores, row * seq, len, scale, out, row * seq);
        });
    return out;
  }

  /**
   * out[outAt + j] = softmax over j &lt; len of scale * s[at + j]; 0 for len &lt;= j &lt; seq is
   * left as the caller's array holds it (new arrays hold 0).
   */
  static void softmaxRow(double[] s, int at, int len, double scale, double[] out, int outAt) {
    double max = Double.NEGATIVE_INFINITY;
    for (int j = 0; j < len; j++) {
      max = Math.max(max, scale * s[at + j]);
    }
    double sum = 0;
    for (int j = 0; j < len; j++) {
      double e = Math.exp(scale * s[at + j] - max);
      out[outAt + j] = e;
      sum += e;
    }
    double inv = 1.0 / sum;
    for (int j = 0; j < len; j++) {
      out[outAt + j] *= inv;
    }
  }

  /**
   * Inverse of the split, as {@code ft4j_merge_heads}: out[b * seq + s, h * size + d] = in[b, h, s,
   * d].
   *
   * @param in [batch, heads, seq, size]
   * @return [batch * seq, heads * size]
   */
  public static float[] mergeHeads(float[] in, int batch, int seq, int heads, int size) {
    return toFloat(mergeHeads(toDouble(in, "in"), batch, seq, heads, size));
  }

  /** Float64 version of {@link #mergeHeads(float[], int, int, int, int)}. */
  public static double[] mergeHeads(double[] in, int batch, int seq, int heads, int size) {
    String op = "mergeHeads";
    checkHeadDims(op, batch, seq, heads, size);
    length(op, "in", in, (long) batch * heads * seq, size);
    int hidden = heads * size;
    double[] out = new double[in.length];
    for (int b = 0; b < batch; b++) {
      for (int h = 0; h < heads; h++) {
        for (int s = 0; s < seq; s++) {
          System.arraycopy(
              in, ((b * heads + h) * seq + s) * size, out, (b * seq + s) * hidden + h * size, size);
        }
      }
    }
    return out;
  }

  /**
   * Attention scores of every query against every key (no mask), the batched GEMM the unfused
   * attention runs: scores[b, h, i, j] = scale * sum_d q[b, h, i, d] * k[b, h, j, d].
   *
   * @param q [batch, heads, seq, size]
   * @param k [batch, heads, seq, size]
   * @return [batch, heads, seq, seq]
   */
  public static float[] batchedScores(
      float[] q, float[] k, int batch, int heads, int seq, int size, double scale) {
    return toFloat(
        batchedScores(toDouble(q, "q"), toDouble(k, "k"), batch, heads, seq, size, scale));
  }

  /** Float64 version of {@link #batchedScores(float[], float[], int, int, int, int, double)}. */
  public static double[] batchedScores(
      double[] q, double[] k, int batch, int heads, int seq, int size, double scale) {
    String op = "batchedScores";
    checkHeadDims(op, batch, seq, heads, size);
    length(op, "q", q, (long) batch * heads * seq, size);
    length(op, "k", k, (long) batch * heads * seq, size);
    checkElements(op, "scores", (long) batch * heads * seq * seq);
    if (!Double.isFinite(scale)) {
      throw new IllegalArgumentException(op + ": scale = " + scale + ", must be finite");
    }
    double[] out = new double[batch * heads * seq * seq];
    IntStream.range(0, batch * heads)
        .parallel()
        .forEach(
            bh -> {
              int qk = bh * seq * size;
              int at = bh * seq * seq;
              gemmNt(q, qk, k, qk, out, at, seq, seq, size);
              for (int i = at; i < at + seq * seq; i++) {
                out[i] *= scale;
              }
            });
    return out;
  }

  /**
   * Attention context, the second batched GEMM of the unfused attention: context[b, h, i, d] =
   * sum_j p[b, h, i, j] * v[b, h, j, d] over all seq keys (masked keys have p = 0).
   *
   * @param p [batch, heads, seq, seq] attention probabilities
   * @param v [batch, heads, seq, size]
   * @return [batch, heads, seq, size]
   */
  public static float[] batchedContext(
      float[] p, float[] v, int batch, int heads, int seq, int size) {
    return toFloat(batchedContext(toDouble(p, "p"), toDouble(v, "v"), batch, heads, seq, size));
  }

  /** Float64 version of {@link #batchedContext(float[], float[], int, int, int, int)}. */
  public static double[] batchedContext(
      double[] p, double[] v, int batch, int heads, int seq, int size) {
    String op = "batchedContext";
    checkHeadDims(op, batch, seq, heads, size);
    checkElements(op, "p", (long) batch * heads * seq * seq);
    length(op, "p", p, (long) batch * heads * seq, seq);
    length(op, "v", v, (long) batch * heads * seq, size);
    double[] out = new double[batch * heads * seq * size];
    IntStream.range(0, batch * heads)
        .parallel()
        .forEach(
            bh -> {
              double[] vt = transpose(v, bh * seq * size, seq, size); // [size, seq]
              gemmNt(p, bh * seq * seq, vt, 0, out, bh * seq * size, seq, size, seq);
            });
    return out;
  }

  /**
   * Whole attention of a padded batch, as {@code ft4j_fused_attention} computes it: out[b*seq + i,
   * h*size + :] = sum_{j < len_b} softmax_j(scale * q_i . k_j) v_j for i &lt; len_b, and 0 for the
   * padded query rows i &gt;= len_b. q, k and v come from qkv [batch*seq, 3*hidden] (+ qkvBias, may
   * be null), as in {@link #addQkvBiasSplitHeads}. Float64 throughout, rounded to float once.
   *
   * @return [batch * seq, heads * size]
   */
  public static float[] attention(
      float[] qkv,
      float[] qkvBias,
      int[] lengths,
      int batch,
      int seq,
      int heads,
      int size,
      double scale) {
    double[][] split =
        addQkvBiasSplitHeads(
            toDouble(qkv, "qkv"),
            qkvBias == null ? null : toDouble(qkvBias, "qkvBias"),
            batch,
            seq,
            heads,
            size);
    double[] scores = batchedScores(split[0], split[1], batch, heads, seq, size, scale);
    double[] p = maskedSoftmax(scores, lengths, batch, heads, seq, 1.0);
    double[] context = batchedContext(p, split[2], batch, heads, seq, size);
    double[] merged = mergeHeads(context, batch, seq, heads, size);
    return toFloat(zeroPaddedRows(merged, lengths, batch, seq, heads * size));
  }

  /**
   * Embedding layer, as {@code ft4j_embedding_layernorm}: out[r] = layernorm(word[ids[r]] +
   * position[r % seq + positionOffset] + tokenType[typeIds[r]]) in float64 (typeIds may be null:
   * type 0). Ids are checked here (the kernel only clamps).
   *
   * @return [rows, hidden]
   */
  public static double[] embeddingLayerNorm(
      int[] ids,
      int[] typeIds,
      float[] word,
      float[] position,
      float[] tokenType,
      float[] gamma,
      float[] beta,
      double eps,
      int seq,
      int hidden,
      int positionOffset) {
    String op = "embeddingLayerNorm";
    positive(op, "seq", seq);
    positive(op, "hidden", hidden);
    int rows = ids.length;
    int vocab = word.length / hidden;
    int positions = position.length / hidden;
    int types = tokenType.length / hidden;
    double[] g = toDouble(gamma, "gamma");
    double[] b = toDouble(beta, "beta");
    double[] out = new double[rows * hidden];
    double[] x = new double[hidden];
    for (int r = 0; r < rows; r++) {
      int id = ids[r];
      int type = typeIds == null ? 0 : typeIds[r];
      int pos = r % seq + positionOffset;
      if (id < 0 || id >= vocab) {
        throw new IllegalArgumentException(
            op + ": id " + id + " at row " + r + " not in [0, " + vocab + ")");
      }
      if (type < 0 || type >= types) {
        throw new IllegalArgumentException(
            op + ": type " + type + " at row " + r + " not in [0, " + types + ")");
      }
      if (pos >= positions) {
        throw new IllegalArgumentException(
            op + ": position " + pos + " at row " + r + " not in [0, " + positions + ")");
      }
      for (int c = 0; c < hidden; c++) {
        x[c] =
            (double) word[id * hidden + c]
                + position[pos * hidden + c]
                + tokenType[type * hidden + c];
      }
      layerNormRow(x, g, b, eps, out, r * hidden);
    }
    return out;
  }

  // --- padding ---------------------------------------------------------------------------------

  /**
   * Zero the padded rows, as {@code ft4j_zero_padded_rows}: out[b, s, :] = 0 for s &gt;=
   * lengths[b], data[b, s, :] otherwise.
   *
   * @param data [batch, seq, hidden]
   * @param lengths [batch], each in [1, seq]
   * @return [batch, seq, hidden]
   */
  public static float[] zeroPaddedRows(
      float[] data, int[] lengths, int batch, int seq, int hidden) {
    return toFloat(zeroPaddedRows(toDouble(data, "data"), lengths, batch, seq, hidden));
  }

  /** Float64 version of {@link #zeroPaddedRows(float[], int[], int, int, int)}. */
  public static double[] zeroPaddedRows(
      double[] data, int[] lengths, int batch, int seq, int hidden) {
    String op = "zeroPaddedRows";
    positive(op, "batch", batch);
    positive(op, "seq", seq);
    positive(op, "hidden", hidden);
    length(op, "data", data, (long) batch * seq, hidden);
    checkLengths(op, lengths, batch, seq);
    double[] out = new double[data.length];
    for (int b = 0; b < batch; b++) {
      int at = b * seq * hidden;
      System.arraycopy(data, at, out, at, lengths[b] * hidden);
    }
    return out;
  }

  // --- linear ----------------------------------------------------------------------------------

  /**
   * A fully connected layer with a PyTorch-layout weight: y[r, o] = sum_i x[r, i] * weight[o, i] +
   * bias[o] (no bias term when bias is null). This is the GEMM cuBLASLt runs for every projection.
   *
   * @param x [rows, in]
   * @param weight [out, in]
   * @param bias [out] or null
   * @return [rows, out]
   */
  public static float[] linear(float[] x, float[] weight, float[] bias, int rows, int in, int out) {
    return toFloat(
        linear(
            toDouble(x, "x"),
            toDouble(weight, "weight"),
            bias == null ? null : toDouble(bias, "bias"),
            rows,
            in,
            out));
  }

  /** Float64 version of {@link #linear(float[], float[], float[], int, int, int)}. */
  public static double[] linear(
      double[] x, double[] weight, double[] bias, int rows, int in, int out) {
    String op = "linear";
    positive(op, "rows", rows);
    positive(op, "in", in);
    positive(op, "out", out);
    length(op, "x", x, rows, in);
    length(op, "weight", weight, out, in);
    if (bias != null) {
      length(op, "bias", bias, out);
    }
    checkElements(op, "y", (long) rows * out);
    double[] y = new double[rows * out];
    linearInto(x, weight, bias, rows, in, out, y);
    return y;
  }

  /**
   * y[r, o] = sum_i x[r, i] * w[o, i] (+ bias[o]), unchecked; rows are split into blocks that run
   * in parallel when the product is large enough.
   */
  static void linearInto(
      double[] x, double[] w, double[] bias, int rows, int in, int out, double[] y) {
    int blocks = (rows + GEMM_ROW_BLOCK - 1) / GEMM_ROW_BLOCK;
    IntStream range = IntStream.range(0, blocks);
    if ((long) rows * in * out > GEMM_SERIAL_WORK) {
      range = range.parallel();
    }
    range.forEach(
        blk -> {
          int r0 = blk * GEMM_ROW_BLOCK;
          int m = Math.min(GEMM_ROW_BLOCK, rows - r0);
          gemmNt(x, r0 * in, w, 0, y, r0 * out, m, out, in);
          if (bias != null) {
            for (int r = r0; r < r0 + m; r++) {
              int at = r * out;
              for (int o = 0; o < out; o++) {
                y[at + o] += bias[o];
              }
            }
          }
        });
  }

  /**
   * c[cAt + i * n + j] = sum_{t &lt; k} a[aAt + i * k + t] * b[bAt + j * k + t] for i &lt; m, j
   * &lt; n: A [m, k] times the transpose of B [n, k], both read along contiguous rows. Serial.
   *
   * <p>The body is a 4 x 4 register tile (16 independent sums over t) so the loads of A and B rows
   * are each reused four times; edges fall back to plain dot products. The sums always run in
   * increasing t from 0.0, so a single term (k = 1, or p = 1 against v) is reproduced exactly.
   */
  static void gemmNt(
      double[] a, int aAt, double[] b, int bAt, double[] c, int cAt, int m, int n, int k) {
    int i = 0;
    for (; i + 4 <= m; i += 4) {
      int a0 = aAt + i * k;
      int a1 = a0 + k;
      int a2 = a1 + k;
      int a3 = a2 + k;
      int c0 = cAt + i * n;
      int j = 0;
      for (; j + 4 <= n; j += 4) {
        int b0 = bAt + j * k;
        int b1 = b0 + k;
        int b2 = b1 + k;
        int b3 = b2 + k;
        double s00 = 0, s01 = 0, s02 = 0, s03 = 0;
        double s10 = 0, s11 = 0, s12 = 0, s13 = 0;
        double s20 = 0, s21 = 0, s22 = 0, s23 = 0;
        double s30 = 0, s31 = 0, s32 = 0, s33 = 0;
        for (int t = 0; t < k; t++) {
          double x0 = a[a0 + t];
          double x1 = a[a1 + t];
          double x2 = a[a2 + t];
          double x3 = a[a3 + t];
          double w0 = b[b0 + t];
          double w1 = b[b1 + t];
          double w2 = b[b2 + t];
          double w3 = b[b3 + t];
          s00 += x0 * w0;
          s01 += x0 * w1;
          s02 += x0 * w2;
          s03 += x0 * w3;
          s10 += x1 * w0;
          s11 += x1 * w1;
          s12 += x1 * w2;
          s13 += x1 * w3;
          s20 += x2 * w0;
          s21 += x2 * w1;
          s22 += x2 * w2;
          s23 += x2 * w3;
          s30 += x3 * w0;
          s31 += x3 * w1;
          s32 += x3 * w2;
          s33 += x3 * w3;
        }
        int r0 = c0 + j;
        int r1 = r0 + n;
        int r2 = r1 + n;
        int r3 = r2 + n;
        c[r0] = s00;
        c[r0 + 1] = s01;
        c[r0 + 2] = s02;
        c[r0 + 3] = s03;
        c[r1] = s10;
        c[r1 + 1] = s11;
        c[r1 + 2] = s12;
        c[r1 + 3] = s13;
        c[r2] = s20;
        c[r2 + 1] = s21;
        c[r2 + 2] = s22;
        c[r2 + 3] = s23;
        c[r3] = s30;
        c[r3 + 1] = s31;
        c[r3 + 2] = s32;
        c[r3 + 3] = s33;
      }
      for (; j < n; j++) {
        int bj = bAt + j * k;
        for (int r = 0; r < 4; r++) {
          c[c0 + r * n + j] = dot(a, a0 + r * k, b, bj, k);
        }
      }
    }
    for (; i < m; i++) {
      int ai = aAt + i * k;
      int ci = cAt + i * n;
      for (int j = 0; j < n; j++) {
        c[ci + j] = dot(a, ai, b, bAt + j * k, k);
      }
    }
  }

  /** sum_{t &lt; k} a[aAt + t] * b[bAt + t], in increasing t from 0.0. */
  static double dot(double[] a, int aAt, double[] b, int bAt, int k) {
    double s = 0;
    for (int t = 0; t < k; t++) {
      s += a[aAt + t] * b[bAt + t];
    }
    return s;
  }

  /** [rows, cols] at {@code at} to a new [cols, rows]. */
  static double[] transpose(double[] x, int at, int rows, int cols) {
    double[] t = new double[rows * cols];
    for (int r = 0; r < rows; r++) {
      for (int c = 0; c < cols; c++) {
        t[c * rows + r] = x[at + r * cols + c];
      }
    }
    return t;
  }

  // --- helpers ---------------------------------------------------------------------------------

  /** Runs body(r) for r &lt; rows, in parallel when rows * cols is large. */
  private static void forEachRow(int rows, int cols, java.util.function.IntConsumer body) {
    IntStream range = IntStream.range(0, rows);
    if ((long) rows * cols > (1 << 16)) {
      range = range.parallel();
    }
    range.forEach(body);
  }

  static double[] toDouble(float[] x, String name) {
    if (x == null) {
      throw new IllegalArgumentException(name + " is null");
    }
    double[] d = new double[x.length];
    for (int i = 0; i < x.length; i++) {
      d[i] = x[i];
    }
    return d;
  }

  static float[] toFloat(double[] x) {
    float[] f = new float[x.length];
    for (int i = 0; i < x.length; i++) {
      f[i] = (float) x[i];
    }
    return f;
  }

  private static void positive(String op, String name, int value) {
    if (value < 1) {
      throw new IllegalArgumentException(op + ": " + name + " = " + value + ", must be >= 1");
    }
  }

  private static void checkHeadDims(String op, int batch, int seq, int heads, int size) {
    positive(op, "batch", batch);
    positive(op, "seq", seq);
    positive(op, "heads", heads);
    positive(op, "size", size);
    checkElements(op, "batch * heads * seq * size", (long) batch * heads * seq * size);
  }

  private static void checkElements(String op, String name, long elements) {
    if (elements > Integer.MAX_VALUE - 8) {
      throw new IllegalArgumentException(
          op + ": " + name + " would hold " + elements + " values, more than a Java array can");
    }
  }

  /** Checks that {@code x} holds exactly dim0 * dim1 values. */
  private static void length(String op, String name, double[] x, long dim0, long dim1) {
    if (x == null) {
      throw new IllegalArgumentException(op + ": " + name + " is null");
    }
    long expected = dim0 * dim1;
    if (x.length != expected) {
      throw new IllegalArgumentException(
          op
              + ": "
              + name
              + " has "
              + x.length
              + " values, expected "
              + dim0
              + " * "
              + dim1
              + " = "
              + expected);
    }
  }

  private static void length(String op, String name, double[] x, long n) {
    if (x == null) {
      throw new IllegalArgumentException(op + ": " + name + " is null");
    }
    if (x.length != n) {
      throw new IllegalArgumentException(
          op + ": " + name + " has " + x.length + " values, expected " + n);
    }
  }

  private static void checkLengths(String op, int[] lengths, int batch, int seq) {
    if (lengths == null) {
      throw new IllegalArgumentException(op + ": lengths is null");
    }
    if (lengths.length != batch) {
      throw new IllegalArgumentException(
          op + ": lengths has " + lengths.length + " entries, expected batch = " + batch);
    }
    for (int b = 0; b < batch; b++) {
      if (lengths[b] < 1 || lengths[b] > seq) {
        throw new IllegalArgumentException(
            op + ": lengths[" + b + "] = " + lengths[b] + ", must be in [1, seq = " + seq + "]");
      }
    }
  }
}
