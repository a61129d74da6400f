package org.ft4j.gemm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/**
 * The stand-in entry for a linear GEMM whose M the config does not list (padding removal runs the
 * linear GEMMs on the token count rounded up to 64 rows; encoder_gemm tunes batch x seq).
 */
class NearestRowsTest {
  static GemmConfigEntry qkv(int m, int algoId) {
    return new GemmConfigEntry(
        1,
        m,
        "qkv",
        new GemmKey(m, 2304, 768, 1, true, GemmType.FP16, Epilogue.NONE),
        new GemmAlgorithm(algoId, 20, 0, 1, 0, 0, 0, 0, 0),
        0,
        10.0,
        11.0);
  }

  static final GemmConfigFile FILE =
      new GemmConfigFile(
          GemmConfigFileTest.H100,
          List.of(
              qkv(128, 1),
              qkv(1024, 2),
              qkv(4096, 3),
              new GemmConfigEntry(
                  32,
                  128,
                  "ffn1",
                  new GemmKey(2176, 3072, 768, 1, true, GemmType.FP16, Epilogue.NONE),
                  new GemmAlgorithm(9, 20, 0, 1, 0, 0, 0, 0, 0),
                  0,
                  10.0,
                  11.0)));

  static Optional<Integer> nearestM(int m, int n, GemmType type, int batch) {
    return FILE.findNearestRows(new GemmKey(m, n, 768, batch, true, type, Epilogue.NONE))
        .map(e -> e.key().m());
  }

  @Test
  void theSmallestTunedMAboveStandsIn() {
    assertEquals(Optional.of(1024), nearestM(129, 2304, GemmType.FP16, 1));
    assertEquals(Optional.of(4096), nearestM(2176, 2304, GemmType.FP16, 1));
    assertEquals(Optional.of(128), nearestM(64, 2304, GemmType.FP16, 1));
  }

  @Test
  void elseTheLargestBelow() {
    assertEquals(Optional.of(4096), nearestM(6080, 2304, GemmType.FP16, 1));
  }

  @Test
  void onlyTheSameNKTypeAndEpilogueAndNeverBatched() {
    assertEquals(Optional.empty(), nearestM(2176, 2304, GemmType.FP32, 1));
    assertEquals(Optional.empty(), nearestM(2176, 1000, GemmType.FP16, 1));
    assertEquals(Optional.empty(), nearestM(2176, 2304, GemmType.FP16, 24));
    assertTrue(
        FILE.findNearestRows(new GemmKey(100, 2304, 768, 1, true, GemmType.FP16, Epilogue.BIAS))
            .isEmpty());
    // an exact entry is find()'s business; nearest rows of an existing M is that entry
    assertEquals(Optional.of(1024), nearestM(1024, 2304, GemmType.FP16, 1));
  }
}
