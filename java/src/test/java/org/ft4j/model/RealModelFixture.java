package org.ft4j.model;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.TreeMap;
import org.ft4j.cuda.Half;
import org.ft4j.encoder.EncoderWeights;
import org.ft4j.encoder.LayerParam;
import org.ft4j.encoder.Precision;

/**
 * A compact, GPU-carryable check of a real model: the embedded MiniLM with its weights rounded to
 * FP16, its word embedding cut down to the rows the test sentences use (ids remapped; a lookup is
 * row-wise, so hidden states do not change), the sentences' token ids, and the CPU reference's
 * mean-pooled, normalised embeddings of them. Written by {@link #main} on any machine; read by
 * {@link RealModelGpuTest} on a GPU machine (the full model does not fit a device transfer).
 *
 * <p>Format (big-endian DataOutputStream): magic, config ints, tensors as FP16 shorts, sentences,
 * expected vectors.
 */
final class RealModelFixture {
  static final int MAGIC = 0x46544A31; // "FTJ1"

  final Model model;
  final int[][] ids;
  final float[][] expected;

  RealModelFixture(Model model, int[][] ids, float[][] expected) {
    this.model = model;
    this.ids = ids;
    this.expected = expected;
  }

  /** Writes the fixture of the embedded MiniLM to args[0]. */
  public static void main(String[] args) throws IOException {
    Path out = Path.of(args[0]);
    Model full = ModelLoader.load("minilm");
    List<String> texts = OrtOracleTest.sentences();
    int[][] fullIds;
    try (TextTokenizer tok =
        TextTokenizer.load(
            ModelLoader.tokenizerPath("minilm"), full.config().maxSequenceLength())) {
      List<TextTokenizer.Encoding> enc = tok.encode(texts);
      fullIds = new int[enc.size()][];
      for (int i = 0; i < enc.size(); i++) {
        fullIds[i] = enc.get(i).ids();
      }
    }
    // the used vocabulary rows, in id order; ids remapped to their rank
    TreeMap<Integer, Integer> rank = new TreeMap<>();
    for (int[] s : fullIds) {
      for (int id : s) {
        rank.put(id, 0);
      }
    }
    int r = 0;
    for (Integer id : rank.keySet()) {
      rank.put(id, r++);
    }
    ModelConfig c = full.config();
    int h = c.hidden();
    float[] word = new float[rank.size() * h];
    for (var e : rank.entrySet()) {
      System.arraycopy(full.embeddings().word(), e.getKey() * h, word, e.getValue() * h, h);
    }
    int[][] ids = new int[fullIds.length][];
    for (int i = 0; i < ids.length; i++) {
      ids[i] = new int[fullIds[i].length];
      for (int t = 0; t < ids[i].length; t++) {
        ids[i][t] = rank.get(fullIds[i][t]);
      }
    }
    ModelConfig pc =
        new ModelConfig(
            c.architecture(),
            rank.size(),
            h,
            c.layers(),
            c.heads(),
            c.intermediateSize(),
            c.maxPositions(),
            c.typeVocabSize(),
            c.layerNormEps(),
            c.padTokenId());
    EmbeddingWeights e = full.embeddings();
    EmbeddingWeights pe =
        new EmbeddingWeights(
            round16(word),
            round16(e.position()),
            round16(e.tokenType()),
            round16(e.layerNormGamma()),
            round16(e.layerNormBeta()));
    org.ft4j.encoder.EncoderConfig ec = pc.encoderConfig(Precision.FP32);
    EncoderWeights.Builder b = EncoderWeights.builder(ec);
    for (int layer = 0; layer < c.layers(); layer++) {
      for (LayerParam p : LayerParam.values()) {
        b.put(p.nameIn(layer), round16(full.encoder().get(layer, p)), p.shape(ec));
      }
    }
    Model pruned = new Model("minilm fp16-rounded, pruned vocabulary", pc, pe, b.build());
    float[][] expected = pooled(new ReferenceEmbedder(pruned), ids, h);
    try (DataOutputStream o =
        new DataOutputStream(new BufferedOutputStream(Files.newOutputStream(out)))) {
      o.writeInt(MAGIC);
      for (int v :
          new int[] {
            pc.architecture().equals("bert") ? 0 : 1,
            pc.vocabSize(),
            h,
            pc.layers(),
            pc.heads(),
            pc.intermediateSize(),
            pc.maxPositions(),
            pc.typeVocabSize(),
            pc.padTokenId()
          }) {
        o.writeInt(v);
      }
      o.writeDouble(pc.layerNormEps());
      for (float[] t :
          new float[][] {
            pe.word(), pe.position(), pe.tokenType(), pe.layerNormGamma(), pe.layerNormBeta()
          }) {
        writeHalves(o, t);
      }
      for (int layer = 0; layer < pc.layers(); layer++) {
        for (LayerParam p : LayerParam.values()) {
          writeHalves(o, pruned.encoder().get(layer, p));
        }
      }
      o.writeInt(ids.length);
      for (int i = 0; i < ids.length; i++) {
        o.writeInt(ids[i].length);
        for (int id : ids[i]) {
          o.writeInt(id);
        }
        for (float v : expected[i]) {
          o.writeFloat(v);
        }
      }
    }
    System.out.println(
        "wrote "
            + out
            + ": "
            + ids.length
            + " sentences, "
            + rank.size()
            + " vocabulary rows, "
            + Files.size(out)
            + " bytes");
  }

