package org.ft4j.model;

import java.util.List;
import java.util.function.IntConsumer;
import org.ft4j.encoder.Precision;
import org.ft4j.quant.Calibrator;
import org.ft4j.quant.QuantizedReference;
import org.ft4j.quant.ScaleSet;
import org.ft4j.quant.WeightRounding;
import org.ft4j.reference.ReferenceEncoder;

/**
 * INT8 calibration and accuracy of a real model on the CPU: run texts through the FP32 reference
 * with a {@link Calibrator} attached, and compare the fake-quantized INT8 reference's embeddings
 * with the FP32 ones (cosine per text, top-1 nearest-neighbour agreement).
 */
public final class Int8Calibration {
  private Int8Calibration() {}

  /**
   * Calibrates {@code model} on {@code texts}: one pass through the FP32 reference to find the
   * per-channel ranges, and with smoothing ({@code alpha} &gt; 0) a second pass that histograms the
   * smoothed GEMM inputs (see {@link Calibrator}).
   *
   * @param alpha SmoothQuant strength in [0, 1]; 0 = no smoothing (one pass)
   * @param progress called with the number of texts done after each batch, over both passes
   *     (0..passes × texts; may be null)
   * @return the calibrator to take {@link Calibrator#scales} from
   */
  public static Calibrator calibrate(
      Model model,
      TextTokenizer tokenizer,
      List<String> texts,
      int batchSize,
      double alpha,
      IntConsumer progress) {
    return calibrate(model, tokenizer, texts, batchSize, alpha, false, progress);
  }

  /**
   * {@link #calibrate(Model, TextTokenizer, List, int, double, IntConsumer)}, and with {@code
   * hessians} the last pass also sums the GEMM inputs' second moments ({@link
   * Calibrator#hessians()}) for {@link WeightRounding#gptq}.
   */
  public static Calibrator calibrate(
      Model model,
      TextTokenizer tokenizer,
      List<String> texts,
      int batchSize,
      double alpha,
      boolean hessians,
      IntConsumer progress) {
    if (alpha == 0) {
      return observe(model, tokenizer, texts, batchSize, null, hessians, progress);
    }
    Calibrator first = observe(model, tokenizer, texts, batchSize, null, false, progress);
    double[][][] smoothing = first.smoothing(model.encoder(), alpha);
    IntConsumer second = progress == null ? null : n -> progress.accept(texts.size() + n);
    return observe(model, tokenizer, texts, batchSize, smoothing, hessians, second);
  }

  /**
   * One observation pass with {@code smoothing} (may be null) that also sums the GEMM inputs'
   * second moments for {@link WeightRounding#gptq}: the second pass of {@link #calibrate}, for
   * callers that choose the smoothing themselves (per-input strengths).
   */
  public static Calibrator observeWithHessians(
      Model model,
      TextTokenizer tokenizer,
      List<String> texts,
      int batchSize,
      double[][][] smoothing) {
    return observe(model, tokenizer, texts, batchSize, smoothing, true, null);
  }

  /** Number of passes {@link #calibrate} makes over the texts. */
  public static int passes(double alpha) {
    return alpha == 0 ? 1 : 2;
  }

  /**
   * Runs {@code texts} through {@code model}'s FP32 reference encoder in batches of {@code
   * batchSize}, observing every quantization point (GEMM inputs divided by {@code smoothing} when
   * not null).
   *
   * @param progress called with the number of texts done after each batch (may be null)
   */
  public static Calibrator observe(
      Model model,
      TextTokenizer tokenizer,
      List<String> texts,
      int batchSize,
      double[][][] smoothing,
      IntConsumer progress) {
    return observe(model, tokenizer, texts, batchSize, smoothing, false, progress);
  }

  private static Calibrator observe(
      Model model,
      TextTokenizer tokenizer,
      List<String> texts,
      int batchSize,
      double[][][] smoothing,
      boolean hessians,
      IntConsumer progress) {
    Calibrator calibrator = new Calibrator(model.encoder().config(), smoothing, hessians);
    try (ReferenceEmbedder e =
        new ReferenceEmbedder(model, new ReferenceEncoder(model.encoder(), calibrator))) {
      EmbeddingModel.embedBatches(tokenizer, e, texts, batchSize, Pooling.NONE, false, progress);
    }
    return calibrator;
  }

  /** The embeddings of {@code texts} from the fake-quantized INT8 reference of {@code model}. */
  public static float[][] embedInt8(
      Model model,
      ScaleSet scales,
      Precision mode,
      QuantizedReference.InputScaling scaling,
      TextTokenizer tokenizer,
      List<String> texts,
      Pooling pooling,
      int batchSize,
      IntConsumer progress) {
    try (ReferenceEmbedder e =
        new ReferenceEmbedder(
            model, QuantizedReference.of(model.encoder(), scales, mode, scaling))) {
      return EmbeddingModel.embedBatches(tokenizer, e, texts, batchSize, pooling, true, progress)
          .vectors();
    }
  }

