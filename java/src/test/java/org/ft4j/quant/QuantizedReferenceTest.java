package org.ft4j.quant;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.ft4j.encoder.EncoderConfig;
import org.ft4j.encoder.EncoderWeights;
import org.ft4j.encoder.Precision;
import org.ft4j.reference.ActivationHook;
import org.ft4j.reference.ActivationHook.Point;
import org.ft4j.reference.ReferenceEncoder;
import org.junit.jupiter.api.Test;

/**
 * The calibrator and the fake-quantized reference on a small random encoder: hooks see what they
 * should, smoothing is exact without quantization, quantized points land on their grids, and the
 * INT8 encoders stay close to FP32.
 */
class QuantizedReferenceTest {
  static final EncoderConfig CONFIG = EncoderConfig.of(2, 4, 16, Precision.FP32); // hidden 64
  static final EncoderWeights WEIGHTS = EncoderWeights.random(CONFIG, 17);
  static final int BATCH = 3;
  static final int SEQ = 21;
  static final int[] LENGTHS = {21, 5, 13};

  static float[] input(long seed) {
    SplittableRandom r = new SplittableRandom(seed);
    float[] x = new float[BATCH * SEQ * CONFIG.hidden()];
    for (int i = 0; i < x.length; i++) {
      x[i] = (float) r.nextGaussian();
    }
    // one outlier channel, as real BERT activations have
    for (int t = 0; t < BATCH * SEQ; t++) {
      x[t * CONFIG.hidden() + 7] *= 20;
    }
    return x;
  }

  static Calibrator calibrate(double alpha) {
    return calibrate(alpha, false);
  }

  /** With {@code hessians}: the last pass also sums the GEMM inputs' second moments. */
  static Calibrator calibrate(double alpha, boolean hessians) {
    Calibrator first = new Calibrator(CONFIG);
    ReferenceEncoder observe = new ReferenceEncoder(WEIGHTS, first);
    for (long seed = 1; seed <= 3; seed++) {
      observe.forward(input(seed), LENGTHS, BATCH, SEQ);
    }
    if (alpha == 0 && !hessians) {
      return first;
    }
    Calibrator second =
        new Calibrator(CONFIG, alpha == 0 ? null : first.smoothing(WEIGHTS, alpha), hessians);
    ReferenceEncoder again = new ReferenceEncoder(WEIGHTS, second);
    for (long seed = 1; seed <= 3; seed++) {
      again.forward(input(seed), LENGTHS, BATCH, SEQ);
    }
    return second;
  }

  static double max(double[] v) {
    double m = 0;
    for (double x : v) {
      m = Math.max(m, x);
    }
    return m;
  }

  static double cosine(float[] a, float[] b) {
    double d = 0;
    double na = 0;
    double nb = 0;
    for (int i = 0; i < a.length; i++) {
      d += (double) a[i] * b[i];
      na += (double) a[i] * a[i];
      nb += (double) b[i] * b[i];
    }
    return d / Math.sqrt(na * nb);
  }

  @Test
  void hookSeesEveryPointOfEveryLayerOnValidTokensOnly() {
    List<String> seen = new ArrayList<>();
    int tokens = 21 + 5 + 13;
    ActivationHook recorder =
        (layer, point, values, rows, cols) -> {
          assertEquals(tokens, rows);
          assertEquals(rows * cols, values.length);
          seen.add(layer + ":" + point.key() + ":" + cols);
        };
    float[] plain = new ReferenceEncoder(WEIGHTS).forward(input(1), LENGTHS, BATCH, SEQ);
    float[] hooked = new ReferenceEncoder(WEIGHTS, recorder).forward(input(1), LENGTHS, BATCH, SEQ);
    assertEquals(2 * Point.values().length, seen.size());
    assertTrue(seen.contains("1:ffn1_out:256"), seen.toString());
    assertTrue(seen.contains("0:ffn2_in:256"), seen.toString());
    assertTrue(seen.contains("1:qkv_in:64"), seen.toString());
    // a hook that changes nothing changes nothing (bias added after the product: same sums)
    for (int i = 0; i < plain.length; i++) {
      assertEquals(plain[i], hooked[i], 1e-6f * (1 + Math.abs(plain[i])), "at " + i);
    }
  }

