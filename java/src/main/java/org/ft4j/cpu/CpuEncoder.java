package org.ft4j.cpu;

import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.ForkJoinTask;
import java.util.concurrent.ForkJoinWorkerThread;
import java.util.stream.IntStream;
import org.ft4j.encoder.Encoder;
import org.ft4j.encoder.EncoderConfig;
import org.ft4j.encoder.EncoderInputs;
import org.ft4j.encoder.EncoderWeights;
import org.ft4j.encoder.LayerParam;

/**
 * The BERT encoder stack on the CPU in float32: the CPU backend of {@code EmbeddingModel} and
 * {@code encoder_sample --backend cpu}. Same formula as {@link org.ft4j.reference.ReferenceEncoder}
 * (post-layernorm layers, exact erf GELU, padded positions never read and 0 in the output),
 * computed with float32 sums on the valid tokens only.
 *
 * <p>Per layer: one GEMM for Q, K and V ([3 hidden, hidden] weight), then per (sequence, head,
 * block of 64 queries) scores = Q Kᵀ, softmax and context = P V (both as GEMMs over K and V packed
 * per task), then the output projection, bias + residual + layernorm, FFN1, bias + GELU, FFN2, bias
 * + residual + layernorm. Weights are packed once, at construction, for {@link CpuKernels}; the
 * work runs on a fork-join pool of the encoder's ({@link #sharedPool()} by default).
 *
 * <p>Speed: with the Vector API ({@code --add-modules jdk.incubator.vector}) the GEMMs run at tens
 * of GFLOP/s per core; without it on plain loops, a few (a warning says so once). See {@link
 * #kernels()}.
 *
 * <p>Accuracy against the float64 reference: float32 accumulation, relative differences of order
 * 1e-6 in the output ({@code CpuEncoderTest}).
 *
 * <p>Thread safety: immutable after construction; concurrent forwards are safe (each allocates its
 * own activations) and share the pool. {@link #close()} releases nothing (heap only; the shared
 * pool's threads are daemons).
 */
public final class CpuEncoder implements Encoder {
  /** Query rows per attention task. */
  private static final int QUERY_BLOCK = 64;

  /** Rows per task of the row-wise steps. */
  private static final int ROW_CHUNK = 16;

  /** Row-wise steps over fewer rows run on the calling thread. */
  private static final int PARALLEL_ROWS = 128;

  private final EncoderConfig config;
  private final CpuKernels kernels;
  private final ForkJoinPool pool;

  private static volatile ForkJoinPool shared;

  /**
   * The pool CPU encoders share by default: {@code -Dft4j.cpu.threads} threads (default: one per
   * available processor), daemon threads named {@code ft4j-cpu-N}, created on first use.
   */
  public static ForkJoinPool sharedPool() {
    ForkJoinPool p = shared;
    if (p == null) {
      synchronized (CpuEncoder.class) {
        p = shared;
        if (p == null) {
          int threads =
              Integer.getInteger("ft4j.cpu.threads", Runtime.getRuntime().availableProcessors());
          if (threads < 1) {
            throw new IllegalStateException("-Dft4j.cpu.threads=" + threads + ", must be >= 1");
          }
          p =
              new ForkJoinPool(
                  threads,
                  pool -> {
                    ForkJoinWorkerThread t =
                        ForkJoinPool.defaultForkJoinWorkerThreadFactory.newThread(pool);
                    t.setName("ft4j-cpu-" + t.getPoolIndex());
                    t.setDaemon(true);
                    return t;
                  },
                  null,
                  false);
          shared = p;
        }
      }
    }
    return p;
  }

  private final Layer[] layers;

  private record Layer(
      PackedMatrix qkv,
      float[] qkvBias,
      PackedMatrix attentionOut,
      float[] attentionOutBias,
      float[] attentionGamma,
      float[] attentionBeta,
      PackedMatrix ffn1,
      float[] ffn1Bias,
      PackedMatrix ffn2,
      float[] ffn2Bias,
      float[] outputGamma,
      float[] outputBeta) {}

  /** An encoder over {@code weights} on the best kernels of this JVM ({@link #kernels()}). */
  public CpuEncoder(EncoderWeights weights) {
    this(weights, null);
  }

