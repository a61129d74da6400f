package org.ft4j.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.function.IntConsumer;
import me.tongfei.progressbar.ConsoleProgressBarConsumer;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;
import org.ft4j.encoder.Precision;
import org.ft4j.model.EmbeddedModels;
import org.ft4j.model.Int8Calibration;
import org.ft4j.model.Int8Scales;
import org.ft4j.model.Model;
import org.ft4j.model.ModelLoader;
import org.ft4j.model.Pooling;
import org.ft4j.model.TextTokenizer;
import org.ft4j.quant.CalibrationMethod;
import org.ft4j.quant.Calibrator;
import org.ft4j.quant.QuantizedReference;
import org.ft4j.quant.ScaleSet;
import org.ft4j.quant.WeightRounding;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code ft4j calibrate}: runs calibration texts through a model's FP32 reference, records the
 * distribution of every INT8 quantization point, and writes the scale file the INT8 modes use. With
 * {@code --eval}, also measures how close the fake-quantized INT8 embeddings (modes 1 and 2) stay
 * to FP32 on other texts, for each calibration method asked for.
 */
@Command(
    name = "calibrate",
    mixinStandardHelpOptions = true,
    description = {
      "Calibrates INT8 scales for a model and writes them as JSON (format: docs/int8.md).",
      "--data holds one text per line: a JSON string or an object with a \"text\" field."
    })
