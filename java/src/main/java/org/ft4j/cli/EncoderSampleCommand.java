package org.ft4j.cli;

import java.io.PrintWriter;
import java.util.Arrays;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;
import org.ft4j.cpu.CpuEncoder;
import org.ft4j.cuda.CudaDevice;
import org.ft4j.cuda.CudaEvent;
import org.ft4j.cuda.DType;
import org.ft4j.cuda.DeviceBuffer;
import org.ft4j.encoder.BertEncoder;
import org.ft4j.encoder.Encoder;
import org.ft4j.encoder.EncoderConfig;
import org.ft4j.encoder.EncoderWeights;
import org.ft4j.encoder.Precision;
import org.ft4j.nativeapi.NativeApi;
import org.ft4j.quant.CalibrationMethod;
import org.ft4j.quant.Calibrator;
import org.ft4j.quant.QuantizedReference;
import org.ft4j.quant.ScaleSet;
import org.ft4j.reference.ReferenceEncoder;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * FasterTransformer's encoder_sample: random weights and inputs, warm-up, then timed iterations.
 * Arguments in FasterTransformer's order.
 */
@Command(
    name = "encoder-sample",
    aliases = "encoder_sample",
    mixinStandardHelpOptions = true,
    description = {
      "Times the BERT encoder stack on random weights (FasterTransformer's encoder_sample).",
      "Padded mode uses full-length sequences. ft4j-time is the device time of one device-buffer"
          + " forward (no host copies), from CUDA events the encoder records on its own stream"
          + " around its operations, averaged over the timed iterations; the wall-clock latency"
          + " of a synchronous forward is printed beside it."
    })