  @Test
  void calibratorRecordsExactMaximaAndScalesFromThem() {
    Calibrator c = calibrate(0);
    assertEquals(3L * (21 + 5 + 13), c.tokens());
    ScaleSet s = c.scales(CalibrationMethod.max(), "test");
    for (int l = 0; l < 2; l++) {
      for (Point p : Point.values()) {
        double[] cm = c.channelMax(l, p);
        double max = 0;
        for (double v : cm) {
          max = Math.max(max, v);
        }
        assertEquals(max, s.amax(l, p), 0, l + " " + p.key());
      }
    }
    // layer 0's input is the data: channel 7 carries the outlier
    double[] in = c.channelMax(0, Point.QKV_IN);
    assertTrue(in[7] > 10 * in[6], in[7] + " vs " + in[6]);
    assertNotNull(s.channelAmax(0, Point.FFN2_OUT));
    assertEquals(null, s.smooth(0, Point.QKV_IN));
    // ffn2_out per token: channel amax = max |y / step_r|, step_r = ffn2_in row amax / 127
    double[][] want = new double[2][CONFIG.hidden()];
    double[][][] step = new double[1][2][];
    ActivationHook watch =
        new ActivationHook() {
          @Override
          public void apply(int layer, Point point, double[] v, int rows, int cols) {
            if (point == Point.FFN2_IN) {
              step[0][layer] = new double[rows];
              for (int r = 0; r < rows; r++) {
                double m = 0;
                for (int c = 0; c < cols; c++) {
                  m = Math.max(m, Math.abs(v[r * cols + c]));
                }
                step[0][layer][r] = m / 127;
              }
            } else if (point == Point.FFN2_OUT) {
              for (int i = 0; i < v.length; i++) {
                want[layer][i % cols] =
                    Math.max(want[layer][i % cols], Math.abs(v[i]) / step[0][layer][i / cols]);
              }
            }
          }
        };
    ReferenceEncoder observe = new ReferenceEncoder(WEIGHTS, watch);
    for (long seed = 1; seed <= 3; seed++) {
      observe.forward(input(seed), LENGTHS, BATCH, SEQ);
    }
    assertTrue(s.ffn2OutTokenScaled());
    for (int l = 0; l < 2; l++) {
      assertArrayEquals(want[l], s.channelAmax(l, Point.FFN2_OUT), 1e-12 * max(want[l]));
    }
    assertThrows(
        IllegalStateException.class,
        () -> new Calibrator(CONFIG).scales(CalibrationMethod.max(), ""));
  }

  @Test
  void smoothingFactorsFollowTheFormula() {
    Calibrator c = calibrate(0);
    double[][][] s = c.smoothing(WEIGHTS, 0.5);
    double[] x = c.channelMax(1, Point.FFN1_IN);
    double[] w = Calibrator.weightColumnMax(WEIGHTS, 1, Point.FFN1_IN);
    for (int ch = 0; ch < x.length; ch++) {
      assertEquals(
          Math.sqrt(x[ch]) / Math.sqrt(w[ch]), s[Point.FFN1_IN.ordinal()][1][ch], 1e-12 * x[ch]);
    }
    for (Point p : Point.values()) {
      assertEquals(Calibrator.SMOOTHED.contains(p), s[p.ordinal()] != null, p.key());
    }
    assertThrows(IllegalArgumentException.class, () -> c.smoothing(WEIGHTS, 1.5));
  }