public final class CalibrateCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Option(
      names = "--model",
      defaultValue = "minilm",
      paramLabel = "DIR|FILE|minilm|bge-small",
      description = "the model, as for `ft4j embed` (default: ${DEFAULT-VALUE})")
  String model;

  @Option(
      names = "--data",
      required = true,
      paramLabel = "FILE",
      description =
          "calibration texts, JSON lines; repeat the option to calibrate on several files")
  List<Path> data;

  @Option(
      names = "--method",
      defaultValue = "percentile:99.99",
      converter = MethodConverter.class,
      paramLabel = "max|percentile[:P]|mse",
      description = "how amax is chosen from the observed values (default: ${DEFAULT-VALUE})")
  CalibrationMethod method;

  @Option(
      names = "--smoothing",
      defaultValue = "0.75",
      paramLabel = "ALPHA",
      description =
          "SmoothQuant strength in [0, 1] for the layernorm and GELU outputs: moves activation"
              + " outlier channels into the weights before quantizing; 0 = off"
              + " (default: ${DEFAULT-VALUE})")
  double alpha;

  /** How the int8 weights are rounded. */
  enum WeightsRounding {
    nearest,
    gptq
  }

  @Option(
      names = "--weights",
      defaultValue = "gptq",
      paramLabel = "nearest|gptq",
      description =
          "int8 weight rounding: gptq spreads each weight's rounding error over the weights not"
              + " yet rounded, using the calibration inputs (stored in the scale file, ~1 bit a"
              + " weight; on MiniLM it halves the INT8 error), nearest = plain rounding"
              + " (default: ${DEFAULT-VALUE})")
  WeightsRounding weights;

  @Option(
      names = "--gptq-damping",
      defaultValue = "0.01",
      paramLabel = "D",
      description =
          "with --weights gptq: fraction of the mean diagonal added to the inputs' second-moment"
              + " matrix (default: ${DEFAULT-VALUE})")
  double damping;

  @Option(
      names = "--gptq-act-order",
      description =
          "with --weights gptq: round the input columns largest-energy first (lower product error;"
              + " on MiniLM / BGE-small it did not improve the embeddings: docs/int8.md)")
  boolean actOrder;

  @Option(
      names = {"-o", "--output"},
      paramLabel = "FILE",
      description =
          "scale file to write (default: next to the model, ft4j-int8-scales.json; for minilm"
              + " and bge-small <name>.ft4j-int8-scales.json in the working directory)")
  Path output;

  @Option(
      names = "--max-texts",
      paramLabel = "N",
      description = "use at most the first N texts of --data")
  Integer maxTexts;

  @Option(
      names = "--batch-size",
      defaultValue = "16",
      paramLabel = "N",
      description = "texts per forward pass (default: ${DEFAULT-VALUE})")
  int batchSize;

  @Option(
      names = "--eval",
      paramLabel = "FILE",
      description =
          "texts (JSON lines, not the calibration ones) on which to compare INT8 modes 1 and 2"
              + " with FP32: mean/min cosine and top-1 nearest-neighbour agreement")
  Path eval;

  @Option(
      names = "--compare",
      split = ",",
      converter = MethodConverter.class,
      paramLabel = "METHOD",
      description =
          "with --eval: the methods to compare (default: the --method); the scale file always"
              + " uses --method")
  List<CalibrationMethod> compare;

  @Option(names = "--no-progress", description = "no progress bar on stderr")
  boolean noProgress;

  @Override
  public Integer call() throws IOException {
    if (batchSize < 1) {
      throw new IllegalArgumentException("--batch-size = " + batchSize + ", must be >= 1");
    }
    if (!(alpha >= 0 && alpha <= 1)) {
      throw new IllegalArgumentException("--smoothing = " + alpha + ", must be in [0, 1]");
    }
    if (!(damping > 0 && damping <= 10)) {
      throw new IllegalArgumentException("--gptq-damping = " + damping + ", must be in (0, 10]");
    }
    if (maxTexts != null && maxTexts < 1) {
      throw new IllegalArgumentException("--max-texts = " + maxTexts + ", must be >= 1");
    }
    List<String> texts = new java.util.ArrayList<>();
    for (Path file : data) {
      texts.addAll(readTexts(file, "--data"));
    }
    if (maxTexts != null && texts.size() > maxTexts) {
      texts = texts.subList(0, maxTexts);
    }
    List<String> evalTexts = eval == null ? null : readTexts(eval, "--eval");
    if (evalTexts != null && evalTexts.size() < 2) {
      throw new IllegalArgumentException(
          "--eval " + eval + " holds " + evalTexts.size() + " text(s); comparing needs >= 2");
    }
    Path out =
        output != null ? output : Int8Scales.defaultPath(model, Path.of("").toAbsolutePath());
    PrintWriter w = spec.commandLine().getOut();
    Model m = ModelLoader.load(model);
    try (TextTokenizer tokenizer =
        TextTokenizer.load(ModelLoader.tokenizerPath(model), m.config().maxSequenceLength())) {
      Calibrator calibrator;
      int total = texts.size() * Int8Calibration.passes(alpha);
      try (Bar bar = new Bar(noProgress, "calibrate", total)) {
        calibrator =
            Int8Calibration.calibrate(
                m, tokenizer, texts, batchSize, alpha, weights == WeightsRounding.gptq, bar);
      }
      WeightRounding rounding = null;
      if (weights == WeightsRounding.gptq) {
        try (Bar bar = new Bar(noProgress, "gptq", 6 * m.encoder().config().layers(), " weights")) {
          // The smoothing (all the rounding depends on besides the weights) is the same for
          // every amax method.
          rounding =
              WeightRounding.gptq(
                  m.encoder(),
                  calibrator.scales(method, ""),
                  calibrator.hessians(),
                  damping,
                  actOrder,
                  bar);
        }
      }
      String source =
          "ft4j calibrate --model "
              + model
              + data.stream()
                  .map(f -> " --data " + f.getFileName())
                  .collect(java.util.stream.Collectors.joining())
              + ": "
              + texts.size()
              + " texts, "
              + calibrator.tokens()
              + " tokens, smoothing alpha "
              + alpha
              + (rounding == null
                  ? ", weights rounded to nearest"
                  : ", GPTQ weights, damping " + damping + (actOrder ? ", act order" : ""));
      ScaleSet scales = calibrator.scales(method, source).withWeightRounding(rounding);
      scales.write(out);
      w.printf(
          "wrote %s: %s over %d texts (%d tokens), %d layers%n",
          out, method.label(), texts.size(), calibrator.tokens(), scales.layers());
      if (evalTexts != null) {
        evaluate(w, m, tokenizer, calibrator, rounding, source, evalTexts);
      }
    }
    w.flush();
    return 0;
  }

  private void evaluate(
      PrintWriter w,
      Model m,
      TextTokenizer tokenizer,
      Calibrator calibrator,
      WeightRounding rounding,
      String source,
      List<String> texts) {
    String embedded = ModelLoader.embeddedName(model);
    Pooling pooling = embedded != null ? EmbeddedModels.defaultPooling(embedded) : Pooling.MEAN;
    List<CalibrationMethod> methods =
        compare != null && !compare.isEmpty() ? compare : List.of(method);
    float[][] fp32;
    try (Bar bar = new Bar(noProgress, "fp32", texts.size())) {
      fp32 = Int8Calibration.embedFp32(m, tokenizer, texts, pooling, batchSize, bar);
    }
    w.printf(
        "accuracy on %d texts of %s against FP32 (%s pooling, fake-quantized INT8 reference):%n",
        texts.size(), eval, pooling.name().toLowerCase(java.util.Locale.ROOT));
    for (CalibrationMethod cm : methods) {
      ScaleSet s = calibrator.scales(cm, source).withWeightRounding(rounding);
      for (QuantizedReference.InputScaling scaling : QuantizedReference.InputScaling.values()) {
        for (Precision mode : List.of(Precision.INT8_MODE_1, Precision.INT8_MODE_2)) {
          String label = mode.label() + " " + cm.label() + " " + scalingLabel(scaling);
          float[][] q;
          try (Bar bar = new Bar(noProgress, label, texts.size())) {
            q =
                Int8Calibration.embedInt8(
                    m, s, mode, scaling, tokenizer, texts, pooling, batchSize, bar);
          }
          w.printf(
              "  %-6s %-17s %-9s %s%n",
              mode.label(), cm.label(), scalingLabel(scaling), Int8Calibration.compare(fp32, q));
          w.flush();
        }
      }
    }
  }

  static String scalingLabel(QuantizedReference.InputScaling s) {
    return s == QuantizedReference.InputScaling.PER_TOKEN ? "per-token" : "static";
  }

  /** The texts of a JSON-lines file (blank lines skipped); errors name the file and line. */
  public static List<String> readTexts(Path file, String option) throws IOException {
    if (!Files.isRegularFile(file)) {
      throw new IllegalArgumentException(option + " " + file + ": no such file");
    }
    List<String> texts = new ArrayList<>();
    int n = 0;
    for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
      n++;
      if (line.isBlank()) {
        continue;
      }
      String t;
      try {
        t = EmbedCommand.parseLine(line, n);
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException(
            option + " " + file + ": " + e.getMessage().replace("stdin line", "line"), e);
      }
      if (t.isEmpty()) {
        throw new IllegalArgumentException(option + " " + file + ": line " + n + " is empty text");
      }
      texts.add(t);
    }
    if (texts.isEmpty()) {
      throw new IllegalArgumentException(option + " " + file + " holds no texts");
    }
    return texts;
  }

  static final class MethodConverter implements CommandLine.ITypeConverter<CalibrationMethod> {
    @Override
    public CalibrationMethod convert(String value) {
      try {
        return CalibrationMethod.parse(value);
      } catch (IllegalArgumentException e) {
        throw new CommandLine.TypeConversionException(e.getMessage());
      }
    }
  }

  /** A progress bar on stderr counting texts (nothing when off). */
  static final class Bar implements IntConsumer, AutoCloseable {
    private final ProgressBar bar;

    Bar(boolean off, String task, int total) {
      this(off, task, total, " texts");
    }

    Bar(boolean off, String task, int total, String unit) {
      bar =
          off
              ? null
              : new ProgressBarBuilder()
                  .setTaskName(task)
                  .setInitialMax(total)
                  .setUnit(unit, 1)
                  .setStyle(ProgressBarStyle.ASCII)
                  .setConsumer(new ConsoleProgressBarConsumer(System.err))
                  .clearDisplayOnFinish()
                  .build();
    }

    @Override
    public void accept(int done) {
      if (bar != null) {
        bar.stepTo(done);
      }
    }

    @Override
    public void close() {
      if (bar != null) {
        bar.close();
      }
    }
  }
}
