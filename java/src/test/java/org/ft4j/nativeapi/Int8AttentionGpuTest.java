package org.ft4j.nativeapi;

import static org.ft4j.testing.GpuTesting.asStored;
import static org.ft4j.testing.GpuTesting.random;
import static org.ft4j.testing.GpuTesting.randomLengths;
import static org.ft4j.testing.GpuTesting.upload;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.ft4j.cuda.CudaDevice;
import org.ft4j.cuda.DType;
import org.ft4j.cuda.DeviceBuffer;
import org.ft4j.nativeapi.NativeApi.AttentionPath;
import org.ft4j.reference.Int8ReferenceKernels;
import org.ft4j.reference.Int8ReferenceKernels.Quantized;
import org.ft4j.reference.ReferenceKernels;
import org.ft4j.testing.GpuStream;
import org.ft4j.testing.GpuTesting;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The INT8 modes' fused attention ({@link NativeApi#fusedAttentionInt8}): int8 Q/K/V in (mode 2,
 * against {@link Int8ReferenceKernels#attentionInt8}) or FP16/FP32 Q/K/V in (mode 1, against {@link
 * ReferenceKernels#attention}), int8 context out, on fresh random inputs and a random bias, the
 * output poisoned with -128 (never written by the kernel) before each launch; padded batches
 * (padding query rows must be exact zeros) and packed token streams, every head size, FP16 and FP32
 * (the tensor-core and the CUDA-core path). The output amax is 0.9 of the largest |context|, so the
 * clamp is exercised too.
 *
 * <p>Tolerance, in quantization steps: the device value may differ from the reference's unrounded
 * value by 0.5 (rounding) plus 0.02 (FP32) or 0.35 (FP16: P and Q are FP16 in the MMAs, as in the
 * FP16 kernel whose relative L2 bound is 2e-3), and at least 99.9 % (FP32) or 80 % (FP16) of the
 * values must equal the reference exactly.
 */
@Tag(GpuTesting.GPU)
class Int8AttentionGpuTest {
  @RegisterExtension static final GpuStream STREAM = new GpuStream();

  static Stream<Arguments> cases() {
    List<Arguments> list = new ArrayList<>();
    // batch, seq, heads, size_per_head
    int[][] shapes = {
      {1, 1, 12, 64},
      {32, 7, 3, 64},
      {32, 127, 2, 64},
      {32, 128, 3, 64},
      {3, 384, 2, 64},
      {2, 1000, 2, 64},
      {1, 4096, 1, 64},
      {32, 128, 2, 16},
      {32, 128, 2, 32},
      {5, 127, 3, 96},
      {32, 128, 2, 128},
      {2, 384, 2, 128},
      {3, 65, 2, 256},
      {3, 33, 3, 40},
    };
    for (DType t : new DType[] {DType.FP16, DType.FP32}) {
      for (DType in : new DType[] {DType.INT8, t}) {
        for (int[] s : shapes) {
          list.add(Arguments.of(t, in, s[0], s[1], s[2], s[3]));
        }
      }
    }
    return list.stream();
  }

  @ParameterizedTest(name = "{0}, {1} Q/K/V, batch {2} seq {3} heads {4} x {5}")
  @MethodSource("cases")
  void matchesTheReferencePaddedAndPacked(
      DType t, DType qkvType, int batch, int seq, int heads, int d) {
    int hidden = heads * d;
    int rows = batch * seq;
    long seed = 17L * seq + 5L * d + batch;
    boolean int8In = qkvType == DType.INT8;
    byte[] qkv8 = int8In ? Int8KernelGpuTest.int8Acc(rows * 3 * hidden, seed) : null;
    float[] qkvFloat = int8In ? null : asStored(random(rows * 3 * hidden, seed, -1.5, 1.5), t);
    float[] bias = asStored(random(3 * hidden, 3L * d + heads, -0.5, 0.5), t);
    int[] lengths = randomLengths(batch, seq, 13L * seq + batch);
    float scale = (float) (1 / Math.sqrt(d));
    float qStep = int8In ? 1.5f / 127 : 1f;
    float kStep = int8In ? 1.2f / 127 : 1f;
    float vStep = int8In ? 1f / 127 : 1f;
    double[] context = new double[rows * hidden];
    if (int8In) { // outAmax 127: scaled = the unquantized context itself
      context =
          Int8ReferenceKernels.attentionInt8(
                  qkv8, bias, lengths, batch, seq, heads, d, scale, qStep, kStep, vStep, 127f)
              .scaled();
    } else {
      float[] c = ReferenceKernels.attention(qkvFloat, bias, lengths, batch, seq, heads, d, scale);
      for (int i = 0; i < c.length; i++) {
        context[i] = c[i];
      }
    }
    double max = 0;
    for (double v : context) {
      max = Math.max(max, Math.abs(v));
    }
    float outAmax = (float) (0.9 * max);
    Quantized expected =
        Int8ReferenceKernels.quantizeRows(context, rows, hidden, null, false, outAmax);

    int[] offsets = new int[batch + 1];
    for (int b = 0; b < batch; b++) {
      offsets[b + 1] = offsets[b] + lengths[b];
    }
    try (DeviceBuffer in = int8In ? Int8GemmGpuTest.bytes(qkv8) : upload(qkvFloat, t);
        DeviceBuffer b = upload(bias, t);
        DeviceBuffer off = DeviceBuffer.of(offsets);
        DeviceBuffer out = Int8KernelGpuTest.int8Poisoned(rows * hidden)) {
      NativeApi.fusedAttentionInt8(
          t,
          qkvType,
          out,
          in,
          b,
          off,
          rows,
          batch,
          heads,
          d,
          seq,
          seq,
          scale,
          qStep,
          kStep,
          vStep,
          outAmax,
          STREAM.get());
      STREAM.get().synchronize();
      byte[] got = out.toByteArray(rows * hidden);
      assertNearReference(expected.scaled(), got, t, t + " " + qkvType + " padded attention");
      for (int bb = 0; bb < batch; bb++) {
        for (int i = lengths[bb]; i < seq; i++) {
          for (int c = 0; c < hidden; c++) {
            assertEquals(0, got[(bb * seq + i) * hidden + c], "padded query row");
          }
        }
      }
    }

    // The same sequences packed: rows offsets[b] + i.
    int tokens = offsets[batch];
    double[] packedScaled = GpuTesting.packRows(expected.scaled(), lengths, seq, hidden);
    try (DeviceBuffer in =
            int8In
                ? Int8GemmGpuTest.bytes(GpuTesting.packRows(qkv8, lengths, seq, 3 * hidden))
                : upload(GpuTesting.packRows(qkvFloat, lengths, seq, 3 * hidden), t);
        DeviceBuffer b = upload(bias, t);
        DeviceBuffer off = DeviceBuffer.of(offsets);
        DeviceBuffer out = Int8KernelGpuTest.int8Poisoned(tokens * hidden)) {
      NativeApi.fusedAttentionInt8(
          t,
          qkvType,
          out,
          in,
          b,
          off,
          tokens,
          batch,
          heads,
          d,
          0,
          seq,
          scale,
          qStep,
          kStep,
          vStep,
          outAmax,
          STREAM.get());
      STREAM.get().synchronize();
      assertNearReference(
          packedScaled,
          out.toByteArray(tokens * hidden),
          t,
          t + " " + qkvType + " packed attention");
    }
  }

  /** Every tiling a benchmark may force (see FusedAttentionGpuTest), both inputs. */
  @ParameterizedTest(name = "{0} warps x {1} m-tiles")
  @CsvSource({"4, 1", "8, 1", "4, 2", "8, 2"})
  void everyForcedTilingMatchesTheReference(int warps, int mTiles) {
    NativeApi.setFusedAttentionTiling(warps, mTiles);
    try {
      for (DType in : new DType[] {DType.INT8, DType.FP16}) {
        matchesTheReferencePaddedAndPacked(DType.FP16, in, 3, 130, 2, 64);
        matchesTheReferencePaddedAndPacked(DType.FP16, in, 5, 129, 3, 32);
      }
    } finally {
      NativeApi.setFusedAttentionTiling(0, 0);
    }
  }

  @Test
  void withoutBias() {
    int batch = 3;
    int seq = 70;
    int heads = 2;
    int d = 64;
    int hidden = heads * d;
    int rows = batch * seq;
    byte[] qkv = Int8KernelGpuTest.int8Acc(rows * 3 * hidden, 99);
    int[] lengths = {70, 33, 1};
    for (DType t : new DType[] {DType.FP16, DType.FP32}) {
      Quantized expected =
          Int8ReferenceKernels.attentionInt8(
              qkv, null, lengths, batch, seq, heads, d, 0.3, 0.01f, 0.02f, 0.005f, 0.5f);
      try (DeviceBuffer in = Int8GemmGpuTest.bytes(qkv);
          DeviceBuffer off = DeviceBuffer.of(new int[] {0, 70, 103, 104});
          DeviceBuffer out = Int8KernelGpuTest.int8Poisoned(rows * hidden)) {
        NativeApi.fusedAttentionInt8(
            t,
            DType.INT8,
            out,
            in,
            null,
            off,
            rows,
            batch,
            heads,
            d,
            seq,
            seq,
            0.3f,
            0.01f,
            0.02f,
            0.005f,
            0.5f,
            STREAM.get());
        STREAM.get().synchronize();
        assertNearReference(expected.scaled(), out.toByteArray(rows * hidden), t, t + " no bias");
      }
    }
  }

  @Test
  void pathsAndBadArguments() {
    int smMajor = CudaDevice.open(0).smMajor();
    assertEquals(
        smMajor >= 8 ? AttentionPath.TENSOR_CORES : AttentionPath.CUDA_CORES,
        NativeApi.fusedAttentionInt8Path(DType.FP16, DType.INT8, 12, 64));
    // FP16 Q/K/V in, int8 out: mma.sync (the warpgroup kernel writes FP16 only)
    assertEquals(
        smMajor >= 8 ? AttentionPath.TENSOR_CORES : AttentionPath.CUDA_CORES,
        NativeApi.fusedAttentionInt8Path(DType.FP16, DType.FP16, 12, 64));
    assertEquals(
        AttentionPath.CUDA_CORES, NativeApi.fusedAttentionInt8Path(DType.FP32, DType.INT8, 12, 64));
    assertEquals(
        AttentionPath.NONE, NativeApi.fusedAttentionInt8Path(DType.FP16, DType.INT8, 2, 257));
    assertThrows(
        IllegalArgumentException.class,
        () -> NativeApi.fusedAttentionInt8Path(DType.FP16, DType.FP32, 12, 64));
    try (DeviceBuffer qkv = DeviceBuffer.allocate(DType.INT8, 3 * 2 * 64);
        DeviceBuffer off = DeviceBuffer.of(new int[] {0, 1});
        DeviceBuffer out = DeviceBuffer.allocate(DType.INT8, 2 * 64)) {
      // rows, paddedSeq, kStep: one bad at a time
      java.util.function.BiFunction<int[], Float, IllegalArgumentException> bad =
          (shape, kStep) ->
              assertThrows(
                  IllegalArgumentException.class,
                  () ->
                      NativeApi.fusedAttentionInt8(
                          DType.FP16,
                          DType.INT8,
                          out,
                          qkv,
                          null,
                          off,
                          shape[0],
                          1,
                          2,
                          64,
                          shape[1],
                          1,
                          0.1f,
                          0.01f,
                          kStep,
                          0.01f,
                          1f,
                          STREAM.get()));
      IllegalArgumentException step = bad.apply(new int[] {1, 1}, 0f);
      assertTrue(step.getMessage().contains("kStep"), step.getMessage());
      IllegalArgumentException small = bad.apply(new int[] {2, 0}, 0.01f);
      assertTrue(small.getMessage().contains("qkv"), small.getMessage());
    }
  }

  /** Every value within the tolerance of the class comment, and enough of them exact. */
  private static void assertNearReference(double[] scaled, byte[] got, DType t, String what) {
    assertEquals(scaled.length, got.length, what + ": length");
    double slack = 0.5 + (t == DType.FP32 ? 0.02 : 0.35);
    int exact = 0;
    for (int i = 0; i < got.length; i++) {
      double want = Math.max(-127, Math.min(127, scaled[i]));
      int g = got[i];
      final int at = i;
      assertTrue(
          Math.abs(g - want) <= slack,
          () -> what + ": int8 at " + at + " = " + g + ", reference unrounded " + scaled[at]);
      if (g == (int) Math.rint(want)) {
        exact++;
      }
    }
    double share = exact / (double) got.length;
    assertTrue(
        share >= (t == DType.FP32 ? 0.999 : 0.8),
        what + ": only " + share + " of the values equal the reference exactly");
  }
}
