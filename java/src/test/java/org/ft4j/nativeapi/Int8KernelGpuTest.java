package org.ft4j.nativeapi;

import static org.ft4j.testing.GpuTesting.asStored;
import static org.ft4j.testing.GpuTesting.assertClose;
import static org.ft4j.testing.GpuTesting.download;
import static org.ft4j.testing.GpuTesting.poisoned;
import static org.ft4j.testing.GpuTesting.random;
import static org.ft4j.testing.GpuTesting.upload;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.SplittableRandom;
import java.util.stream.Stream;
import org.ft4j.cuda.DType;
import org.ft4j.cuda.DeviceBuffer;
import org.ft4j.reference.Int8ReferenceKernels;
import org.ft4j.reference.Int8ReferenceKernels.Quantized;
import org.ft4j.testing.GpuStream;
import org.ft4j.testing.GpuTesting;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The INT8 row kernels (modes 1 and 2) against {@link Int8ReferenceKernels} on fresh random data:
 * FP32 and FP16, per-token and static quantization, with and without smoothing, awkward shapes,
 * int8 outputs poisoned with -128 (a value the kernels never write) and float outputs with NaN. An
 * int8 value may differ from the reference by one only where the reference value lies within 1e-4
 * of a rounding boundary (the device computes in float).
 */
@Tag(GpuTesting.GPU)
class Int8KernelGpuTest {
  @RegisterExtension static final GpuStream STREAM = new GpuStream();

  static Stream<Arguments> cases() {
    return Stream.of(DType.FP32, DType.FP16)
        .flatMap(
            t ->
                Stream.of(true, false)
                    .flatMap(
                        perToken ->
                            Stream.of(
                                Arguments.of(t, perToken, 1, 1),
                                Arguments.of(t, perToken, 7, 31),
                                Arguments.of(t, perToken, 129, 384),
                                Arguments.of(t, perToken, 33, 1536),
                                Arguments.of(t, perToken, 3, 4097),
                                Arguments.of(t, perToken, 2, 12224))));
  }

  static DeviceBuffer int8Poisoned(int n) {
    DeviceBuffer b = DeviceBuffer.allocate(DType.INT8, Math.max(1, n));
    b.fillBytes(0x80);
    return b;
  }

  static DeviceBuffer floats(float[] x) {
    return upload(x, DType.FP32);
  }

  static float[] invSmooth(int cols, long seed) {
    return random(cols, seed, 0.25, 4);
  }

  /** Asserts device int8 (and row scales) match the reference, up to boundary cases. */
  static void assertQuantized(
      Quantized expected, DeviceBuffer values, DeviceBuffer rowScale, int n, String what) {
    byte[] got = values.toByteArray(n);
    int offByOne = 0;
    for (int i = 0; i < n; i++) {
      if (GpuTesting.assertInt8Rounding(got[i], expected.scaled()[i], what + ": int8 at " + i)) {
        offByOne++;
      }
    }
    assertTrue(offByOne <= n / 1000 + 1, what + ": " + offByOne + " boundary differences");
    if (expected.rowScale() != null) {
      float[] scales = rowScale.toFloatArray(expected.rowScale().length);
      for (int r = 0; r < scales.length; r++) {
        assertEquals(
            expected.rowScale()[r], scales[r], 2e-6 * expected.rowScale()[r], what + " row " + r);
      }
    }
  }

  @ParameterizedTest(name = "{0} perToken={1} [{2}, {3}]")
  @MethodSource("cases")
  void quantizeRows(DType t, boolean perToken, int rows, int cols) {
    float[] x = asStored(random(rows * cols, rows * 7L + cols, -5, 5), t);
    x[0] = 40; // an outlier
    float[] inv = cols > 1 ? invSmooth(cols, cols) : null;
    float amax = 9f;
    Quantized expected = Int8ReferenceKernels.quantizeRows(x, rows, cols, inv, perToken, amax);
    try (DeviceBuffer in = upload(x, t);
        DeviceBuffer q = int8Poisoned(rows * cols);
        DeviceBuffer scales = poisoned(DType.FP32, rows);
        DeviceBuffer invBuf = inv == null ? null : floats(inv)) {
      Int8Output out =
          perToken ? Int8Output.perToken(q, scales, invBuf) : Int8Output.ofStatic(q, amax, invBuf);
      NativeApi.quantizeRows(t, out, in, rows, cols, STREAM.get());
      STREAM.get().synchronize();
      assertQuantized(expected, q, scales, rows * cols, "quantizeRows " + t);
    }
  }

