package org.ft4j.encoder;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

/**
 * The FP32 host copy of every layer tensor of an encoder, keyed by Hugging Face BERT names ({@code
 * encoder.layer.<i>.attention.self.query.weight}, ...; see {@link LayerParam}). Immutable once
 * built; the arrays handed out are the stored ones and must not be modified.
 *
 * <p>{@link Builder#build()} checks that every tensor of every layer is present exactly once, has
 * the shape the config implies and holds only finite values; each failure names the tensor.
 */
public final class EncoderWeights {
  private final EncoderConfig config;
  private final float[][][] tensors; // [layer][LayerParam.ordinal()] -> row-major data

  private EncoderWeights(EncoderConfig config, float[][][] tensors) {
    this.config = config;
    this.tensors = tensors;
  }

  public EncoderConfig config() {
    return config;
  }

  /**
   * A copy of the row-major data of {@code param} in {@code layer} (shape {@link
   * LayerParam#shape}).
   */
  public float[] get(int layer, LayerParam param) {
    if (layer < 0 || layer >= config.layers()) {
      throw new IndexOutOfBoundsException(
          "layer " + layer + " out of range [0, " + config.layers() + ")");
    }
    return tensors[layer][param.ordinal()].clone();
  }

  /**
   * The data of {@code params} in {@code layer}, one after the other (the query, key and value
   * weights stacked into the [3 hidden, hidden] QKV weight, say).
   */
  public float[] stacked(int layer, LayerParam... params) {
    long n = 0;
    for (LayerParam p : params) {
      long size = 1;
      for (int dim : p.shape(config)) {
        size *= dim;
      }
      n += size;
    }
    if (n > Integer.MAX_VALUE - 8) {
      throw new IllegalArgumentException("stacked tensor of " + n + " values is too large");
    }
    float[] out = new float[(int) n];
    int at = 0;
    for (LayerParam p : params) {
      float[] part = get(layer, p);
      System.arraycopy(part, 0, out, at, part.length);
      at += part.length;
    }
    return out;
  }

  /** A copy of the data of the tensor named {@code name} (a Hugging Face layer tensor name). */
  public float[] get(String name) {
    ParsedName parsed = ParsedName.parse(name, config.layers());
    return get(parsed.layer, parsed.param);
  }

  /** Same weights under another precision or eps (the host copy stays FP32). */
  public EncoderWeights withConfig(EncoderConfig other) {
    if (other.layers() != config.layers()
        || other.hidden() != config.hidden()
        || other.heads() != config.heads()
        || other.intermediateSize() != config.intermediateSize()) {
      throw new IllegalArgumentException(
          "weights were built for " + describe(config) + ", not " + describe(other));
    }
    return new EncoderWeights(other, tensors);
  }

  public static Builder builder(EncoderConfig config) {
    return new Builder(config);
  }

  /**
   * Random weights for benchmarks and tests: matrices uniform in ±1/sqrt(in_features) (activations
   * keep their scale through the layers), biases and layernorm beta uniform in ±0.1, layernorm
   * gamma uniform in [0.9, 1.1]. Deterministic for a given seed.
   */
  public static EncoderWeights random(EncoderConfig config, long seed) {
    SplittableRandom random = new SplittableRandom(seed);
    Builder b = builder(config);
    for (int layer = 0; layer < config.layers(); layer++) {
      for (LayerParam p : LayerParam.values()) {
        int[] shape = p.shape(config);
        float[] data = new float[Math.multiplyExact(shape[0], shape.length == 2 ? shape[1] : 1)];
        if (p.isMatrix()) {
          fillUniform(random, data, -1 / Math.sqrt(shape[1]), 1 / Math.sqrt(shape[1]));
        } else if (p == LayerParam.ATTENTION_LAYERNORM_WEIGHT
            || p == LayerParam.OUTPUT_LAYERNORM_WEIGHT) {
          fillUniform(random, data, 0.9, 1.1);
        } else {
          fillUniform(random, data, -0.1, 0.1);
        }
        b.put(p.nameIn(layer), data, shape);
      }
    }
    return b.build();
  }

  private static void fillUniform(SplittableRandom random, float[] data, double lo, double hi) {
    for (int i = 0; i < data.length; i++) {
      data[i] = (float) random.nextDouble(lo, hi);
    }
  }

  static String describe(EncoderConfig c) {
    return c.layers()
        + " layers, hidden "
        + c.hidden()
        + " ("
        + c.heads()
        + " heads x "
        + c.sizePerHead()
        + "), intermediate "
        + c.intermediateSize();
  }

