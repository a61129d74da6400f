package org.ft4j.quant;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import org.ft4j.encoder.EncoderConfig;
import org.ft4j.encoder.Precision;
import org.ft4j.reference.ActivationHook.Point;

/**
 * The activation amax of every quantization point of every layer of one model: what INT8 inference
 * needs besides the weights (weight scales come from the weights themselves, see {@link Int8}).
 * Immutable. Stored as JSON, format {@value #FORMAT}, documented in docs/int8.md:
 *
 * <pre>{@code
 * {
 *   "format": "ft4j-int8-scales 1",
 *   "model": {"layers": 6, "hidden": 384, "intermediate": 1536},
 *   "method": "percentile 99.99",
 *   "source": "ft4j calibrate --model minilm --data calibration.jsonl: 512 texts, 9731 tokens",
 *   "amax": {
 *     "qkv_in":  [5.2, 6.1, ...],      one finite value > 0 per layer
 *     "q_out":   [...], ...
 *   }
 * }
 * }</pre>
 *
 * Mode 1 needs the four GEMM inputs (qkv_in, attn_out_in, ffn1_in, ffn2_in); mode 2 all ten points.
 * A file may hold only what its mode needs ({@link #require}).
 */
public final class ScaleSet {
  /** The value of the "format" field. */
  public static final String FORMAT = "ft4j-int8-scales 1";

  private static final ObjectMapper JSON =
      new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

  private final int layers;
  private final int hidden;
  private final int intermediate;
  private final String method;
  private final String source;
  private final double[][] amax; // [point][layer], null row = absent
  private final double[][][] smooth; // [point][layer][channel] for GEMM inputs, null = none
  private final double[][][] channelAmax; // [point][layer][channel], null = per tensor only
  private WeightRounding weightRounding; // null = round-to-nearest; set once, by withWeightRounding
  private boolean ffn2OutTokenScaled; // set once, by withFfn2OutTokenScaled

  /** A scale set with per-tensor amax only (no smoothing, no per-channel amax). */
  public ScaleSet(
      int layers, int hidden, int intermediate, String method, String source, double[][] amax) {
    this(layers, hidden, intermediate, method, source, amax, null, null);
  }

  /**
   * @param amax [Point.ordinal()][layer]: the per-tensor amax (of the smoothed values for a GEMM
   *     input with smoothing); a point's row may be null (absent)
   * @param smooth null, or [Point.ordinal()][layer][channel]: for GEMM inputs, the factors s_c the
   *     input is divided by (and the weight's input columns multiplied by) before quantization;
   *     null rows for points without smoothing
   * @param channelAmax null, or [Point.ordinal()][layer][channel]: per-channel amax of GEMM outputs
   *     that mode 2 quantizes per channel; null rows elsewhere
   */
  public ScaleSet(
      int layers,
      int hidden,
      int intermediate,
      String method,
      String source,
      double[][] amax,
      double[][][] smooth,
      double[][][] channelAmax) {
    if (layers < 1 || hidden < 1 || intermediate < 1) {
      throw new IllegalArgumentException(
          "layers, hidden and intermediate must be >= 1: "
              + layers
              + ", "
              + hidden
              + ", "
              + intermediate);
    }
    if (amax.length != Point.values().length) {
      throw new IllegalArgumentException(
          "amax has " + amax.length + " points, expected " + Point.values().length);
    }
    this.layers = layers;
    this.hidden = hidden;
    this.intermediate = intermediate;
    this.method = method == null ? "" : method;
    this.source = source == null ? "" : source;
    this.amax = new double[amax.length][];
    for (Point p : Point.values()) {
      double[] row = amax[p.ordinal()];
      if (row == null) {
        continue;
      }
      if (row.length != layers) {
        throw new IllegalArgumentException(
            "amax of " + p.key() + " has " + row.length + " values, expected " + layers);
      }
      for (int l = 0; l < layers; l++) {
        checkValue(row[l], p.key() + "[" + l + "]");
      }
      this.amax[p.ordinal()] = row.clone();
    }
    this.smooth = vectors("smooth", smooth, true);
    this.channelAmax = vectors("channel_amax", channelAmax, false);
  }

