package org.ft4j.model;

import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Dynamic batching for services: many request threads each submit a few texts; a worker thread (one
 * per backend: several models, e.g. one per GPU, can share one queue) gathers what is queued into
 * one backend call of up to {@link Options#maxBatchTexts()} texts, so the GPU sees large batches
 * (and {@link EmbeddingModel#embed} can sort them by length) while each caller sees its own
 * vectors.
 *
 * <pre>{@code
 * try (EmbeddingModel model = EmbeddingModel.load("minilm");
 *     EmbeddingBatcher batcher = EmbeddingBatcher.of(model, EmbeddingBatcher.Options.defaults())) {
 *   CompletableFuture<float[]> v = batcher.submit("a text");      // from any thread
 *   float[] w = batcher.embed("another text");                     // blocking form
 * }
 * }</pre>
 *
 * <p><b>Batching rule:</b> when the worker is idle it waits for the first request, then for more
 * until {@link Options#maxBatchTexts()} texts are queued or {@link Options#maxDelay()} has passed
 * since that first request arrived; requests that queued while a batch ran go out at once. A
 * request's texts are never split between batches (a request larger than the batch limit is a batch
 * of its own). Requests cancelled (or timed out with {@code orTimeout}) before their batch starts
 * are dropped.
 *
 * <p><b>Load:</b> at most {@link Options#queueCapacity()} texts wait; {@link #submit} beyond that
 * throws {@link RejectedExecutionException} at once (the caller can answer "busy" instead of piling
 * up latency). Null or empty texts throw {@link IllegalArgumentException} in the caller's thread.
 *
 * <p><b>Failures:</b> if the backend rejects a batch with an {@link IllegalArgumentException}, each
 * of its requests is run alone, so only the request at fault fails; any other exception fails every
 * request of that batch, and the worker goes on with the next one.
 *
 * <p><b>Threads:</b> futures are completed on the worker thread, so dependent stages attached with
 * the non-async methods ({@code thenApply}, ...) run there and delay the next batch: attach heavy
 * work with the {@code ...Async} variants. {@link #close} stops new submissions, runs everything
 * already queued, and waits for the worker; it does not close the backend (close the model after
 * the batcher: in try-with-resources, declare the model first).
 */
public final class EmbeddingBatcher implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(EmbeddingBatcher.class);

  /**
   * @param maxBatchTexts texts per backend call, at most (unless one request alone has more); >= 1
   * @param maxDelay how long an idle worker waits for more requests after the first one; >= 0 (0:
   *     run whatever is queued at once)
   * @param queueCapacity texts that may wait; {@link #submit} beyond that is rejected; >= 1
   */
  public record Options(int maxBatchTexts, Duration maxDelay, int queueCapacity) {
    public Options {
      if (maxBatchTexts < 1) {
        throw new IllegalArgumentException("maxBatchTexts = " + maxBatchTexts + ", must be >= 1");
      }
      if (maxDelay == null || maxDelay.isNegative()) {
        throw new IllegalArgumentException("maxDelay = " + maxDelay + ", must be >= 0");
      }
      if (maxDelay.compareTo(Duration.ofSeconds(10)) > 0) {
        throw new IllegalArgumentException("maxDelay = " + maxDelay + ", must be <= 10 s");
      }
      if (queueCapacity < 1) {
        throw new IllegalArgumentException("queueCapacity = " + queueCapacity + ", must be >= 1");
      }
    }

    /**
     * 128 texts per batch, no delay, 8192 waiting texts. No delay: batches form from what queues
     * while the previous batch runs, which under load is plenty; a delay only adds latency for
     * closed-loop clients (ServeBench, 8 clients each waiting for its vector: 1 ms delay gave fewer
     * texts/s than none, as the worker sat out the delay for texts that could not come) and helps
     * only where requests arrive spread out and one backend call costs much more than the delay.
     */
    public static Options defaults() {
      return new Options(128, Duration.ZERO, 8192);
    }

    public Options withMaxBatchTexts(int value) {
      return new Options(value, maxDelay, queueCapacity);
    }

    public Options withMaxDelay(Duration value) {
      return new Options(maxBatchTexts, value, queueCapacity);
    }

    public Options withQueueCapacity(int value) {
      return new Options(maxBatchTexts, maxDelay, value);
    }
  }

  /**
   * Counters since creation.
   *
   * @param requests requests accepted
   * @param texts texts accepted
   * @param batches backend calls made (retries of a rejected batch's requests count too)
   * @param batchedTexts texts handed to those calls
   * @param rejected submissions refused because the queue was full
   * @param failed requests completed with an exception
   * @param cancelled requests dropped because their future was done before their batch started
   * @param pendingTexts texts waiting now
   */
  public record Stats(
      long requests,
      long texts,
      long batches,
      long batchedTexts,
      long rejected,
      long failed,
      long cancelled,
      int pendingTexts) {
    /** Mean texts per backend call (0 before the first). */
    public double meanBatchTexts() {
      return batches == 0 ? 0 : (double) batchedTexts / batches;
    }
  }

  /**
   * One submission: its texts as {@code prepare} made them (size texts), and exactly one of {@code
   * one} (from {@link #submit}) and {@code many}.
   */
  private record Request(
      Object prepared,
      int size,
      CompletableFuture<float[]> one,
      CompletableFuture<float[][]> many,
      long arrival) {
    @Override
    public boolean equals(Object o) { // identity: the queue removes exactly this submission
      return this == o;
    }

    @Override
    public int hashCode() {
      return System.identityHashCode(this);
    }

    boolean done() {
      return one != null ? one.isDone() : many.isDone();
    }

    void complete(float[][] vectors) {
      if (one != null) {
        one.complete(vectors[0]);
      } else {
        many.complete(vectors);
      }
    }

    /** True if this completed the future (false: it was already done, e.g. cancelled). */
    boolean fail(Throwable e) {
      return one != null ? one.completeExceptionally(e) : many.completeExceptionally(e);
    }
  }

  private final Function<List<String>, ?> prepare; // caller's thread
  private final List<Function<List<Object>, float[][]>> backends; // one worker each
  private final Options options;
  private final ReentrantLock lock = new ReentrantLock();
  private final Condition queued = lock.newCondition();
  private final ArrayDeque<Request> queue = new ArrayDeque<>();
  private final List<Thread> workers = new ArrayList<>();
  private int pendingTexts;
  private boolean closing;
  private long requests;
  private long texts;
  private long batches;
  private long batchedTexts;
  private long rejected;
  private long failed;
  private long cancelled;

  /**
   * A batcher over any backend that maps a list of texts to one vector per text, in order (for
   * example {@code model::embed}). The backend is called from one thread only.
   */
  public EmbeddingBatcher(Function<List<String>, float[][]> backend, Options options) {
    this(texts -> texts, wrap(Collections.singletonList(backend)), options);
  }

  /**
   * A batcher over several interchangeable backends (for example one model per GPU), each with its
   * own worker thread; a batch goes to whichever worker is free. Each backend is called from its
   * own thread only.
   */
  public static EmbeddingBatcher ofBackends(
      List<Function<List<String>, float[][]>> backends, Options options) {
    return new EmbeddingBatcher(texts -> texts, wrap(backends), options);
  }

  private static List<Function<List<Object>, float[][]>> wrap(
      List<Function<List<String>, float[][]>> backends) {
    if (backends == null || backends.isEmpty()) {
      throw new IllegalArgumentException("no backend given");
    }
    List<Function<List<Object>, float[][]>> out = new ArrayList<>();
    for (int i = 0; i < backends.size(); i++) {
      Function<List<String>, float[][]> b = backends.get(i);
      if (b == null) {
        throw new IllegalArgumentException("backend " + i + " is null");
      }
      out.add(parts -> b.apply(concatTexts(parts)));
    }
    return out;
  }

  /**
   * {@code prepare} runs in the submitting thread (for a model: tokenization, so that it runs on as
   * many threads as submit), each backend in its worker over the prepared requests of a batch.
   */
  private EmbeddingBatcher(
      Function<List<String>, ?> prepare,
      List<Function<List<Object>, float[][]>> backends,
      Options options) {
    if (options == null) {
      throw new IllegalArgumentException("options is null");
    }
    this.prepare = prepare;
    this.backends = List.copyOf(backends);
    this.options = options;
    for (int i = 0; i < this.backends.size(); i++) {
      int index = i;
      Thread t =
          new Thread(
              () -> work(this.backends.get(index)),
              "ft4j-embedding-batcher" + (this.backends.size() > 1 ? "-" + i : ""));
      t.setDaemon(true);
      workers.add(t);
    }
    workers.forEach(Thread::start);
  }

  /**
   * A batcher over {@code model} (not closed by {@link #close}). Texts are tokenized in the thread
   * that submits them (so tokenization, ~40-200 µs per short text, scales with the request threads
   * instead of stalling the one thread that feeds the GPU); the worker runs the model on the merged
   * token ids.
   */
  public static EmbeddingBatcher of(EmbeddingModel model, Options options) {
    if (model == null) {
      throw new IllegalArgumentException("model is null");
    }
    return ofModels(List.of(model), options);
  }

  /**
   * A batcher over several copies of one model, for example one per GPU ({@code
   * Options.withDevice}): one worker each, a batch goes to whichever is free. The models must agree
   * on configuration, pooling and normalisation (texts are tokenized with the first one's
   * tokenizer). Not closed by {@link #close}.
   */
  public static EmbeddingBatcher ofModels(List<EmbeddingModel> models, Options options) {
    if (models == null || models.isEmpty()) {
      throw new IllegalArgumentException("no model given");
    }
    EmbeddingModel first = models.get(0);
    List<Function<List<Object>, float[][]>> backends = new ArrayList<>();
    for (int i = 0; i < models.size(); i++) {
      EmbeddingModel m = models.get(i);
      if (m == null) {
        throw new IllegalArgumentException("model " + i + " is null");
      }
      if (!m.config().equals(first.config())
          || m.pooling() != first.pooling()
          || m.normalizes() != first.normalizes()) {
        throw new IllegalArgumentException(
            "model "
                + i
                + " differs from model 0 ("
                + m.config()
                + ", "
                + m.pooling()
                + " vs "
                + first.config()
                + ", "
                + first.pooling()
                + "): a batch may run on either");
      }
      backends.add(parts -> m.embedTokens(EmbeddingModel.Tokens.concat(parts)));
    }
    return new EmbeddingBatcher(first::tokenize, backends, options);
  }

  @SuppressWarnings("unchecked")
  private static List<String> concatTexts(List<Object> parts) {
    List<String> all = new ArrayList<>();
    for (Object p : parts) {
      all.addAll((List<String>) p);
    }
    return all;
  }

  /**
   * The vector of {@code text}, when its batch has run. Exceptions as for {@link #submitAll}.
   * Cancelling the future before its batch starts drops the text.
   */
  public CompletableFuture<float[]> submit(String text) {
    CompletableFuture<float[]> future = new CompletableFuture<>();
    enqueue(List.of(checkText(text, 0)), future, null);
    return future;
  }

  /**
   * Queues {@code texts} as one request (they go into the same batch).
   *
   * @return completes with one vector per text, in order; or exceptionally with the backend's
   *     exception
   * @throws IllegalArgumentException a null list, or a null or empty text (named by index)
   * @throws RejectedExecutionException the queue holds too many texts (see {@link
   *     Options#queueCapacity()}), or the request alone has more than it
   * @throws IllegalStateException after {@link #close}
   */
  public CompletableFuture<float[][]> submitAll(List<String> texts) {
    if (texts == null) {
      throw new IllegalArgumentException("texts is null");
    }
    List<String> copy = new ArrayList<>(texts.size());
    for (int i = 0; i < texts.size(); i++) {
      copy.add(checkText(texts.get(i), i));
    }
    CompletableFuture<float[][]> future = new CompletableFuture<>();
    if (copy.isEmpty()) {
      future.complete(new float[0][]);
      return future;
    }
    enqueue(List.copyOf(copy), null, future);
    return future;
  }

  private void enqueue(
      List<String> texts, CompletableFuture<float[]> one, CompletableFuture<float[][]> many) {
    lock.lock();
    try { // a cheap early check, so that a full queue costs no tokenization; repeated below
      check(texts.size());
    } finally {
      lock.unlock();
    }
    Object prepared = prepare.apply(texts);
    Request request = new Request(prepared, texts.size(), one, many, System.nanoTime());
    lock.lock();
    try {
      check(texts.size());
      queue.add(request);
      pendingTexts += texts.size();
      requests++;
      this.texts += texts.size();
      queued.signalAll(); // idle workers, and one waiting out the delay for a fuller batch
    } finally {
      lock.unlock();
    }
    // a request cancelled (or failed by its caller, e.g. orTimeout) while it waits leaves the
    // queue at once, giving its room back
    (one != null ? one : many).whenComplete((v, e) -> dropIfQueued(request));
  }

  private void dropIfQueued(Request request) {
    lock.lock();
    try {
      if (queue.remove(request)) { // false once a worker took it
        pendingTexts -= request.size();
        cancelled++;
      }
    } finally {
      lock.unlock();
    }
  }

  /**
   * Blocking form of {@link #submit}: waits for the vector; the backend's exception is rethrown as
   * it was (unchecked), or wrapped in a {@link CompletionException} if checked.
   */
  public float[] embed(String text) {
    if (onWorker()) {
      throw new IllegalStateException(
          "embed() called on the batcher's own worker thread (from a completion stage): it would"
              + " wait for itself; use submit() there");
    }
    try {
      return submit(text).join();
    } catch (CompletionException e) {
      if (e.getCause() instanceof RuntimeException r) {
        throw r;
      }
      if (e.getCause() instanceof Error err) {
        throw err;
      }
      throw e;
    }
  }

  /** The counters now. */
  public Stats stats() {
    lock.lock();
    try {
      return new Stats(
          requests, texts, batches, batchedTexts, rejected, failed, cancelled, pendingTexts);
    } finally {
      lock.unlock();
    }
  }

  /** The options in use. */
  public Options options() {
    return options;
  }

  /**
   * Refuses new submissions, runs every queued request, then stops the workers; idempotent. If the
   * calling thread is interrupted while waiting, it returns with its interrupt flag set (the
   * workers still finish the queue). Called from a completion stage on a worker thread it returns
   * at once (waiting there would deadlock); the workers still drain the queue.
   */
  @Override
  public void close() {
    lock.lock();
    try {
      closing = true;
      queued.signalAll();
    } finally {
      lock.unlock();
    }
    if (onWorker()) {
      return; // close() from a completion stage on a worker: waiting would deadlock; they drain
    }
    for (Thread worker : workers) {
      try {
        worker.join();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return;
      }
    }
  }

  /** Under the lock: throws if closed or if {@code size} more texts do not fit. */
  private void check(int size) {
    if (closing) {
      throw new IllegalStateException("embedding batcher is closed");
    }
    if (size > options.queueCapacity()) {
      rejected++;
      throw new RejectedExecutionException(
          "request of "
              + size
              + " texts is larger than the queue capacity ("
              + options.queueCapacity()
              + " texts)");
    }
    if (pendingTexts + size > options.queueCapacity()) {
      rejected++;
      throw new RejectedExecutionException(
          "embedding queue full: "
              + pendingTexts
              + " texts waiting, capacity "
              + options.queueCapacity()
              + ", request of "
              + size);
    }
  }

  private static String checkText(String text, int index) {
    if (text == null || text.isEmpty()) {
      throw new IllegalArgumentException(
          "text "
              + index
              + " is "
              + (text == null ? "null" : "empty")
              + "; every text needs content");
    }
    return text;
  }

  private void work(Function<List<Object>, float[][]> backend) {
    while (true) {
      List<Request> batch = nextBatch();
      if (batch == null) {
        return;
      }
      if (!batch.isEmpty()) {
        try {
          run(backend, batch, true);
        } catch (Throwable t) { // e.g. an OutOfMemoryError while splitting the results
          LOG.warn("embedding worker recovered from {}", t.toString());
          failAll(batch, t); // requests already completed stay as they are
        }
      }
    }
  }

  /** The next batch (possibly empty when every taken request was cancelled); null to stop. */
  private List<Request> nextBatch() {
    lock.lock();
    try {
      while (true) {
        List<Request> batch = takeBatch();
        if (batch != null || queue.isEmpty() && closing) {
          return batch;
        }
      }
    } finally {
      lock.unlock();
    }
  }

  /**
   * Under the lock: waits for a request and for the delay, then takes a batch; null if the queue is
   * empty by then (closing and drained, or another worker took it).
   */
  private List<Request> takeBatch() {
    while (queue.isEmpty() && !closing) {
      queued.awaitUninterruptibly();
    }
    if (queue.isEmpty()) {
      return null;
    }
    long deadline = queue.peek().arrival() + options.maxDelay().toNanos();
    while (pendingTexts < options.maxBatchTexts() && !closing && !queue.isEmpty()) {
      long left = deadline - System.nanoTime();
      if (left <= 0) {
        break;
      }
      try {
        queued.awaitNanos(left);
      } catch (InterruptedException e) {
        break; // nobody interrupts the workers; if it happens, run what is there
      }
    }
    if (queue.isEmpty()) {
      return null;
    }
    List<Request> batch = new ArrayList<>();
    int size = 0;
    while (!queue.isEmpty()) {
      Request r = queue.peek();
      if (!batch.isEmpty() && size + r.size() > options.maxBatchTexts()) {
        break;
      }
      queue.poll();
      pendingTexts -= r.size();
      if (r.done()) {
        cancelled++;
        continue;
      }
      batch.add(r);
      size += r.size();
    }
    if (!queue.isEmpty()) {
      queued.signalAll(); // another idle worker can take the rest
    }
    return batch;
  }

  /** Runs one backend call for {@code batch} and completes its futures. */
  private void run(
      Function<List<Object>, float[][]> backend, List<Request> batch, boolean retryAlone) {
    List<Object> parts = new ArrayList<>(batch.size());
    int total = 0;
    for (Request r : batch) {
      parts.add(r.prepared());
      total += r.size();
    }
    float[][] vectors;
    try {
      countBatch(total);
      vectors = backend.apply(parts);
      if (vectors == null || vectors.length != total) {
        throw new IllegalStateException(
            "backend returned "
                + (vectors == null ? "null" : vectors.length + " vectors")
                + " for "
                + total
                + " texts");
      }
    } catch (IllegalArgumentException e) {
      if (retryAlone && batch.size() > 1) {
        for (Request r : batch) {
          run(backend, List.of(r), false);
        }
      } else {
        failAll(batch, e);
      }
      return;
    } catch (Throwable e) { // any other failure, even a checked one thrown sneakily
      LOG.warn("embedding batch of {} texts failed: {}", total, e.toString());
      failAll(batch, e); // and go on: a later batch may succeed
      return;
    }
    int at = 0;
    for (Request r : batch) {
      float[][] mine = new float[r.size()][];
      System.arraycopy(vectors, at, mine, 0, mine.length);
      at += mine.length;
      r.complete(mine);
    }
  }

  private void countBatch(int size) {
    lock.lock();
    try {
      batches++;
      batchedTexts += size;
    } finally {
      lock.unlock();
    }
  }

  private void failAll(List<Request> batch, Throwable e) {
    // counted before the futures complete, so that a caller who sees its failure also sees it in
    // stats() (counted after, a caller could read the old count: a flaky test showed it); one
    // cancelled between the count and fail() is taken back
    List<Request> open = new ArrayList<>();
    for (Request r : batch) {
      if (!r.done()) {
        open.add(r);
      }
    }
    addFailed(open.size());
    for (Request r : open) {
      if (!r.fail(e)) {
        addFailed(-1);
      }
    }
  }

  private void addFailed(int n) {
    lock.lock();
    try {
      failed += n;
    } finally {
      lock.unlock();
    }
  }

  private boolean onWorker() {
    Thread t = Thread.currentThread();
    for (Thread w : workers) {
      if (w == t) {
        return true;
      }
    }
    return false;
  }

  /** For tests: whether every worker thread has stopped. */
  boolean stopped() {
    return workers.stream().noneMatch(Thread::isAlive);
  }
}
