package org.ft4j.gemm;

import static org.bytedeco.cuda.global.cublas.CUBLASLT_ALGO_CAP_CTA_SWIZZLING_SUPPORT;
import static org.bytedeco.cuda.global.cublas.CUBLASLT_ALGO_CAP_CUSTOM_OPTION_MAX;
import static org.bytedeco.cuda.global.cublas.CUBLASLT_ALGO_CAP_EPILOGUE_MASK;
import static org.bytedeco.cuda.global.cublas.CUBLASLT_ALGO_CAP_REDUCTION_SCHEME_MASK;
import static org.bytedeco.cuda.global.cublas.CUBLASLT_ALGO_CAP_SPLITK_SUPPORT;
import static org.bytedeco.cuda.global.cublas.CUBLASLT_ALGO_CAP_STAGES_IDS;
import static org.bytedeco.cuda.global.cublas.CUBLASLT_ALGO_CAP_TILE_IDS;
import static org.bytedeco.cuda.global.cublas.CUBLASLT_ALGO_CONFIG_CLUSTER_SHAPE_ID;
import static org.bytedeco.cuda.global.cublas.CUBLASLT_ALGO_CONFIG_CTA_SWIZZLING;
import static org.bytedeco.cuda.global.cublas.CUBLASLT_ALGO_CONFIG_CUSTOM_OPTION;
import static org.bytedeco.cuda.global.cublas.CUBLASLT_ALGO_CONFIG_ID;
import static org.bytedeco.cuda.global.cublas.CUBLASLT_ALGO_CONFIG_INNER_SHAPE_ID;
import static org.bytedeco.cuda.global.cublas.CUBLASLT_ALGO_CONFIG_REDUCTION_SCHEME;
import static org.bytedeco.cuda.global.cublas.CUBLASLT_ALGO_CONFIG_SPLITK_NUM;
import static org.bytedeco.cuda.global.cublas.CUBLASLT_ALGO_CONFIG_STAGES_ID;
import static org.bytedeco.cuda.global.cublas.CUBLASLT_ALGO_CONFIG_TILE_ID;
import static org.bytedeco.cuda.global.cublas.CUBLAS_COMPUTE_32F;
import static org.bytedeco.cuda.global.cublas.CUBLAS_COMPUTE_32F_FAST_TF32;
import static org.bytedeco.cuda.global.cublas.CUBLAS_COMPUTE_32I;
import static org.bytedeco.cuda.global.cublas.cublasLtMatmulAlgoCapGetAttribute;
import static org.bytedeco.cuda.global.cublas.cublasLtMatmulAlgoConfigGetAttribute;
import static org.bytedeco.cuda.global.cublas.cublasLtMatmulAlgoConfigSetAttribute;
import static org.bytedeco.cuda.global.cublas.cublasLtMatmulAlgoGetIds;
import static org.bytedeco.cuda.global.cublas.cublasLtMatmulAlgoInit;
import static org.bytedeco.cuda.global.cudart.CUDA_R_16F;
import static org.bytedeco.cuda.global.cudart.CUDA_R_32F;
import static org.bytedeco.cuda.global.cudart.CUDA_R_32I;
import static org.bytedeco.cuda.global.cudart.CUDA_R_8I;

import org.bytedeco.cuda.cublas.cublasLtMatmulAlgo_t;
import org.bytedeco.javacpp.IntPointer;
import org.bytedeco.javacpp.ShortPointer;
import org.bytedeco.javacpp.SizeTPointer;

/**
 * cuBLASLt's view of a {@link GemmType} and the native side of {@link GemmAlgorithm}: algorithm
 * ids, capabilities, initialisation from config fields and reading them back.
 */
final class LtAlgorithms {
  private LtAlgorithms() {}

  static int computeType(GemmType t) {
    return switch (t) {
      case FP32, FP16 -> CUBLAS_COMPUTE_32F;
      case TF32 -> CUBLAS_COMPUTE_32F_FAST_TF32;
      case I8I32, I8I8 -> CUBLAS_COMPUTE_32I;
    };
  }

  /** Type of alpha and beta: INT32 for int8 -> int32 (cuBLASLt's IMMA rule), else FP32. */
  static int scaleType(GemmType t) {
    return t == GemmType.I8I32 ? CUDA_R_32I : CUDA_R_32F;
  }

  static int inputType(GemmType t) {
    return switch (t) {
      case FP32, TF32 -> CUDA_R_32F;
      case FP16 -> CUDA_R_16F;
      case I8I32, I8I8 -> CUDA_R_8I;
    };
  }

