package org.ft4j.gemm;

import static org.bytedeco.cuda.global.cublas.CUBLASLT_EPILOGUE_BIAS;
import static org.bytedeco.cuda.global.cublas.CUBLASLT_EPILOGUE_DEFAULT;
import static org.bytedeco.cuda.global.cublas.CUBLASLT_EPILOGUE_GELU_BIAS;
import static org.bytedeco.cuda.global.cublas.CUBLASLT_MATMUL_DESC_BIAS_POINTER;
import static org.bytedeco.cuda.global.cublas.CUBLASLT_MATMUL_DESC_EPILOGUE;
import static org.bytedeco.cuda.global.cublas.CUBLASLT_MATMUL_DESC_SCALE_TYPE;
import static org.bytedeco.cuda.global.cublas.CUBLASLT_MATMUL_DESC_TRANSA;
import static org.bytedeco.cuda.global.cublas.CUBLASLT_MATMUL_DESC_TRANSB;
import static org.bytedeco.cuda.global.cublas.CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES;
import static org.bytedeco.cuda.global.cublas.CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT;
import static org.bytedeco.cuda.global.cublas.CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET;
import static org.bytedeco.cuda.global.cublas.CUBLAS_OP_N;
import static org.bytedeco.cuda.global.cublas.CUBLAS_OP_T;
import static org.bytedeco.cuda.global.cublas.cublasLtMatmul;
import static org.bytedeco.cuda.global.cublas.cublasLtMatmulAlgoCheck;
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

import java.util.ArrayList;
import java.util.List;
import org.bytedeco.cuda.cublas.cublasLtMatmulAlgo_t;
import org.bytedeco.cuda.cublas.cublasLtMatmulDescOpaque_t;
import org.bytedeco.cuda.cublas.cublasLtMatmulHeuristicResult_t;
import org.bytedeco.cuda.cublas.cublasLtMatmulPreferenceOpaque_t;
import org.bytedeco.cuda.cublas.cublasLtMatrixLayoutOpaque_t;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.IntPointer;
import org.bytedeco.javacpp.LongPointer;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.PointerPointer;
import org.ft4j.cuda.CudaException;
import org.ft4j.cuda.CudaStream;
import org.ft4j.cuda.DType;
import org.ft4j.cuda.DeviceBuffer;

/**
 * One cuBLASLt matmul, prepared once for a fixed {@link GemmShape}, {@link GemmType} and epilogue:
 * the descriptors and the algorithm are made at construction, so {@link #run} is a single
 * cublasLtMatmul call. The algorithm is a tuned one from a GEMM config (see {@link GemmConfigs})
 * when given, else cuBLASLt's heuristic choice. Not thread-safe: one plan serves one stream at a
 * time (the bias pointer is a descriptor attribute).
 *
 * <p>FP32 uses CUBLAS_COMPUTE_32F, true FP32 arithmetic; TF32 lets the tensor cores round inputs to
 * TF32; FP16 stores A, B and C in half precision and accumulates in FP32; the INT8 types accumulate
 * in INT32 (alpha is an integer for int8 -> int32 and must then be whole).
 */
public final class MatmulPlan implements AutoCloseable {
  private final GemmShape shape;
  private final GemmType type;
  private final Epilogue epilogue;
  private final long maxWorkspaceBytes;
  private final long workspaceBytes;
  private final boolean tuned;
  private cublasLtMatmulDescOpaque_t desc;
  private cublasLtMatrixLayoutOpaque_t layoutA;
  private cublasLtMatrixLayoutOpaque_t layoutB;
  private cublasLtMatrixLayoutOpaque_t layoutC;
  private cublasLtMatmulAlgo_t algo;
  private final Pointer alpha;
  private final Pointer beta;
  private final PointerPointer<?> biasPointer = new PointerPointer<>(1);
  private final CublasLt lt;

