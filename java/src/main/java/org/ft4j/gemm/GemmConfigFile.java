package org.ft4j.gemm;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFileAttributeView;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * A GEMM config file (gemm_config.in for FP32/TF32/FP16, igemm_config.in for INT8): a header naming
 * the environment the algorithms were tuned in, then one line per GEMM. Immutable; {@link #with}
 * returns a copy with entries added or replaced. The format is documented in
 * gemm-configs/README.md:
 *
 * <pre>
 *   # comment
 *   &#64;format ft4j-gemm-config 1
 *   &#64;gpu NVIDIA H100 80GB HBM3
 *   &#64;sm 90
 *   &#64;cudart 13000
 *   &#64;cublaslt 130100
 *   32 128 qkv 4096 2304 768 1 T fp16 none 66 20 0 1 0 0 0 0 0 0 22.310 23.004
 * </pre>
 */
public final class GemmConfigFile {
  /** The file FP32, TF32 and FP16 GEMMs are tuned into (FasterTransformer's name). */
  public static final String FLOAT_FILE = "gemm_config.in";

  /** The file INT8 GEMMs are tuned into (FasterTransformer's name). */
  public static final String INT8_FILE = "igemm_config.in";

  static final String FORMAT = "ft4j-gemm-config 1";

  private final GemmEnvironment environment;
  private final Map<GemmKey, GemmConfigEntry> entries;

  public GemmConfigFile(GemmEnvironment environment, Collection<GemmConfigEntry> entries) {
    if (environment == null) {
      throw new IllegalArgumentException("environment must not be null");
    }
    this.environment = environment;
    Map<GemmKey, GemmConfigEntry> m = new LinkedHashMap<>();
    for (GemmConfigEntry e : entries) {
      m.put(e.key(), e); // a later entry for the same GEMM replaces the earlier one
    }
    this.entries = java.util.Collections.unmodifiableMap(m);
  }

  /** The file name entries of this type are tuned into. */
  public static String fileName(GemmType type) {
    return type.isInt8() ? INT8_FILE : FLOAT_FILE;
  }

  public GemmEnvironment environment() {
    return environment;
  }

  /** Entries in file order. */
  public List<GemmConfigEntry> entries() {
    return List.copyOf(entries.values());
  }

  public int size() {
    return entries.size();
  }

  public Optional<GemmConfigEntry> find(GemmKey key) {
    return Optional.ofNullable(entries.get(key));
  }

  /**
   * For a single (not batched) GEMM without an entry of its own: the entry of the same N, K, type,
   * transposition and epilogue whose M is the smallest at or above {@code key.m()}, else the
   * largest below it; empty for batched GEMMs or when there is none. (Padding removal runs the
   * linear GEMMs on the token count rounded up to 64 rows, which encoder_gemm's batch x seq table
   * does not list; an algorithm tuned for a nearby M is a better guess than the heuristic, and the
   * plan still checks it against the real shape.)
   */
  public Optional<GemmConfigEntry> findNearestRows(GemmKey key) {
    if (key.batchCount() != 1) {
      return Optional.empty();
    }
    GemmConfigEntry above = null;
    GemmConfigEntry below = null;
    for (GemmConfigEntry e : entries.values()) {
      GemmKey k = e.key();
      if (k.batchCount() != 1
          || k.n() != key.n()
          || k.k() != key.k()
          || k.bTransposed() != key.bTransposed()
          || k.type() != key.type()
          || k.epilogue() != key.epilogue()) {
        continue;
      }
      if (k.m() >= key.m()) {
        if (above == null || k.m() < above.key().m()) {
          above = e;
        }
      } else if (below == null || k.m() > below.key().m()) {
        below = e;
      }
    }
    return Optional.ofNullable(above != null ? above : below);
  }

  /**
   * A copy with {@code added} appended; an added entry for a GEMM already present replaces it in
   * place (a re-tune), every other existing entry is kept.
   */
  public GemmConfigFile with(Collection<GemmConfigEntry> added) {
    List<GemmConfigEntry> all = new ArrayList<>(entries.values());
    all.addAll(added);
    return new GemmConfigFile(environment, all);
  }

  /** The file's text. */
  public String format() {
    StringBuilder sb = new StringBuilder();
    sb.append("# ft4j GEMM config: written by `ft4j encoder_gemm`, read by BertEncoder.\n");
    sb.append(
        "# Format: gemm-configs/README.md. Entries are valid only for the GPU and cuBLASLt\n");
    sb.append("# version below; shapes without an entry use cuBLASLt's heuristic.\n");
    sb.append("@format ").append(FORMAT).append('\n');
    sb.append("@gpu ").append(environment.gpu()).append('\n');
    sb.append("@sm ").append(environment.sm()).append('\n');
    sb.append("@cudart ").append(environment.cudart()).append('\n');
    sb.append("@cublaslt ").append(environment.cublasLt()).append('\n');
    sb.append("# ").append(GemmConfigEntry.COLUMNS).append('\n');
    for (GemmConfigEntry e : entries.values()) {
      sb.append(e.format()).append('\n');
    }
    return sb.toString();
  }

  /**
   * Writes the file atomically (a temporary file in the same folder, then a rename). The file keeps
   * the permissions of the one it replaces; a new file gets rw-r--r-- (a config is meant to be
   * shared, unlike the owner-only temporary file).
   */
  public void write(Path file) throws IOException {
    Path dir = file.toAbsolutePath().getParent();
    Files.createDirectories(dir);
    Path tmp = Files.createTempFile(dir, file.getFileName().toString(), ".tmp");
    try {
      Files.writeString(tmp, format(), StandardCharsets.UTF_8);
      if (Files.getFileStore(tmp).supportsFileAttributeView(PosixFileAttributeView.class)) {
        Set<PosixFilePermission> perms =
            Files.exists(file)
                ? Files.getPosixFilePermissions(file)
                : PosixFilePermissions.fromString("rw-r--r--");
        Files.setPosixFilePermissions(tmp, perms);
      }
      try {
        Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
      } catch (AtomicMoveNotSupportedException e) {
        Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING);
      }
    } finally {
      Files.deleteIfExists(tmp);
    }
  }

  /** Reads and parses a file; unreadable or malformed files throw {@link GemmConfigException}. */
  public static GemmConfigFile read(Path file) {
    String text;
    try {
      text = Files.readString(file, StandardCharsets.UTF_8);
    } catch (IOException | RuntimeException e) {
      throw new GemmConfigException(file.toString(), "cannot read GEMM config: " + e, e);
    }
    return parse(file.toString(), text);
  }

  /**
   * Parses a file's text. Header lines ({@code @key value}) come first and all five are required;
   * blank lines and {@code #} comments are skipped; a second entry for the same GEMM is an error
   * naming both lines.
   */
  public static GemmConfigFile parse(String source, String text) {
    Map<String, String> header = new HashMap<>();
    List<GemmConfigEntry> list = new ArrayList<>();
    Map<GemmKey, Integer> lineOf = new HashMap<>();
    String[] lines = text.split("\r?\n", -1);
    GemmEnvironment env = null;
    for (int i = 0; i < lines.length; i++) {
      int n = i + 1;
      String line = lines[i].strip();
      if (line.isEmpty() || line.startsWith("#")) {
        continue;
      }
      if (line.startsWith("@")) {
        if (env != null) {
          throw new GemmConfigException(
              source, n, "header line '" + line + "' after the first entry");
        }
        String[] kv = line.substring(1).split("\\s+", 2);
        String key = kv[0];
        String value = kv.length < 2 ? "" : kv[1].strip();
        if (!List.of("format", "gpu", "sm", "cudart", "cublaslt").contains(key)) {
          throw new GemmConfigException(
              source,
              n,
              "unknown header '@" + key + "' (expected @format, @gpu, @sm, @cudart, @cublaslt)");
        }
        if (value.isEmpty()) {
          throw new GemmConfigException(source, n, "header '@" + key + "' has no value");
        }
        if (header.put(key, value) != null) {
          throw new GemmConfigException(source, n, "header '@" + key + "' given twice");
        }
        if (List.of("sm", "cudart", "cublaslt").contains(key)) {
          try {
            if (Long.parseLong(value) < 0) {
              throw new NumberFormatException();
            }
          } catch (NumberFormatException e) {
            throw new GemmConfigException(
                source,
                n,
                "header '@" + key + "' value '" + value + "' is not a non-negative integer");
          }
        }
        if (key.equals("format") && !value.equals(FORMAT)) {
          throw new GemmConfigException(
              source,
              n,
              "format '" + value + "' is not '" + FORMAT + "' (written by another tool?)");
        }
        continue;
      }
      if (env == null) {
        env = environment(header, source, n);
      }
      GemmConfigEntry e = GemmConfigEntry.parse(line, source, n);
      Integer first = lineOf.putIfAbsent(e.key(), n);
      if (first != null) {
        throw new GemmConfigException(
            source, n, "second entry for " + e.key() + " (first on line " + first + ")");
      }
      list.add(e);
    }
    if (env == null) {
      env = environment(header, source, 0);
    }
    return new GemmConfigFile(env, list);
  }

  private static GemmEnvironment environment(Map<String, String> h, String source, int line) {
    for (String k : List.of("format", "gpu", "sm", "cudart", "cublaslt")) {
      if (!h.containsKey(k)) {
        throw new GemmConfigException(
            source,
            line,
            "header '@"
                + k
                + "' missing"
                + (line > 0 ? " before the first entry" : "")
                + " (a GEMM config starts with @format, @gpu, @sm, @cudart and @cublaslt)");
      }
    }
    try {
      return new GemmEnvironment(
          h.get("gpu"),
          Integer.parseInt(h.get("sm")),
          Integer.parseInt(h.get("cudart")),
          Long.parseLong(h.get("cublaslt")));
    } catch (NumberFormatException e) {
      throw new GemmConfigException(
          source, line, "header @sm, @cudart and @cublaslt must be integers: " + e.getMessage());
    } catch (IllegalArgumentException e) {
      throw new GemmConfigException(source, line, "bad header: " + e.getMessage());
    }
  }
}
