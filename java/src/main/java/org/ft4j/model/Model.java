package org.ft4j.model;

import java.util.SplittableRandom;
import org.ft4j.encoder.EncoderWeights;
import org.ft4j.encoder.Precision;

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

  /**
   * A model of {@code config}'s shape with seeded random weights (benchmarks and tests): word,
   * position and token-type embeddings uniform in ±1, ±0.5, ±0.2, layernorm gamma in [0.5, 1.5] and
   * beta in ±0.5, encoder weights from {@link EncoderWeights#random}.
   */
  public static Model random(ModelConfig config, long seed) {
    int h = config.hidden();
    EmbeddingWeights e =
        new EmbeddingWeights(
            uniform(config.vocabSize() * h, seed, -1, 1),
            uniform(config.maxPositions() * h, seed + 1, -0.5, 0.5),
            uniform(config.typeVocabSize() * h, seed + 2, -0.2, 0.2),
            uniform(h, seed + 3, 0.5, 1.5),
            uniform(h, seed + 4, -0.5, 0.5));
    EncoderWeights w = EncoderWeights.random(config.encoderConfig(Precision.FP32), seed + 5);
    return new Model("random " + config.architecture(), config, e, w);
  }

  private static float[] uniform(int n, long seed, double lo, double hi) {
    SplittableRandom r = new SplittableRandom(seed);
    float[] v = new float[n];
    for (int i = 0; i < n; i++) {
      v[i] = (float) (lo + (hi - lo) * r.nextDouble());
    }
    return v;
  }
}
