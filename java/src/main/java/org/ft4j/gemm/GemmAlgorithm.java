package org.ft4j.gemm;

/**
 * One cuBLASLt matmul algorithm configuration: the algorithm id and the values of its
 * CUBLASLT_ALGO_CONFIG_* attributes. With the GEMM's types, these fields are everything
 * cublasLtMatmulAlgoInit and cublasLtMatmulAlgoConfigSetAttribute need to rebuild the algorithm in
 * another process, which is what a tuned config file stores.
 *
 * <p>One value is not cuBLASLt's: {@link #ft4jOwn()} (id −1, written {@code ft4j} in config files)
 * stands for ft4j's own INT8 GEMM (kernels/gemm_int8.cu) where the tuner found it faster.
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
    // tile, stages, splitK, reduction, swizzle, custom, inner, cluster
    for (int i = 0; i < fields.length; i++) {
      if (fields[i] != (i == 2 ? 1 : 0)) {
        throw new IllegalArgumentException(
            "ft4j's own GEMM (algorithm ft4j) takes no cuBLASLt fields: tile, stages, reduction,"
                + " swizzle, custom, inner and cluster must be 0 and split-K 1");
      }
    }
  }

  /** ft4j's own INT8 GEMM instead of a cuBLASLt algorithm. */
  public static GemmAlgorithm ft4jOwn() {
    return new GemmAlgorithm(FT4J_OWN_ID, 0, 0, 1, 0, 0, 0, 0, 0);
  }

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
      return "ft4j's own INT8 GEMM";
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
