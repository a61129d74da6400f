package org.ft4j.model;

import ai.onnx.proto.OnnxMl.AttributeProto;
import ai.onnx.proto.OnnxMl.GraphProto;
import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import com.google.protobuf.ByteString;
import com.google.protobuf.CodedInputStream;
import com.google.protobuf.InvalidProtocolBufferException;
import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.ft4j.cuda.Half;
import org.ft4j.encoder.EncoderConfig;
import org.ft4j.encoder.EncoderWeights;
import org.ft4j.encoder.LayerParam;
import org.ft4j.encoder.Precision;

/**
 * Loads a BERT-family encoder exported to ONNX by PyTorch ({@code torch.onnx} / Optimum /
 * sentence-transformers exports with a {@code last_hidden_state} output) into a {@link Model}.
 *
 * <p>What is read from the file:
 *
 * <ul>
 *   <li>Initializers with Hugging Face names ({@code embeddings.word_embeddings.weight}, {@code
 *       encoder.layer.N.attention.self.query.bias}, ...), possibly under a prefix such as {@code
 *       bert.} (stripped).
 *   <li>The linear weights, which PyTorch's exporter stores unnamed ({@code onnx::MatMul_NNN}) in
 *       [in, out] layout: each is identified through the MatMul node that consumes it (node names
 *       like {@code /encoder/layer.3/attention/self/query/MatMul}) and transposed to PyTorch's
 *       [out, in]. A weight reached through a Transpose node is taken as it is stored. Unnamed
 *       biases are found the same way through the Add node after the MatMul.
 *   <li>The shape (vocabulary, hidden, positions, token types, layers, intermediate size) from the
 *       tensors' shapes. The number of attention heads is not in the weights: it comes from the
 *       constant target shape [batch, seq, heads, headSize] of the attention Reshape nodes (or the
 *       {@code num_heads} attribute of a fused attention node).
 *   <li>The layernorm epsilon from the embeddings LayerNorm of the graph (the constant added to the
 *       variance, or a LayerNormalization node's epsilon), else 1e-12.
 * </ul>
 *
 * <p>A {@code config.json} next to the .onnx file, when present, takes precedence for the
 * configuration (read by {@link HfConfig}: model_type bert, roberta, xlm-roberta or camembert,
 * hidden_act "gelu"); the tensors are then checked against it. Without config.json the model is
 * BERT-style, or RoBERTa-style (padding id 1) when the embeddings compute position ids with a
 * CumSum; a graph whose feed-forward activation is positively another than erf GELU (tanh
 * approximation, ReLU, ...) is rejected.
 *
 * <p>Weights of type FLOAT, FLOAT16 and BFLOAT16 are read (as FP32); other types, external data and
 * malformed files are {@link IllegalArgumentException}s naming the file and the tensor.
 */
public final class OnnxModelLoader {
  /** Name of the optional Hugging Face configuration next to the .onnx file. */
  public static final String CONFIG_FILE = "config.json";

  private static final String EMB = "embeddings.";
  private static final Pattern PREFIXED =
      Pattern.compile("(?:^|\\.)((?:embeddings|encoder\\.layer)\\..*)$");
  private static final Pattern LINEAR_NODE =
      Pattern.compile(
          "/encoder/layer\\.(\\d+)/(attention/self/query|attention/self/key|attention/self/value"
              + "|attention/output/dense|intermediate/dense|output/dense)/(MatMul|Add)(?:_\\d+)?$");
  private static final Pattern LAYER_INDEX = Pattern.compile("^encoder\\.layer\\.(\\d+)\\.(.+)$");

  private static final int FLOAT = TensorProto.DataType.FLOAT_VALUE;
  private static final int FLOAT16 = TensorProto.DataType.FLOAT16_VALUE;
  private static final int BFLOAT16 = TensorProto.DataType.BFLOAT16_VALUE;
  private static final int INT64 = TensorProto.DataType.INT64_VALUE;
  private static final int INT32 = TensorProto.DataType.INT32_VALUE;

  private OnnxModelLoader() {}

  /** Loads the model in {@code onnxFile} (and its config.json, when one lies next to it). */
  public static Model load(Path onnxFile) {
    ModelProto proto = parse(onnxFile);
    Path dir = onnxFile.toAbsolutePath().getParent();
    Path configFile = dir == null ? null : dir.resolve(CONFIG_FILE);
    ModelConfig fromJson =
        configFile != null && Files.isRegularFile(configFile) ? HfConfig.read(configFile) : null;
    return new Loader(onnxFile, proto.getGraph()).load(fromJson);
  }

