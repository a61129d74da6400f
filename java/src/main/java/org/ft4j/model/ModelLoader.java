package org.ft4j.model;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;

/**
 * Resolves a model specification to a loaded {@link Model}. A specification is one of:
 *
 * <ul>
 *   <li>{@code minilm} or {@code bge-small}: a model shipped inside the jar ({@link
 *       EmbeddedModels}), loaded from its ONNX file;
 *   <li>a directory holding {@code model.safetensors} (+ {@code config.json}): a Hugging Face
 *       checkpoint ({@link SafetensorsModelLoader}); preferred when both formats are present;
 *   <li>a directory holding {@code model.onnx} ({@link OnnxModelLoader});
 *   <li>a {@code .onnx} file, or a {@code .safetensors} file (with the config.json next to it).
 * </ul>
 *
 * The tokenizer is the {@code tokenizer.json} next to the model ({@link #tokenizerPath}).
 */
public final class ModelLoader {
  /** Names of the models shipped with ft4j. */
  public static final String[] EMBEDDED = {"minilm", "bge-small"};

  static final String ONNX_FILE = "model.onnx";
  static final String TOKENIZER_FILE = "tokenizer.json";

  private ModelLoader() {}

  /** Loads the model {@code spec} names; see the class comment. */
  public static Model load(String spec) {
    String name = embeddedName(spec);
    if (name != null) {
      return OnnxModelLoader.load(EmbeddedModels.directory(name).resolve(ONNX_FILE));
    }
    Path path = existingPath(spec);
    if (Files.isDirectory(path)) {
      if (Files.isRegularFile(path.resolve(SafetensorsModelLoader.WEIGHTS_FILE))) {
        return SafetensorsModelLoader.load(path);
      }
      if (Files.isRegularFile(path.resolve(ONNX_FILE))) {
        return OnnxModelLoader.load(path.resolve(ONNX_FILE));
      }
      throw new IllegalArgumentException(
          "model directory "
              + path
              + " holds neither "
              + SafetensorsModelLoader.WEIGHTS_FILE
              + " (+ config.json) nor "
              + ONNX_FILE);
    }
    String file = path.getFileName().toString().toLowerCase(Locale.ROOT);
    if (file.endsWith(".onnx")) {
      return OnnxModelLoader.load(path);
    }
    if (file.endsWith(".safetensors")) {
      return SafetensorsModelLoader.loadFile(path);
    }
    throw new IllegalArgumentException(
        "model " + spec + ": not a model directory, a .onnx file or a .safetensors file");
  }

  /**
   * The {@code tokenizer.json} belonging to {@code spec}: the embedded model's, or the one in the
   * model's directory (next to the file for a file spec).
   */
  public static Path tokenizerPath(String spec) {
    String name = embeddedName(spec);
    Path dir;
    if (name != null) {
      dir = EmbeddedModels.directory(name);
    } else {
      Path path = existingPath(spec);
      dir = Files.isDirectory(path) ? path : parent(path);
    }
    Path tokenizer = dir.resolve(TOKENIZER_FILE);
    if (!Files.isRegularFile(tokenizer)) {
      throw new IllegalArgumentException(
          "model "
              + spec
              + ": no "
              + TOKENIZER_FILE
              + " in "
              + dir
              + " (ft4j needs the Hugging Face fast-tokenizer file next to the model)");
    }
    return tokenizer;
  }

  /**
   * The embedded model's canonical name if {@code spec} names one (case-insensitive), else null.
   */
  public static String embeddedName(String spec) {
    if (spec == null || spec.isBlank()) {
      throw new IllegalArgumentException(
          "no model given (a directory, a .onnx or .safetensors file, minilm or bge-small)");
    }
    String s = spec.trim().toLowerCase(Locale.ROOT);
    for (String e : EMBEDDED) {
      if (e.equals(s)) {
        return e;
      }
    }
    return null;
  }

  private static Path existingPath(String spec) {
    Path path = Path.of(spec);
    if (!Files.exists(path)) {
      throw new IllegalArgumentException(
          "model "
              + spec
              + ": no such file or directory (and not an embedded model: "
              + String.join(", ", EMBEDDED)
              + ")");
    }
    return path;
  }

  private static Path parent(Path file) {
    Path p = file.toAbsolutePath().getParent();
    return p == null ? Path.of(".") : p;
  }
}
