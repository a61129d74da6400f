package org.ft4j.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** The cache simulation's bookkeeping on lengths whose answer is known. */
class ShapeCacheSimTest {
  @Test
  void oneShapeIsPlannedOnceCapturedOnceAndThenReplayed() {
    int[] lengths = {16, 16, 16};
    // batches of exactly 1 text: maxBatch 1
    ShapeCacheSim.Result r = ShapeCacheSim.simulate(lengths, 32, 1, 16, 4, 2, 1);
    assertEquals(1, r.distinctShapes());
    assertEquals(1.0 / 4000, r.newPlans(), 1e-12);
    assertEquals(1.0 / 4000, r.captures(), 1e-12);
    assertEquals(3998.0 / 4000, r.replays(), 1e-12);
  }

  @Test
  void paddingToSixteenAndALargerCacheCutNewShapes() {
    SplittableRandom rnd = new SplittableRandom(3);
    int[] lengths = rnd.ints(1000, 3, 120).toArray();
    ShapeCacheSim.Result before = ShapeCacheSim.simulate(lengths, 32, 64, 1, 64, 1, 5);
    ShapeCacheSim.Result after = ShapeCacheSim.simulate(lengths, 32, 64, 16, 256, 2, 5);
    assertTrue(after.distinctShapes() < before.distinctShapes());
    assertTrue(after.newPlans() < before.newPlans() / 2, before + " vs " + after);
    assertTrue(after.captures() < before.captures() / 2, before + " vs " + after);
    // graph on first use: every new shape is a capture
    assertEquals(before.newPlans(), before.captures(), 1e-12);
    // graph on second use: each forward is exactly one of the three
    assertEquals(1.0, after.newPlans() + after.captures() + after.replays(), 1e-12);
  }
}
