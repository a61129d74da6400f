package org.ft4j.model;

import org.ft4j.cpu.CpuEncoder;

/**
 * The fast CPU backend: the embedding layer (as in {@link ReferenceEmbedder}), then {@link
 * CpuEncoder} (float32, SIMD kernels where the JVM has the Vector API) on the batch padded to its
 * longest sequence (padded positions are skipped by the encoder).
 *
 * <p>Thread safety: immutable after construction; calls may run concurrently.
 */
public final class CpuEmbedder implements TokenEmbedder {
  private final Model model;
  private final ModelConfig config;
  private final CpuEncoder encoder;

  /** A CPU embedder over {@code model}; packs the encoder's weights (about its size in memory). */
  public CpuEmbedder(Model model) {
    if (model == null) {
      throw new IllegalArgumentException("model is null");
    }
    this.model = model;
    this.config = model.config();
    this.encoder = new CpuEncoder(model.encoder());
  }

  /** The encoder's kernel set ({@link CpuEncoder#kernels()}). */
  public String kernels() {
    return encoder.kernels();
  }

  @Override
  public ModelConfig config() {
    return config;
  }

  @Override
  public float[][] lastHiddenStates(int[][] ids, int[][] typeIds) {
    TokenInputs.Padded padded = TokenInputs.pad(config, ids, typeIds);
    int[] lengths = padded.lengths();
    int hidden = config.hidden();
    float[] input = ReferenceEmbedder.embeddingLayer(model, padded);
    float[] packed = new float[sum(lengths) * hidden];
    for (int b = 0, at = 0; b < lengths.length; at += lengths[b] * hidden, b++) {
      System.arraycopy(input, b * padded.seq() * hidden, packed, at, lengths[b] * hidden);
    }
    float[] y = encoder.forwardPacked(packed, lengths);
    float[][] result = new float[lengths.length][];
    for (int b = 0, at = 0; b < lengths.length; at += lengths[b] * hidden, b++) {
      result[b] = java.util.Arrays.copyOfRange(y, at, at + lengths[b] * hidden);
    }
    return result;
  }

  private static int sum(int[] lengths) {
    int n = 0;
    for (int len : lengths) {
      n += len;
    }
    return n;
  }

  @Override
  public void close() {
    encoder.close();
  }
}
