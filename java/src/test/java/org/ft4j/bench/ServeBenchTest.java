package org.ft4j.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.ft4j.model.Model;
import org.ft4j.model.Pooler;
import org.ft4j.model.Pooling;
import org.ft4j.model.ReferenceEmbedder;
import org.junit.jupiter.api.Test;

/**
 * ServeBench runs on the CPU backend (a tiny random model; the GPU numbers come from
 * scripts/gpu-session.sh SERVE=1), and its backend gives each text its own vector whatever the
 * batch order. Not a timing test: it asserts only that work was done.
 */
class ServeBenchTest {
  @Test
  void runsEveryModeAndClientCountOnTheCpu() {
    List<ServeBench.Row> rows =
        ServeBench.run("cpu", "tiny", "1,3", 0.2, 24, "direct,batched:0,two:0");
    assertEquals(6, rows.size());
    for (ServeBench.Row r : rows) {
      assertTrue(r.texts() > 0, r.toString());
      assertTrue(r.p99Ms() >= r.p50Ms(), r.toString());
    }
    assertEquals(1.0, rows.get(0).meanBatch());
  }

  @Test
  void theBackendKeepsTheCallersOrder() {
    Model model = Model.random(ServeBench.shape("tiny"), 3);
    int[][] pool = {{1, 2, 3}, {4, 5, 6, 7, 8, 9, 10, 11}, {12, 13}};
    try (ReferenceEmbedder e = new ReferenceEmbedder(model)) {
      float[][] v = ServeBench.embed(e, pool, List.of("2", "0", "1"));
      for (int i = 0; i < 3; i++) {
        int[] ids = pool[List.of(2, 0, 1).get(i)];
        float[] alone = e.lastHiddenStates(new int[][] {ids}, null)[0];
        float[] want = Pooler.pool(alone, ids.length, 32, Pooling.MEAN, true);
        for (int d = 0; d < want.length; d++) {
          assertEquals(want[d], v[i][d], 1e-6);
        }
      }
    }
    assertThrows(
        IllegalArgumentException.class,
        () -> ServeBench.run("tpu", "tiny", "1", 0.1, 16, "direct"));
    assertThrows(
        IllegalArgumentException.class, () -> ServeBench.run("cpu", "tiny", "1", 0.1, 4, "direct"));
  }
}
