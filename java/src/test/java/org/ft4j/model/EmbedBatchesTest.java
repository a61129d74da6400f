package org.ft4j.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * How {@link EmbeddingModel#embedBatches} batches: texts sorted by token count (longest first) for
 * pooled embeddings, results back in the caller's order, pooling through {@link
 * TokenEmbedder#pooled}; the calibration's unpooled pass keeps the caller's order.
 */
class EmbedBatchesTest {
  private static TextTokenizer tokenizer;

  @BeforeAll
  static void load() {
    tokenizer = TextTokenizer.load(ModelLoader.tokenizerPath("minilm"), 512);
  }

  @AfterAll
  static void close() {
    tokenizer.close();
  }

  /** Hidden state of token r of a sequence: [id, r, length, 1]; records each batch's lengths. */
  private static final class Recording implements TokenEmbedder {
    final List<int[]> batches = new ArrayList<>();
    int pooledCalls;

    @Override
    public ModelConfig config() {
      return new ModelConfig("bert", 31000, 4, 1, 1, 16, 512, 2, 1e-12, 0);
    }

    @Override
    public float[][] lastHiddenStates(int[][] ids, int[][] typeIds) {
      int[] lengths = new int[ids.length];
      float[][] out = new float[ids.length][];
      for (int b = 0; b < ids.length; b++) {
        lengths[b] = ids[b].length;
        out[b] = new float[4 * ids[b].length];
        for (int r = 0; r < ids[b].length; r++) {
          out[b][4 * r] = ids[b][r];
          out[b][4 * r + 1] = r;
          out[b][4 * r + 2] = ids[b].length;
          out[b][4 * r + 3] = 1;
        }
      }
      batches.add(lengths);
      return out;
    }

    @Override
    public float[][] pooled(int[][] ids, int[][] typeIds, Pooling pooling, boolean normalize) {
      pooledCalls++;
      return TokenEmbedder.super.pooled(ids, typeIds, pooling, normalize);
    }

    @Override
    public void close() {}
  }

  private static final List<String> TEXTS =
      List.of(
          "short",
          "a somewhat longer sentence with more words in it",
          "mid length text here",
          "x",
          "the longest of them all, with many many words, commas, and a clause or two besides",
          "two words",
          "another mid sized one");

  @Test
  void pooledEmbeddingsRunInBatchesOfSimilarLengthAndComeBackInOrder() {
    Recording r = new Recording();
    float[][] v =
        EmbeddingModel.embedBatches(tokenizer, r, TEXTS, 3, Pooling.CLS, false, null).vectors();
    assertEquals(3, r.pooledCalls); // 7 texts in batches of 3
    List<TextTokenizer.Encoding> enc = tokenizer.encode(new ArrayList<>(TEXTS));
    for (int i = 0; i < TEXTS.size(); i++) { // CLS row = [first id, 0, length, 1] of text i
      assertEquals(enc.get(i).ids()[0], (int) v[i][0], "text " + i);
      assertEquals(enc.get(i).ids().length, (int) v[i][2], "text " + i);
    }
    int previous = Integer.MAX_VALUE;
    for (int[] batch : r.batches) {
      for (int len : batch) {
        assertTrue(len <= previous, "batches not in descending length order");
        previous = len;
      }
    }
    // mean pooling of [id, r, len, 1] over the rows: the second component is (len - 1) / 2
    float[][] mean =
        EmbeddingModel.embedBatches(tokenizer, r, TEXTS, 3, Pooling.MEAN, false, null).vectors();
    for (int i = 0; i < TEXTS.size(); i++) {
      assertEquals((enc.get(i).ids().length - 1) / 2.0, mean[i][1], 1e-6, "text " + i);
    }
  }

  @Test
  void unpooledStatesKeepTheCallersOrder() {
    Recording r = new Recording();
    EmbeddingModel.embedBatches(tokenizer, r, TEXTS, 3, Pooling.NONE, false, null);
    assertEquals(0, r.pooledCalls);
    List<TextTokenizer.Encoding> enc = tokenizer.encode(new ArrayList<>(TEXTS));
    int i = 0;
    for (int[] batch : r.batches) {
      for (int len : batch) {
        assertEquals(enc.get(i++).ids().length, len);
      }
    }
    assertEquals(TEXTS.size(), i);
  }
}
