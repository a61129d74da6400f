package org.ft4j.encoder;

/**
 * The tensors of one encoder layer, named as Hugging Face BERT names them under {@code
 * encoder.layer.<i>.}. Linear weights are stored as PyTorch does: [out_features, in_features].
 */
public enum LayerParam {
  QUERY_WEIGHT("attention.self.query.weight", Dim.HIDDEN, Dim.HIDDEN),
  QUERY_BIAS("attention.self.query.bias", Dim.HIDDEN),
  KEY_WEIGHT("attention.self.key.weight", Dim.HIDDEN, Dim.HIDDEN),
  KEY_BIAS("attention.self.key.bias", Dim.HIDDEN),
  VALUE_WEIGHT("attention.self.value.weight", Dim.HIDDEN, Dim.HIDDEN),
  VALUE_BIAS("attention.self.value.bias", Dim.HIDDEN),
  ATTENTION_OUTPUT_WEIGHT("attention.output.dense.weight", Dim.HIDDEN, Dim.HIDDEN),
  ATTENTION_OUTPUT_BIAS("attention.output.dense.bias", Dim.HIDDEN),
  ATTENTION_LAYERNORM_WEIGHT("attention.output.LayerNorm.weight", Dim.HIDDEN),
  ATTENTION_LAYERNORM_BIAS("attention.output.LayerNorm.bias", Dim.HIDDEN),
  INTERMEDIATE_WEIGHT("intermediate.dense.weight", Dim.INTERMEDIATE, Dim.HIDDEN),
  INTERMEDIATE_BIAS("intermediate.dense.bias", Dim.INTERMEDIATE),
  OUTPUT_WEIGHT("output.dense.weight", Dim.HIDDEN, Dim.INTERMEDIATE),
  OUTPUT_BIAS("output.dense.bias", Dim.HIDDEN),
  OUTPUT_LAYERNORM_WEIGHT("output.LayerNorm.weight", Dim.HIDDEN),
  OUTPUT_LAYERNORM_BIAS("output.LayerNorm.bias", Dim.HIDDEN);

  /** Prefix of every layer tensor name. */
  public static final String LAYER_PREFIX = "encoder.layer.";

  private enum Dim {
    HIDDEN,
    INTERMEDIATE
  }

  private final String suffix;
  private final Dim[] dims;

  LayerParam(String suffix, Dim... dims) {
    this.suffix = suffix;
    this.dims = dims;
  }

  /** The name after {@code encoder.layer.<i>.}, e.g. {@code attention.self.query.weight}. */
  public String suffix() {
    return suffix;
  }

  /**
   * Full Hugging Face name in layer {@code layer}, e.g. {@code encoder.layer.3.output.dense.bias}.
   */
  public String nameIn(int layer) {
    return LAYER_PREFIX + layer + "." + suffix;
  }

  /** The expected shape under {@code config}. */
  public int[] shape(EncoderConfig config) {
    int[] shape = new int[dims.length];
    for (int i = 0; i < dims.length; i++) {
      shape[i] = dims[i] == Dim.HIDDEN ? config.hidden() : config.intermediateSize();
    }
    return shape;
  }

  /** True for matrices, false for vectors (biases, layernorm gamma and beta). */
  public boolean isMatrix() {
    return dims.length == 2;
  }

  /** The parameter whose suffix is {@code suffix}, or null. */
  public static LayerParam fromSuffix(String suffix) {
    for (LayerParam p : values()) {
      if (p.suffix.equals(suffix)) {
        return p;
      }
    }
    return null;
  }
}
