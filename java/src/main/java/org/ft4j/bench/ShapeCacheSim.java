package org.ft4j.bench;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import org.ft4j.model.ModelLoader;
import org.ft4j.model.TextTokenizer;

/**
 * How often a service's embedding batches hit the encoder's per-shape cache of GEMM plans and CUDA
 * graphs (CPU only: token counts from the MiniLM tokenizer, no GPU). Batches of 1..maxBatch texts
 * drawn from the given JSONL files are sorted by length and split into GPU batches of {@code
 * batchSize}, as {@code EmbeddingModel} does; each GPU batch is the shape (batch, seq padded to a
 * multiple, token count rounded up to 64 rows). Prints, per policy, the share of forwards that
 * build new plans, capture a graph, or replay one.
 *
 * <pre>java -cp 'lib/*' org.ft4j.bench.ShapeCacheSim [batchSize] [maxBatch] [files...]</pre>
 */
public final class ShapeCacheSim {
  private ShapeCacheSim() {}

  /**
   * Share of forwards (0..1) that make a new shape state (its own plans, before plans were shared),
   * capture a graph, replay a graph; and that make new plans when plans are shared by token rows
   * (256 idle plans kept), as the encoder does since 2026-11-27.
   */
  public record Result(
      double newPlans,
      double captures,
      double replays,
      int distinctShapes,
      double newSharedPlans) {}

  public static void main(String[] args) throws IOException {
    int batchSize = args.length > 0 ? Integer.parseInt(args[0]) : 32;
    int maxBatch = args.length > 1 ? Integer.parseInt(args[1]) : 128;
    List<Path> files = new ArrayList<>();
    for (int i = 2; i < args.length; i++) {
      files.add(Path.of(args[i]));
    }
    if (files.isEmpty()) {
      for (String f :
          new String[] {
            "eval-varied-en.jsonl",
            "calibration-varied-en.jsonl",
            "eval-en.jsonl",
            "calibration-en.jsonl"
          }) {
        files.add(Path.of("data", f));
      }
    }
    int[] lengths = tokenCounts(files);
    System.out.printf(
        Locale.ROOT,
        "%d texts, GPU batches of %d, batches of 1..%d%n",
        lengths.length,
        batchSize,
        maxBatch);
    for (Object[] policy :
        new Object[][] {
          {"exact seq, 64 shapes, graph on 1st use", 1, 64, 1},
          {"seq to 16, 256 shapes, graph on 2nd use", 16, 256, 2}
        }) {
      Result r =
          simulate(
              lengths, batchSize, maxBatch, (int) policy[1], (int) policy[2], (int) policy[3], 5);
      System.out.printf(
          Locale.ROOT,
          "%-42s %5d shapes: new shape states %5.1f %%, graph captures %5.1f %%, replays %5.1f %%,"
              + " new plans if shared by rows %4.1f %%%n",
          policy[0],
          r.distinctShapes(),
          100 * r.newPlans(),
          100 * r.captures(),
          100 * r.replays(),
          100 * r.newSharedPlans());
    }
  }

  static int[] tokenCounts(List<Path> files) throws IOException {
    List<String> texts = new ArrayList<>();
    for (Path f : files) {
      texts.addAll(org.ft4j.cli.CalibrateCommand.readTexts(f, "text file"));
    }
    try (TextTokenizer t = TextTokenizer.load(ModelLoader.tokenizerPath("minilm"), 512)) {
      return t.encode(texts).stream().mapToInt(TextTokenizer.Encoding::length).toArray();
    }
  }

  /**
   * Simulates 4000 batches. A shape's first forward makes its plans; its graph is captured on
   * forward number {@code graphAfter} (and replayed after), unless the LRU of {@code cacheSize}
   * shapes dropped it meanwhile.
   */
  static Result simulate(
      int[] lengths,
      int batchSize,
      int maxBatch,
      int seqMultiple,
      int cacheSize,
      int graphAfter,
      long seed) {
    SplittableRandom r = new SplittableRandom(seed);
    LinkedHashMap<String, Integer> uses = new LinkedHashMap<>(16, 0.75f, true);
    java.util.Set<String> distinct = new java.util.HashSet<>();
    long forwards = 0;
    long plans = 0;
    long captures = 0;
    long replays = 0;
    long rowPlans = 0;
    LinkedHashMap<Integer, Boolean> plansByRows = new LinkedHashMap<>(16, 0.75f, true);
    for (int step = 0; step < 4000; step++) {
      Integer[] batch = new Integer[1 + r.nextInt(maxBatch)];
      for (int i = 0; i < batch.length; i++) {
        batch[i] = lengths[r.nextInt(lengths.length)];
      }
      Arrays.sort(batch, Comparator.reverseOrder());
      for (int s = 0; s < batch.length; s += batchSize) {
        int b = Math.min(batchSize, batch.length - s);
        int seq = (batch[s] + seqMultiple - 1) / seqMultiple * seqMultiple;
        int tokens = 0;
        for (int i = s; i < s + b; i++) {
          tokens += batch[i];
        }
        int rows = Math.min(b * seq, (tokens + 63) / 64 * 64);
        if (plansByRows.get(rows) == null) {
          rowPlans++;
          plansByRows.put(rows, true);
          if (plansByRows.size() > 256) {
            Iterator<Integer> eldest = plansByRows.keySet().iterator();
            eldest.next();
            eldest.remove();
          }
        }
        String key = b + "x" + seq + "r" + rows;
        distinct.add(key);
        forwards++;
        Integer u = uses.get(key);
        int n = u == null ? 1 : u + 1;
        if (u == null) {
          plans++;
        }
        uses.put(key, n);
        if (n == graphAfter) {
          captures++;
        } else if (n > graphAfter) {
          replays++;
        }
        if (uses.size() > cacheSize) {
          Iterator<String> eldest = uses.keySet().iterator();
          eldest.next();
          eldest.remove();
        }
      }
    }
    return new Result(
        (double) plans / forwards,
        (double) captures / forwards,
        (double) replays / forwards,
        distinct.size(),
        (double) rowPlans / forwards);
  }
}
