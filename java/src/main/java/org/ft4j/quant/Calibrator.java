package org.ft4j.quant;

import java.util.EnumMap;
import java.util.EnumSet;
import java.util.Map;
import java.util.Set;
import org.ft4j.encoder.EncoderConfig;
import org.ft4j.encoder.EncoderWeights;
import org.ft4j.encoder.LayerParam;
import org.ft4j.reference.ActivationHook;
import org.ft4j.reference.ReferenceEncoder;

/**
 * Collects, for every quantization point of every layer, the histogram of |x| and the per-channel
 * max |x| over all the calibration data a {@link org.ft4j.reference.ReferenceEncoder} runs with
 * this hook (the FP32 model: values are never changed), then turns them into a {@link ScaleSet}
 * with any {@link CalibrationMethod} — one pass serves every method. Thread-safe.
 *
 * <p><b>Smoothing</b> (SmoothQuant): a few hidden channels of BERT-family activations are far
 * larger than the rest, so one per-tensor scale wastes most of the int8 grid on them. For a GEMM
 * input x and its weight W, x W^T = (x diag(1/s)) (diag(s) W^T) for any positive s; with s_c =
 * max|x_c|^α / max|W_:,c|^(1-α) the outliers move into the weight, whose int8 scales are per output
 * channel anyway. {@link #smoothing} computes s from a first pass; a second calibrator built with
 * it histograms the smoothed inputs x_c / s_c.
 */
public final class Calibrator implements ActivationHook {
  /** The default smoothing strength α. */
  public static final double DEFAULT_ALPHA = 0.75;

  /**
   * The GEMM inputs that are smoothed: the two layernorm outputs and the GELU output, where
   * BERT-family outlier channels live. Measured on MiniLM-L6 (cosine to FP32 of the mean-pooled
   * embedding of 120 texts with int8 weights and only that point quantized, percentile 99.99;
   * docs/int8.md): qkv_in 0.9982 unsmoothed, 0.9993 / 0.9995 / 0.9996 at α = 0.5 / 0.75 / 0.9;
   * ffn1_in 0.9955, 0.9990 / 0.9994 / 0.9993; ffn2_in 0.9955, 0.9915 / 0.9971 / 0.9985 (and worse
   * below 0.5); attn_out_in 0.9997 unsmoothed, no better smoothed, so it is left alone.
   */
  public static final Set<Point> SMOOTHED = EnumSet.of(Point.QKV_IN, Point.FFN1_IN, Point.FFN2_IN);

  private final EncoderConfig config;
  private final double[][][] smoothing; // [point][layer][channel], null rows = none
  private final AbsHistogram[][] histograms; // [layer][point]
  private final double[][][] channelMax; // [layer][point][channel]
  private final Hessians hessians; // null = not collected
  private final double[][] ffn2InStep; // [layer][row]: per-token steps of the last ffn2_in seen
  private final double[][] ffn2OutPerStep; // [layer][channel]: max |ffn2_out / step_r|
  private long tokens;

  /** A calibrator without smoothing. */
  public Calibrator(EncoderConfig config) {
    this(config, null);
  }

  /**
   * @param smoothing null, or the factors from {@link #smoothing}: GEMM inputs are divided by them
   *     before they enter the histograms (the per-channel maxima stay those of the raw values)
   */
  public Calibrator(EncoderConfig config, double[][][] smoothing) {
    this(config, smoothing, false);
  }

  /**
   * @param smoothing as for {@link #Calibrator(EncoderConfig, double[][][])}
   * @param collectHessians also sum x xᵀ of the (smoothed) GEMM inputs for {@link Gptq}: {@link
   *     #hessians()}; costs tokens × (3 hidden² + intermediate²) / 2 multiply-adds per layer
   */
  public Calibrator(EncoderConfig config, double[][][] smoothing, boolean collectHessians) {
    if (config == null) {
      throw new IllegalArgumentException("config is null");
    }
    this.config = config;
    this.smoothing = smoothing == null ? new double[Point.values().length][][] : smoothing;
    int points = Point.values().length;
    this.histograms = new AbsHistogram[config.layers()][points];
    this.channelMax = new double[config.layers()][points][];
    this.hessians = collectHessians ? new Hessians(config) : null;
    this.ffn2InStep = new double[config.layers()][];
    this.ffn2OutPerStep = new double[config.layers()][config.hidden()];
    for (int l = 0; l < config.layers(); l++) {
      for (Point p : Point.values()) {
        histograms[l][p.ordinal()] = new AbsHistogram();
        channelMax[l][p.ordinal()] = new double[channels(config, p)];
      }
    }
  }

