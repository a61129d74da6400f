package org.ft4j.encoder;

import static org.ft4j.testing.GpuTesting.assertClose;
import static org.ft4j.testing.GpuTesting.download;
import static org.ft4j.testing.GpuTesting.random;
import static org.ft4j.testing.GpuTesting.randomLengths;
import static org.ft4j.testing.GpuTesting.upload;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.stream.Stream;
import org.ft4j.cuda.DType;
import org.ft4j.cuda.DeviceBuffer;
import org.ft4j.reference.ReferenceEncoder;
import org.ft4j.testing.GpuTesting;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The whole encoder on the GPU against the float64 CPU reference: random weights, random lengths
 * (one full, one of length 1), FP32 relative L2 <= 1e-5 and FP16 <= 2e-3, padded positions exactly
 * zero.
 */
@Tag(GpuTesting.GPU)
class BertEncoderGpuTest {

  @BeforeAll
  static void requireDevice() {
    GpuTesting.assumeCudaDevice();
  }

  static Stream<Arguments> cases() {
    // layers, heads, sizePerHead, batch, seq
    int[][] shapes = {
      {2, 12, 64, 3, 17},
      {2, 16, 64, 1, 384},
      {2, 12, 32, 32, 128},
      {2, 8, 96, 3, 1},
      {1, 12, 64, 32, 128},
      {2, 12, 64, 1, 1},
      {1, 8, 96, 3, 384},
    };
    return Stream.of(Precision.FP32, Precision.FP16)
        .flatMap(p -> Stream.of(shapes).map(s -> Arguments.of(p, s[0], s[1], s[2], s[3], s[4])));
  }

  @ParameterizedTest(name = "{0} layers {1} heads {2}x{3} batch {4} seq {5}")
  @MethodSource("cases")
  void matchesTheReference(Precision p, int layers, int heads, int d, int batch, int seq) {
    EncoderConfig config = EncoderConfig.of(layers, heads, d, p);
    EncoderWeights weights = EncoderWeights.random(config, 1000L * heads + d);
    float[] input = random(batch * seq * config.hidden(), 7L * seq + batch, -1, 1);
    int[] lengths = randomLengths(batch, seq, batch + seq);
    float[] expected = referenceOutput(weights, input, lengths, batch, seq, p);
    try (BertEncoder encoder = BertEncoder.create(weights)) {
      float[] actual = encoder.forward(input, lengths, batch, seq);
      assertClose(expected, actual, p == Precision.FP32 ? 1e-5 : 2e-3, p + " encoder");
      assertZeroPadding(actual, lengths, seq, config.hidden());
    }
  }

  /** The reference sees the input as the device stores it (FP16 rounds the input once). */
  private static float[] referenceOutput(
      EncoderWeights w, float[] input, int[] lengths, int batch, int seq, Precision p) {
    float[] in = GpuTesting.asStored(input, p == Precision.FP32 ? DType.FP32 : DType.FP16);
    try (ReferenceEncoder ref = new ReferenceEncoder(w)) {
      return ref.forward(in, lengths, batch, seq);
    }
  }

  private static void assertZeroPadding(float[] out, int[] lengths, int seq, int hidden) {
    for (int b = 0; b < lengths.length; b++) {
      for (int s = lengths[b]; s < seq; s++) {
        for (int h = 0; h < hidden; h++) {
          assertEquals(0f, out[(b * seq + s) * hidden + h], "padded position b=" + b + " s=" + s);
        }
      }
    }
  }

  @ParameterizedTest(name = "{0} heads {1} x {2} batch {3} seq {4}")
  @MethodSource("unfusedCases")
  void unfusedAttentionMatchesTheReferenceToo(Precision p, int heads, int d, int batch, int seq) {
    EncoderConfig config = EncoderConfig.of(2, heads, d, p);
    EncoderWeights weights = EncoderWeights.random(config, 77L + d);
    float[] input = random(batch * seq * config.hidden(), 5L * seq + batch, -1, 1);
    int[] lengths = randomLengths(batch, seq, batch + 3L * seq);
    float[] expected = referenceOutput(weights, input, lengths, batch, seq, p);
    try (BertEncoder encoder =
        BertEncoder.create(
            weights, BertEncoder.Options.defaults().withAttention(BertEncoder.Attention.UNFUSED))) {
      assertTrue(!encoder.usesFusedAttention());
      float[] actual = encoder.forward(input, lengths, batch, seq);
      assertClose(expected, actual, p == Precision.FP32 ? 1e-5 : 2e-3, p + " unfused encoder");
      assertZeroPadding(actual, lengths, seq, config.hidden());
    }
  }

  static Stream<Arguments> unfusedCases() {
    return Stream.of(Precision.FP32, Precision.FP16)
        .flatMap(
            p ->
                Stream.of(
                    Arguments.of(p, 12, 64, 3, 17),
                    Arguments.of(p, 8, 96, 32, 128),
                    Arguments.of(p, 16, 64, 1, 384)));
  }

