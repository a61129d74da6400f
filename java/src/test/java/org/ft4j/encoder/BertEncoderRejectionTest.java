package org.ft4j.encoder;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.ft4j.quant.CalibrationMethod;
import org.ft4j.quant.Calibrator;
import org.ft4j.quant.ScaleSet;
import org.ft4j.quant.ScaleSetException;
import org.ft4j.reference.ActivationHook.Point;
import org.ft4j.testing.GpuTesting;
import org.junit.jupiter.api.Test;

/** What BertEncoder rejects before it touches a GPU: runs everywhere. */
class BertEncoderRejectionTest {
  static final EncoderConfig INT8 = EncoderConfig.of(1, 2, 32, Precision.INT8_MODE_1);
  static final EncoderWeights W8 = EncoderWeights.random(INT8, 1);

  static ScaleSet scales(EncoderWeights w) {
    int[] lengths = {5, 3};
    float[] x = GpuTesting.random(2 * 5 * w.config().hidden(), 3, -1, 1);
    return Calibrator.calibrateOnHiddenStates(
        w, x, lengths, 2, 5, 0.5, CalibrationMethod.DEFAULT, "test");
  }

  @Test
  void paddingRemovalNeedsTheFusedAttention() {
    EncoderWeights f = EncoderWeights.random(EncoderConfig.of(1, 2, 32, Precision.FP16), 1);
    IllegalArgumentException pad =
        assertThrows(
            IllegalArgumentException.class,
            () ->
                BertEncoder.create(
                    f,
                    BertEncoder.Options.defaults()
                        .withRemovePadding(true)
                        .withAttention(BertEncoder.Attention.UNFUSED)));
    assertTrue(pad.getMessage().contains("padding removal needs the fused"), pad.getMessage());
  }

  @Test
  void int8Mode1NeedsScales() {
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> BertEncoder.create(W8));
    assertTrue(e.getMessage().contains("int8-1 needs INT8 scales"), e.getMessage());
    assertThrows(
        IllegalArgumentException.class,
        () -> BertEncoder.create(W8, null, BertEncoder.Options.defaults()));
  }

  @Test
  void int8Mode2NeedsScalesAndOwnGemm() {
    EncoderWeights w2 = W8.withConfig(EncoderConfig.of(1, 2, 32, Precision.INT8_MODE_2));
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> BertEncoder.create(w2));
    assertTrue(e.getMessage().contains("int8-2 needs INT8 scales"), e.getMessage());
    ScaleSet s = scales(W8);
    IllegalArgumentException lt =
        assertThrows(
            IllegalArgumentException.class,
            () ->
                BertEncoder.create(
                    w2,
                    s,
                    BertEncoder.Options.defaults().withInt8Gemm(BertEncoder.Int8Gemm.CUBLASLT)));
    assertTrue(lt.getMessage().contains("cuBLASLt"), lt.getMessage());
  }

  /** Every point's amax 1; {@code smoothed} / {@code perChannel} get vectors of 2 / 1. */
  private static ScaleSet handMade(Point smoothed, Point perChannel) {
    int hidden = INT8.hidden();
    double[][] amax = new double[Point.values().length][];
    double[][][] smooth = new double[Point.values().length][][];
    double[][][] channel = new double[Point.values().length][][];
    for (Point p : Point.values()) {
      amax[p.ordinal()] = new double[] {1};
    }
    if (smoothed != null) {
      smooth[smoothed.ordinal()] =
          new double[][] {
            java.util.Collections.nCopies(hidden, 2.0).stream()
                .mapToDouble(Double::doubleValue)
                .toArray()
          };
    }
    if (perChannel != null) {
      double[] ones = new double[hidden];
      java.util.Arrays.fill(ones, 1);
      channel[perChannel.ordinal()] = new double[][] {ones};
    }
    return new ScaleSet(1, hidden, INT8.intermediateSize(), "hand", "test", amax, smooth, channel);
  }

  @Test
  void smoothingTheGpuEncoderDoesNotRunIsRejected() {
    ScaleSetException smooth =
        assertThrows(
            ScaleSetException.class,
            () ->
                BertEncoder.create(
                    W8, handMade(Point.ATTN_OUT_IN, null), BertEncoder.Options.defaults()));
    assertTrue(smooth.getMessage().contains("smooths attn_out_in"), smooth.getMessage());
  }

  @Test
  void int8Mode1WithCublasLtRejectsQkvRowsWiderThanTheRowKernels() {
    // hidden 4096 (32 heads x 128): 3 x hidden = 12288 > 12224 columns, which the row kernel that
    // dequantizes cuBLASLt's int32 QKV output would hold; ft4j's own GEMM dequantizes QKV itself
    EncoderConfig wide = new EncoderConfig(1, 32, 128, 4096, 64, 1e-12, Precision.INT8_MODE_1);
    BertEncoder.Options lt = BertEncoder.Options.defaults();
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> BertEncoder.checkInt8Widths(wide, lt));
    assertTrue(e.getMessage().contains("3 x hidden = 12288"), e.getMessage());
    BertEncoder.checkInt8Widths(wide, lt.withInt8Gemm(BertEncoder.Int8Gemm.OWN));
    BertEncoder.checkInt8Widths(
        wide.withPrecision(Precision.INT8_MODE_2), lt); // mode 2: own GEMM only
    EncoderConfig tooWide = new EncoderConfig(1, 2, 32, 64, 12225, 1e-12, Precision.INT8_MODE_1);
    assertThrows(
        IllegalArgumentException.class,
        () -> BertEncoder.checkInt8Widths(tooWide, lt.withInt8Gemm(BertEncoder.Int8Gemm.OWN)));
  }

  @Test
  void geluEpilogueIsRejectedForInt8() {
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class,
            () ->
                BertEncoder.create(
                    W8, scales(W8), BertEncoder.Options.defaults().withGeluEpilogue(true)));
    assertTrue(e.getMessage().contains("GELU epilogue"), e.getMessage());
    assertTrue(e.getMessage().contains("int8-1"), e.getMessage());
  }

  @Test
  void scalesForAnotherModelOrPrecisionAreRejected() {
    ScaleSet s = scales(W8);
    EncoderWeights other =
        EncoderWeights.random(EncoderConfig.of(2, 2, 32, Precision.INT8_MODE_1), 1);
    ScaleSetException mismatch =
        assertThrows(
            ScaleSetException.class,
            () -> BertEncoder.create(other, s, BertEncoder.Options.defaults()));
    assertTrue(mismatch.getMessage().contains("this model has 2 layers"), mismatch.getMessage());
    EncoderWeights fp16 = W8.withConfig(EncoderConfig.of(1, 2, 32, Precision.FP16));
    IllegalArgumentException wrong =
        assertThrows(
            IllegalArgumentException.class,
            () -> BertEncoder.create(fp16, s, BertEncoder.Options.defaults()));
    assertTrue(wrong.getMessage().contains("apply to int8-1 and int8-2 only"), wrong.getMessage());
  }

  @Test
  void int8WidthsBeyondTheKernelsAreRejected() {
    EncoderConfig wide = new EncoderConfig(1, 1, 32, 32, 16384, 1e-12, Precision.INT8_MODE_1);
    EncoderWeights w = EncoderWeights.random(wide, 1);
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class,
            () -> BertEncoder.create(w, scales(W8), BertEncoder.Options.defaults()));
    assertTrue(e.getMessage().contains("up to 12224"), e.getMessage());
  }

  @Test
  void nullArgumentsAreRejected() {
    assertThrows(IllegalArgumentException.class, () -> BertEncoder.create(null));
  }
}
