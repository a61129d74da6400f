package org.ft4j.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

class TokenInputsTest {
  private final ModelConfig bert = new ModelConfig("bert", 100, 8, 1, 2, 16, 10, 2, 1e-12, 0);
  private final ModelConfig roberta = new ModelConfig("roberta", 100, 8, 1, 2, 16, 10, 1, 1e-5, 1);

  private static String failure(Runnable r) {
    return assertThrows(IllegalArgumentException.class, r::run).getMessage();
  }

  @Test
  void acceptsValidBatchesAndNamesEveryBadValue() {
    assertEquals(2, TokenInputs.check(bert, new int[][] {{1, 2}, {99}}, null));
    assertEquals(1, TokenInputs.check(bert, new int[][] {{1, 2}}, new int[][] {{0, 1}}));
    assertEquals("no token sequences given", failure(() -> TokenInputs.check(bert, null, null)));
    assertEquals(
        "sequence 1 has 0 tokens; must be 1 to 10",
        failure(() -> TokenInputs.check(bert, new int[][] {{1}, {}}, null)));
    assertEquals(
        "sequence 0 has 11 tokens; must be 1 to 10",
        failure(() -> TokenInputs.check(bert, new int[][] {new int[11]}, null)));
    // RoBERTa: positions start at pad + 1 = 2, so only 8 tokens fit a 10-row position table
    assertEquals(8, roberta.maxSequenceLength());
    assertEquals(
        "sequence 0 has 9 tokens; must be 1 to 8",
        failure(() -> TokenInputs.check(roberta, new int[][] {new int[9]}, null)));
    assertEquals(
        "token id 100 at sequence 0 position 1 is outside the vocabulary [0, 100)",
        failure(() -> TokenInputs.check(bert, new int[][] {{5, 100}}, null)));
    assertEquals(
        "token type 2 at sequence 0 position 0 is outside [0, 2)",
        failure(() -> TokenInputs.check(bert, new int[][] {{5}}, new int[][] {{2}})));
    assertEquals(
        "typeIds of sequence 0 must have 2 entries",
        failure(() -> TokenInputs.check(bert, new int[][] {{5, 6}}, new int[][] {{0}})));
  }

  @Test
  void padsToAMultipleButNeverPastTheModelsLimit() {
    // bert: maxPositions 10, so sequences of at most 10 tokens
    TokenInputs.Padded p =
        TokenInputs.pad(bert, new int[][] {{1, 2, 3}, {4}}, new int[][] {{0, 0, 1}, {1}}, 4);
    assertEquals(4, p.seq());
    assertEquals(2, p.batch());
    assertArrayEquals(new int[] {3, 1}, p.lengths());
    assertArrayEquals(new int[] {1, 2, 3, 0, 4, 0, 0, 0}, p.ids());
    assertArrayEquals(new int[] {0, 0, 1, 0, 1, 0, 0, 0}, p.types());
    assertEquals(8, TokenInputs.pad(bert, new int[][] {{1, 2, 3, 4, 5}}, null, 4).seq());
    int limit = bert.maxSequenceLength();
    assertEquals(limit, TokenInputs.pad(bert, new int[][] {new int[limit - 1]}, null, 4).seq());
    assertEquals(limit, TokenInputs.pad(bert, new int[][] {new int[limit]}, null, 16).seq());
    assertEquals(3, TokenInputs.pad(bert, new int[][] {{1, 2, 3}}, null).seq());
    assertThrows(
        IllegalArgumentException.class, () -> TokenInputs.pad(bert, new int[][] {{1}}, null, 0));
  }

  @Test
  void configRejectsWhatItCannotRun() {
    assertEquals(
        "architecture distilbert is not supported (bert-style or roberta-style)",
        failure(() -> new ModelConfig("distilbert", 10, 8, 1, 2, 16, 10, 1, 1e-12, 0)));
    assertEquals(
        "hidden = 10 is not a multiple of heads = 4",
        failure(() -> new ModelConfig("bert", 10, 10, 1, 4, 16, 10, 1, 1e-12, 0)));
  }
}
