package org.ft4j.model;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import org.ft4j.encoder.EncoderConfig;
import org.ft4j.encoder.EncoderWeights;
import org.ft4j.encoder.LayerParam;
import org.ft4j.encoder.Precision;
import org.ft4j.quant.QuantizedReference;
import org.ft4j.quant.ScaleSet;
import org.ft4j.reference.ActivationHook;
import org.ft4j.reference.ActivationHook.Point;
import org.ft4j.reference.ReferenceEncoder;

/**
 * Where an embedded model's INT8 error comes from: the fake-quantized reference (what the GPU INT8
 * encoders reproduce) with the shipped scales, against FP32 on an evaluation file, once with every
 * quantization point of the mode, then with one point (or the weights) left in float at a time,
 * then with only one point quantized; and the weights alone, one kind of matrix or one layer at a
 * time. Not a test: {@code java ... org.ft4j.model.Int8Ablation [minilm|bge-small] [int8-1|int8-2]
 * [eval.jsonl] [points,weights]}; prints one line per variant (mean and min cosine, top-1 agreement
 * over all and over clear texts; see {@link Int8Calibration#compare}).
 */
public final class Int8Ablation {
  private Int8Ablation() {}

  public static void main(String[] args) throws Exception {
    String spec = args.length > 0 ? args[0] : "minilm";
    Precision mode = Precision.fromLabel(args.length > 1 ? args[1] : "int8-1");
    Path evalFile = Path.of(args.length > 2 ? args[2] : "data/eval-varied-en.jsonl");
    String parts = args.length > 3 ? args[3] : "points,weights";
    List<String> texts = Int8AccuracyTest.texts(evalFile);
    Model model = ModelLoader.load(spec);
    TextTokenizer tokenizer =
        EmbeddingModel.loadTokenizer(
            ModelLoader.tokenizerPath(spec), model.config().maxSequenceLength());
    ScaleSet scales = Int8Scales.load(spec, null, Path.of("").toAbsolutePath());
    String embedded = ModelLoader.embeddedName(spec);
    Pooling pooling = embedded != null ? EmbeddedModels.defaultPooling(embedded) : Pooling.MEAN;
    float[][] fp32 = Int8Calibration.embedFp32(model, tokenizer, texts, pooling, 16, null);
    System.out.println(
        "# " + spec + " " + mode.label() + " on " + evalFile + " (" + texts.size() + " texts)");

    Set<Point> points = EnumSet.copyOf(ScaleSet.pointsOf(mode));
    EncoderWeights quantized = QuantizedReference.quantizeWeights(model.encoder(), scales);
    EncoderWeights smoothedOnly = QuantizedReference.smoothWeights(model.encoder(), scales);
    Eval ev = new Eval(model, scales, mode, tokenizer, texts, pooling, fp32);
    ev.run("all quantized", quantized, points);
    ev.run("weights float", smoothedOnly, points);
    if (parts.contains("weights")) {
      weights(ev, model, quantized, smoothedOnly);
    }
    if (!parts.contains("points")) {
      return;
    }
    for (Point p : points) {
      Set<Point> without = EnumSet.copyOf(points);
      without.remove(p);
      ev.run("all but " + p.key(), quantized, without);
    }
    for (Point p : points) {
      ev.run("only " + p.key() + " (weights float)", smoothedOnly, EnumSet.of(p));
    }
  }

  /** The weights alone (activations float): one kind of matrix at a time, then one layer. */
  private static void weights(
      Eval ev, Model model, EncoderWeights quantized, EncoderWeights smoothedOnly) {
    Set<Point> none = EnumSet.noneOf(Point.class);
    for (LayerParam kind :
        new LayerParam[] {
          LayerParam.QUERY_WEIGHT,
          LayerParam.ATTENTION_OUTPUT_WEIGHT,
          LayerParam.INTERMEDIATE_WEIGHT,
          LayerParam.OUTPUT_WEIGHT
        }) {
      EncoderWeights w = mixed(quantized, smoothedOnly, (l, p) -> p == kind || sameGemm(p, kind));
      ev.run("only " + kind + " weights", w, none);
    }
    for (int layer = 0; layer < model.encoder().config().layers(); layer++) {
      int only = layer;
      EncoderWeights w = mixed(quantized, smoothedOnly, (l, p) -> l == only);
      ev.run("only layer " + layer + " weights", w, none);
    }
  }

  private static boolean sameGemm(LayerParam p, LayerParam kind) {
    return kind == LayerParam.QUERY_WEIGHT
        && (p == LayerParam.KEY_WEIGHT || p == LayerParam.VALUE_WEIGHT);
  }

  /**
   * Matrices where {@code pick} says from {@code a}, the rest (and every vector) from {@code b}.
   */
  private static EncoderWeights mixed(
      EncoderWeights a,
      EncoderWeights b,
      java.util.function.BiPredicate<Integer, LayerParam> pick) {
    EncoderConfig config = a.config();
    EncoderWeights.Builder builder = EncoderWeights.builder(config);
    for (int l = 0; l < config.layers(); l++) {
      for (LayerParam p : LayerParam.values()) {
        EncoderWeights from = p.isMatrix() && pick.test(l, p) ? a : b;
        builder.put(p.nameIn(l), from.get(l, p), p.shape(config));
      }
    }
    return builder.build();
  }

  /** What every variant is run and compared with. */
  private record Eval(
      Model model,
      ScaleSet scales,
      Precision mode,
      TextTokenizer tokenizer,
      List<String> texts,
      Pooling pooling,
      float[][] fp32) {
    /** Runs the variant: {@code weights}, with only the {@code active} points quantized. */
    void run(String name, EncoderWeights weights, Set<Point> active) {
      ActivationHook all =
          QuantizedReference.hook(scales, mode, QuantizedReference.DEFAULT_SCALING);
      ActivationHook some =
          new ActivationHook() {
            @Override
            public void apply(int layer, Point point, double[] values, int rows, int cols) {
              if (active.contains(point)) {
                all.apply(layer, point, values, rows, cols);
                return;
              }
              // left in float: ffn2_in still records the row steps of ffn2_out's per-token unit
              // (rounding undone), and a smoothed GEMM input is still divided by its smoothing
              // factors, since the weights carry them
              if (point == Point.FFN2_IN && active.contains(Point.FFN2_OUT)) {
                double[] keep = values.clone();
                all.apply(layer, point, values, rows, cols);
                System.arraycopy(keep, 0, values, 0, keep.length);
              }
              double[] s = point.isGemmInput() ? scales.smooth(layer, point) : null;
              if (s != null) {
                for (int i = 0; i < values.length; i++) {
                  values[i] /= s[i % cols];
                }
              }
            }

            @Override
            public boolean quantizedResidual() {
              return all.quantizedResidual();
            }

            @Override
            public void applyResidual(int layer, Point point, double[] values, int rows, int cols) {
              if (active.contains(point)) {
                all.applyResidual(layer, point, values, rows, cols);
              }
            }
          };
      List<float[]> out = new ArrayList<>();
      try (ReferenceEmbedder e =
          new ReferenceEmbedder(model, new ReferenceEncoder(weights, some))) {
        for (float[] v :
            EmbeddingModel.embedBatches(tokenizer, e, texts, 16, pooling, true, null).vectors()) {
          out.add(v);
        }
      }
      System.out.println(name + ": " + Int8Calibration.compare(fp32, out.toArray(new float[0][])));
    }
  }
}
