package org.ft4j.nativeapi;

import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.IntPointer;
import org.ft4j.cuda.CudaException;
import org.ft4j.cuda.CudaStream;
import org.ft4j.cuda.DType;
import org.ft4j.cuda.DeviceBuffer;

/**
 * The only caller of the ft4j native library. Every method checks its arguments in Java first
 * (dimensions, element types, that each buffer is large enough for the shape it is said to hold),
 * so a wrong argument never reaches native code; then it calls the C function and turns a non-zero
 * status into an exception carrying the native message: invalid argument → {@link
 * IllegalArgumentException}, unsupported → {@link UnsupportedOperationException}, CUDA or internal
 * error → {@link CudaException}.
 *
 * <p>Kernel launches are asynchronous on the given stream. Shapes follow native/include/ft4j.h.
 */
public final class NativeApi {
  private static volatile boolean loaded;
  private static volatile Throwable loadFailure;

  private NativeApi() {}

  /** Device properties reported by the native library. */
  public record DeviceInfo(int smMajor, int smMinor, int runtimeVersion, int driverVersion) {}

  /** Loads libft4j (and its JNI glue) or throws a CudaException that says why it cannot. */
  public static void ensureLoaded() {
    if (loaded) {
      return;
    }
    synchronized (NativeApi.class) {
      if (!loaded && loadFailure == null) {
        try {
          Ft4jNative.load();
          loaded = true;
        } catch (Throwable t) {
          loadFailure = t;
        }
      }
    }
    if (!loaded) {
      throw new CudaException(
          "the ft4j native library could not be loaded (it needs the CUDA 13 runtime,"
              + " libcudart.so.13, on the library path): "
              + loadFailure,
          loadFailure);
    }
  }

  /** Why the library cannot be loaded, or null if it can. */
  public static Throwable loadFailure() {
    try {
      ensureLoaded();
      return null;
    } catch (CudaException e) {
      return e.getCause() != null ? e.getCause() : e;
    }
  }

  public static String version() {
    ensureLoaded();
    return Ft4jNative.ft4j_version().getString();
  }

  /** Number of CUDA devices; 0 where there is no driver or no device. */
  public static int cudaDeviceCount() {
    ensureLoaded();
    int[] count = new int[1];
    check(Ft4jNative.ft4j_cuda_device_count(count));
    return count[0];
  }

  public static DeviceInfo deviceInfo(int device) {
    ensureLoaded();
    int[] major = new int[1];
    int[] minor = new int[1];
    int[] runtime = new int[1];
    int[] driver = new int[1];
    check(Ft4jNative.ft4j_cuda_device_info(device, major, minor, runtime, driver));
    return new DeviceInfo(major[0], minor[0], runtime[0], driver[0]);
  }

  /** data[rows, cols] = gelu(data + bias[cols]) in place (exact erf GELU). */
  public static void addBiasGelu(
      DType dtype, DeviceBuffer data, DeviceBuffer bias, int rows, int cols, CudaStream stream) {
    int t = floatType(dtype);
    positive("rows", rows);
    positive("cols", cols);
    data.requireFits(dtype, (long) rows * cols, "addBiasGelu data [" + rows + ", " + cols + "]");
    bias.requireFits(dtype, cols, "addBiasGelu bias [" + cols + "]");
    ensureLoaded();
    check(
        Ft4jNative.ft4j_add_bias_gelu(
            t, data.pointer(), bias.pointer(), rows, cols, stream.handle()));
  }

  /**
   * out[rows, cols] = layernorm(input + bias + residual) * gamma + beta. {@code bias} may be null;
   * out may be the same buffer as input or residual.
   */
  public static void addBiasResidualLayerNorm(
      DType dtype,
      DeviceBuffer out,
      DeviceBuffer input,
      DeviceBuffer bias,
      DeviceBuffer residual,
      DeviceBuffer gamma,
      DeviceBuffer beta,
      float eps,
      int rows,
      int cols,
      CudaStream stream) {
    int t = floatType(dtype);
    positive("rows", rows);
    positive("cols", cols);
    layerNormEps(eps);
    String shape = " [" + rows + ", " + cols + "]";
    long n = (long) rows * cols;
    out.requireFits(dtype, n, "layernorm out" + shape);
    input.requireFits(dtype, n, "layernorm input" + shape);
    residual.requireFits(dtype, n, "layernorm residual" + shape);
    if (bias != null) {
      bias.requireFits(dtype, cols, "layernorm bias [" + cols + "]");
    }
    gamma.requireFits(dtype, cols, "layernorm gamma [" + cols + "]");
    beta.requireFits(dtype, cols, "layernorm beta [" + cols + "]");
    ensureLoaded();
    check(
        Ft4jNative.ft4j_add_bias_residual_layernorm(
            t,
            out.pointer(),
            input.pointer(),
            bias == null ? null : bias.pointer(),
            residual.pointer(),
            gamma.pointer(),
            beta.pointer(),
            eps,
            rows,
            cols,
            stream.handle()));
  }

  /**
   * qkv [batch*seq, 3*hidden] (+ qkvBias [3*hidden], may be null) → q, k, v each [batch, heads,
   * seq, sizePerHead].
   */
  public static void addQkvBiasSplitHeads(
      DType dtype,
      DeviceBuffer q,
      DeviceBuffer k,
      DeviceBuffer v,
      DeviceBuffer qkv,
      DeviceBuffer qkvBias,
      int batch,
      int seq,
      int heads,
      int sizePerHead,
      CudaStream stream) {
    int t = floatType(dtype);
    long perHeadTensor = attentionShape(batch, seq, heads, sizePerHead);
    long hidden = (long) heads * sizePerHead;
    String shape = " [" + batch + ", " + heads + ", " + seq + ", " + sizePerHead + "]";
    q.requireFits(dtype, perHeadTensor, "q" + shape);
    k.requireFits(dtype, perHeadTensor, "k" + shape);
    v.requireFits(dtype, perHeadTensor, "v" + shape);
    qkv.requireFits(
        dtype, 3 * perHeadTensor, "qkv [" + (long) batch * seq + ", " + 3 * hidden + "]");
    if (qkvBias != null) {
      qkvBias.requireFits(dtype, 3 * hidden, "qkv bias [" + 3 * hidden + "]");
    }
    ensureLoaded();
    check(
        Ft4jNative.ft4j_add_qkv_bias_split_heads(
            t,
            q.pointer(),
            k.pointer(),
            v.pointer(),
            qkv.pointer(),
            qkvBias == null ? null : qkvBias.pointer(),
            batch,
            seq,
            heads,
            sizePerHead,
            stream.handle()));
  }

