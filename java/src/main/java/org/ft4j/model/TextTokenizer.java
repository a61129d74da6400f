package org.ft4j.model;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * A Hugging Face tokenizer (a {@code tokenizer.json}, run offline by DJL's binding of the Rust
 * {@code tokenizers} library) that turns text into the token ids a {@link TokenEmbedder} takes.
 *
 * <p>Special tokens are added as the tokenizer's post-processor says ([CLS] ... [SEP] for BERT,
 * &lt;s&gt; ... &lt;/s&gt; for RoBERTa); texts longer than {@code maxLength} tokens (special tokens
 * included) are truncated, which {@link Encoding#truncated()} reports. Nothing is padded, whatever
 * the tokenizer.json asks for.
 *
 * <p>Thread safety: the underlying tokenizer may be used from several threads; {@link #close} must
 * not race with encoding.
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
  private boolean closed;

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
    ensureOpen();
    ai.djl.huggingface.tokenizers.Encoding e = tokenizer.encode(text);
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

  /** Encodes each text on its own (no padding); names the index of a bad text. */
  public List<Encoding> encode(List<String> texts) {
    if (texts == null || texts.isEmpty()) {
      throw new IllegalArgumentException("no texts given");
    }
    List<Encoding> out = new ArrayList<>(texts.size());
    for (int i = 0; i < texts.size(); i++) {
      String text = texts.get(i);
      if (text == null || text.isEmpty()) {
        throw new IllegalArgumentException(
            "text " + i + " is " + (text == null ? "null" : "empty"));
      }
      out.add(encode(text));
    }
    return out;
  }

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
  public synchronized void close() {
    if (!closed) {
      closed = true;
      tokenizer.close();
    }
  }
}
