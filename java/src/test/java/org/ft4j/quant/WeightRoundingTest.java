package org.ft4j.quant;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.Arrays;
import org.ft4j.encoder.EncoderConfig;
import org.ft4j.encoder.EncoderWeights;
import org.ft4j.encoder.LayerParam;
import org.ft4j.reference.ActivationHook.Point;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** GPTQ weight rounding stored in a scale set: applied alike everywhere, checked, and better. */
class WeightRoundingTest {
  static final EncoderConfig CONFIG = QuantizedReferenceTest.CONFIG;
  static final EncoderWeights WEIGHTS = QuantizedReferenceTest.WEIGHTS;
  static Calibrator calibrator;
  static ScaleSet nearest;
  static ScaleSet gptq;

  @BeforeAll
  static void calibrate() {
    calibrator = QuantizedReferenceTest.calibrate(0.5, true);
    nearest = calibrator.scales(CalibrationMethod.DEFAULT, "t");
    gptq =
        nearest.withWeightRounding(
            WeightRounding.gptq(
                WEIGHTS, nearest, calibrator.hessians(), Gptq.DEFAULT_DAMPING, false, null));
  }

  /** Σ_o (w_o − q_o)ᵀ H (w_o − q_o) of one weight, with the smoothed float weight as w. */
  static double productError(ScaleSet scales, int l, LayerParam p) {
    int[] shape = p.shape(CONFIG);
    float[] w = WEIGHTS.get(l, p);
    Point input = QuantizedReference.inputOf(p);
    QuantizedReference.smooth(w, shape[0], shape[1], scales.smooth(l, input));
    float[] q = Int8EncoderWeights.quantizeWeight(WEIGHTS, scales, l, p).dequantize();
    return GptqTest.quadraticError(
        w, q, shape[0], shape[1], calibrator.hessians().matrix(l, input));
  }

  @Test
  void gptqLowersTheProductErrorOnTheCalibrationInputs() {
    double total = 0;
    double totalNearest = 0;
    for (int l = 0; l < CONFIG.layers(); l++) {
      for (LayerParam p : WeightRounding.MATRICES) {
        double g = productError(gptq, l, p);
        double n = productError(nearest, l, p);
        assertTrue(g < n, "layer " + l + " " + p + ": GPTQ " + g + " vs nearest " + n);
        total += g;
        totalNearest += n;
      }
    }
    assertTrue(total < 0.8 * totalNearest, total + " vs " + totalNearest);
  }

  @Test
  void fileRoundTripGivesTheSameWeightsToTheReferenceAndTheGpuPreparation() {
    ScaleSet read = ScaleSet.parse("mem", gptq.toJson());
    assertNotNull(read.weightRounding());
    assertEquals("gptq", read.weightRounding().method());
    assertEquals(false, read.weightRounding().actOrder());
    ScaleSet actOrder =
        nearest.withWeightRounding(
            WeightRounding.gptq(
                WEIGHTS, nearest, calibrator.hessians(), Gptq.DEFAULT_DAMPING, true, null));
    assertEquals(true, ScaleSet.parse("mem", actOrder.toJson()).weightRounding().actOrder());
    assertNull(nearest.weightRounding());
    assertNull(ScaleSet.parse("mem", nearest.toJson()).weightRounding());
    EncoderWeights oracle = QuantizedReference.quantizeWeights(WEIGHTS, read);
    EncoderWeights before = QuantizedReference.quantizeWeights(WEIGHTS, gptq);
    EncoderWeights plain = QuantizedReference.quantizeWeights(WEIGHTS, nearest);
    Int8EncoderWeights gpu = Int8EncoderWeights.of(WEIGHTS, read);
    int h = CONFIG.hidden();
    int differ = 0;
    for (int l = 0; l < CONFIG.layers(); l++) {
      for (LayerParam p : WeightRounding.MATRICES) {
        assertArrayEquals(before.get(l, p), oracle.get(l, p));
        differ += Arrays.equals(plain.get(l, p), oracle.get(l, p)) ? 0 : 1;
      }
      float[] qkv = gpu.layer(l).qkv().dequantize();
      assertArrayEquals(
          oracle.get(l, LayerParam.KEY_WEIGHT), Arrays.copyOfRange(qkv, h * h, 2 * h * h));
      assertArrayEquals(
          oracle.get(l, LayerParam.OUTPUT_WEIGHT), gpu.layer(l).output().dequantize());
    }
    assertEquals(6 * CONFIG.layers(), differ, "GPTQ changed every weight matrix");
  }

