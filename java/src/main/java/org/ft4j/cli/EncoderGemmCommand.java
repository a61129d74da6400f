package org.ft4j.cli;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import me.tongfei.progressbar.ConsoleProgressBarConsumer;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;
import org.ft4j.cuda.CudaDevice;
import org.ft4j.cuda.CudaStream;
import org.ft4j.cuda.DType;
import org.ft4j.encoder.EncoderConfig;
import org.ft4j.encoder.EncoderGemms;
import org.ft4j.encoder.Precision;
import org.ft4j.gemm.CublasLt;
import org.ft4j.gemm.GemmConfigEntry;
import org.ft4j.gemm.GemmConfigFile;
import org.ft4j.gemm.GemmConfigs;
import org.ft4j.gemm.GemmEnvironment;
import org.ft4j.gemm.GemmKey;
import org.ft4j.gemm.GemmTuner;
import org.ft4j.gemm.GemmType;
import org.ft4j.gemm.OwnInt8Gemm;
import org.ft4j.nativeapi.NativeApi;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * FasterTransformer's encoder_gemm: tunes every GEMM the encoder runs at the given shapes and
 * writes the winners to gemm_config.in (igemm_config.in for INT8), keeping the entries already
 * there. batch_size and seq_len also take comma-separated lists, to tune a table of shapes into one
 * file; GEMMs shared by several shapes are tuned once.
 */
@Command(
    name = "encoder-gemm",
    aliases = "encoder_gemm",
    mixinStandardHelpOptions = true,
    description = {
      "Tunes the encoder's cuBLASLt GEMMs (FasterTransformer's encoder_gemm) and writes"
          + " gemm_config.in (int8_mode 0) or igemm_config.in (int8_mode 1 or 2).",
      "The encoder loads the file from --gemm-config, else from the working directory, else from"
          + " the configs shipped for the GPU. Format: gemm-configs/README.md."
    })