  /** The FP32 (float64 reference) embeddings of {@code texts}, normalised. */
  public static float[][] embedFp32(
      Model model,
      TextTokenizer tokenizer,
      List<String> texts,
      Pooling pooling,
      int batchSize,
      IntConsumer progress) {
    try (ReferenceEmbedder e = new ReferenceEmbedder(model)) {
      return EmbeddingModel.embedBatches(tokenizer, e, texts, batchSize, pooling, true, progress)
          .vectors();
    }
  }

  /**
   * How close {@code test} embeddings are to {@code reference} ones.
   *
   * @param meanCosine mean over texts of cos(reference[i], test[i])
   * @param minCosine the smallest of those
   * @param worst the index of the text with the smallest cosine
   * @param top1Agreement fraction of texts whose nearest other text (by cosine, among all given) is
   *     the same under both
   * @param clearTop1Agreement the same over the {@code clearTexts} texts whose nearest neighbour
   *     leads the second by at least {@link #CLEAR_MARGIN} in the reference (NaN when none): top-1
   *     without the near ties that any small perturbation flips
   */
  public record Comparison(
      double meanCosine,
      double minCosine,
      int worst,
      double top1Agreement,
      int texts,
      double clearTop1Agreement,
      int clearTexts) {
    @Override
    public String toString() {
      return String.format(
          java.util.Locale.ROOT,
          "mean cosine %.5f, min %.5f (text %d), top-1 agreement %.1f %% over %d texts (%.1f %%"
              + " over the %d with a clear FP32 nearest neighbour)",
          meanCosine,
          minCosine,
          worst,
          100 * top1Agreement,
          texts,
          100 * clearTop1Agreement,
          clearTexts);
    }
  }

  /**
   * Cosine margin between the reference's nearest and second-nearest neighbour above which a text
   * counts as clear in {@link Comparison#clearTop1Agreement}: INT8 moves pairwise cosines by ~10⁻³
   * (docs/int8.md), so closer calls are coin flips.
   */
  public static final double CLEAR_MARGIN = 0.003;

  /** Compares two sets of vectors of the same texts (any norms). */
  public static Comparison compare(float[][] reference, float[][] test) {
    if (reference.length != test.length || reference.length < 2) {
      throw new IllegalArgumentException(
          "need the same number (>= 2) of vectors: " + reference.length + " vs " + test.length);
    }
    int n = reference.length;
    double sum = 0;
    double min = Double.POSITIVE_INFINITY;
    int worst = -1;
    for (int i = 0; i < n; i++) {
      double c = cosine(reference[i], test[i]);
      sum += c;
      if (c < min) {
        min = c;
        worst = i;
      }
    }
    int agree = 0;
    int clear = 0;
    int clearAgree = 0;
    for (int i = 0; i < n; i++) {
      boolean same = nearest(reference, i) == nearest(test, i);
      agree += same ? 1 : 0;
      if (n > 2 && margin(reference, i) >= CLEAR_MARGIN) {
        clear++;
        clearAgree += same ? 1 : 0;
      }
    }
    return new Comparison(
        sum / n,
        min,
        worst,
        agree / (double) n,
        n,
        clear == 0 ? Double.NaN : clearAgree / (double) clear,
        clear);
  }

  /** How far v[i]'s nearest other vector leads the second nearest, in cosine (n >= 3). */
  static double margin(float[][] v, int i) {
    double first = Double.NEGATIVE_INFINITY;
    double second = Double.NEGATIVE_INFINITY;
    for (int j = 0; j < v.length; j++) {
      if (j != i) {
        double c = cosine(v[i], v[j]);
        if (c > first) {
          second = first;
          first = c;
        } else if (c > second) {
          second = c;
        }
      }
    }
    return first - second;
  }

  /** The index j != i of the vector most cosine-similar to v[i]. */
  static int nearest(float[][] v, int i) {
    int best = -1;
    double bestCos = Double.NEGATIVE_INFINITY;
    for (int j = 0; j < v.length; j++) {
      if (j != i) {
        double c = cosine(v[i], v[j]);
        if (c > bestCos) {
          bestCos = c;
          best = j;
        }
      }
    }
    return best;
  }

  static double cosine(float[] a, float[] b) {
    if (a.length != b.length) {
      throw new IllegalArgumentException("vector lengths " + a.length + " and " + b.length);
    }
    double dot = 0;
    double na = 0;
    double nb = 0;
    for (int i = 0; i < a.length; i++) {
      dot += (double) a[i] * b[i];
      na += (double) a[i] * a[i];
      nb += (double) b[i] * b[i];
    }
    return dot / Math.sqrt(na * nb);
  }
}
