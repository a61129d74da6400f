package org.ft4j.encoder;

import static org.ft4j.testing.GpuTesting.asStored;
import static org.ft4j.testing.GpuTesting.assertClose;
import static org.ft4j.testing.GpuTesting.download;
import static org.ft4j.testing.GpuTesting.poisoned;
import static org.ft4j.testing.GpuTesting.random;
import static org.ft4j.testing.GpuTesting.upload;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.stream.Stream;
import org.ft4j.cuda.CudaStream;
import org.ft4j.cuda.DType;
import org.ft4j.cuda.DeviceBuffer;
import org.ft4j.nativeapi.NativeApi;
import org.ft4j.testing.GpuTesting;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Padding removal: the gather/scatter kernels (exact copies, zeros at padding), and the encoder
 * with padding removed against the padded encoder (same fused attention) on valid positions, with
 * exact zeros at padded positions; the ragged API against the padded API.
 */
@Tag(GpuTesting.GPU)
class PaddingRemovalGpuTest {

  @BeforeAll
  static void requireDevice() {
    GpuTesting.assumeCudaDevice();
  }

  static int[] lengths(String kind, int batch, int seq) {
    int[] l = new int[batch];
    switch (kind) {
      case "ones" -> Arrays.fill(l, 1);
      case "full" -> Arrays.fill(l, seq);
      default -> {
        l = GpuTesting.randomLengths(batch, seq, 3L * batch + seq);
      }
    }
    return l;
  }

  @Test
  void removeAndRestoreAreExactCopies() {
    int hidden = 40;
    try (CudaStream stream = CudaStream.create()) {
      for (String kind : new String[] {"ones", "full", "mixed"}) {
        for (int[] bs : new int[][] {{1, 9}, {5, 17}, {32, 128}}) {
          int batch = bs[0];
          int seq = bs[1];
          int[] len = lengths(kind, batch, seq);
          int tokens = Arrays.stream(len).sum();
          for (DType t : new DType[] {DType.FP32, DType.FP16}) {
            float[] padded = asStored(random(batch * seq * hidden, batch + seq, -2, 2), t);
            float[] packed = new float[tokens * hidden];
            float[] restored = new float[batch * seq * hidden];
            int at = 0;
            for (int b = 0; b < batch; b++) {
              System.arraycopy(padded, b * seq * hidden, packed, at * hidden, len[b] * hidden);
              System.arraycopy(
                  padded, b * seq * hidden, restored, b * seq * hidden, len[b] * hidden);
              at += len[b];
            }
            try (DeviceBuffer in = upload(padded, t);
                DeviceBuffer l = DeviceBuffer.of(len);
                DeviceBuffer off = DeviceBuffer.allocate(DType.INT32, batch + 1L);
                DeviceBuffer p = poisoned(t, (long) tokens * hidden);
                DeviceBuffer back = poisoned(t, (long) batch * seq * hidden)) {
              NativeApi.lengthsToOffsets(l, batch, off, stream);
              NativeApi.removePadding(t, p, in, off, batch, seq, hidden, tokens, stream);
              NativeApi.restorePadding(t, back, p, off, batch, seq, hidden, tokens, stream);
              stream.synchronize();
              String what = t + " " + kind + " batch " + batch + " seq " + seq;
              assertArrayEquals(packed, download(p, t, tokens * hidden), "packed " + what);
              assertArrayEquals(
                  restored, download(back, t, batch * seq * hidden), "restored " + what);
            }
          }
        }
      }
    }
  }

  static Stream<Arguments> encoderCases() {
    return Stream.of(Precision.FP32, Precision.FP16)
        .flatMap(
            p ->
                Stream.of("ones", "full", "mixed")
                    .flatMap(
                        k ->
                            Stream.of(
                                Arguments.of(p, k, 1, 17),
                                Arguments.of(p, k, 7, 33),
                                Arguments.of(p, k, 32, 128))));
  }

