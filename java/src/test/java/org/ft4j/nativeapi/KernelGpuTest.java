package org.ft4j.nativeapi;

import static org.ft4j.testing.GpuTesting.asStored;
import static org.ft4j.testing.GpuTesting.assertClose;
import static org.ft4j.testing.GpuTesting.download;
import static org.ft4j.testing.GpuTesting.poisoned;
import static org.ft4j.testing.GpuTesting.random;
import static org.ft4j.testing.GpuTesting.randomLengths;
import static org.ft4j.testing.GpuTesting.upload;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.stream.Stream;
import org.ft4j.cuda.DType;
import org.ft4j.cuda.DeviceBuffer;
import org.ft4j.cuda.Half;
import org.ft4j.reference.ReferenceKernels;
import org.ft4j.testing.GpuStream;
import org.ft4j.testing.GpuTesting;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every kernel of ft4j.h against its float64 CPU reference on fresh random data, with outputs
 * poisoned (NaN) before each launch and awkward shapes. FP16 inputs are rounded to half on the host
 * first, so the reference sees exactly what the device sees.
 */
@Tag(GpuTesting.GPU)
class KernelGpuTest {
  static final double FP32_TOL = 1e-6;
  static final double FP16_TOL = 2e-3;
  @RegisterExtension static final GpuStream STREAM = new GpuStream();

  static double tol(DType t) {
    return t == DType.FP32 ? FP32_TOL : FP16_TOL;
  }

  static Stream<Arguments> rowsCols() {
    return Stream.of(DType.FP32, DType.FP16)
        .flatMap(
            t ->
                Stream.of(
                    Arguments.of(t, 1, 1),
                    Arguments.of(t, 3, 7),
                    Arguments.of(t, 127, 384),
                    Arguments.of(t, 33, 768),
                    Arguments.of(t, 17, 1024),
                    Arguments.of(t, 65, 3072),
                    Arguments.of(t, 5, 4096),
                    Arguments.of(t, 2, 8192),
                    Arguments.of(t, 9, 1001),
                    // the widest row kept in shared memory (12224 floats beside the 144-byte
                    // reduction scratch), then the re-read path: 12288 asked for all 48 KiB and
                    // failed the launch before 2026-11-27 (never tested at that width)
                    Arguments.of(t, 2, 12224),
                    Arguments.of(t, 2, 12288),
                    Arguments.of(t, 3, 13001)));
  }

  @ParameterizedTest(name = "{0} [{1}, {2}]")
  @MethodSource("rowsCols")
  void addBiasGelu(DType t, int rows, int cols) {
    float[] x = asStored(random(rows * cols, rows * 31L + cols, -6, 6), t);
    float[] bias = asStored(random(cols, 99 + cols, -1, 1), t);
    float[] expected = ReferenceKernels.addBiasGelu(x, bias, rows, cols);
    try (DeviceBuffer data = upload(x, t);
        DeviceBuffer b = upload(bias, t)) {
      NativeApi.addBiasGelu(t, data, b, rows, cols, STREAM.get());
      STREAM.get().synchronize();
      assertClose(expected, download(data, t, rows * cols), tol(t), "add bias + GELU " + t);
    }
  }

