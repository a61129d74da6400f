package org.ft4j.testing;

import java.util.SplittableRandom;
import org.ft4j.cuda.CudaDevice;
import org.ft4j.cuda.DType;
import org.ft4j.cuda.DeviceBuffer;
import org.ft4j.cuda.Half;
import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Assumptions;

/** Shared helpers of the GPU tests: device assumption, data, transfers and error measures. */
public final class GpuTesting {
  /** JUnit tag of tests that need a CUDA device. */
  public static final String GPU = "gpu";

  private GpuTesting() {}

  /** Skips (not fails) the calling test where no CUDA device is usable. */
  public static void assumeCudaDevice() {
    Assumptions.assumeTrue(
        CudaDevice.isAvailable(), () -> "no CUDA device: " + CudaDevice.unavailableReason());
  }

  public static float[] random(int n, long seed, double lo, double hi) {
    SplittableRandom r = new SplittableRandom(seed);
    float[] x = new float[n];
    for (int i = 0; i < n; i++) {
      x[i] = (float) r.nextDouble(lo, hi);
    }
    return x;
  }

  /** Lengths in [1, seq], the first sequence full and (batch > 1) the last of length 1. */
  public static int[] randomLengths(int batch, int seq, long seed) {
    SplittableRandom r = new SplittableRandom(seed);
    int[] lengths = new int[batch];
    for (int b = 0; b < batch; b++) {
      lengths[b] = 1 + r.nextInt(seq);
    }
    lengths[0] = seq;
    if (batch > 1) {
      lengths[batch - 1] = 1;
    }
    return lengths;
  }

  /** Values as the device will see them in {@code t} (FP16 rounds). */
  public static float[] asStored(float[] x, DType t) {
    if (t == DType.FP32) {
      return x.clone();
    }
    float[] out = new float[x.length];
    for (int i = 0; i < x.length; i++) {
      out[i] = Half.round(x[i]);
    }
    return out;
  }

  /** A new device buffer holding {@code x} stored as {@code t}. */
  public static DeviceBuffer upload(float[] x, DType t) {
    DeviceBuffer b = DeviceBuffer.allocate(t, Math.max(1, x.length));
    if (t == DType.FP32) {
      b.copyFrom(x);
    } else {
      b.copyFrom(Half.fromFloats(x));
    }
    return b;
  }

  /** The first {@code n} values of a buffer stored as {@code t}, as floats. */
  public static float[] download(DeviceBuffer b, DType t, int n) {
    return t == DType.FP32 ? b.toFloatArray(n) : Half.toFloats(b.toShortArray(n));
  }

  /** A device buffer of {@code n} elements filled with NaN (0xFF bytes) and synchronised. */
  public static DeviceBuffer poisoned(DType t, long n) {
    DeviceBuffer b = DeviceBuffer.allocate(t, Math.max(1, n));
    b.fillBytes(0xFF);
    return b;
  }

  /** ||actual - expected|| / ||expected||; infinite when actual has a NaN or infinity. */
  public static double relativeL2(float[] expected, float[] actual) {
    Assertions.assertEquals(expected.length, actual.length, "lengths differ");
    double num = 0;
    double den = 0;
    for (int i = 0; i < expected.length; i++) {
      if (!Float.isFinite(actual[i])) {
        return Double.POSITIVE_INFINITY;
      }
      double d = (double) actual[i] - expected[i];
      num += d * d;
      den += (double) expected[i] * expected[i];
    }
    return den == 0 ? Math.sqrt(num) : Math.sqrt(num / den);
  }

  /** Asserts the relative L2 error is at most {@code tolerance}; the message names the case. */
  public static void assertClose(float[] expected, float[] actual, double tolerance, String what) {
    double err = relativeL2(expected, actual);
    Assertions.assertTrue(
        err <= tolerance,
        () ->
            what
                + ": relative L2 error "
                + err
                + " > "
                + tolerance
                + firstMismatch(expected, actual));
  }

  private static String firstMismatch(float[] expected, float[] actual) {
    int worst = 0;
    double worstDiff = -1;
    for (int i = 0; i < expected.length; i++) {
      double d =
          Float.isFinite(actual[i]) ? Math.abs(actual[i] - expected[i]) : Double.POSITIVE_INFINITY;
      if (d > worstDiff) {
        worstDiff = d;
        worst = i;
      }
    }
    return " (worst at flat index "
        + worst
        + ": expected "
        + expected[worst]
        + ", got "
        + actual[worst]
        + ")";
  }

  /**
   * Asserts a device int8 value equals rint of the reference's unrounded {@code scaled} value
   * (clamped to ±127), or differs by one where {@code scaled} lies within 1e-4 (relative) of a
   * rounding boundary: the device computes in float. Returns whether it differed.
   */
  public static boolean assertInt8Rounding(byte got, double scaled, String what) {
    int want = (int) Math.max(-127, Math.min(127, Math.rint(scaled)));
    int d = Math.abs(got - want);
    double toBoundary = Math.abs(Math.abs(scaled - Math.floor(scaled)) - 0.5);
    org.junit.jupiter.api.Assertions.assertTrue(
        d == 0 || d == 1 && toBoundary < 1e-4 * Math.max(1, Math.abs(scaled)),
        () -> what + ": " + got + ", expected " + want + " (unrounded " + scaled + ")");
    return d != 0;
  }

  /**
   * The valid rows of a padded batch [batch · seq, width] (any primitive array type), packed one
   * sequence after another: [sum(lengths), width].
   */
  @SuppressWarnings("unchecked")
  public static <A> A packRows(A padded, int[] lengths, int seq, int width) {
    int tokens = 0;
    for (int len : lengths) {
      tokens += len;
    }
    A out =
        (A)
            java.lang.reflect.Array.newInstance(
                padded.getClass().getComponentType(), tokens * width);
    int at = 0;
    for (int b = 0; b < lengths.length; b++) {
      System.arraycopy(padded, b * seq * width, out, at * width, lengths[b] * width);
      at += lengths[b];
    }
    return out;
  }
}
