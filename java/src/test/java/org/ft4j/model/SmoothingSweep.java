package org.ft4j.model;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import org.ft4j.encoder.Precision;
import org.ft4j.quant.CalibrationMethod;
import org.ft4j.quant.Calibrator;
import org.ft4j.quant.QuantizedReference;
import org.ft4j.quant.ScaleSet;
import org.ft4j.quant.WeightRounding;
import org.ft4j.reference.ActivationHook.Point;

/**
 * SmoothQuant strength per GEMM input: calibrates an embedded model with the shipped recipe (both
 * calibration files, percentile 99.99, GPTQ) once per setting of {@code qkv_in/ffn1_in/ffn2_in}
 * alphas and prints the INT8 accuracy of both modes on an evaluation file. Not a test: {@code java
 * ... org.ft4j.model.SmoothingSweep [minilm|bge-small] [eval.jsonl] a,b,c ...} (each a,b,c: the
 * alphas of qkv_in, ffn1_in, ffn2_in).
 */
public final class SmoothingSweep {
  private SmoothingSweep() {}

  public static void main(String[] args) throws Exception {
    String spec = args.length > 0 ? args[0] : "minilm";
    Path evalFile = Path.of(args.length > 1 ? args[1] : "data/eval-varied-en.jsonl");
    List<String> settings = new ArrayList<>();
    for (int i = 2; i < args.length; i++) {
      settings.add(args[i]);
    }
    if (settings.isEmpty()) {
      settings.add("0.75,0.75,0.75");
    }
    List<String> calibration =
        new ArrayList<>(Int8AccuracyTest.texts(Int8AccuracyTest.CALIBRATION));
    calibration.addAll(Int8AccuracyTest.texts(Int8AccuracyTest.CALIBRATION_VARIED));
    List<String> eval = Int8AccuracyTest.texts(evalFile);
    Model model = ModelLoader.load(spec);
    TextTokenizer tokenizer =
        EmbeddingModel.loadTokenizer(
            ModelLoader.tokenizerPath(spec), model.config().maxSequenceLength());
    String embedded = ModelLoader.embeddedName(spec);
    Pooling pooling = embedded != null ? EmbeddedModels.defaultPooling(embedded) : Pooling.MEAN;
    float[][] fp32 = Int8Calibration.embedFp32(model, tokenizer, eval, pooling, 16, null);
    Calibrator first = Int8Calibration.observe(model, tokenizer, calibration, 16, null, null);
    System.out.println(
        "# " + spec + ", " + calibration.size() + " calibration texts, eval " + evalFile);
    for (String setting : settings) {
      String[] a = setting.split(",");
      Map<Point, Double> alphas = new EnumMap<>(Point.class);
      alphas.put(Point.QKV_IN, Double.parseDouble(a[0]));
      alphas.put(Point.FFN1_IN, Double.parseDouble(a[1]));
      alphas.put(Point.FFN2_IN, Double.parseDouble(a[2]));
      double[][][] smoothing = first.smoothing(model.encoder(), alphas);
      Calibrator second =
          Int8Calibration.observeWithHessians(model, tokenizer, calibration, 16, smoothing);
      CalibrationMethod method = CalibrationMethod.DEFAULT;
      WeightRounding gptq =
          WeightRounding.gptq(
              model.encoder(), second.scales(method, ""), second.hessians(), 0.01, false, null);
      ScaleSet scales = second.scales(method, "sweep " + setting).withWeightRounding(gptq);
      for (Precision mode : new Precision[] {Precision.INT8_MODE_1, Precision.INT8_MODE_2}) {
        float[][] int8 =
            Int8Calibration.embedInt8(
                model,
                scales,
                mode,
                QuantizedReference.DEFAULT_SCALING,
                tokenizer,
                eval,
                pooling,
                16,
                null);
        System.out.println(
            "alphas " + setting + " " + mode.label() + ": " + Int8Calibration.compare(fp32, int8));
      }
    }
  }
}
