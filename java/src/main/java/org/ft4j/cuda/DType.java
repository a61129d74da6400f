package org.ft4j.cuda;

/** Element types of device buffers. */
public enum DType {
  FP32(4),
  FP16(2),
  INT32(4),
  INT8(1);

  private final int bytes;

  DType(int bytes) {
    this.bytes = bytes;
  }

  /** Size of one element in bytes. */
  public int bytes() {
    return bytes;
  }
}
