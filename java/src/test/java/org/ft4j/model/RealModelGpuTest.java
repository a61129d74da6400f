package org.ft4j.model;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.ft4j.encoder.Precision;
import org.ft4j.testing.GpuTesting;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The GPU backend on real MiniLM weights (FP16-rounded, vocabulary pruned to the sentences' rows:
 * see {@link RealModelFixture}) against the CPU reference's pooled embeddings: FP32 cosine >=
 * 0.99999 per sentence, FP16 mean >= 0.9999 and min >= 0.999. Needs a GPU and the fixture file
 * named by -Dft4j.realModelFixture (made by RealModelFixture.main); skipped otherwise.
 */
@Tag(GpuTesting.GPU)
class RealModelGpuTest {
  private static RealModelFixture fixture;

  @BeforeAll
  static void load() throws Exception {
    GpuTesting.assumeCudaDevice();
    String path = System.getProperty("ft4j.realModelFixture");
    Assumptions.assumeTrue(
        path != null && Files.isReadable(Path.of(path)), "no -Dft4j.realModelFixture file");
    fixture = RealModelFixture.read(Path.of(path));
  }

  @ParameterizedTest
  @EnumSource(
      value = Precision.class,
      names = {"FP32", "FP16"})
  void pooledEmbeddingsMatchTheCpuReference(Precision precision) {
    try (GpuEmbedder gpu = new GpuEmbedder(fixture.model, precision, 0)) {
      float[][] actual = RealModelFixture.pooled(gpu, fixture.ids, fixture.model.config().hidden());
      double min = 1;
      double sum = 0;
      for (int i = 0; i < actual.length; i++) {
        double dot = 0;
        for (int k = 0; k < actual[i].length; k++) {
          dot += (double) actual[i][k] * fixture.expected[i][k];
        }
        min = Math.min(min, dot);
        sum += dot;
      }
      double mean = sum / actual.length;
      String what =
          precision + ": " + actual.length + " sentences, mean cosine " + mean + ", min " + min;
      System.out.println("[real model] " + what);
      if (precision == Precision.FP32) {
        assertTrue(min >= 0.99999, what);
      } else {
        assertTrue(mean >= 0.9999 && min >= 0.999, what);
      }
    }
  }
}
