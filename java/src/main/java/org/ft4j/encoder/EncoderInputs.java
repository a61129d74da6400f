package org.ft4j.encoder;

/** Validation of forward() arguments shared by every backend; messages name the bad value. */
public final class EncoderInputs {
  private EncoderInputs() {}

  /** Checks batch, seq, the lengths array and (if not null) the input array length. */
  public static void check(EncoderConfig config, float[] input, int[] lengths, int batch, int seq) {
    checkShape(config, batch, seq);
    if (input == null) {
      throw new IllegalArgumentException("input is null");
    }
    long expected = (long) batch * seq * config.hidden();
    if (input.length != expected) {
      throw new IllegalArgumentException(
          "input has "
              + input.length
              + " values, expected batch * seq * hidden = "
              + batch
              + " * "
              + seq
              + " * "
              + config.hidden()
              + " = "
              + expected);
    }
    checkLengths(lengths, batch, seq);
  }

  /** Checks batch and seq and that [batch, seq, max(hidden, intermediate)] fits an int index. */
  public static void checkShape(EncoderConfig config, int batch, int seq) {
    if (batch < 1) {
      throw new IllegalArgumentException("batch = " + batch + ", must be >= 1");
    }
    if (seq < 1) {
      throw new IllegalArgumentException("seq = " + seq + ", must be >= 1");
    }
    long widest = Math.max(config.hidden(), config.intermediateSize());
    if ((long) batch * seq * widest > Integer.MAX_VALUE) {
      throw new IllegalArgumentException(
          "batch * seq * width = "
              + batch
              + " * "
              + seq
              + " * "
              + widest
              + " exceeds "
              + Integer.MAX_VALUE
              + " elements; split the batch");
    }
  }

  /** Checks lengths[batch], each in [1, seq]. */
  public static void checkLengths(int[] lengths, int batch, int seq) {
    if (lengths == null) {
      throw new IllegalArgumentException("lengths is null");
    }
    if (lengths.length != batch) {
      throw new IllegalArgumentException(
          "lengths has " + lengths.length + " entries, expected batch = " + batch);
    }
    for (int b = 0; b < batch; b++) {
      if (lengths[b] < 1 || lengths[b] > seq) {
        throw new IllegalArgumentException(
            "lengths[" + b + "] = " + lengths[b] + ", must be in [1, seq = " + seq + "]");
      }
    }
  }

  /** sum(lengths), rejected when it does not fit an int. */
  public static int totalTokens(int[] lengths) {
    long total = 0;
    for (int len : lengths) {
      total += len;
    }
    if (total > Integer.MAX_VALUE) {
      throw new IllegalArgumentException("sum(lengths) = " + total + " exceeds " + Integer.MAX_VALUE);
    }
    return (int) total;
  }
}
