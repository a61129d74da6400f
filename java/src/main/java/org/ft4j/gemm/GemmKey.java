package org.ft4j.gemm;

/**
 * What a tuned GEMM algorithm is keyed by: the product (row-major M, N, K as in {@link GemmShape},
 * the strided batch count, whether B is stored transposed), the types and the epilogue. Batch
 * strides are not part of the key: every GEMM the encoder runs packs its batched matrices densely.
 */
public record GemmKey(
    int m, int n, int k, int batchCount, boolean bTransposed, GemmType type, Epilogue epilogue) {

  public GemmKey {
    if (m < 1 || n < 1 || k < 1 || batchCount < 1) {
      throw new IllegalArgumentException(
          "GEMM dimensions must be >= 1: M="
              + m
              + " N="
              + n
              + " K="
              + k
              + " batch_count="
              + batchCount);
    }
    if (type == null || epilogue == null) {
      throw new IllegalArgumentException("GEMM type and epilogue must not be null");
    }
    if (type.isInt8() && epilogue != Epilogue.NONE) {
      throw new IllegalArgumentException(
          "INT8 GEMMs (" + type.label() + ") take no cuBLASLt epilogue, got " + epilogue.label());
    }
  }

  public static GemmKey of(GemmShape shape, GemmType type, Epilogue epilogue) {
    return new GemmKey(
        shape.m(), shape.n(), shape.k(), shape.batch(), shape.bTransposed(), type, epilogue);
  }

  @Override
  public String toString() {
    return (batchCount > 1 ? batchCount + " x " : "")
        + "M="
        + m
        + " N="
        + n
        + " K="
        + k
        + (bTransposed ? " B^T " : " ")
        + type.label()
        + (epilogue == Epilogue.NONE ? "" : " +" + epilogue.label());
  }
}
