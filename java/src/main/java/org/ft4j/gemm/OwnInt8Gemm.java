package org.ft4j.gemm;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.ft4j.cuda.CudaStream;
import org.ft4j.cuda.DType;
import org.ft4j.cuda.DeviceBuffer;
import org.ft4j.nativeapi.NativeApi;

/**
 * ft4j's own INT8 GEMM (kernels/gemm_int8.cu) as the tuner's competitor for one linear GEMM of the
 * INT8 encoder: int32 output for i8i32 lines (mode 1), int8 output for i8i8 lines (mode 2: scale
 * 1/64 like cuBLASLt's alpha there, per-column weight scales of 1, its split-K workspace), in each
 * variant of {@link #variants}. Used by {@code encoder_gemm} and by the encoder's {@code
 * allow_gemm_test}; holds the device buffers the int8-output variants need.
 */
public final class OwnInt8Gemm implements GemmTuner.OwnKernel, AutoCloseable {
  /** cuBLASLt's alpha and the own GEMM's scale for i8i8 tuning (int8 outputs of random data). */
  public static final float I8I8_ALPHA = 1f / 64;

  /** Largest K split the tuner tries for the pipelined 64×64 kernel. */
  public static final int MAX_SPLITS = 8;

  /** Largest K split the tuner tries for the warpgroup kernel. */
  public static final int MAX_WARPGROUP_SPLITS = 4;

  private final GemmShape s;
  private final List<GemmAlgorithm> variants;
  private final DeviceBuffer ones; // int8 output: w_scale [n]
  private final DeviceBuffer workspace; // int8 output: split-K sums [m, n]

  /** For {@code shape} (batch 1, B transposed); int8 output for mode 2, else int32. */
  public OwnInt8Gemm(GemmShape shape, boolean int8Out) {
    this.s = shape;
    this.variants = variants(shape.m(), shape.n(), shape.k());
    if (!int8Out) {
      ones = null;
      workspace = null;
      return;
    }
    float[] w = new float[shape.n()];
    Arrays.fill(w, 1f);
    ones = DeviceBuffer.allocate(DType.FP32, shape.n());
    try {
      ones.copyFrom(w);
      workspace = DeviceBuffer.allocate(DType.INT32, (long) shape.m() * shape.n());
    } catch (RuntimeException e) {
      ones.close();
      throw e;
    }
  }

  /**
   * Tunes one linear GEMM of the INT8 encoder: cuBLASLt's algorithms for {@code type} (I8I32 or
   * I8I8) and the own GEMM's variants, timed together. For I8I8 the result is the own GEMM's best
   * variant (the mode-2 encoder runs only that; cuBLASLt's time stays in {@link
   * GemmTuner.Result#ltMicros()} for comparison).
   *
   * @throws IllegalArgumentException for another type
   */
  public static GemmTuner.Result tuneLinear(
      GemmTuner tuner, GemmShape shape, GemmType type, float alpha, GemmTuner.Progress progress) {
    if (type != GemmType.I8I32 && type != GemmType.I8I8) {
      throw new IllegalArgumentException("an INT8 linear GEMM is i8i32 or i8i8, not " + type);
    }
    GemmTuner.Result r;
    try (OwnInt8Gemm own = new OwnInt8Gemm(shape, type == GemmType.I8I8)) {
      r =
          tuner.tune(
              shape,
              type,
              Epilogue.NONE,
              type == GemmType.I8I8 ? I8I8_ALPHA : alpha,
              progress,
              own);
    }
    return type == GemmType.I8I8 && r.ownBest() != null ? r.ownOnly() : r;
  }

  @Override
  public List<GemmAlgorithm> variants() {
    return variants;
  }

  @Override
  public void run(
      GemmAlgorithm variant, DeviceBuffer a, DeviceBuffer b, DeviceBuffer c, CudaStream st) {
    if (ones == null) {
      NativeApi.gemmInt8ToInt32(c, a, b, s.m(), s.n(), s.k(), variant.ownPlan(), st);
      return;
    }
    NativeApi.gemmInt8(
        NativeApi.Int8GemmOut.INT8,
        DType.FP32,
        c,
        a,
        b,
        null,
        I8I8_ALPHA,
        ones,
        null,
        null,
        1f,
        false,
        s.m(),
        s.n(),
        s.k(),
        variant.ownPlan(),
        workspace,
        st);
  }

  @Override
  public void close() {
    if (ones != null) {
      ones.close();
      workspace.close();
    }
  }

  /**
   * The variants of ft4j's own INT8 GEMM worth timing for [m, n, k]: its automatic choice, the
   * simple kernel, and where K % 16 == 0 the pipelined 128×128 kernel, the pipelined 64×64 one with
   * 1, 2, 3, 4, 6 or 8 K splits (each split keeping at least 4 k-steps of 32), and the two
   * warpgroup (wgmma) 128×128 kernels (one block per SM, and two) with 1 to 4 K splits (each
   * keeping at least 2 k-steps of 128). Variants the device cannot run (the warpgroup kernel off
   * sm_90) fail at run time and drop out of the final pass; the tuner also drops a variant whose
   * output differs from the automatic plan's.
   */
  public static List<GemmAlgorithm> variants(int m, int n, int k) {
    List<GemmAlgorithm> v = new ArrayList<>();
    v.add(GemmAlgorithm.ft4jOwn());
    v.add(GemmAlgorithm.ft4jOwn(1, 1));
    if (k % 16 == 0) {
      v.add(GemmAlgorithm.ft4jOwn(2, 1));
      int kSteps = (k + 31) / 32;
      for (int splits : new int[] {1, 2, 3, 4, 6, MAX_SPLITS}) {
        if (splits == 1 || kSteps / splits >= 4) {
          v.add(GemmAlgorithm.ft4jOwn(3, splits));
        }
      }
      int wSteps = (k + 127) / 128;
      for (int kernel : new int[] {4, 5}) {
        for (int splits = 1; splits <= MAX_WARPGROUP_SPLITS; splits++) {
          if (splits == 1 || wSteps / splits >= 2) {
            v.add(GemmAlgorithm.ft4jOwn(kernel, splits));
          }
        }
      }
    }
    return List.copyOf(v);
  }
}
