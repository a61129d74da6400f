package org.ft4j.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.ft4j.encoder.Precision;
import org.ft4j.quant.ScaleSet;
import org.ft4j.quant.ScaleSetException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Where INT8 scales are looked for, and the shipped scale sets of the embedded models. */
class Int8ScalesTest {
  @TempDir Path tmp;

  @Test
  void defaultPathsSitNextToTheModel() throws IOException {
    Path dir = Files.createDirectories(tmp.resolve("bert"));
    assertEquals(dir.resolve("ft4j-int8-scales.json"), Int8Scales.defaultPath(dir.toString(), tmp));
    Path file = Files.writeString(tmp.resolve("model.onnx"), "x");
    assertEquals(
        tmp.resolve("model.ft4j-int8-scales.json"), Int8Scales.defaultPath(file.toString(), tmp));
    assertEquals(
        tmp.resolve("bge-small.ft4j-int8-scales.json"), Int8Scales.defaultPath("BGE-small", tmp));
  }

  @Test
  void shippedScalesFitTheEmbeddedModels() {
    for (String name : ModelLoader.EMBEDDED) {
      ScaleSet s = Int8Scales.load(name, null, tmp); // nothing in tmp: the shipped set
      assertTrue(s.source().contains("calibration-en.jsonl"), s.source());
      Model m = ModelLoader.load(name);
      s.require(m.encoder().config(), Precision.INT8_MODE_1);
      s.require(m.encoder().config(), Precision.INT8_MODE_2);
    }
  }

  @Test
  void aFileInTheWorkingDirectoryBeatsTheShippedOne() throws IOException {
    ScaleSet shipped = Int8Scales.load("minilm", null, tmp);
    double[][] amax = new double[org.ft4j.reference.ActivationHook.Point.values().length][];
    amax[0] = new double[6];
    java.util.Arrays.fill(amax[0], 7.0);
    ScaleSet mine = new ScaleSet(6, 384, 1536, "max", "mine", amax);
    mine.write(tmp.resolve("minilm.ft4j-int8-scales.json"));
    assertEquals("mine", Int8Scales.load("minilm", null, tmp).source());
    assertTrue(!shipped.source().equals("mine"));
  }

  @Test
  void missingScalesNameEveryPlaceLookedAt() throws IOException {
    Path dir = Files.createDirectories(tmp.resolve("bert"));
    ScaleSetException e =
        assertThrows(ScaleSetException.class, () -> Int8Scales.load(dir.toString(), null, tmp));
    assertTrue(e.getMessage().contains(dir.resolve("ft4j-int8-scales.json").toString()));
    assertTrue(e.getMessage().contains("ft4j calibrate --model " + dir), e.getMessage());
    e =
        assertThrows(
            ScaleSetException.class,
            () -> Int8Scales.load("minilm", tmp.resolve("nope.json"), tmp));
    assertTrue(e.getMessage().contains("nope.json does not exist"), e.getMessage());
  }
}
