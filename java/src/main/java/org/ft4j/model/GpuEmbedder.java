package org.ft4j.model;

import java.util.ArrayList;
import java.util.List;
import org.ft4j.cuda.CudaDevice;
import org.ft4j.cuda.CudaStream;
import org.ft4j.cuda.DType;
import org.ft4j.cuda.DeviceBuffer;
import org.ft4j.encoder.BertEncoder;
import org.ft4j.encoder.EncoderWeights;
import org.ft4j.encoder.Precision;
import org.ft4j.nativeapi.NativeApi;
import org.ft4j.quant.ScaleSet;

/**
 * The GPU backend: the embedding layer (one fused gather + layernorm kernel) and {@link
 * BertEncoder} on one device, FP32, FP16 or INT8. Batches are padded to their longest sequence for
 * the embedding layer; with FP16 and INT8 the encoder then runs every layer on the valid tokens
 * only (padding removal: mixed lengths cost what their tokens cost), FP32 stays padded (its padding
 * removal would force the CUDA-core attention, slower than its cuBLASLt attention). {@link #pooled}
 * pools on the device, so only [batch, hidden] floats come back to the host. Padded positions never
 * influence valid ones.
 *
 * <p>Thread safety: {@link #lastHiddenStates} and {@link #pooled} are synchronized; one call runs
 * at a time.
 */
public final class GpuEmbedder implements TokenEmbedder {
  private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(GpuEmbedder.class);

  private final ModelConfig config;
  private final DType dtype;
  private final CudaDevice device;
  private final BertEncoder encoder;
  private final CudaStream stream;
  private final List<DeviceBuffer> tables = new ArrayList<>();
  private final DeviceBuffer word; // [vocab, hidden]
  private final DeviceBuffer position; // [maxPositions, hidden]
  private final DeviceBuffer tokenType; // [typeVocab, hidden]
  private final DeviceBuffer gamma; // [hidden]
  private final DeviceBuffer beta; // [hidden]
  private DeviceBuffer ids; // [capacity] int32
  private DeviceBuffer typeIds; // [capacity] int32
  private DeviceBuffer x; // [capacity, hidden] embedding output = encoder input
  private DeviceBuffer y; // [capacity, hidden] encoder output
  private DeviceBuffer out32; // [capacity, hidden] FP32 copy for the host (FP16 only)
  private long capacity;
  private DeviceBuffer lengthsDev; // [batchCapacity] int32, for the pooling kernel
  private DeviceBuffer pooledOut; // [batchCapacity, hidden] FP32
  private int batchCapacity;
  private boolean closed;

  /** Padded sequence lengths are multiples of this with padding removal (FP16, INT8). */
  static final int SEQ_MULTIPLE = 16;

  /** True when a CUDA device and the ft4j native library can be used. */
  public static boolean available() {
    try {
      return CudaDevice.isAvailable();
    } catch (RuntimeException | LinkageError e) {
      return false;
    }
  }

  /**
   * Uploads {@code model} to {@code device} at {@code precision} (FP32 or FP16).
   *
   * @throws UnsupportedOperationException for INT8 precisions (they need scales: the other
   *     constructor)
   */
  public GpuEmbedder(Model model, Precision precision, int device) {
    this(model, precision, device, null);
  }

  /**
   * Uploads {@code model} to {@code device} at {@code precision}: FP32, FP16, or INT8 mode 1 or 2
   * with {@code scales} (embeddings and activations between the INT8 GEMMs in FP16).
   *
   * @throws UnsupportedOperationException for an INT8 mode without scales
   */
  public GpuEmbedder(Model model, Precision precision, int device, ScaleSet scales) {
    if (precision.isInt8() && scales == null) {
      throw new UnsupportedOperationException(
          "precision "
              + precision.label()
              + " needs INT8 scales (EmbeddingModel finds them; or `ft4j calibrate`)");
    }
    this.config = model.config();
    this.dtype = precision == Precision.FP32 ? DType.FP32 : DType.FP16;
    this.device = CudaDevice.open(device);
    this.device.makeCurrent();
    BertEncoder enc = null;
    CudaStream s = null;
    try {
      EncoderWeights weights = model.encoder().withConfig(config.encoderConfig(precision));
      BertEncoder.Options options =
          BertEncoder.Options.defaults()
              .withDevice(device)
              .withRemovePadding(precision != Precision.FP32);
      enc =
          precision.isInt8()
              ? BertEncoder.create(weights, scales, options)
              : BertEncoder.create(weights, options);
      s = CudaStream.create();
      this.encoder = enc;
      this.stream = s;
      EmbeddingWeights e = model.embeddings();
      this.word = upload(e.word());
      this.position = upload(e.position());
      this.tokenType = upload(e.tokenType());
      this.gamma = upload(e.layerNormGamma());
      this.beta = upload(e.layerNormBeta());
    } catch (RuntimeException | Error ex) {
      tables.forEach(DeviceBuffer::close);
      if (s != null) {
        s.close();
      }
      if (enc != null) {
        enc.close();
      }
      throw ex;
    }
  }

  private DeviceBuffer upload(float[] data) {
    DeviceBuffer target = DeviceBuffer.allocate(dtype, data.length);
    tables.add(target);
    if (dtype == DType.FP32) {
      target.copyFrom(data);
    } else {
      try (DeviceBuffer staging = DeviceBuffer.of(data)) {
        NativeApi.convert(dtype, target, DType.FP32, staging, data.length, stream);
        stream.synchronize();
      }
    }
    return target;
  }

  @Override
  public ModelConfig config() {
    return config;
  }

  /** The encoder underneath (for its options and memory use). */
  public BertEncoder encoder() {
    return encoder;
  }

