package org.ft4j.gemm;

import static org.bytedeco.cuda.global.cublas.CUBLASLT_EPILOGUE_BIAS;
import static org.bytedeco.cuda.global.cublas.CUBLASLT_EPILOGUE_DEFAULT;
import static org.bytedeco.cuda.global.cublas.CUBLASLT_EPILOGUE_GELU_BIAS;
import static org.bytedeco.cuda.global.cublas.CUBLASLT_MATMUL_DESC_BIAS_POINTER;
import static org.bytedeco.cuda.global.cublas.CUBLASLT_MATMUL_DESC_EPILOGUE;
import static org.bytedeco.cuda.global.cublas.CUBLASLT_MATMUL_DESC_TRANSA;
import static org.bytedeco.cuda.global.cublas.CUBLASLT_MATMUL_DESC_TRANSB;
import static org.bytedeco.cuda.global.cublas.CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES;
import static org.bytedeco.cuda.global.cublas.CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT;
import static org.bytedeco.cuda.global.cublas.CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET;
import static org.bytedeco.cuda.global.cublas.CUBLAS_COMPUTE_32F;
import static org.bytedeco.cuda.global.cublas.CUBLAS_COMPUTE_32F_FAST_TF32;
import static org.bytedeco.cuda.global.cublas.CUBLAS_OP_N;
import static org.bytedeco.cuda.global.cublas.CUBLAS_OP_T;
import static org.bytedeco.cuda.global.cublas.cublasLtMatmul;
import static org.bytedeco.cuda.global.cublas.cublasLtMatmulAlgoGetHeuristic;
import static org.bytedeco.cuda.global.cublas.cublasLtMatmulDescCreate;
import static org.bytedeco.cuda.global.cublas.cublasLtMatmulDescDestroy;
import static org.bytedeco.cuda.global.cublas.cublasLtMatmulDescSetAttribute;
import static org.bytedeco.cuda.global.cublas.cublasLtMatmulPreferenceCreate;
import static org.bytedeco.cuda.global.cublas.cublasLtMatmulPreferenceDestroy;
import static org.bytedeco.cuda.global.cublas.cublasLtMatmulPreferenceSetAttribute;
import static org.bytedeco.cuda.global.cublas.cublasLtMatrixLayoutCreate;
import static org.bytedeco.cuda.global.cublas.cublasLtMatrixLayoutDestroy;
import static org.bytedeco.cuda.global.cublas.cublasLtMatrixLayoutSetAttribute;
import static org.bytedeco.cuda.global.cudart.CUDA_R_16F;
import static org.bytedeco.cuda.global.cudart.CUDA_R_32F;

import org.bytedeco.cuda.cublas.cublasLtMatmulDescOpaque_t;
import org.bytedeco.cuda.cublas.cublasLtMatmulHeuristicResult_t;
import org.bytedeco.cuda.cublas.cublasLtMatmulPreferenceOpaque_t;
import org.bytedeco.cuda.cublas.cublasLtMatrixLayoutOpaque_t;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.IntPointer;
import org.bytedeco.javacpp.LongPointer;
import org.bytedeco.javacpp.PointerPointer;
import org.ft4j.cuda.CudaException;
import org.ft4j.cuda.CudaStream;
import org.ft4j.cuda.DType;
import org.ft4j.cuda.DeviceBuffer;

/**
 * One cuBLASLt matmul, prepared once for a fixed {@link GemmShape}, element type and epilogue: the
 * descriptors and the algorithm (cuBLASLt's heuristic choice for now) are made at construction, so
 * {@link #run} is a single cublasLtMatmul call. Not thread-safe: one plan serves one stream at a
 * time (the bias pointer is a descriptor attribute).
 *
 * <p>FP32 uses CUBLAS_COMPUTE_32F, true FP32 arithmetic, unless TF32 is explicitly allowed; FP16
 * stores A, B and C in half precision and accumulates in FP32 (scale type FP32).
 */
public final class MatmulPlan implements AutoCloseable {
  /** What cuBLASLt does after the product. */
  public enum Epilogue {
    NONE,
    /** C[:, j] += bias[j] per output column (row-major view), bias of the C element type. */
    BIAS,
    /**
     * gelu(C + bias) with cuBLASLt's tanh approximation of GELU: not the exact (erf) GELU of BERT,
     * so the encoder does not use it; kept for the epilogue benchmark (org.ft4j.bench).
     */
    GELU_BIAS_TANH
  }

