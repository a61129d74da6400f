package org.ft4j.encoder;

/**
 * A BERT-style encoder stack: hidden states in, hidden states out.
 *
 * <p>{@code forward} takes input [batch, seq, hidden] (row-major, FP32 on the host) and the valid
 * length of each sequence; positions at or past a sequence's length are padding: they are never
 * attended to and the output there is exactly 0. Implementations: {@code
 * org.ft4j.reference.ReferenceEncoder} (CPU, float64 accumulation) and {@link BertEncoder} (CUDA).
 */
public interface Encoder extends AutoCloseable {

  EncoderConfig config();

  /**
   * Runs the encoder.
   *
   * @param input [batch, seq, hidden] hidden states
   * @param lengths [batch] valid lengths, each in [1, seq]
   * @return [batch, seq, hidden] output hidden states, 0 at padded positions
   * @throws IllegalArgumentException on a shape or length that does not fit, before any work
   */
  float[] forward(float[] input, int[] lengths, int batch, int seq);

  /** Releases what the encoder holds (device memory, streams); idempotent. */
  @Override
  void close();
}
