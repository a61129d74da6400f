package org.ft4j.model;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.ft4j.encoder.EncoderConfig;
import org.ft4j.encoder.EncoderWeights;
import org.ft4j.encoder.LayerParam;
import org.ft4j.encoder.Precision;

/**
 * Loads a Hugging Face model directory ({@code config.json} + {@code model.safetensors}) of a
 * BERT-family encoder into a {@link Model}.
 *
 * <p>Tensor names may carry a {@code bert.}, {@code roberta.} or {@code model.} prefix (stripped).
 * {@code embeddings.*} become the {@link EmbeddingWeights}, {@code encoder.layer.N.*} the {@link
 * EncoderWeights}; heads ({@code pooler.*}, {@code classifier.*}, {@code cls.*}, {@code lm_head.*},
 * ...) and the {@code embeddings.position_ids} buffer are ignored. Missing tensors, unknown tensors
 * inside the encoder, and shapes that disagree with config.json are errors naming the file, the
 * tensor, its shape and the expected one. F32, F16 and BF16 weights are read as FP32.
 */
public final class SafetensorsModelLoader {
  public static final String CONFIG_FILE = "config.json";
  public static final String WEIGHTS_FILE = "model.safetensors";

  private static final String[] PREFIXES = {"bert.", "roberta.", "model."};
  private static final String EMB = "embeddings.";

  private SafetensorsModelLoader() {}

  /** Loads the model in directory {@code dir}. */
  public static Model load(Path dir) {
    Path configFile = dir.resolve(CONFIG_FILE);
    Path weightsFile = dir.resolve(WEIGHTS_FILE);
    if (!Files.isRegularFile(configFile)) {
      throw new IllegalArgumentException("model directory " + dir + " has no " + CONFIG_FILE);
    }
    if (!Files.isRegularFile(weightsFile)) {
      throw new IllegalArgumentException(
          "model directory "
              + dir
              + " has no "
              + WEIGHTS_FILE
              + (Files.exists(dir.resolve("model.safetensors.index.json"))
                  ? " (sharded checkpoints are not supported)"
                  : ""));
    }
    ModelConfig config = HfConfig.read(configFile);
    try (SafetensorsFile file = SafetensorsFile.open(weightsFile)) {
      return load(dir.toString(), config, file);
    }
  }

  /** Loads a safetensors file of any name, with the {@code config.json} of its directory. */
  public static Model loadFile(Path safetensorsFile) {
    Path abs = safetensorsFile.toAbsolutePath();
    Path configFile = abs.getParent().resolve(CONFIG_FILE);
    if (!Files.isRegularFile(configFile)) {
      throw new IllegalArgumentException(
          "safetensors file " + safetensorsFile + " has no " + CONFIG_FILE + " next to it");
    }
    ModelConfig config = HfConfig.read(configFile);
    try (SafetensorsFile file = SafetensorsFile.open(safetensorsFile)) {
      return load(safetensorsFile.toString(), config, file);
    }
  }

