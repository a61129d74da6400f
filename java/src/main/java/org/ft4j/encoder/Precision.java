package org.ft4j.encoder;

/** Numeric precision of an encoder's weights, activations and GEMMs. */
public enum Precision {
  /** FP32 storage, FP32 GEMMs with true FP32 compute (TF32 only when asked for). */
  FP32("fp32"),
  /** FP16 storage, FP16 GEMMs accumulating in FP32, FP32 math inside the kernels. */
  FP16("fp16"),
  /**
   * INT8 GEMM inputs and weights (per output channel), outputs dequantized (FP16 out or INT32),
   * FP16 residual and layernorm (docs/int8.md).
   */
  INT8_MODE_1("int8-1"),
  /**
   * As mode 1, and the GEMMs write int8 (per-tensor Q/K/V, per-channel others), the residual adds
   * the int8 GEMM inputs (docs/int8.md; weights per output channel too, unlike FasterTransformer).
   */
  INT8_MODE_2("int8-2");

  private final String label;

  Precision(String label) {
    this.label = label;
  }

  /** The name used on command lines: fp32, fp16, int8-1, int8-2. */
  public String label() {
    return label;
  }

  /** Whether this is an INT8 mode. */
  public boolean isInt8() {
    return this == INT8_MODE_1 || this == INT8_MODE_2;
  }

  /** Bytes per stored activation element (INT8 modes keep FP16 activations between layers). */
  public int activationBytes() {
    return this == FP32 ? 4 : 2;
  }

  /**
   * FasterTransformer's pair of flags: {@code is_use_fp16} (0/1) and {@code int8_mode} (0, 1, 2).
   * INT8 modes run on the FP16 path, as in FasterTransformer.
   */
  public static Precision fromFasterTransformerFlags(int isUseFp16, int int8Mode) {
    if (isUseFp16 != 0 && isUseFp16 != 1) {
      throw new IllegalArgumentException("is_use_fp16 = " + isUseFp16 + ", must be 0 or 1");
    }
    return switch (int8Mode) {
      case 0 -> isUseFp16 == 1 ? FP16 : FP32;
      case 1 -> INT8_MODE_1;
      case 2 -> INT8_MODE_2;
      default ->
          throw new IllegalArgumentException("int8_mode = " + int8Mode + ", must be 0, 1 or 2");
    };
  }

  /** Parses a label (fp32, fp16, int8-1, int8-2), case-insensitive. */
  public static Precision fromLabel(String text) {
    for (Precision p : values()) {
      if (p.label.equalsIgnoreCase(text.trim())) {
        return p;
      }
    }
    throw new IllegalArgumentException(
        "unknown precision '" + text + "', expected one of fp32, fp16, int8-1, int8-2");
  }
}
