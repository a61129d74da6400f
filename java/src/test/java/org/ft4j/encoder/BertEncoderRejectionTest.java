package org.ft4j.encoder;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.ft4j.quant.CalibrationMethod;
import org.ft4j.quant.Calibrator;
import org.ft4j.quant.ScaleSet;
import org.ft4j.quant.ScaleSetException;
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
