package org.ft4j.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.SplittableRandom;
import org.ft4j.encoder.EncoderConfig;
import org.ft4j.encoder.EncoderWeights;
import org.ft4j.encoder.Precision;
import org.ft4j.reference.ReferenceEncoder;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** The float32 CPU encoder against the float64 reference encoder on random models. */
class CpuEncoderTest {
  /** Input [batch, seq, hidden] with NaN at padded positions (which must never be read). */
  static float[] input(EncoderConfig c, int[] lengths, int seq, long seed) {
    SplittableRandom r = new SplittableRandom(seed);
    int hidden = c.hidden();
    float[] x = new float[lengths.length * seq * hidden];
    for (int b = 0; b < lengths.length; b++) {
      for (int t = 0; t < seq; t++) {
        for (int i = 0; i < hidden; i++) {
          x[(b * seq + t) * hidden + i] =
              t < lengths[b] ? (float) (r.nextDouble() * 2 - 1) : Float.NaN;
        }
      }
    }
    return x;
  }

  @ParameterizedTest(name = "{0} layers, {1} heads x {2}, batch {3} x seq {4}, {5}")
  @CsvSource({
    "2, 4, 16, 3, 9, vector",
    "2, 3, 20, 4, 70, vector",
    "1, 2, 64, 2, 300, vector",
    "2, 12, 32, 5, 40, vector",
    "1, 1, 8, 1, 1, vector",
    "2, 3, 20, 4, 70, scalar",
    "1, 2, 64, 2, 130, scalar"
  })
  void matchesTheFloat64Reference(
      int layers, int heads, int size, int batch, int seq, String kernels) {
    EncoderConfig c = EncoderConfig.of(layers, heads, size, Precision.FP32);
    EncoderWeights w = EncoderWeights.random(c, 17 + layers * 31L + size);
    SplittableRandom r = new SplittableRandom(seq * 7L + batch);
    int[] lengths = new int[batch];
    for (int b = 0; b < batch; b++) {
      lengths[b] = 1 + r.nextInt(seq);
    }
    lengths[0] = seq;
    if (batch > 2) {
      lengths[batch - 1] = 1;
    }
    float[] x = input(c, lengths, seq, 99);
    double[] want = new ReferenceEncoder(w).forwardFloat64(x, lengths, batch, seq);
    try (CpuEncoder e = new CpuEncoder(w, kernels)) {
      float[] got = e.forward(x, lengths, batch, seq);
      assertEquals(want.length, got.length);
      double num = 0;
      double den = 0;
      double max = 0;
      int hidden = c.hidden();
      for (int b = 0; b < batch; b++) {
        for (int t = 0; t < seq; t++) {
          for (int i = 0; i < hidden; i++) {
            int at = (b * seq + t) * hidden + i;
            if (t >= lengths[b]) {
              assertEquals(0f, got[at], "padded position " + b + "," + t + " is not 0");
              continue;
            }
            double d = got[at] - want[at];
            num += d * d;
            den += want[at] * want[at];
            max = Math.max(max, Math.abs(d));
          }
        }
      }
      double rel = Math.sqrt(num / den);
      assertTrue(rel <= 3e-6 && max <= 3e-5, e.kernels() + ": relative L2 " + rel + ", max " + max);
    }
  }

