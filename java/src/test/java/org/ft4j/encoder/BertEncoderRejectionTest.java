package org.ft4j.encoder;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** What BertEncoder rejects before it touches a GPU: runs everywhere. */
class BertEncoderRejectionTest {
  @Test
  void featuresNotBuiltYetAreRejectedByName() {
    EncoderWeights w = EncoderWeights.random(EncoderConfig.of(1, 2, 32, Precision.INT8_MODE_1), 1);
    UnsupportedOperationException int8 =
        assertThrows(UnsupportedOperationException.class, () -> BertEncoder.create(w));
    assertTrue(int8.getMessage().contains("INT8 mode 1"), int8.getMessage());
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
  void nullArgumentsAreRejected() {
    assertThrows(IllegalArgumentException.class, () -> BertEncoder.create(null));
  }
}