  @ParameterizedTest(name = "{0} [{1}, {2}]")
  @MethodSource("rowsCols")
  void addBiasResidualLayerNorm(DType t, int rows, int cols) {
    int n = rows * cols;
    // an offset mean and a large spread: a one-pass variance would lose digits here
    float[] in = asStored(random(n, 5L * cols + rows, 30, 34), t);
    float[] res = asStored(random(n, 7L * cols, -3, 3), t);
    float[] bias = asStored(random(cols, 11L * cols, -1, 1), t);
    float[] gamma = asStored(random(cols, 13L * cols, 0.5, 1.5), t);
    float[] beta = asStored(random(cols, 17L * cols, -0.5, 0.5), t);
    float eps = 1e-5f;
    // x = input + bias + residual is held in float: near 32 its rounding (ulp 3.8e-6) alone gives
    // (x - mean) / std a relative error of ~1e-6, so FP32 gets 4e-6 here; a one-pass variance
    // (E[x^2] - mean^2 in float) would be off by ~1e-4 and still fail.
    double tol = t == DType.FP32 ? 4e-6 : FP16_TOL;
    float[] expected =
        ReferenceKernels.addBiasResidualLayerNorm(in, bias, res, gamma, beta, eps, rows, cols);
    float[] expectedNoBias =
        ReferenceKernels.addBiasResidualLayerNorm(in, null, res, gamma, beta, eps, rows, cols);
    try (DeviceBuffer input = upload(in, t);
        DeviceBuffer residual = upload(res, t);
        DeviceBuffer b = upload(bias, t);
        DeviceBuffer g = upload(gamma, t);
        DeviceBuffer be = upload(beta, t);
        DeviceBuffer out = poisoned(t, n)) {
      NativeApi.addBiasResidualLayerNorm(
          t, out, input, b, residual, g, be, eps, rows, cols, STREAM.get());
      STREAM.get().synchronize();
      assertClose(expected, download(out, t, n), tol, "layernorm " + t);
      out.fillBytes(0xFF);
      NativeApi.addBiasResidualLayerNorm(
          t, out, input, null, residual, g, be, eps, rows, cols, STREAM.get());
      STREAM.get().synchronize();
      assertClose(expectedNoBias, download(out, t, n), tol, "layernorm without bias " + t);
      // in place over the residual, then over the input
      NativeApi.addBiasResidualLayerNorm(
          t, residual, input, b, residual, g, be, eps, rows, cols, STREAM.get());
      STREAM.get().synchronize();
      assertClose(expected, download(residual, t, n), tol, "layernorm out == residual " + t);
      residual.close();
      try (DeviceBuffer residual2 = upload(res, t)) {
        NativeApi.addBiasResidualLayerNorm(
            t, input, input, b, residual2, g, be, eps, rows, cols, STREAM.get());
        STREAM.get().synchronize();
        assertClose(expected, download(input, t, n), tol, "layernorm out == input " + t);
      }
    }
  }

  @Test
  void layerNormUsesTheGivenEpsilon() {
    // a constant row: variance 0, so the output is beta exactly whatever eps; with two values,
    // (x - mean) / sqrt(var + eps) depends visibly on eps = 1 (var = 1): 1/sqrt(2).
    float[] in = {2f, 4f};
    float[] zero = {0f, 0f};
    float[] one = {1f, 1f};
    try (DeviceBuffer input = upload(in, DType.FP32);
        DeviceBuffer residual = upload(zero, DType.FP32);
        DeviceBuffer g = upload(one, DType.FP32);
        DeviceBuffer be = upload(zero, DType.FP32);
        DeviceBuffer out = poisoned(DType.FP32, 2)) {
      NativeApi.addBiasResidualLayerNorm(
          DType.FP32, out, input, null, residual, g, be, 1f, 1, 2, STREAM.get());
      STREAM.get().synchronize();
      float[] y = out.toFloatArray(2);
      assertEquals(-1 / Math.sqrt(2), y[0], 1e-6);
      assertEquals(1 / Math.sqrt(2), y[1], 1e-6);
    }
  }

  static Stream<Arguments> attentionShapes() {
    return Stream.of(DType.FP32, DType.FP16)
        .flatMap(
            t ->
                Stream.of(
                    Arguments.of(t, 1, 1, 12, 64),
                    Arguments.of(t, 3, 17, 16, 64),
                    Arguments.of(t, 2, 128, 12, 32),
                    Arguments.of(t, 1, 384, 8, 96),
                    Arguments.of(t, 2, 7, 4, 128),
                    Arguments.of(t, 32, 5, 12, 64),
                    // head sizes that are not a multiple of the 16-byte pack: element-wise path
                    Arguments.of(t, 3, 5, 3, 20),
                    Arguments.of(t, 2, 3, 5, 6)));
  }

  @ParameterizedTest(name = "{0} batch {1} seq {2} heads {3} x {4}")
  @MethodSource("attentionShapes")
  void splitHeadsAndMergeHeads(DType t, int batch, int seq, int heads, int d) {
    int hidden = heads * d;
    int n = batch * seq * hidden;
    float[] qkv = asStored(random(3 * n, 3L * seq + heads, -2, 2), t);
    float[] bias = asStored(random(3 * hidden, 5L * hidden, -1, 1), t);
    float[][] expected = ReferenceKernels.addQkvBiasSplitHeads(qkv, bias, batch, seq, heads, d);
    try (DeviceBuffer in = upload(qkv, t);
        DeviceBuffer b = upload(bias, t);
        DeviceBuffer q = poisoned(t, n);
        DeviceBuffer k = poisoned(t, n);
        DeviceBuffer v = poisoned(t, n);
        DeviceBuffer merged = poisoned(t, n)) {
      NativeApi.addQkvBiasSplitHeads(t, q, k, v, in, b, batch, seq, heads, d, STREAM.get());
      STREAM.get().synchronize();
      assertClose(expected[0], download(q, t, n), tol(t), "split q " + t);
      assertClose(expected[1], download(k, t, n), tol(t), "split k " + t);
      assertClose(expected[2], download(v, t, n), tol(t), "split v " + t);
      float[] kHost = download(k, t, n);
      NativeApi.mergeHeads(t, merged, k, batch, seq, heads, d, STREAM.get());
      STREAM.get().synchronize();
      // pure data movement: exact
      assertArrayEquals(
          ReferenceKernels.mergeHeads(kHost, batch, seq, heads, d),
          download(merged, t, n),
          "merge " + t);
    }
  }

