package org.ft4j.model;

/**
 * Validation of token-id batches shared by every {@link TokenEmbedder}; messages name the value.
 */
public final class TokenInputs {
  private TokenInputs() {}

  /**
   * Checks ids (and typeIds, when not null) against {@code config}: at least one sequence, each of
   * length 1 to {@link ModelConfig#maxSequenceLength()}, ids in [0, vocab), types in [0,
   * typeVocab), typeIds[b] as long as ids[b].
   *
   * @return the batch size
   */
  public static int check(ModelConfig config, int[][] ids, int[][] typeIds) {
    if (ids == null || ids.length == 0) {
      throw new IllegalArgumentException("no token sequences given");
    }
    if (typeIds != null && typeIds.length != ids.length) {
      throw new IllegalArgumentException(
          "typeIds has " + typeIds.length + " sequences, ids has " + ids.length);
    }
    int max = config.maxSequenceLength();
    for (int b = 0; b < ids.length; b++) {
      int[] seq = ids[b];
      if (seq == null || seq.length < 1 || seq.length > max) {
        throw new IllegalArgumentException(
            "sequence "
                + b
                + " has "
                + (seq == null ? "no" : Integer.toString(seq.length))
                + " tokens; must be 1 to "
                + max);
      }
      for (int i = 0; i < seq.length; i++) {
        if (seq[i] < 0 || seq[i] >= config.vocabSize()) {
          throw new IllegalArgumentException(
              "token id "
                  + seq[i]
                  + " at sequence "
                  + b
                  + " position "
                  + i
                  + " is outside the vocabulary [0, "
                  + config.vocabSize()
                  + ")");
        }
      }
      if (typeIds != null) {
        int[] types = typeIds[b];
        if (types == null || types.length != seq.length) {
          throw new IllegalArgumentException(
              "typeIds of sequence " + b + " must have " + seq.length + " entries");
        }
        for (int i = 0; i < types.length; i++) {
          if (types[i] < 0 || types[i] >= config.typeVocabSize()) {
            throw new IllegalArgumentException(
                "token type "
                    + types[i]
                    + " at sequence "
                    + b
                    + " position "
                    + i
                    + " is outside [0, "
                    + config.typeVocabSize()
                    + ")");
          }
        }
      }
    }
    return ids.length;
  }

  /**
   * A batch of token sequences padded to its longest: ids and types [batch * seq] (padding: id 0,
   * type 0, valid rows of every table), and the lengths.
   */
  public record Padded(int[] ids, int[] types, int[] lengths, int seq) {
    public int batch() {
      return lengths.length;
    }
  }

  /** Checks the batch (see {@link #check}) and pads it to its longest sequence. */
  public static Padded pad(ModelConfig config, int[][] ids, int[][] typeIds) {
    return pad(config, ids, typeIds, 1);
  }

  /**
   * Checks the batch and pads it to its longest sequence rounded up to a multiple of {@code
   * multiple} (at most the model's {@link ModelConfig#maxSequenceLength()}): fewer distinct shapes
   * for an encoder that caches plans and CUDA graphs per shape, where padded positions cost nothing
   * (padding removal).
   */
  public static Padded pad(ModelConfig config, int[][] ids, int[][] typeIds, int multiple) {
    if (multiple < 1) {
      throw new IllegalArgumentException("multiple = " + multiple + ", must be >= 1");
    }
    int batch = check(config, ids, typeIds);
    int seq = 0;
    int[] lengths = new int[batch];
    for (int b = 0; b < batch; b++) {
      lengths[b] = ids[b].length;
      seq = Math.max(seq, lengths[b]);
    }
    int rounded = (seq + multiple - 1) / multiple * multiple;
    seq = Math.max(seq, Math.min(rounded, config.maxSequenceLength()));
    int[] flatIds = new int[batch * seq];
    int[] flatTypes = new int[batch * seq];
    for (int b = 0; b < batch; b++) {
      System.arraycopy(ids[b], 0, flatIds, b * seq, lengths[b]);
      if (typeIds != null) {
        System.arraycopy(typeIds[b], 0, flatTypes, b * seq, lengths[b]);
      }
    }
    return new Padded(flatIds, flatTypes, lengths, seq);
  }
}