  /**
   * With the GELU epilogue the FFN1 GEMM applies cuBLASLt's tanh GELU: the output matches the
   * reference with the tanh GELU at the usual tolerances, and in FP32 it is clearly nearer to that
   * reference than to the erf one (so the epilogue did run, and the GELU kernel did not run too).
   */
  @ParameterizedTest(name = "{0} batch {1} seq {2} padding removed {3}")
  @MethodSource("geluEpilogueCases")
  void geluEpilogueMatchesTheTanhReference(Precision p, int batch, int seq, boolean removePadding) {
    EncoderConfig config = EncoderConfig.of(2, 12, 64, p);
    EncoderWeights weights = EncoderWeights.random(config, 4242L + seq);
    float[] input = random(batch * seq * config.hidden(), 3L * seq + batch, -1, 1);
    int[] lengths = randomLengths(batch, seq, 11L * batch + seq);
    float[] in = GpuTesting.asStored(input, p == Precision.FP32 ? DType.FP32 : DType.FP16);
    float[] tanh;
    float[] erf;
    try (ReferenceEncoder ref = new ReferenceEncoder(weights)) {
      erf = ref.forward(in, lengths, batch, seq);
      tanh = ref.withTanhGelu().forward(in, lengths, batch, seq);
    }
    BertEncoder.Options options =
        BertEncoder.Options.defaults().withGeluEpilogue(true).withRemovePadding(removePadding);
    try (BertEncoder encoder = BertEncoder.create(weights, options)) {
      float[] actual = encoder.forward(input, lengths, batch, seq);
      assertClose(tanh, actual, p == Precision.FP32 ? 1e-5 : 2e-3, p + " GELU epilogue encoder");
      assertZeroPadding(actual, lengths, seq, config.hidden());
      if (p == Precision.FP32) {
        double toTanh = GpuTesting.relativeL2(tanh, actual);
        double toErf = GpuTesting.relativeL2(erf, actual);
        assertTrue(
            toTanh < 0.5 * toErf,
            "FP32 with the GELU epilogue: rel L2 " + toTanh + " to tanh, " + toErf + " to erf");
      }
    }
  }

  static Stream<Arguments> geluEpilogueCases() {
    return Stream.of(Precision.FP32, Precision.FP16)
        .flatMap(
            p ->
                Stream.of(
                    Arguments.of(p, 3, 17, false),
                    Arguments.of(p, 8, 128, true),
                    Arguments.of(p, 1, 1, false)));
  }

  /** The host-side cost is recorded by each device-API forward (encoder_sample prints it). */
  @Test
  void deviceForwardRecordsItsHostSideCost() {
    EncoderConfig config = EncoderConfig.of(1, 2, 32, Precision.FP16);
    try (BertEncoder encoder = BertEncoder.create(EncoderWeights.random(config, 3));
        org.ft4j.cuda.DeviceBuffer x =
            org.ft4j.cuda.DeviceBuffer.allocate(org.ft4j.cuda.DType.FP16, 2L * 8 * 64)) {
      x.fillBytes(0);
      assertEquals(0, encoder.lastEnqueueNanos());
      encoder.forward(x, new int[] {8, 3}, 2, 8, x);
      assertTrue(encoder.lastEnqueueNanos() > 0, encoder.lastEnqueueNanos() + " ns");
    }
  }

  @Test
  void fusedAttentionIsTheFp16DefaultOnTensorCoreGpus() {
    EncoderConfig config = EncoderConfig.of(1, 12, 64, Precision.FP16);
    try (BertEncoder encoder = BertEncoder.create(EncoderWeights.random(config, 1))) {
      assertEquals(encoder.device().smMajor() >= 8, encoder.usesFusedAttention());
    }
  }

  @ParameterizedTest(name = "{0} heads {1} x {2} batch {3} seq {4}")
  @MethodSource("unfusedCases")
  void forcedFusedAttentionMatchesTheReference(Precision p, int heads, int d, int batch, int seq) {
    // FP32 runs the fused kernel's CUDA-core path here (AUTO would pick the unfused path)
    EncoderConfig config = EncoderConfig.of(2, heads, d, p);
    EncoderWeights weights = EncoderWeights.random(config, 99L + d);
    float[] input = random(batch * seq * config.hidden(), 9L * seq + batch, -1, 1);
    int[] lengths = randomLengths(batch, seq, batch + 5L * seq);
    float[] expected = referenceOutput(weights, input, lengths, batch, seq, p);
    try (BertEncoder encoder =
        BertEncoder.create(
            weights, BertEncoder.Options.defaults().withAttention(BertEncoder.Attention.FUSED))) {
      assertTrue(encoder.usesFusedAttention());
      float[] actual = encoder.forward(input, lengths, batch, seq);
      assertClose(expected, actual, p == Precision.FP32 ? 1e-5 : 2e-3, p + " fused encoder");
      assertZeroPadding(actual, lengths, seq, config.hidden());
    }
  }

