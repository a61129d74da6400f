package org.ft4j.quant;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class Int8Test {
  @Test
  void quantizeRoundsHalfToEvenAndClampsSymmetrically() {
    double inv = 127 / 12.7; // scale 0.1
    assertEquals(0, Int8.quantize(0.04, inv));
    assertEquals(1, Int8.quantize(0.06, inv));
    assertEquals(2, Int8.quantize(0.25, inv)); // 2.5 -> 2 (even)
    assertEquals(4, Int8.quantize(0.35, inv)); // 3.5 -> 4 (even)
    assertEquals(-2, Int8.quantize(-0.25, inv));
    assertEquals(127, Int8.quantize(12.7, inv));
    assertEquals(127, Int8.quantize(1e6, inv));
    assertEquals(-127, Int8.quantize(-1e6, inv)); // never -128
  }

  @Test
  void fakeQuantizeLandsOnTheGridWithinHalfAStep() {
    SplittableRandom r = new SplittableRandom(3);
    double[] x = new double[1000];
    for (int i = 0; i < x.length; i++) {
      x[i] = r.nextDouble(-3, 3);
    }
    double[] q = x.clone();
    Int8.fakeQuantize(q, 2.0); // values beyond 2 clip
    double step = 2.0 / 127;
    for (int i = 0; i < x.length; i++) {
      double k = q[i] / step;
      assertEquals(Math.rint(k), k, 1e-9, "on the grid");
      double clipped = Math.max(-2, Math.min(2, x[i]));
      assertTrue(Math.abs(q[i] - clipped) <= step / 2 + 1e-12, x[i] + " -> " + q[i]);
    }
    assertThrows(IllegalArgumentException.class, () -> Int8.fakeQuantize(q, 0));
    assertThrows(IllegalArgumentException.class, () -> Int8.scale(Double.NaN));
  }

  @Test
  void weightsQuantizePerChannelOrPerTensor() {
    // [2, 3]: row 0 amax 1.27, row 1 amax 12.7
    float[] w = {1.27f, -0.635f, 0.01f, 12.7f, 6.35f, -12.7f};
    Int8.QuantizedWeight pc = Int8.quantizeWeight(w, 2, 3, true);
    assertArrayEquals(new byte[] {127, -64, 1, 127, 64, -127}, pc.values()); // -63.5 -> -64
    assertEquals(0.01f, pc.scale(0), 1e-7f);
    assertEquals(0.1f, pc.scale(1), 1e-6f);
    Int8.QuantizedWeight pt = Int8.quantizeWeight(w, 2, 3, false);
    assertEquals(1, pt.scales().length);
    assertArrayEquals(new byte[] {13, -6, 0, 127, 64, -127}, pt.values());
    float[] back = pc.dequantize();
    for (int i = 0; i < w.length; i++) {
      assertEquals(w[i], back[i], pc.scale(i / 3) / 2 + 1e-6);
    }
  }

  @Test
  void allZeroRowQuantizesToZerosWithUnitScale() {
    Int8.QuantizedWeight q = Int8.quantizeWeight(new float[] {0, 0, 1, -1}, 2, 2, true);
    assertArrayEquals(new byte[] {0, 0, 127, -127}, q.values());
    assertEquals(1f, q.scale(0));
  }

  @Test
  void int8ProductScaledEqualsTheProductOfDequantizedValues() {
    // the identity the fake-quantized reference rests on
    SplittableRandom r = new SplittableRandom(5);
    int k = 384;
    double ax = 3.1;
    float[] w = new float[k];
    double[] x = new double[k];
    for (int i = 0; i < k; i++) {
      w[i] = (float) r.nextDouble(-0.2, 0.2);
      x[i] = r.nextGaussian();
    }
    Int8.QuantizedWeight qw = Int8.quantizeWeight(w, 1, k, true);
    long acc = 0;
    double fake = 0;
    double inv = 127 / ax;
    float[] wd = qw.dequantize();
    for (int i = 0; i < k; i++) {
      int qx = Int8.quantize(x[i], inv);
      acc += (long) qx * qw.values()[i];
      fake += qx * Int8.scale(ax) * wd[i];
    }
    // equal up to the float rounding of the stored scale and of q * scale
    assertEquals(acc * Int8.scale(ax) * qw.scale(0), fake, 1e-6 * Math.abs(fake) + 1e-12);
  }
}
