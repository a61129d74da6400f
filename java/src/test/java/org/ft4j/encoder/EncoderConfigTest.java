package org.ft4j.encoder;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class EncoderConfigTest {
  private static String failure(Runnable r) {
    return assertThrows(IllegalArgumentException.class, r::run).getMessage();
  }

  @Test
  void bertBaseShape() {
    EncoderConfig c = EncoderConfig.bertBase(Precision.FP16);
    assertEquals(768, c.hidden());
    assertEquals(3072, c.intermediateSize());
    assertEquals(1e-12, c.layerNormEps());
    assertEquals(85_054_464L, c.parameterCount()); // BERT-base encoder layers without embeddings
  }

  @Test
  void rejectsInconsistentOrNonPositiveSizesNamingThem() {
    assertTrue(
        failure(() -> new EncoderConfig(2, 12, 64, 760, 3072, 1e-12, Precision.FP32))
            .contains("hidden = 760"));
    assertTrue(failure(() -> EncoderConfig.of(0, 12, 64, Precision.FP32)).contains("layers = 0"));
    assertTrue(failure(() -> EncoderConfig.of(1, -3, 64, Precision.FP32)).contains("heads = -3"));
    assertTrue(
        failure(() -> new EncoderConfig(1, 2, 2, 4, 16, 0, Precision.FP32))
            .contains("layerNormEps"));
    assertTrue(failure(() -> new EncoderConfig(1, 2, 2, 4, 16, 1e-5, null)).contains("precision"));
  }

  @Test
  void fasterTransformerFlagsMapToPrecisions() {
    assertEquals(Precision.FP32, Precision.fromFasterTransformerFlags(0, 0));
    assertEquals(Precision.FP16, Precision.fromFasterTransformerFlags(1, 0));
    assertEquals(Precision.INT8_MODE_1, Precision.fromFasterTransformerFlags(1, 1));
    assertEquals(Precision.INT8_MODE_2, Precision.fromFasterTransformerFlags(1, 2));
    assertTrue(
        failure(() -> Precision.fromFasterTransformerFlags(2, 0)).contains("is_use_fp16 = 2"));
    assertTrue(failure(() -> Precision.fromFasterTransformerFlags(1, 3)).contains("int8_mode = 3"));
    assertEquals(Precision.INT8_MODE_2, Precision.fromLabel("INT8-2"));
  }

  @Test
  void inputValidationNamesTheProblem() {
    EncoderConfig c = EncoderConfig.of(1, 2, 4, Precision.FP32);
    float[] x = new float[2 * 3 * 8];
    assertTrue(
        failure(() -> EncoderInputs.check(c, new float[5], new int[] {3, 3}, 2, 3))
            .contains("input has 5 values"));
    assertTrue(
        failure(() -> EncoderInputs.check(c, x, new int[] {3, 4}, 2, 3))
            .contains("lengths[1] = 4"));
    assertTrue(
        failure(() -> EncoderInputs.check(c, x, new int[] {0, 3}, 2, 3))
            .contains("lengths[0] = 0"));
    assertTrue(
        failure(() -> EncoderInputs.check(c, x, new int[] {3}, 2, 3))
            .contains("expected batch = 2"));
    assertTrue(
        failure(() -> EncoderInputs.check(c, x, new int[] {3, 3}, 0, 3)).contains("batch = 0"));
    assertTrue(
        failure(() -> EncoderInputs.checkShape(c, 1 << 20, 1 << 10)).contains("split the batch"));
    EncoderInputs.check(c, x, new int[] {1, 3}, 2, 3); // valid
  }
}