  /**
   * This scale set with its int8 weights rounded as {@code rounding} says (GPTQ) instead of to
   * nearest; null = round-to-nearest.
   *
   * @throws IllegalArgumentException when the rounding has another number of layers
   */
  public ScaleSet withWeightRounding(WeightRounding rounding) {
    if (rounding != null && rounding.layers() != layers) {
      throw new IllegalArgumentException(
          "weight rounding of " + rounding.layers() + " layers for a scale set of " + layers);
    }
    ScaleSet s = copy();
    s.weightRounding = rounding;
    return s;
  }

  private ScaleSet copy() {
    ScaleSet s =
        new ScaleSet(layers, hidden, intermediate, method, source, amax, smooth, channelAmax);
    s.weightRounding = weightRounding;
    s.ffn2OutTokenScaled = ffn2OutTokenScaled;
    return s;
  }

  /**
   * This scale set with ffn2_out (INT8 mode 2's FFN2 output) quantized per token as well as per
   * channel: its unit at row r, column c is step_r · channel_amax[c] / 127, step_r the per-token
   * step (row amax / 127) of the same rows of ffn2_in, so {@link #channelAmax} of ffn2_out holds
   * the amax of y / step_r. The GEMM epilogue gets that for free (it quantizes acc · w_c, leaving
   * out the row scale). Measured on MiniLM (docs/int8.md): mode 2 mean cosine 0.99851 → 0.99897.
   *
   * @throws IllegalArgumentException without per-channel amax of ffn2_out
   */
  public ScaleSet withFfn2OutTokenScaled(boolean tokenScaled) {
    if (tokenScaled && channelAmax[Point.FFN2_OUT.ordinal()] == null) {
      throw new IllegalArgumentException(
          "ffn2_out scaled per token needs its per-channel amax (channel_amax.ffn2_out)");
    }
    ScaleSet s = copy();
    s.ffn2OutTokenScaled = tokenScaled;
    return s;
  }

  /** Whether ffn2_out is quantized per token and channel ({@link #withFfn2OutTokenScaled}). */
  public boolean ffn2OutTokenScaled() {
    return ffn2OutTokenScaled;
  }

  /** How the int8 weights are rounded: null = to nearest, else e.g. GPTQ's choice. */
  public WeightRounding weightRounding() {
    return weightRounding;
  }

  /** The number of channels (columns) of the activations at {@code p}. */
  public int channels(Point p) {
    return switch (p) {
      case FFN2_IN, FFN1_OUT -> intermediate;
      default -> hidden;
    };
  }

  private double[][][] vectors(String what, double[][][] v, boolean inputs) {
    if (v == null) {
      return new double[Point.values().length][][];
    }
    if (v.length != Point.values().length) {
      throw new IllegalArgumentException(
          what + " has " + v.length + " points, expected " + Point.values().length);
    }
    double[][][] copy = new double[v.length][][];
    for (Point p : Point.values()) {
      double[][] rows = v[p.ordinal()];
      if (rows == null) {
        continue;
      }
      if (inputs != p.isGemmInput()) {
        throw new IllegalArgumentException(
            what
                + " is given for "
                + p.key()
                + ", which is not a GEMM "
                + (inputs ? "input" : "output"));
      }
      if (rows.length != layers) {
        throw new IllegalArgumentException(
            what + "." + p.key() + " has " + rows.length + " layers, expected " + layers);
      }
      copy[p.ordinal()] = new double[layers][];
      for (int l = 0; l < layers; l++) {
        if (rows[l] == null || rows[l].length != channels(p)) {
          throw new IllegalArgumentException(
              what
                  + "."
                  + p.key()
                  + "["
                  + l
                  + "] has "
                  + (rows[l] == null ? "no" : String.valueOf(rows[l].length))
                  + " values, expected "
                  + channels(p)
                  + " (one per channel)");
        }
        for (int c = 0; c < rows[l].length; c++) {
          checkValue(rows[l][c], what + "." + p.key() + "[" + l + "][" + c + "]");
        }
        copy[p.ordinal()][l] = rows[l].clone();
      }
    }
    return copy;
  }