  @Override
  public synchronized float[][] lastHiddenStates(int[][] tokenIds, int[][] tokenTypes) {
    TokenInputs.Padded padded = encode(tokenIds, tokenTypes);
    int batch = padded.batch();
    int seq = padded.seq();
    int[] lengths = padded.lengths();
    int hidden = config.hidden();
    int rows = batch * seq;
    float[] all;
    if (dtype == DType.FP32) {
      all = y.toFloatArray(rows * hidden);
    } else {
      NativeApi.convert(DType.FP32, out32, dtype, y, (long) rows * hidden, stream);
      stream.synchronize();
      all = out32.toFloatArray(rows * hidden);
    }
    float[][] result = new float[batch][];
    for (int b = 0; b < batch; b++) {
      result[b] = new float[lengths[b] * hidden];
      System.arraycopy(all, b * seq * hidden, result[b], 0, lengths[b] * hidden);
    }
    return result;
  }

  /**
   * CLS or mean pooling (and L2 normalisation) on the device: the encoder's output stays there and
   * only [batch, hidden] floats are copied back. NONE pools nothing: {@link #lastHiddenStates}.
   */
  @Override
  public synchronized float[][] pooled(
      int[][] tokenIds, int[][] tokenTypes, Pooling pooling, boolean normalize) {
    if (pooling == null || pooling == Pooling.NONE) {
      return TokenEmbedder.super.pooled(tokenIds, tokenTypes, pooling, normalize);
    }
    TokenInputs.Padded padded = encode(tokenIds, tokenTypes);
    int batch = padded.batch();
    int hidden = config.hidden();
    ensureBatchCapacity(batch);
    lengthsDev.copyFrom(padded.lengths());
    NativeApi.poolRows(
        dtype,
        pooledOut,
        y,
        lengthsDev,
        batch,
        padded.seq(),
        hidden,
        pooling == Pooling.MEAN,
        normalize,
        stream);
    stream.synchronize();
    float[] all = pooledOut.toFloatArray(batch * hidden);
    float[][] result = new float[batch][];
    for (int b = 0; b < batch; b++) {
      result[b] = java.util.Arrays.copyOfRange(all, b * hidden, (b + 1) * hidden);
    }
    return result;
  }

  /** Embedding layer and encoder over the padded batch: the last hidden states end up in y. */
  private TokenInputs.Padded encode(int[][] tokenIds, int[][] tokenTypes) {
    if (closed) {
      throw new IllegalStateException("embedder is closed");
    }
    // With padding removal (FP16, INT8) padded positions cost nothing in the layers, so the batch
    // is padded to a multiple of SEQ_MULTIPLE: the encoder caches GEMM plans and CUDA graphs per
    // (batch, seq, 64-row token bucket), and exact lengths would make most batches of a service
    // a new shape (README, "Text to embeddings", and org.ft4j.bench.ShapeCacheSim).
    TokenInputs.Padded padded =
        TokenInputs.pad(config, tokenIds, tokenTypes, dtype == DType.FP32 ? 1 : SEQ_MULTIPLE);
    int batch = padded.batch();
    int seq = padded.seq();
    int[] lengths = padded.lengths();
    int hidden = config.hidden();
    int rows = batch * seq;
    device.makeCurrent();
    ensureCapacity(rows);
    ids.copyFrom(padded.ids());
    typeIds.copyFrom(padded.types());
    NativeApi.embeddingLayerNorm(
        dtype,
        x,
        ids,
        typeIds,
        word,
        position,
        tokenType,
        gamma,
        beta,
        (float) config.layerNormEps(),
        rows,
        seq,
        hidden,
        config.vocabSize(),
        config.maxPositions(),
        config.typeVocabSize(),
        config.positionOffset(),
        stream);
    stream.synchronize();
    encoder.forward(x, lengths, batch, seq, y); // returns when y is complete
    return padded;
  }

  private void ensureBatchCapacity(int batch) {
    if (batch <= batchCapacity) {
      return;
    }
    closeBatchBuffers();
    lengthsDev = DeviceBuffer.allocate(DType.INT32, batch);
    pooledOut = DeviceBuffer.allocate(DType.FP32, (long) batch * config.hidden());
    batchCapacity = batch;
  }

  private void closeBatchBuffers() {
    for (DeviceBuffer b : new DeviceBuffer[] {lengthsDev, pooledOut}) {
      if (b != null) {
        b.close();
      }
    }
    lengthsDev = pooledOut = null;
    batchCapacity = 0;
  }

  private void ensureCapacity(long rows) {
    if (rows <= capacity) {
      return;
    }
    closeActivations();
    long hidden = config.hidden();
    ids = DeviceBuffer.allocate(DType.INT32, rows);
    typeIds = DeviceBuffer.allocate(DType.INT32, rows);
    x = DeviceBuffer.allocate(dtype, rows * hidden);
    y = DeviceBuffer.allocate(dtype, rows * hidden);
    out32 = dtype == DType.FP32 ? null : DeviceBuffer.allocate(DType.FP32, rows * hidden);
    capacity = rows;
  }

  private void closeActivations() {
    for (DeviceBuffer b : new DeviceBuffer[] {ids, typeIds, x, y, out32}) {
      if (b != null) {
        b.close();
      }
    }
    ids = typeIds = x = y = out32 = null;
    capacity = 0;
  }

  @Override
  public synchronized void close() {
    if (closed) {
      return;
    }
    closed = true;
    try {
      device.makeCurrent(); // its buffers and stream are released on their own device
    } catch (RuntimeException e) {
      LOG.warn("could not make device current while closing: {}", e.toString());
    }
    closeActivations();
    closeBatchBuffers();
    tables.forEach(DeviceBuffer::close);
    stream.close();
    encoder.close();
  }
}