  /**
   * Calibrates {@code weights} on hidden states instead of text: the float64 reference runs over
   * {@code input} [batch, seq, hidden] with {@code lengths} once (and, with {@code alpha} &gt; 0,
   * once more on the smoothed GEMM inputs), and {@code method} picks the scales. What {@code
   * encoder_sample} calibrates its random model with; text calibration of a real model is {@code
   * ft4j calibrate}.
   *
   * @param alpha SmoothQuant strength in [0, 1]; 0 = no smoothing
   */
  public static ScaleSet calibrateOnHiddenStates(
      EncoderWeights weights,
      float[] input,
      int[] lengths,
      int batch,
      int seq,
      double alpha,
      CalibrationMethod method,
      String source) {
    if (!(alpha >= 0 && alpha <= 1)) {
      throw new IllegalArgumentException("smoothing alpha = " + alpha + ", must be in [0, 1]");
    }
    EncoderConfig config = weights.config();
    Calibrator first = new Calibrator(config);
    new ReferenceEncoder(weights, first).forward(input, lengths, batch, seq);
    Calibrator last = first;
    if (alpha > 0) {
      last = new Calibrator(config, first.smoothing(weights, alpha));
      new ReferenceEncoder(weights, last).forward(input, lengths, batch, seq);
    }
    return last.scales(method, source);
  }

  static int channels(EncoderConfig config, Point p) {
    return switch (p) {
      case FFN2_IN, FFN1_OUT -> config.intermediateSize();
      default -> config.hidden();
    };
  }

  @Override
  public synchronized void apply(int layer, Point point, double[] values, int rows, int cols) {
    double[] cm = channelMax[layer][point.ordinal()];
    for (int r = 0; r < rows; r++) {
      for (int c = 0; c < cols; c++) {
        cm[c] = Math.max(cm[c], Math.abs(values[r * cols + c]));
      }
    }
    double[][] s = smoothing[point.ordinal()];
    double[] seen = values;
    if (s == null) {
      histograms[layer][point.ordinal()].add(values, 0, rows * cols);
    } else {
      double[] factors = s[layer];
      double[] smoothed = new double[rows * cols];
      for (int i = 0; i < smoothed.length; i++) {
        smoothed[i] = values[i] / factors[i % cols];
      }
      histograms[layer][point.ordinal()].add(smoothed);
      seen = smoothed;
    }
    if (hessians != null && point.isGemmInput()) {
      hessians.add(layer, point, seen, rows, cols);
    }
    if (point == Point.FFN2_IN) {
      ffn2InStep[layer] = rowSteps(seen, rows, cols);
    } else if (point == Point.FFN2_OUT && ffn2InStep[layer] != null) {
      double[] step = ffn2InStep[layer];
      double[] m = ffn2OutPerStep[layer];
      for (int r = 0; r < rows; r++) {
        for (int c = 0; c < cols; c++) {
          m[c] = Math.max(m[c], Math.abs(values[r * cols + c]) / step[r]);
        }
      }
    }
    if (layer == 0 && point == Point.QKV_IN) {
      tokens += rows;
    }
  }

  /** The GEMM inputs' second moments, or null when not collected. */
  public synchronized Hessians hessians() {
    return hessians;
  }

  /**
   * The per-token quantization steps (row amax / 127, 1 / 127 for a row of zeros, as the kernels
   * do) of a row-major [rows, cols] tensor.
   */
  static double[] rowSteps(double[] v, int rows, int cols) {
    double[] step = new double[rows];
    for (int r = 0; r < rows; r++) {
      double m = 0;
      for (int c = 0; c < cols; c++) {
        m = Math.max(m, Math.abs(v[r * cols + c]));
      }
      step[r] = (m > 0 ? m : 1) / Int8.QMAX;
    }
    return step;
  }

  /** Tokens observed so far (valid tokens of every sequence run). */
  public synchronized long tokens() {
    return tokens;
  }

  /** The histogram of one point (live; do not modify). */
  public synchronized AbsHistogram histogram(int layer, Point point) {
    return histograms[layer][point.ordinal()];
  }

  /** A copy of the per-channel max |x| seen at one point. */
  public synchronized double[] channelMax(int layer, Point point) {
    return channelMax[layer][point.ordinal()].clone();
  }

  /**
   * SmoothQuant factors for the {@link #SMOOTHED} GEMM inputs of every layer from what this
   * calibrator saw: s_c = max|x_c|^α / max|W_:,c|^(1-α), W the weight(s) reading x (query, key and
   * value together for qkv_in), clamped to [1e-4, 1e4] and 1 for channels that were never non-zero.
   *
   * @param alpha in [0, 1]; 0 = s from the weights only
   * @return [point][layer][channel], null rows for the points not smoothed
   */
  public synchronized double[][][] smoothing(EncoderWeights weights, double alpha) {
    Map<Point, Double> alphas = new EnumMap<>(Point.class);
    for (Point p : SMOOTHED) {
      alphas.put(p, alpha);
    }
    return smoothing(weights, alphas);
  }

