package org.ft4j.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class HfConfigTest {
  @TempDir Path dir;

  static final String BERT_BASE =
      """
      {
        "architectures": ["BertModel"],
        "attention_probs_dropout_prob": 0.1,
        "hidden_act": "gelu",
        "hidden_size": 768,
        "initializer_range": 0.02,
        "intermediate_size": 3072,
        "layer_norm_eps": 1e-12,
        "max_position_embeddings": 512,
        "model_type": "bert",
        "num_attention_heads": 12,
        "num_hidden_layers": 12,
        "pad_token_id": 0,
        "type_vocab_size": 2,
        "vocab_size": 30522
      }
      """;

  private static final String ROBERTA =
      """
      {
        "architectures": ["XLMRobertaModel"],
        "hidden_act": "gelu",
        "hidden_size": 384,
        "intermediate_size": 1536,
        "layer_norm_eps": 1e-05,
        "max_position_embeddings": 514,
        "model_type": "xlm-roberta",
        "num_attention_heads": 12,
        "num_hidden_layers": 6,
        "type_vocab_size": 1,
        "vocab_size": 250002
      }
      """;

  private IllegalArgumentException fails(String json) {
    return assertThrows(IllegalArgumentException.class, () -> HfConfig.parse(json, "cfg.json"));
  }

  @Test
  void readsBertFromFile() throws IOException {
    Path file = Files.writeString(dir.resolve("config.json"), BERT_BASE);
    ModelConfig c = HfConfig.read(file);
    assertEquals(new ModelConfig("bert", 30522, 768, 12, 12, 3072, 512, 2, 1e-12, 0), c);
    assertEquals(512, c.maxSequenceLength());
  }

  @Test
  void defaultsEpsAndPadToken() {
    String noDefaults =
        BERT_BASE.replace("\"layer_norm_eps\": 1e-12,", "").replace("\"pad_token_id\": 0,", "");
    ModelConfig c = HfConfig.parse(noDefaults, "cfg.json");
    assertEquals(1e-12, c.layerNormEps());
    assertEquals(0, c.padTokenId());
  }

  @Test
  void readsRobertaFamily() {
    ModelConfig c = HfConfig.parse(ROBERTA, "cfg.json");
    assertEquals(new ModelConfig("roberta", 250002, 384, 6, 12, 1536, 514, 1, 1e-5, 1), c);
    assertEquals(512, c.maxSequenceLength());
    for (String type : new String[] {"roberta", "camembert"}) {
      String json = ROBERTA.replace("\"xlm-roberta\"", "\"" + type + "\"");
      assertEquals("roberta", HfConfig.parse(json, "cfg.json").architecture());
    }
  }

  @Test
  void rejectsDistilBertAndOtherTypes() {
    IllegalArgumentException e =
        fails(
            "{\"model_type\": \"distilbert\", \"architectures\": [\"DistilBertModel\"], "
                + "\"dim\": 768, \"n_layers\": 6, \"vocab_size\": 30522}");
    assertTrue(e.getMessage().contains("model_type 'distilbert' is not supported"), e.getMessage());
    assertTrue(e.getMessage().contains("bert, roberta, xlm-roberta, camembert"), e.getMessage());
    assertTrue(e.getMessage().contains("cfg.json"), e.getMessage());

    e = fails(BERT_BASE.replace("\"BertModel\"", "\"DistilBertForMaskedLM\""));
    assertTrue(e.getMessage().contains("architecture DistilBertForMaskedLM"), e.getMessage());

    e = fails(BERT_BASE.replace("\"model_type\": \"bert\"", "\"model_type\": \"gpt2\""));
    assertTrue(e.getMessage().contains("model_type 'gpt2' is not supported"), e.getMessage());
  }

  @Test
  void rejectsNonGeluActivation() {
    IllegalArgumentException e = fails(BERT_BASE.replace("\"gelu\"", "\"gelu_new\""));
    assertTrue(e.getMessage().contains("hidden_act 'gelu_new' is not supported"), e.getMessage());
    e = fails(BERT_BASE.replace("\"gelu\"", "\"relu\""));
    assertTrue(e.getMessage().contains("hidden_act 'relu'"), e.getMessage());
  }

  @Test
  void namesMissingOrMalformedKeys() {
    IllegalArgumentException e = fails(BERT_BASE.replace("\"hidden_size\": 768,", ""));
    assertTrue(
        e.getMessage().contains("cfg.json: required key \"hidden_size\" is missing"),
        e.getMessage());
    e = fails(BERT_BASE.replace("\"model_type\": \"bert\",", ""));
    assertTrue(e.getMessage().contains("\"model_type\" is missing"), e.getMessage());
    e = fails(BERT_BASE.replace("\"vocab_size\": 30522", "\"vocab_size\": \"big\""));
    assertTrue(e.getMessage().contains("\"vocab_size\" = \"big\" is not an integer"));
    e = fails(BERT_BASE.replace("\"num_attention_heads\": 12", "\"num_attention_heads\": 7"));
    assertTrue(e.getMessage().contains("not a multiple of heads = 7"), e.getMessage());
    e = fails("{ nope");
    assertTrue(e.getMessage().contains("cfg.json is not valid JSON"), e.getMessage());
    e =
        assertThrows(
            IllegalArgumentException.class, () -> HfConfig.read(dir.resolve("missing.json")));
    assertTrue(e.getMessage().contains("missing.json does not exist"), e.getMessage());
  }
}
