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
 * The INT8 mode-1 layer exactly as {@link BertEncoder} queues it (kernel by kernel, with the same
 * scale conventions and buffers: see {@code enqueueInt8Layer}), simulated with the kernels' CPU
 * references ({@link Int8ReferenceKernels}, float32 storage between kernels as with FP32
 * activations on the GPU), against the float64 fake-quantized oracle, under the FP32-activation
 * tolerance of {@link Int8EncoderGpuTest}. Runs on the CPU: it checks that the kernels compose into
 * the oracle's arithmetic, and that the GPU test's tolerance scheme holds where only float32
 * rounding differs.
 */
class Int8LayerPipelineTest {

  /**
   * Mode 1, and mode 2 as the GPU queues it with the mode-1 kernels extended two ways: GEMMs write
   * int8 (before the bias, per-column out amax) that the row kernels dequantize like an int32
   * accumulator (in scale 1, per-column step amax / 127), and the kernels that quantize a GEMM
   * input per token also write its dequantized value, which the next residual adds (mode 2's int8
   * residual). Mode 2's QKV output is dequantized here by the row kernel's reference; the encoder
   * does it in the GEMM epilogue (q / (127 / amax) instead of q · amax / 127: the same up to one
   * float rounding).
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
    float[] got =
        mode == Precision.INT8_MODE_1
            ? simulate(w, Int8EncoderWeights.of(w, scales), input, lengths, batch, seq)
            : simulateMode2(w, scales, input, lengths, batch, seq);
    Int8EncoderGpuTest.assertTightlyOnTheOracle(want, got, lengths, seq, c.hidden());
  }

  static float[] simulateMode2(
      EncoderWeights w, ScaleSet scales, float[] input, int[] lengths, int batch, int seq) {
    EncoderConfig c = w.config();
    Int8EncoderWeights q = Int8EncoderWeights.of(w, scales);
    int rows = batch * seq;
    int h = c.hidden();
    int inter = c.intermediateSize();
    double eps = (float) c.layerNormEps();
    float[] x = ReferenceKernels.zeroPaddedRows(input, lengths, batch, seq, h);
    float[] smooth0 = q.layer(0).qkvInvSmooth();
    Quantized qx = Int8ReferenceKernels.quantizeRows(x, rows, h, smooth0, true, 0);
    float[] residual = Int8ReferenceKernels.dequantized(qx, rows, h, smooth0, 0);
    for (int l = 0; l < c.layers(); l++) {
      Int8EncoderWeights.Layer L = q.layer(l);
      Int8EncoderWeights.Mode2Outputs o = Int8EncoderWeights.mode2Outputs(scales, c, l);
      byte[] qkv8 =
          Int8ReferenceKernels.gemmInt8ToInt8(
              qx.values(),
              L.qkv().values(),
              rows,
              3 * h,
              h,
              qx.rowScale(),
              0,
              L.qkv().scales(),
              o.qkv());
      float[] qkv =
          toFloat(
              Int8ReferenceKernels.dequantizeBiasAct(
                  Int8ReferenceKernels.widen(qkv8),
                  null,
                  1,
                  Int8ReferenceKernels.steps(o.qkv()),
                  null,
                  false,
                  rows,
                  3 * h));
      float[] merged =
          ReferenceKernels.attention(
              qkv,
              w.stacked(l, LayerParam.QUERY_BIAS, LayerParam.KEY_BIAS, LayerParam.VALUE_BIAS),
              lengths,
              batch,
              seq,
              c.heads(),
              c.sizePerHead(),
              (float) (1 / Math.sqrt(c.sizePerHead())));
      float amax = L.attentionOutputAmax();
      qx = Int8ReferenceKernels.quantizeRows(merged, rows, h, null, false, amax);
      byte[] ao8 =
          Int8ReferenceKernels.gemmInt8ToInt8(
              qx.values(),
              L.attentionOutput().values(),
              rows,
              h,
              h,
              null,
              amax / Int8.QMAX,
              L.attentionOutput().scales(),
              o.attentionOutput());
      float[] attention =
          toFloat(
              Int8ReferenceKernels.dequantizeBiasResidualLayerNorm(
                  Int8ReferenceKernels.widen(ao8),
                  null,
                  1,
                  Int8ReferenceKernels.steps(o.attentionOutput()),
                  w.get(l, LayerParam.ATTENTION_OUTPUT_BIAS),
                  residual,
                  w.get(l, LayerParam.ATTENTION_LAYERNORM_WEIGHT),
                  w.get(l, LayerParam.ATTENTION_LAYERNORM_BIAS),
                  eps,
                  rows,
                  h));
      qx = Int8ReferenceKernels.quantizeRows(attention, rows, h, L.ffn1InvSmooth(), true, 0);
      residual = Int8ReferenceKernels.dequantized(qx, rows, h, L.ffn1InvSmooth(), 0);
      byte[] f18 =
          Int8ReferenceKernels.gemmInt8ToInt8(
              qx.values(),
              L.intermediate().values(),
              rows,
              inter,
              h,
              qx.rowScale(),
              0,
              L.intermediate().scales(),
              o.intermediate());
      double[] act =
          Int8ReferenceKernels.dequantizeBiasAct(
              Int8ReferenceKernels.widen(f18),
              null,
              1,
              Int8ReferenceKernels.steps(o.intermediate()),
              w.get(l, LayerParam.INTERMEDIATE_BIAS),
              true,
              rows,
              inter);
      qx = Int8ReferenceKernels.quantizeRows(act, rows, inter, L.ffn2InvSmooth(), true, 0);
      // token-scaled ffn2_out: the epilogue leaves out the row scale, the layernorm applies it
      boolean tokenScaled = o.outputTokenScaled();
      byte[] f28 =
          Int8ReferenceKernels.gemmInt8ToInt8(
              qx.values(),
              L.output().values(),
              rows,
              h,
              inter,
              tokenScaled ? null : qx.rowScale(),
              tokenScaled ? 1 : 0,
              L.output().scales(),
              o.output());
      x =
          toFloat(
              Int8ReferenceKernels.dequantizeBiasResidualLayerNorm(
                  Int8ReferenceKernels.widen(f28),
                  tokenScaled ? qx.rowScale() : null,
                  1,
                  Int8ReferenceKernels.steps(o.output()),
                  w.get(l, LayerParam.OUTPUT_BIAS),
                  residual,
                  w.get(l, LayerParam.OUTPUT_LAYERNORM_WEIGHT),
                  w.get(l, LayerParam.OUTPUT_LAYERNORM_BIAS),
                  eps,
                  rows,
                  h));
      if (l + 1 < c.layers()) {
        float[] s = q.layer(l + 1).qkvInvSmooth();
        qx = Int8ReferenceKernels.quantizeRows(x, rows, h, s, true, 0);
        residual = Int8ReferenceKernels.dequantized(qx, rows, h, s, 0);
      }
    }
    return ReferenceKernels.zeroPaddedRows(x, lengths, batch, seq, h);
  }

  /** The INT8 layers of BertEncoder (padded layout), kernel by kernel, float32 between kernels. */
  static float[] simulate(
      EncoderWeights w, Int8EncoderWeights q, float[] input, int[] lengths, int batch, int seq) {
    EncoderConfig c = w.config();
    int rows = batch * seq;
    int h = c.hidden();
    int inter = c.intermediateSize();
    double eps = (float) c.layerNormEps();
    float[] x = ReferenceKernels.zeroPaddedRows(input, lengths, batch, seq, h);
    Quantized qx =
        Int8ReferenceKernels.quantizeRows(x, rows, h, q.layer(0).qkvInvSmooth(), true, 0);
    for (int l = 0; l < c.layers(); l++) {
      Int8EncoderWeights.Layer L = q.layer(l);
      float[] qkv =
          toFloat(
              Int8ReferenceKernels.dequantizeBiasAct(
                  Int8ReferenceKernels.gemmInt8(qx.values(), L.qkv().values(), rows, 3 * h, h),
                  qx.rowScale(),
                  0,
                  L.qkv().scales(),
                  null,
                  false,
                  rows,
                  3 * h));
      float[] merged =
          ReferenceKernels.attention(
              qkv,
              w.stacked(l, LayerParam.QUERY_BIAS, LayerParam.KEY_BIAS, LayerParam.VALUE_BIAS),
              lengths,
              batch,
              seq,
              c.heads(),
              c.sizePerHead(),
              (float) (1 / Math.sqrt(c.sizePerHead())));
      float amax = L.attentionOutputAmax();
      qx = Int8ReferenceKernels.quantizeRows(merged, rows, h, null, false, amax);
      float[] attention =
          toFloat(
              Int8ReferenceKernels.dequantizeBiasResidualLayerNorm(
                  Int8ReferenceKernels.gemmInt8(
                      qx.values(), L.attentionOutput().values(), rows, h, h),
                  null,
                  amax / Int8.QMAX,
                  L.attentionOutput().scales(),
                  w.get(l, LayerParam.ATTENTION_OUTPUT_BIAS),
                  x,
                  w.get(l, LayerParam.ATTENTION_LAYERNORM_WEIGHT),
                  w.get(l, LayerParam.ATTENTION_LAYERNORM_BIAS),
                  eps,
                  rows,
                  h));
      qx = Int8ReferenceKernels.quantizeRows(attention, rows, h, L.ffn1InvSmooth(), true, 0);
      double[] act =
          Int8ReferenceKernels.dequantizeBiasAct(
              Int8ReferenceKernels.gemmInt8(qx.values(), L.intermediate().values(), rows, inter, h),
              qx.rowScale(),
              0,
              L.intermediate().scales(),
              w.get(l, LayerParam.INTERMEDIATE_BIAS),
              true,
              rows,
              inter);
      qx = Int8ReferenceKernels.quantizeRows(act, rows, inter, L.ffn2InvSmooth(), true, 0);
      x =
          toFloat(
              Int8ReferenceKernels.dequantizeBiasResidualLayerNorm(
                  Int8ReferenceKernels.gemmInt8(qx.values(), L.output().values(), rows, h, inter),
                  qx.rowScale(),
                  0,
                  L.output().scales(),
                  w.get(l, LayerParam.OUTPUT_BIAS),
                  attention,
                  w.get(l, LayerParam.OUTPUT_LAYERNORM_WEIGHT),
                  w.get(l, LayerParam.OUTPUT_LAYERNORM_BIAS),
                  eps,
                  rows,
                  h));
      if (l + 1 < c.layers()) {
        qx = Int8ReferenceKernels.quantizeRows(x, rows, h, q.layer(l + 1).qkvInvSmooth(), true, 0);
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
