package org.ft4j.encoder;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class EncoderWeightsTest {
  private final EncoderConfig config =
      EncoderConfig.of(2, 2, 4, Precision.FP32); // hidden 8, inter 32

  private static String failure(Runnable r) {
    return assertThrows(IllegalArgumentException.class, r::run).getMessage();
  }

  @Test
  void usesHuggingFaceNamesAndShapes() {
    assertEquals("encoder.layer.1.attention.self.query.weight", LayerParam.QUERY_WEIGHT.nameIn(1));
    assertEquals(
        "encoder.layer.0.output.LayerNorm.bias", LayerParam.OUTPUT_LAYERNORM_BIAS.nameIn(0));
    assertArrayEquals(new int[] {32, 8}, LayerParam.INTERMEDIATE_WEIGHT.shape(config));
    assertArrayEquals(new int[] {8, 32}, LayerParam.OUTPUT_WEIGHT.shape(config));
    EncoderWeights w = EncoderWeights.random(config, 1);
    assertEquals(32 * 8, w.get("encoder.layer.1.intermediate.dense.weight").length);
    assertTrue(w.get(0, LayerParam.QUERY_WEIGHT) != w.get(1, LayerParam.QUERY_WEIGHT));
  }

  @Test
  void isImmutableWhateverTheCallerDoesWithItsArrays() {
    EncoderConfig one = EncoderConfig.of(1, 2, 4, Precision.FP32);
    EncoderWeights random = EncoderWeights.random(one, 3);
    EncoderWeights.Builder b = EncoderWeights.builder(one);
    float[] kept = null;
    for (LayerParam p : LayerParam.values()) {
      float[] data = random.get(0, p);
      b.put(p.nameIn(0), data, p.shape(one));
      if (p == LayerParam.QUERY_BIAS) {
        kept = data;
      }
    }
    EncoderWeights w = b.build();
    float before = w.get(0, LayerParam.QUERY_BIAS)[0];
    kept[0] = before + 1f; // the caller's array
    w.get(0, LayerParam.QUERY_BIAS)[0] = before + 2f; // a returned array
    assertEquals(before, w.get(0, LayerParam.QUERY_BIAS)[0]);
  }

  @Test
  void randomWeightsAreDeterministicPerSeed() {
    float[] a = EncoderWeights.random(config, 5).get(1, LayerParam.VALUE_WEIGHT);
    float[] b = EncoderWeights.random(config, 5).get(1, LayerParam.VALUE_WEIGHT);
    float[] c = EncoderWeights.random(config, 6).get(1, LayerParam.VALUE_WEIGHT);
    assertArrayEquals(a, b);
    assertTrue(a[0] != c[0] || a[1] != c[1]);
  }

  @Test
  void rejectsWrongNamesShapesValuesAndMissingTensors() {
    EncoderWeights.Builder b = EncoderWeights.builder(config);
    assertTrue(
        failure(
                () ->
                    b.put("bert.encoder.layer.0.attention.self.query.weight", new float[64], 8, 8))
            .contains("does not start with"));
    assertTrue(
        failure(() -> b.put("encoder.layer.2.attention.self.query.weight", new float[64], 8, 8))
            .contains("layer 2 out of range"));
    assertTrue(
        failure(() -> b.put("encoder.layer.0.attention.self.qkv.weight", new float[64], 8, 8))
            .contains("unknown BERT layer tensor"));
    assertTrue(
        failure(() -> b.put("encoder.layer.0.intermediate.dense.weight", new float[256], 8, 32))
            .contains("expected [32, 8]"));
    assertTrue(
        failure(() -> b.put("encoder.layer.0.intermediate.dense.bias", new float[31], 32))
            .contains("31 values"));
    float[] bad = new float[8];
    bad[3] = Float.NaN;
    assertTrue(
        failure(() -> b.put("encoder.layer.0.output.dense.bias", bad, 8)).contains("flat index 3"));
    b.put("encoder.layer.0.output.dense.bias", new float[8], 8);
    assertTrue(
        failure(() -> b.put("encoder.layer.0.output.dense.bias", new float[8], 8))
            .contains("given twice"));
    String missing = failure(b::build);
    assertTrue(missing.contains("31 missing weight tensor(s)"), missing);
    assertTrue(missing.contains("encoder.layer.0.attention.self.query.weight"), missing);
  }

  @Test
  void withConfigKeepsTensorsButRejectsOtherShapes() {
    EncoderWeights w = EncoderWeights.random(config, 1);
    EncoderWeights half = w.withConfig(config.withPrecision(Precision.FP16));
    assertEquals(Precision.FP16, half.config().precision());
    assertArrayEquals(w.get(0, LayerParam.KEY_BIAS), half.get(0, LayerParam.KEY_BIAS));
    assertThrows(IllegalArgumentException.class, () -> w.withConfig(config.withLayers(3)));
  }
}
