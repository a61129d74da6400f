package org.ft4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import org.ft4j.encoder.Precision;
import org.ft4j.model.ModelLoader;
import org.ft4j.quant.ScaleSet;
import org.ft4j.reference.ActivationHook.Point;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** {@code ft4j calibrate} on the embedded MiniLM with a few texts, and its input errors. */
class CalibrateCommandTest {
  private record Result(int exit, String out, String err) {}

  @TempDir Path tmp;

  private static Result run(String... args) {
    CommandLine cl = Ft4jCli.newCommandLine();
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    cl.setOut(new PrintWriter(out));
    cl.setErr(new PrintWriter(err));
    int exit = cl.execute(args);
    return new Result(exit, out.toString(), err.toString());
  }

  @Test
  void writesAScaleFileThatFitsTheModelForBothModes() throws IOException {
    Path data = tmp.resolve("data.jsonl");
    Files.writeString(
        data,
        "{\"text\": \"The printer failed again after the update.\"}\n"
            + "\n"
            + "\"How do I reset my password?\"\n"
            + "{\"id\": 3, \"text\": \"Größenwahn und Übermut führen selten zum Glück.\"}\n"
            + "{\"text\": \"A fourth text that --max-texts leaves out.\"}\n");
    Path out = tmp.resolve("out/minilm-scales.json");
    Result r =
        run(
            "calibrate",
            "--model",
            "minilm",
            "--data",
            data.toString(),
            "--max-texts",
            "3",
            "--method",
            "mse",
            "-o",
            out.toString(),
            "--no-progress");
    assertEquals(0, r.exit(), r.err());
    assertTrue(r.out().contains("wrote " + out + ": mse over 3 texts"), r.out());
    ScaleSet s = ScaleSet.read(out);
    s.require(ModelLoader.load("minilm").encoder().config(), Precision.INT8_MODE_1);
    s.require(ModelLoader.load("minilm").encoder().config(), Precision.INT8_MODE_2);
    assertEquals("mse", s.method());
    assertTrue(s.source().contains("3 texts"), s.source());
    assertTrue(s.source().contains("smoothing alpha 0.75"), s.source());
    assertEquals(384, s.smooth(5, Point.QKV_IN).length);
    assertEquals(1536, s.smooth(0, Point.FFN2_IN).length);
    assertEquals(null, s.smooth(0, Point.ATTN_OUT_IN));
    assertEquals(384, s.channelAmax(2, Point.FFN2_OUT).length);
    assertTrue(s.ffn2OutTokenScaled());
    assertEquals("gptq", s.weightRounding().method(), "GPTQ weights by default");
    assertTrue(s.source().contains("GPTQ weights, damping 0.01"), s.source());

    Path more = tmp.resolve("more.jsonl");
    Files.writeString(more, "{\"text\": \"A second file adds this text.\"}\n");
    Path nearest = tmp.resolve("out/nearest.json");
    r =
        run(
            "calibrate",
            "--model",
            "minilm",
            "--data",
            data.toString(),
            "--data",
            more.toString(),
            "--max-texts",
            "5",
            "--weights",
            "nearest",
            "-o",
            nearest.toString(),
            "--no-progress");
    assertEquals(0, r.exit(), r.err());
    ScaleSet plain = ScaleSet.read(nearest);
    assertEquals(null, plain.weightRounding());
    // both files' texts, in order: the 4 of data.jsonl and the one of more.jsonl
    assertTrue(
        plain.source().contains("--data data.jsonl --data more.jsonl: 5 texts"), plain.source());
    assertTrue(plain.source().contains("weights rounded to nearest"), plain.source());
  }

  @Test
  void badInputIsAUsageErrorNamingTheProblem() throws IOException {
    Result r = run("calibrate", "--data", tmp.resolve("none.jsonl").toString());
    assertEquals(2, r.exit(), r.err());
    assertTrue(r.err().contains("--data " + tmp.resolve("none.jsonl") + ": no such file"), r.err());

    Path bad = tmp.resolve("bad.jsonl");
    Files.writeString(bad, "{\"text\": \"fine\"}\nnot json\n");
    r = run("calibrate", "--data", bad.toString());
    assertEquals(2, r.exit(), r.err());
    assertTrue(r.err().contains(bad + ": line 2 is not JSON"), r.err());

    Path empty = tmp.resolve("empty.jsonl");
    Files.writeString(empty, "\n\n");
    r = run("calibrate", "--data", empty.toString());
    assertEquals(2, r.exit(), r.err());
    assertTrue(r.err().contains("holds no texts"), r.err());

    Path one = tmp.resolve("one.jsonl");
    Files.writeString(one, "\"x\"\n");
    r = run("calibrate", "--data", one.toString(), "--smoothing", "1.5");
    assertEquals(2, r.exit(), r.err());
    assertTrue(r.err().contains("--smoothing = 1.5, must be in [0, 1]"), r.err());

    r = run("calibrate", "--data", one.toString(), "--gptq-damping", "0");
    assertEquals(2, r.exit(), r.err());
    assertTrue(r.err().contains("--gptq-damping = 0.0, must be in (0, 10]"), r.err());

    r = run("calibrate", "--data", one.toString(), "--weights", "round");
    assertEquals(2, r.exit(), r.err());
    assertTrue(r.err().contains("--weights"), r.err());

    r = run("calibrate", "--data", one.toString(), "--method", "entropy");
    assertEquals(2, r.exit(), r.err());
    assertTrue(r.err().contains("unknown calibration method 'entropy'"), r.err());

    r = run("calibrate", "--data", one.toString(), "--eval", one.toString());
    assertEquals(2, r.exit(), r.err());
    assertTrue(r.err().contains("comparing needs >= 2"), r.err());
  }
}