  /** Mean-pooled, L2-normalised vectors of every sequence. */
  static float[][] pooled(TokenEmbedder embedder, int[][] ids, int hidden) {
    float[][] states = embedder.lastHiddenStates(ids, null);
    float[][] out = new float[ids.length][];
    for (int i = 0; i < ids.length; i++) {
      out[i] = Pooler.pool(states[i], ids[i].length, hidden, Pooling.MEAN, true);
    }
    return out;
  }

  static RealModelFixture read(Path file) throws IOException {
    try (DataInputStream in =
        new DataInputStream(new BufferedInputStream(Files.newInputStream(file)))) {
      if (in.readInt() != MAGIC) {
        throw new IOException(file + " is not a real-model fixture");
      }
      int arch = in.readInt();
      int vocab = in.readInt();
      int h = in.readInt();
      int layers = in.readInt();
      int heads = in.readInt();
      int inter = in.readInt();
      int positions = in.readInt();
      int types = in.readInt();
      int pad = in.readInt();
      double eps = in.readDouble();
      ModelConfig c =
          new ModelConfig(
              arch == 0 ? "bert" : "roberta",
              vocab,
              h,
              layers,
              heads,
              inter,
              positions,
              types,
              eps,
              pad);
      EmbeddingWeights e =
          new EmbeddingWeights(
              readHalves(in, vocab * h),
              readHalves(in, positions * h),
              readHalves(in, types * h),
              readHalves(in, h),
              readHalves(in, h));
      org.ft4j.encoder.EncoderConfig ec = c.encoderConfig(Precision.FP32);
      EncoderWeights.Builder b = EncoderWeights.builder(ec);
      for (int layer = 0; layer < layers; layer++) {
        for (LayerParam p : LayerParam.values()) {
          int[] shape = p.shape(ec);
          int n = shape.length == 2 ? shape[0] * shape[1] : shape[0];
          b.put(p.nameIn(layer), readHalves(in, n), shape);
        }
      }
      Model m = new Model(file.toString(), c, e, b.build());
      int count = in.readInt();
      int[][] ids = new int[count][];
      float[][] expected = new float[count][h];
      for (int i = 0; i < count; i++) {
        ids[i] = new int[in.readInt()];
        for (int t = 0; t < ids[i].length; t++) {
          ids[i][t] = in.readInt();
        }
        for (int k = 0; k < h; k++) {
          expected[i][k] = in.readFloat();
        }
      }
      return new RealModelFixture(m, ids, expected);
    }
  }

  private static float[] round16(float[] x) {
    return Half.toFloats(Half.fromFloats(x));
  }

  private static void writeHalves(DataOutputStream o, float[] x) throws IOException {
    for (float v : x) {
      o.writeShort(Half.fromFloat(v));
    }
  }

  private static float[] readHalves(DataInputStream in, int n) throws IOException {
    float[] x = new float[n];
    for (int i = 0; i < n; i++) {
      x[i] = Half.toFloat(in.readShort());
    }
    return x;
  }
}
