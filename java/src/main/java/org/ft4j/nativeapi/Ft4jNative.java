package org.ft4j.nativeapi;

import org.bytedeco.cuda.cudart.CUstream_st;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.IntPointer;
import org.bytedeco.javacpp.Loader;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.annotation.Cast;
import org.bytedeco.javacpp.annotation.Const;
import org.bytedeco.javacpp.annotation.Platform;

/**
 * JavaCPP binding of native/include/ft4j.h, one Java method per C function with the same name and
 * argument order. The JNI glue is generated and compiled by the javacpp Maven plugin against that
 * header and linked to libft4j.so; both libraries travel in the jar under {@code
 * org/ft4j/nativeapi/linux-x86_64/}.
 *
 * <p>Only {@link NativeApi} calls this class: it validates arguments first and turns status codes
 * into exceptions. The CUDA stream type maps to bytedeco's {@link CUstream_st} (ft4j.h declares the
 * struct, so no CUDA header or -lcuda is needed to compile the glue).
 */
@Platform(include = "ft4j.h", link = "ft4j")
public final class Ft4jNative {
  private Ft4jNative() {}

  /** Loads libft4j and its JNI glue; throws UnsatisfiedLinkError with the loader's reason. */
  static void load() {
    Loader.load(Ft4jNative.class);
  }

  static final int FT4J_OK = 0;
  static final int FT4J_ERR_INVALID_ARGUMENT = 1;
  static final int FT4J_ERR_UNSUPPORTED = 2;
  static final int FT4J_ERR_CUDA = 3;
  static final int FT4J_ERR_INTERNAL = 4;
  static final int FT4J_DTYPE_FP32 = 0;
  static final int FT4J_DTYPE_FP16 = 1;
  static final int FT4J_DTYPE_INT8 = 2; // only where a function says so

  public static native @Cast("const char*") BytePointer ft4j_last_error();

  public static native @Cast("const char*") BytePointer ft4j_version();

  public static native int ft4j_cuda_device_count(int[] count);

  public static native int ft4j_cuda_device_info(
      int device, int[] smMajor, int[] smMinor, int[] runtimeVersion, int[] driverVersion);

  public static native int ft4j_add_bias_gelu(
      int dtype, Pointer data, @Const Pointer bias, int rows, int cols, CUstream_st stream);

  public static native int ft4j_add_bias_residual_layernorm(
      int dtype,
      Pointer out,
      @Const Pointer input,
      @Const Pointer bias,
      @Const Pointer residual,
      @Const Pointer gamma,
      @Const Pointer beta,
      float eps,
      int rows,
      int cols,
      CUstream_st stream);

  public static native int ft4j_add_qkv_bias_split_heads(
      int dtype,
      Pointer q,
      Pointer k,
      Pointer v,
      @Const Pointer qkv,
      @Const Pointer qkvBias,
      int batch,
      int seq,
      int heads,
      int sizePerHead,
      CUstream_st stream);

  public static native int ft4j_masked_softmax(
      int dtype,
      Pointer scores,
      @Const IntPointer lengths,
      int batch,
      int heads,
      int seq,
      float scale,
      CUstream_st stream);

  public static native int ft4j_merge_heads(
      int dtype,
      Pointer out,
      @Const Pointer in,
      int batch,
      int seq,
      int heads,
      int sizePerHead,
      CUstream_st stream);

  public static native int ft4j_embedding_layernorm(
      int dtype,
      Pointer out,
      @Const IntPointer ids,
      @Const IntPointer typeIds,
      @Const Pointer word,
      @Const Pointer position,
      @Const Pointer tokenType,
      @Const Pointer gamma,
      @Const Pointer beta,
      float eps,
      int rows,
      int seq,
      int hidden,
      int vocab,
      int maxPositions,
      int typeVocab,
      int positionOffset,
      CUstream_st stream);