  /** {@link #CpuEncoder(EncoderWeights, String, ForkJoinPool)} on the {@link #sharedPool()}. */
  public CpuEncoder(EncoderWeights weights, String kernels) {
    this(weights, kernels, null);
  }

  /**
   * An encoder on the kernels {@code kernels} names: "auto", "vector" or "scalar" (null = the
   * {@code ft4j.cpu.kernels} system property, else auto).
   *
   * <p>Forwards run on {@code pool} (null = {@link #sharedPool()}), not on the common fork-join
   * pool, so that a service's other parallel work (parallel streams, {@code
   * CompletableFuture.supplyAsync}) neither slows the encoder down nor waits behind it.
   *
   * @throws IllegalStateException for "vector" where the Vector API module is not loaded
   */
  public CpuEncoder(EncoderWeights weights, String kernels, ForkJoinPool pool) {
    if (weights == null) {
      throw new IllegalArgumentException("weights is null");
    }
    this.pool = pool == null ? sharedPool() : pool;
    this.config = weights.config();
    this.kernels = kernels == null ? CpuKernels.best() : CpuKernels.select(kernels);
    int hidden = config.hidden();
    int inter = config.intermediateSize();
    this.layers = new Layer[config.layers()];
    for (int l = 0; l < layers.length; l++) {
      layers[l] =
          new Layer(
              pack(
                  weights.stacked(
                      l, LayerParam.QUERY_WEIGHT, LayerParam.KEY_WEIGHT, LayerParam.VALUE_WEIGHT),
                  3 * hidden,
                  hidden),
              weights.stacked(l, LayerParam.QUERY_BIAS, LayerParam.KEY_BIAS, LayerParam.VALUE_BIAS),
              pack(weights.get(l, LayerParam.ATTENTION_OUTPUT_WEIGHT), hidden, hidden),
              weights.get(l, LayerParam.ATTENTION_OUTPUT_BIAS),
              weights.get(l, LayerParam.ATTENTION_LAYERNORM_WEIGHT),
              weights.get(l, LayerParam.ATTENTION_LAYERNORM_BIAS),
              pack(weights.get(l, LayerParam.INTERMEDIATE_WEIGHT), inter, hidden),
              weights.get(l, LayerParam.INTERMEDIATE_BIAS),
              pack(weights.get(l, LayerParam.OUTPUT_WEIGHT), hidden, inter),
              weights.get(l, LayerParam.OUTPUT_BIAS),
              weights.get(l, LayerParam.OUTPUT_LAYERNORM_WEIGHT),
              weights.get(l, LayerParam.OUTPUT_LAYERNORM_BIAS));
    }
  }

  private PackedMatrix pack(float[] w, int out, int in) {
    return PackedMatrix.ofRowMajor(w, out, in, kernels);
  }

  @Override
  public EncoderConfig config() {
    return config;
  }

  /** The kernel set in use, e.g. "vector (16 x float)" or "scalar". */
  public String kernels() {
    return kernels.name();
  }

  /**
   * Runs every layer on the valid tokens of a padded batch.
   *
   * @param input [batch, seq, hidden]
   * @param lengths [batch], each in [1, seq]
   * @return [batch, seq, hidden], 0 at padded positions
   * @throws IllegalArgumentException from {@link EncoderInputs#check} on a bad shape or length
   */
  @Override
  public float[] forward(float[] input, int[] lengths, int batch, int seq) {
    EncoderInputs.check(config, input, lengths, batch, seq);
    int hidden = config.hidden();
    int[] offsets = offsets(lengths);
    float[] x = new float[offsets[batch] * hidden];
    for (int b = 0; b < batch; b++) {
      System.arraycopy(input, b * seq * hidden, x, offsets[b] * hidden, lengths[b] * hidden);
    }
    float[] y = run(x, offsets);
    float[] out = new float[batch * seq * hidden];
    for (int b = 0; b < batch; b++) {
      System.arraycopy(y, offsets[b] * hidden, out, b * seq * hidden, lengths[b] * hidden);
    }
    return out;
  }