  static Stream<Arguments> softmaxShapes() {
    return Stream.of(DType.FP32, DType.FP16)
        .flatMap(
            t ->
                Stream.of(
                    Arguments.of(t, 1, 1, 1),
                    Arguments.of(t, 3, 2, 17),
                    Arguments.of(t, 2, 12, 128),
                    Arguments.of(t, 4, 3, 127),
                    Arguments.of(t, 1, 2, 384),
                    Arguments.of(t, 2, 1, 1000),
                    Arguments.of(t, 1, 1, 4096),
                    // above 12224 keys the row is re-read instead of cached in shared memory
                    // (12288 failed the launch before 2026-11-27: see the layernorm cases)
                    Arguments.of(t, 1, 1, 12288)));
  }

  @ParameterizedTest(name = "{0} batch {1} heads {2} seq {3}")
  @MethodSource("softmaxShapes")
  void maskedSoftmax(DType t, int batch, int heads, int seq) {
    int n = batch * heads * seq * seq;
    float[] scores = asStored(random(n, 41L * seq + batch, -8, 8), t);
    int[] lengths = randomLengths(batch, seq, seq);
    for (float scale : new float[] {1f, 0.125f}) {
      float[] expected = ReferenceKernels.maskedSoftmax(scores, lengths, batch, heads, seq, scale);
      try (DeviceBuffer s = upload(scores, t);
          DeviceBuffer len = DeviceBuffer.of(lengths)) {
        NativeApi.maskedSoftmax(t, s, len, batch, heads, seq, scale, STREAM.get());
        STREAM.get().synchronize();
        float[] actual = download(s, t, n);
        assertClose(expected, actual, tol(t), "softmax " + t + " scale " + scale);
        for (int i = 0; i < n; i++) { // masked keys are exactly zero
          int b = i / (heads * seq * seq);
          if (i % seq >= lengths[b]) {
            assertEquals(0f, actual[i], "masked key at flat index " + i);
          }
        }
      }
    }
  }

  static Stream<Arguments> poolShapes() {
    // batch, seq, hidden
    return Stream.of(
        Arguments.of(1, 1, 1),
        Arguments.of(3, 5, 7),
        Arguments.of(4, 130, 384),
        Arguments.of(2, 17, 1000),
        Arguments.of(33, 3, 33));
  }

  /**
   * Device pooling against {@link org.ft4j.model.Pooler} on each sequence's valid rows: padded rows
   * hold large values that would show in a mean that read them; the output starts poisoned.
   */
  @ParameterizedTest(name = "batch {0} seq {1} hidden {2}")
  @MethodSource("poolShapes")
  void poolRowsMatchesThePooler(int batch, int seq, int hidden) {
    int[] lengths = randomLengths(batch, seq, 7L * seq + hidden);
    lengths[0] = seq;
    lengths[batch - 1] = 1;
    for (DType t : new DType[] {DType.FP32, DType.FP16}) {
      float[] states = asStored(random(batch * seq * hidden, 5L * hidden + batch, -2, 2), t);
      for (int b = 0; b < batch; b++) {
        for (int i = lengths[b] * hidden; i < seq * hidden; i++) {
          states[b * seq * hidden + i] = 1000f; // padding: must not be read
        }
      }
      for (org.ft4j.model.Pooling pooling :
          new org.ft4j.model.Pooling[] {org.ft4j.model.Pooling.CLS, org.ft4j.model.Pooling.MEAN}) {
        for (boolean normalize : new boolean[] {false, true}) {
          try (DeviceBuffer in = upload(states, t);
              DeviceBuffer len = DeviceBuffer.of(lengths);
              DeviceBuffer out = poisoned(DType.FP32, (long) batch * hidden)) {
            NativeApi.poolRows(
                t,
                out,
                in,
                len,
                batch,
                seq,
                hidden,
                pooling == org.ft4j.model.Pooling.MEAN,
                normalize,
                STREAM.get());
            STREAM.get().synchronize();
            float[] actual = download(out, DType.FP32, batch * hidden);
            for (int b = 0; b < batch; b++) {
              float[] rows =
                  java.util.Arrays.copyOfRange(
                      states, b * seq * hidden, (b * seq + lengths[b]) * hidden);
              float[] expected =
                  org.ft4j.model.Pooler.pool(rows, lengths[b], hidden, pooling, normalize);
              float[] got = java.util.Arrays.copyOfRange(actual, b * hidden, (b + 1) * hidden);
              assertClose(
                  expected, got, 1e-5, t + " " + pooling + " normalize " + normalize + " b " + b);
            }
          }
        }
      }
    }
  }