  /** Softmax of scores [batch, heads, seq, seq] masked by device lengths [batch], in place. */
  public static void maskedSoftmax(
      DType dtype,
      DeviceBuffer scores,
      DeviceBuffer lengths,
      int batch,
      int heads,
      int seq,
      float scale,
      CudaStream stream) {
    int t = floatType(dtype);
    positive("batch", batch);
    positive("heads", heads);
    positive("seq", seq);
    if (!Float.isFinite(scale)) {
      throw new IllegalArgumentException("softmax scale = " + scale + ", must be finite");
    }
    long n = (long) batch * heads * seq * seq;
    scores.requireFits(dtype, n, "scores [" + batch + ", " + heads + ", " + seq + ", " + seq + "]");
    lengths.requireFits(DType.INT32, batch, "lengths [" + batch + "]");
    ensureLoaded();
    check(
        Ft4jNative.ft4j_masked_softmax(
            t,
            scores.pointer(),
            new IntPointer(lengths.pointer()),
            batch,
            heads,
            seq,
            scale,
            stream.handle()));
  }

  /** in [batch, heads, seq, sizePerHead] → out [batch*seq, heads*sizePerHead]. */
  public static void mergeHeads(
      DType dtype,
      DeviceBuffer out,
      DeviceBuffer in,
      int batch,
      int seq,
      int heads,
      int sizePerHead,
      CudaStream stream) {
    int t = floatType(dtype);
    long n = attentionShape(batch, seq, heads, sizePerHead);
    in.requireFits(
        dtype,
        n,
        "merge heads input [" + batch + ", " + heads + ", " + seq + ", " + sizePerHead + "]");
    out.requireFits(
        dtype,
        n,
        "merge heads output [" + (long) batch * seq + ", " + (long) heads * sizePerHead + "]");
    ensureLoaded();
    check(
        Ft4jNative.ft4j_merge_heads(
            t, out.pointer(), in.pointer(), batch, seq, heads, sizePerHead, stream.handle()));
  }

  /**
   * Embedding layer: out[r] = layernorm(word[ids[r]] + position[r % seq + positionOffset] +
   * tokenType[typeIds[r]]) (see ft4j.h). {@code typeIds} may be null (type 0). Ids must have been
   * validated against the tables (the kernel clamps, it does not check).
   */
  public static void embeddingLayerNorm(
      DType dtype,
      DeviceBuffer out,
      DeviceBuffer ids,
      DeviceBuffer typeIds,
      DeviceBuffer word,
      DeviceBuffer position,
      DeviceBuffer tokenType,
      DeviceBuffer gamma,
      DeviceBuffer beta,
      float eps,
      int rows,
      int seq,
      int hidden,
      int vocab,
      int maxPositions,
      int typeVocab,
      int positionOffset,
      CudaStream stream) {
    int t = floatType(dtype);
    positive("rows", rows);
    positive("seq", seq);
    positive("hidden", hidden);
    positive("vocab", vocab);
    positive("maxPositions", maxPositions);
    positive("typeVocab", typeVocab);
    if (!(eps > 0) || !Float.isFinite(eps)) {
      throw new IllegalArgumentException("eps = " + eps + ", must be > 0 and finite");
    }
    if (positionOffset < 0 || (long) seq + positionOffset > maxPositions) {
      throw new IllegalArgumentException(
          "seq + positionOffset = "
              + ((long) seq + positionOffset)
              + " exceeds maxPositions = "
              + maxPositions);
    }
    out.requireFits(dtype, (long) rows * hidden, "embedding out [" + rows + ", " + hidden + "]");
    ids.requireFits(DType.INT32, rows, "ids [" + rows + "]");
    if (typeIds != null) {
      typeIds.requireFits(DType.INT32, rows, "type ids [" + rows + "]");
    }
    word.requireFits(
        dtype, (long) vocab * hidden, "word embeddings [" + vocab + ", " + hidden + "]");
    position.requireFits(
        dtype,
        (long) maxPositions * hidden,
        "position embeddings [" + maxPositions + ", " + hidden + "]");
    tokenType.requireFits(
        dtype,
        (long) typeVocab * hidden,
        "token type embeddings [" + typeVocab + ", " + hidden + "]");
    gamma.requireFits(dtype, hidden, "embedding layernorm gamma [" + hidden + "]");
    beta.requireFits(dtype, hidden, "embedding layernorm beta [" + hidden + "]");
    ensureLoaded();
    check(
        Ft4jNative.ft4j_embedding_layernorm(
            t,
            out.pointer(),
            new IntPointer(ids.pointer()),
            typeIds == null ? null : new IntPointer(typeIds.pointer()),
            word.pointer(),
            position.pointer(),
            tokenType.pointer(),
            gamma.pointer(),
            beta.pointer(),
            eps,
            rows,
            seq,
            hidden,
            vocab,
            maxPositions,
            typeVocab,
            positionOffset,
            stream.handle()));
  }