  /** Builds the model from an already parsed ONNX model; {@code source} names it in messages. */
  static Model load(Path source, ModelProto proto, ModelConfig config) {
    return new Loader(source, proto.getGraph()).load(config);
  }

  /** Parses the protobuf; large files are streamed with a raised size limit. */
  static ModelProto parse(Path onnxFile) {
    if (!Files.isRegularFile(onnxFile)) {
      throw new IllegalArgumentException("ONNX file " + onnxFile + " does not exist");
    }
    ModelProto proto;
    try (InputStream in = new BufferedInputStream(Files.newInputStream(onnxFile), 1 << 20)) {
      CodedInputStream coded = CodedInputStream.newInstance(in);
      coded.setSizeLimit(Integer.MAX_VALUE);
      coded.setRecursionLimit(1000);
      proto = ModelProto.parseFrom(coded);
    } catch (InvalidProtocolBufferException e) {
      throw new IllegalArgumentException(
          "ONNX file "
              + onnxFile
              + " is not a valid ONNX model (truncated or corrupt): "
              + e.getMessage(),
          e);
    } catch (NoSuchFileException e) {
      throw new IllegalArgumentException("ONNX file " + onnxFile + " does not exist", e);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read ONNX file " + onnxFile, e);
    }
    if (!proto.hasGraph() || proto.getGraph().getInitializerCount() == 0) {
      throw new IllegalArgumentException(
          "ONNX file " + onnxFile + " is not a valid ONNX model: it has no graph with weights");
    }
    return proto;
  }

  /** One load: the graph's indexes and the error context. */
  private static final class Loader {
    private final Path file;
    private final GraphProto graph;

    /** Initializers by their name in the graph. */
    private final Map<String, TensorProto> initializers = new LinkedHashMap<>();

    /** Constant-node outputs by name. */
    private final Map<String, NodeProto> constants = new HashMap<>();

    /** Node producing each value. */
    private final Map<String, NodeProto> producers = new HashMap<>();

    /** Hugging Face name (prefix stripped) → graph name of its initializer. */
    private final Map<String, String> byHfName = new LinkedHashMap<>();

    /** Hugging Face name → true when stored [in, out] (to transpose). */
    private final Map<String, Boolean> transposed = new HashMap<>();

    Loader(Path file, GraphProto graph) {
      this.file = file;
      this.graph = graph;
      for (TensorProto t : graph.getInitializerList()) {
        initializers.put(t.getName(), t);
      }
      for (NodeProto n : graph.getNodeList()) {
        for (String out : n.getOutputList()) {
          producers.put(out, n);
        }
        if ("Constant".equals(n.getOpType()) && n.getOutputCount() == 1) {
          constants.put(n.getOutput(0), n);
        }
      }
    }

