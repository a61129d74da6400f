package org.ft4j.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnx.proto.OnnxMl.AttributeProto;
import ai.onnx.proto.OnnxMl.GraphProto;
import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import com.google.protobuf.ByteString;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.function.UnaryOperator;
import org.ft4j.cuda.Half;
import org.ft4j.encoder.EncoderConfig;
import org.ft4j.encoder.LayerParam;
import org.ft4j.encoder.Precision;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class OnnxModelLoaderTest {
  @TempDir Path tmp;

  // --- the embedded models -----------------------------------------------------------------

  @Test
  void loadsEmbeddedMiniLm() {
    Path file = EmbeddedModels.directory("minilm").resolve(EmbeddedModels.MODEL_FILE);
    ModelConfig c = OnnxModelLoader.load(file).config();
    assertEquals("bert", c.architecture());
    assertEquals(384, c.hidden());
    assertEquals(6, c.layers());
    assertEquals(12, c.heads());
    assertEquals(1536, c.intermediateSize());
    assertEquals(30522, c.vocabSize());
    assertEquals(512, c.maxPositions());
    assertEquals(2, c.typeVocabSize());
    assertEquals(1e-12, c.layerNormEps());
    assertEquals(0, c.padTokenId());
  }

  @Test
  void loadsEmbeddedBgeSmall() {
    Path file = EmbeddedModels.directory("bge-small").resolve(EmbeddedModels.MODEL_FILE);
    Model m = OnnxModelLoader.load(file);
    ModelConfig c = m.config();
    assertEquals(384, c.hidden());
    assertEquals(12, c.layers());
    assertEquals(12, c.heads());
    assertEquals(1536, c.intermediateSize());
    assertEquals(30522, c.vocabSize());
    assertEquals(512, c.maxPositions());
    assertEquals(1e-12, c.layerNormEps());
    assertEquals(12, m.encoder().config().layers());
  }

  @Test
  void truncatedFileIsRejectedNamingTheFile() throws IOException {
    Path source = EmbeddedModels.directory("minilm").resolve(EmbeddedModels.MODEL_FILE);
    Path cut = tmp.resolve("cut.onnx");
    try (InputStream in = Files.newInputStream(source);
        OutputStream out = Files.newOutputStream(cut)) {
      out.write(in.readNBytes(20_000_123));
    }
    String message =
        assertThrows(IllegalArgumentException.class, () -> OnnxModelLoader.load(cut)).getMessage();
    assertTrue(message.contains(cut.toString()), message);
  }

  @Test
  void missingOrGarbageFileIsRejectedNamingTheFile() throws IOException {
    Path none = tmp.resolve("none.onnx");
    String message =
        assertThrows(IllegalArgumentException.class, () -> OnnxModelLoader.load(none)).getMessage();
    assertEquals("ONNX file " + none + " does not exist", message);
    Path garbage = tmp.resolve("garbage.onnx");
    Files.write(garbage, new byte[] {(byte) 0xff, (byte) 0xff, (byte) 0xff, 1, 2, 3});
    message =
        assertThrows(IllegalArgumentException.class, () -> OnnxModelLoader.load(garbage))
            .getMessage();
    assertTrue(message.startsWith("ONNX file " + garbage), message);
  }

  // --- a tiny synthetic export (hidden 4 = 2 heads x 2, 1 layer, intermediate 8) -------------

  private static final int VOCAB = 10;
  private static final int HIDDEN = 4;
  private static final int INTER = 8;
  private static final int POSITIONS = 6;
  private static final int TYPES = 2;

  /** Deterministic values for a tensor, distinct per tensor. */
  private static float[] values(int seed, int count) {
    float[] v = new float[count];
    for (int i = 0; i < count; i++) {
      v[i] = (float) Math.sin(seed * 7.1 + i * 0.37) * 0.5f;
    }
    return v;
  }

  private static TensorProto floatTensor(String name, float[] data, long... dims) {
    ByteBuffer b = ByteBuffer.allocate(data.length * 4).order(ByteOrder.LITTLE_ENDIAN);
    b.asFloatBuffer().put(data);
    return TensorProto.newBuilder()
        .setName(name)
        .setDataType(TensorProto.DataType.FLOAT_VALUE)
        .addAllDims(Arrays.stream(dims).boxed().toList())
        .setRawData(ByteString.copyFrom(b.array()))
        .build();
  }

  private static NodeProto node(String op, String name, String... inputsThenOutput) {
    NodeProto.Builder n = NodeProto.newBuilder().setOpType(op).setName(name);
    for (int i = 0; i < inputsThenOutput.length - 1; i++) {
      n.addInput(inputsThenOutput[i]);
    }
    return n.addOutput(inputsThenOutput[inputsThenOutput.length - 1]).build();
  }

  private static NodeProto shapeConstant(String output, long... values) {
    TensorProto t =
        TensorProto.newBuilder()
            .setDataType(TensorProto.DataType.INT64_VALUE)
            .addDims(values.length)
            .addAllInt64Data(Arrays.stream(values).boxed().toList())
            .build();
    return NodeProto.newBuilder()
        .setOpType("Constant")
        .setName(output + "_node")
        .addOutput(output)
        .addAttribute(
            AttributeProto.newBuilder()
                .setName("value")
                .setType(AttributeProto.AttributeType.TENSOR)
                .setT(t))
        .build();
  }

  /** The linear weight [out, in] of a layer tensor, as PyTorch holds it. */
  private static float[] torchWeight(LayerParam p) {
    int[] shape = p.shape(new EncoderConfig(1, 2, 2, HIDDEN, INTER, 1e-12, Precision.FP32));
    return values(100 + p.ordinal(), shape[0] * shape[1]);
  }

  /** A graph shaped like PyTorch's BERT export: named biases, unnamed [in, out] MatMul weights. */
  private static ModelProto tinyModel(String prefix, UnaryOperator<TensorProto> edit) {
    GraphProto.Builder g = GraphProto.newBuilder().setName("tiny");
    String e = prefix + "embeddings.";
    g.addInitializer(
        edit.apply(
            floatTensor(e + "word_embeddings.weight", values(1, VOCAB * HIDDEN), VOCAB, HIDDEN)));
    g.addInitializer(
        edit.apply(
            floatTensor(
                e + "position_embeddings.weight",
                values(2, POSITIONS * HIDDEN),
                POSITIONS,
                HIDDEN)));
    g.addInitializer(
        edit.apply(
            floatTensor(
                e + "token_type_embeddings.weight", values(3, TYPES * HIDDEN), TYPES, HIDDEN)));
    g.addInitializer(edit.apply(floatTensor(e + "LayerNorm.weight", values(4, HIDDEN), HIDDEN)));
    g.addInitializer(edit.apply(floatTensor(e + "LayerNorm.bias", values(5, HIDDEN), HIDDEN)));
    String[][] linear = {
      {"attention/self/query", "QUERY"},
      {"attention/self/key", "KEY"},
      {"attention/self/value", "VALUE"},
      {"attention/output/dense", "ATTENTION_OUTPUT"},
      {"intermediate/dense", "INTERMEDIATE"},
      {"output/dense", "OUTPUT"},
    };
    int counter = 700;
    for (String[] l : linear) {
      LayerParam w = LayerParam.valueOf(l[1] + "_WEIGHT");
      LayerParam b = LayerParam.valueOf(l[1] + "_BIAS");
      int out = w == LayerParam.INTERMEDIATE_WEIGHT ? INTER : HIDDEN;
      int in = w == LayerParam.OUTPUT_WEIGHT ? INTER : HIDDEN;
      float[] torch = torchWeight(w);
      float[] stored = new float[torch.length]; // [in, out]
      for (int o = 0; o < out; o++) {
        for (int i = 0; i < in; i++) {
          stored[i * out + o] = torch[o * in + i];
        }
      }
      String wName = "onnx::MatMul_" + counter++;
      g.addInitializer(edit.apply(floatTensor(wName, stored, in, out)));
      g.addInitializer(
          edit.apply(floatTensor(prefix + b.nameIn(0), values(200 + b.ordinal(), out), out)));
      String path =
          "/" + prefix.replace(".", "") + (prefix.isEmpty() ? "" : "/") + "encoder/layer.0/" + l[0];
      g.addNode(node("MatMul", path + "/MatMul", "x", wName, path + "/MatMul_output_0"));
      g.addNode(
          node(
              "Add",
              path + "/Add",
              prefix + b.nameIn(0),
              path + "/MatMul_output_0",
              path + "/Add_output_0"));
    }
    for (LayerParam p :
        new LayerParam[] {
          LayerParam.ATTENTION_LAYERNORM_WEIGHT, LayerParam.ATTENTION_LAYERNORM_BIAS,
          LayerParam.OUTPUT_LAYERNORM_WEIGHT, LayerParam.OUTPUT_LAYERNORM_BIAS
        }) {
      g.addInitializer(
          edit.apply(floatTensor(prefix + p.nameIn(0), values(300 + p.ordinal(), HIDDEN), HIDDEN)));
    }
    // The attention reshape: target shape Concat(batch, seq, [2], [2]) as torch.onnx writes it.
    g.addNode(shapeConstant("heads_const", 2));
    g.addNode(shapeConstant("size_const", 2));
    g.addNode(
        node(
            "Concat",
            "/encoder/layer.0/attention/self/Concat",
            "b",
            "s",
            "heads_const",
            "size_const",
            "shape_out"));
    g.addNode(
        node(
            "Reshape",
            "/encoder/layer.0/attention/self/Reshape",
            "/encoder/layer.0/attention/self/key/Add_output_0",
            "shape_out",
            "reshaped"));
    return ModelProto.newBuilder().setIrVersion(7).setGraph(g).build();
  }

  private Path write(ModelProto m, String name) throws IOException {
    Path dir = Files.createDirectories(tmp.resolve(name));
    Path file = dir.resolve("model.onnx");
    Files.write(file, m.toByteArray());
    return file;
  }

  @Test
  void syntheticModelLoadsWithTransposedWeights() throws IOException {
    for (String prefix : new String[] {"", "bert."}) {
      Path file = write(tinyModel(prefix, t -> t), "ok" + prefix);
      Model m = OnnxModelLoader.load(file);
      ModelConfig c = m.config();
      assertEquals(
          new ModelConfig("bert", VOCAB, HIDDEN, 1, 2, INTER, POSITIONS, TYPES, 1e-12, 0), c);
      for (LayerParam p : LayerParam.values()) {
        if (p.isMatrix()) {
          assertArrayEquals(torchWeight(p), m.encoder().get(0, p), p.name());
        }
      }
      assertArrayEquals(values(2, POSITIONS * HIDDEN), m.embeddings().position());
      assertArrayEquals(
          values(200 + LayerParam.OUTPUT_BIAS.ordinal(), HIDDEN),
          m.encoder().get(0, LayerParam.OUTPUT_BIAS));
    }
  }

  @Test
  void wrongShapeIsRejectedNamingTheTensor() throws IOException {
    // The query bias with 5 values instead of hidden = 4.
    String name = LayerParam.QUERY_BIAS.nameIn(0);
    Path file =
        write(
            tinyModel("", t -> t.getName().equals(name) ? floatTensor(name, values(9, 5), 5) : t),
            "badshape");
    String message =
        assertThrows(IllegalArgumentException.class, () -> OnnxModelLoader.load(file)).getMessage();
    assertTrue(message.contains(file.toString()), message);
    assertTrue(message.contains(name) && message.contains("[5]"), message);

    // An unnamed MatMul weight of the wrong shape: named by graph name and Hugging Face name.
    Path file2 =
        write(
            tinyModel(
                "",
                t ->
                    t.getName().equals("onnx::MatMul_704")
                        ? floatTensor(t.getName(), values(9, 4 * 7), 4, 7)
                        : t),
            "badmatmul");
    message =
        assertThrows(IllegalArgumentException.class, () -> OnnxModelLoader.load(file2))
            .getMessage();
    assertTrue(message.contains("onnx::MatMul_704"), message);
    assertTrue(message.contains(LayerParam.INTERMEDIATE_WEIGHT.nameIn(0)), message);
  }

  @Test
  void missingTensorIsRejectedNamingIt() throws IOException {
    String name = "embeddings.LayerNorm.bias";
    GraphProto.Builder g = tinyModel("", t -> t).getGraph().toBuilder();
    for (int i = 0; i < g.getInitializerCount(); i++) {
      if (g.getInitializer(i).getName().equals(name)) {
        g.removeInitializer(i);
        break;
      }
    }
    Path file = write(ModelProto.newBuilder().setGraph(g).build(), "missing");
    String message =
        assertThrows(IllegalArgumentException.class, () -> OnnxModelLoader.load(file)).getMessage();
    assertEquals("ONNX file " + file + ": tensor " + name + " is missing", message);
  }

  @Test
  void float16WeightsAreWidenedAndOtherTypesRejected() throws IOException {
    UnaryOperator<TensorProto> toHalf =
        t -> {
          float[] f = new float[t.getRawData().size() / 4];
          t.getRawData()
              .asReadOnlyByteBuffer()
              .order(ByteOrder.LITTLE_ENDIAN)
              .asFloatBuffer()
              .get(f);
          ByteBuffer b = ByteBuffer.allocate(f.length * 2).order(ByteOrder.LITTLE_ENDIAN);
          for (float v : f) {
            b.putShort(Half.fromFloat(v));
          }
          return t.toBuilder()
              .setDataType(TensorProto.DataType.FLOAT16_VALUE)
              .setRawData(ByteString.copyFrom(b.array()))
              .build();
        };
    Model m = OnnxModelLoader.load(write(tinyModel("", toHalf), "fp16"));
    float[] expected = torchWeight(LayerParam.KEY_WEIGHT);
    float[] actual = m.encoder().get(0, LayerParam.KEY_WEIGHT);
    for (int i = 0; i < expected.length; i++) {
      assertEquals(Half.round(expected[i]), actual[i], 0f);
    }

    String name = "embeddings.token_type_embeddings.weight";
    Path file =
        write(
            tinyModel(
                "",
                t ->
                    t.getName().equals(name)
                        ? t.toBuilder().setDataType(TensorProto.DataType.INT8_VALUE).build()
                        : t),
            "int8");
    String message =
        assertThrows(IllegalArgumentException.class, () -> OnnxModelLoader.load(file)).getMessage();
    assertTrue(message.contains(file.toString()) && message.contains(name), message);
    assertTrue(message.contains("INT8"), message);
  }

  @Test
  void configJsonNextToTheFileTakesPrecedence() throws IOException {
    Path file = write(tinyModel("", t -> t), "withconfig");
    String json =
        "{\"model_type\": \"bert\", \"vocab_size\": 10, \"hidden_size\": 4,"
            + " \"num_hidden_layers\": 1, \"num_attention_heads\": 1, \"intermediate_size\": 8,"
            + " \"max_position_embeddings\": 6, \"type_vocab_size\": 2,"
            + " \"layer_norm_eps\": 1e-5, \"hidden_act\": \"gelu\"}";
    Files.writeString(file.resolveSibling("config.json"), json);
    ModelConfig c = OnnxModelLoader.load(file).config();
    assertEquals(1, c.heads());
    assertEquals(1e-5, c.layerNormEps());

    Files.writeString(file.resolveSibling("config.json"), json.replace("\"gelu\"", "\"gelu_new\""));
    String message =
        assertThrows(IllegalArgumentException.class, () -> OnnxModelLoader.load(file)).getMessage();
    assertTrue(message.contains("gelu_new"), message);

    Files.writeString(file.resolveSibling("config.json"), json.replace("\"bert\"", "\"t5\""));
    message =
        assertThrows(IllegalArgumentException.class, () -> OnnxModelLoader.load(file)).getMessage();
    assertTrue(message.contains("t5"), message);

    Files.writeString(
        file.resolveSibling("config.json"),
        json.replace("\"hidden_size\": 4", "\"hidden_size\": 8")
            .replace("\"num_attention_heads\": 1", "\"num_attention_heads\": 2"));
    message =
        assertThrows(IllegalArgumentException.class, () -> OnnxModelLoader.load(file)).getMessage();
    assertTrue(message.contains("embeddings.word_embeddings.weight"), message);
  }
}
