package org.ft4j.cpu;

/**
 * {@link CpuKernels} in plain Java loops: what runs where the Vector API module is not loaded. The
 * GEMM works on 4 x 4 tiles of scalar sums; expect a few GFLOP/s per core.
 */
final class ScalarKernels extends CpuKernels {
  private static final int NB = 16;

  @Override
  String name() {
    return "scalar";
  }

  @Override
  int panelWidth() {
    return NB;
  }

  @Override
  void panel(
      float[] x,
      int xAt,
      int ldx,
      int rows,
      int kc,
      float[] p,
      int pAt,
      float[] y,
      int yAt,
      int ldy,
      int cols,
      boolean accumulate) {
    // 4 x 4 tiles of scalar sums (each load feeds four multiply-adds); edges one by one.
    int r = 0;
    for (; r + 4 <= rows; r += 4) {
      int c = 0;
      for (; c + 4 <= cols; c += 4) {
        tile4x4(x, xAt + r * ldx, ldx, kc, p, pAt + c, y, yAt + r * ldy + c, ldy, accumulate);
      }
      for (int rr = r; rr < r + 4; rr++) {
        for (int cc = c; cc < cols; cc++) {
          single(x, xAt + rr * ldx, kc, p, pAt + cc, y, yAt + rr * ldy + cc, accumulate);
        }
      }
    }
    for (; r < rows; r++) {
      for (int cc = 0; cc < cols; cc++) {
        single(x, xAt + r * ldx, kc, p, pAt + cc, y, yAt + r * ldy + cc, accumulate);
      }
    }
  }

  private static void tile4x4(
      float[] x,
      int x0,
      int ldx,
      int kc,
      float[] p,
      int pAt,
      float[] y,
      int y0,
      int ldy,
      boolean accumulate) {
    int x1 = x0 + ldx;
    int x2 = x1 + ldx;
    int x3 = x2 + ldx;
    int y1 = y0 + ldy;
    int y2 = y1 + ldy;
    int y3 = y2 + ldy;
    float s00 = 0, s01 = 0, s02 = 0, s03 = 0;
    float s10 = 0, s11 = 0, s12 = 0, s13 = 0;
    float s20 = 0, s21 = 0, s22 = 0, s23 = 0;
    float s30 = 0, s31 = 0, s32 = 0, s33 = 0;
    if (accumulate) {
      s00 = y[y0];
      s01 = y[y0 + 1];
      s02 = y[y0 + 2];
      s03 = y[y0 + 3];
      s10 = y[y1];
      s11 = y[y1 + 1];
      s12 = y[y1 + 2];
      s13 = y[y1 + 3];
      s20 = y[y2];
      s21 = y[y2 + 1];
      s22 = y[y2 + 2];
      s23 = y[y2 + 3];
      s30 = y[y3];
      s31 = y[y3 + 1];
      s32 = y[y3 + 2];
      s33 = y[y3 + 3];
    }
    for (int t = 0, pt = pAt; t < kc; t++, pt += NB) {
      float a0 = x[x0 + t];
      float a1 = x[x1 + t];
      float a2 = x[x2 + t];
      float a3 = x[x3 + t];
      float b0 = p[pt];
      float b1 = p[pt + 1];
      float b2 = p[pt + 2];
      float b3 = p[pt + 3];
      s00 = Math.fma(a0, b0, s00);
      s01 = Math.fma(a0, b1, s01);
      s02 = Math.fma(a0, b2, s02);
      s03 = Math.fma(a0, b3, s03);
      s10 = Math.fma(a1, b0, s10);
      s11 = Math.fma(a1, b1, s11);
      s12 = Math.fma(a1, b2, s12);
      s13 = Math.fma(a1, b3, s13);
      s20 = Math.fma(a2, b0, s20);
      s21 = Math.fma(a2, b1, s21);
      s22 = Math.fma(a2, b2, s22);
      s23 = Math.fma(a2, b3, s23);
      s30 = Math.fma(a3, b0, s30);
      s31 = Math.fma(a3, b1, s31);
      s32 = Math.fma(a3, b2, s32);
      s33 = Math.fma(a3, b3, s33);
    }
    y[y0] = s00;
    y[y0 + 1] = s01;
    y[y0 + 2] = s02;
    y[y0 + 3] = s03;
    y[y1] = s10;
    y[y1 + 1] = s11;
    y[y1 + 2] = s12;
    y[y1 + 3] = s13;
    y[y2] = s20;
    y[y2 + 1] = s21;
    y[y2 + 2] = s22;
    y[y2 + 3] = s23;
    y[y3] = s30;
    y[y3 + 1] = s31;
    y[y3 + 2] = s32;
    y[y3 + 3] = s33;
  }

  private static void single(
      float[] x, int xAt, int kc, float[] p, int pAt, float[] y, int yAt, boolean accumulate) {
    float s = accumulate ? y[yAt] : 0f;
    for (int t = 0, pt = pAt; t < kc; t++, pt += NB) {
      s = Math.fma(x[xAt + t], p[pt], s);
    }
    y[yAt] = s;
  }

  @Override
  void addBias(float[] y, int at, float[] bias, int biasAt, int n) {
    for (int i = 0; i < n; i++) {
      y[at + i] += bias[biasAt + i];
    }
  }

  @Override
  void biasGelu(float[] y, int at, float[] bias, int biasAt, int n) {
    for (int i = 0; i < n; i++) {
      y[at + i] = gelu(y[at + i] + bias[biasAt + i]);
    }
  }

  @Override
  void biasResidualLayerNorm(
      float[] y,
      int at,
      float[] bias,
      float[] residual,
      int rAt,
      float[] gamma,
      float[] beta,
      float eps,
      int n,
      float[] out,
      int outAt) {
    float sum = 0;
    for (int i = 0; i < n; i++) {
      float v = y[at + i] + bias[i] + residual[rAt + i];
      out[outAt + i] = v;
      sum += v;
    }
    float mean = sum / n;
    float sq = 0;
    for (int i = 0; i < n; i++) {
      float dv = out[outAt + i] - mean;
      sq += dv * dv;
    }
    float rstd = (float) (1.0 / Math.sqrt(sq / n + eps));
    for (int i = 0; i < n; i++) {
      out[outAt + i] = (out[outAt + i] - mean) * rstd * gamma[i] + beta[i];
    }
  }

  @Override
  void softmax(float[] s, int at, int n, float scale) {
    float max = Float.NEGATIVE_INFINITY;
    for (int i = 0; i < n; i++) {
      max = Math.max(max, s[at + i]);
    }
    float sum = 0;
    for (int i = 0; i < n; i++) {
      float e = weight((s[at + i] - max) * scale);
      s[at + i] = e;
      sum += e;
    }
    float inv = 1f / sum;
    for (int i = 0; i < n; i++) {
      s[at + i] *= inv;
    }
  }
}
