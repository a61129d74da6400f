package org.ft4j.quant;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.ft4j.encoder.EncoderConfig;
import org.ft4j.encoder.Precision;
import org.ft4j.reference.ActivationHook.Point;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The INT8 scale file: round trip, validation with file/key/index, fit to a model and mode. */
class ScaleSetTest {
  static final int LAYERS = 2;
  static final int HIDDEN = 4;
  static final int INTER = 8;

  @TempDir Path tmp;

  static ScaleSet full() {
    double[][] amax = new double[Point.values().length][LAYERS];
    for (Point p : Point.values()) {
      for (int l = 0; l < LAYERS; l++) {
        amax[p.ordinal()][l] = 1 + p.ordinal() + 0.5 * l;
      }
    }
    double[][][] smooth = new double[Point.values().length][][];
    smooth[Point.QKV_IN.ordinal()] = new double[][] {{1, 2, 0.5, 0.25}, {3, 1, 1, 1}};
    double[][][] channel = new double[Point.values().length][][];
    channel[Point.FFN1_OUT.ordinal()] =
        new double[][] {{1, 2, 3, 4, 5, 6, 7, 8}, {8, 7, 6, 5, 4, 3, 2, 1}};
    channel[Point.FFN2_OUT.ordinal()] = new double[][] {{2, 4, 6, 8}, {1, 3, 5, 7}};
    return new ScaleSet(LAYERS, HIDDEN, INTER, "mse", "a test", amax, smooth, channel);
  }

  static double[][] amaxOnly() {
    double[][] amax = new double[Point.values().length][LAYERS];
    for (double[] row : amax) {
      java.util.Arrays.fill(row, 2.0);
    }
    return amax;
  }

  private static String text(ScaleSet s) {
    return s.toJson();
  }

  private static ScaleSetException rejected(String json) {
    return assertThrows(ScaleSetException.class, () -> ScaleSet.parse("s.json", json));
  }

  @Test
  void fileRoundTripKeepsEverything() throws IOException {
    ScaleSet s = full();
    Path f = tmp.resolve("sub/scales.json");
    s.write(f);
    ScaleSet back = ScaleSet.read(f);
    assertEquals(s.toJson(), back.toJson());
    assertEquals("mse", back.method());
    assertEquals("a test", back.source());
    assertEquals(1 + Point.FFN2_OUT.ordinal() + 0.5, back.amax(1, Point.FFN2_OUT));
    assertArrayEquals(new double[] {3, 1, 1, 1}, back.smooth(1, Point.QKV_IN));
    assertNull(back.smooth(0, Point.FFN1_IN));
    assertArrayEquals(new double[] {8, 7, 6, 5, 4, 3, 2, 1}, back.channelAmax(1, Point.FFN1_OUT));
    assertArrayEquals(new double[] {2, 4, 6, 8}, back.channelAmax(0, Point.FFN2_OUT));
    assertNull(back.channelAmax(0, Point.ATTN_OUT_OUT));
    assertTrue(Files.readString(f).contains("\"format\" : \"ft4j-int8-scales 1\""));
  }

  @Test
  void requireChecksTheModelAndTheModesPoints() {
    EncoderConfig fits = new EncoderConfig(LAYERS, 2, 2, HIDDEN, INTER, 1e-12, Precision.FP32);
    full().require(fits, Precision.INT8_MODE_1);
    full().require(fits, Precision.INT8_MODE_2);
    ScaleSetException e =
        assertThrows(
            ScaleSetException.class,
            () -> full().require(fits.withLayers(3), Precision.INT8_MODE_1));
    assertTrue(e.getMessage().contains("made for a model with 2 layers"), e.getMessage());
    assertTrue(e.getMessage().contains("this model has 3 layers"), e.getMessage());

    // a mode-1 file: the four GEMM inputs only
    double[][] amax = new double[Point.values().length][];
    for (Point p : Point.values()) {
      if (p.isGemmInput()) {
        amax[p.ordinal()] = new double[] {1, 2};
      }
    }
    ScaleSet mode1 = new ScaleSet(LAYERS, HIDDEN, INTER, "", "imported", amax);
    mode1.require(fits, Precision.INT8_MODE_1);
    e = assertThrows(ScaleSetException.class, () -> mode1.require(fits, Precision.INT8_MODE_2));
    assertTrue(
        e.getMessage()
            .contains(
                "int8-2 needs amax for q_out, k_out, v_out, attn_out_out, ffn1_out, ffn2_out"),
        e.getMessage());
    assertThrows(IllegalArgumentException.class, () -> ScaleSet.pointsOf(Precision.FP16));
  }

