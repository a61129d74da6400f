package org.ft4j.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import org.ft4j.encoder.Precision;
import org.ft4j.model.EmbeddingBatcher.Options;
import org.junit.jupiter.api.Test;

/**
 * {@link EmbeddingBatcher}: coalescing, ordering, back-pressure, failure isolation, cancellation
 * and close, on a recording backend whose first call can be held (so the queue fills
 * deterministically, with no timing assumptions); and once over the real MiniLM on the CPU backend.
 */
class EmbeddingBatcherTest {
  static final long WAIT_S = 30;

  /** vector(text) = [hashCode, length]; records every call; can hold its first call. */
  static final class Backend implements Function<List<String>, float[][]> {
    final List<List<String>> calls = Collections.synchronizedList(new ArrayList<>());
    final CountDownLatch entered = new CountDownLatch(1);
    final CountDownLatch release;
    volatile Function<List<String>, RuntimeException> failure = t -> null;

    Backend(boolean holdFirst) {
      release = new CountDownLatch(holdFirst ? 1 : 0);
    }

    static float[] vector(String text) {
      return new float[] {text.hashCode(), text.length()};
    }

    @Override
    public float[][] apply(List<String> texts) {
      calls.add(List.copyOf(texts));
      entered.countDown();
      try {
        if (!release.await(WAIT_S, TimeUnit.SECONDS)) {
          throw new IllegalStateException("test never released the backend");
        }
      } catch (InterruptedException e) {
        throw new IllegalStateException(e);
      }
      RuntimeException e = failure.apply(texts);
      if (e != null) {
        throw e;
      }
      float[][] out = new float[texts.size()][];
      for (int i = 0; i < out.length; i++) {
        out[i] = vector(texts.get(i));
      }
      return out;
    }

    /** Submits "first" and returns once the backend holds it (the worker is busy). */
    CompletableFuture<float[]> occupy(EmbeddingBatcher batcher) throws InterruptedException {
      CompletableFuture<float[]> f = batcher.submit("first");
      assertTrue(entered.await(WAIT_S, TimeUnit.SECONDS), "backend never called");
      return f;
    }
  }

  static Options options(int maxBatch, Duration delay, int capacity) {
    return new Options(maxBatch, delay, capacity);
  }

  @Test
  void coalescesConcurrentRequestsAndGivesEachCallerItsOwnVectors() throws Exception {
    Backend backend = new Backend(true);
    try (EmbeddingBatcher batcher =
        new EmbeddingBatcher(backend, options(64, Duration.ZERO, 10_000))) {
      CompletableFuture<float[]> first = backend.occupy(batcher);
      int threads = 8;
      int perThread = 25;
      List<List<CompletableFuture<float[]>>> futures = new ArrayList<>();
      List<Thread> workers = new ArrayList<>();
      for (int t = 0; t < threads; t++) {
        List<CompletableFuture<float[]>> mine = Collections.synchronizedList(new ArrayList<>());
        futures.add(mine);
        int id = t;
        Thread th =
            new Thread(
                () -> {
                  for (int i = 0; i < perThread; i++) {
                    mine.add(batcher.submit("thread " + id + " text " + i + " " + "x".repeat(i)));
                  }
                });
        workers.add(th);
        th.start();
      }
      for (Thread th : workers) {
        th.join();
      }
      assertEquals(threads * perThread, batcher.stats().pendingTexts());
      backend.release.countDown();
      assertArrayEquals(Backend.vector("first"), first.get(WAIT_S, TimeUnit.SECONDS));
      for (int t = 0; t < threads; t++) {
        for (int i = 0; i < perThread; i++) {
          String text = "thread " + t + " text " + i + " " + "x".repeat(i);
          assertArrayEquals(
              Backend.vector(text), futures.get(t).get(i).get(WAIT_S, TimeUnit.SECONDS), text);
        }
      }
      // 1 held call, then the 200 queued texts in calls of at most 64: 64, 64, 64, 8
      assertEquals(5, backend.calls.size(), "calls " + sizes(backend.calls));
      for (List<String> call : backend.calls) {
        assertTrue(call.size() <= 64, "call of " + call.size());
      }
      EmbeddingBatcher.Stats s = batcher.stats();
      assertEquals(201, s.requests());
      assertEquals(201, s.batchedTexts());
      assertEquals(5, s.batches());
      assertEquals(0, s.pendingTexts());
      assertEquals(201.0 / 5, s.meanBatchTexts(), 1e-12);
    }
  }