  private final GemmShape shape;
  private final DType dtype;
  private final Epilogue epilogue;
  private final long workspaceBytes;
  private cublasLtMatmulDescOpaque_t desc;
  private cublasLtMatrixLayoutOpaque_t layoutA;
  private cublasLtMatrixLayoutOpaque_t layoutB;
  private cublasLtMatrixLayoutOpaque_t layoutC;
  private final cublasLtMatmulHeuristicResult_t heuristic = new cublasLtMatmulHeuristicResult_t();
  private final FloatPointer alpha = new FloatPointer(1);
  private final FloatPointer beta = new FloatPointer(1);
  private final PointerPointer<?> biasPointer = new PointerPointer<>(1);
  private final CublasLt lt;

  /**
   * Prepares C = alpha * A * op(B) (+ bias).
   *
   * @param maxWorkspaceBytes the workspace the caller will pass to {@link #run}; the chosen
   *     algorithm needs at most this much
   * @param allowTf32 for FP32 only: let cuBLASLt use TF32 tensor cores (lower precision)
   */
  public MatmulPlan(
      CublasLt lt,
      GemmShape shape,
      DType dtype,
      float alpha,
      Epilogue epilogue,
      long maxWorkspaceBytes,
      boolean allowTf32) {
    if (dtype != DType.FP32 && dtype != DType.FP16) {
      throw new UnsupportedOperationException("cuBLASLt plan for " + dtype + ": FP32 or FP16 only");
    }
    if (maxWorkspaceBytes < 0) {
      throw new IllegalArgumentException("workspace bytes = " + maxWorkspaceBytes);
    }
    this.lt = lt;
    this.shape = shape;
    this.dtype = dtype;
    this.epilogue = epilogue;
    this.alpha.put(alpha);
    this.beta.put(0f);
    int dataType = dtype == DType.FP32 ? CUDA_R_32F : CUDA_R_16F;
    int computeType =
        dtype == DType.FP32 && allowTf32 ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
    String what = " for " + shape + " " + dtype;
    try {
      PointerPointer<?> out = new PointerPointer<>(1);
      CublasLt.check(
          cublasLtMatmulDescCreate(out, computeType, CUDA_R_32F),
          "cublasLtMatmulDescCreate" + what);
      desc = new cublasLtMatmulDescOpaque_t(out.get(0));
      setDescInt(
          CUBLASLT_MATMUL_DESC_TRANSA, shape.cublasTransA() ? CUBLAS_OP_T : CUBLAS_OP_N, what);
      setDescInt(CUBLASLT_MATMUL_DESC_TRANSB, CUBLAS_OP_N, what);
      setDescInt(
          CUBLASLT_MATMUL_DESC_EPILOGUE,
          switch (epilogue) {
            case NONE -> CUBLASLT_EPILOGUE_DEFAULT;
            case BIAS -> CUBLASLT_EPILOGUE_BIAS;
            case GELU_BIAS_TANH -> CUBLASLT_EPILOGUE_GELU_BIAS;
          },
          what);
      layoutA =
          layout(
              dataType,
              shape.cublasRowsA(),
              shape.cublasColsA(),
              shape.cublasLda(),
              shape.strideB(),
              what);
      layoutB =
          layout(
              dataType, shape.cublasK(), shape.cublasN(), shape.cublasLdb(), shape.strideA(), what);
      layoutC =
          layout(
              dataType, shape.cublasM(), shape.cublasN(), shape.cublasLdc(), shape.strideC(), what);
      PointerPointer<?> prefOut = new PointerPointer<>(1);
      CublasLt.check(cublasLtMatmulPreferenceCreate(prefOut), "cublasLtMatmulPreferenceCreate");
      cublasLtMatmulPreferenceOpaque_t pref = new cublasLtMatmulPreferenceOpaque_t(prefOut.get(0));
      try (LongPointer ws = new LongPointer(1).put(maxWorkspaceBytes);
          IntPointer found = new IntPointer(1)) {
        CublasLt.check(
            cublasLtMatmulPreferenceSetAttribute(
                pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, ws, 8),
            "cublasLtMatmulPreferenceSetAttribute(max workspace)");
        CublasLt.check(
            cublasLtMatmulAlgoGetHeuristic(
                lt.handle(), desc, layoutA, layoutB, layoutC, layoutC, pref, 1, heuristic, found),
            "cublasLtMatmulAlgoGetHeuristic" + what);
        if (found.get() < 1) {
          throw new CudaException(
              "cuBLASLt has no algorithm" + what + " with epilogue " + epilogue);
        }
      } finally {
        cublasLtMatmulPreferenceDestroy(pref);
      }
      this.workspaceBytes = heuristic.workspaceSize();
    } catch (RuntimeException e) {
      close();
      throw e;
    }
  }