  /** Which code path {@link #fusedAttention} takes on the current device. */
  public enum AttentionPath {
    /** Not supported on this device (or no device). */
    NONE,
    /** FP16 tensor cores (sm_80+, head size 16, 32, 64, 96 or 128; mma.sync). */
    TENSOR_CORES,
    /** CUDA cores (FP32, sm_75, other head sizes up to 256). */
    CUDA_CORES,
    /**
     * FP16 tensor cores through warpgroup MMAs (sm_90, head size 64 or 128), where asked for: see
     * {@link #setFusedAttentionWgmma}.
     */
    WARPGROUP_TENSOR_CORES;

    /** Whether this path runs on tensor cores (either kind). */
    public boolean tensorCores() {
      return this == TENSOR_CORES || this == WARPGROUP_TENSOR_CORES;
    }
  }

  /** The path of {@link #fusedAttention} for this type and head size on the current device. */
  public static AttentionPath fusedAttentionPath(DType dtype, int heads, int sizePerHead) {
    int t = floatType(dtype);
    positive("heads", heads);
    positive("sizePerHead", sizePerHead);
    ensureLoaded();
    int[] path = new int[1];
    check(Ft4jNative.ft4j_fused_attention_path(t, heads, sizePerHead, path));
    return AttentionPath.values()[path[0]];
  }

  /**
   * The path of {@link #fusedAttentionInt8} for an encoder of type {@code dtype} and Q/K/V of
   * {@code qkvType} (INT8 or dtype) on the current device.
   */
  public static AttentionPath fusedAttentionInt8Path(
      DType dtype, DType qkvType, int heads, int sizePerHead) {
    int t = floatType(dtype);
    int in = int8AttentionInput(dtype, qkvType);
    positive("heads", heads);
    positive("sizePerHead", sizePerHead);
    ensureLoaded();
    int[] path = new int[1];
    check(Ft4jNative.ft4j_fused_attention_int8_path(t, in, heads, sizePerHead, path));
    return AttentionPath.values()[path[0]];
  }

  /**
   * Benchmarking knob: the tiling of the fused attentions' tensor-core path for every later launch
   * in this process: warps per block (4 or 8) and m16 tiles per warp (1 or 2; 2 applies to head
   * sizes up to 64); 0 = the automatic choice, the default.
   */
  public static void setFusedAttentionTiling(int warps, int mTiles) {
    if ((warps != 0 && warps != 4 && warps != 8) || mTiles < 0 || mTiles > 2) {
      throw new IllegalArgumentException(
          "attention tiling: warps = "
              + warps
              + " (0, 4 or 8) and m-tiles = "
              + mTiles
              + " (0, 1 or 2)");
    }
    ensureLoaded();
    check(Ft4jNative.ft4j_set_fused_attention_tiling(warps, mTiles));
  }

  /**
   * Benchmarking knob: the warpgroup-MMA path of the FP16 fused attention (sm_90, head size 64 or
   * 128) for every later launch in this process: warpgroups per block (1 or 2; 0 = automatic, which
   * takes the path unless {@code FT4J_ATTENTION_WGMMA=0} is in the environment: 1 warpgroup up to
   * 128 queries, else 2; -1 = never) and keys per step (64 or 128; 0 = automatic: 64).
   */
  public static void setFusedAttentionWgmma(int warpgroups, int keys) {
    if (warpgroups < -1 || warpgroups > 2 || (keys != 0 && keys != 64 && keys != 128)) {
      throw new IllegalArgumentException(
          "attention wgmma: warpgroups = "
              + warpgroups
              + " (-1, 0, 1 or 2) and keys = "
              + keys
              + " (0, 64 or 128)");
    }
    ensureLoaded();
    check(Ft4jNative.ft4j_set_fused_attention_wgmma(warpgroups, keys));
  }

  /** The C code of qkvType for the int8 attention (INT8, or the encoder's dtype). */
  private static int int8AttentionInput(DType dtype, DType qkvType) {
    if (qkvType == DType.INT8) {
      return Ft4jNative.FT4J_DTYPE_INT8;
    }
    if (qkvType != dtype) {
      throw new IllegalArgumentException(
          "int8 attention input " + qkvType + ": must be INT8 or the encoder's " + dtype);
    }
    return floatType(dtype);
  }

  /**
   * Fused multi-head attention, one launch (see ft4j.h): out [rows, H] from qkv [rows, 3H] (+
   * qkvBias [3H], may be null) with per-sequence bounds from {@code offsets} (device int[batch +
   * 1], cumulative lengths). {@code paddedSeq > 0}: padded batch, rows = batch * paddedSeq and
   * maxSeq = paddedSeq; {@code paddedSeq == 0}: packed tokens, {@code rows} = the token count the
   * buffers hold (the offsets must stay within it) and maxSeq >= every length.
   */
  public static void fusedAttention(
      DType dtype,
      DeviceBuffer out,
      DeviceBuffer qkv,
      DeviceBuffer qkvBias,
      DeviceBuffer offsets,
      int rows,
      int batch,
      int heads,
      int sizePerHead,
      int paddedSeq,
      int maxSeq,
      float scale,
      CudaStream stream) {
    int t = floatType(dtype);
    checkAttention(
        dtype,
        dtype,
        dtype,
        out,
        qkv,
        qkvBias,
        offsets,
        rows,
        batch,
        heads,
        sizePerHead,
        paddedSeq,
        maxSeq,
        scale);
    ensureLoaded();
    check(
        Ft4jNative.ft4j_fused_attention(
            t,
            out.pointer(),
            qkv.pointer(),
            qkvBias == null ? null : qkvBias.pointer(),
            new IntPointer(offsets.pointer()),
            batch,
            heads,
            sizePerHead,
            paddedSeq,
            maxSeq,
            scale,
            stream.handle()));
  }

