package org.ft4j.bench;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Function;
import org.ft4j.encoder.Precision;
import org.ft4j.model.CpuEmbedder;
import org.ft4j.model.EmbeddingBatcher;
import org.ft4j.model.GpuEmbedder;
import org.ft4j.model.Model;
import org.ft4j.model.ModelConfig;
import org.ft4j.model.Pooling;
import org.ft4j.model.ReferenceEmbedder;
import org.ft4j.model.TokenEmbedder;

/**
 * A service under load: {@code clients} threads, each sending one text at a time and waiting for
 * its vector (closed loop), for {@code seconds}, with lengths uniform in [8, maxLen] tokens. Modes:
 * {@code direct} (every client calls the shared embedder itself, one text per call: what a service
 * gets from a synchronized {@code EmbeddingModel} without batching) and {@code batched:<ms>} (the
 * same through an {@link EmbeddingBatcher} with that maximum delay) and {@code two:<ms>} (a batcher
 * over two embedders of the model on the same device, two workers: does a second stream hide the
 * host's share of each batch?). Prints throughput, latency percentiles and the mean batch size. The
 * embedder works on token ids (tokenization is left out): a text is the index of a pre-drawn id
 * sequence; the backend sorts each batch by length and pools (mean, normalised) in calls of at most
 * 128 sequences, as {@code EmbeddingModel} does.
 *
 * <pre>
 * java -cp 'lib/*' org.ft4j.bench.ServeBench [gpu|cpu|reference] [clients,...] [seconds] [maxLen]
 *     [minilm|bert-base|tiny] [modes]</pre>
 */
public final class ServeBench {
  private ServeBench() {}

  /** One measured configuration. */
  public record Row(
      String mode,
      int clients,
      long texts,
      double textsPerSecond,
      double p50Ms,
      double p99Ms,
      double meanBatch) {
    @Override
    public String toString() {
      return String.format(
          Locale.ROOT,
          "%s,%d,%d,%.1f,%.3f,%.3f,%.1f",
          mode,
          clients,
          texts,
          textsPerSecond,
          p50Ms,
          p99Ms,
          meanBatch);
    }
  }

  public static void main(String[] args) {
    String backend = args.length > 0 ? args[0] : "gpu";
    String clients = args.length > 1 ? args[1] : "1,8,64";
    double seconds = args.length > 2 ? Double.parseDouble(args[2]) : 3;
    int maxLen = args.length > 3 ? Integer.parseInt(args[3]) : 128;
    String shape = args.length > 4 ? args[4] : backend.equals("gpu") ? "minilm" : "tiny";
    String modes = args.length > 5 ? args[5] : "direct,batched:0,batched:1";
    System.out.println(
        "# "
            + backend
            + " "
            + shape
            + ", lengths uniform in [8, "
            + maxLen
            + "], "
            + seconds
            + " s per row");
    System.out.println("mode,clients,texts,texts_per_s,p50_ms,p99_ms,mean_batch");
    for (Row r : run(backend, shape, clients, seconds, maxLen, modes)) {
      System.out.println(r);
    }
  }

  static ModelConfig shape(String name) {
    return switch (name) {
      case "bert-base" -> new ModelConfig("bert", 30522, 768, 12, 12, 3072, 512, 2, 1e-12, 0);
      case "minilm" -> new ModelConfig("bert", 30522, 384, 6, 12, 1536, 512, 2, 1e-12, 0);
      case "tiny" -> new ModelConfig("bert", 1000, 32, 1, 2, 64, 512, 2, 1e-12, 0);
      default ->
          throw new IllegalArgumentException(
              "shape " + name + ": expected minilm, bert-base or tiny");
    };
  }

  /** Runs every (mode, clients) pair; see the class comment. */
  public static List<Row> run(
      String backend, String shape, String clients, double seconds, int maxLen, String modes) {
    if (maxLen < 8 || maxLen > 512) {
      throw new IllegalArgumentException("maxLen = " + maxLen + ", must be in [8, 512]");
    }
    ModelConfig c = shape(shape);
    Model model = Model.random(c, 42);
    SplittableRandom r = new SplittableRandom(7);
    int[][] pool = new int[4096][];
    for (int i = 0; i < pool.length; i++) {
      pool[i] = r.ints(8 + r.nextInt(maxLen - 7), 0, c.vocabSize()).toArray();
    }
    List<Row> rows = new ArrayList<>();
    List<TokenEmbedder> embedders = new ArrayList<>();
    try {
      int copies = modes.contains("two:") ? 2 : 1;
      for (int i = 0; i < copies; i++) {
        embedders.add(
            switch (backend) {
              case "gpu" -> new GpuEmbedder(model, Precision.FP16, 0);
              case "cpu" -> new CpuEmbedder(model);
              case "reference" -> new ReferenceEmbedder(model);
              default ->
                  throw new IllegalArgumentException(
                      "backend " + backend + ": expected gpu, cpu or reference");
            });
      }
      List<Function<List<String>, float[][]>> embed = new ArrayList<>();
      for (TokenEmbedder e : embedders) {
        embed.add(texts -> embed(e, pool, texts));
      }
      for (String m : modes.split(",")) {
        for (String n : clients.split(",")) {
          int k = Integer.parseInt(n.trim());
          measure(m, k, Math.min(1, seconds), embed, pool.length); // warm-up
          rows.add(measure(m, k, seconds, embed, pool.length));
        }
      }
    } finally {
      embedders.forEach(TokenEmbedder::close);
    }
    return rows;
  }

