package org.ft4j.gemm;

/** The epilogue cuBLASLt applies after the product. */
public enum Epilogue {
  NONE("none"),
  /** C[:, j] += bias[j] per output column (row-major view), bias of the C element type. */
  BIAS("bias"),
  /**
   * gelu(C + bias) with cuBLASLt's tanh approximation of GELU: not the exact (erf) GELU of BERT, so
   * the encoder uses it only when asked to ({@code BertEncoder.Options.withGeluEpilogue}); also
   * timed by the epilogue benchmark (org.ft4j.bench).
   */
  GELU_BIAS_TANH("gelu_bias_tanh");

  private final String label;

  Epilogue(String label) {
    this.label = label;
  }

  public String label() {
    return label;
  }

  public static Epilogue fromLabel(String label) {
    for (Epilogue e : values()) {
      if (e.label.equalsIgnoreCase(label == null ? "" : label.strip())) {
        return e;
      }
    }
    throw new IllegalArgumentException(
        "unknown epilogue '" + label + "' (expected none, bias or gelu_bias_tanh)");
  }
}
