package org.ft4j.gemm;

/**
 * A (batched) GEMM described in row-major terms, as the encoder thinks of it:
 *
 * <pre>
 *   C[batch][M, N] = alpha * A[batch][M, K] * op(B[batch])
 *   op(B) = B^T with B stored [N, K] when bTransposed (PyTorch Linear weights, K of attention)
 *         = B   with B stored [K, N] otherwise           (V of attention)
 * </pre>
 *
 * cuBLASLt is column-major: a row-major [r, c] matrix is the column-major [c, r] one. So C^T =
 * op(B)^T A^T is computed with cuBLAS operand "A" = our B and cuBLAS operand "B" = our A, m = N, n
 * = M, k = K; the accessors below give those column-major arguments.
 *
 * @param batch number of independent products (strided batch), >= 1
 * @param strideA elements between consecutive A matrices (ignored when batch = 1)
 */
public record GemmShape(
    int batch, int m, int n, int k, boolean bTransposed, long strideA, long strideB, long strideC) {

  public GemmShape {
    if (batch < 1 || m < 1 || n < 1 || k < 1) {
      throw new IllegalArgumentException(
          "GEMM dimensions must be >= 1: batch=" + batch + " M=" + m + " N=" + n + " K=" + k);
    }
    if (batch > 1 && (strideA < (long) m * k || strideB < (long) n * k || strideC < (long) m * n)) {
      throw new IllegalArgumentException(
          "batch strides ("
              + strideA
              + ", "
              + strideB
              + ", "
              + strideC
              + ") smaller than the matrices of "
              + describeDims(m, n, k));
    }
  }

  /** y[rows, out] = x[rows, in] * W[out, in]^T: a PyTorch Linear without bias. */
  public static GemmShape linear(int rows, int in, int out) {
    return new GemmShape(
        1, rows, out, in, true, (long) rows * in, (long) out * in, (long) rows * out);
  }

  /** Attention scores: S[b][q, k] = Q[b][q, d] * K[b][k, d]^T for `batch` = batch * heads. */
  public static GemmShape attentionScores(int batchHeads, int seq, int sizePerHead) {
    long qk = (long) seq * sizePerHead;
    return new GemmShape(batchHeads, seq, seq, sizePerHead, true, qk, qk, (long) seq * seq);
  }

  /** Attention context: C[b][q, d] = P[b][q, k] * V[b][k, d]. */
  public static GemmShape attentionContext(int batchHeads, int seq, int sizePerHead) {
    long vd = (long) seq * sizePerHead;
    return new GemmShape(batchHeads, seq, sizePerHead, seq, false, (long) seq * seq, vd, vd);
  }

  /** Elements the A operand spans over the whole batch. */
  public long elementsA() {
    return (batch - 1) * strideA + (long) m * k;
  }

  public long elementsB() {
    return (batch - 1) * strideB + (long) n * k;
  }

  public long elementsC() {
    return (batch - 1) * strideC + (long) m * n;
  }

  // Column-major (cuBLASLt) view.

  /** cuBLAS operand A (our B) is transposed when our B is stored [N, K]. */
  public boolean cublasTransA() {
    return bTransposed;
  }

  public int cublasM() {
    return n;
  }

  public int cublasN() {
    return m;
  }

  public int cublasK() {
    return k;
  }

  /** Rows of cuBLAS operand A as stored (column-major): K when transposed, else N. */
  public int cublasRowsA() {
    return bTransposed ? k : n;
  }

  public int cublasColsA() {
    return bTransposed ? n : k;
  }

  public int cublasLda() {
    return cublasRowsA();
  }

  public int cublasLdb() {
    return k;
  }

  public int cublasLdc() {
    return n;
  }

  /** Multiply-adds times two. */
  public double flops() {
    return 2.0 * batch * m * n * k;
  }

  @Override
  public String toString() {
    return (batch > 1 ? batch + " x " : "") + describeDims(m, n, k) + (bTransposed ? " (B^T)" : "");
  }

  private static String describeDims(int m, int n, int k) {
    return "[" + m + " x " + k + "] * [" + k + " x " + n + "]";
  }
}