  static int outputType(GemmType t) {
    return switch (t) {
      case FP32, TF32 -> CUDA_R_32F;
      case FP16 -> CUDA_R_16F;
      case I8I32 -> CUDA_R_32I;
      case I8I8 -> CUDA_R_8I;
    };
  }

  /** Every algorithm id cuBLASLt has for these types (at most {@code max}). */
  static int[] algorithmIds(CublasLt lt, GemmType t, int max) {
    int[] ids = new int[max];
    int[] found = new int[1];
    CublasLt.check(
        cublasLtMatmulAlgoGetIds(
            lt.handle(),
            computeType(t),
            scaleType(t),
            inputType(t),
            inputType(t),
            outputType(t),
            outputType(t),
            max,
            ids,
            found),
        "cublasLtMatmulAlgoGetIds(" + t.label() + ")");
    return java.util.Arrays.copyOf(ids, found[0]);
  }

  /** An algorithm of these types with id {@code id} and default configuration. */
  static cublasLtMatmulAlgo_t init(CublasLt lt, GemmType t, int id) {
    cublasLtMatmulAlgo_t algo = new cublasLtMatmulAlgo_t();
    CublasLt.check(
        cublasLtMatmulAlgoInit(
            lt.handle(),
            computeType(t),
            scaleType(t),
            inputType(t),
            inputType(t),
            outputType(t),
            outputType(t),
            id,
            algo),
        "cublasLtMatmulAlgoInit(" + t.label() + ", id " + id + ")");
    return algo;
  }

  /** The algorithm {@code a} describes (not yet checked against a problem). */
  static cublasLtMatmulAlgo_t init(CublasLt lt, GemmType t, GemmAlgorithm a) {
    if (a.isFt4jOwn()) {
      throw new IllegalArgumentException(
          "algorithm ft4j is ft4j's own INT8 GEMM, not a cuBLASLt algorithm");
    }
    cublasLtMatmulAlgo_t algo = init(lt, t, a.id());
    configure(algo, a);
    return algo;
  }

  /** Sets every config attribute of {@code algo} (whose id is {@code a.id()}) from {@code a}. */
  static void configure(cublasLtMatmulAlgo_t algo, GemmAlgorithm a) {
    setU32(algo, CUBLASLT_ALGO_CONFIG_TILE_ID, a.tile(), "tile");
    setU32(algo, CUBLASLT_ALGO_CONFIG_STAGES_ID, a.stages(), "stages");
    setU32(algo, CUBLASLT_ALGO_CONFIG_SPLITK_NUM, a.splitK(), "split-K");
    setU32(algo, CUBLASLT_ALGO_CONFIG_REDUCTION_SCHEME, a.reduction(), "reduction scheme");
    setU32(algo, CUBLASLT_ALGO_CONFIG_CTA_SWIZZLING, a.swizzle(), "CTA swizzling");
    setU32(algo, CUBLASLT_ALGO_CONFIG_CUSTOM_OPTION, a.custom(), "custom option");
    if (a.innerShape() != 0) {
      setU16(algo, CUBLASLT_ALGO_CONFIG_INNER_SHAPE_ID, a.innerShape(), "inner shape");
    }
    if (a.clusterShape() != 0) {
      setU16(algo, CUBLASLT_ALGO_CONFIG_CLUSTER_SHAPE_ID, a.clusterShape(), "cluster shape");
    }
  }

  /** The config fields of an initialised algorithm (e.g. the heuristic's choice). */
  static GemmAlgorithm read(cublasLtMatmulAlgo_t algo) {
    int splitK = getU32(algo, CUBLASLT_ALGO_CONFIG_SPLITK_NUM);
    return new GemmAlgorithm(
        getU32(algo, CUBLASLT_ALGO_CONFIG_ID),
        getU32(algo, CUBLASLT_ALGO_CONFIG_TILE_ID),
        getU32(algo, CUBLASLT_ALGO_CONFIG_STAGES_ID),
        Math.max(1, splitK),
        splitK > 1 ? getU32(algo, CUBLASLT_ALGO_CONFIG_REDUCTION_SCHEME) : 0,
        getU32(algo, CUBLASLT_ALGO_CONFIG_CTA_SWIZZLING),
        getU32(algo, CUBLASLT_ALGO_CONFIG_CUSTOM_OPTION),
        getU16(algo, CUBLASLT_ALGO_CONFIG_INNER_SHAPE_ID),
        getU16(algo, CUBLASLT_ALGO_CONFIG_CLUSTER_SHAPE_ID));
  }

