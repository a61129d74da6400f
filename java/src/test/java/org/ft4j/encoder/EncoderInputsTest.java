package org.ft4j.encoder;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

class EncoderInputsTest {
  private static String failure(Runnable r) {
    return assertThrows(IllegalArgumentException.class, r::run).getMessage();
  }

  @Test
  void lengthsFromALeftAlignedMask() {
    int[] mask = {1, 1, 1, 0, 1, 0, 0, 0, 1, 1, 1, 1};
    assertArrayEquals(new int[] {3, 1, 4}, EncoderInputs.lengthsFromMask(mask, 3, 4));
  }

  @Test
  void badMasksAreRejectedByRowColumnAndValue() {
    assertEquals(
        "mask[0, 1] = 2: the mask must hold only 0 and 1",
        failure(() -> EncoderInputs.lengthsFromMask(new int[] {1, 2}, 1, 2)));
    assertEquals(
        "mask row 1 is not left-aligned: 1 at position 2 after padding at position 1",
        failure(() -> EncoderInputs.lengthsFromMask(new int[] {1, 1, 1, 1, 0, 1}, 2, 3)));
    assertEquals(
        "mask row 0 has no token",
        failure(() -> EncoderInputs.lengthsFromMask(new int[] {0, 0}, 1, 2)));
    assertEquals(
        "mask has 3 values, expected batch * seq = 4",
        failure(() -> EncoderInputs.lengthsFromMask(new int[3], 2, 2)));
    assertEquals(
        "lengths[1] = 5, must be in [1, seq = 4]",
        failure(() -> EncoderInputs.checkLengths(new int[] {4, 5}, 2, 4)));
    assertEquals(7, EncoderInputs.totalTokens(new int[] {3, 4}));
  }

  @Test
  void queryBlocksCoverEveryQueryOnce() {
    int[][] qb = EncoderInputs.queryBlocks(new int[] {0, 130, 131, 195}, 64);
    org.junit.jupiter.api.Assertions.assertArrayEquals(new int[] {0, 0, 0, 1, 2}, qb[0]);
    org.junit.jupiter.api.Assertions.assertArrayEquals(new int[] {0, 64, 128, 0, 0}, qb[1]);
  }
}
