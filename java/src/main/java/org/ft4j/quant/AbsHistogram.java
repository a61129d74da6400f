package org.ft4j.quant;

/**
 * A histogram of |x| over [0, range) in {@value #BINS} equal bins whose range grows as larger
 * values arrive: the range doubles (adjacent bins merge pairwise) until the new maximum fits, so
 * memory stays fixed however much data is observed. The exact maximum and count are kept beside it.
 * Not thread-safe.
 */
public final class AbsHistogram {
  /** Number of bins. */
  public static final int BINS = 2048;

  private final long[] counts = new long[BINS];
  private double range; // 0 until the first non-zero value
  private double max;
  private long total;
  private long zeros; // values seen while range == 0 (all exactly 0)

  /** Adds |x[i]| for i in [from, from + length). Non-finite values are rejected. */
  public void add(double[] x, int from, int length) {
    double m = 0;
    for (int i = from; i < from + length; i++) {
      double a = Math.abs(x[i]);
      if (!(a < Double.POSITIVE_INFINITY)) {
        throw new IllegalArgumentException(
            "non-finite activation "
                + x[i]
                + " at index "
                + i
                + " (calibration needs finite data)");
      }
      m = Math.max(m, a);
    }
    if (m > 0) {
      grow(m);
    }
    double inv = range > 0 ? BINS / range : 0;
    for (int i = from; i < from + length; i++) {
      double a = Math.abs(x[i]);
      if (range == 0) {
        zeros++;
      } else {
        counts[Math.min(BINS - 1, (int) (a * inv))]++;
      }
    }
    total += length;
    max = Math.max(max, m);
  }

  /** Adds every value of x. */
  public void add(double[] x) {
    add(x, 0, x.length);
  }

  private void grow(double m) {
    if (range == 0) {
      // first non-zero data: a power of two just above m, so later doublings keep round edges
      range = Math.pow(2, Math.ceil(Math.log(m) / Math.log(2)));
      if (range <= m) {
        range *= 2;
      }
      counts[0] += zeros;
      zeros = 0;
      return;
    }
    int factor = 1;
    while (range * factor <= m) {
      factor *= 2;
    }
    if (factor == 1) {
      return;
    }
    int shift = Integer.numberOfTrailingZeros(factor);
    if (shift >= 11) { // everything merges into bin 0
      long all = 0;
      for (int i = 0; i < BINS; i++) {
        all += counts[i];
        counts[i] = 0;
      }
      counts[0] = all;
    } else {
      for (int i = 0; i < BINS; i++) {
        long c = counts[i];
        counts[i] = 0;
        counts[i >> shift] += c;
      }
    }
    range *= factor;
  }

  /** Number of values added. */
  public long count() {
    return total;
  }

  /** The exact largest |x| added (0 when none). */
  public double max() {
    return max;
  }

  /** Upper edge of the histogram (0 before any non-zero value). */
  public double range() {
    return range;
  }

  /** Count of bin {@code i}. */
  public long bin(int i) {
    return i == 0 ? counts[0] + zeros : counts[i];
  }

  /**
   * The smallest bin edge e such that at least p % of the values have |x| &lt; e (capped at the
   * exact max); 0 when nothing non-zero was seen.
   */
  public double percentile(double p) {
    if (range == 0 || total == 0) {
      return 0;
    }
    double need = p / 100.0 * total;
    long seen = 0;
    double width = range / BINS;
    for (int i = 0; i < BINS; i++) {
      seen += counts[i];
      if (seen >= need) {
        return Math.min(max, (i + 1) * width);
      }
    }
    return max;
  }

  /**
   * The amax minimising the expected squared error of int8 quantize-dequantize over this
   * distribution, searched over the bin edges from bin 64 up (values in a bin taken at its centre):
   * a value above amax costs (|x| - amax)²; one below costs the rounding noise step²/12 with step =
   * amax / 127, or x² when it rounds to zero (|x| &lt; step / 2). 0 when nothing non-zero was seen.
   */
  public double minimumMseAmax() {
    if (range == 0 || total == 0) {
      return 0;
    }
    double width = range / BINS;
    int last = Math.min(BINS, (int) Math.ceil(max / width));
    double best = max;
    double bestErr = Double.POSITIVE_INFINITY;
    for (int edge = Math.min(64, last); edge <= last; edge++) {
      double amax = Math.min(max, edge * width);
      double step = amax / Int8.QMAX;
      double noise = step * step / 12;
      double err = 0;
      for (int i = 0; i < last; i++) {
        long c = counts[i];
        if (c == 0) {
          continue;
        }
        double x = (i + 0.5) * width;
        double e;
        if (x > amax) {
          e = (x - amax) * (x - amax);
        } else if (x < step / 2) {
          e = x * x;
        } else {
          e = noise;
        }
        err += c * e;
      }
      if (err < bestErr) {
        bestErr = err;
        best = amax;
      }
    }
    return best;
  }
}
