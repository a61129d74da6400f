package org.ft4j.model;

/**
 * A backend that turns token ids into the model's last hidden states: embedding layer + encoder
 * stack. Implementations: {@link ReferenceEmbedder} (CPU, float64) and {@link GpuEmbedder}.
 */
public interface TokenEmbedder extends AutoCloseable {
  /** The model's configuration. */
  ModelConfig config();

  /**
   * Last hidden states of a batch of token sequences.
   *
   * @param ids ids[b] = token ids of sequence b (1 <= length <= config().maxSequenceLength())
   * @param typeIds typeIds[b] = token type ids of sequence b (same lengths), or null for all 0
   * @return result[b] = float[ids[b].length * hidden], row-major [length, hidden]
   */
  float[][] lastHiddenStates(int[][] ids, int[][] typeIds);

  /**
   * Pooled embeddings of a batch: result[b] = float[hidden] ({@link Pooling#CLS} or {@link
   * Pooling#MEAN}), L2-normalised when {@code normalize}. This default pools {@link
   * #lastHiddenStates} on the host with {@link Pooler}; the GPU backend pools on the device.
   *
   * @throws IllegalArgumentException for {@link Pooling#NONE} (nothing to pool: use {@link
   *     #lastHiddenStates})
   */
  default float[][] pooled(int[][] ids, int[][] typeIds, Pooling pooling, boolean normalize) {
    if (pooling == null || pooling == Pooling.NONE) {
      throw new IllegalArgumentException(
          "pooled() needs CLS or MEAN pooling, got " + pooling + " (use lastHiddenStates)");
    }
    float[][] states = lastHiddenStates(ids, typeIds);
    int hidden = config().hidden();
    float[][] result = new float[states.length][];
    for (int b = 0; b < states.length; b++) {
      result[b] = Pooler.pool(states[b], ids[b].length, hidden, pooling, normalize);
    }
    return result;
  }

  @Override
  void close();
}