  @Test
  void smoothingWithoutQuantizationComputesTheSameFunction() {
    ScaleSet scales = calibrate(0.5).scales(CalibrationMethod.DEFAULT, "test");
    EncoderWeights smoothed = QuantizedReference.smoothWeights(WEIGHTS, scales);
    ActivationHook divideOnly =
        (layer, point, values, rows, cols) -> {
          double[] f = scales.smooth(layer, point);
          if (f != null) {
            for (int i = 0; i < values.length; i++) {
              values[i] /= f[i % cols];
            }
          }
        };
    float[] plain = new ReferenceEncoder(WEIGHTS).forward(input(9), LENGTHS, BATCH, SEQ);
    float[] same =
        new ReferenceEncoder(smoothed, divideOnly).forward(input(9), LENGTHS, BATCH, SEQ);
    for (int i = 0; i < plain.length; i++) {
      assertEquals(plain[i], same[i], 2e-5f * (1 + Math.abs(plain[i])), "at " + i);
    }
  }

  @Test
  void quantizedPointsLandOnTheirGrids() {
    ScaleSet scales = calibrate(0.5).scales(CalibrationMethod.DEFAULT, "test");
    ActivationHook q = QuantizedReference.hook(scales, Precision.INT8_MODE_2);
    SplittableRandom r = new SplittableRandom(4);
    int cols = CONFIG.hidden();
    double[] v = new double[5 * cols];
    for (int i = 0; i < v.length; i++) {
      v[i] = r.nextGaussian() * 3;
    }
    // a smoothed GEMM input: (x / s) on the per-tensor grid
    double[] in = v.clone();
    q.apply(1, Point.QKV_IN, in, 5, cols);
    double step = Int8.scale(scales.amax(1, Point.QKV_IN));
    for (double x : in) {
      assertEquals(Math.rint(x / step), x / step, 1e-9);
      assertTrue(Math.abs(x) <= 127 * step + 1e-12);
    }
    // the int8 residual: back in original units, on the per-channel grid step * s_c
    double[] res = v.clone();
    q.applyResidual(1, Point.QKV_IN, res, 5, cols);
    double[] s = scales.smooth(1, Point.QKV_IN);
    for (int i = 0; i < res.length; i++) {
      double k = res[i] / (step * s[i % cols]);
      assertEquals(Math.rint(k), k, 1e-6, "residual " + i);
    }
    // a per-channel GEMM output
    double[] out = v.clone();
    q.apply(0, Point.ATTN_OUT_OUT, out, 5, cols);
    double[] ca = scales.channelAmax(0, Point.ATTN_OUT_OUT);
    for (int i = 0; i < out.length; i++) {
      double k = out[i] / Int8.scale(ca[i % cols]);
      assertEquals(Math.rint(k), k, 1e-6, "out " + i);
    }
    // ffn2_out per token and channel: unit = step_r of the same rows of ffn2_in (smoothed) · amax_c
    assertTrue(scales.ffn2OutTokenScaled(), "the calibrator scales ffn2_out per token");
    ActivationHook perToken =
        QuantizedReference.hook(
            scales, Precision.INT8_MODE_2, QuantizedReference.InputScaling.PER_TOKEN);
    int inter = CONFIG.intermediateSize();
    double[] ffn2In = new double[5 * inter];
    for (int i = 0; i < ffn2In.length; i++) {
      ffn2In[i] = r.nextGaussian() * (1 + i / inter); // rows of growing magnitude
    }
    double[] s2 = scales.smooth(0, Point.FFN2_IN);
    double[] rowStep = new double[5];
    for (int row = 0; row < 5; row++) {
      double m = 0;
      for (int c = 0; c < inter; c++) {
        m = Math.max(m, Math.abs(ffn2In[row * inter + c] / s2[c]));
      }
      rowStep[row] = m / 127;
    }
    perToken.apply(0, Point.FFN2_IN, ffn2In, 5, inter);
    double[] y = v.clone();
    perToken.apply(0, Point.FFN2_OUT, y, 5, cols);
    double[] ca2 = scales.channelAmax(0, Point.FFN2_OUT);
    for (int i = 0; i < y.length; i++) {
      double k = y[i] / (rowStep[i / cols] * ca2[i % cols] / 127);
      assertEquals(Math.rint(k), k, 1e-6, "token-scaled ffn2_out " + i);
      assertTrue(Math.abs(k) <= 127 + 1e-9);
    }
    // mode 1 leaves GEMM outputs alone
    double[] untouched = v.clone();
    QuantizedReference.hook(scales, Precision.INT8_MODE_1)
        .apply(0, Point.FFN2_OUT, untouched, 5, cols);
    assertArrayEquals(v, untouched);
  }

