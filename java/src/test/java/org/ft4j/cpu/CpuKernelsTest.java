package org.ft4j.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.SplittableRandom;
import org.ft4j.reference.ReferenceKernels;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** Both kernel sets of the CPU encoder against float64 arithmetic, on awkward shapes. */
class CpuKernelsTest {
  static List<CpuKernels> kernels() {
    return List.of(CpuKernels.select("vector"), CpuKernels.select("scalar"));
  }

  private static float[] random(SplittableRandom r, int n) {
    float[] x = new float[n];
    for (int i = 0; i < n; i++) {
      x[i] = (float) (r.nextDouble() * 2 - 1);
    }
    return x;
  }

  @ParameterizedTest
  @MethodSource("kernels")
  void packedGemmMatchesFloat64OnAwkwardShapes(CpuKernels k) {
    SplittableRandom r = new SplittableRandom(11);
    int[][] shapes = { // rows, out, in
      {1, 1, 1},
      {2, 40, 19},
      {3, 5, 7},
      {4, 32, 16},
      {5, 33, 257},
      {6, 33, 260},
      {9, 17, 300},
      {13, 70, 513},
      {31, 64, 384},
      {64, 48, 64}
    };
    for (int[] s : shapes) {
      int rows = s[0];
      int out = s[1];
      int in = s[2];
      float[] x = random(r, rows * in);
      float[] w = random(r, out * in);
      PackedMatrix p = PackedMatrix.ofRowMajor(w, out, in, k);
      float[] y = new float[rows * out + 3]; // poisoned, with a guard tail
      java.util.Arrays.fill(y, Float.NaN);
      p.multiply(k, x, rows, y, null);
      for (int i = 0; i < rows; i++) {
        for (int o = 0; o < out; o++) {
          double e = 0;
          double mag = 0;
          for (int t = 0; t < in; t++) {
            e += (double) x[i * in + t] * w[o * in + t];
            mag += Math.abs((double) x[i * in + t] * w[o * in + t]);
          }
          double got = y[i * out + o];
          assertTrue(
              Math.abs(got - e) <= 1e-6 * mag + 1e-30,
              k.name()
                  + " "
                  + java.util.Arrays.toString(s)
                  + " ["
                  + i
                  + ","
                  + o
                  + "] "
                  + got
                  + " vs "
                  + e);
        }
      }
      for (int g = rows * out; g < y.length; g++) {
        assertTrue(Float.isNaN(y[g]), "wrote past the output at " + g);
      }
    }
  }

  @ParameterizedTest
  @MethodSource("kernels")
  void stridedOutputWritesOnlyItsColumns(CpuKernels k) {
    // The attention writes each head's d columns into a wider row: nothing else may change.
    SplittableRandom r = new SplittableRandom(5);
    int rows = 7;
    int d = 20;
    int ld = 3 * d + 5;
    int in = 9;
    float[] x = random(r, rows * in);
    float[] packed = new float[PackedMatrix.size(d, in, k.panelWidth())];
    float[] w = random(r, d * in);
    PackedMatrix.pack(w, 0, in, 1, d, in, k.panelWidth(), packed);
    float[] y = new float[rows * ld];
    java.util.Arrays.fill(y, -7f);
    int col0 = d + 2;
    int panels = (d + k.panelWidth() - 1) / k.panelWidth();
    PackedMatrix.multiply(k, x, 0, in, rows, packed, d, in, 0, panels, y, col0, ld);
    for (int i = 0; i < rows; i++) {
      for (int c = 0; c < ld; c++) {
        boolean mine = c >= col0 && c < col0 + d;
        if (!mine) {
          assertEquals(-7f, y[i * ld + c], "row " + i + " column " + c + " was written");
        } else {
          double e = 0;
          for (int t = 0; t < in; t++) {
            e += (double) x[i * in + t] * w[(c - col0) * in + t];
          }
          assertEquals(e, y[i * ld + c], 1e-5);
        }
      }
    }
  }

  @ParameterizedTest
  @MethodSource("kernels")
  void geluMatchesTheExactErfGelu(CpuKernels k) {
    int n = 4001;
    float[] y = new float[n + 2];
    float[] bias = new float[n];
    for (int i = 0; i < n; i++) {
      y[i + 1] = -10f + 20f * i / (n - 1);
      bias[i] = (i % 3) * 1e-3f;
    }
    float[] x = y.clone();
    k.biasGelu(y, 1, bias, 0, n);
    for (int i = 0; i < n; i++) {
      double v = (double) x[i + 1] + bias[i];
      double e = ReferenceKernels.gelu((float) v);
      // relative accuracy also where gelu is tiny (x < 0), absolute near 0
      assertEquals(e, y[i + 1], 1e-6 * Math.abs(e) + 1e-7, "gelu(" + v + ")");
    }
    assertEquals(x[0], y[0]);
    assertEquals(x[n + 1], y[n + 1]);
  }

