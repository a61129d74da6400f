package org.ft4j.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.ft4j.encoder.Precision;
import org.ft4j.model.EmbeddingModel.Backend;
import org.ft4j.testing.CloseUnderLoad;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The embedded all-MiniLM-L6-v2 end to end on the CPU reference backend. */
class EmbeddingModelTest {
  private static EmbeddingModel model;

  @BeforeAll
  static void load() {
    model =
        EmbeddingModel.load(
            "minilm", EmbeddingModel.Options.defaults().withBackend(Backend.CPU).withBatchSize(2));
  }

  @AfterAll
  static void close() {
    if (model != null) {
      model.close();
    }
  }

  private static double dot(float[] a, float[] b) {
    double s = 0;
    for (int i = 0; i < a.length; i++) {
      s += (double) a[i] * b[i];
    }
    return s;
  }

  @Test
  void cpuBackendAgreesWithTheFloat64Reference() {
    List<String> texts =
        List.of("hello world", "東京は日本の首都です。", "A somewhat longer sentence " + "x ".repeat(40));
    float[][] fast = model.embed(texts);
    try (EmbeddingModel ref =
        EmbeddingModel.load(
            "minilm", EmbeddingModel.Options.defaults().withBackend(Backend.REFERENCE))) {
      assertEquals(Backend.REFERENCE, ref.backend());
      assertEquals(Precision.FP32, ref.precision());
      float[][] slow = ref.embed(texts);
      for (int i = 0; i < texts.size(); i++) {
        double cos = dot(fast[i], slow[i]);
        assertTrue(cos >= 0.99999, texts.get(i) + ": cosine " + cos);
      }
    }
    for (Backend b : new Backend[] {Backend.CPU, Backend.REFERENCE}) {
      String m =
          assertThrows(
                  IllegalArgumentException.class,
                  () ->
                      EmbeddingModel.Options.defaults()
                          .withBackend(b)
                          .withPrecision(Precision.FP16))
              .getMessage();
      assertTrue(m.contains("fp16 needs the gpu backend"), m);
    }
  }

  @Test
  void embedsUnitVectorsWithMeaningfulSimilarity() {
    assertEquals(Backend.CPU, model.backend());
    assertEquals(Precision.FP32, model.precision());
    assertEquals(Pooling.MEAN, model.pooling());
    assertEquals(384, model.dimension());
    float[][] v =
        model.embed(
            List.of(
                "The cat sits on the mat.",
                "A cat is sitting on a rug.",
                "Quarterly revenue rose by eight percent."));
    assertEquals(3, v.length);
    for (float[] e : v) {
      assertEquals(384, e.length);
      assertEquals(1.0, Math.sqrt(dot(e, e)), 1e-5);
    }
    double similar = dot(v[0], v[1]);
    double unrelated0 = dot(v[0], v[2]);
    double unrelated1 = dot(v[1], v[2]);
    assertTrue(similar > unrelated0 + 0.2, similar + " vs " + unrelated0);
    assertTrue(similar > unrelated1 + 0.2, similar + " vs " + unrelated1);
    // Batching does not change the result.
    float[][] alone = model.embed(List.of("A cat is sitting on a rug."));
    assertEquals(1.0, dot(alone[0], v[1]), 1e-6);
  }

  @Test
  void truncatesLongTextsAndRejectsEmptyOnes() {
    assertEquals(0, model.embed(List.of()).length);
    List<String> texts = new ArrayList<>(List.of("short"));
    texts.add("word ".repeat(2000));
    float[][] v = model.embed(texts);
    assertEquals(2, v.length);
    assertEquals(384, v[1].length);
    assertTrue(Arrays.stream(toDouble(v[1])).allMatch(Double::isFinite));
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> model.embed(List.of("ok", "")));
    assertTrue(e.getMessage().contains("text 1 is empty"), e.getMessage());
    List<String> withNull = new ArrayList<>();
    withNull.add(null);
    e = assertThrows(IllegalArgumentException.class, () -> model.embed(withNull));
    assertTrue(e.getMessage().contains("text 0 is null"), e.getMessage());
  }

  @Test
  void longListsGoThroughPipelinedWindowsWithTheSameResult() {
    List<String> texts = new ArrayList<>();
    for (int i = 0; i < 23; i++) {
      texts.add("text number " + i + " " + "and more words ".repeat(i % 5));
    }
    float[][] whole = model.embed(texts, 1000);
    float[][] windows = model.embed(texts, 5);
    assertEquals(texts.size(), windows.length);
    for (int i = 0; i < texts.size(); i++) {
      assertEquals(1.0, dot(whole[i], windows[i]), 1e-6, texts.get(i));
    }
    List<String> bad = new ArrayList<>(texts);
    bad.set(17, "");
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> model.embed(bad, 5));
    assertTrue(e.getMessage().contains("text 17 is empty"), e.getMessage());
  }

  @Test
  void warmUpRunsTheBackendAndChecksItsArguments() {
    assertTrue(model.warmUp(5, 9).toNanos() > 0);
    assertThrows(IllegalArgumentException.class, () -> model.warmUp());
    String m = assertThrows(IllegalArgumentException.class, () -> model.warmUp(0)).getMessage();
    assertTrue(m.contains("warm-up length 0"), m);
  }

  @Test
  void closeWhileOtherThreadsEmbedFailsThemCleanly() throws Exception {
    EmbeddingModel m =
        EmbeddingModel.load(
            "minilm", EmbeddingModel.Options.defaults().withBackend(Backend.CPU).withBatchSize(4));
    List<String> texts = List.of("one short text", "another", "a third, a little longer, text");
    List<Throwable> failures =
        CloseUnderLoad.run(3, () -> assertEquals(3, m.embed(texts).length), m::close);
    for (Throwable x : failures) {
      assertTrue(
          x instanceof IllegalStateException && x.getMessage().contains("closed"),
          "expected an IllegalStateException saying closed, got " + x);
    }
    IllegalStateException after =
        assertThrows(IllegalStateException.class, () -> m.embed(List.of("x")));
    assertTrue(after.getMessage().contains("embedding model minilm is closed"), after.getMessage());
    m.close(); // idempotent
  }

  private static double[] toDouble(float[] v) {
    double[] d = new double[v.length];
    for (int i = 0; i < v.length; i++) {
      d[i] = v[i];
    }
    return d;
  }
}