  @Test
  void aRequestsTextsStayTogetherAndInOrder() throws Exception {
    Backend backend = new Backend(true);
    try (EmbeddingBatcher batcher = new EmbeddingBatcher(backend, options(4, Duration.ZERO, 100))) {
      backend.occupy(batcher);
      CompletableFuture<float[][]> a = batcher.submitAll(List.of("a1", "a2", "a3"));
      CompletableFuture<float[][]> b = batcher.submitAll(List.of("b1", "b2")); // 3 + 2 > 4
      CompletableFuture<float[][]> big = batcher.submitAll(List.of("c1", "c2", "c3", "c4", "c5"));
      CompletableFuture<float[][]> none = batcher.submitAll(List.of());
      assertEquals(0, none.get().length);
      backend.release.countDown();
      float[][] va = a.get(WAIT_S, TimeUnit.SECONDS);
      assertEquals(3, va.length);
      for (int i = 0; i < 3; i++) {
        assertArrayEquals(Backend.vector("a" + (i + 1)), va[i]);
      }
      assertArrayEquals(Backend.vector("b2"), b.get(WAIT_S, TimeUnit.SECONDS)[1]);
      assertArrayEquals(Backend.vector("c5"), big.get(WAIT_S, TimeUnit.SECONDS)[4]);
      assertEquals(
          List.of(
              List.of("first"),
              List.of("a1", "a2", "a3"),
              List.of("b1", "b2"),
              List.of("c1", "c2", "c3", "c4", "c5")),
          backend.calls);
    }
  }

  @Test
  void anIdleWorkerWaitsForMoreUntilTheBatchIsFull() throws Exception {
    Backend backend = new Backend(false);
    // a 10 s delay: the batch must go out because it is full, not because the delay ran out
    try (EmbeddingBatcher batcher =
        new EmbeddingBatcher(backend, options(3, Duration.ofSeconds(10), 100))) {
      CompletableFuture<float[]> a = batcher.submit("one");
      CompletableFuture<float[]> b = batcher.submit("two");
      CompletableFuture<float[]> c = batcher.submit("three");
      c.get(5, TimeUnit.SECONDS);
      assertTrue(a.isDone() && b.isDone());
      assertEquals(List.of(List.of("one", "two", "three")), backend.calls);
    }
  }

  @Test
  void closeRunsWhatWaitsForTheDelayAtOnce() throws Exception {
    Backend backend = new Backend(false);
    EmbeddingBatcher batcher =
        new EmbeddingBatcher(backend, options(100, Duration.ofSeconds(10), 100));
    CompletableFuture<float[]> a = batcher.submit("alone");
    long start = System.nanoTime();
    batcher.close();
    assertTrue(a.isDone(), "close returned before the queued request ran");
    assertArrayEquals(Backend.vector("alone"), a.get());
    assertTrue(System.nanoTime() - start < TimeUnit.SECONDS.toNanos(9), "close waited the delay");
    assertTrue(batcher.stopped());
    IllegalStateException e = assertThrows(IllegalStateException.class, () -> batcher.submit("x"));
    assertTrue(e.getMessage().contains("closed"), e.getMessage());
    batcher.close(); // idempotent
  }

  @Test
  void aFullQueueRejectsAtOnceAndNamesTheCapacity() throws Exception {
    Backend backend = new Backend(true);
    try (EmbeddingBatcher batcher = new EmbeddingBatcher(backend, options(64, Duration.ZERO, 5))) {
      backend.occupy(batcher);
      List<CompletableFuture<float[]>> ok = new ArrayList<>();
      for (int i = 0; i < 5; i++) {
        ok.add(batcher.submit("t" + i));
      }
      RejectedExecutionException full =
          assertThrows(RejectedExecutionException.class, () -> batcher.submit("one too many"));
      assertTrue(full.getMessage().contains("queue full"), full.getMessage());
      assertTrue(full.getMessage().contains("capacity 5"), full.getMessage());
      RejectedExecutionException large =
          assertThrows(
              RejectedExecutionException.class,
              () -> batcher.submitAll(List.of("1", "2", "3", "4", "5", "6")));
      assertTrue(large.getMessage().contains("larger than the queue capacity"), large.getMessage());
      assertEquals(2, batcher.stats().rejected());
      backend.release.countDown();
      for (int i = 0; i < 5; i++) {
        assertArrayEquals(Backend.vector("t" + i), ok.get(i).get(WAIT_S, TimeUnit.SECONDS));
      }
      // room again once the queue drained
      assertArrayEquals(Backend.vector("later"), batcher.embed("later"));
    }
  }

