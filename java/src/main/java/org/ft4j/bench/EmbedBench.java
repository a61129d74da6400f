package org.ft4j.bench;

import java.util.Arrays;
import java.util.Locale;
import java.util.SplittableRandom;
import org.ft4j.encoder.Precision;
import org.ft4j.model.GpuEmbedder;
import org.ft4j.model.Model;
import org.ft4j.model.ModelConfig;
import org.ft4j.model.Pooler;
import org.ft4j.model.Pooling;

/**
 * Embedding throughput of the GPU backend from token ids to pooled, normalised vectors (the part of
 * {@code EmbeddingModel.embed} after tokenization), on a random model of all-MiniLM-L6-v2's shape
 * (6 layers, 12 heads x 32, vocabulary 30522) or BERT-base's: {@code texts} sequences with lengths
 * uniform in [8, maxLen] (seeded), sorted by length and run in batches as {@code EmbeddingModel}
 * does. Two columns per row: host_pool (the whole [batch, seq, hidden] of hidden states copied to
 * the host and pooled there, the path before device pooling) and device_pool ({@link
 * GpuEmbedder#pooled}: mean pooling and normalisation on the GPU, [batch, hidden] copied back).
 *
 * <pre>java -cp 'lib/*' org.ft4j.bench.EmbedBench [minilm|bert-base] [texts] [batch,...] [maxLen]
 * </pre>
 */
public final class EmbedBench {
  private EmbedBench() {}

  public static void main(String[] args) {
    String shape = args.length > 0 ? args[0] : "minilm";
    int texts = args.length > 1 ? Integer.parseInt(args[1]) : 2048;
    String batches = args.length > 2 ? args[2] : "1,32,128";
    int maxLen = args.length > 3 ? Integer.parseInt(args[3]) : 128;
    ModelConfig c = ServeBench.shape(shape);
    Model model = Model.random(c, 42);
    SplittableRandom r = new SplittableRandom(7);
    int[][] ids = new int[texts][];
    for (int i = 0; i < texts; i++) {
      ids[i] = r.ints(8 + r.nextInt(maxLen - 7), 0, c.vocabSize()).toArray();
    }
    Arrays.sort(ids, (x, y) -> Integer.compare(y.length, x.length));
    long tokens = Arrays.stream(ids).mapToLong(a -> a.length).sum();
    System.out.println(
        "model,precision,texts,tokens,batch,host_pool_texts_per_s,device_pool_texts_per_s,"
            + "max_abs_diff");
    for (Precision p : new Precision[] {Precision.FP16, Precision.FP32}) {
      try (GpuEmbedder gpu = new GpuEmbedder(model, p, 0)) {
        for (String b : batches.split(",")) {
          int batch = Integer.parseInt(b);
          run(gpu, ids, batch, true); // warm-up: plans, graphs, buffers
          run(gpu, ids, batch, false);
          long t0 = System.nanoTime();
          float[][] host = run(gpu, ids, batch, true);
          long t1 = System.nanoTime();
          float[][] device = run(gpu, ids, batch, false);
          long t2 = System.nanoTime();
          double diff = 0;
          for (int i = 0; i < texts; i++) {
            for (int k = 0; k < host[i].length; k++) {
              diff = Math.max(diff, Math.abs(host[i][k] - device[i][k]));
            }
          }
          System.out.printf(
              Locale.ROOT,
              "%s,%s,%d,%d,%d,%.1f,%.1f,%.2e%n",
              shape,
              p.label(),
              texts,
              tokens,
              batch,
              texts / ((t1 - t0) / 1e9),
              texts / ((t2 - t1) / 1e9),
              diff);
        }
      }
    }
  }

  private static float[][] run(GpuEmbedder gpu, int[][] ids, int batch, boolean hostPool) {
    int hidden = gpu.config().hidden();
    float[][] out = new float[ids.length][];
    for (int start = 0; start < ids.length; start += batch) {
      int[][] chunk = Arrays.copyOfRange(ids, start, Math.min(ids.length, start + batch));
      if (hostPool) {
        float[][] states = gpu.lastHiddenStates(chunk, null);
        for (int i = 0; i < chunk.length; i++) {
          out[start + i] = Pooler.pool(states[i], chunk[i].length, hidden, Pooling.MEAN, true);
        }
      } else {
        float[][] v = gpu.pooled(chunk, null, Pooling.MEAN, true);
        System.arraycopy(v, 0, out, start, v.length);
      }
    }
    return out;
  }
}
