package org.ft4j.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** The accuracy comparison behind `ft4j calibrate --eval` on vectors with known geometry. */
class Int8CalibrationTest {
  private static float[] at(double degrees) {
    double r = Math.toRadians(degrees);
    return new float[] {(float) Math.cos(r), (float) Math.sin(r)};
  }

  @Test
  void aFlippedNearTieCountsInTop1ButNotInTheClearTexts() {
    // A's nearest neighbour in the reference is B (10 deg) by a hair over C (10.5 deg): a near
    // tie (cosine margin 0.0016 < CLEAR_MARGIN); B, C and D (-40 deg) have clear ones.
    float[][] reference = {at(0), at(10), at(10.5), at(-40)};
    // B and C swap sides of 10.5 deg: A's nearest flips to C; nobody else's changes
    float[][] test = {at(0), at(10.6), at(10.4), at(-40)};
    Int8Calibration.Comparison c = Int8Calibration.compare(reference, test);
    assertEquals(0.75, c.top1Agreement(), 1e-12);
    assertEquals(3, c.clearTexts());
    assertEquals(1.0, c.clearTop1Agreement(), 1e-12);
    assertEquals(4, c.texts());
    assertEquals(1, c.worst()); // B moved most (0.6 deg)
    assertEquals(Math.cos(Math.toRadians(0.6)), c.minCosine(), 1e-6);
    assertTrue(c.toString().contains("75.0 % over 4 texts (100.0 % over the 3 with a clear"));

    // the same vectors: everything agrees
    Int8Calibration.Comparison same = Int8Calibration.compare(reference, reference);
    assertEquals(1.0, same.top1Agreement(), 1e-12);
    assertEquals(1.0, same.meanCosine(), 1e-6);
  }

  @Test
  void needsTwoVectorsOfEachSet() {
    assertThrows(
        IllegalArgumentException.class,
        () -> Int8Calibration.compare(new float[][] {at(0)}, new float[][] {at(0)}));
    assertThrows(
        IllegalArgumentException.class,
        () ->
            Int8Calibration.compare(
                new float[][] {at(0), at(1)}, new float[][] {at(0), at(1), at(2)}));
  }
}