  /**
   * Prepares C = alpha * A * op(B) (+ bias) on cuBLASLt's heuristic algorithm.
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
    this(lt, shape, GemmType.of(dtype, allowTf32), alpha, epilogue, maxWorkspaceBytes, null);
  }

  /**
   * Prepares C = alpha * A * op(B) (+ bias) on {@code algorithm}, or on cuBLASLt's heuristic when
   * it is null.
   *
   * @throws CudaException when cuBLASLt rejects {@code algorithm} for this problem
   *     (cublasLtMatmulAlgoCheck) or it needs more than {@code maxWorkspaceBytes}; callers that
   *     hold a tuned algorithm fall back to the heuristic then
   */
  public MatmulPlan(
      CublasLt lt,
      GemmShape shape,
      GemmType type,
      float alpha,
      Epilogue epilogue,
      long maxWorkspaceBytes,
      GemmAlgorithm algorithm) {
    if (maxWorkspaceBytes < 0) {
      throw new IllegalArgumentException("workspace bytes = " + maxWorkspaceBytes);
    }
    GemmKey.of(shape, type, epilogue); // validates the combination (INT8 takes no epilogue)
    if (type == GemmType.I8I32 && alpha != Math.rint(alpha)) {
      throw new IllegalArgumentException(
          "int8 -> int32 GEMMs scale by an integer alpha (INT32 scale type), got " + alpha);
    }
    this.lt = lt;
    this.shape = shape;
    this.type = type;
    this.epilogue = epilogue;
    this.maxWorkspaceBytes = maxWorkspaceBytes;
    if (LtAlgorithms.scaleType(type) == LtAlgorithms.scaleType(GemmType.I8I32)) {
      this.alpha = new IntPointer(1).put((int) alpha);
      this.beta = new IntPointer(1).put(0);
    } else {
      this.alpha = new FloatPointer(1).put(alpha);
      this.beta = new FloatPointer(1).put(0f);
    }
    String what = " for " + shape + " " + type.label();
    try {
      PointerPointer<?> out = new PointerPointer<>(1);
      CublasLt.check(
          cublasLtMatmulDescCreate(
              out, LtAlgorithms.computeType(type), LtAlgorithms.scaleType(type)),
          "cublasLtMatmulDescCreate" + what);
      desc = new cublasLtMatmulDescOpaque_t(out.get(0));
      setDescInt(CUBLASLT_MATMUL_DESC_SCALE_TYPE, LtAlgorithms.scaleType(type), what);
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
      int in = LtAlgorithms.inputType(type);
      int outType = LtAlgorithms.outputType(type);
      layoutA =
          layout(
              in,
              shape.cublasRowsA(),
              shape.cublasColsA(),
              shape.cublasLda(),
              shape.strideB(),
              what);
      layoutB =
          layout(in, shape.cublasK(), shape.cublasN(), shape.cublasLdb(), shape.strideA(), what);
      layoutC =
          layout(
              outType, shape.cublasM(), shape.cublasN(), shape.cublasLdc(), shape.strideC(), what);
      if (algorithm == null) {
        List<Candidate> best = heuristics(1);
        if (best.isEmpty()) {
          throw new CudaException(
              "cuBLASLt has no algorithm" + what + " with epilogue " + epilogue.label());
        }
        this.algo = best.get(0).raw();
        this.workspaceBytes = best.get(0).workspaceBytes();
        this.tuned = false;
      } else {
        cublasLtMatmulAlgo_t a = LtAlgorithms.init(lt, type, algorithm);
        long ws = check(a);
        if (ws < 0) {
          throw new CudaException(
              "cuBLASLt rejects the tuned " + algorithm + what + " (cublasLtMatmulAlgoCheck)");
        }
        if (ws > maxWorkspaceBytes) {
          throw new CudaException(
              "the tuned "
                  + algorithm
                  + what
                  + " needs "
                  + ws
                  + " workspace bytes, more than the "
                  + maxWorkspaceBytes
                  + " available");
        }
        this.algo = a;
        this.workspaceBytes = ws;
        this.tuned = true;
      }
    } catch (RuntimeException e) {
      close();
      throw e;
    }
  }

  /**
   * An algorithm cuBLASLt accepts for this plan's problem, the workspace it needs, and the opaque
   * algorithm itself (a copy, as cuBLASLt returned it).
   */
  record Candidate(GemmAlgorithm algorithm, long workspaceBytes, cublasLtMatmulAlgo_t raw) {}

  /**
   * cuBLASLt's heuristic ranking for this problem (best first, at most {@code count}), limited to
   * this plan's maximum workspace.
   */
  List<Candidate> heuristics(int count) {
    PointerPointer<?> prefOut = new PointerPointer<>(1);
    CublasLt.check(cublasLtMatmulPreferenceCreate(prefOut), "cublasLtMatmulPreferenceCreate");
    cublasLtMatmulPreferenceOpaque_t pref = new cublasLtMatmulPreferenceOpaque_t(prefOut.get(0));
    cublasLtMatmulHeuristicResult_t results = new cublasLtMatmulHeuristicResult_t(count);
    try (LongPointer ws = new LongPointer(1).put(maxWorkspaceBytes);
        IntPointer found = new IntPointer(1)) {
      CublasLt.check(
          cublasLtMatmulPreferenceSetAttribute(
              pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, ws, 8),
          "cublasLtMatmulPreferenceSetAttribute(max workspace)");
      int status =
          cublasLtMatmulAlgoGetHeuristic(
              lt.handle(), desc, layoutA, layoutB, layoutC, layoutC, pref, count, results, found);
      if (status != 0) {
        CublasLt.check(status, "cublasLtMatmulAlgoGetHeuristic for " + shape + " " + type.label());
      }
      List<Candidate> out = new ArrayList<>();
      for (int i = 0; i < found.get(); i++) {
        cublasLtMatmulHeuristicResult_t r = results.getPointer(i);
        if (r.state() == 0) {
          cublasLtMatmulAlgo_t copy = LtAlgorithms.copy(r.algo());
          out.add(new Candidate(LtAlgorithms.read(copy), r.workspaceSize(), copy));
        }
      }
      return out;
    } finally {
      cublasLtMatmulPreferenceDestroy(pref);
      results.close();
    }
  }

