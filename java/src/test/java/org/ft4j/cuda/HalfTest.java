package org.ft4j.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class HalfTest {
  @Test
  void everyHalfSurvivesARoundTripThroughFloat() {
    for (int h = 0; h < 0x10000; h++) {
      float f = Half.toFloat((short) h);
      if (Float.isNaN(f)) {
        assertTrue(Float.isNaN(Half.toFloat(Half.fromFloat(f))), "NaN 0x" + Integer.toHexString(h));
      } else {
        assertEquals((short) h, Half.fromFloat(f), "half 0x" + Integer.toHexString(h) + " = " + f);
      }
    }
  }

  @Test
  void knownValuesAndTiesToEven() {
    assertEquals((short) 0x3C00, Half.fromFloat(1f));
    assertEquals((short) 0xC000, Half.fromFloat(-2f));
    assertEquals((short) 0x7BFF, Half.fromFloat(65504f)); // largest finite half
    assertEquals((short) 0x7C00, Half.fromFloat(65520f)); // midpoint to 65536: ties to even = inf
    assertEquals((short) 0x7BFF, Half.fromFloat(65519f));
    assertEquals((short) 0x0001, Half.fromFloat(0x1p-24f)); // smallest subnormal
    assertEquals((short) 0x0000, Half.fromFloat(0x1p-25f)); // tie between 0 and 2^-24: even = 0
    assertEquals((short) 0x0001, Half.fromFloat(0x1.8p-25f)); // above the midpoint
    assertEquals((short) 0x0003, Half.fromFloat(0x1.8p-23f)); // 3 * 2^-24: exact subnormal
    assertEquals((short) 0x0002, Half.fromFloat(0x1.4p-23f)); // 2.5 units: tie, down to even 2
    assertEquals((short) 0x0004, Half.fromFloat(0x1.cp-23f)); // 3.5 units: tie, up to even 4
    assertEquals((short) 0x3C00, Half.fromFloat(1f + 0x1p-11f)); // tie, stays at even 1.0
    assertEquals((short) 0x3C02, Half.fromFloat(1f + 0x3p-11f)); // tie, goes up to even
    assertEquals((short) 0x8000, Half.fromFloat(-0f));
    assertEquals(Float.NEGATIVE_INFINITY, Half.toFloat(Half.fromFloat(-1e9f)));
  }

  @Test
  void randomFloatsRoundToTheNearestHalf() {
    SplittableRandom r = new SplittableRandom(7);
    for (int i = 0; i < 200_000; i++) {
      float x = (float) (r.nextDouble(-1, 1) * Math.pow(2, r.nextInt(-26, 16)));
      short h = Half.fromFloat(x);
      double err = Math.abs(x - (double) Half.toFloat(h));
      for (int delta : new int[] {-1, 1}) {
        float neighbour = Half.toFloat((short) (h + delta));
        if (!Float.isNaN(neighbour) && !Float.isInfinite(neighbour)) {
          assertTrue(
              err <= Math.abs(x - (double) neighbour),
              x + " -> " + Half.toFloat(h) + " but " + neighbour + " is nearer");
        }
      }
    }
  }
}
