package org.ft4j.quant;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** The growing histogram and the amax each calibration method picks on known distributions. */
class AbsHistogramTest {
  private static double[] gaussian(long seed, int n, double sigma) {
    SplittableRandom r = new SplittableRandom(seed);
    double[] x = new double[n];
    for (int i = 0; i < n; i++) {
      // Box-Muller from the splittable generator
      double u = r.nextDouble();
      double v = r.nextDouble();
      x[i] = sigma * Math.sqrt(-2 * Math.log1p(-u)) * Math.cos(2 * Math.PI * v);
    }
    return x;
  }

  @Test
  void growingKeepsEveryCountAndTheExactMax() {
    AbsHistogram h = new AbsHistogram();
    h.add(new double[] {0, 0, 0.001, -0.002});
    h.add(new double[] {5.5, -0.3});
    h.add(new double[] {1000.25});
    assertEquals(7, h.count());
    assertEquals(1000.25, h.max());
    long sum = 0;
    for (int i = 0; i < AbsHistogram.BINS; i++) {
      sum += h.bin(i);
    }
    assertEquals(7, sum);
    assertTrue(h.range() > 1000.25);
    // small values all merged into the first bin, 5.5 and 0.3 below 1000/2048 * 12
    assertTrue(h.bin(0) >= 4, "bin 0 = " + h.bin(0));
  }

  @Test
  void onlyZerosGiveZeroAmax() {
    AbsHistogram h = new AbsHistogram();
    h.add(new double[10]);
    assertEquals(0, h.max());
    assertEquals(0, h.percentile(99.99));
    assertEquals(0, h.minimumMseAmax());
    assertEquals(10, h.bin(0));
  }

  @Test
  void nonFiniteValuesAreRejected() {
    AbsHistogram h = new AbsHistogram();
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> h.add(new double[] {1, Double.NaN}));
    assertTrue(e.getMessage().contains("index 1"), e.getMessage());
  }

  @Test
  void percentileOfAUniformDistributionIsItsQuantile() {
    SplittableRandom r = new SplittableRandom(11);
    AbsHistogram h = new AbsHistogram();
    double[] chunk = new double[10_000];
    for (int c = 0; c < 50; c++) { // in chunks: the range grows as the data arrives
      for (int i = 0; i < chunk.length; i++) {
        chunk[i] = r.nextDouble(-4, 4) * (c == 0 ? 0.01 : 1);
      }
      h.add(chunk);
    }
    // 49 chunks uniform on [-4, 4] and one tiny chunk: |x| < 4q covers q of the large ones
    double width = h.range() / AbsHistogram.BINS;
    double p99 = h.percentile(99);
    double expected = 4 * (0.99 * 50 - 1) / 49;
    assertEquals(expected, p99, width + 0.01, "p99");
    assertEquals(h.max(), h.percentile(100));
    assertEquals(h.max(), CalibrationMethod.max().amax(h));
  }

  @Test
  void percentileOfAGaussianMatchesTheNormalQuantile() {
    AbsHistogram h = new AbsHistogram();
    h.add(gaussian(7, 2_000_000, 1.5));
    // P(|x| < 3.2905 sigma) = 0.999, P(|x| < 3.8906 sigma) = 0.9999
    assertEquals(3.2905 * 1.5, h.percentile(99.9), 0.03 * 1.5);
    assertEquals(3.8906 * 1.5, CalibrationMethod.DEFAULT.amax(h), 0.08 * 1.5);
  }

  /** The exact mean squared error of int8 fake quantization of x with amax. */
  private static double mse(double[] x, double amax) {
    double[] q = x.clone();
    Int8.fakeQuantize(q, amax);
    double e = 0;
    for (int i = 0; i < x.length; i++) {
      e += (q[i] - x[i]) * (q[i] - x[i]);
    }
    return e / x.length;
  }

  @Test
  void mseAmaxIsNearTheBruteForceOptimum() {
    double[] x = gaussian(9, 400_000, 1.0);
    // add sparse large outliers, as BERT activations have
    SplittableRandom r = new SplittableRandom(1);
    for (int i = 0; i < 40; i++) {
      x[r.nextInt(x.length)] = r.nextDouble(20, 40);
    }
    AbsHistogram h = new AbsHistogram();
    h.add(x);
    double chosen = CalibrationMethod.mse().amax(h);
    double best = Double.POSITIVE_INFINITY;
    for (double a = 1; a <= 40; a += 0.05) {
      best = Math.min(best, mse(x, a));
    }
    assertTrue(mse(x, chosen) <= 1.10 * best, mse(x, chosen) + " vs best " + best);
  }

  @Test
  void mseClipsTheTailOfAGaussian() {
    double[] x = gaussian(13, 400_000, 2.0);
    AbsHistogram h = new AbsHistogram();
    h.add(x);
    double chosen = CalibrationMethod.mse().amax(h);
    assertTrue(chosen < h.max(), chosen + " vs max " + h.max());
    assertTrue(chosen > 3 * 2.0, "not clipping the body: " + chosen);
    assertTrue(mse(x, chosen) < mse(x, h.max()), "better than max");
  }

  @Test
  void methodsParseAndLabel() {
    assertEquals(CalibrationMethod.max(), CalibrationMethod.parse("MAX"));
    assertEquals(CalibrationMethod.mse(), CalibrationMethod.parse(" mse "));
    assertEquals(CalibrationMethod.DEFAULT, CalibrationMethod.parse("percentile"));
    assertEquals(99.9, CalibrationMethod.parse("percentile:99.9").percentile());
    assertEquals(99.5, CalibrationMethod.parse("percentile 99.5").percentile());
    assertEquals("percentile 99.99", CalibrationMethod.DEFAULT.label());
    assertEquals("percentile 100", CalibrationMethod.percentile(100).label());
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> CalibrationMethod.parse("entropy"));
    assertTrue(e.getMessage().contains("expected max, percentile[:P] or mse"), e.getMessage());
    e =
        assertThrows(
            IllegalArgumentException.class, () -> CalibrationMethod.parse("percentile:abc"));
    assertTrue(e.getMessage().contains("'abc' is not a number"), e.getMessage());
    e =
        assertThrows(
            IllegalArgumentException.class, () -> CalibrationMethod.parse("percentile:101"));
    assertTrue(e.getMessage().contains("must be in (0, 100]"), e.getMessage());
  }
}
