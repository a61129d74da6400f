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

  /**
   * The attention's work items of the CPU encoders: each sequence's queries cut into blocks of
   * {@code block}. With offsets[b] the first compact row of sequence b (offsets[batch] = tokens),
   * returns {sequence[], start[]}: block i covers queries start[i] .. of sequence sequence[i].
   */
  public static int[][] queryBlocks(int[] offsets, int block) {
    int batch = offsets.length - 1;
    int count = 0;
    for (int b = 0; b < batch; b++) {
      count += (offsets[b + 1] - offsets[b] + block - 1) / block;
    }
    int[] sequence = new int[count];
    int[] start = new int[count];
    int i = 0;
    for (int b = 0; b < batch; b++) {
      for (int i0 = 0; i0 < offsets[b + 1] - offsets[b]; i0 += block, i++) {
        sequence[i] = b;
        start[i] = i0;
      }
    }
    return new int[][] {sequence, start};
  }

  /** sum(lengths), rejected when it does not fit an int. */
  public static int totalTokens(int[] lengths) {
    long total = 0;
    for (int len : lengths) {
      total += len;
    }
    if (total > Integer.MAX_VALUE) {
      throw new IllegalArgumentException(
          "sum(lengths) = " + total + " exceeds " + Integer.MAX_VALUE);
    }
    return (int) total;
  }

  /**
   * Sequence lengths from a Hugging Face style attention mask [batch, seq] (row-major, 1 = token, 0
   * = padding). Each row must be 1s then 0s (left-aligned) with at least one 1; anything else is
   * rejected naming the row, the column and the value.
   */
  public static int[] lengthsFromMask(int[] mask, int batch, int seq) {
    if (batch < 1 || seq < 1) {
      throw new IllegalArgumentException("mask shape [" + batch + ", " + seq + "] must be >= 1");
    }
    if (mask == null || (long) mask.length != (long) batch * seq) {
      throw new IllegalArgumentException(
          "mask has "
              + (mask == null ? "no" : Integer.toString(mask.length))
              + " values, expected batch * seq = "
              + (long) batch * seq);
    }
    int[] lengths = new int[batch];
    for (int b = 0; b < batch; b++) {
      int len = 0;
      for (int s = 0; s < seq; s++) {
        int v = mask[b * seq + s];
        if (v != 0 && v != 1) {
          throw new IllegalArgumentException(
              "mask[" + b + ", " + s + "] = " + v + ": the mask must hold only 0 and 1");
        }
        if (v == 1) {
          if (len != s) {
            throw new IllegalArgumentException(
                "mask row "
                    + b
                    + " is not left-aligned: 1 at position "
                    + s
                    + " after padding at position "
                    + len);
          }
          len++;
        }
      }
      if (len == 0) {
        throw new IllegalArgumentException("mask row " + b + " has no token");
      }
      lengths[b] = len;
    }
    return lengths;
  }
}