  @Test
  void int8EncodersStayCloseToFp32AndDifferFromIt() {
    ScaleSet scales = calibrate(0.5).scales(CalibrationMethod.DEFAULT, "test");
    float[] x = input(42); // not calibration data
    float[] fp32 = new ReferenceEncoder(WEIGHTS).forward(x, LENGTHS, BATCH, SEQ);
    for (Precision mode : List.of(Precision.INT8_MODE_1, Precision.INT8_MODE_2)) {
      float[] q = QuantizedReference.of(WEIGHTS, scales, mode).forward(x, LENGTHS, BATCH, SEQ);
      int hidden = CONFIG.hidden();
      double sum = 0;
      int n = 0;
      for (int b = 0; b < BATCH; b++) {
        for (int t = 0; t < LENGTHS[b]; t++) {
          int at = (b * SEQ + t) * hidden;
          float[] a = java.util.Arrays.copyOfRange(fp32, at, at + hidden);
          float[] c = java.util.Arrays.copyOfRange(q, at, at + hidden);
          double cos = cosine(a, c);
          assertTrue(cos > 0.97, mode + " token " + b + "/" + t + ": cosine " + cos);
          sum += cos;
          n++;
          assertTrue(cos < 1 - 1e-9, mode + " quantization had no effect");
        }
        for (int t = LENGTHS[b]; t < SEQ; t++) {
          assertEquals(0f, q[(b * SEQ + t) * hidden], "padding stays 0");
        }
      }
      assertTrue(sum / n > 0.99, mode + " mean cosine " + sum / n);
    }
  }

  @Test
  void missingPointsAreRejectedBeforeRunning() {
    double[][] amax = new double[Point.values().length][];
    amax[Point.QKV_IN.ordinal()] = new double[] {1, 1};
    ScaleSet partial = new ScaleSet(2, 64, 256, "", "partial", amax);
    ScaleSetException e =
        assertThrows(
            ScaleSetException.class,
            () -> QuantizedReference.of(WEIGHTS, partial, Precision.INT8_MODE_1));
    assertTrue(
        e.getMessage().contains("int8-1 needs amax for attn_out_in, ffn1_in, ffn2_in"),
        e.getMessage());
  }

  @Test
  void kernelReferenceAgreesWithTheEncoderReference() {
    // the GPU kernels' oracle (Int8ReferenceKernels) and the fake-quantized encoder's rounding
    // (per token, smoothed) describe the same numbers
    SplittableRandom r = new SplittableRandom(8);
    int rows = 9;
    int cols = 50;
    double[] y = new double[rows * cols];
    for (int i = 0; i < y.length; i++) {
      y[i] = r.nextGaussian() * (i % cols == 3 ? 30 : 1);
    }
    float[] inv = new float[cols];
    double[] s = new double[cols];
    for (int c = 0; c < cols; c++) {
      inv[c] = (float) (1 / (0.5 + c % 7));
      s[c] = 1 / (double) inv[c];
    }
    org.ft4j.reference.Int8ReferenceKernels.Quantized k =
        org.ft4j.reference.Int8ReferenceKernels.quantizeRows(y, rows, cols, inv, true, 0f);
    double[] fake = y.clone();
    QuantizedReference.fakeQuantizeRows(fake, rows, cols, s);
    for (int i = 0; i < y.length; i++) {
      double fromKernel = k.values()[i] * (double) k.rowScale()[i / cols] * s[i % cols];
      assertEquals(fake[i], fromKernel, 1e-6 * (1 + Math.abs(fake[i])), "at " + i);
    }
  }
}