  /**
   * Runs every layer on sequences stored back to back (no padding).
   *
   * @param tokens [sum(lengths), hidden]
   * @param lengths each &gt;= 1
   * @return [sum(lengths), hidden]
   * @throws IllegalArgumentException on a null or empty argument, a length &lt; 1 or a size that is
   *     not sum(lengths) · hidden
   */
  public float[] forwardPacked(float[] tokens, int[] lengths) {
    if (tokens == null || lengths == null || lengths.length == 0) {
      throw new IllegalArgumentException("tokens and lengths must be non-null and non-empty");
    }
    for (int b = 0; b < lengths.length; b++) {
      if (lengths[b] < 1) {
        throw new IllegalArgumentException("lengths[" + b + "] = " + lengths[b] + " is < 1");
      }
    }
    int[] offsets = offsets(lengths);
    long expected = (long) offsets[lengths.length] * config.hidden();
    if (tokens.length != expected) {
      throw new IllegalArgumentException(
          "tokens has "
              + tokens.length
              + " values, expected sum(lengths) x hidden = "
              + offsets[lengths.length]
              + " x "
              + config.hidden());
    }
    return run(tokens.clone(), offsets);
  }

  private static int[] offsets(int[] lengths) {
    int[] offsets = new int[lengths.length + 1];
    for (int b = 0; b < lengths.length; b++) {
      long next = (long) offsets[b] + lengths[b];
      if (next > Integer.MAX_VALUE / 4) {
        throw new IllegalArgumentException("too many tokens: " + next);
      }
      offsets[b + 1] = (int) next;
    }
    return offsets;
  }

  /**
   * All layers on the compact activations x [tokens, hidden] (overwritten), on the encoder's pool
   * (directly when already on one of its threads); returns the result.
   */
  private float[] run(float[] x, int[] offsets) {
    if (ForkJoinTask.getPool() == pool) {
      return layers(x, offsets);
    }
    return pool.invoke(ForkJoinTask.adapt(() -> layers(x, offsets)));
  }

  private float[] layers(float[] x, int[] offsets) {
    int tokens = offsets[offsets.length - 1];
    int hidden = config.hidden();
    long workspace = (long) tokens * Math.max(3 * hidden, config.intermediateSize());
    if (workspace > Integer.MAX_VALUE - 8) {
      throw new IllegalArgumentException(tokens + " tokens need more than 2^31 activations");
    }
    float[] wide = new float[(int) workspace]; // qkv [tokens, 3 hidden], then ffn [tokens, inter]
    float[] ctx = new float[tokens * hidden];
    float[] attn = new float[tokens * hidden];
    for (Layer layer : layers) {
      layer(layer, x, offsets, wide, ctx, attn);
    }
    return x;
  }

  /** One layer: x [tokens, hidden] in, the layer's output written back into x. */
  private void layer(Layer w, float[] x, int[] offsets, float[] qkv, float[] ctx, float[] attn) {
    int tokens = offsets[offsets.length - 1];
    int hidden = config.hidden();
    int inter = config.intermediateSize();

    w.qkv.multiply(kernels, x, tokens, qkv, perRow(3 * hidden, w.qkvBias, kernels::addBias));
    attention(qkv, offsets, ctx);

    // attn = LN(ctx Wo^T + bo + x)
    w.attentionOut.multiply(kernels, ctx, tokens, attn, null);
    addBiasResidualLayerNorm(
        attn, w.attentionOutBias, x, w.attentionGamma, w.attentionBeta, tokens);

    // h = gelu(attn Wi^T + bi), in the wide buffer (Q, K, V are no longer needed)
    float[] h = qkv;
    w.ffn1.multiply(kernels, attn, tokens, h, perRow(inter, w.ffn1Bias, kernels::biasGelu));

    // x = LN(h Wo2^T + bo2 + attn)
    w.ffn2.multiply(kernels, h, tokens, x, null);
    addBiasResidualLayerNorm(x, w.ffn2Bias, attn, w.outputGamma, w.outputBeta, tokens);
  }

  /** A bias step of {@link CpuKernels} (addBias, biasGelu): (y, at, bias, biasAt, n). */
  private interface BiasStep {
    void apply(float[] y, int at, float[] bias, int biasAt, int n);
  }

