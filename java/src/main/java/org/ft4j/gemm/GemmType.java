package org.ft4j.gemm;

import java.util.Locale;
import org.ft4j.cuda.DType;

/**
 * The element and compute types of one GEMM, as cuBLASLt sees them and as the GEMM config files
 * name them (the {@link #label()} column).
 *
 * <pre>
 *   label  A, B     C       compute                 alpha/beta   used by
 *   fp32   fp32     fp32    FP32                    fp32         FP32 encoder
 *   tf32   fp32     fp32    FP32 with TF32 inputs   fp32         FP32 encoder with allowTf32
 *   fp16   fp16     fp16    FP32                    fp32         FP16 encoder
 *   i8i32  int8     int32   INT32                   int32        INT8 mode 1 (dequantize after)
 *   i8i8   int8     int8    INT32                   fp32         INT8 mode 2 (alpha = sA sB / sC)
 * </pre>
 */
public enum GemmType {
  FP32("fp32", DType.FP32, DType.FP32),
  TF32("tf32", DType.FP32, DType.FP32),
  FP16("fp16", DType.FP16, DType.FP16),
  I8I32("i8i32", DType.INT8, DType.INT32),
  I8I8("i8i8", DType.INT8, DType.INT8);

  private final String label;
  private final DType input;
  private final DType output;

  GemmType(String label, DType input, DType output) {
    this.label = label;
    this.input = input;
    this.output = output;
  }

  /** The name in config files and on the command line. */
  public String label() {
    return label;
  }

  /** Element type of A and B. */
  public DType input() {
    return input;
  }

  /** Element type of C. */
  public DType output() {
    return output;
  }

  /** True for the INT8 types, whose tuned entries live in igemm_config.in. */
  public boolean isInt8() {
    return input == DType.INT8;
  }

  /** The GEMM type of a floating-point encoder: FP32 (or TF32 when allowed) or FP16. */
  public static GemmType of(DType storage, boolean allowTf32) {
    return switch (storage) {
      case FP32 -> allowTf32 ? TF32 : FP32;
      case FP16 -> FP16;
      default ->
          throw new IllegalArgumentException(
              "no floating-point GEMM type stores " + storage + "; INT8 GEMMs are I8I32 or I8I8");
    };
  }

  /** Parses a {@link #label()}; the exception lists the known labels. */
  public static GemmType fromLabel(String label) {
    String l = label.toLowerCase(Locale.ROOT);
    for (GemmType t : values()) {
      if (t.label.equals(l)) {
        return t;
      }
    }
    throw new IllegalArgumentException(
        "unknown GEMM type '" + label + "' (expected fp32, tf32, fp16, i8i32 or i8i8)");
  }
}