  /**
   * The INT8 modes' fused attention (see ft4j.h): {@link #fusedAttention} with out int8 [rows, H],
   * quantized with {@code outAmax} (padding query rows 0), for the attention-output GEMM. {@code
   * dtype} is the encoder's type (and the bias's); qkv [rows, 3H] is of {@code qkvType}: dtype
   * (mode 1, the QKV GEMM's dequantized output; the steps are ignored) or INT8 (mode 2, the int8
   * QKV GEMM output before the bias, its Q, K and V parts dequantized with {@code qStep}, {@code
   * kStep}, {@code vStep}).
   */
  public static void fusedAttentionInt8(
      DType dtype,
      DType qkvType,
      DeviceBuffer out,
      DeviceBuffer qkv,
      DeviceBuffer qkvBias,
      DeviceBuffer offsets,
      int rows,
      int batch,
      int heads,
      int sizePerHead,
      int paddedSeq,
      int maxSeq,
      float scale,
      float qStep,
      float kStep,
      float vStep,
      float outAmax,
      CudaStream stream) {
    int t = floatType(dtype);
    int in = int8AttentionInput(dtype, qkvType);
    if (qkvType == DType.INT8) {
      positiveFinite("int8 attention qStep", qStep);
      positiveFinite("int8 attention kStep", kStep);
      positiveFinite("int8 attention vStep", vStep);
    }
    positiveFinite("int8 attention outAmax", outAmax);
    checkAttention(
        qkvType,
        DType.INT8,
        dtype,
        out,
        qkv,
        qkvBias,
        offsets,
        rows,
        batch,
        heads,
        sizePerHead,
        paddedSeq,
        maxSeq,
        scale);
    ensureLoaded();
    check(
        Ft4jNative.ft4j_fused_attention_int8(
            t,
            in,
            out.pointer(),
            qkv.pointer(),
            qkvBias == null ? null : qkvBias.pointer(),
            new IntPointer(offsets.pointer()),
            batch,
            heads,
            sizePerHead,
            paddedSeq,
            maxSeq,
            scale,
            qStep,
            kStep,
            vStep,
            outAmax,
            stream.handle()));
  }

  /** The shape and buffer checks of the fused attention calls. */
  private static void checkAttention(
      DType qkvType,
      DType outType,
      DType biasType,
      DeviceBuffer out,
      DeviceBuffer qkv,
      DeviceBuffer qkvBias,
      DeviceBuffer offsets,
      int rows,
      int batch,
      int heads,
      int sizePerHead,
      int paddedSeq,
      int maxSeq,
      float scale) {
    positive("batch", batch);
    positive("heads", heads);
    positive("sizePerHead", sizePerHead);
    positive("maxSeq", maxSeq);
    positive("rows", rows);
    if (paddedSeq < 0) {
      throw new IllegalArgumentException("paddedSeq = " + paddedSeq + ", must be >= 0");
    }
    if (paddedSeq > 0 && (maxSeq != paddedSeq || (long) batch * paddedSeq != rows)) {
      throw new IllegalArgumentException(
          "padded attention: maxSeq = "
              + maxSeq
              + " and rows = "
              + rows
              + " must be paddedSeq = "
              + paddedSeq
              + " and batch * paddedSeq = "
              + (long) batch * paddedSeq);
    }
    if (!Float.isFinite(scale) || !(scale > 0)) {
      throw new IllegalArgumentException("attention scale = " + scale + ", must be > 0 and finite");
    }
    long hidden = (long) heads * sizePerHead;
    qkv.requireFits(qkvType, 3 * hidden * rows, "qkv [" + rows + ", " + 3 * hidden + "]");
    out.requireFits(outType, hidden * rows, "attention out [" + rows + ", " + hidden + "]");
    if (qkvBias != null) {
      qkvBias.requireFits(biasType, 3 * hidden, "qkv bias [" + 3 * hidden + "]");
    }
    offsets.requireFits(DType.INT32, batch + 1L, "offsets [" + (batch + 1L) + "]");
  }

  /** offsets[0] = 0, offsets[b + 1] = offsets[b] + lengths[b], on the device. */
  public static void lengthsToOffsets(
      DeviceBuffer lengths, int batch, DeviceBuffer offsets, CudaStream stream) {
    positive("batch", batch);
    lengths.requireFits(DType.INT32, batch, "lengths [" + batch + "]");
    offsets.requireFits(DType.INT32, batch + 1L, "offsets [" + (batch + 1L) + "]");
    ensureLoaded();
    check(
        Ft4jNative.ft4j_lengths_to_offsets(
            new IntPointer(lengths.pointer()),
            batch,
            new IntPointer(offsets.pointer()),
            stream.handle()));
  }

  /**
   * Padding removal: packed[offsets[b] + s] = padded[b, s] for s &lt; len_b. padded [batch, seq,
   * hidden]; packed holds {@code packedRows} rows (at least the token count the offsets give);
   * offsets device int[batch + 1] (see {@link #lengthsToOffsets}).
   */
  public static void removePadding(
      DType dtype,
      DeviceBuffer packed,
      DeviceBuffer padded,
      DeviceBuffer offsets,
      int batch,
      int seq,
      int hidden,
      int packedRows,
      CudaStream stream) {
    paddingCopy(dtype, packed, padded, offsets, batch, seq, hidden, packedRows, 0, stream);
  }

  /** Inverse of {@link #removePadding}: padded[b, s] = packed[offsets[b] + s], zeros past len_b. */
  public static void restorePadding(
      DType dtype,
      DeviceBuffer padded,
      DeviceBuffer packed,
      DeviceBuffer offsets,
      int batch,
      int seq,
      int hidden,
      int packedRows,
      CudaStream stream) {
    paddingCopy(dtype, padded, packed, offsets, batch, seq, hidden, packedRows, 1, stream);
  }

