package org.ft4j.quant;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.ByteArrayOutputStream;
import java.util.Base64;
import java.util.function.IntConsumer;
import java.util.zip.CRC32;
import java.util.zip.DataFormatException;
import java.util.zip.Deflater;
import java.util.zip.Inflater;
import org.ft4j.encoder.EncoderConfig;
import org.ft4j.encoder.EncoderWeights;
import org.ft4j.encoder.LayerParam;
import org.ft4j.reference.ActivationHook.Point;

/**
 * How a scale set's int8 weights differ from round-to-nearest: per GEMM weight of every layer, the
 * int8 value minus the round-to-nearest one (mostly 0 and ±1: 1 bit a weight after deflate), and a
 * CRC32 of the resulting int8 values. Made by {@link Gptq} at calibration time (it needs the
 * calibration inputs, so it cannot be redone when a model is loaded) and stored in the scale file
 * under {@code "weight_rounding"}; {@link Int8EncoderWeights#quantizeWeight} applies it, so the GPU
 * encoder and the CPU reference get the same weights. The CRC catches a scale set applied to
 * weights (or a smoothing) other than those it was made from.
 */
public final class WeightRounding {
  /** The GEMM weights of a layer, in file order. */
  static final LayerParam[] MATRICES = {
    LayerParam.QUERY_WEIGHT,
    LayerParam.KEY_WEIGHT,
    LayerParam.VALUE_WEIGHT,
    LayerParam.ATTENTION_OUTPUT_WEIGHT,
    LayerParam.INTERMEDIATE_WEIGHT,
    LayerParam.OUTPUT_WEIGHT
  };

  /** The keys of {@link #MATRICES} in the file. */
  static final String[] KEYS = {
    "query", "key", "value", "attention_output", "intermediate", "output"
  };

  /**
   * One weight.
   *
   * @param delta row-major [out, in]: int8 value − round-to-nearest value
   * @param crc32 CRC32 of the int8 values (as bytes, row-major)
   */
  record Tensor(byte[] delta, long crc32) {}

  private final String method;
  private final double damping;
  private final boolean actOrder;
  private final Tensor[][] tensors; // [layer][MATRICES index]

  WeightRounding(String method, double damping, boolean actOrder, Tensor[][] tensors) {
    this.method = method;
    this.damping = damping;
    this.actOrder = actOrder;
    this.tensors = tensors;
  }

  /** "gptq". */
  public String method() {
    return method;
  }

  public double damping() {
    return damping;
  }

  /** Whether GPTQ rounded the columns in activation order ({@link Gptq#activationOrder}). */
  public boolean actOrder() {
    return actOrder;
  }

  public int layers() {
    return tensors.length;
  }

  /**
   * GPTQ-rounds every GEMM weight of {@code weights}, smoothed as {@code scales} says, with the
   * calibration inputs' {@code hessians}.
   *
   * @param progress called with the number of weights done (of 6 × layers), may be null
   */
  public static WeightRounding gptq(
      EncoderWeights weights,
      ScaleSet scales,
      Hessians hessians,
      double damping,
      boolean actOrder,
      IntConsumer progress) {
    EncoderConfig config = weights.config();
    Tensor[][] t = new Tensor[config.layers()][MATRICES.length];
    int done = 0;
    for (int l = 0; l < config.layers(); l++) {
      for (int m = 0; m < MATRICES.length; m++) {
        LayerParam p = MATRICES[m];
        int[] shape = p.shape(config);
        Point input = QuantizedReference.inputOf(p);
        double[][] h = hessians.matrix(l, input);
        if (h == null) {
          throw new IllegalStateException(
              "no calibration inputs seen for layer " + l + " " + input.key());
        }
        float[] w = weights.get(l, p);
        QuantizedReference.smooth(w, shape[0], shape[1], scales.smooth(l, input));
        byte[] nearest = Int8.quantizeWeight(w, shape[0], shape[1], true).values();
        byte[] rounded = Gptq.round(w, shape[0], shape[1], h, damping, actOrder);
        byte[] delta = new byte[rounded.length];
        for (int i = 0; i < delta.length; i++) {
          delta[i] = (byte) (rounded[i] - nearest[i]);
        }
        t[l][m] = new Tensor(delta, crc(rounded));
        if (progress != null) {
          progress.accept(++done);
        }
      }
    }
    return new WeightRounding("gptq", damping, actOrder, t);
  }

