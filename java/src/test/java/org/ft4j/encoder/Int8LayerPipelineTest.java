package org.ft4j.encoder;

import org.ft4j.cuda.DType;
import org.ft4j.quant.Int8;
import org.ft4j.quant.Int8EncoderWeights;
import org.ft4j.quant.ScaleSet;
import org.ft4j.reference.Int8ReferenceKernels;
import org.ft4j.reference.Int8ReferenceKernels.Quantized;
import org.ft4j.reference.ReferenceKernels;
import org.ft4j.testing.GpuTesting;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The INT8 layers exactly as {@link BertEncoder} queues them (kernel by kernel, with the same scale
 * conventions and buffers: see {@code enqueueInt8Layer} and {@code enqueueInt8Mode2Layer}),
 * simulated with the kernels' CPU references ({@link Int8ReferenceKernels}, float32 storage between
 * kernels as with FP32 activations on the GPU), against the float64 fake-quantized oracle, under
 * the FP32-activation tolerance of {@link Int8EncoderGpuTest}. Runs on the CPU: it checks that the
 * kernels compose into the oracle's arithmetic, and that the GPU test's tolerance scheme holds
 * where only float32 rounding differs.
 */
class Int8LayerPipelineTest {

  /**
   * Mode 1, and mode 2 as the GPU queues it with the mode-1 kernels extended two ways: GEMMs write
   * int8 (before the bias, per-column out amax) that the row kernels dequantize like an int32
   * accumulator (in scale 1, per-column step amax / 127), and the kernels that quantize a GEMM
   * input per token also write its dequantized value, which the next residual adds (mode 2's int8
   * residual). Both modes' attention: the FP attention over the QKV GEMM's output (mode 2: its int8
   * values dequantized, q · step), its context quantized per token.
   */
  @ParameterizedTest(
      name = "{0}: {1} layers {2} heads x {3}, batch {4} seq {5}, ffn2_out per token {6}")
  @CsvSource({
    "INT8_MODE_1, 1, 4, 32, 6, 17, true",
    "INT8_MODE_1, 2, 2, 64, 5, 9, true",
    "INT8_MODE_1, 2, 2, 64, 4, 33, true",
    "INT8_MODE_1, 1, 3, 32, 4, 1, true",
    "INT8_MODE_2, 1, 4, 32, 6, 17, true",
    "INT8_MODE_2, 2, 2, 64, 5, 9, true",
    "INT8_MODE_2, 2, 2, 64, 4, 33, true",
    "INT8_MODE_2, 2, 2, 64, 5, 9, false"
  })
  void simulatedPipelineMatchesTheOracle(
      Precision mode, int layers, int heads, int d, int batch, int seq, boolean tokenScaled) {
    EncoderConfig c = EncoderConfig.of(layers, heads, d, mode);
    EncoderWeights w = EncoderWeights.random(c, 31L * heads + d);
    ScaleSet scales = Int8EncoderGpuTest.calibrate(w, 3, 24).withFfn2OutTokenScaled(tokenScaled);
    float[] input = Int8EncoderGpuTest.hiddenStates(c, batch, seq, 7L * seq + batch);
    int[] lengths = GpuTesting.randomLengths(batch, seq, batch + 11L * seq);
    Int8EncoderGpuTest.Expected want =
        Int8EncoderGpuTest.expected(w, scales, input, lengths, batch, seq, DType.FP32, mode);
    float[] got = simulate(w, scales, input, lengths, batch, seq);
    Int8EncoderGpuTest.assertTightlyOnTheOracle(want, got, lengths, seq, c.hidden());
  }

  /**
   * What a row kernel after a linear GEMM reads and how it dequantizes it: acc · a_r · wScale[c]
   * with a_r = inScale[r], or inStatic when inScale is null.
   */
  record Dequantize(int[] acc, float[] inScale, float inStatic, float[] wScale) {}

  /**
   * One linear GEMM qx · weightᵀ as the encoder runs it. Mode 1: int32 accumulators, dequantized
   * with the input's scale (per row, or static {@code aStatic}) and the weight's per-channel
   * scales. Mode 2 ({@code outAmax} given): int8 outputs, per-column out amax, which the next
   * kernel reads with in scale 1 (or, token-scaled, the input's row scales: the epilogue then left
   * them out) and the steps outAmax / 127.
   */
  static Dequantize linear(
      Quantized qx,
      float aStatic,
      Int8.QuantizedWeight weight,
      int rows,
      float[] outAmax,
      boolean tokenScaled) {
    int n = weight.out();
    int k = weight.in();
    if (outAmax == null) {
      return new Dequantize(
          Int8ReferenceKernels.gemmInt8(qx.values(), weight.values(), rows, n, k),
          qx.rowScale(),
          aStatic,
          weight.scales());
    }
    float[] rowScale = tokenScaled ? null : qx.rowScale();
    float inStatic = tokenScaled ? 1 : aStatic;
    byte[] q8 =
        Int8ReferenceKernels.gemmInt8ToInt8(
            qx.values(), weight.values(), rows, n, k, rowScale, inStatic, weight.scales(), outAmax);
    return new Dequantize(
        Int8ReferenceKernels.widen(q8),
        tokenScaled ? qx.rowScale() : null,
        1,
        Int8ReferenceKernels.steps(outAmax));
  }