  @Test
  void malformedFilesAreRejectedNamingTheKey() {
    String good = text(full());
    assertTrue(rejected("{").getMessage().startsWith("s.json:1: not valid JSON"));
    assertTrue(rejected("[]").getMessage().contains("not a JSON object"));
    assertTrue(
        rejected(good.replace("ft4j-int8-scales 1", "ft4j-int8-scales 2"))
            .getMessage()
            .contains("\"format\" is 'ft4j-int8-scales 2'"));
    assertTrue(
        rejected(good.replace("\"layers\" : 2", "\"layers\" : 0"))
            .getMessage()
            .contains("model.layers must be an integer >= 1"));
    assertTrue(
        rejected(good.replace("\"qkv_in\" : [ 1.0, 1.5 ]", "\"qkv_in\" : [ 1.0 ]"))
            .getMessage()
            .contains("amax.qkv_in must be an array of 2 numbers (one per layer), found 1 values"));
    assertTrue(
        rejected(good.replace("\"qkv_in\" : [ 1.0, 1.5 ]", "\"qkv_in\" : [ 1.0, -1.5 ]"))
            .getMessage()
            .contains("amax.qkv_in[1] = -1.5, must be finite and > 0"));
    assertTrue(
        rejected(good.replace("\"qkv_in\" : [ 1.0, 1.5 ]", "\"qkv_in\" : [ 1.0, \"x\" ]"))
            .getMessage()
            .contains("amax.qkv_in[1] = \"x\" is not a number"));
    assertTrue(
        rejected(good.replace("\"q_out\" :", "\"o_proj\" :"))
            .getMessage()
            .contains("amax.o_proj: unknown quantization point 'o_proj'"));
    ScaleSetException e = rejected(good.replace("[ 3.0, 1.0, 1.0, 1.0 ]", "[ 3.0, 1.0, 1.0 ]"));
    assertTrue(
        e.getMessage().contains("smooth.qkv_in[1] has 3 values, expected 4"), e.getMessage());
    e = rejected(good.replace("[ 3.0, 1.0, 1.0, 1.0 ]", "[ 3.0, 1.0, 0.0, 1.0 ]"));
    assertTrue(e.getMessage().contains("smooth.qkv_in[1][2] = 0.0"), e.getMessage());
  }

  @Test
  void ffn2OutTokenScalingRoundTripsAndIsChecked() {
    ScaleSet plain = full();
    assertFalse(plain.ffn2OutTokenScaled());
    ScaleSet token = plain.withFfn2OutTokenScaled(true);
    assertTrue(token.ffn2OutTokenScaled());
    assertTrue(ScaleSet.parse("mem", token.toJson()).ffn2OutTokenScaled());
    assertFalse(ScaleSet.parse("mem", plain.toJson()).ffn2OutTokenScaled());
    ScaleSetException other =
        rejected(
            token
                .toJson()
                .replace(
                    "\"token_scaled\" : [ \"ffn2_out\" ]", "\"token_scaled\" : [ \"q_out\" ]"));
    assertTrue(other.getMessage().contains("q_out"), other.getMessage());
    ScaleSet noChannels = new ScaleSet(LAYERS, HIDDEN, INTER, "m", "s", amaxOnly());
    assertThrows(IllegalArgumentException.class, () -> noChannels.withFfn2OutTokenScaled(true));
  }

  @Test
  void readNamesAMissingFile() {
    ScaleSetException e =
        assertThrows(ScaleSetException.class, () -> ScaleSet.read(tmp.resolve("none.json")));
    assertTrue(e.getMessage().contains("none.json: cannot read INT8 scale file"), e.getMessage());
  }

  @Test
  void smoothingOnlyForGemmInputsAndPerChannelOnlyForOutputs() {
    double[][] amax = new double[Point.values().length][];
    double[][][] smooth = new double[Point.values().length][][];
    smooth[Point.Q_OUT.ordinal()] = new double[][] {{1, 1, 1, 1}, {1, 1, 1, 1}};
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class,
            () -> new ScaleSet(LAYERS, HIDDEN, INTER, "", "", amax, smooth, null));
    assertTrue(e.getMessage().contains("q_out, which is not a GEMM input"), e.getMessage());
    assertFalse(new ScaleSet(LAYERS, HIDDEN, INTER, "", "", amax).has(Point.QKV_IN));
    assertEquals(INTER, full().channels(Point.FFN2_IN));
    assertEquals(HIDDEN, full().channels(Point.FFN2_OUT));
  }
}
