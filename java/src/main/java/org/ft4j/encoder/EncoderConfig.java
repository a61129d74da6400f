package org.ft4j.encoder;

/**
 * Shape and numerics of a BERT-style encoder stack (post-layernorm layers as in BERT: attention,
 * add + layernorm, feed-forward with exact GELU, add + layernorm).
 *
 * @param layers number of encoder layers, at least 1
 * @param heads attention heads per layer
 * @param sizePerHead width of one head
 * @param hidden model width; must equal {@code heads * sizePerHead}
 * @param intermediateSize width of the feed-forward layer (4 * hidden in BERT)
 * @param layerNormEps epsilon of both layernorms (1e-12 in BERT)
 * @param precision storage and compute precision
 */
public record EncoderConfig(
    int layers,
    int heads,
    int sizePerHead,
    int hidden,
    int intermediateSize,
    double layerNormEps,
    Precision precision) {

  /** BERT's layernorm epsilon. */
  public static final double DEFAULT_LAYERNORM_EPS = 1e-12;

  /** Largest hidden or intermediate width accepted (the layernorm kernel keeps a row on chip). */
  public static final int MAX_WIDTH = 65536;

  public EncoderConfig {
    requirePositive("layers", layers);
    requirePositive("heads", heads);
    requirePositive("sizePerHead", sizePerHead);
    requirePositive("hidden", hidden);
    requirePositive("intermediateSize", intermediateSize);
    if ((long) heads * sizePerHead != hidden) {
      throw new IllegalArgumentException(
          "hidden = "
              + hidden
              + " but heads * sizePerHead = "
              + heads
              + " * "
              + sizePerHead
              + " = "
              + (long) heads * sizePerHead
              + "; they must be equal");
    }
    if (hidden > MAX_WIDTH || intermediateSize > MAX_WIDTH) {
      throw new IllegalArgumentException(
          "hidden = "
              + hidden
              + ", intermediateSize = "
              + intermediateSize
              + ": at most "
              + MAX_WIDTH);
    }
    if (!(layerNormEps > 0) || Double.isInfinite(layerNormEps)) {
      throw new IllegalArgumentException(
          "layerNormEps = " + layerNormEps + ", must be > 0 and finite");
    }
    if (precision == null) {
      throw new IllegalArgumentException("precision is null");
    }
  }

  /** A BERT-shaped config: hidden = heads * sizePerHead, intermediate = 4 * hidden, eps 1e-12. */
  public static EncoderConfig of(int layers, int heads, int sizePerHead, Precision precision) {
    requirePositive("heads", heads);
    requirePositive("sizePerHead", sizePerHead);
    long hidden = (long) heads * sizePerHead;
    if (hidden > MAX_WIDTH) {
      throw new IllegalArgumentException(
          "heads * sizePerHead = " + hidden + " exceeds the maximum width " + MAX_WIDTH);
    }
    return new EncoderConfig(
        layers,
        heads,
        sizePerHead,
        (int) hidden,
        4 * (int) hidden,
        DEFAULT_LAYERNORM_EPS,
        precision);
  }

  /** BERT-base: 12 layers, 12 heads of 64, hidden 768, intermediate 3072. */
  public static EncoderConfig bertBase(Precision precision) {
    return of(12, 12, 64, precision);
  }

  public EncoderConfig withPrecision(Precision p) {
    return new EncoderConfig(layers, heads, sizePerHead, hidden, intermediateSize, layerNormEps, p);
  }

  public EncoderConfig withLayers(int n) {
    return new EncoderConfig(
        n, heads, sizePerHead, hidden, intermediateSize, layerNormEps, precision);
  }

  public EncoderConfig withLayerNormEps(double eps) {
    return new EncoderConfig(layers, heads, sizePerHead, hidden, intermediateSize, eps, precision);
  }

  /** Number of parameters of the encoder layers (weights and biases, no embeddings). */
  public long parameterCount() {
    long h = hidden;
    long i = intermediateSize;
    long perLayer = 4 * (h * h + h) + (h * i + i) + (i * h + h) + 4 * h;
    return perLayer * layers;
  }

  private static void requirePositive(String name, int value) {
    if (value < 1) {
      throw new IllegalArgumentException(name + " = " + value + ", must be >= 1");
    }
  }
}