  static int[] acc(int n, long seed) {
    SplittableRandom r = new SplittableRandom(seed);
    int[] a = new int[n];
    for (int i = 0; i < n; i++) {
      a[i] = r.nextInt(-40000, 40000);
    }
    return a;
  }

  @ParameterizedTest(name = "{0} perToken={1} [{2}, {3}]")
  @MethodSource("cases")
  void dequantizeBiasGeluQuantize(DType t, boolean perToken, int rows, int cols) {
    int n = rows * cols;
    int[] acc = acc(n, 3L * rows + cols);
    float[] inScale = random(rows, rows, 1e-3, 4e-3);
    float[] wScale = random(cols, cols + 1, 2e-4, 1e-3);
    float[] bias = asStored(random(cols, cols + 2, -1, 1), t);
    float[] inv = invSmooth(cols, cols + 3);
    float amax = 6f;
    // per-token input scales with per-token output; static input scale with static output
    float[] rowIn = perToken ? inScale : null;
    float staticIn = 2.5e-3f;
    double[] y =
        Int8ReferenceKernels.dequantizeBiasAct(
            acc, rowIn, staticIn, wScale, bias, true, rows, cols);
    Quantized expected = Int8ReferenceKernels.quantizeRows(y, rows, cols, inv, perToken, amax);
    try (DeviceBuffer accBuf = DeviceBuffer.allocate(DType.INT32, n);
        DeviceBuffer in = floats(inScale);
        DeviceBuffer w = floats(wScale);
        DeviceBuffer b = upload(bias, t);
        DeviceBuffer invBuf = floats(inv);
        DeviceBuffer out = poisoned(t, n);
        DeviceBuffer q = int8Poisoned(n);
        DeviceBuffer scales = poisoned(DType.FP32, rows)) {
      accBuf.copyFrom(acc);
      Int8Output qout =
          perToken ? Int8Output.perToken(q, scales, invBuf) : Int8Output.ofStatic(q, amax, invBuf);
      NativeApi.dequantizeBiasAct(
          t,
          out,
          qout,
          accBuf,
          DType.INT32,
          perToken ? in : null,
          staticIn,
          w,
          b,
          true,
          rows,
          cols,
          STREAM.get());
      STREAM.get().synchronize();
      assertClose(toFloat(y), download(out, t, n), tol(t), "dequantizeBiasAct out " + t);
      assertQuantized(expected, q, scales, n, "dequantizeBiasAct qout " + t);
    }
  }

  @Test
  void dequantizeBiasWithoutActivationOrQuantizationWritesOnlyOut() {
    int rows = 65;
    int cols = 2304; // the QKV GEMM of BERT-base
    int n = rows * cols;
    int[] acc = acc(n, 5);
    float[] inScale = random(rows, 6, 1e-3, 4e-3);
    float[] wScale = random(cols, 7, 2e-4, 1e-3);
    float[] bias = asStored(random(cols, 8, -1, 1), DType.FP16);
    double[] y =
        Int8ReferenceKernels.dequantizeBiasAct(acc, inScale, 0, wScale, bias, false, rows, cols);
    try (DeviceBuffer accBuf = DeviceBuffer.allocate(DType.INT32, n);
        DeviceBuffer in = floats(inScale);
        DeviceBuffer w = floats(wScale);
        DeviceBuffer b = upload(bias, DType.FP16);
        DeviceBuffer out = poisoned(DType.FP16, n)) {
      accBuf.copyFrom(acc);
      NativeApi.dequantizeBiasAct(
          DType.FP16,
          out,
          null,
          accBuf,
          DType.INT32,
          in,
          0f,
          w,
          b,
          false,
          rows,
          cols,
          STREAM.get());
      STREAM.get().synchronize();
      assertClose(toFloat(y), download(out, DType.FP16, n), tol(DType.FP16), "qkv dequantize");
    }
  }

  /**
   * One block per row: an FP16 output written over the int32 accumulator it reads would overwrite
   * rows another block still reads; the C API refuses before the launch (an exact alias of equal
   * element types stays allowed, as the encoder's in-place layernorm uses).
   */
  @Test
  void mixedTypeAliasingIsRejectedBeforeTheLaunch() {
    int rows = 4;
    int cols = 96;
    int n = rows * cols;
    try (DeviceBuffer accBuf = DeviceBuffer.allocate(DType.INT32, n);
        DeviceBuffer w = floats(random(cols, 7, 2e-4, 1e-3))) {
      accBuf.copyFrom(acc(n, 5));
      IllegalArgumentException e =
          assertThrows(
              IllegalArgumentException.class,
              () ->
                  NativeApi.dequantizeBiasAct(
                      DType.FP16,
                      accBuf,
                      null,
                      accBuf,
                      DType.INT32,
                      null,
                      1e-3f,
                      w,
                      null,
                      false,
                      rows,
                      cols,
                      STREAM.get()));
      assertTrue(e.getMessage().contains("overlaps acc"), e.getMessage());
    }
  }