  /** The backend: texts are indices into {@code pool}; sorted by length, pooled in calls of 128. */
  static float[][] embed(TokenEmbedder embedder, int[][] pool, List<String> texts) {
    int n = texts.size();
    Integer[] order = new Integer[n];
    int[][] ids = new int[n][];
    for (int i = 0; i < n; i++) {
      order[i] = i;
      ids[i] = pool[Integer.parseInt(texts.get(i))];
    }
    Arrays.sort(order, (x, y) -> Integer.compare(ids[y].length, ids[x].length));
    float[][] out = new float[n][];
    for (int start = 0; start < n; start += 128) {
      int size = Math.min(128, n - start);
      int[][] chunk = new int[size][];
      for (int b = 0; b < size; b++) {
        chunk[b] = ids[order[start + b]];
      }
      float[][] v = embedder.pooled(chunk, null, Pooling.MEAN, true);
      for (int b = 0; b < size; b++) {
        out[order[start + b]] = v[b];
      }
    }
    return out;
  }

  private static Row measure(
      String mode,
      int clients,
      double seconds,
      List<Function<List<String>, float[][]>> embed,
      int n) {
    EmbeddingBatcher batcher = null;
    Function<String, float[]> one;
    if (mode.equals("direct")) {
      Function<List<String>, float[][]> first = embed.get(0);
      one = t -> first.apply(List.of(t))[0];
    } else if (mode.startsWith("batched:") || mode.startsWith("two:")) {
      double ms = Double.parseDouble(mode.substring(mode.indexOf(':') + 1));
      EmbeddingBatcher.Options o =
          EmbeddingBatcher.Options.defaults()
              .withMaxBatchTexts(256)
              .withMaxDelay(Duration.ofNanos((long) (ms * 1e6)));
      EmbeddingBatcher b =
          mode.startsWith("two:")
              ? EmbeddingBatcher.ofBackends(embed, o)
              : new EmbeddingBatcher(embed.get(0), o);
      batcher = b;
      one = b::embed;
    } else {
      throw new IllegalArgumentException(
          "mode " + mode + ": expected direct, batched:<ms> or two:<ms>");
    }
    AtomicBoolean stop = new AtomicBoolean();
    java.util.concurrent.atomic.AtomicReference<Throwable> failure =
        new java.util.concurrent.atomic.AtomicReference<>();
    long[][] latencies = new long[clients][];
    int[] counts = new int[clients];
    Thread[] threads = new Thread[clients];
    long t0 = System.nanoTime();
    for (int c = 0; c < clients; c++) {
      int id = c;
      threads[c] =
          new Thread(
              () -> {
                SplittableRandom r = new SplittableRandom(1000 + id);
                long[] lat = new long[1024];
                int k = 0;
                try {
                  while (!stop.get()) {
                    long s = System.nanoTime();
                    one.apply(Integer.toString(r.nextInt(n)));
                    if (k == lat.length) {
                      lat = Arrays.copyOf(lat, 2 * k);
                    }
                    lat[k++] = System.nanoTime() - s;
                  }
                } catch (Throwable e) { // reported after the join, not hidden behind a missing row
                  failure.compareAndSet(null, e);
                  stop.set(true);
                }
                latencies[id] = lat;
                counts[id] = k;
              },
              "serve-bench-client-" + c);
      threads[c].start();
    }
    try {
      Thread.sleep((long) (seconds * 1000));
      stop.set(true);
      for (Thread t : threads) {
        t.join();
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted", e);
    }
    long elapsed = System.nanoTime() - t0;
    if (failure.get() != null) {
      if (batcher != null) {
        batcher.close();
      }
      throw new IllegalStateException("a client failed: " + failure.get(), failure.get());
    }
    double meanBatch = 1;
    if (batcher != null) {
      meanBatch = batcher.stats().meanBatchTexts();
      batcher.close();
    }
    int total = 0;
    for (int k : counts) {
      total += k;
    }
    long[] all = new long[total];
    int at = 0;
    for (int c = 0; c < clients; c++) {
      System.arraycopy(latencies[c], 0, all, at, counts[c]);
      at += counts[c];
    }
    Arrays.sort(all);
    return new Row(
        mode,
        clients,
        total,
        total / (elapsed / 1e9),
        total == 0 ? 0 : all[(int) (0.50 * (total - 1))] / 1e6,
        total == 0 ? 0 : all[(int) (0.99 * (total - 1))] / 1e6,
        meanBatch);
  }
}