  /** The smoothing factors of GEMM input {@code p} in {@code layer}, or null when not smoothed. */
  public double[] smooth(int layer, Point p) {
    double[][] rows = smooth[p.ordinal()];
    return rows == null ? null : rows[layer].clone();
  }

  /** The per-channel amax of GEMM output {@code p} in {@code layer}, or null when per tensor. */
  public double[] channelAmax(int layer, Point p) {
    double[][] rows = channelAmax[p.ordinal()];
    return rows == null ? null : rows[layer].clone();
  }

  private static void checkValue(double v, String where) {
    if (!(v > 0) || Double.isInfinite(v)) {
      throw new IllegalArgumentException("amax " + where + " = " + v + ", must be finite and > 0");
    }
  }

  public int layers() {
    return layers;
  }

  public int hidden() {
    return hidden;
  }

  public int intermediate() {
    return intermediate;
  }

  /** The calibration method's label ({@link CalibrationMethod#label()}), or "" if unknown. */
  public String method() {
    return method;
  }

  /** Free text saying where the scales came from. */
  public String source() {
    return source;
  }

  public boolean has(Point p) {
    return amax[p.ordinal()] != null;
  }

  /** The amax of {@code point} in {@code layer}. */
  public double amax(int layer, Point point) {
    double[] row = amax[point.ordinal()];
    if (row == null) {
      throw new ScaleSetException("the scale set has no amax for " + point.key());
    }
    if (layer < 0 || layer >= layers) {
      throw new IndexOutOfBoundsException("layer " + layer + " out of range [0, " + layers + ")");
    }
    return row[layer];
  }

  /** The points an INT8 mode quantizes: the GEMM inputs for mode 1, every point for mode 2. */
  public static List<Point> pointsOf(Precision mode) {
    return switch (mode) {
      case INT8_MODE_1 -> Arrays.stream(Point.values()).filter(Point::isGemmInput).toList();
      case INT8_MODE_2 -> List.of(Point.values());
      default ->
          throw new IllegalArgumentException(
              "precision " + mode.label() + " is not an INT8 mode (int8-1 or int8-2)");
    };
  }

  /**
   * Checks that these scales fit {@code config} and hold every point {@code mode} needs; the
   * exception names what is missing or different.
   */
  public void require(EncoderConfig config, Precision mode) {
    if (config.layers() != layers
        || config.hidden() != hidden
        || config.intermediateSize() != intermediate) {
      throw new ScaleSetException(
          "INT8 scales were made for a model with "
              + layers
              + " layers, hidden "
              + hidden
              + ", intermediate "
              + intermediate
              + "; this model has "
              + config.layers()
              + " layers, hidden "
              + config.hidden()
              + ", intermediate "
              + config.intermediateSize()
              + " (calibrate this model with `ft4j calibrate`)");
    }
    List<String> missing = new ArrayList<>();
    for (Point p : pointsOf(mode)) {
      if (!has(p)) {
        missing.add(p.key());
      }
    }
    if (!missing.isEmpty()) {
      throw new ScaleSetException(
          "INT8 "
              + mode.label()
              + " needs amax for "
              + String.join(", ", missing)
              + ", missing from the scale set ("
              + (source.isEmpty() ? "no source recorded" : source)
              + ")");
    }
  }

  // ------------------------------------------------------------------ file

  /** The JSON text. */
  public String toJson() {
    ObjectNode root = JSON.createObjectNode();
    root.put("format", FORMAT);
    ObjectNode model = root.putObject("model");
    model.put("layers", layers);
    model.put("hidden", hidden);
    model.put("intermediate", intermediate);
    root.put("method", method);
    root.put("source", source);
    ObjectNode a = root.putObject("amax");
    for (Point p : Point.values()) {
      double[] row = amax[p.ordinal()];
      if (row != null) {
        ArrayNode arr = a.putArray(p.key());
        for (double v : row) {
          arr.add(v);
        }
      }
    }
    writeVectors(root, "smooth", smooth);
    writeVectors(root, "channel_amax", channelAmax);
    if (ffn2OutTokenScaled) {
      root.putArray("token_scaled").add(Point.FFN2_OUT.key());
    }
    if (weightRounding != null) {
      weightRounding.write(root);
    }
    try {
      return JSON.writeValueAsString(root) + "\n";
    } catch (JsonProcessingException e) {
      throw new IllegalStateException(e);
    }
  }