  /** A dequantized copy written half a row into the input it quantizes: refused before launch. */
  @Test
  void partlyOverlappingDequantizedOutputIsRejectedBeforeTheLaunch() {
    int rows = 3;
    int cols = 64;
    int n = rows * cols;
    try (DeviceBuffer in = upload(random(n + cols, 3, -1, 1), DType.FP16);
        DeviceBuffer q = int8Poisoned(n);
        DeviceBuffer scales = poisoned(DType.FP32, rows)) {
      DeviceBuffer shifted = in.slice(2L * (cols / 2), 2L * n); // half a row further on
      IllegalArgumentException e =
          assertThrows(
              IllegalArgumentException.class,
              () ->
                  NativeApi.quantizeRows(
                      DType.FP16,
                      Int8Output.perToken(q, scales, null),
                      in,
                      shifted,
                      rows,
                      cols,
                      STREAM.get()));
      assertTrue(e.getMessage().contains("deq_out"), e.getMessage());
      assertTrue(e.getMessage().contains("overlaps input"), e.getMessage());
    }
  }

  @ParameterizedTest(name = "{0} perToken={1} [{2}, {3}]")
  @MethodSource("cases")
  void dequantizeBiasResidualLayerNormQuantize(DType t, boolean perToken, int rows, int cols) {
    int n = rows * cols;
    int[] acc = acc(n, 11L * rows + cols);
    float[] inScale = random(rows, rows + 5, 1e-3, 4e-3);
    float[] wScale = random(cols, cols + 6, 2e-4, 1e-3);
    float[] bias = asStored(random(cols, cols + 7, -1, 1), t);
    float[] residual = asStored(random(n, n + 8, -3, 3), t);
    float[] gamma = asStored(random(cols, cols + 9, 0.5, 1.5), t);
    float[] beta = asStored(random(cols, cols + 10, -0.5, 0.5), t);
    float[] inv = invSmooth(cols, cols + 11);
    float staticIn = 2.5e-3f;
    float amax = 4f;
    double[] y =
        Int8ReferenceKernels.dequantizeBiasResidualLayerNorm(
            acc,
            perToken ? inScale : null,
            staticIn,
            wScale,
            bias,
            residual,
            gamma,
            beta,
            1e-12,
            rows,
            cols);
    Quantized expected = Int8ReferenceKernels.quantizeRows(y, rows, cols, inv, perToken, amax);
    try (DeviceBuffer accBuf = DeviceBuffer.allocate(DType.INT32, n);
        DeviceBuffer in = floats(inScale);
        DeviceBuffer w = floats(wScale);
        DeviceBuffer b = upload(bias, t);
        DeviceBuffer res = upload(residual, t); // also the output: aliasing is allowed
        DeviceBuffer g = upload(gamma, t);
        DeviceBuffer be = upload(beta, t);
        DeviceBuffer invBuf = floats(inv);
        DeviceBuffer q = int8Poisoned(n);
        DeviceBuffer scales = poisoned(DType.FP32, rows)) {
      accBuf.copyFrom(acc);
      Int8Output qout =
          perToken ? Int8Output.perToken(q, scales, invBuf) : Int8Output.ofStatic(q, amax, invBuf);
      NativeApi.dequantizeBiasResidualLayerNorm(
          t,
          res,
          qout,
          accBuf,
          DType.INT32,
          perToken ? in : null,
          staticIn,
          w,
          b,
          res,
          g,
          be,
          1e-12f,
          false,
          rows,
          cols,
          STREAM.get());
      STREAM.get().synchronize();
      assertClose(toFloat(y), download(res, t, n), tol(t), "layernorm out " + t);
      assertQuantized(expected, q, scales, n, "layernorm qout " + t);
    }
  }

  /**
   * Asserts {@code deq} holds q · step_r / inv[c] of the device's own int8 values {@code q} (its
   * rounding is checked against the reference separately).
   */
  static void assertDequantized(
      DeviceBuffer deq,
      DType t,
      DeviceBuffer q,
      DeviceBuffer rowScale,
      float staticAmax,
      float[] inv,
      int rows,
      int cols,
      String what) {
    int n = rows * cols;
    byte[] values = q.toByteArray(n);
    float[] scales = rowScale == null ? null : rowScale.toFloatArray(rows);
    float[] want = new float[n];
    for (int r = 0; r < rows; r++) {
      double step = scales != null ? scales[r] : staticAmax / 127.0;
      for (int c = 0; c < cols; c++) {
        want[r * cols + c] = (float) (values[r * cols + c] * step / (inv == null ? 1 : inv[c]));
      }
    }
    assertClose(want, download(deq, t, n), tol(t), what);
  }

