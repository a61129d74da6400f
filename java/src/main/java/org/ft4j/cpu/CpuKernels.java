package org.ft4j.cpu;

import java.util.Locale;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The inner loops of {@link CpuEncoder}: a GEMM micro-kernel over packed weight panels and the
 * row-wise steps (bias, bias + GELU, bias + residual + layernorm, softmax). Two implementations:
 * {@code VectorKernels} on the JDK's Vector API (SIMD; needs {@code --add-modules
 * jdk.incubator.vector} on the java command line) and {@link ScalarKernels} (plain loops, about 6×
 * slower on a core with AVX-512), chosen once by {@link #best()}.
 *
 * <p>Panel layout ({@link PackedMatrix}): a logical [out, in] matrix W is cut into panels of {@link
 * #panelWidth()} output columns; panel p holds W[p·nb + j, i] at {@code (p·in + i)·nb + j}, zero
 * past {@code out}, so a panel's k-slice is contiguous.
 */
abstract class CpuKernels {
  private static final Logger LOG = LoggerFactory.getLogger(CpuKernels.class);

  /** System property that forces a kernel set: auto (default), vector or scalar. */
  static final String PROPERTY = "ft4j.cpu.kernels";

  static final String VECTOR_MODULE = "jdk.incubator.vector";

  private static volatile CpuKernels best;

  /** A short description, e.g. "vector (16 x float)" or "scalar". */
  abstract String name();

  /** Output columns per packed panel. */
  abstract int panelWidth();

  /**
   * y[r, c] (+)= sum over t &lt; kc of x[xAt + r·ldx + t] · p[pAt + t·nb + c], for r &lt; rows and
   * c &lt; cols (cols &lt;= nb): one k-slice of one panel. Without {@code accumulate} y is
   * overwritten.
   */
  abstract void panel(
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
      boolean accumulate);

  /** y[at + i] += bias[biasAt + i] for i &lt; n. */
  abstract void addBias(float[] y, int at, float[] bias, int biasAt, int n);

  /**
   * y[at + i] = gelu(y[at + i] + bias[biasAt + i]) for i &lt; n: the exact (erf) GELU to float
   * accuracy.
   */
  abstract void biasGelu(float[] y, int at, float[] bias, int biasAt, int n);

  /**
   * out[outAt + i] = LN(y[at + i] + bias[i] + residual[rAt + i]) over i &lt; n, with LN(v) = (v −
   * mean) / sqrt(biased variance + eps) · gamma + beta. {@code out} may be {@code y} (same offset).
   */
  abstract void biasResidualLayerNorm(
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
      int outAt);

  /** s[at + i] = softmax_i(s[at + i] · scale) over i &lt; n, in place (scale &gt; 0). */
  abstract void softmax(float[] s, int at, int n, float scale);

  /**
   * The kernels of this JVM: the Vector API ones where the module {@code jdk.incubator.vector} is
   * in the boot layer, else the scalar ones (with one warning saying how to get the fast ones);
   * {@code -Dft4j.cpu.kernels=scalar|vector} forces a choice.
   *
   * @throws IllegalStateException for {@code vector} when the module is missing, or an unknown
   *     value of the property
   */
  static CpuKernels best() {
    CpuKernels k = best;
    if (k == null) {
      synchronized (CpuKernels.class) {
        k = best;
        if (k == null) {
          k = select(System.getProperty(PROPERTY, "auto"));
          LOG.debug("CPU encoder kernels: {}", k.name());
          best = k;
        }
      }
    }
    return k;
  }

  /** The kernels {@code request} names: auto, vector or scalar (case-insensitive). */
  static CpuKernels select(String request) {
    return select(request, vectorApiAvailable());
  }

  /** {@link #select(String)} as if the Vector API module were (not) loaded. */
  static CpuKernels select(String request, boolean vectorModule) {
    String r = request == null ? "auto" : request.trim().toLowerCase(Locale.ROOT);
    switch (r) {
      case "scalar":
        return new ScalarKernels();
      case "vector":
        {
          CpuKernels v = vectorModule ? vectorOrNull() : null;
          if (v == null) {
            throw new IllegalStateException(
                "-D"
                    + PROPERTY
                    + "=vector: the Vector API is not available; run java with --add-modules "
                    + VECTOR_MODULE);
          }
          return v;
        }
      case "auto":
        {
          CpuKernels v = vectorModule ? vectorOrNull() : null;
          if (v != null) {
            return v;
          }
          LOG.warn(
              "the CPU encoder runs on plain Java loops (about 6x slower): add --add-modules {}"
                  + " to the java command line for its SIMD kernels",
              VECTOR_MODULE);
          return new ScalarKernels();
        }
      default:
        throw new IllegalStateException(
            "-D" + PROPERTY + "=" + request + ": expected auto, vector or scalar");
    }
  }

  /** True when the Vector API module is in the boot layer. */
  static boolean vectorApiAvailable() {
    return ModuleLayer.boot().findModule(VECTOR_MODULE).isPresent();
  }

  /** VectorKernels loaded by name, so that this class never links to the incubator module. */
  private static CpuKernels vectorOrNull() {
    try {
      return (CpuKernels)
          Class.forName("org.ft4j.cpu.VectorKernels").getDeclaredConstructor().newInstance();
    } catch (ReflectiveOperationException | LinkageError e) {
      LOG.warn(
          "the Vector API kernels could not be loaded ({}); using plain Java loops", e.toString());
      return null;
    }
  }

  // ---- scalar helpers shared by both implementations ----

  /** 1 / sqrt(2) in float. */
  static final float INV_SQRT2 = 0.70710677f;

  /**
   * erfc(z) for z &gt;= 0 to a relative error of about 1.2e-7 before float rounding: t·exp(−z² +
   * P(t)), t = 1 / (1 + z/2), with the degree-9 polynomial P of the Chebyshev fit published in
   * Numerical Recipes (erfcc).
   */
  static float erfcNonNegative(float z) {
    float t = 1f / (1f + 0.5f * z);
    float p = ERFC_C[9];
    for (int i = 8; i >= 0; i--) {
      p = Math.fma(p, t, ERFC_C[i]);
    }
    float arg = -z * z + p;
    return arg < UNDER ? 0f : t * exp(arg);
  }

  // exp(x) = 2^k · e^r, k = round(x / ln 2), r = x − k ln 2 (ln 2 split in two for an exact
  // product), e^r by its degree-7 Taylor polynomial (|r| <= ln2/2: truncation < 6e-9 relative).
  static final float LOG2E = 1.44269504f;
  static final float ROUND = 12582912f; // 1.5 · 2^23: x + ROUND − ROUND rounds x to an integer
  static final float LN2_HI = 0.693359375f;
  static final float LN2_LO = -2.12194440e-4f;
  static final float[] EXP_C = {1f, 1f, 1f / 2, 1f / 6, 1f / 24, 1f / 120, 1f / 720, 1f / 5040};

  /**
   * e^x for x in [{@link #UNDER}, 88], within ~2 ulp, by the same float operations as {@code
   * VectorKernels}' lanes (and not {@link Math#exp}, whose vector counterpart is an intrinsic in
   * compiled code but a per-lane fallback before: results would depend on the JIT's state).
   */
  static float exp(float x) {
    float kf = (x * LOG2E + ROUND) - ROUND;
    float r = Math.fma(kf, -LN2_HI, x);
    r = Math.fma(kf, -LN2_LO, r);
    float p = EXP_C[7];
    for (int i = 6; i >= 0; i--) {
      p = Math.fma(p, r, EXP_C[i]);
    }
    return p * Float.intBitsToFloat(((int) kf + 127) << 23);
  }

  /**
   * Exponents below this give 0 instead of e^arg (&lt; 2e-35) in the softmax and the GELU: what
   * they would contribute is far below float resolution, and as subnormal GEMM operands they would
   * cost x86 a microcode assist per FMA (measured: a MiniLM-shaped layer stack ran ~10x slower).
   */
  static final float UNDER = -80f;

  /** A softmax weight e^arg (arg &lt;= 0), 0 below {@link #UNDER}. */
  static float weight(float arg) {
    return arg < UNDER ? 0f : exp(arg);
  }

  /** Coefficients of P(t) in increasing powers of t. */
  static final float[] ERFC_C = {
    -1.26551223f,
    1.00002368f,
    0.37409196f,
    0.09678418f,
    -0.18628806f,
    0.27886807f,
    -1.13520398f,
    1.48851587f,
    -0.82215223f,
    0.17087277f
  };

  /**
   * gelu(x) = x Φ(x) through erfc of |x|/√2, which keeps its relative accuracy for negative x
   * (where x Φ(x) is small): x (1 − erfc/2) for x &gt;= 0, x erfc / 2 below.
   */
  static float gelu(float x) {
    float e = erfcNonNegative(Math.abs(x) * INV_SQRT2);
    return x >= 0 ? x * (1f - 0.5f * e) : 0.5f * x * e;
  }
}
