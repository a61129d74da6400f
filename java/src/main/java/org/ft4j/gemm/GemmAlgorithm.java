package org.ft4j.gemm;

import org.ft4j.nativeapi.NativeApi;

/**
 * One cuBLASLt matmul algorithm configuration: the algorithm id and the values of its
 * CUBLASLT_ALGO_CONFIG_* attributes. With the GEMM's types, these fields are everything
 * cublasLtMatmulAlgoInit and cublasLtMatmulAlgoConfigSetAttribute need to rebuild the algorithm in
 * another process, which is what a tuned config file stores.
 *
 * <p>One value is not cuBLASLt's: {@link #ft4jOwn()} (id −1, written {@code ft4j} in config files)
 * stands for ft4j's own INT8 GEMM (kernels/gemm_int8.cu) where the tuner found it faster. For it
 * {@code tile} is the own kernel the tuner picked (0 = ft4j's automatic choice, 1 simple, 2
 * pipelined 128×128, 3 pipelined 64×64, 4 warpgroup (wgmma) 128×128, 5 the same with two blocks per
 * SM) and {@code splitK} its K splits; the other fields are 0.
 *
 * @param id CUBLASLT_ALGO_CONFIG_ID (from cublasLtMatmulAlgoGetIds), or −1 for ft4j's own GEMM
 * @param tile cublasLtMatmulTile_t (0 = undefined: the algorithm picks)
 * @param stages cublasLtMatmulStages_t (0 = undefined)
 * @param splitK number of K slices (1 = no split)
 * @param reduction cublasLtReductionScheme_t used to combine K slices (0 = none)
 * @param swizzle CTA swizzling (0 or 1)
 * @param custom algorithm-specific custom option (0..CUBLASLT_ALGO_CAP_CUSTOM_OPTION_MAX)
 * @param innerShape cublasLtMatmulInnerShape_t (0 = undefined)
 * @param clusterShape cublasLtClusterShape_t (0 = auto; Hopper thread-block clusters)
 */
public record GemmAlgorithm(
    int id,
    int tile,
    int stages,
    int splitK,
    int reduction,
    int swizzle,
    int custom,
    int innerShape,
    int clusterShape) {

  /** The id of {@link #ft4jOwn()}. */
  public static final int FT4J_OWN_ID = -1;

  public GemmAlgorithm {
    if (id == FT4J_OWN_ID) {
      requireOwnDefaults(
          tile, stages, splitK, reduction, swizzle, custom, innerShape, clusterShape);
    } else {
      requireNonNegative("algorithm id", id);
      requireNonNegative("tile", tile);
      requireNonNegative("stages", stages);
      if (splitK < 1) {
        throw new IllegalArgumentException("split-K = " + splitK + ", must be >= 1");
      }
      requireNonNegative("reduction scheme", reduction);
      if (swizzle != 0 && swizzle != 1) {
        throw new IllegalArgumentException("CTA swizzle = " + swizzle + ", must be 0 or 1");
      }
      requireNonNegative("custom option", custom);
      requireNonNegative("inner shape", innerShape);
      requireNonNegative("cluster shape", clusterShape);
      if (splitK == 1 && reduction != 0) {
        throw new IllegalArgumentException(
            "reduction scheme " + reduction + " without split-K (split-K = 1 needs scheme 0)");
      }
    }
  }

  private static void requireOwnDefaults(int... fields) {
    // tile (= own kernel), stages, splitK, reduction, swizzle, custom, inner, cluster
    int kernel = fields[0];
    int splits = fields[2];
    if (kernel < 0 || kernel >= OWN_KERNELS.length) {
      throw new IllegalArgumentException(
          "ft4j's own GEMM kernel (tile field) = "
              + kernel
              + ", must be 0.."
              + (OWN_KERNELS.length - 1)
              + " (0 = automatic)");
    }
    if (splits < 1 || splits > 65535 || (kernel <= 1 && splits != 1)) {
      throw new IllegalArgumentException(
          "ft4j's own GEMM with "
              + splits
              + " K splits: 1..65535, and 1 for the automatic choice and the simple kernel");
    }
    for (int i = 1; i < fields.length; i++) {
      if (i != 2 && fields[i] != 0) {
        throw new IllegalArgumentException(
            "ft4j's own GEMM (algorithm ft4j) takes no other cuBLASLt fields: stages, reduction,"
                + " swizzle, custom, inner and cluster must be 0");
      }
    }
  }

  /** Names of the own kernels by their tile-field code. */
  private static final String[] OWN_KERNELS = {
    "automatic",
    "simple 64x64",
    "pipelined 128x128",
    "pipelined 64x64",
    "warpgroup 128x128",
    "warpgroup 128x128, 2 blocks/SM"
  };

  /** ft4j's own INT8 GEMM instead of a cuBLASLt algorithm, with ft4j's automatic kernel choice. */
  public static GemmAlgorithm ft4jOwn() {
    return ft4jOwn(0, 1);
  }

  /**
   * ft4j's own INT8 GEMM with a fixed kernel ({@code kernel}: 1 simple, 2 pipelined 128×128, 3
   * pipelined 64×64, 4 warpgroup 128×128, 5 warpgroup 128×128 with two blocks per SM; 0 automatic)
   * and {@code splits} K splits.
   */
  public static GemmAlgorithm ft4jOwn(int kernel, int splits) {
    return new GemmAlgorithm(FT4J_OWN_ID, kernel, 0, splits, 0, 0, 0, 0, 0);
  }

  /**
   * The launch plan of an {@link #ft4jOwn} algorithm for {@link NativeApi#gemmInt8}: null for the
   * automatic choice.
   */
  public NativeApi.Int8GemmPlan ownPlan() {
    if (!isFt4jOwn()) {
      throw new IllegalStateException(this + " is not ft4j's own GEMM");
    }
    return tile == 0 ? null : new NativeApi.Int8GemmPlan(OWN_PLAN_KERNELS[tile], splitK);
  }

  private static final NativeApi.Int8GemmKernel[] OWN_PLAN_KERNELS = {
    null,
    NativeApi.Int8GemmKernel.SIMPLE,
    NativeApi.Int8GemmKernel.PIPELINED_128,
    NativeApi.Int8GemmKernel.PIPELINED_64,
    NativeApi.Int8GemmKernel.WARPGROUP_128,
    NativeApi.Int8GemmKernel.WARPGROUP_128_PAIR
  };

  /** True for {@link #ft4jOwn()}. */
  public boolean isFt4jOwn() {
    return id == FT4J_OWN_ID;
  }

  private static void requireNonNegative(String what, int v) {
    if (v < 0) {
      throw new IllegalArgumentException(what + " = " + v + ", must be >= 0");
    }
  }

  @Override
  public String toString() {
    if (isFt4jOwn()) {
      return "ft4j's own INT8 GEMM"
          + (tile == 0 ? "" : " (" + OWN_KERNELS[tile] + ", " + splitK + " K splits)");
    }
    return "algo "
        + id
        + " tile "
        + tile
        + " stages "
        + stages
        + " splitK "
        + splitK
        + (splitK > 1 ? " reduction " + reduction : "")
        + " swizzle "
        + swizzle
        + " custom "
        + custom
        + (innerShape != 0 ? " inner " + innerShape : "")
        + (clusterShape != 0 ? " cluster " + clusterShape : "");
  }
}