public final class EncoderSampleCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Parameters(index = "0", paramLabel = "batch_size")
  int batchSize;

  @Parameters(index = "1", paramLabel = "num_layers")
  int numLayers;

  @Parameters(index = "2", paramLabel = "seq_len")
  int seqLen;

  @Parameters(index = "3", paramLabel = "head_number")
  int headNumber;

  @Parameters(index = "4", paramLabel = "size_per_head")
  int sizePerHead;

  @Parameters(index = "5", paramLabel = "is_use_fp16", description = "0 = FP32, 1 = FP16")
  int isUseFp16;

  @Parameters(
      index = "6",
      paramLabel = "is_remove_padding",
      description =
          "1: random lengths, uniform in [1, seq_len] (seeded with --seed + 1; mean (seq_len + 1)"
              + " / 2), and every layer runs on the valid tokens only; 0: full-length sequences")
  int isRemovePadding;

  @Parameters(
      index = "7",
      paramLabel = "int8_mode",
      description =
          "0: FP32/FP16; 1: INT8 mode 1 (int8 weights per channel and GEMM inputs, FP16 between"
              + " GEMMs); 2: INT8 mode 2 (int8 GEMM outputs and residual as well; ft4j's own INT8"
              + " GEMM). INT8 scales are calibrated on random hidden states (see --int8-scales)")
  int int8Mode;

  @Parameters(
      index = "8",
      paramLabel = "allow_gemm_test",
      description =
          "1: GEMMs without a tuned entry in the GEMM config are tuned on first use and appended to"
              + " it (gemm_config.in / igemm_config.in in the working directory unless"
              + " --gemm-config): the FP32/FP16 GEMMs on cuBLASLt's candidates, the INT8 linear"
              + " GEMMs on cuBLASLt's and ft4j's own INT8 GEMM's as encoder_gemm does (mode 2"
              + " keeps the own GEMM's best variant; --int8-gemm cublaslt: cuBLASLt only); 0: they"
              + " use the entry tuned for the nearest M, else cuBLASLt's heuristic")
  int allowGemmTest;

  @Option(
      names = "--gemm-config",
      description =
          "tuned GEMM config file or folder (default: gemm_config.in in the working directory,"
              + " else the config shipped for this GPU)")
  java.nio.file.Path gemmConfig;

  @Option(
      names = "--backend",
      defaultValue = "gpu",
      description =
          "gpu; cpu (float32; SIMD with java --add-modules jdk.incubator.vector; the INT8 modes"
              + " as the fake-quantized float64 reference); or reference (the float64 CPU oracle)")
  String backend;

  @Option(names = "--iterations", description = "timed iterations (default: 100 on gpu, 1 on cpu)")
  Integer iterations;

  @Option(
      names = "--warmup",
      description = "untimed iterations first (default: 10 on gpu, 0 on cpu)")
  Integer warmup;

  @Option(
      names = "--seed",
      defaultValue = "1234",
      description = "seed of the random weights and inputs")
  long seed;

  @Option(
      names = "--int8-scales",
      description =
          "INT8 scale file (ft4j-int8-scales 1) for int8_mode 1 or 2; default: calibrated on"
              + " random hidden states of the random model (percentile 99.99, smoothing 0.75)")
  java.nio.file.Path int8Scales;

  @Option(
      names = "--int8-gemm",
      defaultValue = "auto",
      description =
          "int8_mode 1 on the GPU: the GEMM of the linear layers: auto (what igemm_config.in says,"
              + " else cuBLASLt where it takes the shape, else ft4j's own), own (ft4j's INT8 GEMM)"
              + " or cublaslt; int8_mode 2 always runs ft4j's own (cublaslt is rejected)")
  String int8Gemm;

  @Option(names = "--device", defaultValue = "0", description = "CUDA device ordinal")
  int device;

  @Option(
      names = "--no-cuda-graph",
      description = "launch every kernel instead of replaying a CUDA graph")
  boolean noCudaGraph;

  @Option(names = "--allow-tf32", description = "FP32 only: let the GEMMs use TF32 tensor cores")
  boolean allowTf32;

  @Option(
      names = "--gelu-epilogue",
      description =
          "FP32/FP16: bias + GELU of the feed-forward layer in cuBLASLt's GEMM epilogue (tanh"
              + " approximation of GELU) instead of ft4j's erf GELU kernel")
  boolean geluEpilogue;

  @Option(
      names = "--attention",
      defaultValue = "auto",
      description =
          "auto (fused kernel where it runs on tensor cores, else unfused), fused or unfused")
  String attention;

  @Override
  public Integer call() {
    PrintWriter out = spec.commandLine().getOut();
    PrintWriter err = spec.commandLine().getErr();
    requireAtLeast("batch_size", batchSize, 1);
    requireAtLeast("num_layers", numLayers, 1);
    requireAtLeast("seq_len", seqLen, 1);
    requireAtLeast("head_number", headNumber, 1);
    requireAtLeast("size_per_head", sizePerHead, 1);
    requireFlag("is_remove_padding", isRemovePadding);
    requireFlag("allow_gemm_test", allowGemmTest);
    Precision precision = Precision.fromFasterTransformerFlags(isUseFp16, int8Mode);
    EncoderConfig config = EncoderConfig.of(numLayers, headNumber, sizePerHead, precision);
    boolean gpu;
    switch (backend.toLowerCase(Locale.ROOT)) {
      case "gpu" -> gpu = true;
      case "cpu" -> {
        gpu = false;
        reference = int8Mode != 0;
      }
      case "reference" -> {
        gpu = false;
        reference = true;
      }
      default ->
          throw new IllegalArgumentException(
              "--backend " + backend + ": expected gpu, cpu or reference");
    }
    if (geluEpilogue && !gpu && !reference) {
      throw new IllegalArgumentException(
          "--gelu-epilogue applies to the gpu and reference backends (the cpu encoder computes"
              + " the exact erf GELU only)");
    }
    int timed = iterations != null ? iterations : gpu ? 100 : 1;
    int warm = warmup != null ? warmup : gpu ? 10 : 0;
    if (gpu && warm < 2 && !noCudaGraph) {
      err.println(
          "warning: --warmup "
              + warm
              + ": a shape's CUDA graph is captured on its second forward, so the timed"
              + " iterations include the capture (use --warmup 2 or more)");
    }
    requireAtLeast("--iterations", timed, 1);
    requireAtLeast("--warmup", warm, 0);
    if (geluEpilogue && int8Mode != 0) {
      throw new IllegalArgumentException(
          "--gelu-epilogue applies to FP32 and FP16 (int8_mode = 0) only: the INT8 modes fuse"
              + " their GELU into the dequantize / quantize kernel");
    }
    if (int8Mode == 0 && int8Scales != null) {
      throw new IllegalArgumentException("--int8-scales applies to int8_mode 1 and 2 only");
    }
    int[] lengths = sequenceLengths(batchSize, seqLen, isRemovePadding == 1, seed);
    this.tokens = Arrays.stream(lengths).sum();
    float[] input = randomInput(config, batchSize, seqLen, seed);
    if (gpu) {
      if (!CudaDevice.isAvailable()) {
        err.println(
            "error: no usable CUDA device: "
                + CudaDevice.unavailableReason()
                + ". Run with --backend cpu to use the CPU encoder.");
        return 1;
      }
      return runGpu(out, config, lengths, input, timed, warm);
    }
    if (allowGemmTest == 1 || gemmConfig != null) {
      err.println("note: allow_gemm_test and --gemm-config apply to the GPU backend only");
    }
    if (isUseFp16 == 1 && int8Mode == 0) {
      err.println(
          "note: is_use_fp16 applies to the GPU backend only; the "
              + (reference ? "reference computes in float64" : "cpu encoder computes in float32"));
    }
    return runCpu(out, config, lengths, input, timed, warm);
  }

  /**
   * FasterTransformer's convention: with padding removal the sequences get random lengths (here
   * uniform in [1, seq], from SplittableRandom(seed + 1), so runs are reproducible), else all are
   * full.
   */
  static int[] sequenceLengths(int batch, int seq, boolean random, long seed) {
    int[] lengths = new int[batch];
    Arrays.fill(lengths, seq);
    if (random) {
      java.util.SplittableRandom r = new java.util.SplittableRandom(seed + 1);
      for (int b = 0; b < batch; b++) {
        lengths[b] = 1 + r.nextInt(seq);
      }
    }
    return lengths;
  }

  private BertEncoder.Int8Gemm int8GemmChoice() {
    try {
      return BertEncoder.Int8Gemm.valueOf(int8Gemm.toUpperCase(Locale.ROOT));
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(
          "--int8-gemm " + int8Gemm + ": expected auto, own or cublaslt");
    }
  }

  private BertEncoder.Attention attentionChoice() {
    switch (attention.toLowerCase(Locale.ROOT)) {
      case "auto":
        return BertEncoder.Attention.AUTO;
      case "fused":
        return BertEncoder.Attention.FUSED;
      case "unfused":
        return BertEncoder.Attention.UNFUSED;
      default:
        throw new IllegalArgumentException(
            "--attention " + attention + ": expected auto, fused or unfused");
    }
  }

  private int runGpu(
      PrintWriter out, EncoderConfig config, int[] lengths, float[] input, int timed, int warm) {
    BertEncoder.Options options =
        BertEncoder.Options.defaults()
            .withDevice(device)
            .withCudaGraphs(!noCudaGraph)
            .withAllowTf32(allowTf32)
            .withAttention(attentionChoice())
            .withRemovePadding(isRemovePadding == 1)
            .withGemmConfig(gemmConfig)
            .withTuneGemms(allowGemmTest == 1)
            .withInt8Gemm(int8GemmChoice())
            .withGeluEpilogue(geluEpilogue);
    EncoderWeights weights = EncoderWeights.random(config, seed);
    ScaleSet scales = int8Mode == 0 ? null : int8Scales(weights, out);
    try (BertEncoder encoder =
        scales == null
            ? BertEncoder.create(weights, options)
            : BertEncoder.create(weights, scales, options)) {
      CudaDevice dev = encoder.device();
      String attention =
          encoder.usesFusedAttention()
              ? "fused attention ("
                  + NativeApi.fusedAttentionPath(
                          encoder.storageType(), config.heads(), config.sizePerHead())
                      .name()
                      .toLowerCase(Locale.ROOT)
                  + ")"
              : "unfused attention";
      printHeader(
          out,
          "gpu: " + dev + ", ft4j native " + NativeApi.version() + ", " + attention,
          config,
          timed,
          warm);
      DType t = encoder.storageType();
      long elements = (long) batchSize * seqLen * config.hidden();
      try (DeviceBuffer staging = DeviceBuffer.of(input);
          DeviceBuffer x = DeviceBuffer.allocate(t, elements);
          DeviceBuffer y = DeviceBuffer.allocate(t, elements);
          CudaEvent start = CudaEvent.create();
          CudaEvent end = CudaEvent.create();
          org.ft4j.cuda.CudaStream s = org.ft4j.cuda.CudaStream.create()) {
        NativeApi.convert(t, x, DType.FP32, staging, elements, s);
        s.synchronize();
        for (int i = 0; i < warm; i++) {
          encoder.forward(x, lengths, batchSize, seqLen, y);
        }
        // device time of each forward, from events the encoder records on its own stream around
        // its operations (the forward itself synchronises at its end)
        encoder.timeForwards(start, end);
        double deviceMs = 0;
        long hostNanos = 0;
        long wall0 = System.nanoTime();
        for (int i = 0; i < timed; i++) {
          encoder.forward(x, lengths, batchSize, seqLen, y);
          hostNanos += encoder.lastEnqueueNanos();
          deviceMs += CudaEvent.elapsedMillis(start, end);
        }
        long wallNanos = System.nanoTime() - wall0;
        encoder.timeForwards(null, null);
        double ms = deviceMs / timed;
        out.printf(
            Locale.ROOT,
            "[INFO] host-side cost per forward: %.1f us (checks, lengths upload, %s)%n",
            hostNanos / 1e3 / timed,
            noCudaGraph ? "every kernel launch" : "CUDA graph launch");
        out.printf(
            Locale.ROOT,
            "[INFO] latency of one synchronous forward (wall clock, host work and wake-up"
                + " included): %.3f ms%n",
            wallNanos / 1e6 / timed);
        out.printf(
            Locale.ROOT,
            "[INFO] GPU memory: %.1f MiB held by the encoder, %.1f MiB in use on the device%n",
            encoder.deviceMemoryBytes() / 1048576.0,
            dev.memoryUsed() / 1048576.0);
        out.printf("[INFO] GEMM algorithms: %s%n", encoder.gemmConfigSource());
        printResult(out, "ft4j-time", ms, timed);
      }
    }
    return 0;
  }

  private int runCpu(
      PrintWriter out, EncoderConfig config, int[] lengths, float[] input, int timed, int warm) {
    EncoderWeights weights = EncoderWeights.random(config, seed);
    ScaleSet scales = int8Mode == 0 ? null : int8Scales(weights, out);
    String what;
    Encoder encoder;
    if (reference) {
      ReferenceEncoder plain = new ReferenceEncoder(weights);
      encoder =
          scales == null
              ? (geluEpilogue ? plain.withTanhGelu() : plain)
              : QuantizedReference.of(weights, scales, config.precision());
      what =
          "cpu: float64 reference encoder"
              + (scales == null ? "" : " (fake-quantized " + config.precision().label() + ")");
    } else {
      CpuEncoder cpu = new CpuEncoder(weights);
      encoder = cpu;
      what = "cpu: float32 encoder, " + cpu.kernels() + " kernels";
    }
    try (encoder) {
      printHeader(
          out,
          what + ", " + Runtime.getRuntime().availableProcessors() + " cores",
          config,
          timed,
          warm);
      for (int i = 0; i < warm; i++) {
        encoder.forward(input, lengths, batchSize, seqLen);
      }
      long t0 = System.nanoTime();
      for (int i = 0; i < timed; i++) {
        encoder.forward(input, lengths, batchSize, seqLen);
      }
      double ms = (System.nanoTime() - t0) / 1e6 / timed;
      printResult(out, "ft4j-cpu-time", ms, timed);
    }
    return 0;
  }

  private int tokens;
  private boolean reference; // the float64 reference encoder on the CPU

  /**
   * The --int8-scales file, checked against the model; else scales calibrated on random hidden
   * states drawn like the input (seed + 2, one sequence of min(seq_len, 32) tokens) by the float64
   * reference, as {@code ft4j calibrate} does with text.
   */
  private ScaleSet int8Scales(EncoderWeights weights, PrintWriter out) {
    EncoderConfig c = weights.config();
    if (int8Scales != null) {
      ScaleSet s = ScaleSet.read(int8Scales);
      s.require(c, c.precision());
      out.printf("[INFO] INT8 scales: %s (%s)%n", int8Scales, s.source());
      return s;
    }
    int n = Math.min(seqLen, 32);
    long t0 = System.nanoTime();
    ScaleSet s =
        Calibrator.calibrateOnHiddenStates(
            weights,
            randomInput(c, 1, n, seed + 2),
            new int[] {n},
            1,
            n,
            Calibrator.DEFAULT_ALPHA,
            CalibrationMethod.DEFAULT,
            "encoder_sample random model (seed " + seed + "), " + n + " random tokens");
    out.printf(
        Locale.ROOT,
        "[INFO] INT8 scales: calibrated on %d random tokens (%s, smoothing %.2f) in %.1f s%n",
        n,
        CalibrationMethod.DEFAULT.label(),
        Calibrator.DEFAULT_ALPHA,
        (System.nanoTime() - t0) / 1e9);
    return s;
  }

  private void printHeader(PrintWriter out, String device, EncoderConfig c, int timed, int warm) {
    out.printf("[INFO] device %s%n", device);
    out.printf(
        Locale.ROOT,
        "[INFO] config batch_size %d seq_len %d layers %d heads %d size_per_head %d hidden %d"
            + " intermediate %d precision %s remove_padding %d int8_mode %d (warm-up %d, timed %d,"
            + " seed %d)%n",
        batchSize,
        seqLen,
        c.layers(),
        c.heads(),
        c.sizePerHead(),
        c.hidden(),
        c.intermediateSize(),
        c.precision().label(),
        isRemovePadding,
        int8Mode,
        warm,
        timed,
        seed);
    if (isRemovePadding == 1) {
      out.printf(
          Locale.ROOT,
          "[INFO] valid tokens %d of %d (mean length %.1f)%n",
          tokens,
          batchSize * seqLen,
          tokens / (double) batchSize);
    }
  }

  private void printResult(PrintWriter out, String label, double ms, int timed) {
    out.printf(
        Locale.ROOT,
        "[INFO] batch_size %d seq_len %d layer %d %s %.2f ms (%d iterations)%n",
        batchSize,
        seqLen,
        numLayers,
        label,
        ms,
        timed);
    out.flush();
  }

  static float[] randomInput(EncoderConfig c, int batch, int seq, long seed) {
    SplittableRandom r = new SplittableRandom(seed ^ 0x5DEECE66DL);
    float[] x = new float[Math.multiplyExact(Math.multiplyExact(batch, seq), c.hidden())];
    for (int i = 0; i < x.length; i++) {
      x[i] = (float) r.nextDouble(-1, 1);
    }
    return x;
  }

  private static void requireAtLeast(String name, int value, int min) {
    if (value < min) {
      throw new IllegalArgumentException(name + " = " + value + ", must be >= " + min);
    }
  }

  private static void requireFlag(String name, int value) {
    if (value != 0 && value != 1) {
      throw new IllegalArgumentException(name + " = " + value + ", must be 0 or 1");
    }
  }
}
