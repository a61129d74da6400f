package org.ft4j.gemm;

import java.util.Locale;
import java.util.regex.Pattern;

/**
 * One line of a GEMM config file: the GEMM (where it came from and its {@link GemmKey}), the
 * winning cuBLASLt algorithm, its workspace and the measured times. See gemm-configs/README.md for
 * the file format.
 *
 * @param batch the encoder batch size the GEMM was tuned for (0 = not from an encoder shape)
 * @param seq the encoder sequence length the GEMM was tuned for (0 = not from an encoder shape)
 * @param op which GEMM of the layer: qkv, attn_out, ffn1, ffn2, scores, context (or any word)
 * @param timeMicros the tuned algorithm's measured time per GEMM, microseconds
 * @param heuristicMicros the time of cuBLASLt's heuristic choice in the same measurement
 */
public record GemmConfigEntry(
    int batch,
    int seq,
    String op,
    GemmKey key,
    GemmAlgorithm algorithm,
    long workspaceBytes,
    double timeMicros,
    double heuristicMicros) {

  /** Columns of a data line, in order. */
  public static final String COLUMNS =
      "batch seq op m n k batch_count b_trans type epilogue algo tile stages splitk reduction"
          + " swizzle custom inner cluster workspace time_us heuristic_us";

  private static final int FIELDS = COLUMNS.split(" ").length;
  private static final Pattern OP = Pattern.compile("[a-z][a-z0-9_]*");

  public GemmConfigEntry {
    if (batch < 0 || seq < 0) {
      throw new IllegalArgumentException("batch " + batch + " and seq " + seq + " must be >= 0");
    }
    if (op == null || !OP.matcher(op).matches()) {
      throw new IllegalArgumentException(
          "op '" + op + "' must be a lower-case word ([a-z][a-z0-9_]*)");
    }
    if (key == null || algorithm == null) {
      throw new IllegalArgumentException("key and algorithm must not be null");
    }
    if (workspaceBytes < 0) {
      throw new IllegalArgumentException("workspace = " + workspaceBytes + " bytes, must be >= 0");
    }
    requireTime("time_us", timeMicros);
    requireTime("heuristic_us", heuristicMicros);
    if (algorithm.isFt4jOwn()
        && ((key.type() != GemmType.I8I32 && key.type() != GemmType.I8I8)
            || key.batchCount() != 1
            || !key.bTransposed())) {
      throw new IllegalArgumentException(
          "algorithm ft4j (ft4j's own INT8 GEMM) runs i8i32 and i8i8 GEMMs with batch_count 1 and"
              + " b_trans T"
              + " only, not "
              + key.type().label()
              + " batch_count "
              + key.batchCount()
              + " b_trans "
              + (key.bTransposed() ? "T" : "N"));
    }
  }

  private static void requireTime(String what, double v) {
    if (!(v >= 0) || Double.isInfinite(v)) {
      throw new IllegalArgumentException(what + " = " + v + ", must be a finite time >= 0");
    }
  }

  /** The data line (no newline). */
  public String format() {
    GemmAlgorithm a = algorithm;
    return String.format(
        Locale.ROOT,
        "%d %d %s %d %d %d %d %s %s %s %s %d %d %d %d %d %d %d %d %d %.3f %.3f",
        batch,
        seq,
        op,
        key.m(),
        key.n(),
        key.k(),
        key.batchCount(),
        key.bTransposed() ? "T" : "N",
        key.type().label(),
        key.epilogue().label(),
        a.isFt4jOwn() ? "ft4j" : Integer.toString(a.id()),
        a.tile(),
        a.stages(),
        a.splitK(),
        a.reduction(),
        a.swizzle(),
        a.custom(),
        a.innerShape(),
        a.clusterShape(),
        workspaceBytes,
        timeMicros,
        heuristicMicros);
  }

  /**
   * Parses a data line; every problem is a {@link GemmConfigException} naming {@code source}, the
   * line number, the column and the value.
   */
  public static GemmConfigEntry parse(String line, String source, int lineNumber) {
    String[] f = line.strip().split("\\s+");
    if (f.length != FIELDS) {
      throw new GemmConfigException(
          source,
          lineNumber,
          "expected " + FIELDS + " fields (" + COLUMNS + "), found " + f.length);
    }
    Fields p = new Fields(f, source, lineNumber);
    try {
      int batch = p.integer(0);
      int seq = p.integer(1);
      String op = f[2];
      GemmKey key =
          new GemmKey(
              p.integer(3),
              p.integer(4),
              p.integer(5),
              p.integer(6),
              p.transposed(7),
              p.type(8),
              p.epilogue(9));
      GemmAlgorithm algorithm =
          new GemmAlgorithm(
              p.algorithmId(10),
              p.integer(11),
              p.integer(12),
              p.integer(13),
              p.integer(14),
              p.integer(15),
              p.integer(16),
              p.integer(17),
              p.integer(18));
      return new GemmConfigEntry(
          batch, seq, op, key, algorithm, p.longInteger(19), p.decimal(20), p.decimal(21));
    } catch (GemmConfigException e) {
      throw e;
    } catch (IllegalArgumentException e) {
      throw new GemmConfigException(source, lineNumber, e.getMessage());
    }
  }

  /** Column-aware field parsing for error messages that name the column. */
  private record Fields(String[] f, String source, int line) {
    private static final String[] NAMES = COLUMNS.split(" ");

    private GemmConfigException bad(int i, String expected) {
      return new GemmConfigException(
          source,
          line,
          "column " + (i + 1) + " (" + NAMES[i] + "): '" + f[i] + "' is not " + expected);
    }

    int integer(int i) {
      try {
        return Integer.parseInt(f[i]);
      } catch (NumberFormatException e) {
        throw bad(i, "an integer");
      }
    }

    int algorithmId(int i) {
      if (f[i].equals("ft4j")) {
        return GemmAlgorithm.FT4J_OWN_ID;
      }
      int id = integer(i);
      if (id < 0) {
        throw bad(i, "a cuBLASLt algorithm id >= 0 or ft4j");
      }
      return id;
    }

    long longInteger(int i) {
      try {
        return Long.parseLong(f[i]);
      } catch (NumberFormatException e) {
        throw bad(i, "an integer");
      }
    }

    double decimal(int i) {
      try {
        return Double.parseDouble(f[i]);
      } catch (NumberFormatException e) {
        throw bad(i, "a number");
      }
    }

    boolean transposed(int i) {
      return switch (f[i]) {
        case "T" -> true;
        case "N" -> false;
        default -> throw bad(i, "T or N");
      };
    }

    GemmType type(int i) {
      try {
        return GemmType.fromLabel(f[i]);
      } catch (IllegalArgumentException e) {
        throw bad(i, "fp32, tf32, fp16, i8i32 or i8i8");
      }
    }

    Epilogue epilogue(int i) {
      try {
        return Epilogue.fromLabel(f[i]);
      } catch (IllegalArgumentException e) {
        throw bad(i, "none, bias or gelu_bias_tanh");
      }
    }
  }
}