  @ParameterizedTest
  @MethodSource("kernels")
  void biasStepsReadTheBiasAtItsOffset(CpuKernels k) {
    SplittableRandom r = new SplittableRandom(21);
    for (int n : new int[] {1, 15, 16, 37, 100}) {
      float[] bias = random(r, n + 9);
      float[] y = random(r, n + 5);
      float[] before = y.clone();
      k.addBias(y, 3, bias, 7, n);
      float[] z = before.clone();
      k.biasGelu(z, 3, bias, 7, n);
      for (int i = 0; i < y.length; i++) {
        boolean inside = i >= 3 && i < 3 + n;
        float sum = inside ? before[i] + bias[7 + i - 3] : before[i];
        assertEquals(sum, y[i], "addBias n=" + n + " at " + i);
        assertEquals(
            inside ? CpuKernels.gelu(sum) : before[i], z[i], "biasGelu n=" + n + " at " + i);
      }
    }
  }

  @ParameterizedTest
  @MethodSource("kernels")
  void softmaxAndLayerNormMatchFloat64(CpuKernels k) {
    SplittableRandom r = new SplittableRandom(3);
    for (int n : new int[] {1, 7, 16, 33, 384, 1000}) {
      float[] s = random(r, n + 2);
      for (int i = 0; i < s.length; i++) {
        s[i] *= 30;
      }
      float[] before = s.clone();
      k.softmax(s, 1, n, 0.125f);
      double max = Double.NEGATIVE_INFINITY;
      for (int i = 0; i < n; i++) {
        max = Math.max(max, before[i + 1]);
      }
      double sum = 0;
      for (int i = 0; i < n; i++) {
        sum += Math.exp((before[i + 1] - max) * 0.125);
      }
      for (int i = 0; i < n; i++) {
        double e = Math.exp((before[i + 1] - max) * 0.125) / sum;
        assertEquals(e, s[i + 1], 2e-6 * e + 1e-12, "softmax n=" + n + " i=" + i);
      }
      float[] y = random(r, n + 1);
      float[] bias = random(r, n);
      float[] res = random(r, n + 3);
      float[] gamma = random(r, n);
      float[] beta = random(r, n);
      float[] out = new float[n + 2];
      k.biasResidualLayerNorm(y, 1, bias, res, 3, gamma, beta, 1e-12f, n, out, 2);
      double[] v = new double[n];
      double mean = 0;
      for (int i = 0; i < n; i++) {
        v[i] = (double) y[i + 1] + bias[i] + res[i + 3];
        mean += v[i] / n;
      }
      double var = 0;
      for (int i = 0; i < n; i++) {
        var += (v[i] - mean) * (v[i] - mean) / n;
      }
      for (int i = 0; i < n; i++) {
        double e = n == 1 ? beta[i] : (v[i] - mean) / Math.sqrt(var + 1e-12) * gamma[i] + beta[i];
        assertEquals(e, out[i + 2], 1e-5, "layernorm n=" + n + " i=" + i);
      }
    }
  }

  @Test
  void expIsAccurateAndBothKernelSetsRoundTheSameWay() {
    for (float x = -80f; x <= 1f; x += 0.00137f) {
      double e = Math.exp(x);
      float got = CpuKernels.exp(x);
      assertTrue(
          Math.abs(got - e) <= 3 * Math.ulp((float) e), "exp(" + x + ") = " + got + " vs " + e);
    }
    // Same float operations lane by lane: GELU and softmax agree to the bit (so a result never
    // depends on the kernel set's vector/tail split or on the JIT's state).
    CpuKernels v = CpuKernels.select("vector");
    CpuKernels sc = CpuKernels.select("scalar");
    SplittableRandom r = new SplittableRandom(8);
    for (int n : new int[] {5, 16, 77, 300}) {
      float[] a = random(r, n);
      for (int i = 0; i < n; i++) {
        a[i] *= 20;
      }
      float[] bias = random(r, n);
      float[] b = a.clone();
      v.biasGelu(a, 0, bias, 0, n);
      sc.biasGelu(b, 0, bias, 0, n);
      org.junit.jupiter.api.Assertions.assertArrayEquals(b, a, "gelu n=" + n);
      float[] c = random(r, n);
      float[] d = c.clone();
      v.softmax(c, 0, n, 3f);
      sc.softmax(d, 0, n, 3f);
      for (int i = 0; i < n; i++) {
        // the sums run in another order (vector lanes vs one chain): a few ulp
        assertEquals(d[i], c[i], 1e-6 * d[i], "softmax n=" + n + " i=" + i);
      }
    }
  }

  @Test
  void selectionFollowsTheRequestAndTheModule() {
    assertInstanceOf(VectorKernels.class, CpuKernels.select("auto", true));
    assertInstanceOf(ScalarKernels.class, CpuKernels.select("auto", false));
    assertInstanceOf(ScalarKernels.class, CpuKernels.select("SCALAR", true));
    assertInstanceOf(VectorKernels.class, CpuKernels.select(" vector ", true));
    String m =
        assertThrows(IllegalStateException.class, () -> CpuKernels.select("vector", false))
            .getMessage();
    assertTrue(m.contains("--add-modules jdk.incubator.vector"), m);
    m =
        assertThrows(IllegalStateException.class, () -> CpuKernels.select("avx", true))
            .getMessage();
    assertTrue(m.contains("avx") && m.contains("auto, vector or scalar"), m);
    // This test JVM runs with the module (surefire's argLine): the automatic choice is SIMD.
    assertTrue(CpuKernels.vectorApiAvailable());
    assertInstanceOf(VectorKernels.class, CpuKernels.best());
  }
}