    Model load(ModelConfig fromJson) {
      indexNames();
      int[] wordShape = shapeOf(EMB + "word_embeddings.weight", 2);
      int[] posShape = shapeOf(EMB + "position_embeddings.weight", 2);
      int[] typeShape = shapeOf(EMB + "token_type_embeddings.weight", 2);
      int hidden = wordShape[1];
      int layers = countLayers();
      if (layers == 0) {
        throw bad("no encoder layer tensors (encoder.layer.0.*) found");
      }
      int[] interShape = shapeOf(LayerParam.INTERMEDIATE_BIAS.nameIn(0), 1);
      ModelConfig config;
      if (fromJson != null) {
        config = fromJson;
        checkDim(
            "embeddings.word_embeddings.weight",
            wordShape,
            new int[] {config.vocabSize(), config.hidden()});
        checkDim(
            "embeddings.position_embeddings.weight",
            posShape,
            new int[] {config.maxPositions(), config.hidden()});
        checkDim(
            "embeddings.token_type_embeddings.weight",
            typeShape,
            new int[] {config.typeVocabSize(), config.hidden()});
        if (config.layers() != layers) {
          throw bad(
              "the graph has "
                  + layers
                  + " encoder layers but "
                  + CONFIG_FILE
                  + " says num_hidden_layers = "
                  + config.layers());
        }
      } else {
        checkActivation();
        boolean roberta = hasPositionCumSum();
        int heads = inferHeads(hidden);
        config =
            new ModelConfig(
                roberta ? "roberta" : "bert",
                wordShape[0],
                hidden,
                layers,
                heads,
                interShape[0],
                posShape[0],
                typeShape[0],
                inferLayerNormEps(),
                roberta ? 1 : 0);
      }
      float[] word = read(EMB + "word_embeddings.weight", config.vocabSize(), config.hidden());
      float[] position =
          read(EMB + "position_embeddings.weight", config.maxPositions(), config.hidden());
      float[] tokenType =
          read(EMB + "token_type_embeddings.weight", config.typeVocabSize(), config.hidden());
      float[] gamma = read(EMB + "LayerNorm.weight", config.hidden());
      float[] beta = read(EMB + "LayerNorm.bias", config.hidden());

      EncoderConfig encoderConfig = config.encoderConfig(Precision.FP32);
      EncoderWeights.Builder builder = EncoderWeights.builder(encoderConfig);
      for (int layer = 0; layer < config.layers(); layer++) {
        for (LayerParam p : LayerParam.values()) {
          String name = p.nameIn(layer);
          int[] expected = p.shape(encoderConfig);
          float[] data = read(name, expected);
          try {
            builder.put(name, data, expected);
          } catch (IllegalArgumentException e) {
            throw bad("tensor " + describe(name) + ": " + e.getMessage());
          }
        }
      }
      EncoderWeights encoder = builder.build();
      String name = file.toString();
      return new Model(
          name, config, new EmbeddingWeights(word, position, tokenType, gamma, beta), encoder);
    }

    // --- names ---------------------------------------------------------------------------------

    /** Maps every weight to its Hugging Face name: named initializers, then MatMul/Add nodes. */
    private void indexNames() {
      for (String name : initializers.keySet()) {
        Matcher m = PREFIXED.matcher(name);
        if (m.find()) {
          String hf = m.group(1);
          String previous = byHfName.put(hf, name);
          if (previous != null) {
            throw bad("initializers " + previous + " and " + name + " both map to " + hf);
          }
          transposed.put(hf, false);
        }
      }
      for (NodeProto n : graph.getNodeList()) {
        Matcher m = LINEAR_NODE.matcher(n.getName());
        if (!m.find()) {
          continue;
        }
        String op = n.getOpType();
        String layer = m.group(1);
        String module = m.group(2).replace('/', '.');
        if ("MatMul".equals(op) && "MatMul".equals(m.group(3)) && n.getInputCount() == 2) {
          String hf = LayerParam.LAYER_PREFIX + layer + "." + module + ".weight";
          String input = n.getInput(1);
          boolean viaTranspose = false;
          if (!initializers.containsKey(input)) {
            NodeProto p = producers.get(input);
            if (p != null && "Transpose".equals(p.getOpType()) && p.getInputCount() == 1) {
              input = p.getInput(0);
              viaTranspose = true;
            }
          }
          if (initializers.containsKey(input)) {
            mapUnnamed(hf, input, !viaTranspose);
          }
        } else if ("Add".equals(op) && "Add".equals(m.group(3))) {
          String hf = LayerParam.LAYER_PREFIX + layer + "." + module + ".bias";
          for (String input : n.getInputList()) {
            TensorProto t = initializers.get(input);
            if (t != null && t.getDimsCount() == 1) {
              mapUnnamed(hf, input, false);
            }
          }
        }
      }
      // Anything else under encoder.layer. is a tensor this runtime does not know: refuse rather
      // than silently compute something else.
      for (String hf : byHfName.keySet()) {
        Matcher m = LAYER_INDEX.matcher(hf);
        if (m.matches() && LayerParam.fromSuffix(m.group(2)) == null) {
          throw bad(
              "tensor "
                  + byHfName.get(hf)
                  + " ("
                  + hf
                  + ") is not a BERT encoder layer tensor; this model has other layers and is"
                  + " not supported");
        }
      }
    }

    private void mapUnnamed(String hf, String graphName, boolean inOut) {
      String existing = byHfName.get(hf);
      if (existing == null) {
        byHfName.put(hf, graphName);
        transposed.put(hf, inOut);
      } else if (!existing.equals(graphName) && !PREFIXED.matcher(graphName).find()) {
        throw bad("tensors " + existing + " and " + graphName + " both map to " + hf);
      }
    }

