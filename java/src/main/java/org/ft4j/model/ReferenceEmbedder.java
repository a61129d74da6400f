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
    if (model == null) {
      throw new IllegalArgumentException("model is null");
    }
    this.model = model;
    this.config = model.config();
    this.encoder = new ReferenceEncoder(model.encoder());
  }

  @Override
  public ModelConfig config() {
    return config;
  }

  @Override
  public float[][] lastHiddenStates(int[][] ids, int[][] typeIds) {
    int batch = TokenInputs.check(config, ids, typeIds);
    int seq = 0;
    int[] lengths = new int[batch];
    for (int b = 0; b < batch; b++) {
      lengths[b] = ids[b].length;
      seq = Math.max(seq, lengths[b]);
    }
    int hidden = config.hidden();
    int rows = batch * seq;
    int[] flatIds = new int[rows]; // padding rows: id 0, type 0 (never read by the encoder)
    int[] flatTypes = new int[rows];
    for (int b = 0; b < batch; b++) {
      System.arraycopy(ids[b], 0, flatIds, b * seq, lengths[b]);
      if (typeIds != null) {
        System.arraycopy(typeIds[b], 0, flatTypes, b * seq, lengths[b]);
      }
    }
    EmbeddingWeights e = model.embeddings();
    double[] x =
        ReferenceKernels.embeddingLayerNorm(
            flatIds,
            flatTypes,
            e.word(),
            e.position(),
            e.tokenType(),
            e.layerNormGamma(),
            e.layerNormBeta(),
            config.layerNormEps(),
            seq,
            hidden,
            config.positionOffset());
    float[] input = new float[x.length];
    for (int i = 0; i < x.length; i++) {
      input[i] = (float) x[i];
    }
    double[] y = encoder.forwardFloat64(input, lengths, batch, seq);
    float[][] result = new float[batch][];
    for (int b = 0; b < batch; b++) {
      float[] r = new float[lengths[b] * hidden];
      int base = b * seq * hidden;
      for (int i = 0; i < r.length; i++) {
        r[i] = (float) y[base + i];
      }
      result[b] = r;
    }
    return result;
  }

  @Override
  public void close() {}
}