  @Test
  void aRejectedBatchIsRetriedRequestByRequestSoOnlyTheBadOneFails() throws Exception {
    Backend backend = new Backend(true);
    backend.failure =
        texts ->
            texts.contains("BAD")
                ? new IllegalArgumentException("text BAD is not acceptable")
                : null;
    try (EmbeddingBatcher batcher =
        new EmbeddingBatcher(backend, options(64, Duration.ZERO, 100))) {
      backend.occupy(batcher);
      CompletableFuture<float[]> a = batcher.submit("a");
      CompletableFuture<float[]> bad = batcher.submit("BAD");
      CompletableFuture<float[][]> b = batcher.submitAll(List.of("b", "c"));
      backend.release.countDown();
      assertArrayEquals(Backend.vector("a"), a.get(WAIT_S, TimeUnit.SECONDS));
      assertArrayEquals(Backend.vector("c"), b.get(WAIT_S, TimeUnit.SECONDS)[1]);
      ExecutionException e =
          assertThrows(ExecutionException.class, () -> bad.get(WAIT_S, TimeUnit.SECONDS));
      assertInstanceOf(IllegalArgumentException.class, e.getCause());
      assertTrue(e.getCause().getMessage().contains("BAD"));
      IllegalArgumentException direct =
          assertThrows(IllegalArgumentException.class, () -> batcher.embed("BAD"));
      assertTrue(direct.getMessage().contains("BAD"));
      EmbeddingBatcher.Stats s = batcher.stats();
      assertEquals(2, s.failed());
      // first; [a, BAD, b c] rejected; a; BAD; b c; the direct BAD
      assertEquals(6, s.batches(), "calls " + sizes(backend.calls));
    }
  }

  @Test
  void aBackendFailureFailsItsBatchAndTheWorkerGoesOn() throws Exception {
    Backend backend = new Backend(false);
    backend.failure = texts -> new IllegalStateException("CUDA error: device lost (simulated)");
    try (EmbeddingBatcher batcher =
        new EmbeddingBatcher(backend, options(64, Duration.ZERO, 100))) {
      ExecutionException e =
          assertThrows(
              ExecutionException.class,
              () -> batcher.submit("doomed").get(WAIT_S, TimeUnit.SECONDS));
      assertInstanceOf(IllegalStateException.class, e.getCause());
      backend.failure = texts -> null;
      assertArrayEquals(Backend.vector("fine"), batcher.embed("fine"));
      assertEquals(1, batcher.stats().failed());
    }
  }

  @Test
  void aBackendThatReturnsTheWrongCountFailsTheBatch() throws Exception {
    try (EmbeddingBatcher batcher =
        new EmbeddingBatcher(texts -> new float[1][], options(64, Duration.ZERO, 100))) {
      CompletableFuture<float[][]> f = batcher.submitAll(List.of("a", "b"));
      ExecutionException e =
          assertThrows(ExecutionException.class, () -> f.get(WAIT_S, TimeUnit.SECONDS));
      assertTrue(e.getCause().getMessage().contains("1 vectors for 2 texts"), e.getMessage());
    }
  }

  @Test
  void requestsCancelledBeforeTheirBatchAreDropped() throws Exception {
    Backend backend = new Backend(true);
    try (EmbeddingBatcher batcher =
        new EmbeddingBatcher(backend, options(64, Duration.ZERO, 100))) {
      backend.occupy(batcher);
      CompletableFuture<float[]> gone = batcher.submit("cancelled");
      CompletableFuture<float[][]> timedOut = batcher.submitAll(List.of("timed out"));
      CompletableFuture<float[]> kept = batcher.submit("kept");
      assertTrue(gone.cancel(false));
      timedOut.completeExceptionally(new java.util.concurrent.TimeoutException("caller gave up"));
      backend.release.countDown();
      assertArrayEquals(Backend.vector("kept"), kept.get(WAIT_S, TimeUnit.SECONDS));
      assertEquals(List.of(List.of("first"), List.of("kept")), backend.calls);
      assertEquals(2, batcher.stats().cancelled());
    }
  }

