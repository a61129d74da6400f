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
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.stream.Stream;
import org.ft4j.cuda.CudaDevice;
import org.ft4j.cuda.DType;
import org.ft4j.cuda.DeviceBuffer;
import org.ft4j.nativeapi.NativeApi.AttentionPath;
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
 * The fused attention kernel against the float64 reference ({@link ReferenceKernels#attention}) on
 * fresh random data with outputs poisoned (NaN) before each launch: padded batches (padded query
 * rows must come out as exact zeros) and packed token streams (rows from the offsets), mixed
 * lengths (always one full and one of length 1), every head size, both paths.
 */
@Tag(GpuTesting.GPU)
class FusedAttentionGpuTest {
  @RegisterExtension static final GpuStream STREAM = new GpuStream();

  static Stream<Arguments> cases() {
    List<Arguments> list = new ArrayList<>();
    for (DType t : new DType[] {DType.FP16, DType.FP32}) {
      // batch, seq, heads, size_per_head
      int[][] shapes = {
        {1, 1, 12, 64},
        {32, 7, 3, 64},
        {32, 64, 2, 64},
        {32, 127, 2, 64},
        {32, 128, 3, 64},
        {3, 384, 2, 64},
        {2, 1000, 2, 64},
        {1, 4096, 2, 64},
        {32, 128, 2, 16},
        {32, 128, 2, 32},
        {5, 127, 3, 96},
        {32, 128, 2, 128},
        {2, 384, 2, 128},
        {3, 65, 2, 256},
        {3, 33, 3, 40}, // CUDA-core path for FP16 too
      };
      for (int[] s : shapes) {
        list.add(Arguments.of(t, s[0], s[1], s[2], s[3]));
      }
    }
    return list.stream();
  }

  @ParameterizedTest(name = "{0} batch {1} seq {2} heads {3} x {4}")
  @MethodSource("cases")
  void matchesTheReferencePaddedAndPacked(DType t, int batch, int seq, int heads, int d) {
    int hidden = heads * d;
    int rows = batch * seq;
    float[] qkv = asStored(random(rows * 3 * hidden, 31L * seq + 7L * d + batch, -1.5, 1.5), t);
    float[] bias = asStored(random(3 * hidden, 5L * d + heads, -0.5, 0.5), t);
    int[] lengths = randomLengths(batch, seq, 11L * seq + batch);
    float scale = (float) (1 / Math.sqrt(d));
    float[] expected = ReferenceKernels.attention(qkv, bias, lengths, batch, seq, heads, d, scale);
    double tol = t == DType.FP32 ? 1e-5 : 2e-3;

    int[] offsets = new int[batch + 1];
    for (int b = 0; b < batch; b++) {
      offsets[b + 1] = offsets[b] + lengths[b];
    }
    try (DeviceBuffer in = upload(qkv, t);
        DeviceBuffer b = upload(bias, t);
        DeviceBuffer len = DeviceBuffer.of(lengths);
        DeviceBuffer off = poisonedInts(batch + 1);
        DeviceBuffer out = poisoned(t, (long) rows * hidden)) {
      NativeApi.lengthsToOffsets(len, batch, off, STREAM.get());
      NativeApi.fusedAttention(
          t, out, in, b, off, rows, batch, heads, d, seq, seq, scale, STREAM.get());
      STREAM.get().synchronize();
      assertArrayEquals(offsets, intsOf(off, batch + 1), "offsets");
      float[] actual = download(out, t, rows * hidden);
      assertClose(expected, actual, tol, t + " padded attention");
      for (int bb = 0; bb < batch; bb++) {
        for (int i = lengths[bb]; i < seq; i++) {
          for (int c = 0; c < hidden; c++) {
            assertEquals(0f, actual[(bb * seq + i) * hidden + c], "padded query row");
          }
        }
      }
    }

    // The same sequences as a packed token STREAM.get(): rows offsets[b] + i.
    int tokens = offsets[batch];
    float[] packedQkv = GpuTesting.packRows(qkv, lengths, seq, 3 * hidden);
    float[] packedExpected = GpuTesting.packRows(expected, lengths, seq, hidden);
    try (DeviceBuffer in = upload(packedQkv, t);
        DeviceBuffer b = upload(bias, t);
        DeviceBuffer off = DeviceBuffer.of(offsets);
        DeviceBuffer out = poisoned(t, (long) tokens * hidden)) {
      NativeApi.fusedAttention(
          t, out, in, b, off, tokens, batch, heads, d, 0, seq, scale, STREAM.get());
      STREAM.get().synchronize();
      assertClose(packedExpected, download(out, t, tokens * hidden), tol, t + " packed attention");
    }
  }

  /**
   * Every tiling of the tensor-core path a benchmark may force (4 or 8 warps, 1 or 2 m16 tiles per
   * warp; 2 only changes head sizes up to 64) against the reference (the int8 variants: {@link
   * Int8AttentionGpuTest}).
   */
  @ParameterizedTest(name = "{0} warps x {1} m-tiles")
  @CsvSource({"4, 1", "8, 1", "4, 2", "8, 2"})
  void everyForcedTilingMatchesTheReference(int warps, int mTiles) {
    int[][] shapes = {{32, 127, 2, 64}, {3, 384, 2, 64}, {5, 129, 3, 32}, {2, 300, 2, 16}};
    NativeApi.setFusedAttentionTiling(warps, mTiles);
    try {
      for (int[] s : shapes) {
        matchesTheReferencePaddedAndPacked(DType.FP16, s[0], s[1], s[2], s[3]);
      }
      matchesTheReferencePaddedAndPacked(DType.FP16, 2, 200, 2, 128); // m-tiles 2: ignored
    } finally {
      NativeApi.setFusedAttentionTiling(0, 0);
    }
  }

  /**
   * Every tiling of the warpgroup-MMA path (sm_90 with a library built for sm_90a; skipped
   * elsewhere): 1 or 2 warpgroups per block, 64 or 128 keys per step, head sizes 64 and 128,
   * lengths that leave partial tiles and refill every K/V stage. Where it does not apply (head size
   * 32) the forced setting falls back to the mma.sync path.
   */
  @ParameterizedTest(name = "{0} warpgroups x {1} keys")
  @CsvSource({"1, 64", "2, 64", "1, 128", "2, 128"})
  void everyWarpgroupTilingMatchesTheReference(int warpgroups, int keys) {
    NativeApi.setFusedAttentionWgmma(warpgroups, keys);
    try {
      assumeTrue(
          NativeApi.fusedAttentionPath(DType.FP16, 2, 64) == AttentionPath.WARPGROUP_TENSOR_CORES,
          "the warpgroup path needs an sm_90 GPU and a library built with sm_90a");
      assertEquals(AttentionPath.TENSOR_CORES, NativeApi.fusedAttentionPath(DType.FP16, 2, 32));
      assertEquals(AttentionPath.CUDA_CORES, NativeApi.fusedAttentionPath(DType.FP32, 2, 64));
      int[][] shapes = {{32, 127, 2, 64}, {3, 384, 2, 64}, {2, 200, 2, 128}, {5, 129, 1, 128}};
      for (int[] sh : shapes) {
        matchesTheReferencePaddedAndPacked(DType.FP16, sh[0], sh[1], sh[2], sh[3]);
      }
    } finally {
      NativeApi.setFusedAttentionWgmma(0, 0);
    }
  }

  @Test
  void warpgroupSettingsOutsideTheirRangesAreRefused() {
    for (int[] bad : new int[][] {{3, 0}, {-2, 0}, {1, 32}, {2, -1}}) {
      assertThrows(
          IllegalArgumentException.class,
          () -> NativeApi.setFusedAttentionWgmma(bad[0], bad[1]),
          bad[0] + "/" + bad[1]);
    }
  }

  @Test
  void withoutBiasAndWithAnotherScale() {
    int batch = 3;
    int seq = 70;
    int heads = 2;
    int d = 64;
    int hidden = heads * d;
    for (DType t : new DType[] {DType.FP16, DType.FP32}) {
      float[] qkv = asStored(random(batch * seq * 3 * hidden, 77, -1, 1), t);
      int[] lengths = {70, 33, 1};
      float scale = 0.3f;
      float[] expected =
          ReferenceKernels.attention(qkv, null, lengths, batch, seq, heads, d, scale);
      try (DeviceBuffer in = upload(qkv, t);
          DeviceBuffer off = DeviceBuffer.of(new int[] {0, 70, 103, 104});
          DeviceBuffer out = poisoned(t, (long) batch * seq * hidden)) {
        NativeApi.fusedAttention(
            t, out, in, null, off, batch * seq, batch, heads, d, seq, seq, scale, STREAM.get());
        STREAM.get().synchronize();
        assertClose(
            expected,
            download(out, t, batch * seq * hidden),
            t == DType.FP32 ? 1e-5 : 2e-3,
            t + " no bias");
      }
    }
  }

  @Test
  void lengthsToOffsetsScansAnyBatch() {
    for (int batch : new int[] {1, 5, 1024, 1025, 3000}) {
      SplittableRandom r = new SplittableRandom(batch);
      int[] lengths = new int[batch];
      int[] expected = new int[batch + 1];
      for (int b = 0; b < batch; b++) {
        lengths[b] = 1 + r.nextInt(512);
        expected[b + 1] = expected[b] + lengths[b];
      }
      try (DeviceBuffer len = DeviceBuffer.of(lengths);
          DeviceBuffer off = poisonedInts(batch + 1)) {
        NativeApi.lengthsToOffsets(len, batch, off, STREAM.get());
        STREAM.get().synchronize();
        assertArrayEquals(expected, intsOf(off, batch + 1), "batch " + batch);
      }
    }
  }

  @Test
  void pathsAndUnsupportedHeadSizes() {
    int smMajor = CudaDevice.open(0).smMajor();
    AttentionPath fp16 = NativeApi.fusedAttentionPath(DType.FP16, 12, 64);
    // mma.sync, or on sm_90 the warpgroup MMAs (unless FT4J_ATTENTION_WGMMA=0)
    assertEquals(smMajor >= 8, fp16.tensorCores(), fp16.toString());
    assertEquals(AttentionPath.CUDA_CORES, NativeApi.fusedAttentionPath(DType.FP32, 12, 64));
    assertEquals(AttentionPath.CUDA_CORES, NativeApi.fusedAttentionPath(DType.FP16, 12, 40));
    assertEquals(AttentionPath.NONE, NativeApi.fusedAttentionPath(DType.FP16, 2, 257));
    try (DeviceBuffer qkv = DeviceBuffer.allocate(DType.FP16, 3 * 2 * 257);
        DeviceBuffer off = DeviceBuffer.of(new int[] {0, 1});
        DeviceBuffer out = DeviceBuffer.allocate(DType.FP16, 2 * 257)) {
      UnsupportedOperationException e =
          assertThrows(
              UnsupportedOperationException.class,
              () ->
                  NativeApi.fusedAttention(
                      DType.FP16, out, qkv, null, off, 1, 1, 2, 257, 1, 1, 0.1f, STREAM.get()));
      assertTrue(e.getMessage().contains("size_per_head = 257"), e.getMessage());
      assertTrue(e.getMessage().contains("1..256"), e.getMessage());
      IllegalArgumentException bad =
          assertThrows(
              IllegalArgumentException.class,
              () ->
                  NativeApi.fusedAttention(
                      DType.FP16, out, qkv, null, off, 2, 1, 2, 257, 0, 1, 0.1f, STREAM.get()));
      assertTrue(bad.getMessage().contains("qkv"), bad.getMessage());
    }
  }

  private static DeviceBuffer poisonedInts(int n) {
    DeviceBuffer b = DeviceBuffer.allocate(DType.INT32, n);
    b.fillBytes(0xFF);
    return b;
  }

  private static int[] intsOf(DeviceBuffer b, int n) {
    float[] bits = b.toFloatArray(n);
    int[] out = new int[n];
    for (int i = 0; i < n; i++) {
      out[i] = Float.floatToRawIntBits(bits[i]);
    }
    return out;
  }
}