  /**
   * {@code nearest} (the round-to-nearest int8 weight {@code p} of {@code layer}) with this
   * rounding applied.
   *
   * @throws ScaleSetException when the sizes differ or the result is not the weight this rounding
   *     was made for
   */
  Int8.QuantizedWeight apply(int layer, LayerParam p, Int8.QuantizedWeight nearest) {
    int m = index(p);
    if (layer < 0 || layer >= tensors.length) {
      throw new ScaleSetException(
          "weight_rounding has " + tensors.length + " layers, asked for layer " + layer);
    }
    Tensor t = tensors[layer][m];
    byte[] v = nearest.values();
    if (t.delta.length != v.length) {
      throw new ScaleSetException(
          "weight_rounding of layer "
              + layer
              + " "
              + KEYS[m]
              + " holds "
              + t.delta.length
              + " values, the weight has "
              + v.length);
    }
    byte[] out = new byte[v.length];
    for (int i = 0; i < v.length; i++) {
      int q = v[i] + t.delta[i];
      if (q < -Int8.QMAX || q > Int8.QMAX) {
        throw mismatch(layer, m, "value " + q + " at " + i + " is outside [-127, 127]");
      }
      out[i] = (byte) q;
    }
    long c = crc(out);
    if (c != t.crc32) {
      throw mismatch(layer, m, "CRC32 " + c + ", expected " + t.crc32);
    }
    return new Int8.QuantizedWeight(out, nearest.scales(), nearest.out(), nearest.in());
  }

  private static ScaleSetException mismatch(int layer, int m, String what) {
    return new ScaleSetException(
        "weight_rounding of layer "
            + layer
            + " "
            + KEYS[m]
            + " does not reproduce the int8 weight it was made for ("
            + what
            + "): the scale set was calibrated for other weights or another smoothing");
  }

  private static int index(LayerParam p) {
    for (int m = 0; m < MATRICES.length; m++) {
      if (MATRICES[m] == p) {
        return m;
      }
    }
    throw new IllegalArgumentException(p + " is not a GEMM weight");
  }

  static long crc(byte[] b) {
    CRC32 c = new CRC32();
    c.update(b);
    return c.getValue();
  }

  // ------------------------------------------------------------------ file

  /** Writes this rounding as {@code "weight_rounding"} into {@code root}. */
  void write(ObjectNode root) {
    ObjectNode node = root.putObject("weight_rounding");
    node.put("method", method);
    node.put("damping", damping);
    node.put("act_order", actOrder);
    node.put(
        "encoding",
        "per weight: base64 of the deflated (zlib) int8 differences to round-to-nearest,"
            + " row-major [out, in]; crc32 of the resulting int8 values");
    ArrayNode layersNode = node.putArray("layers");
    for (Tensor[] layer : tensors) {
      ObjectNode l = layersNode.addObject();
      for (int m = 0; m < MATRICES.length; m++) {
        ObjectNode w = l.putObject(KEYS[m]);
        w.put("crc32", layer[m].crc32);
        w.put("delta", Base64.getEncoder().encodeToString(deflate(layer[m].delta)));
      }
    }
  }