  /** The tile epilogue that runs {@code step} on each row of a tile of a [rows, ld] product. */
  private static PackedMatrix.TileEpilogue perRow(int ld, float[] bias, BiasStep step) {
    return (y, r0, m, c0, n) -> {
      for (int r = r0; r < r0 + m; r++) {
        step.apply(y, r * ld + c0, bias, c0, n);
      }
    };
  }

  /** y[r, :] = LN(y[r, :] + bias + residual[r, :]) for the first {@code tokens} rows. */
  private void addBiasResidualLayerNorm(
      float[] y, float[] bias, float[] residual, float[] gamma, float[] beta, int tokens) {
    int hidden = config.hidden();
    float eps = (float) config.layerNormEps();
    rows(
        tokens,
        r ->
            kernels.biasResidualLayerNorm(
                y,
                r * hidden,
                bias,
                residual,
                r * hidden,
                gamma,
                beta,
                eps,
                hidden,
                y,
                r * hidden));
  }

  /**
   * body(r) for every row r &lt; rows: in parallel chunks from {@value #PARALLEL_ROWS} rows, below
   * that on the calling thread (waking a pool thread costs more than a few rows' layernorm).
   */
  private static void rows(int rows, java.util.function.IntConsumer body) {
    int chunks = (rows + ROW_CHUNK - 1) / ROW_CHUNK;
    IntStream range = IntStream.range(0, chunks);
    if (rows >= PARALLEL_ROWS) {
      range = range.parallel();
    }
    range.forEach(
        c -> {
          int end = Math.min(rows, (c + 1) * ROW_CHUNK);
          for (int r = c * ROW_CHUNK; r < end; r++) {
            body.accept(r);
          }
        });
  }

  /**
   * ctx [tokens, hidden] = softmax(Q Kᵀ / √d) V per sequence and head, reading Q, K and V from
   * {@code qkv} [tokens, 3 hidden] (bias added).
   */
  private void attention(float[] qkv, int[] offsets, float[] ctx) {
    int heads = config.heads();
    int d = config.sizePerHead();
    int hidden = config.hidden();
    int ld = 3 * hidden;
    int nb = kernels.panelWidth();
    float scale = (float) (1.0 / Math.sqrt(d));
    int[][] qb = EncoderInputs.queryBlocks(offsets, QUERY_BLOCK);
    int[] blockSeq = qb[0];
    int[] blockStart = qb[1];
    int blocks = blockSeq.length;
    IntStream range = IntStream.range(0, blocks * heads);
    if (blocks * heads > 1) {
      range = range.parallel();
    }
    range.forEach(
        task -> {
          int b = blockSeq[task / heads];
          int i0 = blockStart[task / heads];
          int h = task % heads;
          int off = offsets[b];
          int len = offsets[b + 1] - off;
          int m = Math.min(QUERY_BLOCK, len - i0);
          // K as the [len, d] "weight" of the scores GEMM; V as the [d, len] one of the context.
          float[] k = new float[PackedMatrix.size(len, d, nb)];
          PackedMatrix.pack(qkv, off * ld + hidden + h * d, ld, 1, len, d, nb, k);
          float[] v = new float[PackedMatrix.size(d, len, nb)];
          PackedMatrix.pack(qkv, off * ld + 2 * hidden + h * d, 1, ld, d, len, nb, v);
          float[] s = new float[m * len];
          PackedMatrix.multiply(
              kernels,
              qkv,
              (off + i0) * ld + h * d,
              ld,
              m,
              k,
              len,
              d,
              0,
              (len + nb - 1) / nb,
              s,
              0,
              len);
          for (int i = 0; i < m; i++) {
            kernels.softmax(s, i * len, len, scale);
          }
          PackedMatrix.multiply(
              kernels,
              s,
              0,
              len,
              m,
              v,
              d,
              len,
              0,
              (d + nb - 1) / nb,
              ctx,
              (off + i0) * hidden + h * d,
              hidden);
        });
  }

  /** Nothing to release (heap only); idempotent. */
  @Override
  public void close() {}
}