  /** INT8 mode 2: quantize_rows also writes the dequantized values, here over its own input. */
  @ParameterizedTest(name = "{0} perToken={1} [{2}, {3}]")
  @MethodSource("cases")
  void quantizeRowsWritesTheDequantizedRowsInPlace(DType t, boolean perToken, int rows, int cols) {
    float[] x = asStored(random(rows * cols, rows * 5L + cols, -5, 5), t);
    float[] inv = cols > 1 ? invSmooth(cols, cols + 1) : null;
    float amax = 7f;
    Quantized expected = Int8ReferenceKernels.quantizeRows(x, rows, cols, inv, perToken, amax);
    try (DeviceBuffer in = upload(x, t);
        DeviceBuffer q = int8Poisoned(rows * cols);
        DeviceBuffer scales = poisoned(DType.FP32, rows);
        DeviceBuffer invBuf = inv == null ? null : floats(inv)) {
      Int8Output out =
          perToken ? Int8Output.perToken(q, scales, invBuf) : Int8Output.ofStatic(q, amax, invBuf);
      NativeApi.quantizeRows(t, out, in, in, rows, cols, STREAM.get());
      STREAM.get().synchronize();
      assertQuantized(expected, q, scales, rows * cols, "quantizeRows " + t);
      assertDequantized(
          in, t, q, perToken ? scales : null, amax, inv, rows, cols, "quantizeRows deq_out " + t);
    }
  }

  static byte[] int8Acc(int n, long seed) {
    SplittableRandom r = new SplittableRandom(seed);
    byte[] a = new byte[n];
    for (int i = 0; i < n; i++) {
      a[i] = (byte) r.nextInt(-127, 128);
    }
    return a;
  }

  /** INT8 mode 2: an int8 GEMM output dequantized per column, bias, GELU, quantized again. */
  @ParameterizedTest(name = "{0} perToken={1} [{2}, {3}]")
  @MethodSource("cases")
  void int8OutputsDequantizeLikeAccumulators(DType t, boolean perToken, int rows, int cols) {
    int n = rows * cols;
    byte[] acc8 = int8Acc(n, 13L * rows + cols);
    float[] step = random(cols, cols + 1, 0.01, 0.05);
    float[] bias = asStored(random(cols, cols + 2, -1, 1), t);
    float[] inv = invSmooth(cols, cols + 3);
    float amax = 6f;
    double[] y =
        Int8ReferenceKernels.dequantizeBiasAct(
            Int8ReferenceKernels.widen(acc8), null, 1f, step, bias, true, rows, cols);
    Quantized expected = Int8ReferenceKernels.quantizeRows(y, rows, cols, inv, perToken, amax);
    try (DeviceBuffer accBuf = DeviceBuffer.allocate(DType.INT8, n);
        DeviceBuffer w = floats(step);
        DeviceBuffer b = upload(bias, t);
        DeviceBuffer invBuf = floats(inv);
        DeviceBuffer out = poisoned(t, n);
        DeviceBuffer q = int8Poisoned(n);
        DeviceBuffer scales = poisoned(DType.FP32, rows)) {
      accBuf.copyFrom(acc8);
      Int8Output qout =
          perToken ? Int8Output.perToken(q, scales, invBuf) : Int8Output.ofStatic(q, amax, invBuf);
      NativeApi.dequantizeBiasAct(
          t, out, qout, accBuf, DType.INT8, null, 1f, w, b, true, rows, cols, STREAM.get());
      STREAM.get().synchronize();
      assertClose(toFloat(y), download(out, t, n), tol(t), "int8 acc out " + t);
      assertQuantized(expected, q, scales, n, "int8 acc qout " + t);
    }
  }