  @Test
  void garbageInPaddedInputRowsDoesNotReachValidOutputs() {
    for (Precision p : Precision.values()) {
      if (p != Precision.FP32 && p != Precision.FP16) {
        continue;
      }
      EncoderConfig config = EncoderConfig.of(2, 12, 64, p);
      EncoderWeights weights = EncoderWeights.random(config, 21);
      int batch = 3;
      int seq = 17;
      int hidden = config.hidden();
      int[] lengths = {17, 4, 9};
      float[] clean = random(batch * seq * hidden, 8, -1, 1);
      float[] dirty = clean.clone();
      float[] garbage = {Float.NaN, Float.POSITIVE_INFINITY, 1e30f, -7e4f};
      for (int b = 0; b < batch; b++) {
        for (int s = lengths[b]; s < seq; s++) {
          for (int h = 0; h < hidden; h++) {
            clean[(b * seq + s) * hidden + h] = 0f;
            dirty[(b * seq + s) * hidden + h] = garbage[(s + h) % garbage.length];
          }
        }
      }
      float[] expected = referenceOutput(weights, clean, lengths, batch, seq, p);
      try (BertEncoder encoder = BertEncoder.create(weights)) {
        float[] actual = encoder.forward(dirty, lengths, batch, seq);
        assertClose(expected, actual, p == Precision.FP32 ? 1e-5 : 2e-3, p + " dirty padding");
        assertZeroPadding(actual, lengths, seq, hidden);
      }
    }
  }

  @Test
  void graphReplayEqualsEagerLaunchesAndShapesCanChange() {
    EncoderConfig config = EncoderConfig.of(2, 12, 64, Precision.FP16);
    EncoderWeights weights = EncoderWeights.random(config, 3);
    int[][] shapes = {{3, 17}, {32, 128}, {3, 17}, {1, 384}, {3, 17}};
    try (BertEncoder graphs = BertEncoder.create(weights, BertEncoder.Options.defaults());
        BertEncoder eager =
            BertEncoder.create(weights, BertEncoder.Options.defaults().withCudaGraphs(false))) {
      java.util.Set<String> seen = new java.util.HashSet<>();
      for (int[] s : shapes) {
        float[] input = random(s[0] * s[1] * 768, s[0] + s[1], -1, 1);
        int[] lengths = randomLengths(s[0], s[1], s[1]);
        float[] a = graphs.forward(input, lengths, s[0], s[1]);
        // a shape's first forward runs eagerly, its graph is captured on the second
        boolean again = !seen.add(s[0] + "x" + s[1]);
        assertEquals(again, graphs.lastReplayedGraph(), "graph replay at " + s[0] + "x" + s[1]);
        float[] b = eager.forward(input, lengths, s[0], s[1]);
        assertArrayEquals(b, a, "graph vs eager at batch " + s[0] + " seq " + s[1]);
        // a replay with other lengths must use them (lengths are not baked into the graph)
        int[] other = randomLengths(s[0], s[1], s[1] + 1);
        float[] replayed = graphs.forward(input, other, s[0], s[1]);
        assertTrue(graphs.lastReplayedGraph(), "no graph replay at " + s[0] + "x" + s[1]);
        assertArrayEquals(eager.forward(input, other, s[0], s[1]), replayed);
        assertFalse(eager.lastReplayedGraph());
      }
    }
  }

  @Test
  void deviceApiWritesEveryOutputValue() {
    EncoderConfig config = EncoderConfig.of(2, 8, 96, Precision.FP16);
    EncoderWeights weights = EncoderWeights.random(config, 9);
    int batch = 3;
    int seq = 17;
    int n = batch * seq * config.hidden();
    float[] input = random(n, 4, -1, 1);
    int[] lengths = randomLengths(batch, seq, 5);
    try (BertEncoder encoder = BertEncoder.create(weights);
        DeviceBuffer in = upload(input, DType.FP16);
        DeviceBuffer out = GpuTesting.poisoned(DType.FP16, n)) {
      float[] host = encoder.forward(input, lengths, batch, seq);
      encoder.forward(in, lengths, batch, seq, out);
      float[] device = download(out, DType.FP16, n);
      // the host API rounds the FP32 input to FP16 on the device: same values, same output
      assertArrayEquals(host, device);
    }
  }

  @Test
  void rejectsBadInputBeforeAnyNativeCallAndAfterClose() {
    EncoderConfig config = EncoderConfig.of(1, 2, 32, Precision.FP32);
    BertEncoder encoder = BertEncoder.create(EncoderWeights.random(config, 1));
    float[] x = new float[2 * 4 * 64];
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class, () -> encoder.forward(x, new int[] {4, 5}, 2, 4));
    assertTrue(e.getMessage().contains("lengths[1] = 5"), e.getMessage());
    assertThrows(
        IllegalArgumentException.class,
        () -> encoder.forward(new float[3], new int[] {4, 4}, 2, 4));
    encoder.close();
    encoder.close(); // idempotent
    assertThrows(IllegalStateException.class, () -> encoder.forward(x, new int[] {4, 4}, 2, 4));
  }
}
