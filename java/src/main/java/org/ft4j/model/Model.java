package org.ft4j.model;

import org.ft4j.encoder.EncoderWeights;

/**
 * A loaded BERT-family model: its configuration, embedding layer and encoder stack (host FP32
 * copies; the encoder weights carry an FP32 encoder config, {@link EncoderWeights#withConfig}
 * changes the precision).
 *
 * @param name where it came from (file or embedded model name), for messages
 */
public record Model(
    String name, ModelConfig config, EmbeddingWeights embeddings, EncoderWeights encoder) {
  public Model {
    if (config == null || embeddings == null || encoder == null) {
      throw new IllegalArgumentException(
          "model " + name + ": config, embeddings and encoder are required");
    }
    embeddings.check(config);
    if (encoder.config().layers() != config.layers()
        || encoder.config().hidden() != config.hidden()) {
      throw new IllegalArgumentException(
          "model " + name + ": encoder weights " + encoder.config() + " do not match " + config);
    }
  }
}
