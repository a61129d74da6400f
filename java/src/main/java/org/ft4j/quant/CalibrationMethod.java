package org.ft4j.quant;

import java.util.Locale;

/**
 * How an activation's amax (and so its int8 scale) is chosen from what calibration saw.
 *
 * <ul>
 *   <li>{@code max}: the largest |x| seen. Nothing clips; rare outliers coarsen the grid for all.
 *   <li>{@code percentile P} (default P = 99.99): the |x| below which P % of the values fall. The
 *       rest clip to ±amax.
 *   <li>{@code mse}: the amax that minimises the expected squared error of quantize-dequantize over
 *       the observed distribution (clipping error of the values above it plus the rounding noise,
 *       step²/12 per value, of those below).
 * </ul>
 *
 * @param kind which rule
 * @param percentile for PERCENTILE: in (0, 100]; ignored otherwise
 */
public record CalibrationMethod(Kind kind, double percentile) {
  /** The rules. */
  public enum Kind {
    MAX,
    PERCENTILE,
    MSE
  }

  /** The default: percentile 99.99. */
  public static final CalibrationMethod DEFAULT = new CalibrationMethod(Kind.PERCENTILE, 99.99);

  public CalibrationMethod {
    if (kind == null) {
      throw new IllegalArgumentException("calibration method kind is null");
    }
    if (kind == Kind.PERCENTILE && !(percentile > 0 && percentile <= 100)) {
      throw new IllegalArgumentException(
          "percentile = " + percentile + ", must be in (0, 100] (e.g. 99.99)");
    }
  }

  public static CalibrationMethod max() {
    return new CalibrationMethod(Kind.MAX, 0);
  }

  public static CalibrationMethod mse() {
    return new CalibrationMethod(Kind.MSE, 0);
  }

  public static CalibrationMethod percentile(double p) {
    return new CalibrationMethod(Kind.PERCENTILE, p);
  }

  /**
   * Parses {@code max}, {@code mse}, {@code percentile} (99.99) or {@code percentile:P} / {@code
   * percentile P}, case-insensitive.
   */
  public static CalibrationMethod parse(String text) {
    String t = text == null ? "" : text.strip().toLowerCase(Locale.ROOT);
    if (t.equals("max")) {
      return max();
    }
    if (t.equals("mse")) {
      return mse();
    }
    if (t.equals("percentile")) {
      return DEFAULT;
    }
    if (t.startsWith("percentile")) {
      String p = t.substring("percentile".length()).replaceFirst("^[:\\s]+", "");
      try {
        return percentile(Double.parseDouble(p));
      } catch (NumberFormatException e) {
        throw new IllegalArgumentException(
            "calibration method '"
                + text
                + "': '"
                + p
                + "' is not a number (e.g. percentile:99.9)");
      }
    }
    throw new IllegalArgumentException(
        "unknown calibration method '" + text + "' (expected max, percentile[:P] or mse)");
  }

  /** The amax this method picks from {@code h}; 0 when the histogram saw only zeros. */
  public double amax(AbsHistogram h) {
    return switch (kind) {
      case MAX -> h.max();
      case PERCENTILE -> h.percentile(percentile);
      case MSE -> h.minimumMseAmax();
    };
  }

  /** {@code max}, {@code mse} or {@code percentile 99.99}: the label scale files record. */
  public String label() {
    return switch (kind) {
      case MAX -> "max";
      case MSE -> "mse";
      case PERCENTILE -> "percentile " + stripZeros(percentile);
    };
  }

  private static String stripZeros(double p) {
    String s = Double.toString(p);
    return s.endsWith(".0") ? s.substring(0, s.length() - 2) : s;
  }

  @Override
  public String toString() {
    return label();
  }
}
