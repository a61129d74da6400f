package org.ft4j.encoder;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.ft4j.cuda.CudaDevice;
import org.ft4j.cuda.CudaEvent;
import org.ft4j.cuda.CudaException;
import org.ft4j.cuda.CudaGraph;
import org.ft4j.cuda.CudaStream;
import org.ft4j.cuda.DType;
import org.ft4j.cuda.DeviceBuffer;
import org.ft4j.cuda.PinnedHostBuffer;
import org.ft4j.gemm.CublasLt;
import org.ft4j.gemm.Epilogue;
import org.ft4j.gemm.GemmConfigEntry;
import org.ft4j.gemm.GemmConfigException;
import org.ft4j.gemm.GemmConfigs;
import org.ft4j.gemm.GemmEnvironment;
import org.ft4j.gemm.GemmKey;
import org.ft4j.gemm.GemmShape;
import org.ft4j.gemm.GemmTuner;
import org.ft4j.gemm.GemmType;
import org.ft4j.gemm.MatmulPlan;
import org.ft4j.gemm.OwnInt8Gemm;
import org.ft4j.nativeapi.Int8Output;
import org.ft4j.nativeapi.NativeApi;
import org.ft4j.nativeapi.NativeApi.Int8GemmOut;
import org.ft4j.quant.Calibrator;
import org.ft4j.quant.Int8EncoderWeights;
import org.ft4j.quant.ScaleSet;
import org.ft4j.quant.ScaleSetException;
import org.ft4j.reference.ActivationHook;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The BERT encoder stack on a CUDA GPU: FP32, FP16, INT8 mode 1 or INT8 mode 2.
 *
 * <p>One layer, x: [tokens = batch * seq, hidden]:
 *
 * <pre>
 *   qkv    = x Wqkv^T                      cuBLASLt, Wqkv = [Wq; Wk; Wv]  [tokens, 3 hidden]
 *   q,k,v  = split(qkv + bqkv)             kernel                          [batch, heads, seq, d]
 *   p      = softmax(q k^T / sqrt d)       cuBLASLt batched + masked softmax kernel
 *   ctx    = merge(p v)                    cuBLASLt batched + merge kernel [tokens, hidden]
 *   a      = LN(ctx Wo^T + bo + x)         cuBLASLt + add bias/residual/layernorm kernel
 *   h      = gelu(a Wi^T + bi)             cuBLASLt + add bias/GELU kernel [tokens, intermediate]
 *   x      = LN(h Wo2^T + bo2 + a)         cuBLASLt + add bias/residual/layernorm kernel
 * </pre>
 *
 * Biases are added by the kernel that runs after each GEMM anyway (split, layernorm, GELU), which
 * costs no extra pass over memory. cuBLASLt's GELU epilogue is the tanh approximation, not BERT's
 * erf GELU, so it runs only when asked for ({@link Options#geluEpilogue()}: then the FFN1 GEMM adds
 * bi and applies GELU itself and the GELU kernel is skipped). After the last layer, padded
 * positions are set to 0.
 *
 * <p><b>Thread safety:</b> an encoder is safe to share between threads; its forward methods are
 * synchronized, so concurrent calls run one after another on the encoder's own CUDA stream. For
 * parallel inference, create one encoder per worker (each holds its own copy of the weights).
 *
 * <p><b>GEMM algorithms</b> come from a tuned GEMM config where one matches this GPU, cuBLASLt
 * version and GEMM (see {@link GemmConfigs} and {@code ft4j encoder_gemm}), else from cuBLASLt's
 * heuristic.
 *
 * <p><b>INT8 modes 1 and 2</b> ({@link #create(EncoderWeights, ScaleSet, Options)}): int8 GEMM
 * weights per output channel (after SmoothQuant smoothing), GEMM inputs int8 per token, ft4j's own
 * INT8 GEMM (or cuBLASLt's in mode 1), FP16 attention, residual and layernorm (mode 2: int8 GEMM
 * outputs and residual); see {@link #enqueueInt8Layer}, {@link #enqueueInt8Mode2Layer} and
 * docs/int8.md. Their oracle is {@link org.ft4j.quant.QuantizedReference}. Never run on a GPU yet.
 *
 * <p><b>CUDA graphs</b>: each (batch, seq, GEMM rows, layout) shape keeps its GEMM plans, and from
 * its second forward on a captured graph of all layers, in an LRU cache of {@value
 * #MAX_CACHED_SHAPES} shapes.
 *
 * <p>Resources: device memory for the weights at construction; activation memory sized for the
 * largest batch x seq seen so far (grown on demand, never inside a captured graph); one stream, one
 * cuBLASLt handle, a 32 MiB GEMM workspace. {@link #close()} frees all of it.
 */
public final class BertEncoder implements Encoder {
  private static final Logger LOG = LoggerFactory.getLogger(BertEncoder.class);
  private static final long WORKSPACE_BYTES = 32L << 20;
  private static final long ALIGN = 256;

  /**
   * Shapes whose GEMM plans (and graph) are kept, least recently used dropped first. A service's
   * batches come in many shapes: simulated on 1360 real texts (GpuEmbedder's batches, seq padded to
   * 16), 64 entries gave new plans for 55 % of the forwards, 256 for 26 % (batches of up to 128
   * texts) and 7 % (up to 8).
   */
  private static final int MAX_CACHED_SHAPES = 256;

  /**
   * A shape's CUDA graph is captured on its second forward: the first runs eagerly, so a shape seen
   * once (most of a service's shapes) never pays for a capture it cannot reuse.
   */
  static final int GRAPH_AFTER_USES = 2;

  /**
   * GEMM plans kept while no cached shape uses them. Shapes share plans (see {@link SharedCache}):
   * in the simulated service stream of {@code ShapeCacheSim} the 1000 shapes have 59 distinct token
   * row counts, so plans keyed by GEMM instead of by shape are new for 0.6 % of the forwards
   * instead of 26 %.
   */
  private static final int MAX_IDLE_PLANS = 256;

  /** What a GEMM plan depends on. */
  private record PlanKey(
      String op, GemmShape shape, float alpha, Epilogue epilogue, GemmType type) {}

  private final SharedCache<PlanKey, MatmulPlan> plans = new SharedCache<>(MAX_IDLE_PLANS);

  /**
   * Execution options.
   *
   * @param device CUDA device ordinal
   * @param removePadding run every layer on the valid tokens only (gather, layers, scatter); also
   *     enables the ragged API on any precision. Needs the fused attention.
   * @param allowTf32 FP32 only: allow TF32 tensor cores in the GEMMs (faster, ~1e-3 precision)
   * @param cudaGraphs capture each batch x seq shape once as a CUDA graph and replay it
   * @param attention which attention implementation runs (see {@link Attention})
   * @param gemmConfig a tuned GEMM config file, or a folder holding gemm_config.in /
   *     igemm_config.in; null looks in the working directory, then in the configs shipped for this
   *     GPU (see {@link GemmConfigs})
   * @param tuneGemms tune GEMMs that have no config entry the first time a shape needs them, and
   *     append them to the config (FasterTransformer's allow_gemm_test = 1); the INT8 linear GEMMs
   *     race cuBLASLt against ft4j's own INT8 GEMM as encoder_gemm does (unless {@link
   *     Int8Gemm#CUBLASLT}). Tuning takes seconds per GEMM: for tools and benchmarks, not for a
   *     service's request path
   * @param int8Gemm INT8 mode 1: which GEMM runs the linear layers (see {@link Int8Gemm})
   * @param geluEpilogue FP32 / FP16: the feed-forward GEMM adds its bias and applies GELU in
   *     cuBLASLt's epilogue instead of ft4j's kernel after it (one pass less over the [tokens,
   *     intermediate] activations). cuBLASLt's GELU is the tanh approximation, not BERT's exact erf
   *     GELU: the outputs move by about as much as FP16 rounding does (README, "GELU in the GEMM
   *     epilogue"). Off by default; not for the INT8 modes (their GELU is fused into the dequantize
   *     / quantize kernel)
   */
  public record Options(
      int device,
      boolean removePadding,
      boolean allowTf32,
      boolean cudaGraphs,
      Attention attention,
      Path gemmConfig,
      boolean tuneGemms,
      Int8Gemm int8Gemm,
      boolean geluEpilogue) {
    public Options {
      if (attention == null) {
        throw new IllegalArgumentException("attention must not be null");
      }
      if (int8Gemm == null) {
        throw new IllegalArgumentException("int8Gemm must not be null");
      }
    }

    public static Options defaults() {
      return new Options(0, false, false, true, Attention.AUTO, null, false, Int8Gemm.AUTO, false);
    }

    public Options withInt8Gemm(Int8Gemm g) {
      return new Options(
          device,
          removePadding,
          allowTf32,
          cudaGraphs,
          attention,
          gemmConfig,
          tuneGemms,
          g,
          geluEpilogue);
    }

    public Options withDevice(int d) {
      return new Options(
          d,
          removePadding,
          allowTf32,
          cudaGraphs,
          attention,
          gemmConfig,
          tuneGemms,
          int8Gemm,
          geluEpilogue);
    }

    public Options withRemovePadding(boolean r) {
      return new Options(
          device,
          r,
          allowTf32,
          cudaGraphs,
          attention,
          gemmConfig,
          tuneGemms,
          int8Gemm,
          geluEpilogue);
    }

    public Options withAllowTf32(boolean t) {
      return new Options(
          device,
          removePadding,
          t,
          cudaGraphs,
          attention,
          gemmConfig,
          tuneGemms,
          int8Gemm,
          geluEpilogue);
    }

    public Options withCudaGraphs(boolean g) {
      return new Options(
          device,
          removePadding,
          allowTf32,
          g,
          attention,
          gemmConfig,
          tuneGemms,
          int8Gemm,
          geluEpilogue);
    }

    public Options withAttention(Attention a) {
      return new Options(
          device,
          removePadding,
          allowTf32,
          cudaGraphs,
          a,
          gemmConfig,
          tuneGemms,
          int8Gemm,
          geluEpilogue);
    }

    public Options withGemmConfig(Path p) {
      return new Options(
          device,
          removePadding,
          allowTf32,
          cudaGraphs,
          attention,
          p,
          tuneGemms,
          int8Gemm,
          geluEpilogue);
    }

    public Options withTuneGemms(boolean t) {
      return new Options(
          device,
          removePadding,
          allowTf32,
          cudaGraphs,
          attention,
          gemmConfig,
          t,
          int8Gemm,
          geluEpilogue);
    }

    public Options withGeluEpilogue(boolean e) {
      return new Options(
          device,
          removePadding,
          allowTf32,
          cudaGraphs,
          attention,
          gemmConfig,
          tuneGemms,
          int8Gemm,
          e);
    }
  }

  /**
   * The GEMM of INT8 mode 1's four linear layers. Both multiply int8 exactly into int32; the
   * dequantizing kernels after them are the same, except that ft4j's GEMM writes the QKV output
   * dequantized in FP16 directly (no int32 round trip).
   */
  public enum Int8Gemm {
    /**
     * What the tuned igemm_config.in says for the shape (cuBLASLt's algorithm, or {@code ft4j}:
     * ft4j's own GEMM, where {@code encoder_gemm ... int8_mode=1} found it faster); without an
     * entry cuBLASLt's heuristic, or ft4j's own GEMM where cuBLASLt declines the shape. Not yet
     * measured on a GPU.
     */
    AUTO,
    /** ft4j's own INT8 tensor-core GEMM (kernels/gemm_int8.cu) for every linear layer. */
    OWN,
    /** cuBLASLt int8 -> int32 for every linear layer; fails where cuBLASLt has no algorithm. */
    CUBLASLT
  }

  /**
   * The attention implementation. The unfused path (QKV split, two batched cuBLASLt GEMMs, masked
   * softmax over a [batch, heads, seq, seq] buffer, merge) stays for three reasons: it is the
   * fallback where the fused kernel does not apply; it beats the fused kernel's CUDA-core path
   * (FP32, sm_75), because cuBLASLt's GEMMs are faster there (2-3.5x on an H100); and it is an
   * independent check of the fused kernel in the tests.
   */
  public enum Attention {
    /** The fused kernel where it runs on tensor cores (FP16, sm_80+), else unfused. */
    AUTO,
    /** The fused kernel on whatever path it has (tensor or CUDA cores); unfused if unsupported. */
    FUSED,
    /** Always the unfused path. */
    UNFUSED
  }

  private final EncoderConfig config;
  private final Options options;
  private final DType dtype;
  private final CudaDevice device;
  private final CudaStream stream;
  private final CublasLt lt;
  private final DeviceBuffer workspace;
  private final DeviceBuffer weightMemory;
  private final GemmConfigs gemmConfigs;
  private final Set<GemmKey> rejectedTuned = new HashSet<>();
  private final LayerWeights[] layers;
  private final Int8DeviceWeights int8; // INT8 mode 1: the int8 GEMM weights; else null
  private final Map<ShapeKey, ShapeState> shapes = new LinkedHashMap<>(16, 0.75f, true);

  /** What a GEMM plan set and its graph depend on. */
  private record ShapeKey(int batch, int seq, int rows, Layout layout) {}

  private final boolean fused; // fused attention kernel (else the unfused path)
  private long lastEnqueueNanos; // see lastEnqueueNanos()
  private CudaEvent timingStart; // see timeForwards()
  private CudaEvent timingEnd;
  private Activations activations;
  private boolean graphsBroken;
  private boolean lastReplayedGraph;
  private boolean closed;

  /**
   * Device copies of one layer's tensors (views into {@code weightMemory}); in INT8 mode 1 the four
   * GEMM weights are null here (they live in {@link #int8}).
   */
  private record LayerWeights(
      DeviceBuffer qkvWeight, // [3 hidden, hidden]
      DeviceBuffer qkvBias, // [3 hidden]
      DeviceBuffer attentionOutputWeight, // [hidden, hidden]
      DeviceBuffer attentionOutputBias, // [hidden]
      DeviceBuffer attentionLnGamma, // [hidden]
      DeviceBuffer attentionLnBeta, // [hidden]
      DeviceBuffer intermediateWeight, // [intermediate, hidden]
      DeviceBuffer intermediateBias, // [intermediate]
      DeviceBuffer outputWeight, // [hidden, intermediate]
      DeviceBuffer outputBias, // [hidden]
      DeviceBuffer outputLnGamma, // [hidden]
      DeviceBuffer outputLnBeta) {} // [hidden]

  private BertEncoder(
      EncoderWeights weights, Int8EncoderWeights int8Weights, DType dtype, Options options) {
    this.config = weights.config();
    this.options = options;
    this.dtype = dtype;
    this.device = CudaDevice.open(options.device());
    if (int8Weights != null && device.sm() < 75) {
      throw new UnsupportedOperationException(
          "INT8 inference needs a GPU of compute capability 7.5 (sm_75) or newer; "
              + device
              + " is sm_"
              + device.sm());
    }
    CudaStream s = null;
    CublasLt handle = null;
    DeviceBuffer ws = null;
    DeviceBuffer wm = null;
    Int8DeviceWeights i8 = null;
    try {
      s = CudaStream.create();
      handle = CublasLt.create();
      ws = DeviceBuffer.allocate(WORKSPACE_BYTES);
      wm = DeviceBuffer.allocate(weightBytes(config, dtype, int8Weights != null));
      i8 = int8Weights == null ? null : Int8DeviceWeights.upload(int8Weights);
      this.stream = s;
      this.lt = handle;
      this.workspace = ws;
      this.weightMemory = wm;
      this.int8 = i8;
      this.gemmConfigs = loadGemmConfigs(options.gemmConfig());
      this.layers = uploadWeights(weights);
      this.fused =
          chooseFusedAttention(options.removePadding() ? Attention.FUSED : options.attention());
      if (options.removePadding() && !fused) {
        throw new UnsupportedOperationException(
            "padding removal needs the fused attention, which does not support "
                + config.heads()
                + " heads x "
                + config.sizePerHead()
                + " on "
                + device);
      }
    } catch (RuntimeException | Error e) {
      closeQuietly(i8);
      closeQuietly(wm);
      closeQuietly(ws);
      closeQuietly(handle);
      closeQuietly(s);
      throw e;
    }
    LOG.debug("BertEncoder on {}: {} ({} weight bytes)", device, config, weightMemory.bytes());
  }

  /** An encoder with default options (device 0, CUDA graphs on). */
  public static BertEncoder create(EncoderWeights weights) {
    return create(weights, Options.defaults());
  }

  /**
   * Uploads the weights and prepares an FP32 or FP16 encoder. Rejects, before touching the GPU,
   * INT8 precisions (they need scales: {@link #create(EncoderWeights, ScaleSet, Options)}) and
   * padding removal with the unfused attention.
   */
  public static BertEncoder create(EncoderWeights weights, Options options) {
    checkArguments(weights, options);
    Precision p = weights.config().precision();
    if (p.isInt8()) {
      throw new IllegalArgumentException(
          "precision "
              + p.label()
              + " needs INT8 scales: use BertEncoder.create(weights, scales, options)"
              + " (make scales with `ft4j calibrate`)");
    }
    return new BertEncoder(weights, null, p == Precision.FP32 ? DType.FP32 : DType.FP16, options);
  }

  /**
   * Quantizes the weights with {@code scales} (see {@link Int8EncoderWeights}), uploads them and
   * prepares an INT8 encoder of the weights' precision (int8-1 or int8-2). Checked before touching
   * the GPU: the precision, the scales against the model (a {@link
   * org.ft4j.quant.ScaleSetException} naming what is missing or different), widths the INT8 kernels
   * take, int8-2 with {@link Int8Gemm#CUBLASLT} (its int8 outputs need ft4j's GEMM); on the GPU:
   * sm_75 or newer.
   */
  public static BertEncoder create(EncoderWeights weights, ScaleSet scales, Options options) {
    return createInt8(weights, scales, options, DType.FP16);
  }

  /**
   * INT8 mode 1 with {@code activations} (FP16, the product; or FP32) between the INT8 GEMMs. FP32
   * is for the tests: per-token int8 rounding turns FP16-sized differences into whole int8 steps
   * (measured on the CPU reference: a 2^-11 relative input perturbation moves the output by 0.7x
   * its whole quantization error), so only with FP32 activations can the GPU encoder be compared
   * tightly with its float64 fake-quantized oracle.
   */
  static BertEncoder createInt8(
      EncoderWeights weights, ScaleSet scales, Options options, DType activations) {
    checkArguments(weights, options);
    if (scales == null) {
      throw new IllegalArgumentException("INT8 scales must not be null");
    }
    EncoderConfig c = weights.config();
    if (!c.precision().isInt8()) {
      throw new IllegalArgumentException(
          "INT8 scales were given for precision "
              + c.precision().label()
              + "; they apply to int8-1 and int8-2 only (use create(weights, options))");
    }
    if (options.geluEpilogue()) {
      throw new IllegalArgumentException(
          "the GELU epilogue (Options.withGeluEpilogue) applies to fp32 and fp16 encoders; "
              + c.precision().label()
              + " fuses its GELU into the dequantize / quantize kernel after the FFN1 GEMM");
    }
    if (c.precision() == Precision.INT8_MODE_2 && options.int8Gemm() == Int8Gemm.CUBLASLT) {
      throw new IllegalArgumentException(
          "int8-2 runs its linear layers on ft4j's own INT8 GEMM: its int8 outputs are scaled per"
              + " token and per channel, which cuBLASLt's int8 -> int8 cannot do; use Int8Gemm.AUTO"
              + " or OWN");
    }
    checkInt8Widths(c, options);
    checkScalesTheGpuRuns(scales);
    if (activations != DType.FP16 && activations != DType.FP32) {
      throw new IllegalArgumentException(
          "INT8 activations must be FP16 or FP32, not " + activations);
    }
    return new BertEncoder(
        weights, Int8EncoderWeights.of(weights, scales, c.precision()), activations, options);
  }

  /** The widths the INT8 row kernels take (a row lives in shared memory). */
  static void checkInt8Widths(EncoderConfig c, Options options) {
    int widest = Math.max(c.hidden(), c.intermediateSize());
    if (widest > NativeApi.MAX_QUANTIZE_COLS) {
      throw new IllegalArgumentException(
          "INT8 supports hidden and intermediate sizes up to "
              + NativeApi.MAX_QUANTIZE_COLS
              + "; this model has hidden "
              + c.hidden()
              + ", intermediate "
              + c.intermediateSize());
    }
    if (c.precision() == Precision.INT8_MODE_1
        && options.int8Gemm() != Int8Gemm.OWN
        && 3L * c.hidden() > NativeApi.MAX_QUANTIZE_COLS) {
      // cuBLASLt's int32 QKV output is dequantized by a row kernel over 3 x hidden columns
      throw new IllegalArgumentException(
          "int8-1 with cuBLASLt's GEMMs dequantizes the QKV output in rows of 3 x hidden = "
              + 3L * c.hidden()
              + " columns, more than the "
              + NativeApi.MAX_QUANTIZE_COLS
              + " the INT8 row kernels take; use Int8Gemm.OWN (its GEMM dequantizes QKV itself)");
    }
  }

  /**
   * The scale-file feature the fake-quantized reference implements but the GPU encoder does not:
   * smoothing of other inputs than {@link Calibrator#SMOOTHED} (the attention context is quantized
   * by a kernel without a smoothing vector). Accepting it would run the GPU encoder with different
   * math than its oracle, silently. (Per-channel q/k/v_out is fine: the QKV GEMM's output scale is
   * a per-column vector, and the attention reads Q, K and V dequantized.)
   */
  private static void checkScalesTheGpuRuns(ScaleSet scales) {
    if (scales.layers() < 1) {
      return; // the layer-count mismatch is reported by Int8EncoderWeights
    }
    for (ActivationHook.Point p : ActivationHook.Point.values()) {
      if (scales.smooth(0, p) != null && !Calibrator.SMOOTHED.contains(p)) {
        throw new ScaleSetException(
            "the INT8 scale set smooths "
                + p.key()
                + ": the GPU encoder smooths only "
                + Calibrator.SMOOTHED.stream().map(ActivationHook.Point::key).toList()
                + " (remove \"smooth\"."
                + p.key()
                + " from the file, or recalibrate with ft4j calibrate)");
      }
    }
  }

  private static void checkArguments(EncoderWeights weights, Options options) {
    if (weights == null || options == null) {
      throw new IllegalArgumentException("weights and options must not be null");
    }
    if (options.removePadding() && options.attention() == Attention.UNFUSED) {
      throw new IllegalArgumentException(
          "padding removal needs the fused attention; it cannot run with Attention.UNFUSED");
    }
  }

  @Override
  public EncoderConfig config() {
    return config;
  }

  /** True when the fused attention kernel runs (else the unfused path). */
  public boolean usesFusedAttention() {
    return fused;
  }

  private boolean chooseFusedAttention(Attention attention) {
    if (attention == Attention.UNFUSED) {
      return false;
    }
    NativeApi.AttentionPath path =
        NativeApi.fusedAttentionPath(dtype, config.heads(), config.sizePerHead());
    if (path == NativeApi.AttentionPath.NONE) {
      LOG.warn(
          "fused attention does not support {} heads x {} ({}) on {}: using unfused attention",
          config.heads(),
          config.sizePerHead(),
          dtype,
          device);
      return false;
    }
    boolean chosen = attention == Attention.FUSED || path.tensorCores();
    LOG.debug("attention on {}: {}", device, chosen ? "fused, " + path : "unfused");
    return chosen;
  }

  public Options options() {
    return options;
  }

  public CudaDevice device() {
    return device;
  }

  /** Device memory held by this encoder (weights, workspace, activations), in bytes. */
  public synchronized long deviceMemoryBytes() {
    return weightMemory.bytes()
        + (int8 == null ? 0 : int8.bytes())
        + workspace.bytes()
        + (activations == null ? 0 : activations.bytes());
  }

  /**
   * Host API: see {@link Encoder#forward}. Blocks until the result is on the host. With {@link
   * Options#removePadding()} the layers run on the valid tokens only; the output is the same
   * (padded positions are zero either way).
   */
  @Override
  public synchronized float[] forward(float[] input, int[] lengths, int batch, int seq) {
    EncoderInputs.check(config, input, lengths, batch, seq);
    checkOpen();
    device.makeCurrent();
    Layout layout = options.removePadding() ? Layout.REMOVE_PADDING : Layout.PADDED;
    Activations a = activationsFor(batch, seq);
    DeviceBuffer io = layout == Layout.PADDED ? a.x : a.dense; // padded in and out
    float[] out = runHost(a, io, input, lengths, batch, seq, layout);
    return out;
  }

  /**
   * Device API: {@code input} and {@code output} hold [batch, seq, hidden] in the encoder's storage
   * type (FP32 for fp32, FP16 bit patterns for fp16); they may be the same buffer. Blocks until
   * {@code output} is written.
   */
  public synchronized void forward(
      DeviceBuffer input, int[] lengths, int batch, int seq, DeviceBuffer output) {
    long t0 = System.nanoTime();
    EncoderInputs.checkShape(config, batch, seq);
    EncoderInputs.checkLengths(lengths, batch, seq);
    long elements = (long) batch * seq * config.hidden();
    input.requireFits(
        dtype, elements, "encoder input [" + batch + ", " + seq + ", " + config.hidden() + "]");
    output.requireFits(
        dtype, elements, "encoder output [" + batch + ", " + seq + ", " + config.hidden() + "]");
    checkOpen();
    device.makeCurrent();
    Layout layout = options.removePadding() ? Layout.REMOVE_PADDING : Layout.PADDED;
    Activations a = activationsFor(batch, seq);
    DeviceBuffer io = layout == Layout.PADDED ? a.x : a.dense;
    long bytes = elements * dtype.bytes();
    if (timingStart != null) {
      timingStart.record(stream);
    }
    io.copyFromAsync(input.pointer(), bytes, stream);
    runLayers(a, lengths, batch, seq, layout);
    io.copyToAsync(output.pointer(), bytes, stream);
    if (timingEnd != null) {
      timingEnd.record(stream);
    }
    lastEnqueueNanos = System.nanoTime() - t0;
    stream.synchronize();
  }

  /**
   * For benchmarks: every later device-buffer {@link #forward(DeviceBuffer, int[], int, int,
   * DeviceBuffer) forward} records {@code start} on the encoder's stream before its first operation
   * and {@code end} after its last, so that {@link CudaEvent#elapsedMillis} of the two after the
   * call is the device time of that forward: from the input copy to the output copy, including any
   * wait for the host inside it (kernels enqueued one by one without a CUDA graph), but not the
   * host work before the first operation or the wake-up after the last. {@code null, null} turns it
   * off.
   */
  public synchronized void timeForwards(CudaEvent start, CudaEvent end) {
    if ((start == null) != (end == null)) {
      throw new IllegalArgumentException("timeForwards needs both events, or neither");
    }
    timingStart = start;
    timingEnd = end;
  }

  /**
   * Ragged host API for services: {@code tokens} holds the sequences back to back, [sum(lengths),
   * hidden] (FP32), and so does the result; no padding is built or computed. Needs the fused
   * attention (FP16 by default, or an encoder made with {@code Options.withRemovePadding(true)}).
   */
  public synchronized float[] forwardPacked(float[] tokens, int[] lengths) {
    int seq = checkPacked(lengths);
    int total = EncoderInputs.totalTokens(lengths);
    if (tokens == null || (long) tokens.length != (long) total * config.hidden()) {
      throw new IllegalArgumentException(
          "packed input has "
              + (tokens == null ? "no" : Integer.toString(tokens.length))
              + " values, expected sum(lengths) * hidden = "
              + total
              + " * "
              + config.hidden());
    }
    checkOpen();
    device.makeCurrent();
    Activations a = activationsFor(lengths.length, seq);
    return runHost(a, a.x, tokens, lengths, lengths.length, seq, Layout.PACKED);
  }

  /**
   * Ragged device API: {@code input} and {@code output} hold [sum(lengths), hidden] in the
   * encoder's storage type; they may be the same buffer. See {@link #forwardPacked(float[],
   * int[])}.
   */
  public synchronized void forwardPacked(DeviceBuffer input, int[] lengths, DeviceBuffer output) {
    long t0 = System.nanoTime();
    int seq = checkPacked(lengths);
    long elements = (long) EncoderInputs.totalTokens(lengths) * config.hidden();
    input.requireFits(dtype, elements, "packed encoder input [sum(lengths), hidden]");
    output.requireFits(dtype, elements, "packed encoder output [sum(lengths), hidden]");
    checkOpen();
    device.makeCurrent();
    Activations a = activationsFor(lengths.length, seq);
    long bytes = elements * dtype.bytes();
    a.x.copyFromAsync(input.pointer(), bytes, stream);
    runLayers(a, lengths, lengths.length, seq, Layout.PACKED);
    a.x.copyToAsync(output.pointer(), bytes, stream);
    lastEnqueueNanos = System.nanoTime() - t0;
    stream.synchronize();
  }

  /** Whether the last forward replayed a CUDA graph (tests). */
  synchronized boolean lastReplayedGraph() {
    return lastReplayedGraph;
  }

  /**
   * Host-side cost of the last device-API forward ({@link #forward(DeviceBuffer, int[], int, int,
   * DeviceBuffer)} or {@link #forwardPacked(DeviceBuffer, int[], DeviceBuffer)}), in nanoseconds:
   * from the call to the last queued operation, before waiting for the GPU — argument checks, the
   * lengths upload, the shape's plans and graph lookup, and the graph launch (or, without graphs,
   * every kernel launch). The token count comes from the host's lengths, so no forward waits for
   * the device before its end. 0 before the first such forward.
   */
  public synchronized long lastEnqueueNanos() {
    return lastEnqueueNanos;
  }

  /** Checks ragged lengths and the fused attention they need; returns the longest length. */
  private int checkPacked(int[] lengths) {
    if (lengths == null || lengths.length == 0) {
      throw new IllegalArgumentException("lengths must hold at least one sequence");
    }
    int seq = 0;
    for (int i = 0; i < lengths.length; i++) {
      if (lengths[i] < 1) {
        throw new IllegalArgumentException("lengths[" + i + "] = " + lengths[i] + ", must be >= 1");
      }
      seq = Math.max(seq, lengths[i]);
    }
    EncoderInputs.checkShape(config, lengths.length, seq);
    if (!fused) {
      throw new UnsupportedOperationException(
          "packed (ragged) input needs the fused attention; this encoder runs the unfused path:"
              + " create it with Options.withRemovePadding(true)");
    }
    return seq;
  }

  /** Uploads FP32 host data into {@code io}, runs the layers, and downloads {@code io}. */
  private float[] runHost(
      Activations a,
      DeviceBuffer io,
      float[] input,
      int[] lengths,
      int batch,
      int seq,
      Layout layout) {
    long elements = input.length;
    a.hostInput.put(input);
    if (dtype == DType.FP32) {
      io.copyFromAsync(a.hostInput.pointer(), 4 * elements, stream); // straight in, no staging
    } else {
      a.io32.copyFromAsync(a.hostInput.pointer(), 4 * elements, stream);
      NativeApi.convert(dtype, io, DType.FP32, a.io32, elements, stream);
    }
    runLayers(a, lengths, batch, seq, layout);
    if (dtype == DType.FP32) {
      io.copyToAsync(a.hostOutput.pointer(), 4 * elements, stream);
    } else {
      NativeApi.convert(DType.FP32, a.io32, dtype, io, elements, stream);
      a.io32.copyToAsync(a.hostOutput.pointer(), 4 * elements, stream);
    }
    stream.synchronize();
    float[] out = new float[(int) elements];
    a.hostOutput.get(out);
    return out;
  }

  /** The storage type of activations and weights on the device. */
  public DType storageType() {
    return dtype;
  }

  // ---------------------------------------------------------------------------------------------

  /**
   * How the activations are laid out for one forward. PADDED: [batch, seq, hidden] in x, every
   * position computed. REMOVE_PADDING: padded input in {@code dense}, gathered to packed tokens in
   * x, layers on the tokens only, scattered back to padded (zeros) in {@code dense}. PACKED: packed
   * tokens [tokens, hidden] in and out of x (the ragged API).
   */
  private enum Layout {
    PADDED,
    REMOVE_PADDING,
    PACKED
  }

  /** Rows the GEMMs run on: every position, or the token count rounded up to a 64-row bucket. */
  private static int gemmRows(Layout layout, int batch, int seq, int tokens) {
    if (layout == Layout.PADDED) {
      return batch * seq;
    }
    // Buckets bound the number of GEMM plans and graphs per (batch, seq); the extra rows are
    // computed but never read by valid tokens (rows are independent outside attention, and
    // attention reads keys only through the offsets).
    return (int) Math.min((long) batch * seq, ((tokens + 63L) / 64) * 64);
  }

  private void runLayers(Activations a, int[] lengths, int batch, int seq, Layout layout) {
    a.hostLengths.put(lengths);
    a.lengths.copyFromAsync(a.hostLengths.pointer(), 4L * batch, stream);
    int tokens = 0;
    for (int len : lengths) {
      tokens += len;
    }
    int rows = gemmRows(layout, batch, seq, tokens);
    ShapeState state = shapeState(batch, seq, rows, layout);
    state.uses++;
    lastReplayedGraph = false;
    if (options.cudaGraphs() && !graphsBroken && state.uses >= GRAPH_AFTER_USES) {
      if (state.graph == null) {
        try {
          state.graph =
              CudaGraph.capture(stream, () -> enqueueLayers(a, state, batch, seq, rows, layout));
        } catch (CudaException e) {
          // the capture itself failed (an operation the graph cannot hold): graphs are off for
          // every shape. Argument or UNSUPPORTED errors fail the eager forward the same way and
          // propagate below without turning graphs off.
          graphsBroken = true;
          LOG.warn(
              "CUDA graph capture failed, running without graphs from now on: {}", e.toString());
          stream.synchronize();
        }
      }
      if (state.graph != null) {
        state.graph.launch(stream);
        lastReplayedGraph = true;
        return;
      }
    }
    enqueueLayers(a, state, batch, seq, rows, layout);
  }

  /** Queues every layer on the stream (see {@link Layout} for where input and output live). */
  private void enqueueLayers(
      Activations a, ShapeState s, int batch, int seq, int rows, Layout layout) {
    int hidden = config.hidden();
    int inter = config.intermediateSize();
    float eps = (float) config.layerNormEps();
    if (fused) {
      NativeApi.lengthsToOffsets(a.lengths, batch, a.offsets, stream);
    }
    if (layout == Layout.PADDED) {
      // Padded rows of the input may hold anything (NaN, huge values); the unfused attention
      // multiplies P x V over all keys, and 0 x NaN would leak into valid rows: zero them first.
      NativeApi.zeroPaddedRows(dtype, a.x, a.lengths, batch, seq, hidden, stream);
    } else if (layout == Layout.REMOVE_PADDING) {
      NativeApi.removePadding(dtype, a.x, a.dense, a.offsets, batch, seq, hidden, rows, stream);
    }
    int paddedSeq = layout == Layout.PADDED ? seq : 0;
    for (int l = 0; l < layers.length; l++) {
      if (int8 != null) {
        if (int8.layer(l).mode2() != null) {
          enqueueInt8Mode2Layer(a, s, l, batch, seq, rows, paddedSeq);
        } else {
          enqueueInt8Layer(a, s, l, batch, seq, rows, paddedSeq);
        }
        continue;
      }
      LayerWeights w = layers[l];
      s.qkv.run(stream, a.x, w.qkvWeight(), a.qkv, null, workspace); // [rows, 3 hidden]
      enqueueAttention(a, s, w, batch, seq, rows, paddedSeq);
      s.attentionOutput.run(stream, a.merged, w.attentionOutputWeight(), a.dense, null, workspace);
      NativeApi.addBiasResidualLayerNorm(
          dtype,
          a.attention,
          a.dense,
          w.attentionOutputBias(),
          a.x,
          w.attentionLnGamma(),
          w.attentionLnBeta(),
          eps,
          rows,
          hidden,
          stream);
      if (options.geluEpilogue()) { // gelu_tanh(a Wi^T + bi) in cuBLASLt's epilogue
        s.intermediate.run(
            stream, a.attention, w.intermediateWeight(), a.ffn, w.intermediateBias(), workspace);
      } else {
        s.intermediate.run(stream, a.attention, w.intermediateWeight(), a.ffn, null, workspace);
        NativeApi.addBiasGelu(dtype, a.ffn, w.intermediateBias(), rows, inter, stream);
      }
      s.output.run(stream, a.ffn, w.outputWeight(), a.dense, null, workspace);
      NativeApi.addBiasResidualLayerNorm(
          dtype,
          a.x,
          a.dense,
          w.outputBias(),
          a.attention,
          w.outputLnGamma(),
          w.outputLnBeta(),
          eps,
          rows,
          hidden,
          stream);
    }
    if (layout == Layout.PADDED) {
      NativeApi.zeroPaddedRows(dtype, a.x, a.lengths, batch, seq, hidden, stream);
    } else if (layout == Layout.REMOVE_PADDING) {
      NativeApi.restorePadding(dtype, a.dense, a.x, a.offsets, batch, seq, hidden, rows, stream);
    }
  }

  /**
   * Attention of one layer: qkv [rows, 3 hidden] (GEMM output without bias) -> merged [rows,
   * hidden], the QKV bias added inside; fused kernel or the unfused path.
   */
  private void enqueueAttention(
      Activations a, ShapeState s, LayerWeights w, int batch, int seq, int rows, int paddedSeq) {
    int heads = config.heads();
    int d = config.sizePerHead();
    float scale = (float) (1 / Math.sqrt(d));
    if (fused) { // [rows, 3 hidden] -> [rows, hidden], QKV bias added inside
      NativeApi.fusedAttention(
          dtype,
          a.merged,
          a.qkv,
          w.qkvBias(),
          a.offsets,
          rows,
          batch,
          heads,
          d,
          paddedSeq,
          seq,
          scale,
          stream);
    } else {
      NativeApi.addQkvBiasSplitHeads(
          dtype, a.q, a.k, a.v, a.qkv, w.qkvBias(), batch, seq, heads, d, stream);
      s.scores.run(stream, a.q, a.k, a.scores, null, workspace); // [batch, heads, seq, seq]
      NativeApi.maskedSoftmax(dtype, a.scores, a.lengths, batch, heads, seq, 1f, stream);
      s.context.run(stream, a.scores, a.v, a.context, null, workspace); // [batch, heads, seq, d]
      NativeApi.mergeHeads(dtype, a.merged, a.context, batch, seq, heads, d, stream);
    }
  }

  /**
   * The attention of both INT8 modes: qkv [rows, 3 hidden] in the storage type (mode 1: the QKV
   * GEMM's dequantized output; mode 2: its int8 output written dequantized, q · step) -> the FP16
   * (or FP32) attention, fused or unfused, QKV bias added inside -> merged -> qx, int8 per token
   * (scales in attnInScale), read by the attention-output GEMM. Per token because a context row's
   * amax spans all heads, which the head-blocked int8 attention kernel cannot know, and a static
   * amax calibrated on some texts clips others: BGE-small on a Hindi question, 0.912 cosine to FP32
   * with the static amax, 0.9987 per token (docs/int8.md).
   */
  private void enqueueInt8Attention(
      Activations a, ShapeState s, LayerWeights w, int batch, int seq, int rows, int paddedSeq) {
    enqueueAttention(a, s, w, batch, seq, rows, paddedSeq);
    NativeApi.quantizeRows(
        dtype,
        Int8Output.perToken(a.qx, a.attnInScale, null),
        a.merged,
        rows,
        config.hidden(),
        stream);
  }

  /**
   * One INT8 mode-1 layer, x [rows, hidden] FP16 (FP32 in tests) in and out of {@code a.x}
   * (docs/int8.md):
   *
   * <pre>
   *   qx, s0  = int8 per token of x / s_qkv          (layer 0 here; later layers: the previous
   *                                                   layer's last layernorm writes them)
   *   qkv     = qx Wqkv^T · s0 · w                    INT8 GEMM, FP16 out, bias in attention
   *   qx, sa  = int8 per token of attention(qkv + bqkv)   FP16 attention (fused or not), then
   *                                                   a quantize kernel
   *   acc     = qx Wo^T                               INT8 GEMM, int32 out
   *   a, qx, s1 = LN(acc · sa · w + bo + x), int8 per token of a / s_ffn1
   *   acc     = qx Wi^T                               int32
   *   qx, s2  = int8 per token of gelu(acc · s1 · w + bi) / s_ffn2
   *   acc     = qx Wo2^T                              int32
   *   x, qx, s0 = LN(acc · s2 · w + bo2 + a), int8 per token of x / s_qkv of the next layer
   * </pre>
   *
   * With cuBLASLt ({@link Int8Gemm}) every GEMM writes int32 to acc, and the QKV output is
   * dequantized by the row kernel. Four row-scale buffers, one per quantized input, so no kernel
   * reads and writes the same one.
   */
  private void enqueueInt8Layer(
      Activations a, ShapeState s, int l, int batch, int seq, int rows, int paddedSeq) {
    int hidden = config.hidden();
    int inter = config.intermediateSize();
    float eps = (float) config.layerNormEps();
    LayerWeights w = layers[l];
    Int8DeviceWeights.Layer q = int8.layer(l);
    DType h = dtype;
    if (l == 0) {
      NativeApi.quantizeRows(
          h, Int8Output.perToken(a.qx, a.qkvInScale, q.qkvInvSmooth()), a.x, rows, hidden, stream);
    }
    if (s.qkv == null) {
      ownGemm(
          Int8GemmOut.FLOAT,
          a.qkv,
          s.ownPlan("qkv"),
          a,
          q.qkv(),
          a.qkvInScale,
          0f,
          q.qkvScale(),
          null,
          rows,
          3 * hidden,
          hidden);
    } else { // cuBLASLt: int32, then dequantized to qkv
      s.qkv.run(stream, a.qx, q.qkv(), a.acc, null, workspace);
      NativeApi.dequantizeBiasAct(
          h,
          a.qkv,
          null,
          a.acc,
          DType.INT32,
          a.qkvInScale,
          0f,
          q.qkvScale(),
          null,
          false,
          rows,
          3 * hidden,
          stream);
    }
    enqueueInt8Attention(a, s, w, batch, seq, rows, paddedSeq);
    linearInt8(
        s.attentionOutput, s.ownPlan("attn_out"), q.attentionOutput(), a, rows, hidden, hidden);
    NativeApi.dequantizeBiasResidualLayerNorm(
        h,
        a.attention,
        Int8Output.perToken(a.qx, a.ffn1InScale, q.ffn1InvSmooth()),
        a.acc,
        DType.INT32,
        a.attnInScale,
        0f,
        q.attentionOutputScale(),
        w.attentionOutputBias(),
        a.x,
        w.attentionLnGamma(),
        w.attentionLnBeta(),
        eps,
        false,
        rows,
        hidden,
        stream);
    linearInt8(s.intermediate, s.ownPlan("ffn1"), q.intermediate(), a, rows, inter, hidden);
    NativeApi.dequantizeBiasAct(
        h,
        null,
        Int8Output.perToken(a.qx, a.ffn2InScale, q.ffn2InvSmooth()),
        a.acc,
        DType.INT32,
        a.ffn1InScale,
        0f,
        q.intermediateScale(),
        w.intermediateBias(),
        true,
        rows,
        inter,
        stream);
    linearInt8(s.output, s.ownPlan("ffn2"), q.output(), a, rows, hidden, inter);
    Int8Output next =
        l + 1 < layers.length
            ? Int8Output.perToken(a.qx, a.qkvInScale, int8.layer(l + 1).qkvInvSmooth())
            : null;
    NativeApi.dequantizeBiasResidualLayerNorm(
        h,
        a.x,
        next,
        a.acc,
        DType.INT32,
        a.ffn2InScale,
        0f,
        q.outputScale(),
        w.outputBias(),
        a.attention,
        w.outputLnGamma(),
        w.outputLnBeta(),
        eps,
        false,
        rows,
        hidden,
        stream);
  }

  /**
   * One INT8 mode-2 layer (docs/int8.md): every linear GEMM writes int8 (ft4j's own GEMM, before
   * the bias, per-column out amax), the row kernels read it like an int32 accumulator (in scale 1,
   * the out step per column), and the residual adds the int8 GEMM input: the kernels that quantize
   * x and the attention layernorm output write its dequantized value back in place.
   *
   * <pre>
   *   qx, s0; x = deq(qx)   int8 per token of x / s_qkv (layer 0 here; later: the last layernorm)
   *   q8    = int8(qx Wqkv^T · s0 · w / o_qkv)        q, k, v each per tensor, written
   *                                                   dequantized (q8 · o_qkv) by the epilogue
   *   qx, s = int8 per token of attention(q8 · o_qkv + bqkv)   the FP16 attention (fused or not)
   *                                                   and a quantize kernel (enqueueInt8Attention:
   *                                                   per token, not a static out amax)
   *   q8    = int8(qx Wo^T · a · w / o_ao)              per channel
   *   qx, s1; a = deq(qx) of LN(q8 · o_ao + bo + x)
   *   q8    = int8(qx Wi^T · s1 · w / o_f1)
   *   qx, s2 = int8 per token of gelu(q8 · o_f1 + bi) / s_ffn2
   *   q8    = int8(qx Wo2^T · w / o_f2)                 token-scaled sets: unit s2 · o_f2
   *                                                   (else int8(qx Wo2^T · s2 · w / o_f2))
   *   x     = LN(q8 · s2 · o_f2 + bo2 + a); not last: qx, s0 of it and x = deq(qx)
   * </pre>
   *
   * q8 lives in the int32 acc buffer.
   */
  private void enqueueInt8Mode2Layer(
      Activations a, ShapeState s, int l, int batch, int seq, int rows, int paddedSeq) {
    int hidden = config.hidden();
    int inter = config.intermediateSize();
    float eps = (float) config.layerNormEps();
    LayerWeights w = layers[l];
    Int8DeviceWeights.Layer q = int8.layer(l);
    Int8DeviceWeights.Mode2 o = q.mode2();
    DType h = dtype;
    if (l == 0) {
      NativeApi.quantizeRows(
          h,
          Int8Output.perToken(a.qx, a.qkvInScale, q.qkvInvSmooth()),
          a.x,
          a.x,
          rows,
          hidden,
          stream);
    }
    // Q, K, V rounded to int8 in the epilogue and written dequantized (q · step) for the FP16
    // attention, whose output is quantized per token (enqueueInt8Attention)
    ownGemm(
        Int8GemmOut.INT8_DEQUANTIZED,
        a.qkv,
        s.ownPlan("qkv"),
        a,
        q.qkv(),
        a.qkvInScale,
        0f,
        q.qkvScale(),
        o.qkvInv(),
        rows,
        3 * hidden,
        hidden);
    enqueueInt8Attention(a, s, w, batch, seq, rows, paddedSeq);
    ownGemm(
        Int8GemmOut.INT8,
        a.acc,
        s.ownPlan("attn_out"),
        a,
        q.attentionOutput(),
        a.attnInScale,
        0f,
        q.attentionOutputScale(),
        o.attentionOutputInv(),
        rows,
        hidden,
        hidden);
    NativeApi.dequantizeBiasResidualLayerNorm(
        h,
        a.attention,
        Int8Output.perToken(a.qx, a.ffn1InScale, q.ffn1InvSmooth()),
        a.acc,
        DType.INT8,
        null,
        1f,
        o.attentionOutputStep(),
        w.attentionOutputBias(),
        a.x,
        w.attentionLnGamma(),
        w.attentionLnBeta(),
        eps,
        true,
        rows,
        hidden,
        stream);
    ownGemm(
        Int8GemmOut.INT8,
        a.acc,
        s.ownPlan("ffn1"),
        a,
        q.intermediate(),
        a.ffn1InScale,
        0f,
        q.intermediateScale(),
        o.intermediateInv(),
        rows,
        inter,
        hidden);
    NativeApi.dequantizeBiasAct(
        h,
        null,
        Int8Output.perToken(a.qx, a.ffn2InScale, q.ffn2InvSmooth()),
        a.acc,
        DType.INT8,
        null,
        1f,
        o.intermediateStep(),
        w.intermediateBias(),
        true,
        rows,
        inter,
        stream);
    // ffn2_out per token and channel: the epilogue leaves out the row scale, the layernorm applies
    // it
    boolean tokenScaled = o.outputTokenScaled();
    ownGemm(
        Int8GemmOut.INT8,
        a.acc,
        s.ownPlan("ffn2"),
        a,
        q.output(),
        tokenScaled ? null : a.ffn2InScale,
        tokenScaled ? 1f : 0f,
        q.outputScale(),
        o.outputInv(),
        rows,
        hidden,
        inter);
    Int8Output next =
        l + 1 < layers.length
            ? Int8Output.perToken(a.qx, a.qkvInScale, int8.layer(l + 1).qkvInvSmooth())
            : null;
    NativeApi.dequantizeBiasResidualLayerNorm(
        h,
        a.x,
        next,
        a.acc,
        DType.INT8,
        tokenScaled ? a.ffn2InScale : null,
        1f,
        o.outputStep(),
        w.outputBias(),
        a.attention,
        w.outputLnGamma(),
        w.outputLnBeta(),
        eps,
        next != null,
        rows,
        hidden,
        stream);
  }

  /**
   * ft4j's own INT8 GEMM out [m, n] = qx [m, k] · weight [n, k]^T with the epilogue {@code kind}
   * (no bias: the next kernel adds it), its tuned variant {@code own} (or its own choice when
   * null), and the encoder's workspace for split-K.
   */
  private void ownGemm(
      Int8GemmOut kind,
      DeviceBuffer out,
      NativeApi.Int8GemmPlan own,
      Activations a,
      DeviceBuffer weight,
      DeviceBuffer aScale,
      float aStatic,
      DeviceBuffer wScale,
      DeviceBuffer outInv,
      int m,
      int n,
      int k) {
    NativeApi.gemmInt8(
        kind, dtype, out, a.qx, weight, aScale, aStatic, wScale, null, outInv, 0f, false, m, n, k,
        own, workspace, stream);
  }

  /**
   * acc [m, n] int32 = qx [m, k] · weight [n, k]^T on cuBLASLt ({@code plan}) or ft4j's GEMM (its
   * tuned variant {@code own}, or its own choice when null).
   */
  private void linearInt8(
      MatmulPlan plan,
      NativeApi.Int8GemmPlan own,
      DeviceBuffer weight,
      Activations a,
      int m,
      int n,
      int k) {
    if (plan != null) {
      plan.run(stream, a.qx, weight, a.acc, null, workspace);
    } else {
      NativeApi.gemmInt8ToInt32(a.acc, a.qx, weight, m, n, k, own, stream);
    }
  }

  /**
   * Workspace bytes ft4j's own INT8 GEMM needs to run {@code plan} with a scaled output: M x N x 4
   * when it splits K (the partial sums), else 0.
   */
  static long splitWorkspaceBytes(NativeApi.Int8GemmPlan plan, GemmShape shape) {
    return plan.splits() > 1 ? 4L * shape.m() * shape.n() : 0L;
  }

  /** The GEMM plans (and graph) of one batch x seq x GEMM-rows shape; LRU-cached. */
  private final class ShapeState implements AutoCloseable {
    final MatmulPlan qkv;
    final MatmulPlan scores;
    final MatmulPlan context;
    final MatmulPlan attentionOutput;
    final MatmulPlan intermediate;
    final MatmulPlan output;
    // INT8: the tuned variant of ft4j's own GEMM per linear GEMM ("qkv", "attn_out", "ffn1",
    // "ffn2"), where igemm_config.in names one for its shape (i8i32 lines for mode 1, i8i8 for
    // mode 2)
    private final Map<String, NativeApi.Int8GemmPlan> ownPlans = new java.util.HashMap<>();
    CudaGraph graph;
    int uses; // forwards run with this shape (see GRAPH_AFTER_USES)
    private final List<PlanKey> held = new ArrayList<>(); // plans acquired from the shared cache

    ShapeState(int batch, int seq, int tokens) { // tokens: the GEMM rows
      Map<String, MatmulPlan> made = new LinkedHashMap<>();
      try {
        for (EncoderGemms.Gemm g :
            EncoderGemms.of(config, batch, seq, tokens, fused, options.geluEpilogue())) {
          if (int8 != null && !EncoderGemms.isAttention(g)) {
            GemmType tunedAs = // encoder_gemm int8_mode 1 or 2
                config.precision() == Precision.INT8_MODE_2 ? GemmType.I8I8 : GemmType.I8I32;
            if (options.tuneGemms()
                && options.int8Gemm() != Int8Gemm.CUBLASLT
                && !gemmConfigs.has(GemmKey.of(g.shape(), tunedAs, Epilogue.NONE))) {
              tuneInt8(g, tunedAs, batch, seq); // cuBLASLt and ft4j's own, as encoder_gemm does
            }
            gemmConfigs
                .find(GemmKey.of(g.shape(), tunedAs, Epilogue.NONE))
                .filter(e -> e.algorithm().isFt4jOwn() && e.algorithm().ownPlan() != null)
                .filter(e -> ownPlanFits(e.algorithm().ownPlan(), g))
                .ifPresent(e -> ownPlans.put(g.op(), e.algorithm().ownPlan()));
            MatmulPlan p = int8Plan(g, batch, seq); // null: ft4j's own INT8 GEMM
            if (p != null) {
              made.put(g.op(), p);
            }
            continue;
          }
          GemmType type = GemmType.of(dtype, options.allowTf32());
          made.put(g.op(), shared(g, type, () -> plan(g, batch, seq, type)));
        }
      } catch (RuntimeException e) {
        releasePlans();
        throw e;
      }
      qkv = made.get("qkv");
      scores = made.get("scores");
      context = made.get("context");
      attentionOutput = made.get("attn_out");
      intermediate = made.get("ffn1");
      output = made.get("ffn2");
    }

    /** The plan of {@code g} from the encoder's shared cache (made by {@code make} if new). */
    private MatmulPlan shared(
        EncoderGemms.Gemm g, GemmType type, java.util.function.Supplier<MatmulPlan> make) {
      PlanKey key = new PlanKey(g.op(), g.shape(), g.alpha(), g.epilogue(), type);
      MatmulPlan p = plans.acquire(key, make);
      held.add(key);
      return p;
    }

    private void releasePlans() {
      for (PlanKey key : held) {
        plans.release(key);
      }
      held.clear();
    }

    /**
     * The tuned variant of ft4j's own GEMM for linear GEMM {@code op}, or null (its own choice).
     */
    NativeApi.Int8GemmPlan ownPlan(String op) {
      return ownPlans.get(op);
    }

    /**
     * Whether a tuned own-GEMM plan can run this encoder's launch of {@code g}: the tuner timed it
     * with a workspace of its own size (and mode 1's QKV with an INT32 output, where the encoder
     * asks for FLOAT), and split-K with a scaled output needs M x N x 4 bytes of workspace, which
     * the encoder's may not have (check_gemm_int8 would refuse every forward of the shape). A plan
     * that does not fit is left to the kernel's own choice, once, with a warning.
     */
    private boolean ownPlanFits(NativeApi.Int8GemmPlan plan, EncoderGemms.Gemm g) {
      long need = splitWorkspaceBytes(plan, g.shape());
      if (need <= WORKSPACE_BYTES) {
        return true;
      }
      LOG.warn(
          "tuned INT8 GEMM plan {} for {} {} needs {} bytes of split-K workspace, the encoder has"
              + " {}: using the kernel's own choice",
          plan,
          g.op(),
          g.shape(),
          need,
          WORKSPACE_BYTES);
      return false;
    }

    /**
     * The plan of one GEMM: on its tuned algorithm when the GEMM config has one (and cuBLASLt still
     * accepts it), else tuned now when {@link Options#tuneGemms()}, else on cuBLASLt's heuristic.
     */
    private MatmulPlan plan(EncoderGemms.Gemm g, int batch, int seq, GemmType type) {
      GemmKey key = GemmKey.of(g.shape(), type, g.epilogue());
      // tuning on: a missing shape is tuned (and appended); else the nearest tuned M stands in
      Optional<GemmConfigEntry> tuned =
          !options.tuneGemms()
              ? gemmConfigs.findOrNearest(key)
              : gemmConfigs.has(key)
                  ? gemmConfigs.find(key)
                  : Optional.of(tune(g, type, batch, seq));
      if (tuned.isPresent() && tuned.get().algorithm().isFt4jOwn()) {
        tuned = Optional.empty(); // Int8Gemm.CUBLASLT was asked for: cuBLASLt's heuristic
      }
      if (tuned.isPresent() && !rejectedTuned.contains(key)) {
        try {
          return new MatmulPlan(
              lt,
              g.shape(),
              type,
              g.alpha(),
              g.epilogue(),
              WORKSPACE_BYTES,
              tuned.get().algorithm());
        } catch (CudaException e) {
          rejectedTuned.add(key);
          LOG.warn("{}; using cuBLASLt's heuristic for this GEMM", e.getMessage());
        }
      }
      return new MatmulPlan(lt, g.shape(), type, g.alpha(), g.epilogue(), WORKSPACE_BYTES, null);
    }

    /**
     * The cuBLASLt int8 -> int32 plan of an INT8 linear GEMM, or null for ft4j's own GEMM ({@link
     * Int8Gemm#OWN}, or AUTO where cuBLASLt declines the shape).
     */
    private MatmulPlan int8Plan(EncoderGemms.Gemm g, int batch, int seq) {
      if (options.int8Gemm() == Int8Gemm.OWN || config.precision() == Precision.INT8_MODE_2) {
        return null; // mode 2's int8 outputs: only ft4j's GEMM
      }
      if (options.int8Gemm() == Int8Gemm.AUTO
          && gemmConfigs
              .find(GemmKey.of(g.shape(), GemmType.I8I32, Epilogue.NONE))
              .map(e -> e.algorithm().isFt4jOwn())
              .orElse(false)) {
        return null; // the tuner found ft4j's own GEMM faster for this shape
      }
      try {
        return shared(g, GemmType.I8I32, () -> plan(g, batch, seq, GemmType.I8I32));
      } catch (RuntimeException e) {
        if (options.int8Gemm() == Int8Gemm.CUBLASLT) {
          throw e;
        }
        LOG.info(
            "cuBLASLt has no int8 algorithm for GEMM {} ({}): ft4j's own INT8 GEMM runs it ({})",
            g.op(),
            g.shape(),
            e.getMessage());
        return null;
      }
    }

    private GemmConfigEntry tune(EncoderGemms.Gemm g, GemmType type, int batch, int seq) {
      LOG.info(
          "tuning GEMM {} ({} at batch {} seq {}): allow_gemm_test", g.op(), g.shape(), batch, seq);
      return save(
          g,
          new GemmTuner(lt, stream, TUNE_SETTINGS)
              .tune(g.shape(), type, g.epilogue(), g.alpha(), GemmTuner.Progress.NONE)
              .entry(batch, seq, g.op()));
    }

    /**
     * allow_gemm_test for an INT8 linear GEMM: cuBLASLt's algorithms and ft4j's own GEMM's variants
     * timed together ({@link OwnInt8Gemm#tuneLinear}), the line appended as encoder_gemm writes it
     * (i8i32 for mode 1, i8i8 holding the own GEMM's best variant for mode 2). A failure leaves the
     * GEMM to the automatic choice, with a warning.
     */
    private void tuneInt8(EncoderGemms.Gemm g, GemmType type, int batch, int seq) {
      LOG.info(
          "tuning INT8 GEMM {} ({} {} at batch {} seq {}): allow_gemm_test, cuBLASLt and ft4j's"
              + " own",
          g.op(),
          type,
          g.shape(),
          batch,
          seq);
      try {
        save(
            g,
            OwnInt8Gemm.tuneLinear(
                    new GemmTuner(lt, stream, TUNE_SETTINGS),
                    g.shape(),
                    type,
                    g.alpha(),
                    GemmTuner.Progress.NONE)
                .entry(batch, seq, g.op()));
      } catch (CudaException | IllegalArgumentException | IllegalStateException e) {
        LOG.warn(
            "tuning INT8 GEMM {} failed ({}): the automatic choice runs it", g.op(), e.toString());
      }
    }

    private GemmConfigEntry save(EncoderGemms.Gemm g, GemmConfigEntry entry) {
      try {
        gemmConfigs.save(List.of(entry));
      } catch (GemmConfigException e) {
        LOG.warn("tuned GEMM {} kept for this process only: {}", g.op(), e.getMessage());
      }
      return entry;
    }

    void dropGraph() {
      if (graph != null) {
        graph.close();
        graph = null;
      }
    }

    @Override
    public void close() {
      dropGraph();
      releasePlans(); // the shared cache closes them once no shape holds them
    }
  }

  /** The GEMM configs for this device; problems become warnings and cuBLASLt heuristics. */
  private GemmConfigs loadGemmConfigs(Path explicit) {
    GemmEnvironment env = GemmEnvironment.of(device);
    try {
      return GemmConfigs.load(env, explicit, Path.of("").toAbsolutePath());
    } catch (RuntimeException e) {
      LOG.warn(
          "GEMM configs could not be loaded ({}): cuBLASLt heuristics for every GEMM",
          e.toString());
      return GemmConfigs.heuristicOnly(env);
    }
  }

  /** The tuner's budget for allow_gemm_test (one GEMM at a time, on first use of its shape). */
  private static final GemmTuner.Settings TUNE_SETTINGS =
      new GemmTuner.Settings(1500, 30000, 10.0, 5, 8, 3, 20, WORKSPACE_BYTES);

  /** Where this encoder's tuned GEMM algorithms come from, for reports. */
  public String gemmConfigSource() {
    if (int8 != null) {
      String linear =
          options.int8Gemm() == Int8Gemm.OWN || config.precision() == Precision.INT8_MODE_2
              ? "ft4j's own INT8 GEMM"
              : "cuBLASLt int8 -> int32, "
                  + gemmConfigs.describe(GemmType.I8I32)
                  + (options.int8Gemm() == Int8Gemm.AUTO ? " (ft4j's own where it declines)" : "");
      return "linear layers: "
          + linear
          + (fused ? "" : "; attention: " + gemmConfigs.describe(GemmType.of(dtype, false)));
    }
    return gemmConfigs.describe(GemmType.of(dtype, options.allowTf32()));
  }

  private ShapeState shapeState(int batch, int seq, int rows, Layout layout) {
    ShapeKey key = new ShapeKey(batch, seq, rows, layout);
    ShapeState s = shapes.get(key);
    if (s == null) {
      s = new ShapeState(batch, seq, rows);
      shapes.put(key, s);
      if (shapes.size() > MAX_CACHED_SHAPES) {
        Iterator<ShapeState> eldest = shapes.values().iterator();
        ShapeState evicted = eldest.next();
        eldest.remove();
        evicted.close();
      }
    }
    return s;
  }

  /**
   * Activation buffers sized for at least tokens and batch; the unfused attention's q, k, v,
   * context and [batch, heads, seq, seq] scores exist only when scoresElements > 0 (else null).
   */
  private static final class Activations implements AutoCloseable {
    final long tokensCapacity;
    final long scoresCapacity;
    final int batchCapacity;
    final DeviceBuffer memory;
    final DeviceBuffer x; // [tokens, hidden] layer input and output
    final DeviceBuffer qkv; // [tokens, 3 hidden]
    final DeviceBuffer q; // [batch, heads, seq, d]
    final DeviceBuffer k;
    final DeviceBuffer v;
    final DeviceBuffer scores; // [batch, heads, seq, seq]
    final DeviceBuffer context; // [batch, heads, seq, d]
    final DeviceBuffer merged; // [tokens, hidden]
    final DeviceBuffer dense; // [tokens, hidden] GEMM output before bias + residual + layernorm
    final DeviceBuffer attention; // [tokens, hidden] first layernorm output
    final DeviceBuffer ffn; // [tokens, intermediate]
    final DeviceBuffer io32; // [tokens, hidden] FP32 staging for the host API
    final DeviceBuffer lengths; // [batch] int32
    final DeviceBuffer offsets; // [batch + 1] int32, cumulative lengths (fused attention)
    // INT8 modes 1 and 2 only (else null):
    final DeviceBuffer qx; // int8 [tokens, max(hidden, intermediate)], the next GEMM's input
    final DeviceBuffer acc; // int32 [tokens, max(3 hidden, intermediate)], a GEMM's accumulators
    final DeviceBuffer qkvInScale; // float [tokens], per-token scales of qkv_in
    final DeviceBuffer ffn1InScale; // of ffn1_in
    final DeviceBuffer ffn2InScale; // of ffn2_in
    final DeviceBuffer attnInScale; // of attn_out_in
    final PinnedHostBuffer hostInput;
    final PinnedHostBuffer hostOutput;
    final PinnedHostBuffer hostLengths;

    Activations(
        EncoderConfig c, DType t, long tokens, long scoresElements, int batch, boolean int8) {
      this.tokensCapacity = tokens;
      this.scoresCapacity = scoresElements;
      this.batchCapacity = batch;
      long h = (long) tokens * c.hidden() * t.bytes();
      boolean unfused = scoresElements > 0;
      long perHead = unfused ? h : 0;
      long[] sizes = {
        h,
        3 * h,
        perHead,
        perHead,
        perHead,
        scoresElements * t.bytes(),
        perHead,
        h,
        h,
        h,
        (long) tokens * c.intermediateSize() * t.bytes(),
        4L * tokens * c.hidden(),
        4L * batch,
        4L * (batch + 1),
        int8 ? tokens * Math.max(c.hidden(), c.intermediateSize()) : 0,
        int8 ? 4L * tokens * Math.max(3 * c.hidden(), c.intermediateSize()) : 0,
        int8 ? 4L * tokens : 0,
        int8 ? 4L * tokens : 0,
        int8 ? 4L * tokens : 0,
        int8 ? 4L * tokens : 0
      };
      long total = 0;
      long[] starts = new long[sizes.length];
      for (int i = 0; i < sizes.length; i++) {
        starts[i] = total;
        total += align(sizes[i]);
      }
      memory = DeviceBuffer.allocate(total);
      DeviceBuffer[] views = new DeviceBuffer[sizes.length];
      for (int i = 0; i < sizes.length; i++) {
        views[i] = sizes[i] == 0 ? null : memory.slice(starts[i], sizes[i]);
      }
      x = views[0];
      qkv = views[1];
      q = views[2];
      k = views[3];
      v = views[4];
      scores = views[5];
      context = views[6];
      merged = views[7];
      dense = views[8];
      attention = views[9];
      ffn = views[10];
      io32 = views[11];
      lengths = views[12];
      this.offsets = views[13];
      qx = views[14];
      acc = views[15];
      qkvInScale = views[16];
      ffn1InScale = views[17];
      ffn2InScale = views[18];
      attnInScale = views[19];
      PinnedHostBuffer in = null;
      PinnedHostBuffer out = null;
      try {
        in = PinnedHostBuffer.allocate(4L * tokens * c.hidden());
        out = PinnedHostBuffer.allocate(4L * tokens * c.hidden());
        hostLengths = PinnedHostBuffer.allocate(4L * batch);
      } catch (RuntimeException e) {
        closeQuietly(in);
        closeQuietly(out);
        memory.close();
        throw e;
      }
      hostInput = in;
      hostOutput = out;
    }

    long bytes() {
      return memory.bytes();
    }

    @Override
    public void close() {
      closeQuietly(hostInput);
      closeQuietly(hostOutput);
      closeQuietly(hostLengths);
      memory.close();
    }
  }

  private Activations activationsFor(int batch, int seq) {
    long tokens = (long) batch * seq;
    long scores = fused ? 0 : (long) batch * config.heads() * seq * seq;
    Activations a = activations;
    if (a != null
        && a.tokensCapacity >= tokens
        && a.scoresCapacity >= scores
        && a.batchCapacity >= batch) {
      return a;
    }
    stream.synchronize();
    // Graphs hold the old addresses: drop them all before the memory moves.
    for (ShapeState s : shapes.values()) {
      s.dropGraph();
    }
    long newTokens = a == null ? tokens : Math.max(tokens, a.tokensCapacity);
    long newScores = a == null ? scores : Math.max(scores, a.scoresCapacity);
    int newBatch = a == null ? batch : Math.max(batch, a.batchCapacity);
    if (a != null) {
      activations = null;
      a.close();
    }
    activations = new Activations(config, dtype, newTokens, newScores, newBatch, int8 != null);
    return activations;
  }

  // ---------------------------------------------------------------------------------------------

  private static long align(long bytes) {
    return (bytes + ALIGN - 1) / ALIGN * ALIGN;
  }

  private static long weightBytes(EncoderConfig c, DType t, boolean int8) {
    long total = 0;
    for (long elements : layerTensorSizes(c, int8)) {
      total += align(elements * t.bytes());
    }
    return total * c.layers();
  }

  /**
   * Element counts of the packed per-layer tensors, in LayerWeights order; 0 for the GEMM weights
   * in INT8 mode 1 (they are in {@link Int8DeviceWeights}).
   */
  private static long[] layerTensorSizes(EncoderConfig c, boolean int8) {
    long h = c.hidden();
    long i = c.intermediateSize();
    long m = int8 ? 0 : 1;
    return new long[] {m * 3 * h * h, 3 * h, m * h * h, h, h, h, m * i * h, i, m * h * i, h, h, h};
  }

  private LayerWeights[] uploadWeights(EncoderWeights weights) {
    long[] sizes = layerTensorSizes(config, int8 != null);
    long largest = 0;
    for (long s : sizes) {
      largest = Math.max(largest, s);
    }
    LayerWeights[] result = new LayerWeights[config.layers()];
    try (DeviceBuffer staging = DeviceBuffer.allocate(DType.FP32, largest)) {
      long offset = 0;
      for (int layer = 0; layer < config.layers(); layer++) {
        float[][] host = {
          weights.stacked(
              layer, LayerParam.QUERY_WEIGHT, LayerParam.KEY_WEIGHT, LayerParam.VALUE_WEIGHT),
          weights.stacked(layer, LayerParam.QUERY_BIAS, LayerParam.KEY_BIAS, LayerParam.VALUE_BIAS),
          weights.get(layer, LayerParam.ATTENTION_OUTPUT_WEIGHT),
          weights.get(layer, LayerParam.ATTENTION_OUTPUT_BIAS),
          weights.get(layer, LayerParam.ATTENTION_LAYERNORM_WEIGHT),
          weights.get(layer, LayerParam.ATTENTION_LAYERNORM_BIAS),
          weights.get(layer, LayerParam.INTERMEDIATE_WEIGHT),
          weights.get(layer, LayerParam.INTERMEDIATE_BIAS),
          weights.get(layer, LayerParam.OUTPUT_WEIGHT),
          weights.get(layer, LayerParam.OUTPUT_BIAS),
          weights.get(layer, LayerParam.OUTPUT_LAYERNORM_WEIGHT),
          weights.get(layer, LayerParam.OUTPUT_LAYERNORM_BIAS)
        };
        DeviceBuffer[] views = new DeviceBuffer[host.length];
        for (int t = 0; t < host.length; t++) {
          if (sizes[t] == 0) {
            continue; // an INT8 GEMM weight: uploaded as int8 elsewhere
          }
          long bytes = sizes[t] * dtype.bytes();
          views[t] = weightMemory.slice(offset, bytes);
          offset += align(bytes);
          upload(host[t], views[t], staging);
        }
        result[layer] =
            new LayerWeights(
                views[0], views[1], views[2], views[3], views[4], views[5], views[6], views[7],
                views[8], views[9], views[10], views[11]);
      }
      stream.synchronize();
    }
    return result;
  }

  private void upload(float[] data, DeviceBuffer target, DeviceBuffer staging) {
    if (dtype == DType.FP32) {
      target.copyFrom(data);
    } else {
      stream.synchronize(); // the staging buffer is reused: the previous conversion must be done
      staging.copyFrom(data);
      NativeApi.convert(dtype, target, DType.FP32, staging, data.length, stream);
    }
  }

  private void checkOpen() {
    if (closed) {
      throw new IllegalStateException("encoder is closed");
    }
  }

  @Override
  public synchronized void close() {
    if (closed) {
      return;
    }
    closed = true;
    try {
      device.makeCurrent(); // streams, graphs and memory are destroyed on their own device
      stream.synchronize();
    } catch (RuntimeException e) {
      LOG.warn("pending work failed while closing the encoder: {}", e.toString());
    }
    for (ShapeState s : shapes.values()) {
      closeQuietly(s);
    }
    shapes.clear();
    closeQuietly(plans);
    closeQuietly(activations);
    activations = null;
    closeQuietly(weightMemory);
    closeQuietly(int8);
    closeQuietly(workspace);
    closeQuietly(lt);
    closeQuietly(stream);
  }

  private static void closeQuietly(AutoCloseable c) {
    if (c == null) {
      return;
    }
    try {
      c.close();
    } catch (Exception e) {
      LOG.warn("error while releasing {}: {}", c.getClass().getSimpleName(), e.toString());
    }
  }
}
