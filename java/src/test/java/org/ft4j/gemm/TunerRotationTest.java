package org.ft4j.gemm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/**
 * How many operand sets the tuner rotates over: enough that the rotation spans 192 MiB (more than
 * three times the H100's 50 MB L2) also for the small GEMMs of batch 1, which a cap of 16 sets left
 * timed from L2 before 2026-11-27 (e.g. 1x128 attention output in FP16: 16 sets of 1.57 MB).
 */
class TunerRotationTest {
  static final long ROTATION = 192L << 20;

  @Test
  void smallGemmsRotateOverManyCopies() {
    for (long setBytes : new long[] {123_000, 1_572_864, 3_050_000, 2_780_000, 20_000_000}) {
      int[] c = GemmTuner.Operands.copies(setBytes);
      assertTrue(c[0] >= 1 && c[0] <= 16, "distinct random sets " + c[0]);
      assertTrue(c[1] >= c[0], "sets in all " + c[1]);
      assertTrue(
          (long) c[1] * setBytes >= ROTATION || c[1] == 8192,
          setBytes + " bytes per set x " + c[1] + " sets < 192 MiB");
    }
    // 1.57 MB: 16 distinct sets, 128 in all (201 MB)
    assertArrayEquals(new int[] {16, 128}, GemmTuner.Operands.copies(1_572_864));
  }

  @Test
  void largeGemmsNeedNoExtraCopies() {
    assertArrayEquals(new int[] {1, 1}, GemmTuner.Operands.copies(300L << 20));
    assertArrayEquals(new int[] {2, 2}, GemmTuner.Operands.copies(100L << 20));
  }

  @Test
  void tinyGemmsStopAtTheCap() {
    assertArrayEquals(new int[] {16, 8192}, GemmTuner.Operands.copies(1024));
  }
}