    private int countLayers() {
      Set<Integer> seen = new TreeSet<>();
      for (String hf : byHfName.keySet()) {
        Matcher m = LAYER_INDEX.matcher(hf);
        if (m.matches()) {
          seen.add(Integer.parseInt(m.group(1)));
        }
      }
      int n = seen.size();
      for (int i = 0; i < n; i++) {
        if (!seen.contains(i)) {
          throw bad("encoder layers are not numbered 0.." + (n - 1) + ": found " + seen);
        }
      }
      return n;
    }

    private String describe(String hf) {
      String graphName = byHfName.get(hf);
      return graphName == null || graphName.equals(hf) ? hf : graphName + " (" + hf + ")";
    }

    // --- tensors -------------------------------------------------------------------------------

    private TensorProto tensor(String hf) {
      String graphName = byHfName.get(hf);
      if (graphName == null) {
        throw bad("tensor " + hf + " is missing");
      }
      return initializers.get(graphName);
    }

    /** The PyTorch-layout shape of {@code hf}; checks the rank. */
    private int[] shapeOf(String hf, int rank) {
      TensorProto t = tensor(hf);
      if (t.getDimsCount() != rank) {
        throw bad(
            "tensor "
                + describe(hf)
                + " has shape "
                + t.getDimsList()
                + ", expected "
                + rank
                + " dimensions");
      }
      int[] shape = new int[rank];
      for (int i = 0; i < rank; i++) {
        long d = t.getDims(i);
        if (d < 1 || d > Integer.MAX_VALUE) {
          throw bad("tensor " + describe(hf) + " has shape " + t.getDimsList());
        }
        shape[i] = (int) d;
      }
      if (Boolean.TRUE.equals(transposed.get(hf)) && rank == 2) {
        shape = new int[] {shape[1], shape[0]};
      }
      return shape;
    }

    private void checkDim(String hf, int[] actual, int[] expected) {
      if (!Arrays.equals(actual, expected)) {
        throw bad(
            "tensor "
                + describe(hf)
                + " has shape "
                + Arrays.toString(actual)
                + ", expected "
                + Arrays.toString(expected)
                + " from "
                + CONFIG_FILE);
      }
    }

    /** Reads {@code hf} as FP32 in PyTorch layout after checking its shape is {@code expected}. */
    private float[] read(String hf, int... expected) {
      TensorProto t = tensor(hf);
      int[] shape = shapeOf(hf, t.getDimsCount());
      if (!Arrays.equals(shape, expected)) {
        throw bad(
            "tensor "
                + describe(hf)
                + " has shape "
                + Arrays.toString(shape)
                + (Boolean.TRUE.equals(transposed.get(hf)) ? " (stored transposed)" : "")
                + ", expected "
                + Arrays.toString(expected));
      }
      long count = 1;
      for (int d : expected) {
        count *= d;
      }
      if (count > Integer.MAX_VALUE - 8) {
        throw bad("tensor " + describe(hf) + " is too large (" + count + " values)");
      }
      float[] data = floats(t, (int) count, describe(hf));
      if (Boolean.TRUE.equals(transposed.get(hf))) {
        data = transpose(data, expected[1], expected[0]);
      }
      return data;
    }

    /** Decodes a FLOAT / FLOAT16 / BFLOAT16 tensor of {@code count} values. */
    private float[] floats(TensorProto t, int count, String what) {
      if (t.getDataLocation() == TensorProto.DataLocation.EXTERNAL) {
        throw bad("tensor " + what + " is stored as external data, which is not supported");
      }
      int type = t.getDataType();
      float[] out = new float[count];
      ByteString raw = t.getRawData();
      if (type == FLOAT) {
        if (!raw.isEmpty()) {
          expectBytes(what, raw, (long) count * 4);
          raw.asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(out);
        } else {
          expectValues(what, t.getFloatDataCount(), count);
          for (int i = 0; i < count; i++) {
            out[i] = t.getFloatData(i);
          }
        }
      } else if (type == FLOAT16 || type == BFLOAT16) {
        short[] bits = new short[count];
        if (!raw.isEmpty()) {
          expectBytes(what, raw, (long) count * 2);
          raw.asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN).asShortBuffer().get(bits);
        } else {
          expectValues(what, t.getInt32DataCount(), count);
          for (int i = 0; i < count; i++) {
            bits[i] = (short) t.getInt32Data(i);
          }
        }
        for (int i = 0; i < count; i++) {
          out[i] =
              type == FLOAT16
                  ? Half.toFloat(bits[i])
                  : Float.intBitsToFloat((bits[i] & 0xffff) << 16);
        }
      } else {
        throw bad(
            "tensor "
                + what
                + " has data type "
                + typeName(type)
                + "; only FLOAT, FLOAT16 and BFLOAT16 weights are supported");
      }
      return out;
    }