  @Test
  void aCancelledRequestGivesItsQueueRoomBackAtOnce() throws Exception {
    Backend backend = new Backend(true);
    try (EmbeddingBatcher batcher = new EmbeddingBatcher(backend, options(64, Duration.ZERO, 3))) {
      backend.occupy(batcher);
      CompletableFuture<float[]> a = batcher.submit("a");
      CompletableFuture<float[][]> bc = batcher.submitAll(List.of("b", "c"));
      assertThrows(RejectedExecutionException.class, () -> batcher.submit("d"));
      assertTrue(bc.cancel(false));
      assertEquals(1, batcher.stats().pendingTexts());
      assertEquals(1, batcher.stats().cancelled());
      CompletableFuture<float[]> d = batcher.submit("d"); // room again
      backend.release.countDown();
      assertArrayEquals(Backend.vector("a"), a.get(WAIT_S, TimeUnit.SECONDS));
      assertArrayEquals(Backend.vector("d"), d.get(WAIT_S, TimeUnit.SECONDS));
      assertEquals(List.of(List.of("first"), List.of("a", "d")), backend.calls);
      assertEquals(1, batcher.stats().cancelled());
    }
  }

  @Test
  void closeFinishesTheQueueAndRefusesNewWork() throws Exception {
    Backend backend = new Backend(true);
    EmbeddingBatcher batcher = new EmbeddingBatcher(backend, options(2, Duration.ZERO, 100));
    backend.occupy(batcher);
    List<CompletableFuture<float[]>> queued = new ArrayList<>();
    for (int i = 0; i < 5; i++) {
      queued.add(batcher.submit("q" + i));
    }
    Thread closer = new Thread(batcher::close);
    closer.start();
    long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(WAIT_S);
    while (closer.getState() != Thread.State.WAITING && System.nanoTime() < until) {
      Thread.sleep(1); // close() has marked the batcher closed and is joining the worker
    }
    assertEquals(Thread.State.WAITING, closer.getState());
    assertThrows(IllegalStateException.class, () -> batcher.submit("too late"));
    assertFalse(queued.get(0).isDone());
    backend.release.countDown();
    closer.join(TimeUnit.SECONDS.toMillis(WAIT_S));
    assertFalse(closer.isAlive());
    for (int i = 0; i < 5; i++) {
      assertTrue(queued.get(i).isDone());
      assertArrayEquals(Backend.vector("q" + i), queued.get(i).get());
    }
    assertTrue(batcher.stopped());
  }

  @Test
  void severalBackendsShareOneQueueAndEachTakesWhatTheOtherLeaves() throws Exception {
    Backend one = new Backend(true);
    Backend two = new Backend(true);
    try (EmbeddingBatcher batcher =
        EmbeddingBatcher.ofBackends(List.of(one, two), options(4, Duration.ZERO, 100))) {
      CompletableFuture<float[]> a = batcher.submit("a");
      long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(WAIT_S);
      while (one.entered.getCount() + two.entered.getCount() == 2 && System.nanoTime() < until) {
        Thread.sleep(1);
      }
      CompletableFuture<float[]> b = batcher.submit("b"); // the other worker is free: it takes b
      assertTrue(one.entered.await(WAIT_S, TimeUnit.SECONDS), "backend 1 never called");
      assertTrue(two.entered.await(WAIT_S, TimeUnit.SECONDS), "backend 2 never called");
      List<CompletableFuture<float[]>> rest = new ArrayList<>();
      for (int i = 0; i < 10; i++) {
        rest.add(batcher.submit("r" + i));
      }
      one.release.countDown();
      two.release.countDown();
      assertArrayEquals(Backend.vector("a"), a.get(WAIT_S, TimeUnit.SECONDS));
      assertArrayEquals(Backend.vector("b"), b.get(WAIT_S, TimeUnit.SECONDS));
      for (int i = 0; i < 10; i++) {
        assertArrayEquals(Backend.vector("r" + i), rest.get(i).get(WAIT_S, TimeUnit.SECONDS));
      }
      List<String> seen = new ArrayList<>();
      for (Backend x : List.of(one, two)) {
        synchronized (x.calls) {
          for (List<String> call : x.calls) {
            assertTrue(call.size() <= 4, "call of " + call.size());
            seen.addAll(call);
          }
        }
      }
      assertEquals(12, seen.size(), "each text once: " + seen);
      assertEquals(12, new java.util.HashSet<>(seen).size(), "each text once: " + seen);
    }
    assertThrows(
        IllegalArgumentException.class,
        () -> EmbeddingBatcher.ofBackends(List.of(), Options.defaults()));
    List<Function<List<String>, float[][]>> withNull = new ArrayList<>();
    withNull.add(new Backend(false));
    withNull.add(null);
    String m =
        assertThrows(
                IllegalArgumentException.class,
                () -> EmbeddingBatcher.ofBackends(withNull, Options.defaults()))
            .getMessage();
    assertTrue(m.contains("backend 1 is null"), m);
  }