  @Test
  void poolRowsRefusesAnOutputOverTheStatesItReads() {
    int batch = 2;
    int seq = 4;
    int hidden = 8;
    try (DeviceBuffer in = upload(random(batch * seq * hidden, 1, -1, 1), DType.FP32);
        DeviceBuffer len = DeviceBuffer.of(new int[] {4, 2})) {
      DeviceBuffer inside = in.slice(4L * hidden, 4L * batch * hidden); // rows 1..2 of the states
      IllegalArgumentException e =
          assertThrows(
              IllegalArgumentException.class,
              () ->
                  NativeApi.poolRows(
                      DType.FP32, inside, in, len, batch, seq, hidden, true, true, STREAM.get()));
      assertTrue(e.getMessage().contains("out overlaps states"), e.getMessage());
    }
  }

  @Test
  void zeroPaddedRowsClearsOnlyPadding() {
    int batch = 4;
    int seq = 9;
    int hidden = 40;
    for (DType t : DType.values()) {
      if (t != DType.FP32 && t != DType.FP16) {
        continue;
      }
      float[] x = asStored(random(batch * seq * hidden, 3, 0.5, 2), t);
      int[] lengths = {9, 1, 4, 8};
      try (DeviceBuffer data = upload(x, t);
          DeviceBuffer len = DeviceBuffer.of(lengths)) {
        NativeApi.zeroPaddedRows(t, data, len, batch, seq, hidden, STREAM.get());
        STREAM.get().synchronize();
        assertArrayEquals(
            ReferenceKernels.zeroPaddedRows(x, lengths, batch, seq, hidden),
            download(data, t, x.length),
            t.toString());
      }
    }
  }

  @Test
  void convertRoundsToNearestEvenLikeTheHostAndBackExactly() {
    for (int n : new int[] {1, 7, 1_000_003}) {
      float[] x = random(n, n, -70000, 70000); // includes values that overflow half
      for (int i = 0; i < Math.min(n, 64); i++) {
        x[i] = (float) Math.scalb(x[i] / 70000.0, -14 - i % 12); // subnormal halves
      }
      try (DeviceBuffer src = upload(x, DType.FP32);
          DeviceBuffer half = poisoned(DType.FP16, n);
          DeviceBuffer back = poisoned(DType.FP32, n)) {
        NativeApi.convert(DType.FP16, half, DType.FP32, src, n, STREAM.get());
        NativeApi.convert(DType.FP32, back, DType.FP16, half, n, STREAM.get());
        STREAM.get().synchronize();
        short[] bits = half.toShortArray(n);
        assertArrayEquals(Half.fromFloats(x), bits, "fp32 -> fp16, n = " + n);
        assertArrayEquals(Half.toFloats(bits), back.toFloatArray(n), "fp16 -> fp32, n = " + n);
      }
    }
  }

  @Test
  void badArgumentsAreRejectedInJavaBeforeAnyLaunch() {
    try (DeviceBuffer small = DeviceBuffer.allocate(DType.FP32, 10);
        DeviceBuffer bias = DeviceBuffer.allocate(DType.FP32, 10)) {
      IllegalArgumentException e =
          assertThrows(
              IllegalArgumentException.class,
              () -> NativeApi.addBiasGelu(DType.FP32, small, bias, 3, 4, STREAM.get()));
      assertEquals(
          "addBiasGelu data [3, 4]: needs 12 FP32 values (48 bytes), buffer has 40 bytes",
          e.getMessage());
      assertThrows(
          IllegalArgumentException.class,
          () -> NativeApi.addBiasGelu(DType.FP32, small, bias, 0, 4, STREAM.get()));
      assertThrows(
          UnsupportedOperationException.class,
          () -> NativeApi.addBiasGelu(DType.INT8, small, bias, 1, 4, STREAM.get()));
    }
  }
}
