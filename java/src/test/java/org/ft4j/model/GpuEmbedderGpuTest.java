package org.ft4j.model;

import static org.ft4j.testing.GpuTesting.assertClose;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.SplittableRandom;
import org.ft4j.cuda.DType;
import org.ft4j.encoder.Precision;
import org.ft4j.reference.ReferenceEncoder;
import org.ft4j.reference.ReferenceKernels;
import org.ft4j.testing.GpuTesting;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The GPU embedder (embedding kernel + BertEncoder) on a small random BERT and RoBERTa against the
 * float64 reference (embedding layer + reference encoder): FP32 rel L2 <= 1e-5, FP16 <= 2e-3, for a
 * ragged batch.
 */
@Tag(GpuTesting.GPU)
class GpuEmbedderGpuTest {

  @BeforeAll
  static void requireDevice() {
    GpuTesting.assumeCudaDevice();
  }

  @ParameterizedTest
  @EnumSource(
      value = Precision.class,
      names = {"FP32", "FP16"})
  void matchesTheReferenceForBertAndRoberta(Precision precision) {
    for (String arch : new String[] {"bert", "roberta"}) {
      ModelConfig config = new ModelConfig(arch, 500, 128, 2, 4, 512, 66, 2, 1e-12, 1);
      Model model = Model.random(config, 17);
      int[][] ids = new int[3][];
      int[][] types = new int[3][];
      int[] lengths = {5, 64, 1};
      SplittableRandom r = new SplittableRandom(5);
      for (int b = 0; b < 3; b++) {
        ids[b] = new int[lengths[b]];
        types[b] = new int[lengths[b]];
        for (int i = 0; i < lengths[b]; i++) {
          ids[b][i] = r.nextInt(config.vocabSize());
          types[b][i] = r.nextInt(2);
        }
      }
      try (GpuEmbedder gpu = new GpuEmbedder(model, precision, 0)) {
        float[][] actual = gpu.lastHiddenStates(ids, types);
        for (int b = 0; b < 3; b++) {
          float[] expected = reference(model, ids[b], types[b], precision);
          assertEquals(expected.length, actual[b].length);
          assertClose(
              expected,
              actual[b],
              precision == Precision.FP32 ? 1e-5 : 2e-3,
              arch + " " + precision + " sequence " + b);
        }
        // device pooling == the host Pooler over the same hidden states
        for (Pooling pooling : new Pooling[] {Pooling.CLS, Pooling.MEAN}) {
          for (boolean normalize : new boolean[] {false, true}) {
            float[][] pooled = gpu.pooled(ids, types, pooling, normalize);
            for (int b = 0; b < 3; b++) {
              assertClose(
                  Pooler.pool(actual[b], lengths[b], config.hidden(), pooling, normalize),
                  pooled[b],
                  1e-5,
                  arch + " " + precision + " " + pooling + " pooled sequence " + b);
            }
          }
        }
        int[][] bad = {{config.vocabSize()}};
        IllegalArgumentException e =
            assertThrows(IllegalArgumentException.class, () -> gpu.lastHiddenStates(bad, null));
        assertEquals(
            "token id 500 at sequence 0 position 0 is outside the vocabulary [0, 500)",
            e.getMessage());
      }
    }
  }

  /** One sequence through the reference: embedding layer, then the encoder on it alone. */
  private static float[] reference(Model m, int[] ids, int[] types, Precision p) {
    ModelConfig c = m.config();
    EmbeddingWeights e = m.embeddings();
    DType t = p == Precision.FP32 ? DType.FP32 : DType.FP16;
    double[] x =
        ReferenceKernels.embeddingLayerNorm(
            ids,
            types,
            GpuTesting.asStored(e.word(), t),
            GpuTesting.asStored(e.position(), t),
            GpuTesting.asStored(e.tokenType(), t),
            GpuTesting.asStored(e.layerNormGamma(), t),
            GpuTesting.asStored(e.layerNormBeta(), t),
            c.layerNormEps(),
            ids.length,
            c.hidden(),
            c.positionOffset());
    float[] in = new float[x.length];
    for (int i = 0; i < x.length; i++) {
      in[i] = (float) x[i];
    }
    // the GPU rounds the embedding output to its storage type before the encoder
    in = GpuTesting.asStored(in, t);
    try (ReferenceEncoder enc = new ReferenceEncoder(m.encoder())) {
      return enc.forward(in, new int[] {ids.length}, 1, ids.length);
    }
  }
}
