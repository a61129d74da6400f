package org.ft4j.quant;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import org.ft4j.encoder.EncoderConfig;
import org.ft4j.encoder.EncoderWeights;
import org.ft4j.encoder.LayerParam;
import org.ft4j.encoder.Precision;
import org.ft4j.reference.ActivationHook.Point;
import org.junit.jupiter.api.Test;

/** The host-side preparation of INT8 mode-1 weights: the same numbers as the CPU oracle's. */
class Int8EncoderWeightsTest {
  static final EncoderConfig CONFIG = QuantizedReferenceTest.CONFIG;
  static final EncoderWeights WEIGHTS = QuantizedReferenceTest.WEIGHTS;

  @Test
  void int8WeightsTimesScalesAreTheOraclesWeights() {
    ScaleSet scales = QuantizedReferenceTest.calibrate(0.5).scales(CalibrationMethod.DEFAULT, "t");
    Int8EncoderWeights q = Int8EncoderWeights.of(WEIGHTS, scales);
    EncoderWeights oracle = QuantizedReference.quantizeWeights(WEIGHTS, scales);
    int h = CONFIG.hidden();
    for (int l = 0; l < CONFIG.layers(); l++) {
      Int8EncoderWeights.Layer layer = q.layer(l);
      float[] qkv = layer.qkv().dequantize();
      assertEquals(3 * h * h, qkv.length);
      assertArrayEquals(oracle.get(l, LayerParam.QUERY_WEIGHT), Arrays.copyOfRange(qkv, 0, h * h));
      assertArrayEquals(
          oracle.get(l, LayerParam.KEY_WEIGHT), Arrays.copyOfRange(qkv, h * h, 2 * h * h));
      assertArrayEquals(
          oracle.get(l, LayerParam.VALUE_WEIGHT), Arrays.copyOfRange(qkv, 2 * h * h, 3 * h * h));
      assertArrayEquals(
          oracle.get(l, LayerParam.ATTENTION_OUTPUT_WEIGHT), layer.attentionOutput().dequantize());
      assertArrayEquals(
          oracle.get(l, LayerParam.INTERMEDIATE_WEIGHT), layer.intermediate().dequantize());
      assertArrayEquals(oracle.get(l, LayerParam.OUTPUT_WEIGHT), layer.output().dequantize());
      assertEquals(3 * h, layer.qkv().scales().length, "per-channel scales");
      assertEquals(CONFIG.intermediateSize(), layer.intermediate().scales().length);
      assertEquals((float) scales.amax(l, Point.ATTN_OUT_IN), layer.attentionOutputAmax());
      assertInverse(scales.smooth(l, Point.QKV_IN), layer.qkvInvSmooth());
      assertInverse(scales.smooth(l, Point.FFN1_IN), layer.ffn1InvSmooth());
      assertInverse(scales.smooth(l, Point.FFN2_IN), layer.ffn2InvSmooth());
      for (byte v : layer.output().values()) {
        assertTrue(v >= -127, "int8 weights never use -128");
      }
    }
  }

  /**
   * Mode 2's QKV output amax: per tensor for Q and K, per channel for V (the calibrator's choice:
   * one static amax per tensor clipped unusual texts), each column as calibrated.
   */
  @Test
  void mode2QkvOutputAmaxIsPerChannelForV() {
    ScaleSet scales = QuantizedReferenceTest.calibrate(0.5).scales(CalibrationMethod.DEFAULT, "t");
    int h = CONFIG.hidden();
    for (int l = 0; l < CONFIG.layers(); l++) {
      assertNull(scales.channelAmax(l, Point.Q_OUT));
      assertNull(scales.channelAmax(l, Point.K_OUT));
      double[] v = scales.channelAmax(l, Point.V_OUT);
      assertNotNull(v, "v_out per channel");
      float[] qkv = Int8EncoderWeights.mode2Outputs(scales, CONFIG, l).qkv();
      boolean varies = false;
      for (int c = 0; c < h; c++) {
        assertEquals((float) scales.amax(l, Point.Q_OUT), qkv[c]);
        assertEquals((float) scales.amax(l, Point.K_OUT), qkv[h + c]);
        assertEquals((float) v[c], qkv[2 * h + c]);
        varies |= v[c] != v[0];
      }
      assertTrue(varies, "per-channel amax all equal: not per channel");
    }
  }

  private static void assertInverse(double[] s, float[] inv) {
    assertNotNull(s, "the calibration smoothed this input");
    assertEquals(s.length, inv.length);
    for (int c = 0; c < s.length; c++) {
      assertEquals(1 / s[c], inv[c], 1e-6 / s[c]);
    }
  }

  @Test
  void withoutSmoothingThereAreNoInverseFactors() {
    ScaleSet scales = QuantizedReferenceTest.calibrate(0).scales(CalibrationMethod.max(), "t");
    Int8EncoderWeights.Layer layer = Int8EncoderWeights.of(WEIGHTS, scales).layer(1);
    assertNull(layer.qkvInvSmooth());
    assertNull(layer.ffn1InvSmooth());
    assertNull(layer.ffn2InvSmooth());
    assertArrayEquals(
        QuantizedReference.quantizeWeights(WEIGHTS, scales).get(1, LayerParam.OUTPUT_WEIGHT),
        layer.output().dequantize());
  }

  @Test
  void scalesOfAnotherModelAreRejectedByName() {
    ScaleSet scales = QuantizedReferenceTest.calibrate(0).scales(CalibrationMethod.max(), "t");
    EncoderWeights other = EncoderWeights.random(EncoderConfig.of(3, 4, 16, Precision.FP32), 2);
    ScaleSetException e =
        assertThrows(ScaleSetException.class, () -> Int8EncoderWeights.of(other, scales));
    assertTrue(e.getMessage().contains("this model has 3 layers"), e.getMessage());
    assertThrows(IllegalArgumentException.class, () -> Int8EncoderWeights.of(WEIGHTS, null));
  }
}
