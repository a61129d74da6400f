package org.ft4j.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SplittableRandom;
import org.ft4j.encoder.EncoderConfig;
import org.ft4j.encoder.EncoderWeights;
import org.ft4j.encoder.LayerParam;
import org.ft4j.encoder.Precision;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ModelLoaderTest {
  @TempDir Path dir;

  static final ModelConfig TINY = new ModelConfig("bert", 20, 8, 2, 2, 16, 12, 2, 1e-12, 0);

  private record T(float[] data, int[] shape) {}

  static final String TINY_CONFIG_JSON =
      """
      {"architectures": ["BertModel"], "model_type": "bert", "hidden_act": "gelu",
       "vocab_size": 20, "hidden_size": 8, "num_hidden_layers": 2, "num_attention_heads": 2,
       "intermediate_size": 16, "max_position_embeddings": 12, "type_vocab_size": 2}
      """;

  /** The tensors of a tiny random BERT under Hugging Face's names, without a prefix. */
  private static Map<String, T> tinyTensors() {
    SplittableRandom r = new SplittableRandom(7);
    Map<String, T> t = new LinkedHashMap<>();
    t.put("embeddings.word_embeddings.weight", random(r, 20, 8));
    t.put("embeddings.position_embeddings.weight", random(r, 12, 8));
    t.put("embeddings.token_type_embeddings.weight", random(r, 2, 8));
    t.put("embeddings.LayerNorm.weight", random(r, 8));
    t.put("embeddings.LayerNorm.bias", random(r, 8));
    EncoderConfig ec = TINY.encoderConfig(Precision.FP32);
    EncoderWeights w = EncoderWeights.random(ec, 11);
    for (int layer = 0; layer < TINY.layers(); layer++) {
      for (LayerParam p : LayerParam.values()) {
        t.put(p.nameIn(layer), new T(w.get(layer, p), p.shape(ec)));
      }
    }
    return t;
  }

  private static T random(SplittableRandom r, int... shape) {
    int n = 1;
    for (int d : shape) {
      n *= d;
    }
    float[] data = new float[n];
    for (int i = 0; i < n; i++) {
      data[i] = (float) r.nextDouble(-1, 1);
    }
    return new T(data, shape);
  }

  /** Writes config.json and model.safetensors (names prefixed with bert., plus extra heads). */
  private Path writeModel(Map<String, T> tensors) throws IOException {
    Files.writeString(dir.resolve("config.json"), TINY_CONFIG_JSON);
    SafetensorsFileTest.Writer w = new SafetensorsFileTest.Writer().metadata("format", "pt");
    w.raw("bert.embeddings.position_ids", "I64", new byte[8 * 12], 1, 12);
    tensors.forEach((name, t) -> w.f32("bert." + name, t.data, t.shape));
    w.f32("bert.pooler.dense.weight", new float[64], 8, 8);
    w.f32("bert.pooler.dense.bias", new float[8], 8);
    w.f32("cls.predictions.bias", new float[20], 20);
    w.write(dir.resolve("model.safetensors"));
    return dir;
  }

  @Test
  void loadsPrefixedTinyBertAndIgnoresHeads() throws IOException {
    Map<String, T> tensors = tinyTensors();
    writeModel(tensors);
    Model m = SafetensorsModelLoader.load(dir);
    assertEquals(TINY, m.config());
    assertArrayEquals(tensors.get("embeddings.word_embeddings.weight").data, m.embeddings().word());
    assertArrayEquals(
        tensors.get("embeddings.position_embeddings.weight").data, m.embeddings().position());
    assertArrayEquals(
        tensors.get("embeddings.token_type_embeddings.weight").data, m.embeddings().tokenType());
    assertArrayEquals(
        tensors.get("embeddings.LayerNorm.weight").data, m.embeddings().layerNormGamma());
    assertArrayEquals(
        tensors.get("embeddings.LayerNorm.bias").data, m.embeddings().layerNormBeta());
    for (int layer = 0; layer < TINY.layers(); layer++) {
      for (LayerParam p : LayerParam.values()) {
        assertArrayEquals(tensors.get(p.nameIn(layer)).data, m.encoder().get(layer, p), p.name());
      }
    }
    assertEquals(Precision.FP32, m.encoder().config().precision());
  }

  @Test
  void namesMissingTensors() throws IOException {
    Map<String, T> tensors = tinyTensors();
    tensors.remove("encoder.layer.1.output.dense.bias");
    tensors.remove("embeddings.LayerNorm.bias");
    writeModel(tensors);
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> SafetensorsModelLoader.load(dir));
    assertTrue(e.getMessage().contains("2 missing tensor(s)"), e.getMessage());
    assertTrue(e.getMessage().contains("encoder.layer.1.output.dense.bias"), e.getMessage());
    assertTrue(e.getMessage().contains("embeddings.LayerNorm.bias"), e.getMessage());
    assertTrue(e.getMessage().contains("model.safetensors"), e.getMessage());
  }

  @Test
  void namesWrongShapes() throws IOException {
    Map<String, T> tensors = tinyTensors();
    tensors.put(
        "encoder.layer.0.intermediate.dense.weight", new T(new float[128], new int[] {8, 16}));
    writeModel(tensors);
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> SafetensorsModelLoader.load(dir));
    assertTrue(
        e.getMessage()
            .contains(
                "tensor bert.encoder.layer.0.intermediate.dense.weight has shape [8, 16],"
                    + " expected [16, 8] from config.json"),
        e.getMessage());

    tensors = tinyTensors();
    tensors.put("embeddings.word_embeddings.weight", new T(new float[24 * 8], new int[] {24, 8}));
    writeModel(tensors);
    e = assertThrows(IllegalArgumentException.class, () -> SafetensorsModelLoader.load(dir));
    assertTrue(
        e.getMessage()
            .contains(
                "tensor bert.embeddings.word_embeddings.weight has shape [24, 8], expected"
                    + " [20, 8]"),
        e.getMessage());
  }

  @Test
  void rejectsUnknownEncoderTensorsAndMissingFiles() throws IOException {
    Map<String, T> tensors = tinyTensors();
    tensors.put("encoder.layer.2.output.dense.bias", new T(new float[8], new int[] {8}));
    writeModel(tensors);
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> SafetensorsModelLoader.load(dir));
    assertTrue(e.getMessage().contains("tensor bert.encoder.layer.2.output.dense.bias is not"));

    Files.delete(dir.resolve("model.safetensors"));
    e = assertThrows(IllegalArgumentException.class, () -> SafetensorsModelLoader.load(dir));
    assertTrue(e.getMessage().contains("has no model.safetensors"), e.getMessage());
  }

  @Test
  void modelLoaderResolvesDirectoriesAndFiles() throws IOException {
    writeModel(tinyTensors());
    Model fromDir = ModelLoader.load(dir.toString());
    assertEquals(TINY, fromDir.config());
    Path renamed = Files.move(dir.resolve("model.safetensors"), dir.resolve("weights.safetensors"));
    Model fromFile = ModelLoader.load(renamed.toString());
    assertArrayEquals(fromDir.embeddings().word(), fromFile.embeddings().word());

    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> ModelLoader.load(dir.toString()));
    assertTrue(e.getMessage().contains("holds neither model.safetensors"), e.getMessage());
    e =
        assertThrows(
            IllegalArgumentException.class, () -> ModelLoader.load(dir.resolve("no").toString()));
    assertTrue(e.getMessage().contains("no such file or directory"), e.getMessage());
    e =
        assertThrows(
            IllegalArgumentException.class,
            () -> ModelLoader.load(dir.resolve("config.json").toString()));
    assertTrue(e.getMessage().contains("not a model directory"), e.getMessage());
    e =
        assertThrows(
            IllegalArgumentException.class, () -> ModelLoader.tokenizerPath(dir.toString()));
    assertTrue(e.getMessage().contains("no tokenizer.json in " + dir), e.getMessage());
    Files.writeString(dir.resolve("tokenizer.json"), "{}");
    assertEquals(dir.resolve("tokenizer.json"), ModelLoader.tokenizerPath(dir.toString()));
  }
}
