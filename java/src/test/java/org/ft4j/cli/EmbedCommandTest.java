package org.ft4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.List;
import org.ft4j.encoder.Precision;
import org.ft4j.model.EmbeddingModel;
import org.ft4j.model.EmbeddingModel.Backend;
import org.ft4j.model.Pooling;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

class EmbedCommandTest {
  private record Result(int exit, String out, String err) {}

  private static Result run(String... args) {
    CommandLine cl = Ft4jCli.newCommandLine();
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    cl.setOut(new PrintWriter(out));
    cl.setErr(new PrintWriter(err));
    int exit = cl.execute(args);
    return new Result(exit, out.toString(), err.toString());
  }

  private static EmbedCommand parse(String... args) {
    CommandLine cl = Ft4jCli.newCommandLine();
    CommandLine.ParseResult result = cl.parseArgs(args);
    return result.subcommand().commandSpec().commandLine().getCommand();
  }

  @Test
  void defaults() {
    EmbedCommand c = parse("embed", "hello");
    assertEquals("minilm", c.model);
    assertEquals(List.of("hello"), c.texts);
    assertEquals(EmbeddingModel.Options.defaults(), c.options());
  }

  @Test
  void parsesEveryOption() {
    EmbedCommand c =
        parse(
            "embed",
            "--model",
            "bge-small",
            "--precision",
            "FP32",
            "--backend",
            "gpu",
            "--pooling",
            "cls",
            "--no-normalize",
            "--batch-size",
            "4",
            "--device",
            "1",
            "a text",
            "another");
    assertEquals("bge-small", c.model);
    assertEquals(List.of("a text", "another"), c.texts);
    assertEquals(
        new EmbeddingModel.Options(Backend.GPU, Precision.FP32, Pooling.CLS, false, 1, 4, null),
        c.options());
    assertEquals(Pooling.NONE, parse("embed", "--pooling", "none").options().pooling());
    assertEquals(Backend.CPU, parse("embed", "--backend", "CPU").options().backend());
    assertTrue(parse("embed").texts.isEmpty());
  }

  @Test
  void rejectsBadValuesAsUsageErrors() {
    Result r = run("embed", "--precision", "int4", "x");
    assertEquals(2, r.exit(), r.err());
    assertTrue(
        r.err().contains("'int4' is not a precision for embeddings (fp32, fp16, int8-1 or int8-2)"),
        r.err());

    r =
        run(
            "embed",
            "--backend",
            "cpu",
            "--precision",
            "int8-1",
            "--int8-scales",
            "/nonexistent/scales.json",
            "x");
    assertNotEquals(0, r.exit(), r.err());
    assertTrue(
        r.err().contains("INT8 scale file /nonexistent/scales.json does not exist"), r.err());

    r = run("embed", "--pooling", "max", "x");
    assertEquals(2, r.exit(), r.err());
    assertTrue(r.err().contains("'max' is not a pooling (cls, mean or none)"), r.err());

    r = run("embed", "--backend", "tpu", "x");
    assertEquals(2, r.exit(), r.err());
    assertTrue(r.err().contains("'tpu' is not a backend"), r.err());

    r = run("embed", "--batch-size", "0", "x");
    assertEquals(2, r.exit(), r.err());
    assertTrue(r.err().contains("batchSize = 0, must be >= 1"), r.err());

    r = run("embed", "--backend", "cpu", "--precision", "fp16", "x");
    assertEquals(2, r.exit(), r.err());
    assertTrue(r.err().contains("precision fp16 needs the gpu backend"), r.err());

    r = run("embed", "--model", "/nonexistent/ft4j-model", "x");
    assertEquals(2, r.exit(), r.err());
    assertTrue(r.err().contains("no such file or directory"), r.err());
    assertEquals("", r.out());
  }

  @Test
  void parsesStdinLines() {
    assertEquals("plain", EmbedCommand.parseLine("\"plain\"", 1));
    assertEquals("obj", EmbedCommand.parseLine("{\"id\": 3, \"text\": \"obj\"}", 2));
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> EmbedCommand.parseLine("[1]", 7));
    assertTrue(e.getMessage().contains("stdin line 7 is neither"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> EmbedCommand.parseLine("raw text", 9));
    assertTrue(e.getMessage().contains("stdin line 9 is not JSON"), e.getMessage());
  }
}