  private static void paddingCopy(
      DType dtype,
      DeviceBuffer dst,
      DeviceBuffer src,
      DeviceBuffer offsets,
      int batch,
      int seq,
      int hidden,
      int packedRows,
      int restore,
      CudaStream stream) {
    int t = floatType(dtype);
    positive("batch", batch);
    positive("seq", seq);
    positive("hidden", hidden);
    positive("packedRows", packedRows);
    DeviceBuffer padded = restore == 1 ? dst : src;
    DeviceBuffer packed = restore == 1 ? src : dst;
    padded.requireFits(
        dtype, (long) batch * seq * hidden, "padded [" + batch + ", " + seq + ", " + hidden + "]");
    packed.requireFits(
        dtype, (long) packedRows * hidden, "packed [" + packedRows + ", " + hidden + "]");
    offsets.requireFits(DType.INT32, batch + 1L, "offsets [" + (batch + 1L) + "]");
    ensureLoaded();
    check(
        Ft4jNative.ft4j_padding_copy(
            t,
            dst.pointer(),
            src.pointer(),
            new IntPointer(offsets.pointer()),
            batch,
            seq,
            hidden,
            restore,
            stream.handle()));
  }

  /**
   * out[b, :] = the pooled states of sequence b: row 0 ({@code mean} false: CLS) or the mean of its
   * first lengths[b] rows (lengths clamped to [1, seq]), divided by its L2 norm when {@code
   * normalize} (a zero vector stays zero). states: padded [batch, seq, hidden] of {@code dtype};
   * out: FP32 [batch, hidden]; lengths: int32 [batch].
   */
  public static void poolRows(
      DType dtype,
      DeviceBuffer out,
      DeviceBuffer states,
      DeviceBuffer lengths,
      int batch,
      int seq,
      int hidden,
      boolean mean,
      boolean normalize,
      CudaStream stream) {
    int t = floatType(dtype);
    positive("batch", batch);
    positive("seq", seq);
    positive("hidden", hidden);
    states.requireFits(
        dtype, (long) batch * seq * hidden, "states [" + batch + ", " + seq + ", " + hidden + "]");
    out.requireFits(DType.FP32, (long) batch * hidden, "out [" + batch + ", " + hidden + "]");
    lengths.requireFits(DType.INT32, batch, "lengths [" + batch + "]");
    ensureLoaded();
    check(
        Ft4jNative.ft4j_pool_rows(
            t,
            new FloatPointer(out.pointer()),
            states.pointer(),
            new IntPointer(lengths.pointer()),
            batch,
            seq,
            hidden,
            mean ? 1 : 0,
            normalize ? 1 : 0,
            stream.handle()));
  }

  /**
   * data[b, s, :] = 0 for s >= lengths[b]; data [batch, seq, hidden], lengths device int[batch].
   */
  public static void zeroPaddedRows(
      DType dtype,
      DeviceBuffer data,
      DeviceBuffer lengths,
      int batch,
      int seq,
      int hidden,
      CudaStream stream) {
    int t = floatType(dtype);
    positive("batch", batch);
    positive("seq", seq);
    positive("hidden", hidden);
    data.requireFits(
        dtype, (long) batch * seq * hidden, "data [" + batch + ", " + seq + ", " + hidden + "]");
    lengths.requireFits(DType.INT32, batch, "lengths [" + batch + "]");
    ensureLoaded();
    check(
        Ft4jNative.ft4j_zero_padded_rows(
            t,
            data.pointer(),
            new IntPointer(lengths.pointer()),
            batch,
            seq,
            hidden,
            stream.handle()));
  }

  /** dst[i] = (dstType) src[i] for i < count (FP32 ↔ FP16, or a same-type copy). */
  public static void convert(
      DType dstType,
      DeviceBuffer dst,
      DType srcType,
      DeviceBuffer src,
      long count,
      CudaStream stream) {
    int d = floatType(dstType);
    int s = floatType(srcType);
    if (count < 1) {
      throw new IllegalArgumentException("convert count = " + count + ", must be >= 1");
    }
    dst.requireFits(dstType, count, "convert destination");
    src.requireFits(srcType, count, "convert source");
    ensureLoaded();
    check(Ft4jNative.ft4j_convert(d, dst.pointer(), s, src.pointer(), count, stream.handle()));
  }

  /** The widest row the INT8 row kernels take (a row lives in shared memory). */
  public static final int MAX_QUANTIZE_COLS = 12224;

  private static void quantizeCols(int cols) {
    positive("cols", cols);
    if (cols > MAX_QUANTIZE_COLS) {
      throw new UnsupportedOperationException(
          "cols = "
              + cols
              + " exceeds the "
              + MAX_QUANTIZE_COLS
              + " columns INT8 row kernels take");
    }
  }

  /**
   * What both dequantizing row kernels read beside their own tensors, checked: the GEMM output acc
   * [rows, cols] of accType with its input scale (per row or static) and per-column wScale, the
   * bias [cols] (may be null), and the int8 output qout (may be null).
   */
  private static void gemmOutputFits(
      String op,
      DType dtype,
      Int8Output qout,
      DeviceBuffer acc,
      DType accType,
      DeviceBuffer inScale,
      float inStaticScale,
      DeviceBuffer wScale,
      DeviceBuffer bias,
      int rows,
      int cols) {
    if (qout != null) {
      qout.requireFits(rows, cols, op);
    }
    acc.requireFits(accType, (long) rows * cols, op + " acc [" + rows + ", " + cols + "]");
    inputScale(inScale, inStaticScale, rows, op);
    wScale.requireFits(DType.FP32, cols, op + " w_scale [" + cols + "]");
    if (bias != null) {
      bias.requireFits(dtype, cols, op + " bias [" + cols + "]");
    }
  }

  /** The element type of a dequantizing kernel's acc: INT32 or INT8. */
  private static void accType(DType accType, String op) {
    if (accType != DType.INT32 && accType != DType.INT8) {
      throw new IllegalArgumentException(op + ": acc type " + accType + ", expected INT32 or INT8");
    }
  }

