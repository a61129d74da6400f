package org.ft4j.reference;

import java.util.Locale;

/**
 * Sees (and may change in place) the activations of {@link ReferenceEncoder} at the points where an
 * INT8 encoder quantizes: calibration observes them, the fake-quantized reference rounds them to
 * the int8 grid. Called from the forward pass's thread, once per point and layer, with the valid
 * tokens only (padding is never included).
 */
public interface ActivationHook {

  /**
   * A quantization point of one layer. The GEMM inputs ({@code *_IN}) are where both INT8 modes
   * quantize; the GEMM outputs ({@code *_OUT}) are where mode 2's int8-out GEMMs quantize, and they
   * carry the product <em>before</em> the bias (an int8-out GEMM has no bias; it is added when the
   * next kernel dequantizes).
   */
  enum Point {
    /** The layer input [tokens, hidden], read by the Q, K and V GEMMs (and the residual). */
    QKV_IN,
    /** x Wq^T [tokens, hidden], before the query bias. */
    Q_OUT,
    /** x Wk^T [tokens, hidden], before the key bias. */
    K_OUT,
    /** x Wv^T [tokens, hidden], before the value bias. */
    V_OUT,
    /** The attention context [tokens, hidden], read by the attention output GEMM. */
    ATTN_OUT_IN,
    /** ctx Wo^T [tokens, hidden], before the bias. */
    ATTN_OUT_OUT,
    /** The attention layernorm's output [tokens, hidden], read by FFN1 (and the residual). */
    FFN1_IN,
    /** a Wi^T [tokens, intermediate], before the bias. */
    FFN1_OUT,
    /** gelu(a Wi^T + bi) [tokens, intermediate], read by FFN2. */
    FFN2_IN,
    /** h Wo2^T [tokens, hidden], before the bias. */
    FFN2_OUT;

    /** The name in scale files: lower case ({@code qkv_in}, {@code ffn2_out}, ...). */
    public String key() {
      return name().toLowerCase(Locale.ROOT);
    }

    /** The point named {@code key} (case-insensitive), or an exception listing the names. */
    public static Point fromKey(String key) {
      for (Point p : values()) {
        if (p.key().equalsIgnoreCase(key)) {
          return p;
        }
      }
      StringBuilder names = new StringBuilder();
      for (Point p : values()) {
        names.append(names.length() == 0 ? "" : ", ").append(p.key());
      }
      throw new IllegalArgumentException(
          "unknown quantization point '" + key + "' (expected one of " + names + ")");
    }

    /** Whether this point is a GEMM input (quantized in both INT8 modes). */
    public boolean isGemmInput() {
      return name().endsWith("_IN");
    }
  }

  /**
   * The activations at {@code point} of {@code layer}: row-major [rows, cols], rows = valid tokens.
   * The hook may overwrite values in place.
   */
  void apply(int layer, Point point, double[] values, int rows, int cols);

  /**
   * Whether the residual path adds its own hooked copy of the layer input and of the attention
   * layernorm output ({@link #applyResidual}; INT8 mode 2, int8 residual) rather than the values
   * before any hook (mode 1: FP16 residual).
   */
  default boolean quantizedResidual() {
    return false;
  }

  /**
   * With {@link #quantizedResidual()}: the copy of the activations at {@code point} (QKV_IN or
   * FFN1_IN) that the residual path adds, which the hook may change in place. Separate from {@link
   * #apply} because a GEMM input may be rescaled per channel (smoothing folded into the weights)
   * while the residual must stay in the original units.
   */
  default void applyResidual(int layer, Point point, double[] values, int rows, int cols) {}
}
