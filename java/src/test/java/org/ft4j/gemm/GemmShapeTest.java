package org.ft4j.gemm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * Checks the row-major → column-major mapping that MatmulPlan hands to cuBLASLt by running the
 * column-major GEMM it describes in plain Java, with the same operand swap, and comparing it with
 * the row-major product computed directly.
 */
class GemmShapeTest {

  /** What cublasLtMatmul computes for the arguments MatmulPlan derives from `s`. */
  static float[] emulateCublas(GemmShape s, float[] a, float[] b) {
    float[] cublasA = b; // operand swap, as in MatmulPlan.run
    float[] cublasB = a;
    float[] c = new float[(int) s.elementsC()];
    for (int batch = 0; batch < s.batch(); batch++) {
      long offA = batch * s.strideB();
      long offB = batch * s.strideA();
      long offC = batch * s.strideC();
      for (int j = 0; j < s.cublasN(); j++) {
        for (int i = 0; i < s.cublasM(); i++) {
          double sum = 0;
          for (int p = 0; p < s.cublasK(); p++) {
            float av =
                s.cublasTransA()
                    ? cublasA[(int) (offA + p + (long) i * s.cublasLda())]
                    : cublasA[(int) (offA + i + (long) p * s.cublasLda())];
            sum += av * cublasB[(int) (offB + p + (long) j * s.cublasLdb())];
          }
          c[(int) (offC + i + (long) j * s.cublasLdc())] = (float) sum;
        }
      }
    }
    return c;
  }

  /** Row-major C[M,N] = A[M,K] op(B), directly. */
  static float[] direct(GemmShape s, float[] a, float[] b) {
    float[] c = new float[(int) s.elementsC()];
    for (int batch = 0; batch < s.batch(); batch++) {
      for (int i = 0; i < s.m(); i++) {
        for (int j = 0; j < s.n(); j++) {
          double sum = 0;
          for (int p = 0; p < s.k(); p++) {
            float bv =
                s.bTransposed()
                    ? b[(int) (batch * s.strideB() + (long) j * s.k() + p)]
                    : b[(int) (batch * s.strideB() + (long) p * s.n() + j)];
            sum += a[(int) (batch * s.strideA() + (long) i * s.k() + p)] * bv;
          }
          c[(int) (batch * s.strideC() + (long) i * s.n() + j)] = (float) sum;
        }
      }
    }
    return c;
  }

  private static float[] random(long n, long seed) {
    SplittableRandom r = new SplittableRandom(seed);
    float[] x = new float[(int) n];
    for (int i = 0; i < x.length; i++) {
      x[i] = (float) r.nextDouble(-1, 1);
    }
    return x;
  }

  private static void check(GemmShape s) {
    float[] a = random(s.elementsA(), 1);
    float[] b = random(s.elementsB(), 2);
    assertArrayEquals(direct(s, a, b), emulateCublas(s, a, b), 1e-5f, s.toString());
  }

  @Test
  void linearMatchesAPyTorchLinear() {
    GemmShape s = GemmShape.linear(5, 7, 3);
    // y[t, o] = sum_i x[t, i] W[o, i], written out for one element
    float[] x = random(35, 3);
    float[] w = random(21, 4);
    float[] y = emulateCublas(s, x, w);
    double y23 = 0;
    for (int i = 0; i < 7; i++) {
      y23 += x[2 * 7 + i] * w[1 * 7 + i];
    }
    assertTrue(Math.abs(y[2 * 3 + 1] - y23) < 1e-5, "y[2,1]");
    check(s);
    check(GemmShape.linear(1, 768, 2304));
  }

  @Test
  void attentionScoresAndContextMatchTheirDefinitions() {
    check(GemmShape.attentionScores(6, 5, 4));
    check(GemmShape.attentionContext(6, 5, 4));
    check(GemmShape.attentionScores(3, 1, 8));
    check(GemmShape.attentionContext(2, 17, 3));
  }

  @Test
  void rejectsBadDimensionsAndStrides() {
    assertThrows(IllegalArgumentException.class, () -> GemmShape.linear(0, 4, 4));
    assertThrows(IllegalArgumentException.class, () -> new GemmShape(2, 4, 4, 4, true, 15, 16, 16));
  }
}
