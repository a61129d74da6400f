package org.ft4j.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * {@link CpuKernels} on the JDK's Vector API (the platform's widest float vectors: 16 lanes with
 * AVX-512, 8 with AVX2). Loaded only by name from {@link CpuKernels#best()}, where the module
 * {@code jdk.incubator.vector} is present.
 *
 * <p>GEMM: a panel is two vectors wide (nb = 2 lanes); four rows at a time keep 8 accumulators in
 * registers while the k-slice streams through, each panel vector load feeding four FMAs.
 */
final class VectorKernels extends CpuKernels {
  private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
  private static final int L = S.length();
  private static final int NB = 2 * L;
  private static final int ROUND_BITS = Float.floatToRawIntBits(ROUND);

  @Override
  String name() {
    return "vector (" + L + " x float)";
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
    for (int r = 0; r < rows; r += 4) {
      rows4(
          x,
          xAt + r * ldx,
          ldx,
          Math.min(4, rows - r),
          kc,
          p,
          pAt,
          y,
          yAt + r * ldy,
          ldy,
          cols,
          accumulate);
    }
  }

  /**
   * Four rows: the sums start from zero in registers (no masks, no loads of y in the loop, so that
   * C2 keeps every vector in a register) and are added to y afterwards when accumulating.
   *
   * <p>With {@code n} &lt; 4 (the last rows of a product) the missing rows read row 0 again and are
   * not stored: the 8 independent sums keep both FMA pipes busy, so n rows take the time of four,
   * where row by row each row's two sums would wait on the FMA latency at every step (a 31-token
   * text ends every product with 3 such rows).
   */
  private static void rows4(
      float[] x,
      int x0,
      int ldx,
      int n,
      int kc,
      float[] p,
      int pAt,
      float[] y,
      int y0,
      int ldy,
      int cols,
      boolean accumulate) {
    int x1 = n > 1 ? x0 + ldx : x0;
    int x2 = n > 2 ? x0 + 2 * ldx : x0;
    int x3 = n > 3 ? x0 + 3 * ldx : x0;
    FloatVector c00 = FloatVector.zero(S);
    FloatVector c01 = c00;
    FloatVector c10 = c00;
    FloatVector c11 = c00;
    FloatVector c20 = c00;
    FloatVector c21 = c00;
    FloatVector c30 = c00;
    FloatVector c31 = c00;
    for (int t = 0, pt = pAt; t < kc; t++, pt += NB) {
      FloatVector b0 = FloatVector.fromArray(S, p, pt);
      FloatVector b1 = FloatVector.fromArray(S, p, pt + L);
      FloatVector a = FloatVector.broadcast(S, x[x0 + t]);
      c00 = b0.fma(a, c00);
      c01 = b1.fma(a, c01);
      a = FloatVector.broadcast(S, x[x1 + t]);
      c10 = b0.fma(a, c10);
      c11 = b1.fma(a, c11);
      a = FloatVector.broadcast(S, x[x2 + t]);
      c20 = b0.fma(a, c20);
      c21 = b1.fma(a, c21);
      a = FloatVector.broadcast(S, x[x3 + t]);
      c30 = b0.fma(a, c30);
      c31 = b1.fma(a, c31);
    }
    put(c00, c01, y, y0, cols, accumulate);
    if (n > 1) {
      put(c10, c11, y, y0 + ldy, cols, accumulate);
    }
    if (n > 2) {
      put(c20, c21, y, y0 + 2 * ldy, cols, accumulate);
    }
    if (n > 3) {
      put(c30, c31, y, y0 + 3 * ldy, cols, accumulate);
    }
  }

  /** y[at + c] (+)= (lo ++ hi)[c] for c &lt; cols: whole vectors for a full panel, else by lane. */
  private static void put(
      FloatVector lo, FloatVector hi, float[] y, int at, int cols, boolean accumulate) {
    if (cols == NB) {
      if (accumulate) {
        lo = lo.add(FloatVector.fromArray(S, y, at));
        hi = hi.add(FloatVector.fromArray(S, y, at + L));
      }
      lo.intoArray(y, at);
      hi.intoArray(y, at + L);
      return;
    }
    float[] tmp = new float[NB];
    lo.intoArray(tmp, 0);
    hi.intoArray(tmp, L);
    for (int c = 0; c < cols; c++) {
      y[at + c] = accumulate ? y[at + c] + tmp[c] : tmp[c];
    }
  }

  @Override
  void addBias(float[] y, int at, float[] bias, int biasAt, int n) {
    int i = 0;
    for (int end = S.loopBound(n); i < end; i += L) {
      FloatVector.fromArray(S, y, at + i)
          .add(FloatVector.fromArray(S, bias, biasAt + i))
          .intoArray(y, at + i);
    }
    for (; i < n; i++) {
      y[at + i] += bias[biasAt + i];
    }
  }

  @Override
  void biasGelu(float[] y, int at, float[] bias, int biasAt, int n) {
    int i = 0;
    for (int end = S.loopBound(n); i < end; i += L) {
      FloatVector v =
          FloatVector.fromArray(S, y, at + i).add(FloatVector.fromArray(S, bias, biasAt + i));
      gelu(v).intoArray(y, at + i);
    }
    for (; i < n; i++) {
      y[at + i] = gelu(y[at + i] + bias[biasAt + i]);
    }
  }

  /** {@link CpuKernels#gelu(float)} lane-wise. */
  private static FloatVector gelu(FloatVector x) {
    FloatVector z = x.abs().mul(INV_SQRT2);
    FloatVector t = z.fma(0.5f, 1f);
    t = FloatVector.broadcast(S, 1f).div(t);
    FloatVector p = FloatVector.broadcast(S, ERFC_C[9]);
    for (int i = 8; i >= 0; i--) {
      p = p.fma(t, FloatVector.broadcast(S, ERFC_C[i]));
    }
    FloatVector arg = z.mul(z).neg().add(p);
    // erfc below e^-80: 0, so that no subnormal reaches the next GEMM (x86 FMAs on subnormal
    // operands take a microcode assist, ~100x slower); the dropped part is < 1e-34 relative.
    FloatVector e = t.mul(exp(arg)).blend(0f, arg.compare(VectorOperators.LT, UNDER));
    FloatVector half = e.mul(0.5f);
    // x >= 0: x (1 - e/2); x < 0: x e/2
    FloatVector factor = half.neg().add(1f).blend(half, x.compare(VectorOperators.LT, 0f));
    return x.mul(factor);
  }

  /**
   * {@link CpuKernels#exp(float)} lane by lane, by the same operations (lanes below {@link
   * CpuKernels#UNDER} are garbage: callers blend them to 0).
   */
  private static FloatVector exp(FloatVector x) {
    FloatVector shifted = x.max(UNDER).mul(LOG2E).add(ROUND); // k in its low mantissa bits
    FloatVector kf = shifted.sub(ROUND);
    FloatVector r = kf.fma(FloatVector.broadcast(S, -LN2_HI), x);
    r = kf.fma(FloatVector.broadcast(S, -LN2_LO), r);
    FloatVector p = FloatVector.broadcast(S, EXP_C[7]);
    for (int i = 6; i >= 0; i--) {
      p = p.fma(r, FloatVector.broadcast(S, EXP_C[i]));
    }
    IntVector k = (IntVector) shifted.reinterpretAsInts();
    IntVector bits = k.sub(ROUND_BITS - 127).lanewise(VectorOperators.LSHL, 23);
    return p.mul(bits.reinterpretAsFloats());
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
    int end = S.loopBound(n);
    FloatVector acc = FloatVector.zero(S);
    int i = 0;
    for (; i < end; i += L) {
      FloatVector v =
          FloatVector.fromArray(S, y, at + i)
              .add(FloatVector.fromArray(S, bias, i))
              .add(FloatVector.fromArray(S, residual, rAt + i));
      v.intoArray(out, outAt + i);
      acc = acc.add(v);
    }
    float sum = acc.reduceLanes(VectorOperators.ADD);
    for (; i < n; i++) {
      float v = y[at + i] + bias[i] + residual[rAt + i];
      out[outAt + i] = v;
      sum += v;
    }
    float mean = sum / n;
    acc = FloatVector.zero(S);
    i = 0;
    for (; i < end; i += L) {
      FloatVector dv = FloatVector.fromArray(S, out, outAt + i).sub(mean);
      acc = dv.fma(dv, acc);
    }
    float sq = acc.reduceLanes(VectorOperators.ADD);
    for (; i < n; i++) {
      float dv = out[outAt + i] - mean;
      sq += dv * dv;
    }
    float rstd = (float) (1.0 / Math.sqrt(sq / n + eps));
    i = 0;
    for (; i < end; i += L) {
      FloatVector.fromArray(S, out, outAt + i)
          .sub(mean)
          .mul(rstd)
          .fma(FloatVector.fromArray(S, gamma, i), FloatVector.fromArray(S, beta, i))
          .intoArray(out, outAt + i);
    }
    for (; i < n; i++) {
      out[outAt + i] = (out[outAt + i] - mean) * rstd * gamma[i] + beta[i];
    }
  }

  @Override
  void softmax(float[] s, int at, int n, float scale) {
    int end = S.loopBound(n);
    FloatVector mx = FloatVector.broadcast(S, Float.NEGATIVE_INFINITY);
    int i = 0;
    for (; i < end; i += L) {
      mx = mx.max(FloatVector.fromArray(S, s, at + i));
    }
    float max = mx.reduceLanes(VectorOperators.MAX);
    for (; i < n; i++) {
      max = Math.max(max, s[at + i]);
    }
    FloatVector acc = FloatVector.zero(S);
    i = 0;
    for (; i < end; i += L) {
      FloatVector arg = FloatVector.fromArray(S, s, at + i).sub(max).mul(scale);
      FloatVector e = exp(arg).blend(0f, arg.compare(VectorOperators.LT, UNDER));
      e.intoArray(s, at + i);
      acc = acc.add(e);
    }
    float sum = acc.reduceLanes(VectorOperators.ADD);
    for (; i < n; i++) {
      float e = weight((s[at + i] - max) * scale);
      s[at + i] = e;
      sum += e;
    }
    float inv = 1f / sum;
    i = 0;
    for (; i < end; i += L) {
      FloatVector.fromArray(S, s, at + i).mul(inv).intoArray(s, at + i);
    }
    for (; i < n; i++) {
      s[at + i] *= inv;
    }
  }
}
