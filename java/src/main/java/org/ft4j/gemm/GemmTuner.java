package org.ft4j.gemm;

import static org.bytedeco.cuda.global.cublas.CUBLASLT_EPILOGUE_BIAS;
import static org.bytedeco.cuda.global.cublas.CUBLASLT_EPILOGUE_DEFAULT;
import static org.bytedeco.cuda.global.cublas.CUBLASLT_EPILOGUE_GELU_BIAS;
import static org.bytedeco.cuda.global.cublas.CUBLASLT_REDUCTION_SCHEME_COMPUTE_TYPE;
import static org.bytedeco.cuda.global.cublas.CUBLASLT_REDUCTION_SCHEME_INPLACE;
import static org.bytedeco.cuda.global.cublas.CUBLASLT_REDUCTION_SCHEME_OUTPUT_TYPE;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.bytedeco.cuda.cublas.cublasLtMatmulAlgo_t;
import org.ft4j.cuda.CudaEvent;
import org.ft4j.cuda.CudaException;
import org.ft4j.cuda.CudaStream;
import org.ft4j.cuda.DType;
import org.ft4j.cuda.DeviceBuffer;
import org.ft4j.cuda.Half;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Finds the fastest cuBLASLt algorithm for one GEMM by measuring, the way FasterTransformer's
 * encoder_gemm does and a little more carefully:
 *
 * <ol>
 *   <li><b>Candidates.</b> cuBLASLt's heuristic ranking, plus every algorithm id
 *       (cublasLtMatmulAlgoGetIds) crossed with what its capabilities allow
 *       (cublasLtMatmulAlgoCapGetAttribute): tiles x stages x custom options x CTA swizzle, then
 *       split-K {2, 3, 4, 5, 6, 8, 12, 16} x each supported reduction scheme. Each is rebuilt from
 *       its config fields (cublasLtMatmulAlgoInit + ConfigSetAttribute), exactly as a config file
 *       will rebuild it, and kept if cublasLtMatmulAlgoCheck accepts it within the workspace. Ids
 *       are visited round-robin, so a candidate cap does not starve the last ids.
 *   <li><b>First pass.</b> Every kept candidate: a warm-up run, then a few runs timed together with
 *       CUDA events.
 *   <li><b>Final pass.</b> The fastest few and the heuristic's own choice, timed again in
 *       interleaved rounds; each scores the median of its rounds.
 * </ol>
 *
 * Timed runs rotate over several copies of A, B and C (random data, never zeros) whose total size
 * exceeds the L2 cache, so a GEMM does not find its operands cached by the previous run — as in the
 * encoder, where each layer's weights and activations are new to the cache. The tuner holds no
 * native resources (handle and stream are the caller's); not thread-safe.
 */
public final class GemmTuner {
  private static final Logger LOG = LoggerFactory.getLogger(GemmTuner.class);
  private static final int[] SPLIT_K = {2, 3, 4, 5, 6, 8, 12, 16};
  private static final long ROTATION_BYTES = 192L << 20; // > 3x the H100's 50 MB L2
  private static final int MAX_COPIES = 8192; // operand sets rotated over, at most

  /**
   * Search limits.
   *
   * @param maxCandidates at most this many accepted candidates are timed in the first pass
   * @param maxChecks at most this many configurations are offered to cublasLtMatmulAlgoCheck
   * @param secondsPerGemm the first pass stops (keeping what it timed) after this long
   * @param firstPassRuns timed runs per candidate in the first pass
   * @param finalists candidates (besides the heuristic's) in the final pass
   * @param finalRounds interleaved rounds of the final pass
   * @param finalRuns timed runs per candidate and round in the final pass
   * @param maxWorkspaceBytes the workspace the runtime will offer (the encoder's: 32 MiB)
   */
  public record Settings(
      int maxCandidates,
      int maxChecks,
      double secondsPerGemm,
      int firstPassRuns,
      int finalists,
      int finalRounds,
      int finalRuns,
      long maxWorkspaceBytes) {
    public Settings {
      if (maxCandidates < 1
          || maxChecks < 1
          || !(secondsPerGemm > 0)
          || firstPassRuns < 1
          || finalists < 1
          || finalRounds < 1
          || finalRuns < 1
          || maxWorkspaceBytes < 0) {
        throw new IllegalArgumentException("tuner settings out of range: " + this);
      }
    }

    /** Sized so a BERT-base config (4 GEMMs) tunes in well under a minute on an H100. */
    public static Settings defaults() {
      return new Settings(1500, 30000, 10.0, 5, 8, 3, 20, 32L << 20);
    }

    public Settings withSecondsPerGemm(double s) {
      return new Settings(
          maxCandidates,
          maxChecks,
          s,
          firstPassRuns,
          finalists,
          finalRounds,
          finalRuns,
          maxWorkspaceBytes);
    }

    public Settings withMaxCandidates(int n) {
      return new Settings(
          n,
          maxChecks,
          secondsPerGemm,
          firstPassRuns,
          finalists,
          finalRounds,
          finalRuns,
          maxWorkspaceBytes);
    }
  }

  /** Told how many steps a GEMM's search has and when each is done (e.g. a progress bar). */
  public interface Progress {
    void begin(String gemm, int steps);

    void step();

    Progress NONE =
        new Progress() {
          @Override
          public void begin(String gemm, int steps) {}

          @Override
          public void step() {}
        };
  }

  /**
   * What the search found.
   *
   * @param best the fastest algorithm (rebuilt from its fields, as a config file rebuilds it)
   * @param micros its median time per GEMM
   * @param heuristic cuBLASLt's heuristic choice
   * @param heuristicMicros the heuristic choice's median time in the same final pass
   * @param checked configurations offered to cublasLtMatmulAlgoCheck
   * @param timed candidates timed in the first pass
   * @param ownBest the fastest variant of the own kernel (null without one, or when none ran)
   * @param ownMicros its median time (NaN without)
   * @param ltBest cuBLASLt's fastest algorithm, whether or not the own kernel beat it (the
   *     heuristic's own choice when no tuned candidate beat that); null where cuBLASLt has no
   *     algorithm for the shape and the own kernel was timed alone (then heuristic is the own
   *     kernel's automatic choice)
   * @param ltMicros its median time (NaN without ltBest)
   */
  public record Result(
      GemmKey key,
      GemmAlgorithm best,
      long workspaceBytes,
      double micros,
      GemmAlgorithm heuristic,
      double heuristicMicros,
      int checked,
      int timed,
      double seconds,
      GemmAlgorithm ownBest,
      double ownMicros,
      GemmAlgorithm ltBest,
      double ltMicros) {

    /** The config-file line for this result. */
    public GemmConfigEntry entry(int batch, int seq, String op) {
      return new GemmConfigEntry(
          batch, seq, op, key, best, workspaceBytes, micros, heuristicMicros);
    }

    /**
     * This result with the own kernel's best variant as the choice, where a caller can only run the
     * own kernel (INT8 mode 2); cuBLASLt's heuristic time stays as the reference.
     *
     * @throws IllegalStateException when no own variant ran
     */
    public Result ownOnly() {
      if (ownBest == null) {
        throw new IllegalStateException("no variant of the own kernel ran for " + key);
      }
      return new Result(
          key,
          ownBest,
          0,
          ownMicros,
          heuristic,
          heuristicMicros,
          checked,
          timed,
          seconds,
          ownBest,
          ownMicros,
          ltBest,
          ltMicros);
    }
  }

  private final CublasLt lt;
  private final CudaStream stream;
  private final Settings settings;

  public GemmTuner(CublasLt lt, CudaStream stream, Settings settings) {
    if (lt == null || stream == null || settings == null) {
      throw new IllegalArgumentException("cuBLASLt handle, stream and settings must not be null");
    }
    this.lt = lt;
    this.stream = stream;
    this.settings = settings;
  }

  /** A candidate in the search: its fields, its rebuilt opaque algorithm, its workspace. */
  private record Candidate(GemmAlgorithm fields, cublasLtMatmulAlgo_t algo, long workspace) {}

  /**
   * A kernel outside cuBLASLt computing the same GEMM, C = A · op(B) on the tuner's operands
   * (ft4j's own INT8 GEMM: i8i32, batch 1, B transposed, alpha 1, no epilogue), in one or more
   * variants ({@link GemmAlgorithm#ft4jOwn(int, int)} values), each timed in the final pass.
   */
  public interface OwnKernel {
    /** The variants to time; not empty. */
    List<GemmAlgorithm> variants();

    void run(
        GemmAlgorithm variant, DeviceBuffer a, DeviceBuffer b, DeviceBuffer c, CudaStream stream);
  }

  /** Tunes C = alpha * A * op(B) (+ bias) for {@code shape} and {@code type}. */
  public Result tune(
      GemmShape shape, GemmType type, Epilogue epilogue, float alpha, Progress progress) {
    return tune(shape, type, epilogue, alpha, progress, null);
  }

  /**
   * Tunes as {@link #tune(GemmShape, GemmType, Epilogue, float, Progress)}, with {@code own} (may
   * be null) timed in the final pass beside cuBLASLt's finalists; where it is the fastest, the
   * result's algorithm is {@link GemmAlgorithm#ft4jOwn()}.
   */
  public Result tune(
      GemmShape shape,
      GemmType type,
      Epilogue epilogue,
      float alpha,
      Progress progress,
      OwnKernel own) {
    if (own != null
        && ((type != GemmType.I8I32 && type != GemmType.I8I8)
            || shape.batch() != 1
            || !shape.bTransposed()
            || epilogue != Epilogue.NONE
            || (type == GemmType.I8I32 && alpha != 1f))) {
      throw new IllegalArgumentException(
          "an own kernel competes only for i8i32 (alpha 1) and i8i8 GEMMs with batch 1, B"
              + " transposed and no epilogue");
    }
    long t0 = System.nanoTime();
    GemmKey key = GemmKey.of(shape, type, epilogue);
    MatmulPlan heuristicPlan = null;
    try {
      heuristicPlan =
          new MatmulPlan(lt, shape, type, alpha, epilogue, settings.maxWorkspaceBytes(), null);
    } catch (CudaException e) {
      if (own == null) {
        throw e;
      }
      LOG.warn("{}: {}; timing ft4j's own GEMM alone", key, e.getMessage());
    }
    if (heuristicPlan == null) {
      return tuneOwnAlone(shape, type, own, progress, key, t0);
    }
    try (MatmulPlan plan = heuristicPlan;
        Operands ops = new Operands(shape, type, epilogue, settings.maxWorkspaceBytes(), stream);
        CudaEvent start = CudaEvent.create();
        CudaEvent end = CudaEvent.create()) {
      List<MatmulPlan.Candidate> ranked = plan.heuristics(16);
      MatmulPlan.Candidate heuristic = ranked.get(0);
      Map<GemmAlgorithm, Candidate> pool = new LinkedHashMap<>();
      for (MatmulPlan.Candidate h : ranked) {
        addIfAccepted(plan, type, h.algorithm(), pool);
      }
      int checked = enumerate(plan, type, epilogue, pool) + ranked.size();
      List<Candidate> candidates = new ArrayList<>(pool.values());
      progress.begin(key.toString(), candidates.size() + settings.finalRounds());

      // First pass: every candidate, briefly.
      double deadline = t0 / 1e9 + settings.secondsPerGemm();
      Map<Candidate, Double> first = new LinkedHashMap<>();
      for (Candidate c : candidates) {
        if (System.nanoTime() / 1e9 > deadline && first.size() >= settings.finalists()) {
          LOG.info(
              "{}: time budget reached after {} of {} candidates",
              key,
              first.size(),
              candidates.size());
          break;
        }
        double us =
            time(plan, c.algo(), c.workspace(), ops, start, end, 1, settings.firstPassRuns());
        if (!Double.isNaN(us)) {
          first.put(c, us);
        }
        progress.step();
      }
      if (first.isEmpty()) {
        throw new CudaException("no cuBLASLt candidate ran for " + key);
      }

      // Final pass: the fastest few and the heuristic's choice, interleaved rounds.
      List<Candidate> finalists =
          first.entrySet().stream()
              .sorted(Map.Entry.comparingByValue())
              .limit(settings.finalists())
              .map(Map.Entry::getKey)
              .toList();
      List<GemmAlgorithm> variants = own == null ? List.of() : own.variants();
      double[][] rounds =
          new double[finalists.size() + 1 + variants.size()][settings.finalRounds()];
      for (int r = 0; r < settings.finalRounds(); r++) {
        for (int i = 0; i < finalists.size(); i++) {
          Candidate c = finalists.get(i);
          rounds[i][r] =
              time(plan, c.algo(), c.workspace(), ops, start, end, 2, settings.finalRuns());
        }
        rounds[finalists.size()][r] =
            time(
                plan,
                heuristic.raw(),
                heuristic.workspaceBytes(),
                ops,
                start,
                end,
                2,
                settings.finalRuns());
        for (int v = 0; v < variants.size(); v++) {
          rounds[finalists.size() + 1 + v][r] =
              timeOwn(own, variants.get(v), ops, start, end, 2, settings.finalRuns());
        }
        progress.step();
      }
      int best = 0;
      double bestUs = Double.POSITIVE_INFINITY;
      for (int i = 0; i < finalists.size(); i++) {
        double m = median(rounds[i]);
        if (m < bestUs) {
          bestUs = m;
          best = i;
        }
      }
      Candidate winner = finalists.get(best);
      double heuristicUs = median(rounds[finalists.size()]);
      // cuBLASLt's choice: the heuristic's own algorithm unless a finalist beat it in the same
      // rounds (the finalists come from a shorter first pass that the heuristic may have missed),
      // so that a tuned line is never slower than no line
      boolean heuristicHolds = heuristicUs <= bestUs;
      GemmAlgorithm ltBest = heuristicHolds ? heuristic.algorithm() : winner.fields();
      long ltWorkspace = heuristicHolds ? heuristic.workspaceBytes() : winner.workspace();
      double ltUs = heuristicHolds ? heuristicUs : bestUs;
      // the own kernel's best variant (one that failed in any round, or whose output differs
      // from the others', is out)
      boolean[] ran = new boolean[variants.size()];
      for (int v = 0; v < variants.size(); v++) {
        ran[v] = Arrays.stream(rounds[finalists.size() + 1 + v]).noneMatch(Double::isNaN);
      }
      boolean[] agrees = ownAgreement(own, variants, ran, ops, key);
      double ownUs = Double.NaN;
      GemmAlgorithm ownBest = null;
      for (int v = 0; v < variants.size(); v++) {
        double[] ownRounds = rounds[finalists.size() + 1 + v];
        if (ran[v] && agrees[v] && !(median(ownRounds) >= ownUs)) {
          ownUs = median(ownRounds);
          ownBest = variants.get(v);
        }
      }
      boolean ownWins = ownUs < ltUs; // false when NaN
      Result result =
          new Result(
              key,
              ownWins ? ownBest : ltBest,
              ownWins ? 0 : ltWorkspace,
              ownWins ? ownUs : ltUs,
              heuristic.algorithm(),
              heuristicUs,
              checked,
              first.size(),
              (System.nanoTime() - t0) / 1e9,
              ownBest,
              ownUs,
              ltBest,
              ltUs);
      LOG.info(
          "{}: {} at {} us (heuristic {} us), {} checked, {} timed, {} s",
          key,
          result.best(),
          String.format("%.2f", result.micros()),
          String.format("%.2f", heuristicUs),
          checked,
          first.size(),
          String.format("%.1f", result.seconds()));
      return result;
    }
  }

  /**
   * Offers every configuration the capabilities allow to cublasLtMatmulAlgoCheck, ids round-robin,
   * until the candidate or check cap; returns the number of checks.
   */
  private int enumerate(
      MatmulPlan plan, GemmType type, Epilogue epilogue, Map<GemmAlgorithm, Candidate> pool) {
    int epilogueBit =
        switch (epilogue) {
          case NONE -> CUBLASLT_EPILOGUE_DEFAULT;
          case BIAS -> CUBLASLT_EPILOGUE_BIAS;
          case GELU_BIAS_TANH -> CUBLASLT_EPILOGUE_GELU_BIAS;
        };
    List<List<GemmAlgorithm>> perId = new ArrayList<>();
    List<List<GemmAlgorithm>> perIdSplit = new ArrayList<>();
    for (int id : LtAlgorithms.algorithmIds(lt, type, 1024)) {
      LtAlgorithms.Capabilities caps;
      try {
        caps = LtAlgorithms.capabilities(LtAlgorithms.init(lt, type, id));
      } catch (CudaException e) {
        LOG.debug("algorithm {}: no capabilities ({})", id, e.getMessage());
        continue;
      }
      if (epilogue != Epilogue.NONE && (caps.epilogueMask() & epilogueBit) != epilogueBit) {
        continue;
      }
      List<GemmAlgorithm> plain = new ArrayList<>();
      List<GemmAlgorithm> split = new ArrayList<>();
      int[] tiles = caps.tiles().length == 0 ? new int[] {0} : caps.tiles();
      int[] stages = caps.stages().length == 0 ? new int[] {0} : caps.stages();
      int swizzles = caps.swizzle() ? 2 : 1;
      for (int tile : tiles) {
        for (int stage : stages) {
          for (int custom = 0; custom <= Math.max(0, caps.customOptionMax()); custom++) {
            for (int swizzle = 0; swizzle < swizzles; swizzle++) {
              plain.add(new GemmAlgorithm(id, tile, stage, 1, 0, swizzle, custom, 0, 0));
              if (!caps.splitK()) {
                continue;
              }
              for (int k : SPLIT_K) {
                for (int scheme :
                    new int[] {
                      CUBLASLT_REDUCTION_SCHEME_INPLACE,
                      CUBLASLT_REDUCTION_SCHEME_COMPUTE_TYPE,
                      CUBLASLT_REDUCTION_SCHEME_OUTPUT_TYPE
                    }) {
                  if ((caps.reductionMask() & scheme) != 0) {
                    split.add(new GemmAlgorithm(id, tile, stage, k, scheme, swizzle, custom, 0, 0));
                  }
                }
              }
            }
          }
        }
      }
      perId.add(plain);
      perIdSplit.add(split);
    }
    // round-robin over every id's plain and split-K lists together, so that the caps on
    // candidates and checks leave split-K its share (it matters most for the small-M GEMMs of
    // batch 1; visiting all plain configurations first could use up the caps before any split)
    List<List<GemmAlgorithm>> lists = new ArrayList<>();
    for (int i = 0; i < perId.size(); i++) {
      lists.add(perId.get(i));
      lists.add(perIdSplit.get(i));
    }
    int checks = 0;
    int[] next = new int[lists.size()];
    boolean any = true;
    while (any) {
      any = false;
      for (int i = 0; i < lists.size(); i++) {
        if (next[i] >= lists.get(i).size()) {
          continue;
        }
        any = true;
        if (pool.size() >= settings.maxCandidates() || checks >= settings.maxChecks()) {
          return checks;
        }
        checks++;
        addIfAccepted(plan, type, lists.get(i).get(next[i]++), pool);
      }
    }
    return checks;
  }

  private void addIfAccepted(
      MatmulPlan plan, GemmType type, GemmAlgorithm a, Map<GemmAlgorithm, Candidate> pool) {
    if (pool.containsKey(a)) {
      return;
    }
    cublasLtMatmulAlgo_t algo;
    try {
      algo = LtAlgorithms.init(lt, type, a);
    } catch (CudaException e) {
      return; // a configuration value this id does not take
    }
    long ws = plan.check(algo);
    if (ws >= 0 && ws <= settings.maxWorkspaceBytes()) {
      pool.put(a, new Candidate(a, algo, ws));
    }
  }

  /**
   * Mean microseconds per run of {@code runs} runs over rotating operands after {@code warmup}
   * untimed ones; NaN when cuBLASLt refuses to run it.
   */
  private double time(
      MatmulPlan plan,
      cublasLtMatmulAlgo_t algo,
      long workspace,
      Operands ops,
      CudaEvent start,
      CudaEvent end,
      int warmup,
      int runs) {
    return time(i -> ops.run(plan, algo, workspace, i, stream), start, end, warmup, runs);
  }

  /**
   * Where cuBLASLt has no algorithm for the shape (its int8 kernels refuse some): the own kernel's
   * variants alone, in the final pass's interleaved rounds, checked for agreement. The result's
   * "heuristic" is the own kernel's automatic choice; ltBest is null and ltMicros NaN.
   *
   * @throws CudaException when no variant ran
   */
  private Result tuneOwnAlone(
      GemmShape shape, GemmType type, OwnKernel own, Progress progress, GemmKey key, long t0) {
    List<GemmAlgorithm> variants = own.variants();
    try (Operands ops =
            new Operands(shape, type, Epilogue.NONE, settings.maxWorkspaceBytes(), stream);
        CudaEvent start = CudaEvent.create();
        CudaEvent end = CudaEvent.create()) {
      progress.begin(key.toString(), settings.finalRounds());
      double[][] rounds = new double[variants.size()][settings.finalRounds()];
      for (int r = 0; r < settings.finalRounds(); r++) {
        for (int v = 0; v < variants.size(); v++) {
          rounds[v][r] = timeOwn(own, variants.get(v), ops, start, end, 2, settings.finalRuns());
        }
        progress.step();
      }
      boolean[] ran = new boolean[variants.size()];
      for (int v = 0; v < variants.size(); v++) {
        ran[v] = Arrays.stream(rounds[v]).noneMatch(Double::isNaN);
      }
      boolean[] agrees = ownAgreement(own, variants, ran, ops, key);
      int best = -1;
      for (int v = 0; v < variants.size(); v++) {
        if (ran[v] && agrees[v] && (best < 0 || median(rounds[v]) < median(rounds[best]))) {
          best = v;
        }
      }
      if (best < 0) {
        throw new CudaException("neither cuBLASLt nor ft4j's own GEMM ran " + key);
      }
      double bestUs = median(rounds[best]);
      double autoUs = ran[0] ? median(rounds[0]) : bestUs;
      Result result =
          new Result(
              key,
              variants.get(best),
              0,
              bestUs,
              variants.get(0),
              autoUs,
              0,
              0,
              (System.nanoTime() - t0) / 1e9,
              variants.get(best),
              bestUs,
              null,
              Double.NaN);
      LOG.info(
          "{}: {} at {} us (ft4j's automatic choice {} us; cuBLASLt has no algorithm)",
          key,
          result.best(),
          String.format("%.2f", bestUs),
          String.format("%.2f", autoUs));
      return result;
    }
  }

  /**
   * Which of the own kernel's variants that ran give the same output, byte for byte, as the first
   * of them (the automatic plan, the one the GPU tests check against the CPU reference) on the
   * first operand set: every variant computes the same exact int32 sums and the same epilogue, so
   * any difference is a fault of that variant (a kernel never run on this GPU before, for one),
   * which must not be written into a config. Variants that did not run are false.
   */
  private boolean[] ownAgreement(
      OwnKernel own, List<GemmAlgorithm> variants, boolean[] ran, Operands ops, GemmKey key) {
    boolean[] agrees = new boolean[variants.size()];
    DeviceBuffer c = ops.sets.get(0)[2];
    if (c.bytes() > Integer.MAX_VALUE) {
      throw new IllegalArgumentException("GEMM output of " + c.bytes() + " bytes is too large");
    }
    byte[] reference = null;
    GemmAlgorithm referenceVariant = null;
    for (int v = 0; v < variants.size(); v++) {
      if (!ran[v]) {
        continue;
      }
      byte[] got;
      try {
        ops.runOwn(own, variants.get(v), 0, stream);
        stream.synchronize();
        got = c.toByteArray((int) c.bytes());
      } catch (CudaException | UnsupportedOperationException e) {
        LOG.warn("{}: {} failed on its check run: {}", key, variants.get(v), e.getMessage());
        stream.synchronize();
        continue;
      }
      if (reference == null) {
        reference = got;
        referenceVariant = variants.get(v);
        agrees[v] = true;
      } else if (Arrays.equals(reference, got)) {
        agrees[v] = true;
      } else {
        LOG.warn(
            "{}: {} gives a different result from {}: left out of the choice",
            key,
            variants.get(v),
            referenceVariant);
      }
    }
    return agrees;
  }

  /** Like {@link #time} for a variant of {@code own}; NaN when it fails to run. */
  private double timeOwn(
      OwnKernel own,
      GemmAlgorithm variant,
      Operands ops,
      CudaEvent start,
      CudaEvent end,
      int warmup,
      int runs) {
    return time(i -> ops.runOwn(own, variant, i, stream), start, end, warmup, runs);
  }

  /** Mean microseconds per call of {@code run(i)}, i counting on from warm-up; NaN on failure. */
  private double time(
      java.util.function.IntConsumer run, CudaEvent start, CudaEvent end, int warmup, int runs) {
    try {
      for (int i = 0; i < warmup; i++) {
        run.accept(i);
      }
      start.record(stream);
      for (int i = 0; i < runs; i++) {
        run.accept(warmup + i);
      }
      end.record(stream);
      end.synchronize();
      return CudaEvent.elapsedMillis(start, end) * 1000.0 / runs;
    } catch (CudaException
        | UnsupportedOperationException e) { // failed, or a variant that cannot run here
      LOG.debug("candidate failed to run: {}", e.getMessage());
      stream.synchronize();
      return Double.NaN;
    }
  }

  static double median(double[] values) {
    double[] v = values.clone();
    Arrays.sort(v);
    int n = v.length;
    return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
  }

  /**
   * Copies of A, B, C (and the bias) to rotate over, and the workspace: up to 16 sets of their own
   * random values, then as many more copies of those at other addresses (carved from one arena) as
   * it takes for the rotation to span {@link #ROTATION_BYTES}, so that an operand is never still in
   * L2 when its turn comes again, as in the encoder, whose weights over all layers are far larger
   * than L2.
   */
  static final class Operands implements AutoCloseable {
    final List<DeviceBuffer[]> sets = new ArrayList<>();
    final DeviceBuffer workspace;
    private DeviceBuffer arena; // the extra copies' memory (their buffers are views of it)

    /** Sets of distinct random values, and sets in all, for operand sets of setBytes bytes. */
    static int[] copies(long setBytes) {
      long span = (ROTATION_BYTES + setBytes - 1) / setBytes;
      int distinct = (int) Math.max(1, Math.min(16, span));
      int all = (int) Math.max(distinct, Math.min(MAX_COPIES, span));
      return new int[] {distinct, all};
    }

    Operands(
        GemmShape shape, GemmType type, Epilogue epilogue, long workspaceBytes, CudaStream stream) {
      DType in = type.input();
      DType out = type.output();
      long setBytes =
          in.bytes() * (shape.elementsA() + shape.elementsB()) + out.bytes() * shape.elementsC();
      int[] counts = copies(setBytes);
      int copies = counts[0];
      SplittableRandom random = new SplittableRandom(20261123L);
      try {
        workspace = DeviceBuffer.allocate(Math.max(workspaceBytes, 256));
        for (int i = 0; i < copies; i++) {
          DeviceBuffer a = randomBuffer(in, shape.elementsA(), random);
          DeviceBuffer b = null;
          DeviceBuffer c = null;
          DeviceBuffer bias = null;
          try {
            b = randomBuffer(in, shape.elementsB(), random);
            c = DeviceBuffer.allocate(out, shape.elementsC());
            bias = epilogue == Epilogue.NONE ? null : randomBuffer(out, shape.n(), random);
          } catch (RuntimeException e) {
            for (DeviceBuffer d : new DeviceBuffer[] {a, b, c}) {
              if (d != null) {
                d.close();
              }
            }
            throw e;
          }
          sets.add(new DeviceBuffer[] {a, b, c, bias});
        }
        if (counts[1] > copies) {
          addViews(counts[1] - copies, stream);
        }
      } catch (RuntimeException e) {
        close();
        throw e;
      }
    }

    /**
     * {@code extra} more sets: views of one arena, A, B and the bias copied from the first sets.
     */
    private void addViews(int extra, CudaStream stream) {
      DeviceBuffer[] first = sets.get(0);
      long[] sizes = new long[4];
      long per = 0;
      for (int j = 0; j < 4; j++) {
        sizes[j] = first[j] == null ? 0 : (first[j].bytes() + 255) / 256 * 256;
        per += sizes[j];
      }
      arena = DeviceBuffer.allocate(per * extra);
      for (int i = 0; i < extra; i++) {
        DeviceBuffer[] from = sets.get(i % sets.size());
        DeviceBuffer[] set = new DeviceBuffer[4];
        long at = per * i;
        for (int j = 0; j < 4; j++) {
          if (from[j] != null) {
            set[j] = arena.slice(at, from[j].bytes());
            if (j != 2) { // C is only written
              set[j].copyFromAsync(from[j].pointer(), from[j].bytes(), stream);
            }
          }
          at += sizes[j];
        }
        sets.add(set);
      }
      stream.synchronize();
    }

    void runOwn(OwnKernel own, GemmAlgorithm variant, int i, CudaStream stream) {
      DeviceBuffer[] s = sets.get(i % sets.size());
      own.run(variant, s[0], s[1], s[2], stream);
    }

    void run(MatmulPlan plan, cublasLtMatmulAlgo_t algo, long ws, int i, CudaStream stream) {
      DeviceBuffer[] s = sets.get(i % sets.size());
      plan.run(algo, ws, stream, s[0], s[1], s[2], s[3], workspace);
    }

    /** Uniform values in [-1, 1) (FP32, FP16) or [-8, 8] (INT8): random, never zeros. */
    private static DeviceBuffer randomBuffer(DType t, long elements, SplittableRandom r) {
      if (elements > Integer.MAX_VALUE / 4) {
        throw new IllegalArgumentException(
            "GEMM operand of " + elements + " elements is too large");
      }
      int n = (int) elements;
      DeviceBuffer d = DeviceBuffer.allocate(t, ((elements + 3) / 4) * 4);
      try {
        switch (t) {
          case FP32 -> {
            float[] v = new float[n];
            for (int i = 0; i < n; i++) {
              v[i] = (float) r.nextDouble(-1, 1);
            }
            d.copyFrom(v);
          }
          case FP16 -> {
            short[] v = new short[n];
            for (int i = 0; i < n; i++) {
              v[i] = Half.fromFloat((float) r.nextDouble(-1, 1));
            }
            d.copyFrom(v);
          }
          case INT8 -> {
            int[] packed = new int[(n + 3) / 4];
            for (int i = 0; i < packed.length; i++) {
              int w = 0;
              for (int j = 0; j < 4; j++) {
                w |= ((r.nextInt(17) - 8) & 0xFF) << (8 * j);
              }
              packed[i] = w;
            }
            d.copyFrom(packed);
          }
          default -> throw new IllegalArgumentException("no random fill for " + t);
        }
        return d;
      } catch (RuntimeException e) {
        d.close();
        throw e;
      }
    }

    @Override
    public void close() {
      for (DeviceBuffer[] s : sets) {
        for (DeviceBuffer d : s) {
          if (d != null) {
            d.close();
          }
        }
      }
      sets.clear();
      if (arena != null) {
        arena.close();
        arena = null;
      }
      if (workspace != null) {
        workspace.close();
      }
    }
  }
}
