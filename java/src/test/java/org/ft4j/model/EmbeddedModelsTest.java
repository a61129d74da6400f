package org.ft4j.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

class EmbeddedModelsTest {
  @Test
  void copiesFilesToTheCacheAndKnowsThePooling() throws Exception {
    Path dir = EmbeddedModels.directory("minilm");
    assertTrue(Files.size(dir.resolve(EmbeddedModels.MODEL_FILE)) > 80_000_000L);
    assertTrue(Files.size(dir.resolve(EmbeddedModels.TOKENIZER_FILE)) > 100_000L);
    assertEquals(dir, EmbeddedModels.directory("minilm")); // second call: nothing to copy
    assertEquals(Pooling.MEAN, EmbeddedModels.defaultPooling("minilm"));
    assertEquals(Pooling.CLS, EmbeddedModels.defaultPooling("bge-small"));
    String message =
        assertThrows(IllegalArgumentException.class, () -> EmbeddedModels.directory("gpt"))
            .getMessage();
    assertTrue(message.contains("bge-small") && message.contains("minilm"), message);
  }

  @Test
  void theArtifactsNamedInMessagesAreThePomsDependencies() throws Exception {
    String pom = java.nio.file.Files.readString(java.nio.file.Path.of("pom.xml"));
    for (String name : EmbeddedModels.names()) {
      String[] gav = EmbeddedModels.artifact(name).split(":");
      String dependency =
          "<groupId>"
              + gav[0]
              + "</groupId>\n      <artifactId>"
              + gav[1]
              + "</artifactId>\n      <version>"
              + gav[2]
              + "</version>";
      org.junit.jupiter.api.Assertions.assertTrue(
          pom.contains(dependency), name + ": pom.xml has no " + String.join(":", gav));
    }
  }
}