  /**
   * The INT8 layers of BertEncoder (padded layout; {@code enqueueInt8Layer} and {@code
   * enqueueInt8Mode2Layer}), kernel by kernel, float32 between kernels. Mode 2 differs in the GEMM
   * outputs ({@link #linear}) and the residual: the dequantized int8 GEMM input, which the kernels
   * that quantize it write beside it.
   */
  static float[] simulate(
      EncoderWeights w, ScaleSet scales, float[] input, int[] lengths, int batch, int seq) {
    EncoderConfig c = w.config();
    boolean mode2 = c.precision() == Precision.INT8_MODE_2;
    Int8EncoderWeights q = Int8EncoderWeights.of(w, scales, c.precision());
    int rows = batch * seq;
    int h = c.hidden();
    int inter = c.intermediateSize();
    double eps = (float) c.layerNormEps();
    float[] x = ReferenceKernels.zeroPaddedRows(input, lengths, batch, seq, h);
    float[] smooth = q.layer(0).qkvInvSmooth();
    Quantized qx = Int8ReferenceKernels.quantizeRows(x, rows, h, smooth, true, 0);
    float[] residual = mode2 ? Int8ReferenceKernels.dequantized(qx, rows, h, smooth, 0) : x;
    for (int l = 0; l < c.layers(); l++) {
      Int8EncoderWeights.Layer L = q.layer(l);
      Int8EncoderWeights.Mode2Outputs o = L.mode2();
      Dequantize d = linear(qx, 0, L.qkv(), rows, mode2 ? o.qkv() : null, false);
      float[] qkvBias =
          w.stacked(l, LayerParam.QUERY_BIAS, LayerParam.KEY_BIAS, LayerParam.VALUE_BIAS);
      float attentionScale = (float) (1 / Math.sqrt(c.sizePerHead()));
      // mode 1: the QKV GEMM's FP output; mode 2: its int8 output dequantized (q · step), as
      // the GEMM writes it for the attention. The attention context: int8 per token.
      float[] qkv =
          toFloat(
              Int8ReferenceKernels.dequantizeBiasAct(
                  d.acc(), d.inScale(), d.inStatic(), d.wScale(), null, false, rows, 3 * h));
      float[] merged =
          ReferenceKernels.attention(
              qkv, qkvBias, lengths, batch, seq, c.heads(), c.sizePerHead(), attentionScale);
      qx = Int8ReferenceKernels.quantizeRows(merged, rows, h, null, true, 0);
      d = linear(qx, 0, L.attentionOutput(), rows, mode2 ? o.attentionOutput() : null, false);
      float[] attention =
          toFloat(
              Int8ReferenceKernels.dequantizeBiasResidualLayerNorm(
                  d.acc(),
                  d.inScale(),
                  d.inStatic(),
                  d.wScale(),
                  w.get(l, LayerParam.ATTENTION_OUTPUT_BIAS),
                  residual,
                  w.get(l, LayerParam.ATTENTION_LAYERNORM_WEIGHT),
                  w.get(l, LayerParam.ATTENTION_LAYERNORM_BIAS),
                  eps,
                  rows,
                  h));
      qx = Int8ReferenceKernels.quantizeRows(attention, rows, h, L.ffn1InvSmooth(), true, 0);
      residual =
          mode2 ? Int8ReferenceKernels.dequantized(qx, rows, h, L.ffn1InvSmooth(), 0) : attention;
      d = linear(qx, 0, L.intermediate(), rows, mode2 ? o.intermediate() : null, false);
      double[] act =
          Int8ReferenceKernels.dequantizeBiasAct(
              d.acc(),
              d.inScale(),
              d.inStatic(),
              d.wScale(),
              w.get(l, LayerParam.INTERMEDIATE_BIAS),
              true,
              rows,
              inter);
      qx = Int8ReferenceKernels.quantizeRows(act, rows, inter, L.ffn2InvSmooth(), true, 0);
      d =
          linear(
              qx, 0, L.output(), rows, mode2 ? o.output() : null, mode2 && o.outputTokenScaled());
      x =
          toFloat(
              Int8ReferenceKernels.dequantizeBiasResidualLayerNorm(
                  d.acc(),
                  d.inScale(),
                  d.inStatic(),
                  d.wScale(),
                  w.get(l, LayerParam.OUTPUT_BIAS),
                  residual,
                  w.get(l, LayerParam.OUTPUT_LAYERNORM_WEIGHT),
                  w.get(l, LayerParam.OUTPUT_LAYERNORM_BIAS),
                  eps,
                  rows,
                  h));
      residual = x;
      if (l + 1 < c.layers()) {
        float[] next = q.layer(l + 1).qkvInvSmooth();
        qx = Int8ReferenceKernels.quantizeRows(x, rows, h, next, true, 0);
        if (mode2) {
          residual = Int8ReferenceKernels.dequantized(qx, rows, h, next, 0);
        }
      }
    }
    return ReferenceKernels.zeroPaddedRows(x, lengths, batch, seq, h);
  }

  private static float[] toFloat(double[] v) {
    float[] f = new float[v.length];
    for (int i = 0; i < v.length; i++) {
      f[i] = (float) v[i];
    }
    return f;
  }
}
