package org.ft4j.model;

import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.ft4j.encoder.Precision;
import org.ft4j.quant.QuantizedReference;
import org.ft4j.quant.ScaleSet;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Text in, embedding vectors out: the one-call Java API for services. Loads a model ({@link
 * ModelLoader}: {@code minilm}, {@code bge-small}, a Hugging Face directory, a {@code .onnx} or
 * {@code .safetensors} file), its {@code tokenizer.json}, and a backend (the GPU embedder, the
 * float32 CPU embedder or the float64 CPU reference).
 *
 * <pre>{@code
 * try (EmbeddingModel model = EmbeddingModel.load("minilm")) {
 *   float[][] vectors = model.embed(List.of("first text", "second text"));
 * }
 * }</pre>
 *
 * <p><b>Truncation:</b> texts longer than the model's limit ({@link
 * ModelConfig#maxSequenceLength()} tokens, special tokens included) are truncated to it, not
 * rejected; each {@link #embed} call that truncates logs one INFO line saying how many texts were
 * truncated.
 *
 * <p><b>Thread safety:</b> an instance can be shared between threads. {@link #embed} tokenizes in
 * the caller's thread (concurrent callers tokenize in parallel; long lists on several threads),
 * then runs the backend one call at a time. For many concurrent callers put an {@link
 * EmbeddingBatcher} in front of it: it merges their texts into large batches. {@link #close} waits
 * for the running backend call; later calls throw {@link IllegalStateException}.
 */
public final class EmbeddingModel implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(EmbeddingModel.class);

  /** Where the model runs. */
  public enum Backend {
    /** The CUDA GPU embedder ({@link GpuEmbedder}). */
    GPU,
    /**
     * The CPU: {@link CpuEmbedder} (float32; SIMD kernels when the JVM runs with {@code
     * --add-modules jdk.incubator.vector}); the INT8 modes as the fake-quantized float64 reference.
     */
    CPU,
    /** The float64 CPU reference ({@link ReferenceEmbedder}; slow, the oracle of the others). */
    REFERENCE,
    /** GPU when {@link GpuEmbedder#available()}, otherwise CPU (with a WARN log line). */
    AUTO
  }

  /**
   * How to load and run the model.
   *
   * @param backend GPU, CPU or AUTO (not null)
   * @param precision FP32, FP16, INT8_MODE_1 or INT8_MODE_2 on the GPU; null = FP16 on the GPU,
   *     FP32 on the CPU (float32 math; float64 on REFERENCE). The CPU and REFERENCE backends reject
   *     an explicit FP16, and run INT8_MODE_1 / INT8_MODE_2 as the fake-quantized reference ({@link
   *     org.ft4j.quant.QuantizedReference}: int8 weights and activations, float64 elsewhere).
   * @param pooling null = the model's default ({@link EmbeddedModels#defaultPooling} for the
   *     embedded models, MEAN otherwise)
   * @param normalize scale each vector to unit L2 norm
   * @param device CUDA device ordinal (GPU backend)
   * @param batchSize texts per backend call (>= 1)
   * @param int8Scales the INT8 scale file, or null to look next to the model and then in the
   *     shipped scales ({@link Int8Scales}); ignored unless the precision is an INT8 mode
   */
  public record Options(
      Backend backend,
      Precision precision,
      Pooling pooling,
      boolean normalize,
      int device,
      int batchSize,
      Path int8Scales) {
    public Options {
      if (backend == null) {
        throw new IllegalArgumentException("backend is null (GPU, CPU or AUTO)");
      }
      if ((backend == Backend.CPU || backend == Backend.REFERENCE) && precision == Precision.FP16) {
        throw new IllegalArgumentException(
            "precision fp16 needs the gpu backend (the "
                + backend.name().toLowerCase(java.util.Locale.ROOT)
                + " backend computes in "
                + (backend == Backend.CPU ? "float32)" : "float64)"));
      }
      if (device < 0) {
        throw new IllegalArgumentException("device = " + device + ", must be >= 0");
      }
      if (batchSize < 1) {
        throw new IllegalArgumentException("batchSize = " + batchSize + ", must be >= 1");
      }
    }

    /** AUTO backend, backend's default precision, model's default pooling, normalized, 0, 32. */
    public static Options defaults() {
      return new Options(Backend.AUTO, null, null, true, 0, 32, null);
    }

    public Options withInt8Scales(Path value) {
      return new Options(backend, precision, pooling, normalize, device, batchSize, value);
    }

    public Options withBackend(Backend value) {
      return new Options(value, precision, pooling, normalize, device, batchSize, int8Scales);
    }

    public Options withPrecision(Precision value) {
      return new Options(backend, value, pooling, normalize, device, batchSize, int8Scales);
    }

    public Options withPooling(Pooling value) {
      return new Options(backend, precision, value, normalize, device, batchSize, int8Scales);
    }

    public Options withNormalize(boolean value) {
      return new Options(backend, precision, pooling, value, device, batchSize, int8Scales);
    }

    public Options withDevice(int value) {
      return new Options(backend, precision, pooling, normalize, value, batchSize, int8Scales);
    }

    public Options withBatchSize(int value) {
      return new Options(backend, precision, pooling, normalize, device, value, int8Scales);
    }
  }

  private final String spec;
  private final ModelConfig config;
  private final TextTokenizer tokenizer;
  private final TokenEmbedder embedder;
  private final Backend backend;
  private final Precision precision;
  private final Pooling pooling;
  private final boolean normalize;
  private final int batchSize;
  private volatile boolean closed;

  private EmbeddingModel(
      String spec,
      ModelConfig config,
      TextTokenizer tokenizer,
      TokenEmbedder embedder,
      Backend backend,
      Precision precision,
      Pooling pooling,
      boolean normalize,
      int batchSize) {
    this.spec = spec;
    this.config = config;
    this.tokenizer = tokenizer;
    this.embedder = embedder;
    this.backend = backend;
    this.precision = precision;
    this.pooling = pooling;
    this.normalize = normalize;
    this.batchSize = batchSize;
  }

  /** Loads {@code spec} with {@link Options#defaults()}. */
  public static EmbeddingModel load(String spec) {
    return load(spec, Options.defaults());
  }

  /** Loads {@code spec} (see {@link ModelLoader}) with {@code options}. */
  public static EmbeddingModel load(String spec, Options options) {
    if (options == null) {
      throw new IllegalArgumentException("options is null");
    }
    Path tokenizerJson = ModelLoader.tokenizerPath(spec); // fails fast, before the weights load
    Model model = ModelLoader.load(spec);
    String embedded = ModelLoader.embeddedName(spec);
    Pooling pooling = options.pooling();
    if (pooling == null) {
      pooling = embedded != null ? EmbeddedModels.defaultPooling(embedded) : Pooling.MEAN;
    }
    Backend backend = options.backend();
    if (backend == Backend.AUTO) {
      if (GpuEmbedder.available()) {
        backend = Backend.GPU;
      } else {
        backend = Backend.CPU;
        LOG.warn(
            "no usable CUDA device: model {} runs on the CPU backend{}",
            spec,
            options.precision() == Precision.FP16 ? "; precision fp16 ignored" : "");
      }
    }
    Precision precision =
        backend != Backend.GPU
            ? (isInt8(options.precision()) ? options.precision() : Precision.FP32)
            : options.precision() == null ? Precision.FP16 : options.precision();
    ScaleSet scales = null;
    if (isInt8(precision)) {
      scales = Int8Scales.load(spec, options.int8Scales(), Path.of("").toAbsolutePath());
      scales.require(model.encoder().config(), precision); // fails before the tokenizer loads
    }
    TextTokenizer tokenizer = loadTokenizer(tokenizerJson, model.config().maxSequenceLength());
    TokenEmbedder embedder = null;
    try {
      embedder =
          backend == Backend.GPU
              ? new GpuEmbedder(model, precision, options.device(), scales)
              : scales != null
                  ? new ReferenceEmbedder(
                      model, QuantizedReference.of(model.encoder(), scales, precision))
                  : backend == Backend.CPU ? new CpuEmbedder(model) : new ReferenceEmbedder(model);
      return new EmbeddingModel(
          spec,
          model.config(),
          tokenizer,
          embedder,
          backend,
          precision,
          pooling,
          options.normalize(),
          options.batchSize());
    } catch (RuntimeException | Error e) {
      closeQuietly(tokenizer, e);
      if (embedder != null) {
        closeQuietly(embedder, e);
      }
      throw e;
    }
  }

  private static boolean isInt8(Precision p) {
    return p == Precision.INT8_MODE_1 || p == Precision.INT8_MODE_2;
  }

  static TextTokenizer loadTokenizer(Path tokenizerJson, int maxLength) {
    try {
      return TextTokenizer.load(tokenizerJson, maxLength);
    } catch (RuntimeException e) {
      throw e;
    } catch (Exception e) {
      throw new IllegalStateException("cannot load tokenizer " + tokenizerJson + ": " + e, e);
    }
  }

  private static void closeQuietly(AutoCloseable c, Throwable primary) {
    try {
      c.close();
    } catch (Exception e) {
      primary.addSuppressed(e);
    }
  }

  /**
   * Embeds {@code texts}: tokenizes them (truncating texts over the model's limit, see the class
   * comment), runs the backend in batches of {@link Options#batchSize()} texts of similar length,
   * pools and (if asked to) normalizes. Lists longer than {@value #PIPELINE_WINDOW} texts go in
   * windows of that many (sorted by length within each window), the next window tokenized on other
   * threads while the backend runs the current one.
   *
   * @return result[i] = the vector of texts.get(i), {@link #dimension()} floats; for {@link
   *     Pooling#NONE} the flattened [tokens, hidden] states of the text. Empty for an empty list.
   * @throws IllegalArgumentException if a text is null or empty (the message names its index)
   */
  public float[][] embed(List<String> texts) {
    return embed(texts, PIPELINE_WINDOW);
  }

  /** {@link #embed(List)} with windows of {@code window} texts (tests). */
  float[][] embed(List<String> texts, int window) {
    checkTexts(texts);
    int n = texts.size();
    if (n <= window) {
      return embedTokens(tokenize(texts)); // tokenization outside the lock: callers overlap there
    }
    // Long lists: windows of `window` texts (sorted by length within each), the next window
    // tokenized on other threads while the backend runs this one.
    float[][] result = new float[n][];
    int truncated = 0;
    CompletableFuture<Tokens> next =
        CompletableFuture.completedFuture(tokenize(texts.subList(0, window)));
    for (int start = 0; start < n; start += window) {
      Tokens current = join(next, start);
      int following = start + window;
      next =
          following < n
              ? CompletableFuture.supplyAsync(
                  () -> tokenize(texts.subList(following, Math.min(n, following + window))))
              : null;
      float[][] v = runTokens(current);
      System.arraycopy(v, 0, result, start, v.length);
      truncated += current.truncated();
    }
    logTruncated(truncated, n);
    return result;
  }

  /** Texts per window of a pipelined {@link #embed}. */
  static final int PIPELINE_WINDOW = 1024;

  private static Tokens join(CompletableFuture<Tokens> f, int start) {
    try {
      return f.join();
    } catch (java.util.concurrent.CompletionException e) {
      Throwable c = e.getCause();
      if (c instanceof IllegalArgumentException iae) {
        throw new IllegalArgumentException("in texts from " + start + ": " + iae.getMessage(), iae);
      }
      if (c instanceof RuntimeException r) {
        throw r;
      }
      throw e;
    }
  }

  private static void checkTexts(List<String> texts) {
    if (texts == null) {
      throw new IllegalArgumentException("texts is null");
    }
    for (int i = 0; i < texts.size(); i++) {
      String t = texts.get(i);
      if (t == null || t.isEmpty()) {
        throw new IllegalArgumentException(
            "text " + i + " is " + (t == null ? "null" : "empty") + "; every text needs content");
      }
    }
  }

  /**
   * The token ids of {@code texts}, for {@link #embedTokens}; not synchronized (concurrent callers
   * tokenize in parallel; see {@link TextTokenizer#encode(List)}). Same exceptions as {@link
   * #embed}.
   */
  Tokens tokenize(List<String> texts) {
    checkOpen();
    checkTexts(texts);
    return tokenize(tokenizer, texts);
  }

  /** Runs the backend over tokenized texts (in batches, sorted by length) and pools. */
  float[][] embedTokens(Tokens tokens) {
    float[][] result = runTokens(tokens);
    logTruncated(tokens.truncated(), tokens.size());
    return result;
  }

  private synchronized float[][] runTokens(Tokens tokens) {
    checkOpen();
    return run(embedder, tokens, batchSize, pooling, normalize, null);
  }

  private void logTruncated(int truncated, int texts) {
    if (truncated > 0) {
      LOG.info(
          "{} of {} text(s) were longer than {} tokens and were truncated",
          truncated,
          texts,
          config.maxSequenceLength());
    }
  }

  private void checkOpen() {
    if (closed) {
      throw new IllegalStateException("embedding model " + spec + " is closed");
    }
  }

  /** Vectors and how many texts were truncated. */
  record Embedded(float[][] vectors, int truncated) {}

  /**
   * Token ids and token type ids of some texts (one row per text, no padding) and how many of them
   * were truncated.
   */
  record Tokens(int[][] ids, int[][] typeIds, int truncated) {
    int size() {
      return ids.length;
    }

    /** {@code parts} (each a Tokens) back to back. */
    static Tokens concat(List<?> parts) {
      int n = 0;
      for (Object p : parts) {
        n += ((Tokens) p).size();
      }
      int[][] ids = new int[n][];
      int[][] types = new int[n][];
      int truncated = 0;
      int at = 0;
      for (Object p : parts) {
        Tokens t = (Tokens) p;
        System.arraycopy(t.ids, 0, ids, at, t.size());
        System.arraycopy(t.typeIds, 0, types, at, t.size());
        at += t.size();
        truncated += t.truncated;
      }
      return new Tokens(ids, types, truncated);
    }
  }

  /**
   * Tokenizes all texts, sorts them by token count (longest first) and runs {@code embedder} in
   * batches of {@code batchSize} neighbours in that order, so that a batch holds texts of similar
   * length (little padding for the embedding layer and the attention's tiles; the results do not
   * depend on the order), then pools (on the device for CLS / MEAN on the GPU backend) and returns
   * the vectors in the order of {@code texts}. With {@link Pooling#NONE} the texts keep their order
   * (the calibration's observation pass: its histograms depend on the order values arrive). {@code
   * progress} (may be null) gets the number of texts done after each batch.
   */
  static Embedded embedBatches(
      TextTokenizer tokenizer,
      TokenEmbedder embedder,
      List<String> texts,
      int batchSize,
      Pooling pooling,
      boolean normalize,
      java.util.function.IntConsumer progress) {
    Tokens tokens = tokenize(tokenizer, texts);
    return new Embedded(
        run(embedder, tokens, batchSize, pooling, normalize, progress), tokens.truncated());
  }

  /** Tokenizes {@code texts} (in parallel, in chunks of {@value #TOKENIZE_CHUNK}). */
  static Tokens tokenize(TextTokenizer tokenizer, List<String> texts) {
    int n = texts.size();
    int truncated = 0;
    int[][] allIds = new int[n][];
    int[][] allTypes = new int[n][];
    for (int start = 0; start < n; start += TOKENIZE_CHUNK) {
      List<String> chunk = texts.subList(start, Math.min(n, start + TOKENIZE_CHUNK));
      List<TextTokenizer.Encoding> encodings;
      try {
        encodings = tokenizer.encode(chunk);
      } catch (IllegalArgumentException e) {
        throw start == 0
            ? e
            : new IllegalArgumentException("in texts from " + start + ": " + e.getMessage(), e);
      }
      for (int b = 0; b < chunk.size(); b++) {
        TextTokenizer.Encoding e = encodings.get(b);
        allIds[start + b] = e.ids();
        allTypes[start + b] = e.typeIds() != null ? e.typeIds() : new int[e.ids().length];
        if (e.truncated()) {
          truncated++;
        }
      }
    }
    return new Tokens(allIds, allTypes, truncated);
  }

  static final int TOKENIZE_CHUNK = 1024;

  /**
   * The second half of {@link #embedBatches}: sorts (unless NONE), runs {@code embedder} in
   * batches, pools; results in the order of {@code tokens}.
   */
  static float[][] run(
      TokenEmbedder embedder,
      Tokens tokens,
      int batchSize,
      Pooling pooling,
      boolean normalize,
      java.util.function.IntConsumer progress) {
    int n = tokens.size();
    float[][] result = new float[n][];
    int hidden = embedder.config().hidden();
    int[][] allIds = tokens.ids();
    int[][] allTypes = tokens.typeIds();
    Integer[] order = new Integer[n];
    for (int i = 0; i < n; i++) {
      order[i] = i;
    }
    if (pooling != Pooling.NONE) { // NONE (calibration) keeps the order its histograms saw
      java.util.Arrays.sort(order, (x, y) -> Integer.compare(allIds[y].length, allIds[x].length));
    }
    for (int start = 0; start < n; start += batchSize) {
      int size = Math.min(batchSize, n - start);
      int[][] ids = new int[size][];
      int[][] typeIds = new int[size][];
      for (int b = 0; b < size; b++) {
        ids[b] = allIds[order[start + b]];
        typeIds[b] = allTypes[order[start + b]];
      }
      if (pooling == Pooling.NONE) {
        float[][] states = embedder.lastHiddenStates(ids, typeIds);
        for (int b = 0; b < size; b++) {
          result[order[start + b]] =
              Pooler.pool(states[b], ids[b].length, hidden, pooling, normalize);
        }
      } else {
        float[][] vectors = embedder.pooled(ids, typeIds, pooling, normalize);
        for (int b = 0; b < size; b++) {
          result[order[start + b]] = vectors[b];
        }
      }
      if (progress != null) {
        progress.accept(start + size);
      }
    }
    return result;
  }

  /**
   * Runs the backend once over synthetic token sequences of {@code lengths} tokens (each clamped to
   * the model's limit) in batches of 1 and of {@link Options#batchSize()}, so that the first
   * requests of a service do not pay for what a first call costs: loading the GPU kernels (CUDA
   * loads modules lazily), cuBLASLt's first heuristic queries, the JIT. Results are discarded.
   *
   * @return how long it took
   */
  public java.time.Duration warmUp(int... lengths) {
    checkOpen();
    if (lengths == null || lengths.length == 0) {
      throw new IllegalArgumentException("no lengths given");
    }
    long t0 = System.nanoTime();
    for (int length : lengths) {
      if (length < 1) {
        throw new IllegalArgumentException("warm-up length " + length + ", must be >= 1");
      }
      int n = Math.min(length, config.maxSequenceLength());
      int[] ids = new int[n];
      for (int i = 0; i < n; i++) {
        ids[i] = (1000 + 7 * i) % config.vocabSize();
      }
      for (int batch : new int[] {1, batchSize}) {
        int[][] all = new int[batch][];
        int[][] types = new int[batch][];
        for (int b = 0; b < batch; b++) {
          all[b] = ids;
          types[b] = new int[n];
        }
        runTokens(new Tokens(all, types, 0));
      }
    }
    return java.time.Duration.ofNanos(System.nanoTime() - t0);
  }

  /** Length of each returned vector (the model's hidden size). */
  public int dimension() {
    return config.hidden();
  }

  /** The model's configuration. */
  public ModelConfig config() {
    return config;
  }

  /** The backend in use (GPU, CPU or REFERENCE; never AUTO). */
  public Backend backend() {
    return backend;
  }

  /**
   * The precision in use (FP32 on the CPU backends: float32 math on CPU, float64 on REFERENCE; an
   * INT8 mode on either is the fake-quantized float64 simulation).
   */
  public Precision precision() {
    return precision;
  }

  /** The pooling in use. */
  public Pooling pooling() {
    return pooling;
  }

  /** Whether vectors are scaled to unit L2 norm. */
  public boolean normalizes() {
    return normalize;
  }

  /** Closes the backend and the tokenizer; idempotent. */
  @Override
  public void close() {
    synchronized (this) { // waits for a running embedTokens
      if (closed) {
        return;
      }
      closed = true;
    }
    RuntimeException failure = null;
    try {
      embedder.close();
    } catch (RuntimeException e) {
      failure = e;
    }
    try {
      tokenizer.close();
    } catch (Exception e) {
      if (failure == null) {
        failure = e instanceof RuntimeException r ? r : new IllegalStateException(e);
      } else {
        failure.addSuppressed(e);
      }
    }
    if (failure != null) {
      throw failure;
    }
  }
}
