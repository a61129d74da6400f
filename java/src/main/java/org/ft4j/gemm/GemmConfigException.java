package org.ft4j.gemm;

/** A GEMM config file that cannot be used: names the file, the line (when known) and why. */
public final class GemmConfigException extends IllegalArgumentException {
  private final String source;
  private final int line;

  public GemmConfigException(String source, int line, String reason) {
    super(source + (line > 0 ? ":" + line : "") + ": " + reason);
    this.source = source;
    this.line = line;
  }

  public GemmConfigException(String source, String reason, Throwable cause) {
    super(source + ": " + reason, cause);
    this.source = source;
    this.line = 0;
  }

  /** The file (or resource) name. */
  public String source() {
    return source;
  }

  /** The 1-based line number, or 0 when the problem is not on one line. */
  public int line() {
    return line;
  }
}