  @Test
  void packedEqualsPaddedAndNoSequenceDependsOnItsBatch() {
    EncoderConfig c = EncoderConfig.of(2, 3, 20, Precision.FP32);
    EncoderWeights w = EncoderWeights.random(c, 5);
    int[] lengths = {70, 1, 33, 64};
    int seq = 70;
    int hidden = c.hidden();
    float[] x = input(c, lengths, seq, 4);
    try (CpuEncoder e = new CpuEncoder(w)) {
      float[] padded = e.forward(x, lengths, lengths.length, seq);
      float[] tokens = new float[Arrays.stream(lengths).sum() * hidden];
      for (int b = 0, at = 0; b < lengths.length; at += lengths[b] * hidden, b++) {
        System.arraycopy(x, b * seq * hidden, tokens, at, lengths[b] * hidden);
      }
      float[] before = tokens.clone();
      float[] packed = e.forwardPacked(tokens, lengths);
      assertArrayEquals(before, tokens, "forwardPacked changed its input");
      for (int b = 0, at = 0; b < lengths.length; at += lengths[b] * hidden, b++) {
        float[] fromPadded =
            Arrays.copyOfRange(padded, b * seq * hidden, (b * seq + lengths[b]) * hidden);
        float[] fromPacked = Arrays.copyOfRange(packed, at, at + lengths[b] * hidden);
        assertArrayEquals(fromPadded, fromPacked, "sequence " + b + ": packed != padded");
        // alone: bit for bit what it gets inside the batch
        float[] alone =
            e.forwardPacked(
                Arrays.copyOfRange(tokens, at, at + lengths[b] * hidden), new int[] {lengths[b]});
        assertArrayEquals(fromPacked, alone, "sequence " + b + " alone != in the batch");
      }
    }
  }

  @Test
  void runsOnItsOwnPoolWithTheSameResultAndNestedCallsDoNotDeadlock() throws Exception {
    EncoderConfig c = EncoderConfig.of(2, 3, 20, Precision.FP32);
    EncoderWeights w = EncoderWeights.random(c, 9);
    int[] lengths = {40, 7, 33};
    float[] x = input(c, lengths, 40, 2);
    java.util.concurrent.ForkJoinPool one = new java.util.concurrent.ForkJoinPool(1);
    try (CpuEncoder shared = new CpuEncoder(w);
        CpuEncoder own = new CpuEncoder(w, null, one)) {
      float[] a = shared.forward(x, lengths, 3, 40);
      float[] b = own.forward(x, lengths, 3, 40);
      assertArrayEquals(a, b, "another pool (1 thread, other task split) changed the result");
      // from one of the pool's own threads: runs there directly instead of waiting for itself
      float[] nested = one.submit(() -> own.forward(x, lengths, 3, 40)).get();
      assertArrayEquals(a, nested);
      assertEquals(
          Integer.getInteger("ft4j.cpu.threads", Runtime.getRuntime().availableProcessors()),
          CpuEncoder.sharedPool().getParallelism());
    } finally {
      one.shutdown();
    }
  }

  @Test
  void badInputIsRejectedWithItsValue() {
    EncoderConfig c = EncoderConfig.of(1, 2, 16, Precision.FP32);
    try (CpuEncoder e = new CpuEncoder(EncoderWeights.random(c, 1))) {
      float[] x = new float[2 * 4 * 32];
      String m =
          assertThrows(IllegalArgumentException.class, () -> e.forward(x, new int[] {4, 5}, 2, 4))
              .getMessage();
      assertTrue(m.contains("5"), m);
      assertThrows(IllegalArgumentException.class, () -> e.forward(x, new int[] {0, 1}, 2, 4));
      assertThrows(IllegalArgumentException.class, () -> e.forward(x, new int[] {1, 1}, 2, 5));
      m =
          assertThrows(
                  IllegalArgumentException.class,
                  () -> e.forwardPacked(new float[3 * 32], new int[] {1, 1}))
              .getMessage();
      assertTrue(m.contains("96") && m.contains("2 x 32"), m);
      m =
          assertThrows(
                  IllegalArgumentException.class,
                  () -> e.forwardPacked(new float[32], new int[] {1, 0}))
              .getMessage();
      assertTrue(m.contains("lengths[1] = 0"), m);
      assertThrows(IllegalArgumentException.class, () -> e.forwardPacked(null, new int[] {1}));
      assertThrows(IllegalArgumentException.class, () -> new CpuEncoder(null));
    }
  }
}