  public GemmShape shape() {
    return shape;
  }

  /** Workspace the chosen algorithm needs (<= the maximum given at construction). */
  public long workspaceBytes() {
    return workspaceBytes;
  }

  /**
   * Queues C = alpha * A * op(B) (+ bias) on {@code stream}; operands in row-major terms (see
   * {@link GemmShape}). {@code bias} must be given exactly when the epilogue is BIAS.
   */
  public void run(
      CudaStream stream,
      DeviceBuffer a,
      DeviceBuffer b,
      DeviceBuffer c,
      DeviceBuffer bias,
      DeviceBuffer workspace) {
    if (desc == null) {
      throw new IllegalStateException("matmul plan is closed");
    }
    a.requireFits(dtype, shape.elementsA(), "GEMM A of " + shape);
    b.requireFits(dtype, shape.elementsB(), "GEMM B of " + shape);
    c.requireFits(dtype, shape.elementsC(), "GEMM C of " + shape);
    if ((bias != null) != (epilogue != Epilogue.NONE)) {
      throw new IllegalArgumentException(
          "GEMM "
              + shape
              + ": bias "
              + (bias == null ? "missing" : "given")
              + " with epilogue "
              + epilogue);
    }
    if (bias != null) {
      bias.requireFits(dtype, shape.n(), "GEMM bias of " + shape);
      biasPointer.put(0, bias.pointer());
      CublasLt.check(
          cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, biasPointer, 8),
          "cublasLtMatmulDescSetAttribute(bias pointer)");
    }
    long wsBytes = workspace == null ? 0 : workspace.bytes();
    if (wsBytes < workspaceBytes) {
      throw new IllegalArgumentException(
          "GEMM " + shape + " needs a workspace of " + workspaceBytes + " bytes, got " + wsBytes);
    }
    CublasLt.check(
        cublasLtMatmul(
            lt.handle(),
            desc,
            alpha,
            b.pointer(), // cuBLAS A = our B (column-major view, see GemmShape)
            layoutA,
            a.pointer(), // cuBLAS B = our A
            layoutB,
            beta,
            c.pointer(),
            layoutC,
            c.pointer(),
            layoutC,
            heuristic.algo(),
            workspace == null ? null : workspace.pointer(),
            wsBytes,
            stream.handle()),
        "cublasLtMatmul " + shape + " " + dtype);
  }

  private void setDescInt(int attribute, int value, String what) {
    try (IntPointer v = new IntPointer(1).put(value)) {
      CublasLt.check(
          cublasLtMatmulDescSetAttribute(desc, attribute, v, 4),
          "cublasLtMatmulDescSetAttribute(" + attribute + ")" + what);
    }
  }

  private cublasLtMatrixLayoutOpaque_t layout(
      int dataType, int rows, int cols, int ld, long stride, String what) {
    PointerPointer<?> out = new PointerPointer<>(1);
    CublasLt.check(
        cublasLtMatrixLayoutCreate(out, dataType, rows, cols, ld),
        "cublasLtMatrixLayoutCreate" + what);
    cublasLtMatrixLayoutOpaque_t l = new cublasLtMatrixLayoutOpaque_t(out.get(0));
    if (shape.batch() > 1) {
      try (IntPointer count = new IntPointer(1).put(shape.batch());
          LongPointer offset = new LongPointer(1).put(stride)) {
        CublasLt.check(
            cublasLtMatrixLayoutSetAttribute(l, CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT, count, 4),
            "cublasLtMatrixLayoutSetAttribute(batch count)" + what);
        CublasLt.check(
            cublasLtMatrixLayoutSetAttribute(
                l, CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET, offset, 8),
            "cublasLtMatrixLayoutSetAttribute(batch stride)" + what);
      }
    }
    return l;
  }

  @Override
  public void close() {
    if (layoutA != null) {
      cublasLtMatrixLayoutDestroy(layoutA);
      layoutA = null;
    }
    if (layoutB != null) {
      cublasLtMatrixLayoutDestroy(layoutB);
      layoutB = null;
    }
    if (layoutC != null) {
      cublasLtMatrixLayoutDestroy(layoutC);
      layoutC = null;
    }
    if (desc != null) {
      cublasLtMatmulDescDestroy(desc);
      desc = null;
    }
  }
}
