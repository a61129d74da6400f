package org.ft4j.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.ft4j.testing.Ort;
import org.junit.jupiter.api.Test;

/**
 * ft4j's CPU backends (the float64 {@link ReferenceEmbedder} and the float32 {@link CpuEmbedder},
 * each + {@link Pooler}) against ONNX Runtime (CPU) on the embedded MiniLM and BGE-small ONNX
 * files: same token ids in, last_hidden_state and pooled embeddings compared sentence by sentence.
 */
class OrtOracleTest {
  /** Varied texts: short, long (> 128 tokens), non-ASCII, CJK, emoji, punctuation. */
  static List<String> sentences() {
    List<String> s = new ArrayList<>();
    s.add("hello world");
    s.add("A man is eating food.");
    s.add("A man is eating a piece of bread.");
    s.add("The girl is carrying a baby.");
    s.add("A man is riding a horse.");
    s.add("A woman is playing violin.");
    s.add("Two men pushed carts through the woods.");
    s.add("A man is riding a white horse on an enclosed ground.");
    s.add("A monkey is playing drums.");
    s.add("Someone in a gorilla costume is playing a set of drums.");
    s.add("What is the capital of France?");
    s.add("Paris is the capital and most populous city of France.");
    s.add("How do I reset my password?");
    s.add("Click 'Forgot password' on the login page, then follow the e-mail's link.");
    s.add("The quick brown fox jumps over the lazy dog!!!");
    s.add("x");
    s.add("?");
    s.add("1234567890 3.14159 2,718 -42 +7 1e-12");
    s.add("C'est la vie: déjà vu, naïve café, crème brûlée.");
    s.add("Größenwahn und Übermut führen selten zum Glück.");
    s.add("¿Dónde está la biblioteca? ¡Está allí!");
    s.add("Быстрая коричневая лиса прыгает через ленивую собаку.");
    s.add("Η γρήγορη καφέ αλεπού πηδάει πάνω από το τεμπέλικο σκυλί.");
    s.add("東京は日本の首都です。");
    s.add("我爱自然语言处理和机器学习。");
    s.add("한국어 문장도 토큰화할 수 있습니다.");
    s.add("مرحبا بالعالم، هذه جملة عربية.");
    s.add("שלום עולם, זה משפט בעברית.");
    s.add("नमस्ते दुनिया, यह एक हिंदी वाक्य है।");
    s.add("I love pizza 🍕 and sushi 🍣 😀😀😀");
    s.add("👍🏽 👨‍👩‍👧‍👦 ❤️ 🎉");
    s.add("Email me at someone@example.com or visit https://example.org/path?q=1&r=2#frag.");
    s.add("<html><body><p>Some <b>bold</b> text &amp; entities</p></body></html>");
    s.add("def f(x): return x ** 2 if x > 0 else -x  # python code");
    s.add("SELECT name, COUNT(*) FROM users WHERE age >= 18 GROUP BY name;");
    s.add("!!!???...,,,;;;:::---___((()))[[[]]]{{{}}}");
    s.add("    leading and trailing whitespace    ");
    s.add("tabs\tand\nnewlines\r\nmixed");
    s.add("ALL CAPS SENTENCE SHOUTING ABOUT NOTHING IN PARTICULAR");
    s.add("unbelievably antidisestablishmentarianism supercalifragilisticexpialidocious");
    s.add("The mitochondria is the powerhouse of the cell.");
    s.add("Photosynthesis converts light energy into chemical energy in plants.");
    s.add("Interest rates rose by 0.25 percentage points last quarter.");
    s.add("The stock market crashed in 1929, leading to the Great Depression.");
    s.add("She sells sea shells by the sea shore.");
    s.add("To be, or not to be: that is the question.");
    s.add("Mixed 日本語 and English with émojis 🤖 in one sentence.");
    s.add("naïve façade coöperate rôle résumé");
    s.add("Zero-width\u200bjoiner and non\u00a0breaking space.");
    s.add("A" + " very".repeat(30) + " long adjective chain.");
    StringBuilder para = new StringBuilder();
    String[] parts = {
      "Transformers process tokens in parallel using self-attention.",
      "Each layer mixes information across positions, then applies a feed-forward network.",
      "Layer normalization keeps activations well scaled, and residual connections help"
          + " gradients flow.",
      "Sentence embeddings pool the token states into one vector per text.",
    };
    for (int i = 0; i < 4; i++) {
      for (String p : parts) {
        para.append(p).append(' ');
      }
    }
    s.add(para.toString().trim()); // ~170 tokens
    s.add("Numbers: " + "1, 2, 3, 5, 8, 13, 21, 34, 55, 89, ".repeat(12) + "and so on.");
    return s;
  }