  /**
   * INT8 mode 2: the layernorm after an int8 GEMM output, writing the dequantized int8 of its
   * result (the next residual) over its residual input.
   */
  @ParameterizedTest(name = "{0} perToken={1} [{2}, {3}]")
  @MethodSource("cases")
  void layerNormOfInt8OutputsWritesItsDequantizedResult(
      DType t, boolean perToken, int rows, int cols) {
    int n = rows * cols;
    byte[] acc8 = int8Acc(n, 17L * rows + cols);
    float[] step = random(cols, cols + 4, 0.01, 0.05);
    float[] bias = asStored(random(cols, cols + 5, -1, 1), t);
    float[] residual = asStored(random(n, n + 6, -3, 3), t);
    float[] gamma = asStored(random(cols, cols + 7, 0.5, 1.5), t);
    float[] beta = asStored(random(cols, cols + 8, -0.5, 0.5), t);
    float[] inv = invSmooth(cols, cols + 9);
    float amax = 4f;
    double[] y =
        Int8ReferenceKernels.dequantizeBiasResidualLayerNorm(
            Int8ReferenceKernels.widen(acc8),
            null,
            1f,
            step,
            bias,
            residual,
            gamma,
            beta,
            1e-12,
            rows,
            cols);
    Quantized expected = Int8ReferenceKernels.quantizeRows(y, rows, cols, inv, perToken, amax);
    try (DeviceBuffer accBuf = DeviceBuffer.allocate(DType.INT8, n);
        DeviceBuffer w = floats(step);
        DeviceBuffer b = upload(bias, t);
        DeviceBuffer res = upload(residual, t);
        DeviceBuffer g = upload(gamma, t);
        DeviceBuffer be = upload(beta, t);
        DeviceBuffer invBuf = floats(inv);
        DeviceBuffer q = int8Poisoned(n);
        DeviceBuffer scales = poisoned(DType.FP32, rows)) {
      accBuf.copyFrom(acc8);
      Int8Output qout =
          perToken ? Int8Output.perToken(q, scales, invBuf) : Int8Output.ofStatic(q, amax, invBuf);
      NativeApi.dequantizeBiasResidualLayerNorm(
          t,
          res,
          qout,
          accBuf,
          DType.INT8,
          null,
          1f,
          w,
          b,
          res,
          g,
          be,
          1e-12f,
          true,
          rows,
          cols,
          STREAM.get());
      STREAM.get().synchronize();
      assertQuantized(expected, q, scales, n, "int8 layernorm qout " + t);
      assertDequantized(
          res, t, q, perToken ? scales : null, amax, inv, rows, cols, "int8 layernorm out " + t);
    }
  }

  @Test
  void badArgumentsAreRejectedBeforeTheLaunch() {
    try (DeviceBuffer small = DeviceBuffer.allocate(DType.FP32, 4);
        DeviceBuffer q = DeviceBuffer.allocate(DType.INT8, 4)) {
      IllegalArgumentException e =
          assertThrows(
              IllegalArgumentException.class,
              () ->
                  NativeApi.quantizeRows(
                      DType.FP32, Int8Output.ofStatic(q, 1f, null), small, 2, 3, STREAM.get()));
      assertTrue(e.getMessage().contains("quantizeRows input [2, 3]"), e.getMessage());
      assertThrows(
          UnsupportedOperationException.class,
          () ->
              NativeApi.quantizeRows(
                  DType.FP32, Int8Output.ofStatic(q, 1f, null), small, 1, 20000, STREAM.get()));
      assertThrows(IllegalArgumentException.class, () -> Int8Output.ofStatic(q, 0f, null));
      assertThrows(
          UnsupportedOperationException.class,
          () ->
              NativeApi.quantizeRows(
                  DType.INT32, Int8Output.ofStatic(q, 1f, null), small, 1, 1, STREAM.get()));
      IllegalArgumentException deq =
          assertThrows(
              IllegalArgumentException.class,
              () ->
                  NativeApi.quantizeRows(
                      DType.FP32, Int8Output.ofStatic(q, 1f, null), small, q, 2, 2, STREAM.get()));
      assertTrue(deq.getMessage().contains("deq_out"), deq.getMessage());
      IllegalArgumentException noQout =
          assertThrows(
              IllegalArgumentException.class,
              () ->
                  NativeApi.dequantizeBiasResidualLayerNorm(
                      DType.FP32,
                      small,
                      null,
                      q,
                      DType.INT8,
                      null,
                      1f,
                      small,
                      null,
                      small,
                      small,
                      small,
                      1e-5f,
                      true,
                      1,
                      4,
                      STREAM.get()));
      assertTrue(noQout.getMessage().contains("needs a quantized output"), noQout.getMessage());
    }
  }

  static double tol(DType t) {
    return t == DType.FP32 ? 1e-6 : 2e-3;
  }

  static float[] toFloat(double[] y) {
    float[] f = new float[y.length];
    for (int i = 0; i < y.length; i++) {
      f[i] = (float) y[i];
    }
    return f;
  }
}