    private void expectBytes(String what, ByteString raw, long expected) {
      if (raw.size() != expected) {
        throw bad("tensor " + what + " has " + raw.size() + " bytes of data, expected " + expected);
      }
    }

    private void expectValues(String what, int actual, int expected) {
      if (actual != expected) {
        throw bad("tensor " + what + " has " + actual + " values, expected " + expected);
      }
    }

    // --- graph inference -----------------------------------------------------------------------

    /**
     * The number of heads: the num_heads attribute of a fused attention node, else the constant
     * target shape [.., .., heads, headSize] (heads * headSize == hidden) of 4-d Reshape nodes.
     */
    private int inferHeads(int hidden) {
      Set<Integer> found = new TreeSet<>();
      for (NodeProto n : graph.getNodeList()) {
        for (AttributeProto a : n.getAttributeList()) {
          if ("num_heads".equals(a.getName()) && a.getI() > 0) {
            found.add((int) a.getI());
          }
        }
      }
      if (found.isEmpty()) {
        for (NodeProto n : graph.getNodeList()) {
          if (!"Reshape".equals(n.getOpType()) || n.getInputCount() < 2) {
            continue;
          }
          long[] dims = constantShape(n.getInput(1));
          if (dims == null || dims.length != 4) {
            continue;
          }
          long heads = dims[2];
          long size = dims[3];
          if (heads > 0 && size > 0 && heads * size == hidden) {
            found.add((int) heads);
          }
        }
      }
      if (found.size() == 1) {
        return found.iterator().next();
      }
      throw bad(
          (found.isEmpty()
                  ? "cannot find the number of attention heads in the graph"
                  : "the graph's attention Reshape nodes disagree on the number of heads " + found)
              + "; put the model's "
              + CONFIG_FILE
              + " (num_attention_heads) next to the .onnx file");
    }

    /** Values of a shape tensor where known: a constant, or a Concat of parts (-1 = unknown). */
    private long[] constantShape(String value) {
      long[] c = constantInts(value);
      if (c != null) {
        return c;
      }
      NodeProto p = producers.get(value);
      if (p == null || !"Concat".equals(p.getOpType())) {
        return null;
      }
      List<Long> parts = new ArrayList<>();
      for (String in : p.getInputList()) {
        long[] part = constantInts(in);
        if (part == null) {
          parts.add(-1L); // a runtime dimension (Unsqueeze of a Gather of Shape): one entry
        } else {
          for (long v : part) {
            parts.add(v);
          }
        }
      }
      return parts.stream().mapToLong(Long::longValue).toArray();
    }

    /** Integer values of a constant (initializer or Constant node), or null. */
    private long[] constantInts(String value) {
      TensorProto t = initializers.get(value);
      if (t == null) {
        NodeProto c = constants.get(value);
        if (c == null) {
          return null;
        }
        for (AttributeProto a : c.getAttributeList()) {
          if ("value".equals(a.getName()) && a.hasT()) {
            t = a.getT();
          } else if ("value_ints".equals(a.getName())) {
            return a.getIntsList().stream().mapToLong(Long::longValue).toArray();
          } else if ("value_int".equals(a.getName())) {
            return new long[] {a.getI()};
          }
        }
        if (t == null) {
          return null;
        }
      }
      ByteBuffer raw = t.getRawData().asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
      if (t.getDataType() == INT64) {
        if (t.getInt64DataCount() > 0) {
          return t.getInt64DataList().stream().mapToLong(Long::longValue).toArray();
        }
        long[] v = new long[raw.remaining() / 8];
        raw.asLongBuffer().get(v);
        return v;
      }
      if (t.getDataType() == INT32) {
        if (t.getInt32DataCount() > 0) {
          return t.getInt32DataList().stream().mapToLong(Integer::longValue).toArray();
        }
        long[] v = new long[raw.remaining() / 4];
        for (int i = 0; i < v.length; i++) {
          v[i] = raw.getInt(i * 4);
        }
        return v;
      }
      return null;
    }