  /**
   * Like {@link #smoothing(EncoderWeights, double)} with a strength per GEMM input; inputs not in
   * {@code alphas} are not smoothed.
   */
  public synchronized double[][][] smoothing(EncoderWeights weights, Map<Point, Double> alphas) {
    for (var e : alphas.entrySet()) {
      double alpha = e.getValue();
      if (!(alpha >= 0 && alpha <= 1)) {
        throw new IllegalArgumentException(
            "smoothing alpha of " + e.getKey().key() + " = " + alpha + ", must be in [0, 1]");
      }
      if (!e.getKey().isGemmInput()) {
        throw new IllegalArgumentException(e.getKey().key() + " is not a GEMM input");
      }
    }
    if (tokens == 0) {
      throw new IllegalStateException("no calibration data observed yet");
    }
    double[][][] s = new double[Point.values().length][][];
    for (Point p : alphas.keySet()) {
      double alpha = alphas.get(p);
      s[p.ordinal()] = new double[config.layers()][];
      for (int l = 0; l < config.layers(); l++) {
        double[] wmax = weightColumnMax(weights, l, p);
        double[] xmax = channelMax[l][p.ordinal()];
        double[] f = new double[xmax.length];
        for (int c = 0; c < f.length; c++) {
          if (xmax[c] > 0 && wmax[c] > 0) {
            double v = Math.pow(xmax[c], alpha) / Math.pow(wmax[c], 1 - alpha);
            f[c] = Math.max(1e-4, Math.min(1e4, v));
          } else {
            f[c] = 1;
          }
        }
        s[p.ordinal()][l] = f;
      }
    }
    return s;
  }

  /** max over output rows of |W[o, c]| for the weight(s) that read GEMM input {@code p}. */
  static double[] weightColumnMax(EncoderWeights weights, int layer, Point p) {
    LayerParam[] ws =
        switch (p) {
          case QKV_IN ->
              new LayerParam[] {
                LayerParam.QUERY_WEIGHT, LayerParam.KEY_WEIGHT, LayerParam.VALUE_WEIGHT
              };
          case ATTN_OUT_IN -> new LayerParam[] {LayerParam.ATTENTION_OUTPUT_WEIGHT};
          case FFN1_IN -> new LayerParam[] {LayerParam.INTERMEDIATE_WEIGHT};
          case FFN2_IN -> new LayerParam[] {LayerParam.OUTPUT_WEIGHT};
          default -> throw new IllegalArgumentException(p.key() + " is not a GEMM input");
        };
    EncoderConfig config = weights.config();
    int in = channels(config, p);
    double[] m = new double[in];
    for (LayerParam lp : ws) {
      float[] w = weights.get(layer, lp);
      int out = w.length / in;
      for (int o = 0; o < out; o++) {
        for (int c = 0; c < in; c++) {
          m[c] = Math.max(m[c], Math.abs(w[o * in + c]));
        }
      }
    }
    return m;
  }

  /**
   * The scales {@code method} picks for every point and layer, with this calibrator's smoothing and
   * the per-channel amax of the GEMM outputs that feed element-wise kernels (attn_out_out,
   * ffn1_out, ffn2_out) and of v_out, which mode 2 quantizes per channel (v_out: one static amax
   * per tensor clipped a Hindi question on BGE-small to cosine 0.94; docs/int8.md).
   *
   * @param source free text recorded in the scale file (what data, how much)
   * @throws IllegalStateException before any data, or when a point saw only zeros
   */
  public synchronized ScaleSet scales(CalibrationMethod method, String source) {
    if (tokens == 0) {
      throw new IllegalStateException("no calibration data observed yet");
    }
    int points = Point.values().length;
    double[][] amax = new double[points][config.layers()];
    double[][][] perChannel = new double[points][][];
    for (Point p : new Point[] {Point.V_OUT, Point.ATTN_OUT_OUT, Point.FFN1_OUT, Point.FFN2_OUT}) {
      perChannel[p.ordinal()] = new double[config.layers()][];
    }
    for (int l = 0; l < config.layers(); l++) {
      for (Point p : Point.values()) {
        double a = method.amax(histograms[l][p.ordinal()]);
        if (!(a > 0)) {
          throw new IllegalStateException(
              "layer " + l + " " + p.key() + " saw only zeros: no scale can be calibrated");
        }
        amax[p.ordinal()][l] = a;
        if (perChannel[p.ordinal()] != null) {
          double[] cm =
              p == Point.FFN2_OUT
                  ? ffn2OutPerStep[l].clone() // in units of ffn2_in's per-token step
                  : channelMax[l][p.ordinal()].clone();
          double floor = max(cm) * 1e-6; // dead channels
          for (int c = 0; c < cm.length; c++) {
            cm[c] = Math.max(cm[c], floor);
          }
          perChannel[p.ordinal()][l] = cm;
        }
      }
    }
    boolean smoothed = false;
    for (double[][] s : smoothing) {
      smoothed |= s != null;
    }
    return new ScaleSet(
            config.layers(),
            config.hidden(),
            config.intermediateSize(),
            method.label(),
            source,
            amax,
            smoothed ? smoothing : null,
            perChannel)
        .withFfn2OutTokenScaled(true);
  }

  private static double max(double[] v) {
    double m = 0;
    for (double x : v) {
      m = Math.max(m, x);
    }
    return m;
  }
}