  public static native int ft4j_fused_attention(
      int dtype,
      Pointer out,
      @Const Pointer qkv,
      @Const Pointer qkvBias,
      @Const IntPointer offsets,
      int batch,
      int heads,
      int sizePerHead,
      int paddedSeq,
      int maxSeq,
      float scale,
      CUstream_st stream);

  public static native int ft4j_fused_attention_path(
      int dtype, int heads, int sizePerHead, int[] path);

  public static native int ft4j_fused_attention_int8(
      int dtype,
      int qkvDtype,
      Pointer out,
      @Const Pointer qkv,
      @Const Pointer qkvBias,
      @Const IntPointer offsets,
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
      CUstream_st stream);

  public static native int ft4j_set_fused_attention_tiling(int warps, int mTiles);

  public static native int ft4j_set_fused_attention_wgmma(int warpgroups, int keys);

  public static native int ft4j_fused_attention_int8_path(
      int dtype, int qkvDtype, int heads, int sizePerHead, int[] path);

  public static native int ft4j_lengths_to_offsets(
      @Const IntPointer lengths, int batch, IntPointer offsets, CUstream_st stream);

  public static native int ft4j_padding_copy(
      int dtype,
      Pointer dst,
      @Const Pointer src,
      @Const IntPointer offsets,
      int batch,
      int seq,
      int hidden,
      int restore,
      CUstream_st stream);

  public static native int ft4j_pool_rows(
      int dtype,
      FloatPointer out,
      @Const Pointer states,
      @Const IntPointer lengths,
      int batch,
      int seq,
      int hidden,
      int mean,
      int normalize,
      CUstream_st stream);

  public static native int ft4j_zero_padded_rows(
      int dtype,
      Pointer data,
      @Const IntPointer lengths,
      int batch,
      int seq,
      int hidden,
      CUstream_st stream);

  public static native int ft4j_convert(
      int dstDtype,
      Pointer dst,
      int srcDtype,
      @Const Pointer src,
      @Cast("size_t") long count,
      CUstream_st stream);

  public static native int ft4j_quantize_rows(
      int dtype,
      Pointer qout,
      Pointer outScale,
      @Const Pointer input,
      @Const Pointer invSmooth,
      float staticAmax,
      Pointer deqOut,
      int rows,
      int cols,
      CUstream_st stream);

  public static native int ft4j_dequantize_bias_act(
      int dtype,
      Pointer out,
      Pointer qout,
      Pointer qoutScale,
      @Const Pointer acc,
      int accInt8,
      @Const Pointer inScale,
      float inStaticScale,
      @Const Pointer wScale,
      @Const Pointer bias,
      @Const Pointer invSmooth,
      float staticAmax,
      int gelu,
      int rows,
      int cols,
      CUstream_st stream);

  public static native int ft4j_dequantize_bias_residual_layernorm(
      int dtype,
      Pointer out,
      Pointer qout,
      Pointer qoutScale,
      @Const Pointer acc,
      int accInt8,
      @Const Pointer inScale,
      float inStaticScale,
      @Const Pointer wScale,
      @Const Pointer bias,
      @Const Pointer residual,
      @Const Pointer gamma,
      @Const Pointer beta,
      @Const Pointer invSmooth,
      float staticAmax,
      float eps,
      int outDequantized,
      int rows,
      int cols,
      CUstream_st stream);

  public static native int ft4j_gemm_int8(
      int dtype,
      int outKind,
      Pointer out,
      @Const Pointer a,
      @Const Pointer b,
      @Const Pointer aScale,
      float aStatic,
      @Const Pointer wScale,
      @Const Pointer bias,
      @Const Pointer outInvScale,
      float outInvStatic,
      int gelu,
      int m,
      int n,
      int k,
      int planKernel,
      int planSplits,
      Pointer workspace,
      @Cast("size_t") long workspaceBytes,
      CUstream_st stream);

  public static native int ft4j_gemm_int8_plan(
      int outKind,
      int m,
      int n,
      int k,
      @Cast("size_t") long workspaceBytes,
      int[] kernel,
      int[] splits);
}
