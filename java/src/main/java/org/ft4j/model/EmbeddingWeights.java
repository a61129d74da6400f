package org.ft4j.model;

/**
 * The embedding layer of a BERT-family model (host copies, FP32, row-major): x[i] =
 * layernorm(word[id_i] + position[i + positionOffset] + tokenType[type_i]).
 *
 * @param word [vocabSize, hidden]
 * @param position [maxPositions, hidden]
 * @param tokenType [typeVocabSize, hidden]
 * @param layerNormGamma [hidden]
 * @param layerNormBeta [hidden]
 */
public record EmbeddingWeights(
    float[] word,
    float[] position,
    float[] tokenType,
    float[] layerNormGamma,
    float[] layerNormBeta) {

  /** Checks every tensor's length against {@code config}; names the tensor that is wrong. */
  public void check(ModelConfig config) {
    long h = config.hidden();
    length("word embeddings", word, (long) config.vocabSize() * h);
    length("position embeddings", position, (long) config.maxPositions() * h);
    length("token type embeddings", tokenType, (long) config.typeVocabSize() * h);
    length("embeddings LayerNorm weight", layerNormGamma, h);
    length("embeddings LayerNorm bias", layerNormBeta, h);
  }

  private static void length(String name, float[] data, long expected) {
    if (data == null) {
      throw new IllegalArgumentException(name + " missing");
    }
    if (data.length != expected) {
      throw new IllegalArgumentException(
          name + " has " + data.length + " values, expected " + expected);
    }
  }
}