  @Test
  void roundingOfOtherWeightsIsRejectedNamingTheWeight() {
    EncoderWeights other = EncoderWeights.random(CONFIG, 18);
    ScaleSetException e =
        assertThrows(ScaleSetException.class, () -> Int8EncoderWeights.of(other, gptq));
    assertTrue(
        e.getMessage().contains("weight_rounding of layer 0 query")
            && e.getMessage().contains("other weights"),
        e.getMessage());
    assertThrows(ScaleSetException.class, () -> QuantizedReference.quantizeWeights(other, gptq));
  }

  @Test
  void corruptRoundingInAFileIsRejectedNamingTheKey() throws Exception {
    ObjectMapper json = new ObjectMapper();
    ObjectNode root = (ObjectNode) json.readTree(gptq.toJson());
    ObjectNode value =
        (ObjectNode) root.get("weight_rounding").get("layers").get(1).get("intermediate");
    String delta = value.get("delta").asText();
    value.put("delta", delta.substring(0, delta.length() / 2));
    ScaleSetException cut =
        assertThrows(ScaleSetException.class, () -> ScaleSet.parse("f.json", root.toString()));
    assertTrue(
        cut.getMessage().contains("f.json: weight_rounding.layers[1].intermediate.delta"),
        cut.getMessage());
    value.put("delta", "not base64 !");
    assertThrows(ScaleSetException.class, () -> ScaleSet.parse("f.json", root.toString()));
    value.remove("delta");
    assertThrows(ScaleSetException.class, () -> ScaleSet.parse("f.json", root.toString()));
    ObjectNode again = (ObjectNode) json.readTree(gptq.toJson());
    ((com.fasterxml.jackson.databind.node.ArrayNode) again.get("weight_rounding").get("layers"))
        .remove(0);
    ScaleSetException layers =
        assertThrows(ScaleSetException.class, () -> ScaleSet.parse("f.json", again.toString()));
    assertTrue(layers.getMessage().contains("2 objects"), layers.getMessage());
    ObjectNode crc = (ObjectNode) json.readTree(gptq.toJson());
    ((ObjectNode) crc.get("weight_rounding").get("layers").get(0).get("value")).put("crc32", 1);
    ScaleSet wrong = ScaleSet.parse("f.json", crc.toString());
    ScaleSetException e =
        assertThrows(ScaleSetException.class, () -> Int8EncoderWeights.of(WEIGHTS, wrong));
    assertTrue(e.getMessage().contains("layer 0 value") && e.getMessage().contains("CRC32"));
  }

  @Test
  void inflateChecksTheSize() {
    byte[] data = new byte[1000];
    Arrays.fill(data, (byte) 1);
    byte[] z = WeightRounding.deflate(data);
    assertArrayEquals(data, WeightRounding.inflate(z, 1000));
    assertThrows(IllegalArgumentException.class, () -> WeightRounding.inflate(z, 999));
    assertThrows(IllegalArgumentException.class, () -> WeightRounding.inflate(z, 1001));
  }

  @Test
  void hessiansOnlyWhenAsked() {
    assertNull(new Calibrator(CONFIG).hessians());
    assertEquals(
        calibrator.tokens(), calibrator.hessians().tokens(), "every calibration token is in H");
  }
}