  @Test
  void modelsThatDifferCannotShareABatcher() {
    EmbeddingModel.Options cpu =
        EmbeddingModel.Options.defaults().withBackend(EmbeddingModel.Backend.CPU);
    try (EmbeddingModel mean = EmbeddingModel.load("minilm", cpu);
        EmbeddingModel cls = EmbeddingModel.load("minilm", cpu.withPooling(Pooling.CLS))) {
      String m =
          assertThrows(
                  IllegalArgumentException.class,
                  () -> EmbeddingBatcher.ofModels(List.of(mean, cls), Options.defaults()))
              .getMessage();
      assertTrue(m.contains("model 1 differs from model 0"), m);
      try (EmbeddingBatcher both =
          EmbeddingBatcher.ofModels(List.of(mean, mean), Options.defaults())) {
        assertEquals(mean.dimension(), both.embed("same model twice").length);
      }
    }
    assertThrows(
        IllegalArgumentException.class,
        () -> EmbeddingBatcher.ofModels(List.<EmbeddingModel>of(), Options.defaults()));
  }

  @Test
  void closeFromCompletionStagesOnSeveralWorkersDoesNotDeadlock() throws Exception {
    Backend one = new Backend(true);
    Backend two = new Backend(true);
    EmbeddingBatcher batcher =
        EmbeddingBatcher.ofBackends(List.of(one, two), options(1, Duration.ZERO, 100));
    List<CompletableFuture<float[]>> all = new ArrayList<>();
    for (int i = 0; i < 6; i++) { // all queued before the held backends let the first two finish
      all.add(batcher.submit("t" + i).whenComplete((v, e) -> batcher.close()));
    }
    one.release.countDown();
    two.release.countDown();
    Thread closer = new Thread(batcher::close);
    closer.start();
    closer.join(TimeUnit.SECONDS.toMillis(WAIT_S));
    assertFalse(closer.isAlive(), "close() hangs");
    for (CompletableFuture<float[]> f : all) {
      assertTrue(f.isDone());
    }
    assertTrue(batcher.stopped());
  }

  @Test
  void aBackendThatThrowsACheckedExceptionDoesNotKillTheWorker() throws Exception {
    Backend backend = new Backend(false);
    backend.failure =
        texts -> texts.contains("sneaky") ? sneaky(new java.io.IOException("down")) : null;
    try (EmbeddingBatcher batcher =
        new EmbeddingBatcher(backend, options(64, Duration.ZERO, 100))) {
      ExecutionException e =
          assertThrows(
              ExecutionException.class,
              () -> batcher.submit("sneaky").get(WAIT_S, TimeUnit.SECONDS));
      assertInstanceOf(java.io.IOException.class, e.getCause());
      assertArrayEquals(Backend.vector("after"), batcher.embed("after"));
      assertEquals(1, batcher.stats().failed());
    }
  }

  @Test
  void blockingEmbedOnTheWorkerThreadIsRefusedInsteadOfDeadlocking() throws Exception {
    Backend backend = new Backend(true);
    try (EmbeddingBatcher batcher =
        new EmbeddingBatcher(backend, options(64, Duration.ZERO, 100))) {
      CompletableFuture<float[]> first =
          backend.occupy(batcher); // not done: stages run on the worker
      CompletableFuture<float[]> nested = first.thenApply(v -> batcher.embed("nested"));
      backend.release.countDown();
      ExecutionException e =
          assertThrows(ExecutionException.class, () -> nested.get(WAIT_S, TimeUnit.SECONDS));
      assertInstanceOf(IllegalStateException.class, e.getCause());
      assertTrue(e.getCause().getMessage().contains("own worker thread"), e.getMessage());
      assertArrayEquals(Backend.vector("fine"), batcher.embed("fine"));
    }
  }

