package org.ft4j.bench;

import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import org.ft4j.model.CpuEmbedder;
import org.ft4j.model.EmbeddedModels;
import org.ft4j.model.Model;
import org.ft4j.model.OnnxModelLoader;
import org.ft4j.model.ReferenceEmbedder;
import org.ft4j.model.TextTokenizer;
import org.ft4j.testing.Ort;

/**
 * CPU embedding throughput, token ids to last hidden states (tokenization excluded, as all backends
 * share it): ft4j's float32 CPU encoder ({@link CpuEmbedder}; its kernel set is whatever this JVM
 * selects), the float64 reference and ONNX Runtime (CPU, the same ONNX file, intra-op threads =
 * available processors) over the same batches: texts of a JSONL file sorted by length and cut into
 * batches, as {@code EmbeddingModel} does. ONNX Runtime is a test dependency, hence this benchmark
 * lives with the tests: {@code scripts/cpu-bench.sh [model] [batch,...] [file]}.
 */
public final class CpuBench {
  private CpuBench() {}

  public static void main(String[] args) throws Exception {
    String name = args.length > 0 ? args[0] : "minilm";
    int[] batches =
        Arrays.stream((args.length > 1 ? args[1] : "1,32").split(","))
            .mapToInt(Integer::parseInt)
            .toArray();
    Path data = Path.of(args.length > 2 ? args[2] : "data/eval-varied-en.jsonl");
    int referenceTexts = Integer.getInteger("ft4j.bench.referenceTexts", 32);
    ObjectMapper json = new ObjectMapper();
    List<String> texts = new ArrayList<>();
    for (String line : Files.readAllLines(data)) {
      if (!line.isBlank()) {
        texts.add(json.readTree(line).get("text").asText());
      }
    }
    Path dir = EmbeddedModels.directory(name);
    Model model = OnnxModelLoader.load(dir.resolve(EmbeddedModels.MODEL_FILE));
    int[][] ids;
    try (TextTokenizer tok =
        TextTokenizer.load(
            dir.resolve(EmbeddedModels.TOKENIZER_FILE), model.config().maxSequenceLength())) {
      ids = tok.encode(texts).stream().map(TextTokenizer.Encoding::ids).toArray(int[][]::new);
    }
    Arrays.sort(ids, (a, b) -> Integer.compare(b.length, a.length));
    long tokens = Arrays.stream(ids).mapToLong(a -> a.length).sum();
    int threads = Runtime.getRuntime().availableProcessors();
    System.out.printf(
        Locale.ROOT,
        "# %s, %d texts, %d tokens (mean %.1f), %d cores, %s%n",
        name,
        ids.length,
        tokens,
        (double) tokens / ids.length,
        threads,
        System.getProperty("java.vm.version"));
    System.out.println("backend,batch,texts,median_seconds,texts_per_s,tokens_per_s");
    OrtEnvironment env = OrtEnvironment.getEnvironment();
    try (CpuEmbedder cpu = new CpuEmbedder(model);
        ReferenceEmbedder ref = new ReferenceEmbedder(model);
        OrtSession.SessionOptions options = new OrtSession.SessionOptions()) {
      options.setIntraOpNumThreads(threads);
      options.setOptimizationLevel(OrtSession.SessionOptions.OptLevel.ALL_OPT);
      try (OrtSession ort = env.createSession(dir.resolve("model.onnx").toString(), options)) {
        for (int batch : batches) {
          time("ft4j-cpu " + cpu.kernels(), batch, ids, b -> cpu.lastHiddenStates(b, null));
          time("onnxruntime", batch, ids, b -> runOrt(env, ort, b));
          int[][] few =
              Arrays.copyOfRange(
                  ids, ids.length - Math.min(ids.length, referenceTexts), ids.length);
          time(
              "ft4j-reference (shortest " + few.length + ")",
              batch,
              few,
              b -> ref.lastHiddenStates(b, null));
        }
      }
    }
  }

  interface Run {
    void apply(int[][] batch) throws Exception;
  }

  /**
   * {@value #WARMUP} untimed passes over all texts (JIT, allocation), then {@value #TIMED} timed
   * ones; prints the median pass (the build machine's 2 shared cores vary by ±20 % run to run).
   */
  private static void time(String what, int batch, int[][] ids, Run run) throws Exception {
    double[] seconds = new double[TIMED];
    for (int pass = -WARMUP; pass < TIMED; pass++) {
      long t0 = System.nanoTime();
      for (int i = 0; i < ids.length; i += batch) {
        run.apply(Arrays.copyOfRange(ids, i, Math.min(ids.length, i + batch)));
      }
      if (pass >= 0) {
        seconds[pass] = (System.nanoTime() - t0) / 1e9;
      }
    }
    Arrays.sort(seconds);
    double s = seconds[TIMED / 2];
    long tokens = Arrays.stream(ids).mapToLong(a -> a.length).sum();
    System.out.printf(
        Locale.ROOT,
        "%s,%d,%d,%.3f,%.1f,%.0f%n",
        what.contains(",") ? '"' + what + '"' : what,
        batch,
        ids.length,
        s,
        ids.length / s,
        tokens / s);
  }

  private static final int WARMUP = 2;
  private static final int TIMED = 3;

  /** ONNX Runtime over one batch padded to its longest text (attention mask 0 past each length). */
  private static void runOrt(OrtEnvironment env, OrtSession session, int[][] batch)
      throws Exception {
    int seq = Arrays.stream(batch).mapToInt(a -> a.length).max().orElse(1);
    long[][] ids = new long[batch.length][seq];
    long[][] mask = new long[batch.length][seq];
    long[][] types = new long[batch.length][seq];
    for (int b = 0; b < batch.length; b++) {
      for (int i = 0; i < batch[b].length; i++) {
        ids[b][i] = batch[b][i];
        mask[b][i] = 1;
      }
    }
    Ort.lastHiddenState(env, session, ids, mask, types); // what the other backends return
  }
}