  private static void writeVectors(ObjectNode root, String name, double[][][] v) {
    ObjectNode node = null;
    for (Point p : Point.values()) {
      double[][] rows = v[p.ordinal()];
      if (rows == null) {
        continue;
      }
      if (node == null) {
        node = root.putObject(name);
      }
      ArrayNode layersNode = node.putArray(p.key());
      for (double[] row : rows) {
        ArrayNode arr = layersNode.addArray();
        for (double x : row) {
          arr.add(x);
        }
      }
    }
  }

  /** Writes the file atomically (temporary file + rename), creating parent folders. */
  public void write(Path file) throws IOException {
    Path dir = file.toAbsolutePath().getParent();
    Files.createDirectories(dir);
    Path tmp = dir.resolve(file.getFileName() + ".tmp");
    Files.writeString(tmp, toJson(), StandardCharsets.UTF_8);
    try {
      Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    } catch (AtomicMoveNotSupportedException e) {
      Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING);
    }
  }

  /** Reads a scale file; every problem is a {@link ScaleSetException} naming the file and key. */
  public static ScaleSet read(Path file) {
    String text;
    try {
      text = Files.readString(file, StandardCharsets.UTF_8);
    } catch (IOException | RuntimeException e) {
      throw new ScaleSetException(file + ": cannot read INT8 scale file: " + e, e);
    }
    return parse(file.toString(), text);
  }

  /** Parses a scale file's text; {@code source} names it in errors. */
  public static ScaleSet parse(String source, String text) {
    JsonNode root;
    try {
      root = JSON.readTree(text);
    } catch (JsonProcessingException e) {
      throw new ScaleSetException(
          source
              + ":"
              + e.getLocation().getLineNr()
              + ": not valid JSON: "
              + e.getOriginalMessage(),
          e);
    }
    if (root == null || !root.isObject()) {
      throw new ScaleSetException(source + ": not a JSON object (an ft4j INT8 scale file)");
    }
    String format = text(root, "format", source);
    if (!format.equals(FORMAT)) {
      throw new ScaleSetException(
          source + ": \"format\" is '" + format + "', expected '" + FORMAT + "'");
    }
    JsonNode model = root.get("model");
    if (model == null || !model.isObject()) {
      throw new ScaleSetException(
          source + ": \"model\" must be an object with layers, hidden and intermediate");
    }
    int layers = positiveInt(model, "layers", source);
    int hidden = positiveInt(model, "hidden", source);
    int intermediate = positiveInt(model, "intermediate", source);
    String method = root.has("method") ? text(root, "method", source) : "";
    String from = root.has("source") ? text(root, "source", source) : "";
    JsonNode a = root.get("amax");
    if (a == null || !a.isObject()) {
      throw new ScaleSetException(source + ": \"amax\" must be an object of per-layer arrays");
    }
    double[][] amax = new double[Point.values().length][];
    for (Iterator<String> it = a.fieldNames(); it.hasNext(); ) {
      String key = it.next();
      Point p;
      try {
        p = Point.fromKey(key);
      } catch (IllegalArgumentException e) {
        throw new ScaleSetException(source + ": amax." + key + ": " + e.getMessage());
      }
      JsonNode arr = a.get(key);
      if (!arr.isArray() || arr.size() != layers) {
        throw new ScaleSetException(
            source
                + ": amax."
                + key
                + " must be an array of "
                + layers
                + " numbers (one per layer), found "
                + (arr.isArray() ? arr.size() + " values" : arr.getNodeType().toString()));
      }
      double[] row = new double[layers];
      for (int l = 0; l < layers; l++) {
        JsonNode v = arr.get(l);
        if (!v.isNumber()) {
          throw new ScaleSetException(
              source + ": amax." + key + "[" + l + "] = " + v + " is not a number");
        }
        row[l] = v.asDouble();
        if (!(row[l] > 0) || Double.isInfinite(row[l])) {
          throw new ScaleSetException(
              source + ": amax." + key + "[" + l + "] = " + v + ", must be finite and > 0");
        }
      }
      amax[p.ordinal()] = row;
    }
    double[][][] smooth = readVectors(root, "smooth", source, layers);
    double[][][] channelAmax = readVectors(root, "channel_amax", source, layers);
    WeightRounding rounding = WeightRounding.read(root, source, layers, hidden, intermediate);
    boolean tokenScaled = false;
    JsonNode ts = root.get("token_scaled");
    if (ts != null) {
      if (!ts.isArray()) {
        throw new ScaleSetException(source + ": \"token_scaled\" must be an array of point names");
      }
      for (JsonNode n : ts) {
        if (!n.isTextual() || !n.asText().equals(Point.FFN2_OUT.key())) {
          throw new ScaleSetException(
              source
                  + ": token_scaled: "
                  + n
                  + " is not supported (only \""
                  + Point.FFN2_OUT.key()
                  + "\" can be scaled per token)");
        }
        tokenScaled = true;
      }
    }
    try {
      return new ScaleSet(layers, hidden, intermediate, method, from, amax, smooth, channelAmax)
          .withWeightRounding(rounding)
          .withFfn2OutTokenScaled(tokenScaled);
    } catch (IllegalArgumentException e) {
      throw new ScaleSetException(source + ": " + e.getMessage(), e);
    }
  }

  private static double[][][] readVectors(JsonNode root, String name, String source, int layers) {
    JsonNode node = root.get(name);
    if (node == null) {
      return null;
    }
    if (!node.isObject()) {
      throw new ScaleSetException(
          source
              + ": \""
              + name
              + "\" must be an object of per-layer arrays of per-channel values");
    }
    double[][][] v = new double[Point.values().length][][];
    for (Iterator<String> it = node.fieldNames(); it.hasNext(); ) {
      String key = it.next();
      Point p;
      try {
        p = Point.fromKey(key);
      } catch (IllegalArgumentException e) {
        throw new ScaleSetException(source + ": " + name + "." + key + ": " + e.getMessage());
      }
      JsonNode arr = node.get(key);
      if (!arr.isArray() || arr.size() != layers) {
        throw new ScaleSetException(
            source + ": " + name + "." + key + " must be an array of " + layers + " arrays");
      }
      double[][] rows = new double[layers][];
      for (int l = 0; l < layers; l++) {
        JsonNode row = arr.get(l);
        if (!row.isArray()) {
          throw new ScaleSetException(
              source + ": " + name + "." + key + "[" + l + "] is not an array");
        }
        rows[l] = new double[row.size()];
        for (int c = 0; c < row.size(); c++) {
          if (!row.get(c).isNumber()) {
            throw new ScaleSetException(
                source
                    + ": "
                    + name
                    + "."
                    + key
                    + "["
                    + l
                    + "]["
                    + c
                    + "] = "
                    + row.get(c)
                    + " is not a number");
          }
          rows[l][c] = row.get(c).asDouble();
        }
      }
      v[p.ordinal()] = rows;
    }
    return v;
  }

  private static String text(JsonNode n, String key, String source) {
    JsonNode v = n.get(key);
    if (v == null || !v.isTextual()) {
      throw new ScaleSetException(source + ": \"" + key + "\" must be a string");
    }
    return v.asText();
  }

  private static int positiveInt(JsonNode n, String key, String source) {
    JsonNode v = n.get(key);
    if (v == null || !v.canConvertToInt() || !v.isIntegralNumber() || v.asInt() < 1) {
      throw new ScaleSetException(
          source + ": model." + key + " must be an integer >= 1, found " + v);
    }
    return v.asInt();
  }
}