  /** What an algorithm id can be configured with (its CUBLASLT_ALGO_CAP_* attributes). */
  record Capabilities(
      int[] tiles,
      int[] stages,
      boolean splitK,
      int reductionMask,
      boolean swizzle,
      int customOptionMax,
      int epilogueMask) {}

  static Capabilities capabilities(cublasLtMatmulAlgo_t algo) {
    return new Capabilities(
        capArray(algo, CUBLASLT_ALGO_CAP_TILE_IDS),
        capArray(algo, CUBLASLT_ALGO_CAP_STAGES_IDS),
        capInt(algo, CUBLASLT_ALGO_CAP_SPLITK_SUPPORT) != 0,
        capInt(algo, CUBLASLT_ALGO_CAP_REDUCTION_SCHEME_MASK),
        capInt(algo, CUBLASLT_ALGO_CAP_CTA_SWIZZLING_SUPPORT) != 0,
        capInt(algo, CUBLASLT_ALGO_CAP_CUSTOM_OPTION_MAX),
        capInt(algo, CUBLASLT_ALGO_CAP_EPILOGUE_MASK));
  }

  private static int capInt(cublasLtMatmulAlgo_t algo, int attr) {
    try (IntPointer v = new IntPointer(1);
        SizeTPointer written = new SizeTPointer(1)) {
      v.put(0);
      CublasLt.check(
          cublasLtMatmulAlgoCapGetAttribute(algo, attr, v, 4, written),
          "cublasLtMatmulAlgoCapGetAttribute(" + attr + ")");
      return v.get();
    }
  }

  /** An array capability: ask its size first, then read it. Empty when there is none. */
  private static int[] capArray(cublasLtMatmulAlgo_t algo, int attr) {
    try (SizeTPointer written = new SizeTPointer(1)) {
      CublasLt.check(
          cublasLtMatmulAlgoCapGetAttribute(algo, attr, null, 0, written),
          "cublasLtMatmulAlgoCapGetAttribute(" + attr + ", size)");
      int n = (int) (written.get() / 4);
      if (n == 0) {
        return new int[0];
      }
      try (IntPointer v = new IntPointer(n)) {
        CublasLt.check(
            cublasLtMatmulAlgoCapGetAttribute(algo, attr, v, 4L * n, written),
            "cublasLtMatmulAlgoCapGetAttribute(" + attr + ")");
        int[] out = new int[n];
        v.get(out);
        return out;
      }
    }
  }

  private static void setU32(cublasLtMatmulAlgo_t algo, int attr, int value, String what) {
    try (IntPointer v = new IntPointer(1).put(value)) {
      CublasLt.check(
          cublasLtMatmulAlgoConfigSetAttribute(algo, attr, v, 4),
          "cublasLtMatmulAlgoConfigSetAttribute(" + what + " = " + value + ")");
    }
  }

  private static void setU16(cublasLtMatmulAlgo_t algo, int attr, int value, String what) {
    try (ShortPointer v = new ShortPointer(1).put((short) value)) {
      CublasLt.check(
          cublasLtMatmulAlgoConfigSetAttribute(algo, attr, v, 2),
          "cublasLtMatmulAlgoConfigSetAttribute(" + what + " = " + value + ")");
    }
  }

  private static int getU32(cublasLtMatmulAlgo_t algo, int attr) {
    try (IntPointer v = new IntPointer(1);
        SizeTPointer written = new SizeTPointer(1)) {
      v.put(0);
      CublasLt.check(
          cublasLtMatmulAlgoConfigGetAttribute(algo, attr, v, 4, written),
          "cublasLtMatmulAlgoConfigGetAttribute(" + attr + ")");
      return v.get();
    }
  }

  private static int getU16(cublasLtMatmulAlgo_t algo, int attr) {
    try (ShortPointer v = new ShortPointer(1);
        SizeTPointer written = new SizeTPointer(1)) {
      v.put((short) 0);
      int status = cublasLtMatmulAlgoConfigGetAttribute(algo, attr, v, 2, written);
      return status == 0 ? Short.toUnsignedInt(v.get()) : 0;
    }
  }

  /** A copy of an opaque algorithm (cuBLASLt's struct is 8 64-bit words). */
  static cublasLtMatmulAlgo_t copy(cublasLtMatmulAlgo_t source) {
    cublasLtMatmulAlgo_t copy = new cublasLtMatmulAlgo_t();
    for (int i = 0; i < 8; i++) {
      copy.data(i, source.data(i));
    }
    return copy;
  }
}