public final class EncoderGemmCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Parameters(index = "0", paramLabel = "batch_size", description = "e.g. 32, or 1,8,32")
  String batchSizes;

  @Parameters(index = "1", paramLabel = "seq_len", description = "e.g. 128, or 32,128,384")
  String seqLens;

  @Parameters(index = "2", paramLabel = "head_number")
  int headNumber;

  @Parameters(index = "3", paramLabel = "size_per_head")
  int sizePerHead;

  @Parameters(index = "4", paramLabel = "is_use_fp16", description = "0 = FP32, 1 = FP16")
  int isUseFp16;

  @Parameters(
      index = "5",
      paramLabel = "int8_mode",
      description =
          "0; 1 (int8 -> int32 GEMMs) or 2 (int8 -> int8 GEMMs) tune the four linear GEMMs of the"
              + " INT8 encoder with cuBLASLt into igemm_config.in")
  int int8Mode;

  @Option(
      names = "--intermediate",
      description = "FFN width (default 4 x head_number x size_per_head)")
  Integer intermediate;

  @Option(
      names = {"-o", "--output"},
      description =
          "config file or folder to update (default: gemm_config.in / igemm_config.in in the"
              + " working directory)")
  Path output;

  @Option(
      names = "--attention",
      defaultValue = "auto",
      description =
          "which attention the encoder will run, deciding whether the batched attention GEMMs are"
              + " tuned: auto (as the encoder decides on this GPU), fused (no batched GEMMs) or"
              + " unfused")
  String attention;

  @Option(names = "--allow-tf32", description = "FP32: tune the TF32 GEMMs (encoder --allow-tf32)")
  boolean allowTf32;

  @Option(
      names = "--gelu-epilogue",
      description =
          "FP32/FP16: tune FFN1 with cuBLASLt's bias + GELU (tanh) epilogue, as the encoder runs it"
              + " with --gelu-epilogue (a separate config line)")
  boolean geluEpilogue;

  @Option(
      names = "--seconds-per-gemm",
      defaultValue = "10",
      description = "first-pass time budget per GEMM (default ${DEFAULT-VALUE})")
  double secondsPerGemm;

  @Option(names = "--max-candidates", defaultValue = "1500", description = "per GEMM")
  int maxCandidates;

  @Option(names = "--device", defaultValue = "0", description = "CUDA device ordinal")
  int device;

  @Option(names = "--no-progress", description = "no progress bar on stderr")
  boolean noProgress;

  /** One GEMM to tune and the first (batch, seq) that needs it. */
  record Job(int batch, int seq, EncoderGemms.Gemm gemm, GemmType type) {}

  @Override
  public Integer call() {
    PrintWriter out = spec.commandLine().getOut();
    PrintWriter err = spec.commandLine().getErr();
    List<Integer> batches = positiveList("batch_size", batchSizes);
    List<Integer> seqs = positiveList("seq_len", seqLens);
    requireAtLeast("head_number", headNumber, 1);
    requireAtLeast("size_per_head", sizePerHead, 1);
    Precision precision = Precision.fromFasterTransformerFlags(isUseFp16, int8Mode);
    if (intermediate != null) {
      requireAtLeast("--intermediate", intermediate, 1);
    }
    if (!(secondsPerGemm > 0)) {
      throw new IllegalArgumentException(
          "--seconds-per-gemm = " + secondsPerGemm + ", must be > 0");
    }
    requireAtLeast("--max-candidates", maxCandidates, 1);
    String att = attention.toLowerCase(Locale.ROOT);
    if (!List.of("auto", "fused", "unfused").contains(att)) {
      throw new IllegalArgumentException(
          "--attention " + attention + ": expected auto, fused or unfused");
    }
    if (allowTf32 && precision != Precision.FP32) {
      throw new IllegalArgumentException("--allow-tf32 applies to FP32 (is_use_fp16 = 0) only");
    }
    if (geluEpilogue && precision.isInt8()) {
      throw new IllegalArgumentException(
          "--gelu-epilogue applies to FP32 and FP16 (int8_mode = 0) only");
    }
    EncoderConfig base = EncoderConfig.of(1, headNumber, sizePerHead, Precision.FP32);
    EncoderConfig config =
        new EncoderConfig(
            1,
            headNumber,
            sizePerHead,
            base.hidden(),
            intermediate != null ? intermediate : base.intermediateSize(),
            base.layerNormEps(),
            precision);
    if (!CudaDevice.isAvailable()) {
      err.println("error: no usable CUDA device: " + CudaDevice.unavailableReason());
      return 1;
    }
    CudaDevice dev = CudaDevice.open(device);
    dev.makeCurrent();
    boolean int8 = precision == Precision.INT8_MODE_1 || precision == Precision.INT8_MODE_2;
    GemmType type =
        switch (precision) {
          case FP32 -> allowTf32 ? GemmType.TF32 : GemmType.FP32;
          case FP16 -> GemmType.FP16;
          case INT8_MODE_1 -> GemmType.I8I32;
          case INT8_MODE_2 -> GemmType.I8I8;
        };
    if (int8 && "unfused".equals(att)) {
      err.println(
          "note: --attention unfused does not apply to int8_mode > 0: the INT8 encoders always run"
              + " the fused attention (no attention GEMMs to tune)");
    }
    boolean fused = int8 || fusedAttention(att, precision, config);
    List<Job> jobs = jobs(config, batches, seqs, fused, type, geluEpilogue);
    GemmEnvironment env = GemmEnvironment.of(dev);
    GemmConfigs configs = GemmConfigs.load(env, output, Path.of("").toAbsolutePath());
    out.printf("[INFO] device %s, cuBLASLt %d%n", dev, env.cublasLt());
    out.printf(
        Locale.ROOT,
        "[INFO] tuning %d %s GEMMs (%s attention) for batch %s x seq %s, hidden %d, intermediate"
            + " %d; existing config: %s%n",
        jobs.size(),
        type.label(),
        fused ? "fused" : "unfused",
        batches,
        seqs,
        config.hidden(),
        config.intermediateSize(),
        configs.describe(type));
    if (precision == Precision.INT8_MODE_2) {
      out.printf(
          "[INFO] note: the int8_mode 2 encoder runs its linear GEMMs on ft4j's own INT8 GEMM only"
              + " (its int8 outputs are scaled per token, which cuBLASLt cannot do): each linear"
              + " GEMM's line holds the own GEMM's fastest variant, cuBLASLt's int8 -> int8 time"
              + " is printed for comparison%n");
    }
    out.printf(
        "%-9s %-34s %10s %10s %7s  %s%n",
        "op", "GEMM", "heur. us", "tuned us", "gain", "algorithm (candidates timed / checked)");
    out.flush();
    GemmTuner.Settings settings =
        GemmTuner.Settings.defaults()
            .withSecondsPerGemm(secondsPerGemm)
            .withMaxCandidates(maxCandidates);
    List<GemmConfigEntry> entries = new ArrayList<>();
    long t0 = System.nanoTime();
    try (CublasLt lt = CublasLt.create();
        CudaStream stream = CudaStream.create()) {
      GemmTuner tuner = new GemmTuner(lt, stream, settings);
      try {
        tuneAll(jobs, tuner, entries, out, noProgress);
      } catch (RuntimeException e) {
        if (!entries.isEmpty()) { // what was tuned before the failure is kept
          configs.save(entries);
          err.println("note: saved the " + entries.size() + " GEMMs tuned before the failure");
        }
        throw e;
      }
    }
    List<Path> written = configs.save(entries);
    double heuristic = entries.stream().mapToDouble(GemmConfigEntry::heuristicMicros).sum();
    double tuned = entries.stream().mapToDouble(GemmConfigEntry::timeMicros).sum();
    out.printf(
        Locale.ROOT,
        "[INFO] sum over the tuned GEMMs: heuristic %.2f us, tuned %.2f us (%.1f%% faster); %.1f s%n",
        heuristic,
        tuned,
        100 * (heuristic - tuned) / heuristic,
        (System.nanoTime() - t0) / 1e9);
    for (Path p : written) {
      out.printf("[INFO] wrote %s (%d entries for this GPU)%n", p, GemmConfigFile.read(p).size());
    }
    for (String m : configs.messages()) {
      err.println("note: " + m);
    }
    return 0;
  }

  /** Tunes each job in turn, adding its line to {@code entries} as soon as it is done. */
  private static void tuneAll(
      List<Job> jobs,
      GemmTuner tuner,
      List<GemmConfigEntry> entries,
      PrintWriter out,
      boolean noProgress) {
    for (Job j : jobs) {
      GemmTuner.Result r;
      try (Bar bar = new Bar(noProgress, j.gemm().op())) {
        r =
            ownCompetes(j)
                ? OwnInt8Gemm.tuneLinear(tuner, j.gemm().shape(), j.type(), j.gemm().alpha(), bar)
                : tuner.tune(j.gemm().shape(), j.type(), j.gemm().epilogue(), alphaFor(j), bar);
      }
      if (j.type() == GemmType.I8I8 && r.best().isFt4jOwn() && r.ltBest() != null) {
        // the mode-2 encoder runs only ft4j's GEMM: its best variant is the line
        out.printf(
            Locale.ROOT,
            "%-9s cuBLASLt int8 -> int8 for comparison: %.2f us (%s)%n",
            j.gemm().op(),
            r.ltMicros(),
            r.ltBest());
      }
      entries.add(r.entry(j.batch(), j.seq(), j.gemm().op()));
      out.printf(
          Locale.ROOT,
          "%-9s %-34s %10.2f %10.2f %6.1f%%  %s (%d / %d)%n",
          j.gemm().op(),
          GemmKey.of(j.gemm().shape(), j.type(), j.gemm().epilogue()),
          r.heuristicMicros(),
          r.micros(),
          100 * (r.heuristicMicros() - r.micros()) / r.heuristicMicros(),
          r.best(),
          r.timed(),
          r.checked());
      out.flush();
    }
  }

  /**
   * Whether ft4j's own INT8 GEMM competes for a job ({@link OwnInt8Gemm#tuneLinear}): the linear
   * GEMMs of the INT8 modes (i8i32, i8i8), not the attention GEMMs nor float types.
   */
  static boolean ownCompetes(Job j) {
    return (j.type() == GemmType.I8I32 || j.type() == GemmType.I8I8)
        && !EncoderGemms.isAttention(j.gemm());
  }

  /** The GEMMs of every (batch, seq), each distinct GEMM once, in first-seen order. */
  static List<Job> jobs(
      EncoderConfig config,
      List<Integer> batches,
      List<Integer> seqs,
      boolean fused,
      GemmType type) {
    return jobs(config, batches, seqs, fused, type, false);
  }

  /** As above; with {@code geluEpilogue} ffn1 is tuned with cuBLASLt's bias + GELU epilogue. */
  static List<Job> jobs(
      EncoderConfig config,
      List<Integer> batches,
      List<Integer> seqs,
      boolean fused,
      GemmType type,
      boolean geluEpilogue) {
    Map<GemmKey, Job> unique = new LinkedHashMap<>();
    for (int b : batches) {
      for (int s : seqs) {
        long rows = (long) b * s;
        if (rows > Integer.MAX_VALUE / Math.max(1, config.intermediateSize())) {
          throw new IllegalArgumentException(
              "batch " + b + " x seq " + s + " is too large to tune (" + rows + " rows)");
        }
        for (EncoderGemms.Gemm g : EncoderGemms.of(config, b, s, (int) rows, fused, geluEpilogue)) {
          unique.putIfAbsent(GemmKey.of(g.shape(), type, g.epilogue()), new Job(b, s, g, type));
        }
      }
    }
    return new ArrayList<>(unique.values());
  }

  /** The alpha tuned with: INT8 -> INT8 needs a fractional scale (any value times the same). */
  private static float alphaFor(Job j) {
    return j.type() == GemmType.I8I8 ? OwnInt8Gemm.I8I8_ALPHA : j.gemm().alpha();
  }

  private static boolean fusedAttention(String att, Precision p, EncoderConfig c) {
    if (att.equals("unfused")) {
      return false;
    }
    DType t = p == Precision.FP32 ? DType.FP32 : DType.FP16;
    NativeApi.AttentionPath path = NativeApi.fusedAttentionPath(t, c.heads(), c.sizePerHead());
    if (path == NativeApi.AttentionPath.NONE) {
      return false;
    }
    return att.equals("fused") || path.tensorCores();
  }

  static List<Integer> positiveList(String name, String text) {
    List<Integer> values = new ArrayList<>();
    for (String part : text.split(",", -1)) {
      int v;
      try {
        v = Integer.parseInt(part.strip());
      } catch (NumberFormatException e) {
        throw new IllegalArgumentException(
            name + " '" + text + "': '" + part + "' is not an integer (give N or N,M,...)");
      }
      requireAtLeast(name, v, 1);
      if (!values.contains(v)) {
        values.add(v);
      }
    }
    return values;
  }

  private static void requireAtLeast(String name, int value, int min) {
    if (value < min) {
      throw new IllegalArgumentException(name + " = " + value + ", must be >= " + min);
    }
  }

  /** The tuner's progress on a console progress bar (stderr), or nothing. */
  private static final class Bar implements GemmTuner.Progress, AutoCloseable {
    private final boolean off;
    private final String op;
    private ProgressBar bar;

    Bar(boolean off, String op) {
      this.off = off;
      this.op = op;
    }

    @Override
    public void begin(String gemm, int steps) {
      if (!off) {
        bar =
            new ProgressBarBuilder()
                .setTaskName(op)
                .setInitialMax(steps)
                .setStyle(ProgressBarStyle.ASCII)
                .setConsumer(new ConsoleProgressBarConsumer(System.err))
                .clearDisplayOnFinish()
                .build();
      }
    }

    @Override
    public void step() {
      if (bar != null) {
        bar.step();
      }
    }

    @Override
    public void close() {
      if (bar != null) {
        bar.close();
      }
    }
  }
}
