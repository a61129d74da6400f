package org.ft4j.model;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Set;

/**
 * Reads a Hugging Face {@code config.json} into a {@link ModelConfig}.
 *
 * <p>Supported: {@code model_type} bert (→ "bert") and roberta, xlm-roberta, camembert (→
 * "roberta"), with BERT-layer tensor names and {@code hidden_act} "gelu" (exact erf GELU). Other
 * model types, "architectures" naming a model with other layers (DistilBert, Albert, ...) and other
 * activations are rejected with a message naming them. Errors are {@link IllegalArgumentException}s
 * naming the file.
 */
public final class HfConfig {
  private static final ObjectMapper JSON = new ObjectMapper();

  private static final Set<String> BERT_TYPES = Set.of("bert");
  private static final Set<String> ROBERTA_TYPES = Set.of("roberta", "xlm-roberta", "camembert");
  private static final String SUPPORTED =
      "supported model_type values: bert, roberta, xlm-roberta, camembert";

  /** Architecture names that reuse the model_type of a supported family but not its layers. */
  private static final String[] OTHER_LAYER_ARCHITECTURES = {
    "distilbert", "albert", "electra", "deberta", "mpnet", "mobilebert", "squeezebert", "longformer"
  };

  private HfConfig() {}

  /** Reads and converts {@code configJson}. */
  public static ModelConfig read(Path configJson) {
    String text;
    try {
      text = Files.readString(configJson);
    } catch (NoSuchFileException e) {
      throw new IllegalArgumentException("config file " + configJson + " does not exist");
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read config file " + configJson, e);
    }
    return parse(text, configJson.toString());
  }

  /** Converts the JSON text of a config.json; {@code source} names it in messages. */
  public static ModelConfig parse(String json, String source) {
    JsonNode root;
    try {
      root = JSON.readTree(json);
    } catch (JsonProcessingException e) {
      throw new IllegalArgumentException(
          "config file " + source + " is not valid JSON: " + e.getOriginalMessage());
    }
    if (root == null || !root.isObject()) {
      throw new IllegalArgumentException("config file " + source + " is not a JSON object");
    }
    String modelType = string(root, "model_type", source).toLowerCase(Locale.ROOT);
    String architecture;
    if (BERT_TYPES.contains(modelType)) {
      architecture = "bert";
    } else if (ROBERTA_TYPES.contains(modelType)) {
      architecture = "roberta";
    } else {
      throw new IllegalArgumentException(
          "config file "
              + source
              + ": model_type '"
              + modelType
              + "' is not supported ("
              + SUPPORTED
              + ")");
    }
    JsonNode architectures = root.get("architectures");
    if (architectures != null && architectures.isArray()) {
      for (JsonNode a : architectures) {
        String name = a.asText().toLowerCase(Locale.ROOT);
        for (String other : OTHER_LAYER_ARCHITECTURES) {
          if (name.startsWith(other)) {
            throw new IllegalArgumentException(
                "config file "
                    + source
                    + ": architecture "
                    + a.asText()
                    + " (model_type '"
                    + modelType
                    + "') has other layers than BERT and is not supported ("
                    + SUPPORTED
                    + ", with BERT layers)");
          }
        }
      }
    }
    JsonNode act = root.get("hidden_act");
    String hiddenAct = act == null || act.isNull() ? "gelu" : act.asText();
    if (!"gelu".equals(hiddenAct)) {
      throw new IllegalArgumentException(
          "config file "
              + source
              + ": hidden_act '"
              + hiddenAct
              + "' is not supported (only \"gelu\", the exact erf GELU)");
    }
    JsonNode eps = root.get("layer_norm_eps");
    double layerNormEps = 1e-12;
    if (eps != null && !eps.isNull()) {
      if (!eps.isNumber()) {
        throw new IllegalArgumentException(
            "config file " + source + ": layer_norm_eps " + eps + " is not a number");
      }
      layerNormEps = eps.asDouble();
    }
    int padTokenId = "roberta".equals(architecture) ? 1 : 0;
    JsonNode pad = root.get("pad_token_id");
    if (pad != null && !pad.isNull()) {
      padTokenId = integer(root, "pad_token_id", source);
    }
    try {
      return new ModelConfig(
          architecture,
          integer(root, "vocab_size", source),
          integer(root, "hidden_size", source),
          integer(root, "num_hidden_layers", source),
          integer(root, "num_attention_heads", source),
          integer(root, "intermediate_size", source),
          integer(root, "max_position_embeddings", source),
          integer(root, "type_vocab_size", source),
          layerNormEps,
          padTokenId);
    } catch (IllegalArgumentException e) {
      if (e.getMessage() != null && e.getMessage().startsWith("config file ")) {
        throw e;
      }
      throw new IllegalArgumentException("config file " + source + ": " + e.getMessage(), e);
    }
  }

  private static String string(JsonNode root, String key, String source) {
    JsonNode n = root.get(key);
    if (n == null || n.isNull()) {
      throw new IllegalArgumentException(
          "config file " + source + ": required key \"" + key + "\" is missing");
    }
    if (!n.isTextual()) {
      throw new IllegalArgumentException(
          "config file " + source + ": \"" + key + "\" = " + n + " is not a string");
    }
    return n.asText();
  }

  private static int integer(JsonNode root, String key, String source) {
    JsonNode n = root.get(key);
    if (n == null || n.isNull()) {
      throw new IllegalArgumentException(
          "config file " + source + ": required key \"" + key + "\" is missing");
    }
    if (!n.isIntegralNumber() || !n.canConvertToInt()) {
      throw new IllegalArgumentException(
          "config file " + source + ": \"" + key + "\" = " + n + " is not an integer");
    }
    return n.asInt();
  }
}
