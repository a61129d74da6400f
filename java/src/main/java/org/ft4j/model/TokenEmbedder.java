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

  @Override
  void close();
}