  /** Collects named tensors; {@link #build()} validates the whole set. */
  public static final class Builder {
    private final EncoderConfig config;
    private final float[][][] tensors;

    private Builder(EncoderConfig config) {
      if (config == null) {
        throw new IllegalArgumentException("config is null");
      }
      this.config = config;
      this.tensors = new float[config.layers()][LayerParam.values().length][];
    }

    /**
     * Adds (a copy of) the tensor {@code name} with row-major {@code values} of the given shape.
     * Checks the name, the shape against the config, the data length and that every value is
     * finite.
     */
    public Builder put(String name, float[] values, int... shape) {
      ParsedName parsed = ParsedName.parse(name, config.layers());
      if (values == null) {
        throw new IllegalArgumentException("tensor " + name + ": data is null");
      }
      // Own copy: the weights stay immutable whatever the caller does with its array later, and
      // the checks below see exactly the values that are kept.
      float[] data = values.clone();
      int[] expected = parsed.param.shape(config);
      if (!Arrays.equals(expected, shape)) {
        throw new IllegalArgumentException(
            "tensor "
                + name
                + ": shape "
                + Arrays.toString(shape)
                + ", expected "
                + Arrays.toString(expected)
                + " for "
                + describe(config));
      }
      long elements = 1;
      for (int d : expected) {
        elements *= d;
      }
      if (data.length != elements) {
        throw new IllegalArgumentException(
            "tensor "
                + name
                + ": "
                + data.length
                + " values for shape "
                + Arrays.toString(shape)
                + " ("
                + elements
                + " expected)");
      }
      for (int i = 0; i < data.length; i++) {
        if (!Float.isFinite(data[i])) {
          throw new IllegalArgumentException(
              "tensor " + name + ": value " + data[i] + " at flat index " + i + " is not finite");
        }
      }
      if (tensors[parsed.layer][parsed.param.ordinal()] != null) {
        throw new IllegalArgumentException("tensor " + name + " given twice");
      }
      tensors[parsed.layer][parsed.param.ordinal()] = data;
      return this;
    }

    /** Validates completeness and returns the immutable weights. */
    public EncoderWeights build() {
      List<String> missing = new ArrayList<>();
      for (int layer = 0; layer < config.layers(); layer++) {
        for (LayerParam p : LayerParam.values()) {
          if (tensors[layer][p.ordinal()] == null) {
            missing.add(p.nameIn(layer));
          }
        }
      }
      if (!missing.isEmpty()) {
        String shown = String.join(", ", missing.subList(0, Math.min(8, missing.size())));
        throw new IllegalArgumentException(
            missing.size()
                + " missing weight tensor(s) for "
                + describe(config)
                + ": "
                + shown
                + (missing.size() > 8 ? ", ..." : ""));
      }
      float[][][] copy = new float[tensors.length][][];
      for (int i = 0; i < tensors.length; i++) {
        copy[i] = tensors[i].clone();
      }
      return new EncoderWeights(config, copy);
    }
  }

  /** {@code encoder.layer.<i>.<suffix>} split into its layer index and parameter. */
  private record ParsedName(int layer, LayerParam param) {
    static ParsedName parse(String name, int layers) {
      if (name == null || !name.startsWith(LayerParam.LAYER_PREFIX)) {
        throw new IllegalArgumentException(
            "tensor name '"
                + name
                + "' does not start with '"
                + LayerParam.LAYER_PREFIX
                + "' (expected e.g. encoder.layer.0.attention.self.query.weight)");
      }
      String rest = name.substring(LayerParam.LAYER_PREFIX.length());
      int dot = rest.indexOf('.');
      if (dot <= 0) {
        throw new IllegalArgumentException("tensor name '" + name + "' has no layer index");
      }
      int layer;
      try {
        layer = Integer.parseInt(rest.substring(0, dot));
      } catch (NumberFormatException e) {
        throw new IllegalArgumentException(
            "tensor name '"
                + name
                + "': layer index '"
                + rest.substring(0, dot)
                + "' is not a number");
      }
      if (layer < 0 || layer >= layers) {
        throw new IllegalArgumentException(
            "tensor name '" + name + "': layer " + layer + " out of range [0, " + layers + ")");
      }
      LayerParam param = LayerParam.fromSuffix(rest.substring(dot + 1));
      if (param == null) {
        throw new IllegalArgumentException(
            "tensor name '"
                + name
                + "': unknown BERT layer tensor '"
                + rest.substring(dot + 1)
                + "'");
      }
      return new ParsedName(layer, param);
    }
  }
}