  /**
   * The workspace {@code candidate} needs for this problem, or -1 when cuBLASLt rejects it
   * (cublasLtMatmulAlgoCheck).
   */
  long check(cublasLtMatmulAlgo_t candidate) {
    try (cublasLtMatmulHeuristicResult_t r = new cublasLtMatmulHeuristicResult_t()) {
      int status =
          cublasLtMatmulAlgoCheck(
              lt.handle(), desc, layoutA, layoutB, layoutC, layoutC, candidate, r);
      return status == 0 && r.state() == 0 ? r.workspaceSize() : -1;
    }
  }

  public GemmShape shape() {
    return shape;
  }

  public GemmType type() {
    return type;
  }

  public Epilogue epilogue() {
    return epilogue;
  }

  /** The key a tuned algorithm for this plan is filed under. */
  public GemmKey key() {
    return GemmKey.of(shape, type, epilogue);
  }

  /** True when the algorithm came from a GEMM config, false for cuBLASLt's heuristic. */
  public boolean tuned() {
    return tuned;
  }

  /** The algorithm this plan runs. */
  public GemmAlgorithm algorithm() {
    return LtAlgorithms.read(algo());
  }

  /** Workspace the chosen algorithm needs (<= the maximum given at construction). */
  public long workspaceBytes() {
    return workspaceBytes;
  }

  /**
   * Queues C = alpha * A * op(B) (+ bias) on {@code stream}; operands in row-major terms (see
   * {@link GemmShape}). {@code bias} must be given exactly when the epilogue is not NONE.
   */
  public void run(
      CudaStream stream,
      DeviceBuffer a,
      DeviceBuffer b,
      DeviceBuffer c,
      DeviceBuffer bias,
      DeviceBuffer workspace) {
    run(algo(), workspaceBytes, stream, a, b, c, bias, workspace);
  }

  /** {@link #run} with another algorithm on the same problem (the tuner's timing loop). */
  void run(
      cublasLtMatmulAlgo_t with,
      long needsWorkspace,
      CudaStream stream,
      DeviceBuffer a,
      DeviceBuffer b,
      DeviceBuffer c,
      DeviceBuffer bias,
      DeviceBuffer workspace) {
    a.requireFits(type.input(), shape.elementsA(), "GEMM A of " + shape);
    b.requireFits(type.input(), shape.elementsB(), "GEMM B of " + shape);
    c.requireFits(type.output(), shape.elementsC(), "GEMM C of " + shape);
    if ((bias != null) != (epilogue != Epilogue.NONE)) {
      throw new IllegalArgumentException(
          "GEMM "
              + shape
              + ": bias "
              + (bias == null ? "missing" : "given")
              + " with epilogue "
              + epilogue.label());
    }
    if (bias != null) {
      bias.requireFits(type.output(), shape.n(), "GEMM bias of " + shape);
      biasPointer.put(0, bias.pointer());
      CublasLt.check(
          cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, biasPointer, 8),
          "cublasLtMatmulDescSetAttribute(bias pointer)");
    }
    long wsBytes = workspace == null ? 0 : workspace.bytes();
    if (wsBytes < needsWorkspace) {
      throw new IllegalArgumentException(
          "GEMM " + shape + " needs a workspace of " + needsWorkspace + " bytes, got " + wsBytes);
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
            with,
            workspace == null ? null : workspace.pointer(),
            wsBytes,
            stream.handle()),
        "cublasLtMatmul " + shape + " " + type.label());
  }

  private cublasLtMatmulAlgo_t algo() {
    if (desc == null) {
      throw new IllegalStateException("matmul plan is closed");
    }
    return algo;
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
    cublasLtMatrixLayoutOpaque_t l;
    try (PointerPointer<?> out = new PointerPointer<>(1)) {
      CublasLt.check(
          cublasLtMatrixLayoutCreate(out, dataType, rows, cols, ld),
          "cublasLtMatrixLayoutCreate" + what);
      l = new cublasLtMatrixLayoutOpaque_t(out.get(0));
    }
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
      } catch (RuntimeException e) {
        cublasLtMatrixLayoutDestroy(l); // not in a field yet: close() would not see it
        throw e;
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
    algo = null;
    // the host-side scalars and the bias pointer slot (JavaCPP: closing twice is harmless)
    alpha.close();
    beta.close();
    biasPointer.close();
  }
}
