package org.ft4j.cli;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import org.ft4j.encoder.Precision;
import org.ft4j.model.EmbeddingModel;
import org.ft4j.model.EmbeddingModel.Backend;
import org.ft4j.model.Pooling;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code ft4j embed}: texts in, one JSON line per text out ({@code {"index": i, "embedding":
 * [...]}}). Texts come from the arguments or, when there are none, from JSON lines on stdin.
 */
@Command(
    name = "embed",
    mixinStandardHelpOptions = true,
    description = {
      "Embeds texts and writes one JSON line per text to stdout: {\"index\": i, \"embedding\":"
          + " [...]} (with --pooling none also \"shape\": [tokens, hidden]).",
      "Without text arguments, reads JSON lines from stdin: each line a JSON string or an object"
          + " with a \"text\" field (blank lines are skipped; indexes count texts).",
      "Texts longer than the model's limit are truncated (logged on stderr)."
    })
public final class EmbedCommand implements Callable<Integer> {
  private static final ObjectMapper JSON = new ObjectMapper();

  @Spec CommandSpec spec;

  @Option(
      names = "--model",
      defaultValue = "minilm",
      paramLabel = "DIR|FILE|minilm|bge-small",
      description =
          "minilm, bge-small, a Hugging Face directory (config.json + model.safetensors, or"
              + " model.onnx) or a .onnx/.safetensors file; tokenizer.json must lie next to it"
              + " (default: ${DEFAULT-VALUE})")
  String model;

  @Option(
      names = "--precision",
      converter = PrecisionConverter.class,
      paramLabel = "fp32|fp16|int8-1|int8-2",
      description =
          "default: fp16 on the gpu, fp32 on the cpu. int8-1 / int8-2 use the model's INT8"
              + " scales (--int8-scales, else next to the model, else the shipped ones for"
              + " minilm and bge-small). int8-1 runs on the gpu; on the cpu and reference backends"
              + " both run as a fake-quantized float64 simulation")
  Precision precision;

  @Option(
      names = "--int8-scales",
      paramLabel = "FILE",
      description = "INT8 scale file written by `ft4j calibrate` (for --precision int8-1|int8-2)")
  java.nio.file.Path int8Scales;

  @Option(
      names = "--backend",
      defaultValue = "auto",
      converter = BackendConverter.class,
      paramLabel = "gpu|cpu|reference|auto",
      description =
          "cpu: float32 (SIMD with java --add-modules jdk.incubator.vector); reference: the"
              + " float64 CPU oracle (slow); auto = gpu when a CUDA device can be used, else cpu"
              + " (default: auto)")
  Backend backend;

  @Option(
      names = "--pooling",
      converter = PoolingConverter.class,
      paramLabel = "cls|mean|none",
      description = "default: the model's (minilm: mean, bge-small: cls, other models: mean)")
  Pooling pooling;

  @Option(names = "--no-normalize", description = "do not scale vectors to unit length")
  boolean noNormalize;

  @Option(
      names = "--batch-size",
      defaultValue = "32",
      paramLabel = "N",
      description = "texts per backend call (default: ${DEFAULT-VALUE})")
  int batchSize;

  @Option(names = "--device", defaultValue = "0", description = "CUDA device ordinal")
  int device;

  @Parameters(arity = "0..*", paramLabel = "text", description = "texts to embed")
  List<String> texts = new ArrayList<>();

  /** Most texts read from stdin before they are embedded. */
  static final int STDIN_CHUNK = 4096;

  /** Where texts are read from when none are given (tests replace it). */
  InputStream in = System.in;

  /** The options this command line asks for (validated). */
  EmbeddingModel.Options options() {
    return new EmbeddingModel.Options(
        backend, precision, pooling, !noNormalize, device, batchSize, int8Scales);
  }

