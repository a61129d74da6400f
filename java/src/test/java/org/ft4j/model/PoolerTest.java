package org.ft4j.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

class PoolerTest {
  // 3 rows of hidden 2
  private final float[] states = {3, 4, 1, 0, -1, 2};

  @Test
  void clsTakesRowZero() {
    assertArrayEquals(new float[] {3, 4}, Pooler.pool(states, 3, 2, Pooling.CLS, false));
    assertArrayEquals(new float[] {0.6f, 0.8f}, Pooler.pool(states, 3, 2, Pooling.CLS, true));
  }

  @Test
  void meanAveragesTheValidRows() {
    assertArrayEquals(new float[] {1, 2}, Pooler.pool(states, 3, 2, Pooling.MEAN, false));
    // only the first two rows: (2, 2)
    assertArrayEquals(new float[] {2, 2}, Pooler.pool(states, 2, 2, Pooling.MEAN, false));
    float r = (float) (1 / Math.sqrt(5));
    assertArrayEquals(new float[] {r, 2 * r}, Pooler.pool(states, 3, 2, Pooling.MEAN, true), 1e-7f);
  }

  @Test
  void noneReturnsEveryRowNormalisedWhenAsked() {
    assertArrayEquals(states, Pooler.pool(states, 3, 2, Pooling.NONE, false));
    float r = (float) (1 / Math.sqrt(5));
    assertArrayEquals(
        new float[] {0.6f, 0.8f, 1, 0, -r, 2 * r},
        Pooler.pool(states, 3, 2, Pooling.NONE, true),
        1e-7f);
    // a zero vector stays zero
    assertArrayEquals(
        new float[] {0, 0}, Pooler.pool(new float[] {0, 0}, 1, 2, Pooling.MEAN, true));
  }

  @Test
  void rejectsBadArguments() {
    assertThrows(
        IllegalArgumentException.class, () -> Pooler.pool(states, 4, 2, Pooling.MEAN, false));
    assertThrows(
        IllegalArgumentException.class, () -> Pooler.pool(states, 0, 2, Pooling.CLS, false));
    assertThrows(IllegalArgumentException.class, () -> Pooler.pool(null, 1, 2, Pooling.CLS, false));
    assertThrows(IllegalArgumentException.class, () -> Pooler.pool(states, 1, 2, null, false));
  }
}