  @Test
  void miniLmMatchesOnnxRuntime() throws Exception {
    compare("minilm", sentences(), 0.99999, 1e-4, ReferenceEmbedder::new);
  }

  /** The float32 CPU backend ({@link CpuEmbedder}) to the same bars as the float64 reference. */
  @Test
  void cpuBackendMatchesOnnxRuntime() throws Exception {
    compare("minilm", sentences(), 0.99999, 1e-4, CpuEmbedder::new);
    compare("bge-small", sentences(), 0.99999, 1e-4, CpuEmbedder::new);
  }

  @Test
  void bgeSmallMatchesOnnxRuntime() throws Exception {
    compare("bge-small", sentences(), 0.99999, 1e-4, ReferenceEmbedder::new); // as for MiniLM
  }

  @Test
  void paddedBatchAndFullLengthInputMatchOnnxRuntime() throws Exception {
    Path dir = EmbeddedModels.directory("minilm");
    Model model = OnnxModelLoader.load(dir.resolve(EmbeddedModels.MODEL_FILE));
    int hidden = model.config().hidden();
    List<String> texts =
        List.of(
            "hello world",
            "A considerably longer sentence, so that the others in the batch are padded.",
            "東京は日本の首都です。",
            "word ".repeat(600)); // truncated to 512 tokens: every position row in use
    OrtEnvironment env = OrtEnvironment.getEnvironment();
    double worst = 0;
    try (TextTokenizer tok = TextTokenizer.load(dir.resolve(EmbeddedModels.TOKENIZER_FILE), 512);
        OrtSession.SessionOptions options = new OrtSession.SessionOptions();
        ReferenceEmbedder ft = new ReferenceEmbedder(model)) {
      options.setIntraOpNumThreads(2);
      List<TextTokenizer.Encoding> encodings = tok.encode(texts);
      assertTrue(encodings.get(3).truncated());
      assertEquals(512, encodings.get(3).length());
      int[][] ids = new int[texts.size()][];
      for (int i = 0; i < ids.length; i++) {
        ids[i] = encodings.get(i).ids();
      }
      float[][] ours = ft.lastHiddenStates(ids, null); // one padded batch, types all 0
      try (OrtSession session = env.createSession(dir.resolve("model.onnx").toString(), options)) {
        for (int i = 0; i < ids.length; i++) {
          float[] theirs = runOrt(env, session, encodings.get(i));
          assertEquals(theirs.length, ours[i].length);
          for (int j = 0; j < theirs.length; j++) {
            worst = Math.max(worst, Math.abs(ours[i][j] - theirs[j]));
          }
        }
      }
      assertTrue(worst <= 1e-4, "max |hidden diff| " + worst);
      String message =
          assertThrows(
                  IllegalArgumentException.class,
                  () -> ft.lastHiddenStates(new int[][] {{101, 30522, 102}}, null))
              .getMessage();
      assertTrue(message.contains("30522"), message);
      assertThrows(
          IllegalArgumentException.class,
          () -> ft.lastHiddenStates(new int[][] {new int[513]}, null));
    }
    System.out.printf(
        Locale.ROOT,
        "OrtOracleTest minilm padded batch (up to 512 tokens): max |diff| %.3g%n",
        worst);
  }

