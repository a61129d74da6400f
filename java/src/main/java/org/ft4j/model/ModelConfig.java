package org.ft4j.model;

import org.ft4j.encoder.EncoderConfig;
import org.ft4j.encoder.Precision;

/**
 * The shape of a BERT-family model, as Hugging Face's config.json describes it (or as inferred from
 * an ONNX graph).
 *
 * @param architecture "bert" or "roberta" (the embedding conventions differ: RoBERTa has no token
 *     types in use and positions start at padTokenId + 1)
 * @param vocabSize rows of the word embedding
 * @param hidden hidden size
 * @param layers encoder layers
 * @param heads attention heads (hidden % heads == 0)
 * @param intermediateSize FFN width
 * @param maxPositions rows of the position embedding (for RoBERTa including the offset)
 * @param typeVocabSize rows of the token-type embedding (>= 1)
 * @param layerNormEps layernorm epsilon of every layernorm of the model
 * @param padTokenId padding token id (RoBERTa's position offset is padTokenId + 1)
 */
public record ModelConfig(
    String architecture,
    int vocabSize,
    int hidden,
    int layers,
    int heads,
    int intermediateSize,
    int maxPositions,
    int typeVocabSize,
    double layerNormEps,
    int padTokenId) {

  public ModelConfig {
    if (!"bert".equals(architecture) && !"roberta".equals(architecture)) {
      throw new IllegalArgumentException(
          "architecture " + architecture + " is not supported (bert-style or roberta-style)");
    }
    positive("vocabSize", vocabSize);
    positive("hidden", hidden);
    positive("layers", layers);
    positive("heads", heads);
    positive("intermediateSize", intermediateSize);
    positive("maxPositions", maxPositions);
    positive("typeVocabSize", typeVocabSize);
    if (hidden % heads != 0) {
      throw new IllegalArgumentException(
          "hidden = " + hidden + " is not a multiple of heads = " + heads);
    }
    if (!(layerNormEps > 0) || !Double.isFinite(layerNormEps)) {
      throw new IllegalArgumentException("layerNormEps = " + layerNormEps + ", must be > 0");
    }
  }

  /** Position id of token i is i + positionOffset (BERT 0; RoBERTa padTokenId + 1). */
  public int positionOffset() {
    return "roberta".equals(architecture) ? padTokenId + 1 : 0;
  }

  /** Longest input in tokens (special tokens included) the position table allows. */
  public int maxSequenceLength() {
    return maxPositions - positionOffset();
  }

  /** The encoder stack's configuration at a precision. */
  public EncoderConfig encoderConfig(Precision precision) {
    return new EncoderConfig(
        layers, heads, hidden / heads, hidden, intermediateSize, layerNormEps, precision);
  }

  private static void positive(String name, int value) {
    if (value < 1) {
      throw new IllegalArgumentException(name + " = " + value + ", must be >= 1");
    }
  }
}