  /**
   * Reads {@code "weight_rounding"} of a scale file, or null when absent; sizes are checked against
   * the model shape.
   */
  static WeightRounding read(
      JsonNode root, String source, int layers, int hidden, int intermediate) {
    JsonNode node = root.get("weight_rounding");
    if (node == null) {
      return null;
    }
    String where = source + ": weight_rounding";
    if (!node.isObject()) {
      throw new ScaleSetException(where + " must be an object");
    }
    JsonNode method = node.get("method");
    if (method == null || !method.isTextual()) {
      throw new ScaleSetException(where + ".method must be a string");
    }
    JsonNode damping = node.get("damping");
    double d = damping != null && damping.isNumber() ? damping.asDouble() : Double.NaN;
    JsonNode ls = node.get("layers");
    if (ls == null || !ls.isArray() || ls.size() != layers) {
      throw new ScaleSetException(
          where + ".layers must be an array of " + layers + " objects (one per layer)");
    }
    Tensor[][] t = new Tensor[layers][MATRICES.length];
    for (int l = 0; l < layers; l++) {
      JsonNode layer = ls.get(l);
      for (int m = 0; m < MATRICES.length; m++) {
        String at = where + ".layers[" + l + "]." + KEYS[m];
        JsonNode w = layer.get(KEYS[m]);
        if (w == null || !w.isObject()) {
          throw new ScaleSetException(at + " is missing");
        }
        JsonNode crc = w.get("crc32");
        JsonNode delta = w.get("delta");
        if (crc == null || !crc.isIntegralNumber() || crc.asLong() < 0) {
          throw new ScaleSetException(at + ".crc32 must be a non-negative integer");
        }
        if (delta == null || !delta.isTextual()) {
          throw new ScaleSetException(at + ".delta must be a base64 string");
        }
        int n = size(MATRICES[m], hidden, intermediate);
        byte[] bytes;
        try {
          bytes = inflate(Base64.getDecoder().decode(delta.asText()), n);
        } catch (IllegalArgumentException e) {
          throw new ScaleSetException(at + ".delta: " + e.getMessage(), e);
        }
        t[l][m] = new Tensor(bytes, crc.asLong());
      }
    }
    JsonNode order = node.get("act_order");
    return new WeightRounding(method.asText(), d, order != null && order.asBoolean(), t);
  }

  private static int size(LayerParam p, int hidden, int intermediate) {
    return switch (p) {
      case INTERMEDIATE_WEIGHT, OUTPUT_WEIGHT -> hidden * intermediate;
      default -> hidden * hidden;
    };
  }

  static byte[] deflate(byte[] b) {
    Deflater d = new Deflater(Deflater.BEST_COMPRESSION);
    try {
      d.setInput(b);
      d.finish();
      ByteArrayOutputStream out = new ByteArrayOutputStream(b.length / 4 + 64);
      byte[] buf = new byte[1 << 16];
      while (!d.finished()) {
        out.write(buf, 0, d.deflate(buf));
      }
      return out.toByteArray();
    } finally {
      d.end();
    }
  }

  /** Inflates exactly {@code expected} bytes; anything else is an IllegalArgumentException. */
  static byte[] inflate(byte[] b, int expected) {
    Inflater in = new Inflater();
    try {
      in.setInput(b);
      byte[] out = new byte[expected];
      int n = 0;
      while (n < expected && !in.finished()) {
        int k = in.inflate(out, n, expected - n);
        if (k == 0 && (in.needsInput() || in.needsDictionary())) {
          break;
        }
        n += k;
      }
      if (n == expected && !in.finished()) {
        // the end of the stream may still be unread: one more byte must not come out
        if (in.inflate(new byte[1]) > 0) {
          throw new IllegalArgumentException(
              "holds more than " + expected + " values after inflating");
        }
      }
      if (n != expected || !in.finished()) {
        throw new IllegalArgumentException(
            "holds " + n + " values after inflating (or is cut short), expected " + expected);
      }
      return out;
    } catch (DataFormatException e) {
      throw new IllegalArgumentException("not zlib data: " + e.getMessage(), e);
    } finally {
      in.end();
    }
  }
}
