package org.ft4j.quant;

/** A scale file that cannot be read, is malformed, or does not fit the model; names where. */
public final class ScaleSetException extends IllegalArgumentException {
  private static final long serialVersionUID = 1L;

  public ScaleSetException(String message) {
    super(message);
  }

  public ScaleSetException(String message, Throwable cause) {
    super(message, cause);
  }
}