  /** Builds the model from an open safetensors file and its configuration. */
  static Model load(String name, ModelConfig config, SafetensorsFile file) {
    Map<String, String> byShortName = new HashMap<>();
    for (String full : file.names()) {
      String shortName = stripPrefix(full);
      String previous = byShortName.put(shortName, full);
      if (previous != null) {
        throw bad(file, "tensors " + previous + " and " + full + " both map to " + shortName);
      }
    }
    List<String> missing = new ArrayList<>();
    float[] word =
        embedding(
            file,
            byShortName,
            missing,
            "word_embeddings.weight",
            config.vocabSize(),
            config.hidden());
    float[] position =
        embedding(
            file,
            byShortName,
            missing,
            "position_embeddings.weight",
            config.maxPositions(),
            config.hidden());
    float[] tokenType =
        embedding(
            file,
            byShortName,
            missing,
            "token_type_embeddings.weight",
            config.typeVocabSize(),
            config.hidden());
    float[] gamma = embedding(file, byShortName, missing, "LayerNorm.weight", config.hidden());
    float[] beta = embedding(file, byShortName, missing, "LayerNorm.bias", config.hidden());

    EncoderConfig encoderConfig = config.encoderConfig(Precision.FP32);
    EncoderWeights.Builder builder = EncoderWeights.builder(encoderConfig);
    for (int layer = 0; layer < config.layers(); layer++) {
      for (LayerParam p : LayerParam.values()) {
        String shortName = p.nameIn(layer);
        String full = byShortName.get(shortName);
        if (full == null) {
          missing.add(shortName);
          continue;
        }
        int[] expected = p.shape(encoderConfig);
        float[] data = read(file, full, expected);
        try {
          builder.put(shortName, data, expected);
        } catch (IllegalArgumentException e) {
          throw bad(file, "tensor " + full + ": " + e.getMessage());
        }
      }
    }
    // Anything else under encoder.layer. is a tensor this runtime does not know: refuse rather
    // than silently compute something else.
    for (Map.Entry<String, String> e : byShortName.entrySet()) {
      String shortName = e.getKey();
      if (shortName.startsWith(LayerParam.LAYER_PREFIX) && !isKnownLayerTensor(shortName, config)) {
        throw bad(
            file,
            "tensor "
                + e.getValue()
                + " is not a BERT encoder tensor of this config ("
                + config.layers()
                + " layers; expected encoder.layer.<0.."
                + (config.layers() - 1)
                + ">.<"
                + LayerParam.QUERY_WEIGHT.suffix()
                + ", ...>)");
      }
    }
    if (!missing.isEmpty()) {
      throw bad(
          file,
          missing.size()
              + " missing tensor(s): "
              + String.join(", ", missing.subList(0, Math.min(10, missing.size())))
              + (missing.size() > 10 ? ", ..." : "")
              + " (names shown without a bert./roberta./model. prefix)");
    }
    EncoderWeights encoder;
    try {
      encoder = builder.build();
    } catch (IllegalArgumentException e) {
      throw bad(file, e.getMessage());
    }
    EmbeddingWeights embeddings = new EmbeddingWeights(word, position, tokenType, gamma, beta);
    try {
      return new Model(name, config, embeddings, encoder);
    } catch (IllegalArgumentException e) {
      throw bad(file, e.getMessage());
    }
  }

  private static boolean isKnownLayerTensor(String shortName, ModelConfig config) {
    for (int layer = 0; layer < config.layers(); layer++) {
      String prefix = LayerParam.LAYER_PREFIX + layer + ".";
      if (shortName.startsWith(prefix)) {
        return LayerParam.fromSuffix(shortName.substring(prefix.length())) != null;
      }
    }
    return false;
  }

  private static float[] embedding(
      SafetensorsFile file,
      Map<String, String> byShortName,
      List<String> missing,
      String suffix,
      int... expected) {
    String shortName = EMB + suffix;
    String full = byShortName.get(shortName);
    if (full == null && suffix.startsWith("LayerNorm.")) {
      // TensorFlow-converted checkpoints name the layernorm parameters gamma and beta.
      String alias = EMB + (suffix.endsWith("weight") ? "LayerNorm.gamma" : "LayerNorm.beta");
      full = byShortName.get(alias);
    }
    if (full == null) {
      missing.add(shortName);
      return null;
    }
    return read(file, full, expected);
  }

  private static float[] read(SafetensorsFile file, String full, int[] expected) {
    int[] shape = file.shape(full);
    if (!Arrays.equals(shape, expected)) {
      throw bad(
          file,
          "tensor "
              + full
              + " has shape "
              + Arrays.toString(shape)
              + ", expected "
              + Arrays.toString(expected)
              + " from "
              + CONFIG_FILE);
    }
    return file.floats(full);
  }

  private static String stripPrefix(String name) {
    for (String p : PREFIXES) {
      if (name.startsWith(p)) {
        return name.substring(p.length());
      }
    }
    return name;
  }

  private static IllegalArgumentException bad(SafetensorsFile file, String message) {
    String text = message;
    String prefix = "safetensors file " + file.path() + ": ";
    if (text != null && text.startsWith(prefix)) {
      text = text.substring(prefix.length());
    }
    return new IllegalArgumentException(prefix + text);
  }
}
