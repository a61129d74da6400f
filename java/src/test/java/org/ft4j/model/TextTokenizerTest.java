package org.ft4j.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import org.ft4j.testing.CloseUnderLoad;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** MiniLM's tokenizer.json (bert-base-uncased vocabulary; it asks for padding to 128). */
class TextTokenizerTest {
  private static TextTokenizer tok;

  @BeforeAll
  static void load() {
    Path dir = EmbeddedModels.directory("minilm");
    tok = TextTokenizer.load(dir.resolve(EmbeddedModels.TOKENIZER_FILE), 512);
  }

  @AfterAll
  static void close() {
    tok.close();
  }

  @Test
  void knownIdsWithSpecialTokensAndNoPadding() {
    TextTokenizer.Encoding e = tok.encode("hello world");
    assertArrayEquals(new int[] {101, 7592, 2088, 102}, e.ids());
    assertArrayEquals(new int[] {0, 0, 0, 0}, e.typeIds());
    assertFalse(e.truncated());
    // Lower-casing and punctuation split as bert-base-uncased: [CLS] hello , world ! [SEP]
    assertArrayEquals(
        new int[] {101, 7592, 1010, 2088, 999, 102}, tok.encode("Hello, World!").ids());
  }

  @Test
  void listEncodesEachTextOnItsOwn() {
    List<TextTokenizer.Encoding> list = tok.encode(List.of("hello world", "hello"));
    assertEquals(2, list.size());
    assertArrayEquals(new int[] {101, 7592, 2088, 102}, list.get(0).ids());
    assertArrayEquals(new int[] {101, 7592, 102}, list.get(1).ids());
  }

  @Test
  void truncatesToMaxLengthAndSaysSo() {
    try (TextTokenizer short8 =
        TextTokenizer.load(
            EmbeddedModels.directory("minilm").resolve(EmbeddedModels.TOKENIZER_FILE), 8)) {
      TextTokenizer.Encoding e = short8.encode("one two three four five six seven eight nine");
      assertEquals(8, e.length());
      assertEquals(101, e.ids()[0]);
      assertEquals(102, e.ids()[7]);
      assertTrue(e.truncated());
      // exactly 8 tokens with the specials: not truncated
      TextTokenizer.Encoding fits = short8.encode("one two three four five six");
      assertEquals(8, fits.length());
      assertFalse(fits.truncated(), Arrays.toString(fits.ids()));
    }
    String longText = "word ".repeat(600);
    TextTokenizer.Encoding e = tok.encode(longText);
    assertEquals(512, e.length());
    assertTrue(e.truncated());
  }

  @Test
  void nonAsciiTextsEncode() {
    assertTrue(tok.encode("東京は日本の首都です。").length() > 5);
    assertTrue(tok.encode("I love pizza 🍕").length() >= 5);
  }

  @Test
  void rejectsEmptyAndNullText() {
    assertThrows(IllegalArgumentException.class, () -> tok.encode((String) null));
    assertThrows(IllegalArgumentException.class, () -> tok.encode(""));
    assertThrows(IllegalArgumentException.class, () -> tok.encode(List.of("a", "")));
    assertThrows(
        IllegalArgumentException.class,
        () -> TextTokenizer.load(Path.of("/nonexistent/tokenizer.json"), 128));
  }

  @Test
  void longListsEncodeInParallelWithTheSameIdsInOrder() throws Exception {
    List<String> texts = Int8AccuracyTest.texts(Int8AccuracyTest.EVAL_VARIED);
    assertTrue(texts.size() >= TextTokenizer.PARALLEL_MIN);
    List<TextTokenizer.Encoding> all = tok.encode(texts);
    assertEquals(texts.size(), all.size());
    for (int i = 0; i < texts.size(); i++) {
      TextTokenizer.Encoding one = tok.encode(texts.get(i));
      assertArrayEquals(one.ids(), all.get(i).ids(), texts.get(i));
      assertArrayEquals(one.typeIds(), all.get(i).typeIds(), texts.get(i));
    }
    List<String> withEmpty = new java.util.ArrayList<>(texts);
    withEmpty.set(37, "");
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> tok.encode(withEmpty));
    assertTrue(e.getMessage().contains("text 37 is empty"), e.getMessage());
  }

  @Test
  void closingWhileOtherThreadsEncodeNeitherCrashesNorLeavesThemHanging() throws Exception {
    TextTokenizer t =
        TextTokenizer.load(
            EmbeddedModels.directory("minilm").resolve(EmbeddedModels.TOKENIZER_FILE), 512);
    List<String> texts = Int8AccuracyTest.texts(Int8AccuracyTest.EVAL_VARIED).subList(0, 40);
    List<Throwable> failures = CloseUnderLoad.run(4, () -> t.encode(texts), t::close);
    for (Throwable x : failures) {
      assertTrue(
          x instanceof IllegalStateException && x.getMessage().contains("is closed"),
          "expected 'tokenizer ... is closed', got " + x);
    }
    t.close(); // idempotent
  }
}
