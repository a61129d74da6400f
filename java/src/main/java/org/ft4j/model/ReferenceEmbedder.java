package org.ft4j.model;

import org.ft4j.reference.ReferenceEncoder;
import org.ft4j.reference.ReferenceKernels;

/**
 * The CPU backend: the embedding layer in float64 (x = layernorm(word[id] + position[i +
 * positionOffset] + tokenType[type])), rounded to float, then {@link ReferenceEncoder} (float64) on
 * the batch padded to its longest sequence. Slow but exact; the oracle of the GPU backend.
 *
 * <p>Thread safety: stateless apart from the immutable model; calls may run concurrently.
 */
public final class ReferenceEmbedder implements TokenEmbedder {
  private final Model model;
  private final ModelConfig config;
  private final ReferenceEncoder encoder;

  public ReferenceEmbedder(Model model) {
    this(model, model == null ? null : new ReferenceEncoder(model.encoder()));
  }

  /**
   * The embedding layer of {@code model} followed by {@code encoder} (for example one with a
   * calibration hook, or the fake-quantized INT8 reference of {@link
   * org.ft4j.quant.QuantizedReference}); its shape must be the model's.
   */
  public ReferenceEmbedder(Model model, ReferenceEncoder encoder) {
    if (model == null || encoder == null) {
      throw new IllegalArgumentException("model or encoder is null");
    }
    if (!encoder.config().equals(model.encoder().config())) {
      throw new IllegalArgumentException(
          "encoder config " + encoder.config() + " is not the model's " + model.encoder().config());
    }
    this.model = model;
    this.config = model.config();
    this.encoder = encoder;
  }

  @Override
  public ModelConfig config() {
    return config;
  }

  @Override
  public float[][] lastHiddenStates(int[][] ids, int[][] typeIds) {
    TokenInputs.Padded padded = TokenInputs.pad(config, ids, typeIds);
    int[] lengths = padded.lengths();
    double[] y =
        encoder.forwardFloat64(
            embeddingLayer(model, padded), lengths, padded.batch(), padded.seq());
    int hidden = config.hidden();
    float[][] result = new float[padded.batch()][];
    for (int b = 0; b < result.length; b++) {
      float[] r = new float[lengths[b] * hidden];
      int base = b * padded.seq() * hidden;
      for (int i = 0; i < r.length; i++) {
        r[i] = (float) y[base + i];
      }
      result[b] = r;
    }
    return result;
  }

  /**
   * The embedding layer of {@code model} over a padded batch, computed in float64 and rounded to
   * float: [batch, seq, hidden] (also the input of {@link CpuEmbedder}'s encoder).
   */
  static float[] embeddingLayer(Model model, TokenInputs.Padded padded) {
    ModelConfig config = model.config();
    EmbeddingWeights e = model.embeddings();
    double[] x =
        ReferenceKernels.embeddingLayerNorm(
            padded.ids(),
            padded.types(),
            e.word(),
            e.position(),
            e.tokenType(),
            e.layerNormGamma(),
            e.layerNormBeta(),
            config.layerNormEps(),
            padded.seq(),
            config.hidden(),
            config.positionOffset());
    float[] input = new float[x.length];
    for (int i = 0; i < x.length; i++) {
      input[i] = (float) x[i];
    }
    return input;
  }

  @Override
  public void close() {}
}