  /** The per-row (per-token) or static scale of an int8 GEMM's input, checked. */
  private static void inputScale(DeviceBuffer inScale, float inStaticScale, int rows, String op) {
    if (inScale != null) {
      inScale.requireFits(DType.FP32, rows, op + " in_scale [" + rows + "]");
    } else if (!(inStaticScale > 0 && inStaticScale < Float.POSITIVE_INFINITY)) {
      throw new IllegalArgumentException(
          op + ": static input scale = " + inStaticScale + ", must be > 0 and finite");
    }
  }

  /**
   * q = int8(input · invSmooth) per token or static (see {@link Int8Output}); input [rows, cols].
   */
  public static void quantizeRows(
      DType dtype, Int8Output out, DeviceBuffer input, int rows, int cols, CudaStream stream) {
    quantizeRows(dtype, out, input, null, rows, cols, stream);
  }

  /**
   * {@link #quantizeRows(DType, Int8Output, DeviceBuffer, int, int, CudaStream)}, and when {@code
   * deqOut} is not null the dequantized values q · step_r / invSmooth[c] into it ([rows, cols] of
   * dtype; may be {@code input}): INT8 mode 2's residual.
   */
  public static void quantizeRows(
      DType dtype,
      Int8Output out,
      DeviceBuffer input,
      DeviceBuffer deqOut,
      int rows,
      int cols,
      CudaStream stream) {
    int t = floatType(dtype);
    positive("rows", rows);
    quantizeCols(cols);
    input.requireFits(dtype, (long) rows * cols, "quantizeRows input [" + rows + ", " + cols + "]");
    if (deqOut != null) {
      deqOut.requireFits(
          dtype, (long) rows * cols, "quantizeRows deq_out [" + rows + ", " + cols + "]");
    }
    out.requireFits(rows, cols, "quantizeRows");
    ensureLoaded();
    check(
        Ft4jNative.ft4j_quantize_rows(
            t,
            out.values().pointer(),
            out.rowScale() == null ? null : out.rowScale().pointer(),
            input.pointer(),
            out.invSmooth() == null ? null : out.invSmooth().pointer(),
            out.staticAmax(),
            deqOut == null ? null : deqOut.pointer(),
            rows,
            cols,
            stream.handle()));
  }

  /**
   * After an int8 GEMM: y = acc · a_r · wScale[c] + bias[c] (a_r = inScale[r], or inStaticScale
   * when inScale is null), gelu(y) if asked; writes y to {@code out} (may be null) and int8 to
   * {@code qout} (may be null; not both null). acc [rows, cols] of {@code accType}: INT32 (the
   * accumulators), or INT8 (INT8 mode 2: an int8-out GEMM's output; in scale 1 and wScale = its
   * per-column steps dequantize it).
   */
  public static void dequantizeBiasAct(
      DType dtype,
      DeviceBuffer out,
      Int8Output qout,
      DeviceBuffer acc,
      DType accType,
      DeviceBuffer inScale,
      float inStaticScale,
      DeviceBuffer wScale,
      DeviceBuffer bias,
      boolean gelu,
      int rows,
      int cols,
      CudaStream stream) {
    int t = floatType(dtype);
    accType(accType, "dequantizeBiasAct");
    positive("rows", rows);
    quantizeCols(cols);
    if (out == null && qout == null) {
      throw new IllegalArgumentException("dequantizeBiasAct: neither out nor qout is given");
    }
    String shape = " [" + rows + ", " + cols + "]";
    long n = (long) rows * cols;
    if (out != null) {
      out.requireFits(dtype, n, "dequantizeBiasAct out" + shape);
    }
    gemmOutputFits(
        "dequantizeBiasAct",
        dtype,
        qout,
        acc,
        accType,
        inScale,
        inStaticScale,
        wScale,
        bias,
        rows,
        cols);
    ensureLoaded();
    check(
        Ft4jNative.ft4j_dequantize_bias_act(
            t,
            out == null ? null : out.pointer(),
            qout == null ? null : qout.values().pointer(),
            qout == null || qout.rowScale() == null ? null : qout.rowScale().pointer(),
            acc.pointer(),
            accType == DType.INT8 ? 1 : 0,
            inScale == null ? null : inScale.pointer(),
            inStaticScale,
            wScale.pointer(),
            bias == null ? null : bias.pointer(),
            qout == null || qout.invSmooth() == null ? null : qout.invSmooth().pointer(),
            qout == null ? 0f : qout.staticAmax(),
            gelu ? 1 : 0,
            rows,
            cols,
            stream.handle()));
  }

  /**
   * After an int8 GEMM: out = layernorm(acc · a_r · wScale[c] + bias + residual) · gamma + beta,
   * and int8 of out into {@code qout} when not null; out may be the residual buffer. acc of {@code
   * accType} as for {@link #dequantizeBiasAct}. With {@code outDequantized} (needs qout) out gets
   * the dequantized qout instead of the layernorm output: INT8 mode 2's residual.
   */
  public static void dequantizeBiasResidualLayerNorm(
      DType dtype,
      DeviceBuffer out,
      Int8Output qout,
      DeviceBuffer acc,
      DType accType,
      DeviceBuffer inScale,
      float inStaticScale,
      DeviceBuffer wScale,
      DeviceBuffer bias,
      DeviceBuffer residual,
      DeviceBuffer gamma,
      DeviceBuffer beta,
      float eps,
      boolean outDequantized,
      int rows,
      int cols,
      CudaStream stream) {
    int t = floatType(dtype);
    accType(accType, "dequantizeBiasResidualLayerNorm");
    if (outDequantized && qout == null) {
      throw new IllegalArgumentException(
          "dequantizeBiasResidualLayerNorm: a dequantized out needs a quantized output (qout)");
    }
    positive("rows", rows);
    quantizeCols(cols);
    layerNormEps(eps);
    String shape = " [" + rows + ", " + cols + "]";
    long n = (long) rows * cols;
    String op = "dequantizeBiasResidualLayerNorm";
    out.requireFits(dtype, n, op + " out" + shape);
    gemmOutputFits(op, dtype, qout, acc, accType, inScale, inStaticScale, wScale, bias, rows, cols);
    residual.requireFits(dtype, n, op + " residual" + shape);
    gamma.requireFits(dtype, cols, op + " gamma [" + cols + "]");
    beta.requireFits(dtype, cols, op + " beta [" + cols + "]");
    ensureLoaded();
    check(
        Ft4jNative.ft4j_dequantize_bias_residual_layernorm(
            t,
            out.pointer(),
            qout == null ? null : qout.values().pointer(),
            qout == null || qout.rowScale() == null ? null : qout.rowScale().pointer(),
            acc.pointer(),
            accType == DType.INT8 ? 1 : 0,
            inScale == null ? null : inScale.pointer(),
            inStaticScale,
            wScale.pointer(),
            bias == null ? null : bias.pointer(),
            residual.pointer(),
            gamma.pointer(),
            beta.pointer(),
            qout == null || qout.invSmooth() == null ? null : qout.invSmooth().pointer(),
            qout == null ? 0f : qout.staticAmax(),
            eps,
            outDequantized ? 1 : 0,
            rows,
            cols,
            stream.handle()));
  }

