package org.ft4j.gemm;

import static org.ft4j.testing.GpuTesting.asStored;
import static org.ft4j.testing.GpuTesting.assertClose;
import static org.ft4j.testing.GpuTesting.download;
import static org.ft4j.testing.GpuTesting.poisoned;
import static org.ft4j.testing.GpuTesting.random;
import static org.ft4j.testing.GpuTesting.upload;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.stream.Stream;
import org.ft4j.cuda.CudaStream;
import org.ft4j.cuda.DType;
import org.ft4j.cuda.DeviceBuffer;
import org.ft4j.testing.GpuTesting;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** cuBLASLt plans against the direct row-major product (GemmShapeTest.direct) in float64. */
@Tag(GpuTesting.GPU)
class MatmulPlanGpuTest {
  private static CudaStream stream;
  private static CublasLt lt;
  private static DeviceBuffer workspace;

  @BeforeAll
  static void setUp() {
    GpuTesting.assumeCudaDevice();
    stream = CudaStream.create();
    lt = CublasLt.create();
    workspace = DeviceBuffer.allocate(32L << 20);
  }

  @AfterAll
  static void tearDown() {
    if (workspace != null) {
      workspace.close();
      lt.close();
      stream.close();
    }
  }

  static Stream<Arguments> shapes() {
    return Stream.of(DType.FP32, DType.FP16)
        .flatMap(
            t ->
                Stream.of(
                    Arguments.of(t, GemmShape.linear(1, 768, 2304)),
                    Arguments.of(t, GemmShape.linear(17, 768, 768)),
                    Arguments.of(t, GemmShape.linear(384, 768, 3072)),
                    Arguments.of(t, GemmShape.linear(129, 3072, 768)),
                    Arguments.of(t, GemmShape.linear(33, 1024, 1024)),
                    Arguments.of(t, GemmShape.attentionScores(36, 17, 64)),
                    Arguments.of(t, GemmShape.attentionContext(36, 17, 64)),
                    Arguments.of(t, GemmShape.attentionScores(8, 128, 96)),
                    Arguments.of(t, GemmShape.attentionContext(8, 128, 96)),
                    Arguments.of(t, GemmShape.attentionScores(3, 1, 32))));
  }

  @ParameterizedTest(name = "{0} {1}")
  @MethodSource("shapes")
  void matchesTheRowMajorProduct(DType t, GemmShape s) {
    float[] a = asStored(random((int) s.elementsA(), s.m(), -1, 1), t);
    float[] b = asStored(random((int) s.elementsB(), s.n(), -1, 1), t);
    float alpha = 0.5f;
    float[] expected = GemmShapeTest.direct(s, a, b);
    for (int i = 0; i < expected.length; i++) {
      expected[i] *= alpha;
    }
    try (MatmulPlan plan =
            new MatmulPlan(lt, s, t, alpha, Epilogue.NONE, workspace.bytes(), false);
        DeviceBuffer da = upload(a, t);
        DeviceBuffer db = upload(b, t);
        DeviceBuffer dc = poisoned(t, s.elementsC())) {
      plan.run(stream, da, db, dc, null, workspace);
      stream.synchronize();
      // FP32: true FP32 compute (no TF32) is needed for 1e-5; FP16: half output rounding
      assertClose(
          expected,
          download(dc, t, (int) s.elementsC()),
          t == DType.FP32 ? 1e-5 : 2e-3,
          s + " " + t);
    }
  }

  @Test
  void biasEpilogueAddsPerOutputFeature() {
    GemmShape s = GemmShape.linear(19, 64, 48);
    float[] a = random((int) s.elementsA(), 1, -1, 1);
    float[] w = random((int) s.elementsB(), 2, -1, 1);
    float[] bias = random(48, 3, -1, 1);
    float[] expected = GemmShapeTest.direct(s, a, w);
    for (int i = 0; i < expected.length; i++) {
      expected[i] += bias[i % 48];
    }
    try (MatmulPlan plan =
            new MatmulPlan(lt, s, DType.FP32, 1f, Epilogue.BIAS, workspace.bytes(), false);
        DeviceBuffer da = upload(a, DType.FP32);
        DeviceBuffer dw = upload(w, DType.FP32);
        DeviceBuffer db = upload(bias, DType.FP32);
        DeviceBuffer dc = poisoned(DType.FP32, s.elementsC())) {
      plan.run(stream, da, dw, dc, db, workspace);
      stream.synchronize();
      assertClose(expected, dc.toFloatArray((int) s.elementsC()), 1e-5, "bias epilogue");
      assertThrows(
          IllegalArgumentException.class, () -> plan.run(stream, da, dw, dc, null, workspace));
    }
  }

  @Test
  void undersizedOperandsAreRejectedBeforeCublas() {
    GemmShape s = GemmShape.linear(8, 16, 16);
    try (MatmulPlan plan =
            new MatmulPlan(lt, s, DType.FP32, 1f, Epilogue.NONE, workspace.bytes(), false);
        DeviceBuffer small = DeviceBuffer.allocate(DType.FP32, 100);
        DeviceBuffer ok = DeviceBuffer.allocate(DType.FP32, 256)) {
      assertThrows(
          IllegalArgumentException.class, () -> plan.run(stream, small, ok, ok, null, workspace));
    }
  }
}