    /** Single float value of a constant, or NaN. */
    private double constantFloat(String value) {
      TensorProto t = initializers.get(value);
      if (t == null) {
        NodeProto c = constants.get(value);
        if (c == null) {
          return Double.NaN;
        }
        for (AttributeProto a : c.getAttributeList()) {
          if ("value".equals(a.getName()) && a.hasT()) {
            t = a.getT();
          } else if ("value_float".equals(a.getName())) {
            return a.getF();
          }
        }
      }
      if (t == null || t.getDataType() != FLOAT) {
        return Double.NaN;
      }
      if (t.getFloatDataCount() == 1) {
        return t.getFloatData(0);
      }
      if (t.getRawData().size() == 4) {
        return t.getRawData().asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN).getFloat();
      }
      return Double.NaN;
    }

    /**
     * The epsilon of the embeddings layernorm: a LayerNormalization node's attribute, or the scalar
     * added to the variance before Sqrt; 1e-12 (BERT's) when neither is found. The float32 constant
     * is read back as the decimal it was written from (1e-12, not 9.99999996e-13).
     */
    private double inferLayerNormEps() {
      for (NodeProto n : graph.getNodeList()) {
        String name = n.getName();
        if (!name.contains("embeddings/LayerNorm")) {
          continue;
        }
        if ("LayerNormalization".equals(n.getOpType())) {
          for (AttributeProto a : n.getAttributeList()) {
            if ("epsilon".equals(a.getName())) {
              return Double.parseDouble(Float.toString(a.getF()));
            }
          }
          return 1e-5; // the ONNX default of LayerNormalization
        }
        if ("Add".equals(n.getOpType()) && n.getInputCount() == 2) {
          NodeProto left = producers.get(n.getInput(0));
          if (left != null && "ReduceMean".equals(left.getOpType())) {
            double eps = constantFloat(n.getInput(1));
            if (eps > 0 && Double.isFinite(eps)) {
              return Double.parseDouble(Float.toString((float) eps));
            }
          }
        }
      }
      return EncoderConfig.DEFAULT_LAYERNORM_EPS;
    }

    /** RoBERTa-style embeddings compute position ids from the input ids with a CumSum. */
    private boolean hasPositionCumSum() {
      for (NodeProto n : graph.getNodeList()) {
        if ("CumSum".equals(n.getOpType()) && n.getName().contains("embeddings")) {
          return true;
        }
      }
      return false;
    }

    /** Rejects feed-forward activations that are positively not the exact erf GELU. */
    private void checkActivation() {
      Set<String> other = Set.of("Tanh", "FastGelu", "Relu", "Sigmoid", "QuickGelu", "Gelu_tanh");
      for (NodeProto n : graph.getNodeList()) {
        if (!n.getName().contains("/intermediate/")) {
          continue;
        }
        boolean tanhGelu = false;
        if ("Gelu".equals(n.getOpType())) {
          for (AttributeProto a : n.getAttributeList()) {
            if ("approximate".equals(a.getName()) && "tanh".equals(a.getS().toStringUtf8())) {
              tanhGelu = true;
            }
          }
        }
        if (tanhGelu || other.contains(n.getOpType())) {
          throw bad(
              "the feed-forward activation uses "
                  + n.getOpType()
                  + (tanhGelu ? " (tanh approximation)" : "")
                  + " (node "
                  + n.getName()
                  + "); only the exact erf GELU (hidden_act \"gelu\") is supported");
        }
      }
    }

    private IllegalArgumentException bad(String message) {
      return new IllegalArgumentException("ONNX file " + file + ": " + message);
    }
  }

  private static float[] transpose(float[] data, int rows, int cols) {
    float[] out = new float[data.length];
    for (int r = 0; r < rows; r++) {
      int base = r * cols;
      for (int c = 0; c < cols; c++) {
        out[c * rows + r] = data[base + c];
      }
    }
    return out;
  }

  private static String typeName(int type) {
    TensorProto.DataType t = TensorProto.DataType.forNumber(type);
    return t == null ? "#" + type : t.name().toUpperCase(Locale.ROOT);
  }
}