  @ParameterizedTest(name = "{0} lengths {1} batch {2} seq {3}")
  @MethodSource("encoderCases")
  void removedEqualsPaddedOnValidPositionsAndRaggedEqualsPadded(
      Precision p, String kind, int batch, int seq) {
    EncoderConfig config = EncoderConfig.of(2, 12, 64, p);
    int hidden = config.hidden();
    EncoderWeights weights = EncoderWeights.random(config, 31);
    float[] input = random(batch * seq * hidden, 11L * seq + batch, -1, 1);
    int[] len = lengths(kind, batch, seq);
    BertEncoder.Options fused =
        BertEncoder.Options.defaults().withAttention(BertEncoder.Attention.FUSED);
    try (BertEncoder padded = BertEncoder.create(weights, fused);
        BertEncoder removed = BertEncoder.create(weights, fused.withRemovePadding(true))) {
      float[] expected = padded.forward(input, len, batch, seq);
      float[] actual = removed.forward(input, len, batch, seq);
      double tol = p == Precision.FP32 ? 1e-6 : 2e-3;
      assertClose(expected, actual, tol, p + " removed vs padded");
      for (int b = 0; b < batch; b++) {
        for (int s = len[b]; s < seq; s++) {
          for (int h = 0; h < hidden; h++) {
            assertEquals(0f, actual[(b * seq + s) * hidden + h], "padded position " + b + "," + s);
          }
        }
      }
      // ragged API: the valid rows of the padded input, back to back
      int tokens = Arrays.stream(len).sum();
      float[] packedIn = new float[tokens * hidden];
      float[] packedExpected = new float[tokens * hidden];
      int at = 0;
      for (int b = 0; b < batch; b++) {
        System.arraycopy(input, b * seq * hidden, packedIn, at * hidden, len[b] * hidden);
        System.arraycopy(expected, b * seq * hidden, packedExpected, at * hidden, len[b] * hidden);
        at += len[b];
      }
      assertClose(packedExpected, removed.forwardPacked(packedIn, len), tol, p + " ragged");
    }
  }

  @Test
  void graphsFollowChangingTokenCountsAndTheDeviceApisAgree() {
    EncoderConfig config = EncoderConfig.of(2, 12, 64, Precision.FP16);
    int hidden = config.hidden();
    EncoderWeights weights = EncoderWeights.random(config, 5);
    int batch = 8;
    int seq = 64;
    try (BertEncoder graphs =
            BertEncoder.create(weights, BertEncoder.Options.defaults().withRemovePadding(true));
        BertEncoder eager =
            BertEncoder.create(
                weights,
                BertEncoder.Options.defaults().withRemovePadding(true).withCudaGraphs(false))) {
      for (int round = 0; round < 4; round++) {
        float[] input = random(batch * seq * hidden, round, -1, 1);
        int[] len = GpuTesting.randomLengths(batch, seq, 100 + round);
        assertArrayEquals(
            eager.forward(input, len, batch, seq),
            graphs.forward(input, len, batch, seq),
            "round " + round);
      }
      float[] input = random(batch * seq * hidden, 9, -1, 1);
      int[] len = GpuTesting.randomLengths(batch, seq, 9);
      float[] host = graphs.forward(input, len, batch, seq);
      try (DeviceBuffer in = upload(input, DType.FP16);
          DeviceBuffer out = poisoned(DType.FP16, (long) batch * seq * hidden)) {
        graphs.forward(in, len, batch, seq, out);
        assertArrayEquals(host, download(out, DType.FP16, batch * seq * hidden), "device API");
      }
    }
  }

  @Test
  void raggedInputIsCheckedBeforeAnyNativeCall() {
    EncoderConfig config = EncoderConfig.of(1, 2, 32, Precision.FP32);
    try (BertEncoder unfused = BertEncoder.create(EncoderWeights.random(config, 1));
        BertEncoder removed =
            BertEncoder.create(
                EncoderWeights.random(config, 1),
                BertEncoder.Options.defaults().withRemovePadding(true))) {
      UnsupportedOperationException e =
          assertThrows(
              UnsupportedOperationException.class,
              () -> unfused.forwardPacked(new float[64], new int[] {1}));
      assertTrue(e.getMessage().contains("withRemovePadding(true)"), e.getMessage());
      IllegalArgumentException bad =
          assertThrows(
              IllegalArgumentException.class,
              () -> removed.forwardPacked(new float[64 * 3], new int[] {2, 2}));
      assertTrue(bad.getMessage().contains("sum(lengths) * hidden = 4 * 64"), bad.getMessage());
      IllegalArgumentException zero =
          assertThrows(
              IllegalArgumentException.class,
              () -> removed.forwardPacked(new float[64], new int[] {1, 0}));
      assertTrue(zero.getMessage().contains("lengths[1] = 0"), zero.getMessage());
    }
  }
}