  /** What {@link #gemmInt8} writes. */
  public enum Int8GemmOut {
    /** The int32 accumulators. */
    INT32,
    /** acc · a_m · w_n (+ bias) (GELU), in the FP32/FP16 dtype. */
    FLOAT,
    /** The FLOAT value requantized to int8 with per-column or static inverse scales. */
    INT8,
    /**
     * The INT8 value divided by its inverse scale again, in the FP32/FP16 dtype: an int8 output
     * already dequantized (INT8 mode 2's Q/K/V, which the FP16 attention reads).
     */
    INT8_DEQUANTIZED
  }

  /**
   * ft4j's INT8 GEMM: acc = a [m, k] · b [n, k]ᵀ (int8, row-major, exact int32 sums) with the
   * epilogue {@code kind} (native/include/ft4j.h): aScale [m] per-token input scales (or {@code
   * aStatic}), wScale [n], bias [n] (dtype, may be null), outInvScale [n] (or {@code outInvStatic})
   * for INT8 output. Scale arguments are ignored for INT32 output and may be null there. {@code
   * workspace} (may be null; used in stream order) lets a GEMM with too few tiles for the GPU split
   * K across blocks (it needs m · n int32; see {@link #gemmInt8Plan}). {@code plan}: null for
   * ft4j's own choice, else a tuned kernel and split count (an {@link
   * UnsupportedOperationException} where it cannot run this launch).
   */
  public static void gemmInt8(
      Int8GemmOut kind,
      DType dtype,
      DeviceBuffer out,
      DeviceBuffer a,
      DeviceBuffer b,
      DeviceBuffer aScale,
      float aStatic,
      DeviceBuffer wScale,
      DeviceBuffer bias,
      DeviceBuffer outInvScale,
      float outInvStatic,
      boolean gelu,
      int m,
      int n,
      int k,
      Int8GemmPlan plan,
      DeviceBuffer workspace,
      CudaStream stream) {
    if (kind == null) {
      throw new IllegalArgumentException("gemmInt8 output kind is null");
    }
    int t = floatType(dtype);
    positive("M", m);
    positive("N", n);
    positive("K", k);
    String shape = " [" + m + ", " + n + "]";
    a.requireFits(DType.INT8, (long) m * k, "gemmInt8 a [" + m + ", " + k + "]");
    b.requireFits(DType.INT8, (long) n * k, "gemmInt8 b [" + n + ", " + k + "]");
    DType outType =
        switch (kind) {
          case INT32 -> DType.INT32;
          case FLOAT -> dtype;
          case INT8 -> DType.INT8;
          case INT8_DEQUANTIZED -> dtype;
        };
    out.requireFits(outType, (long) m * n, "gemmInt8 out" + shape);
    if (kind != Int8GemmOut.INT32) {
      if (wScale == null) {
        throw new IllegalArgumentException("gemmInt8 " + kind + " output needs w_scale");
      }
      wScale.requireFits(DType.FP32, n, "gemmInt8 w_scale [" + n + "]");
      inputScale(aScale, aStatic, m, "gemmInt8");
      if (bias != null) {
        bias.requireFits(dtype, n, "gemmInt8 bias [" + n + "]");
      }
    }
    boolean requantized = kind == Int8GemmOut.INT8 || kind == Int8GemmOut.INT8_DEQUANTIZED;
    if (requantized) {
      if (outInvScale != null) {
        outInvScale.requireFits(DType.FP32, n, "gemmInt8 out_inv_scale [" + n + "]");
      } else if (!(outInvStatic > 0 && outInvStatic < Float.POSITIVE_INFINITY)) {
        throw new IllegalArgumentException(
            "gemmInt8: static output inverse scale = " + outInvStatic + ", must be > 0");
      }
    }
    ensureLoaded();
    boolean scaled = kind != Int8GemmOut.INT32;
    check(
        Ft4jNative.ft4j_gemm_int8(
            t,
            kind.ordinal(),
            out.pointer(),
            a.pointer(),
            b.pointer(),
            scaled && aScale != null ? aScale.pointer() : null,
            aStatic,
            scaled ? wScale.pointer() : null,
            scaled && bias != null ? bias.pointer() : null,
            requantized && outInvScale != null ? outInvScale.pointer() : null,
            outInvStatic,
            gelu ? 1 : 0,
            m,
            n,
            k,
            plan == null ? -1 : plan.kernel().ordinal(),
            plan == null ? 1 : plan.splits(),
            workspace == null ? null : workspace.pointer(),
            workspace == null ? 0 : workspace.bytes(),
            stream.handle()));
  }

