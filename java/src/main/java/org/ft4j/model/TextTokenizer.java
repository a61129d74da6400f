package org.ft4j.model;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import java.util.stream.IntStream;

/**
 * A Hugging Face tokenizer (a {@code tokenizer.json}, run offline by DJL's binding of the Rust
 * {@code tokenizers} library) that turns text into the token ids a {@link TokenEmbedder} takes.
 *
 * <p>Special tokens are added as the tokenizer's post-processor says ([CLS] ... [SEP] for BERT,
 * &lt;s&gt; ... &lt;/s&gt; for RoBERTa); texts longer than {@code maxLength} tokens (special tokens
 * included) are truncated, which {@link Encoding#truncated()} reports. Nothing is padded, whatever
 * the tokenizer.json asks for.
 *
 * <p>Thread safety: encoding may run on several threads at once; {@link #close} waits for encodings
 * in progress (the native tokenizer is freed only when none runs), and encoding after it throws
 * {@link IllegalStateException}.
 */
public final class TextTokenizer implements AutoCloseable {
  /** Token ids, token type ids (same length) and whether the text was cut at maxLength. */
  public record Encoding(int[] ids, int[] typeIds, boolean truncated) {
    /** Number of tokens. */
    public int length() {
      return ids.length;
    }
  }

  private final HuggingFaceTokenizer tokenizer;
  private final Path source;
  private final int maxLength;
  private final ReentrantReadWriteLock life = new ReentrantReadWriteLock();
  private boolean closed; // written under life's write lock

  private TextTokenizer(HuggingFaceTokenizer tokenizer, Path source, int maxLength) {
    this.tokenizer = tokenizer;
    this.source = source;
    this.maxLength = maxLength;
  }

  /**
   * Loads {@code tokenizerJson}; encodings are at most {@code maxLength} tokens long (special
   * tokens included; the model's {@link ModelConfig#maxSequenceLength()} is the natural choice).
   */
  public static TextTokenizer load(Path tokenizerJson, int maxLength) {
    if (maxLength < 2) {
      throw new IllegalArgumentException("maxLength = " + maxLength + ", must be >= 2");
    }
    if (!Files.isRegularFile(tokenizerJson)) {
      throw new IllegalArgumentException("tokenizer file " + tokenizerJson + " does not exist");
    }
    try {
      HuggingFaceTokenizer t =
          HuggingFaceTokenizer.builder()
              .optTokenizerPath(tokenizerJson)
              .optAddSpecialTokens(true)
              .optPadding(false)
              .optTruncation(true)
              .optMaxLength(maxLength)
              .build();
      return new TextTokenizer(t, tokenizerJson, maxLength);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read tokenizer file " + tokenizerJson, e);
    } catch (RuntimeException e) {
      throw new IllegalArgumentException(
          "tokenizer file " + tokenizerJson + " cannot be loaded: " + e.getMessage(), e);
    }
  }

  /** The longest encoding produced, in tokens. */
  public int maxLength() {
    return maxLength;
  }

  /** Encodes one text. */
  public Encoding encode(String text) {
    if (text == null || text.isEmpty()) {
      throw new IllegalArgumentException("text is " + (text == null ? "null" : "empty"));
    }
    ai.djl.huggingface.tokenizers.Encoding e;
    life.readLock().lock();
    try {
      ensureOpen();
      e = tokenizer.encode(text);
    } finally {
      life.readLock().unlock();
    }
    long[] ids = e.getIds();
    long[] types = e.getTypeIds();
    if (ids.length == 0) {
      throw new IllegalArgumentException("text produced no tokens");
    }
    if (ids.length > maxLength) {
      throw new IllegalStateException(
          "tokenizer " + source + " returned " + ids.length + " tokens, more than " + maxLength);
    }
    return new Encoding(toInts(ids), toInts(types), e.exceedMaxLength());
  }

  /**
   * Encodes each text on its own (no padding); names the index of a bad text. Lists of {@value
   * #PARALLEL_MIN} texts or more are encoded on several threads (the common fork-join pool): the
   * Rust tokenizer takes ~40-80 µs for a 30-token text on the 2-core build machine, as long as a
   * MiniLM forward of the same text on an H100, so one thread would starve the GPU.
   */
  public List<Encoding> encode(List<String> texts) {
    if (texts == null || texts.isEmpty()) {
      throw new IllegalArgumentException("no texts given");
    }
    for (int i = 0; i < texts.size(); i++) {
      String text = texts.get(i);
      if (text == null || text.isEmpty()) {
        throw new IllegalArgumentException(
            "text " + i + " is " + (text == null ? "null" : "empty"));
      }
    }
    Encoding[] out = new Encoding[texts.size()];
    IntStream range = IntStream.range(0, out.length);
    if (out.length >= PARALLEL_MIN) {
      range = range.parallel();
    }
    range.forEach(
        i -> {
          try {
            out[i] = encode(texts.get(i));
          } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("text " + i + ": " + e.getMessage(), e);
          }
        });
    return List.of(out);
  }

  /** Lists at least this long are encoded in parallel. */
  static final int PARALLEL_MIN = 16;

  private void ensureOpen() {
    if (closed) {
      throw new IllegalStateException("tokenizer " + source + " is closed");
    }
  }

  private static int[] toInts(long[] values) {
    int[] out = new int[values.length];
    for (int i = 0; i < values.length; i++) {
      out[i] = Math.toIntExact(values[i]);
    }
    return out;
  }

  @Override
  public void close() {
    life.writeLock().lock();
    try {
      if (closed) {
        return;
      }
      closed = true;
      tokenizer.close();
    } finally {
      life.writeLock().unlock();
    }
  }
}