  private static void compare(
      String name,
      List<String> texts,
      double minCos,
      double maxDiff,
      java.util.function.Function<Model, TokenEmbedder> backend)
      throws OrtException {
    long t0 = System.nanoTime();
    Path dir = EmbeddedModels.directory(name);
    Model model = OnnxModelLoader.load(dir.resolve(EmbeddedModels.MODEL_FILE));
    Pooling pooling = EmbeddedModels.defaultPooling(name);
    int hidden = model.config().hidden();
    long t1 = System.nanoTime();
    double worstCos = 1;
    double worstDiff = 0;
    int longest = 0;
    String worstText = null;
    double ftSeconds = 0;
    double ortSeconds = 0;
    String kind;
    OrtEnvironment env = OrtEnvironment.getEnvironment();
    try (TextTokenizer tok =
            TextTokenizer.load(
                dir.resolve(EmbeddedModels.TOKENIZER_FILE), model.config().maxSequenceLength());
        OrtSession.SessionOptions options = new OrtSession.SessionOptions();
        TokenEmbedder ft = backend.apply(model)) {
      kind = ft.getClass().getSimpleName();
      options.setIntraOpNumThreads(2);
      try (OrtSession session = env.createSession(dir.resolve("model.onnx").toString(), options)) {
        for (String text : texts) {
          TextTokenizer.Encoding enc = tok.encode(text);
          int n = enc.length();
          longest = Math.max(longest, n);
          long a = System.nanoTime();
          float[] ours =
              ft.lastHiddenStates(new int[][] {enc.ids()}, new int[][] {enc.typeIds()})[0];
          long b = System.nanoTime();
          float[] theirs = runOrt(env, session, enc);
          long c = System.nanoTime();
          ftSeconds += (b - a) / 1e9;
          ortSeconds += (c - b) / 1e9;
          assertEquals(n * hidden, theirs.length, "ORT output size for: " + text);
          double diff = 0;
          for (int i = 0; i < theirs.length; i++) {
            diff = Math.max(diff, Math.abs(ours[i] - theirs[i]));
          }
          float[] pa = Pooler.pool(ours, n, hidden, pooling, true);
          float[] pb = Pooler.pool(theirs, n, hidden, pooling, true);
          double cos = cosine(pa, pb);
          if (cos < worstCos) {
            worstCos = cos;
            worstText = text;
          }
          worstDiff = Math.max(worstDiff, diff);
          assertTrue(
              cos >= minCos,
              String.format(Locale.ROOT, "%s: cosine %.8f < %s for %s", name, cos, minCos, text));
          assertTrue(
              diff <= maxDiff,
              String.format(
                  Locale.ROOT, "%s: max |diff| %.3g > %.3g for %s", name, diff, maxDiff, text));
        }
      }
    }
    System.out.printf(
        Locale.ROOT,
        "OrtOracleTest %s, %s: %d texts (longest %d tokens), min cosine 1 - %.2e (%s),"
            + " max |hidden diff| %.3g; load %.1f s, ft4j %.2f s, ort %.2f s%n",
        name,
        kind,
        texts.size(),
        longest,
        1 - worstCos,
        worstText,
        worstDiff,
        (t1 - t0) / 1e9,
        ftSeconds,
        ortSeconds);
  }

  private static float[] runOrt(OrtEnvironment env, OrtSession session, TextTokenizer.Encoding e)
      throws OrtException {
    int n = e.length();
    long[][] ids = new long[1][n];
    long[][] mask = new long[1][n];
    long[][] types = new long[1][n];
    for (int i = 0; i < n; i++) {
      ids[0][i] = e.ids()[i];
      mask[0][i] = 1;
      types[0][i] = e.typeIds()[i];
    }
    float[][][] out = Ort.lastHiddenState(env, session, ids, mask, types);
    float[] flat = new float[n * out[0][0].length];
    for (int i = 0; i < n; i++) {
      System.arraycopy(out[0][i], 0, flat, i * out[0][i].length, out[0][i].length);
    }
    return flat;
  }

  static double cosine(float[] a, float[] b) {
    double dot = 0;
    double na = 0;
    double nb = 0;
    for (int i = 0; i < a.length; i++) {
      dot += (double) a[i] * b[i];
      na += (double) a[i] * a[i];
      nb += (double) b[i] * b[i];
    }
    return dot / Math.sqrt(na * nb);
  }
}