  /** The kernels of {@link #gemmInt8}: see {@link #gemmInt8Plan}. */
  public enum Int8GemmKernel {
    /** 64 x 64 tiles, load then compute (sm_75, unaligned operands, K % 16 != 0). */
    SIMPLE,
    /** 128 x 128 tiles, 4-stage cp.async pipeline (sm_80+, at least one tile per SM). */
    PIPELINED_128,
    /** 64 x 64 tiles, the same pipeline, split along K when its tiles leave SMs idle. */
    PIPELINED_64,
    /**
     * 128 x 128 tiles, wgmma (warpgroup MMA) from 128-byte-swizzled shared tiles, k-steps of 128 in
     * a 5-stage cp.async pipeline with one step of wgmmas in flight, split-K like PIPELINED_64: an
     * sm_90 GPU and a library built with sm_90a code only (the default build is). The automatic
     * plan takes {@link #WARPGROUP_128_PAIR} instead; tuned and forced plans may name this one.
     */
    WARPGROUP_128,
    /**
     * The warpgroup kernel with 3 stages (copies 2 k-steps ahead, no wgmma in flight across steps)
     * in 97 KiB of shared memory, so that two blocks share an SM and one's prologue and epilogue
     * overlap the other's wgmmas (BERT-base's K = 768 is only 6 k-steps). The automatic plan's
     * choice on sm_90 where 128 x 128 tiles fill every SM (H200: 151 against 268 µs per BERT-base
     * layer at 4096 tokens for the mma.sync 128 x 128 kernel, int32 out); {@code FT4J_INT8_WGMMA=0}
     * in the environment turns that off.
     */
    WARPGROUP_128_PAIR
  }

  /** How {@link #gemmInt8} runs a shape: its kernel and how many K splits (1: none). */
  public record Int8GemmPlan(Int8GemmKernel kernel, int splits) {
    public Int8GemmPlan {
      if (kernel == null) {
        throw new IllegalArgumentException("INT8 GEMM plan without a kernel");
      }
      if (splits < 1 || splits > 65535 || (kernel == Int8GemmKernel.SIMPLE && splits != 1)) {
        throw new IllegalArgumentException(
            "INT8 GEMM plan " + kernel + " with " + splits + " K splits: 1..65535, 1 for SIMPLE");
      }
    }
  }

  /**
   * How {@link #gemmInt8} runs an [m, n, k] GEMM with output {@code kind} on the current device,
   * for 16-byte aligned operands and {@code workspaceBytes} of workspace.
   */
  public static Int8GemmPlan gemmInt8Plan(
      Int8GemmOut kind, int m, int n, int k, long workspaceBytes) {
    if (kind == null) {
      throw new IllegalArgumentException("gemmInt8Plan output kind is null");
    }
    positive("M", m);
    positive("N", n);
    positive("K", k);
    if (workspaceBytes < 0) {
      throw new IllegalArgumentException("workspaceBytes = " + workspaceBytes + ", must be >= 0");
    }
    ensureLoaded();
    int[] kernel = new int[1];
    int[] splits = new int[1];
    check(Ft4jNative.ft4j_gemm_int8_plan(kind.ordinal(), m, n, k, workspaceBytes, kernel, splits));
    return new Int8GemmPlan(Int8GemmKernel.values()[kernel[0]], splits[0]);
  }

  /**
   * ft4j's INT8 GEMM with int32 output: acc [m, n] = a [m, k] · b [n, k]ᵀ, exact (see {@link
   * #gemmInt8}; plan may be null).
   */
  public static void gemmInt8ToInt32(
      DeviceBuffer acc,
      DeviceBuffer a,
      DeviceBuffer b,
      int m,
      int n,
      int k,
      Int8GemmPlan plan,
      CudaStream stream) {
    gemmInt8(
        Int8GemmOut.INT32,
        DType.FP32,
        acc,
        a,
        b,
        null,
        0f,
        null,
        null,
        null,
        0f,
        false,
        m,
        n,
        k,
        plan,
        null,
        stream);
  }

  private static long attentionShape(int batch, int seq, int heads, int sizePerHead) {
    positive("batch", batch);
    positive("seq", seq);
    positive("heads", heads);
    positive("sizePerHead", sizePerHead);
    return (long) batch * heads * seq * sizePerHead;
  }

  private static int floatType(DType dtype) {
    return switch (dtype) {
      case FP32 -> Ft4jNative.FT4J_DTYPE_FP32;
      case FP16 -> Ft4jNative.FT4J_DTYPE_FP16;
      default ->
          throw new UnsupportedOperationException(
              "element type " + dtype + " is not supported by this kernel (FP32 or FP16 only)");
    };
  }

  private static void layerNormEps(float eps) {
    if (!(eps > 0) || Float.isInfinite(eps)) {
      throw new IllegalArgumentException("layernorm eps = " + eps + ", must be > 0 and finite");
    }
  }

  private static void positiveFinite(String name, float value) {
    if (!(Float.isFinite(value) && value > 0)) {
      throw new IllegalArgumentException(name + " = " + value + ", must be finite and > 0");
    }
  }

  private static void positive(String name, int value) {
    if (value < 1) {
      throw new IllegalArgumentException(name + " = " + value + ", must be >= 1");
    }
  }

  private static void check(int status) {
    if (status == Ft4jNative.FT4J_OK) {
      return;
    }
    String message = Ft4jNative.ft4j_last_error().getString();
    switch (status) {
      case Ft4jNative.FT4J_ERR_INVALID_ARGUMENT -> throw new IllegalArgumentException(message);
      case Ft4jNative.FT4J_ERR_UNSUPPORTED -> throw new UnsupportedOperationException(message);
      case Ft4jNative.FT4J_ERR_CUDA -> throw new CudaException(message);
      default -> throw new CudaException("ft4j internal error (status " + status + "): " + message);
    }
  }
}