  @SuppressWarnings("unchecked")
  static <E extends Throwable> RuntimeException sneaky(Throwable t) throws E {
    throw (E) t;
  }

  @Test
  void badInputIsRefusedInTheCallersThread() {
    Backend backend = new Backend(false);
    try (EmbeddingBatcher batcher =
        new EmbeddingBatcher(backend, options(64, Duration.ZERO, 100))) {
      IllegalArgumentException empty =
          assertThrows(IllegalArgumentException.class, () -> batcher.submitAll(List.of("a", "")));
      assertTrue(empty.getMessage().contains("text 1 is empty"), empty.getMessage());
      List<String> withNull = new ArrayList<>(List.of("a"));
      withNull.add(null);
      IllegalArgumentException nul =
          assertThrows(IllegalArgumentException.class, () -> batcher.submitAll(withNull));
      assertTrue(nul.getMessage().contains("text 1 is null"), nul.getMessage());
      assertThrows(IllegalArgumentException.class, () -> batcher.submit(null));
      assertThrows(IllegalArgumentException.class, () -> batcher.submitAll(null));
      assertEquals(0, batcher.stats().requests());
    }
    assertTrue(backend.calls.isEmpty());
    String m =
        assertThrows(IllegalArgumentException.class, () -> options(0, Duration.ZERO, 1))
            .getMessage();
    assertTrue(m.contains("maxBatchTexts = 0"), m);
    m =
        assertThrows(IllegalArgumentException.class, () -> options(1, Duration.ofMillis(-1), 1))
            .getMessage();
    assertTrue(m.contains("maxDelay"), m);
    m =
        assertThrows(IllegalArgumentException.class, () -> options(1, Duration.ZERO, 0))
            .getMessage();
    assertTrue(m.contains("queueCapacity = 0"), m);
    assertThrows(
        IllegalArgumentException.class, () -> new EmbeddingBatcher(null, Options.defaults()));
    assertThrows(
        IllegalArgumentException.class, () -> EmbeddingBatcher.of(null, Options.defaults()));
  }

  @Test
  void overTheRealModelItGivesWhatEmbedGives() throws Exception {
    List<String> texts =
        List.of(
            "The cat sat on the mat.",
            "A short one",
            "Quarterly revenue rose 12 percent on strong cloud demand, the company said on Tuesday.",
            "¿Dónde está la estación de tren?",
            "東京は日本の首都です。",
            "How do I reset my password?",
            "ERROR 2026-11-27 connection refused: upstream timed out after 30 s",
            "Bake at 180 °C for 25 minutes 🍰");
    EmbeddingModel.Options o =
        EmbeddingModel.Options.defaults()
            .withBackend(EmbeddingModel.Backend.CPU)
            .withPrecision(Precision.FP32)
            .withBatchSize(3);
    try (EmbeddingModel model = EmbeddingModel.load("minilm", o);
        EmbeddingBatcher batcher =
            EmbeddingBatcher.of(model, Options.defaults().withMaxDelay(Duration.ofMillis(20)))) {
      float[][] direct = model.embed(texts);
      @SuppressWarnings("unchecked")
      CompletableFuture<float[]>[] futures = new CompletableFuture[texts.size()];
      List<Thread> threads = new ArrayList<>();
      for (int t = 0; t < 4; t++) {
        int id = t;
        Thread th =
            new Thread(
                () -> {
                  for (int i = id; i < texts.size(); i += 4) {
                    futures[i] = batcher.submit(texts.get(i));
                  }
                });
        threads.add(th);
        th.start();
      }
      for (Thread th : threads) {
        th.join();
      }
      for (int i = 0; i < texts.size(); i++) {
        float[] v = futures[i].get(120, TimeUnit.SECONDS);
        assertEquals(model.dimension(), v.length);
        for (int d = 0; d < v.length; d++) {
          assertEquals(direct[i][d], v[d], 1e-6, texts.get(i) + " [" + d + "]");
        }
      }
    }
  }

  static List<Integer> sizes(List<List<String>> calls) {
    List<Integer> s = new ArrayList<>();
    synchronized (calls) {
      for (List<String> c : calls) {
        s.add(c.size());
      }
    }
    return s;
  }
}