  @Override
  public Integer call() throws IOException {
    EmbeddingModel.Options options = options();
    PrintWriter out = spec.commandLine().getOut();
    try (EmbeddingModel embedder = EmbeddingModel.load(model, options);
        JsonGenerator json =
            new JsonFactory()
                .disable(JsonGenerator.Feature.AUTO_CLOSE_TARGET)
                .createGenerator(out)) {
      json.setRootValueSeparator(null);
      int hidden = embedder.dimension();
      boolean tokens = embedder.pooling() == Pooling.NONE;
      if (!texts.isEmpty()) {
        write(json, out, 0, embedder.embed(texts), hidden, tokens);
      } else {
        Reader reader = new InputStreamReader(in, StandardCharsets.UTF_8);
        BufferedReader lines = new BufferedReader(reader);
        int index = 0;
        int lineNumber = 0;
        List<String> chunk = new ArrayList<>();
        for (String line; (line = lines.readLine()) != null; ) {
          lineNumber++;
          if (!line.isBlank()) {
            chunk.add(parseLine(line, lineNumber));
          }
          // a full chunk, or the input has nothing more right now (a pipe fed line by line; also
          // after a blank line): embed what there is; a file or a fast producer fills whole
          // chunks, which the model sorts by length and tokenizes in parallel
          if (!chunk.isEmpty() && (chunk.size() >= STDIN_CHUNK || !lines.ready())) {
            index = write(json, out, index, embedder.embed(chunk), hidden, tokens);
            chunk.clear();
          }
        }
        if (!chunk.isEmpty()) {
          write(json, out, index, embedder.embed(chunk), hidden, tokens);
        }
      }
    }
    return 0;
  }

  private static int write(
      JsonGenerator json, PrintWriter out, int first, float[][] vectors, int hidden, boolean tokens)
      throws IOException {
    int index = first;
    for (float[] v : vectors) {
      json.writeStartObject();
      json.writeNumberField("index", index++);
      if (tokens) {
        json.writeArrayFieldStart("shape");
        json.writeNumber(v.length / hidden);
        json.writeNumber(hidden);
        json.writeEndArray();
      }
      json.writeArrayFieldStart("embedding");
      for (float x : v) {
        json.writeNumber(x);
      }
      json.writeEndArray();
      json.writeEndObject();
      json.flush();
      out.println();
    }
    out.flush();
    return index;
  }

  /**
   * The text of one stdin line: a JSON string, or an object with a string field "text".
   *
   * @throws IllegalArgumentException naming the line when it is neither
   */
  static String parseLine(String line, int lineNumber) {
    JsonNode node;
    try {
      node = JSON.readTree(line);
    } catch (JsonProcessingException e) {
      throw new IllegalArgumentException(
          "stdin line " + lineNumber + " is not JSON: " + e.getOriginalMessage());
    }
    if (node != null && node.isTextual()) {
      return node.asText();
    }
    if (node != null && node.isObject() && node.path("text").isTextual()) {
      return node.get("text").asText();
    }
    throw new IllegalArgumentException(
        "stdin line "
            + lineNumber
            + " is neither a JSON string nor an object with a string \"text\" field");
  }

  static final class PrecisionConverter implements CommandLine.ITypeConverter<Precision> {
    @Override
    public Precision convert(String value) {
      String v = value.trim().toLowerCase(Locale.ROOT);
      if (v.equals("fp32")) {
        return Precision.FP32;
      }
      if (v.equals("fp16")) {
        return Precision.FP16;
      }
      if (v.equals("int8-1")) {
        return Precision.INT8_MODE_1;
      }
      if (v.equals("int8-2")) {
        return Precision.INT8_MODE_2;
      }
      throw new CommandLine.TypeConversionException(
          "'" + value + "' is not a precision for embeddings (fp32, fp16, int8-1 or int8-2)");
    }
  }

  /** Case-insensitive enum names; the message lists what is accepted. */
  private static <E extends Enum<E>> E parseEnum(Class<E> type, String value, String what) {
    for (E e : type.getEnumConstants()) {
      if (e.name().equalsIgnoreCase(value.trim())) {
        return e;
      }
    }
    E[] all = type.getEnumConstants();
    StringBuilder names = new StringBuilder();
    for (int i = 0; i < all.length; i++) {
      names.append(i == 0 ? "" : i == all.length - 1 ? " or " : ", ");
      names.append(all[i].name().toLowerCase(Locale.ROOT));
    }
    throw new CommandLine.TypeConversionException(
        "'" + value + "' is not a " + what + " (" + names + ")");
  }

  static final class BackendConverter implements CommandLine.ITypeConverter<Backend> {
    @Override
    public Backend convert(String value) {
      return parseEnum(Backend.class, value, "backend");
    }
  }

  static final class PoolingConverter implements CommandLine.ITypeConverter<Pooling> {
    @Override
    public Pooling convert(String value) {
      return parseEnum(Pooling.class, value, "pooling");
    }
  }
}
