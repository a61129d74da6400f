package org.ft4j.cuda;

/** A CUDA runtime, cuBLASLt or ft4j kernel call failed; the message names the call and shapes. */
public class CudaException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  public CudaException(String message) {
    super(message);
  }

  public CudaException(String message, Throwable cause) {
    super(message, cause);
  }
}
