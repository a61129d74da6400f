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

  /** Runs `embed` with stdin from {@code in}; returns the embeddings by output line. */
  private static float[][] runStdin(java.io.InputStream in, String... args) throws Exception {
    CommandLine cl = Ft4jCli.newCommandLine();
    EmbedCommand embed = cl.getSubcommands().get("embed").getCommand();
    embed.in = in;
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    cl.setOut(new PrintWriter(out));
    cl.setErr(new PrintWriter(err));
    assertEquals(0, cl.execute(args), err.toString());
    com.fasterxml.jackson.databind.ObjectMapper json =
        new com.fasterxml.jackson.databind.ObjectMapper();
    List<String> lines = out.toString().lines().toList();
    float[][] v = new float[lines.size()][];
    for (int i = 0; i < lines.size(); i++) {
      com.fasterxml.jackson.databind.JsonNode n = json.readTree(lines.get(i));
      assertEquals(i, n.get("index").asInt(), lines.get(i));
      v[i] = new float[n.get("embedding").size()];
      for (int d = 0; d < v[i].length; d++) {
        v[i][d] = (float) n.get("embedding").get(d).asDouble();
      }
    }
    return v;
  }

  @Test
  void embedsStdinLinesInOrderWhetherTheyArriveAtOnceOrOneByOne() throws Exception {
    List<String> texts =
        List.of("first line", "a second, longer line of text", "3", "fourth", "the fifth one");
    StringBuilder input = new StringBuilder();
    for (String t : texts) {
      input.append("{\"text\": \"").append(t).append("\"}\n");
      if (t.equals("3")) {
        input.append("\n"); // blank lines are skipped
      }
    }
    byte[] bytes = input.toString().getBytes(java.nio.charset.StandardCharsets.UTF_8);
    String[] args = {"embed", "--backend", "cpu", "--batch-size", "2"};
    float[][] atOnce = runStdin(new java.io.ByteArrayInputStream(bytes), args);
    // a pipe that never has more ready: each text is embedded as soon as its line is read
    java.io.InputStream trickle =
        new java.io.ByteArrayInputStream(bytes) {
          @Override
          public synchronized int read(byte[] b, int off, int len) {
            return super.read(b, off, Math.min(len, 1));
          }

          @Override
          public synchronized int available() {
            return 0;
          }
        };
    float[][] oneByOne = runStdin(trickle, args);
    String[] direct = new String[texts.size() + 5];
    direct[0] = "embed";
    direct[1] = "--backend";
    direct[2] = "cpu";
    direct[3] = "--batch-size";
    direct[4] = "2";
    for (int i = 0; i < texts.size(); i++) {
      direct[5 + i] = texts.get(i);
    }
    float[][] fromArgs = runStdin(new java.io.ByteArrayInputStream(new byte[0]), direct);
    assertEquals(texts.size(), atOnce.length);
    assertEquals(texts.size(), oneByOne.length);
    for (int i = 0; i < texts.size(); i++) {
      for (int d = 0; d < fromArgs[i].length; d++) {
        assertEquals(fromArgs[i][d], atOnce[i][d], 1e-6, texts.get(i));
        assertEquals(fromArgs[i][d], oneByOne[i][d], 1e-6, texts.get(i));
      }
    }
  }

  /**
   * A caller that writes one line (and a blank one) and waits for the answer before writing more
   * gets it: the command embeds what has arrived when the input pauses.
   */
  @Test
  void aLineFollowedByABlankLineIsAnsweredBeforeMoreInputArrives() throws Exception {
    byte[] bytes = "{\"text\": \"hello\"}\n\n".getBytes(java.nio.charset.StandardCharsets.UTF_8);
    java.util.concurrent.CountDownLatch answered = new java.util.concurrent.CountDownLatch(1);
    java.io.InputStream pausing =
        new java.io.InputStream() {
          int at;

          @Override
          public int read() throws java.io.IOException {
            if (at < bytes.length) {
              return bytes[at++] & 0xff;
            }
            try { // the producer waits for the answer before it sends anything else
              answered.await(60, java.util.concurrent.TimeUnit.SECONDS);
            } catch (InterruptedException e) {
              throw new java.io.IOException(e);
            }
            return -1;
          }

          @Override
          public int read(byte[] b, int off, int len) throws java.io.IOException {
            if (len == 0) {
              return 0;
            }
            if (at >= bytes.length) {
              int c = read();
              return c < 0 ? -1 : 0;
            }
            int n = Math.min(len, bytes.length - at);
            System.arraycopy(bytes, at, b, off, n);
            at += n;
            return n;
          }

          @Override
          public int available() {
            return bytes.length - at;
          }
        };
    CommandLine cl = Ft4jCli.newCommandLine();
    EmbedCommand embed = cl.getSubcommands().get("embed").getCommand();
    embed.in = pausing;
    StringWriter out = new StringWriter();
    cl.setOut(
        new PrintWriter(out) {
          @Override
          public void println() {
            super.println();
            answered.countDown();
          }
        });
    cl.setErr(new PrintWriter(new StringWriter()));
    Thread run = new Thread(() -> cl.execute("embed", "--backend", "cpu"));
    run.start();
    boolean inTime = answered.await(30, java.util.concurrent.TimeUnit.SECONDS);
    answered.countDown();
    run.join(60_000);
    assertTrue(inTime, "no answer while the input paused after a text and a blank line");
    assertTrue(out.toString().contains("\"index\":0"), out.toString());
  }
}
