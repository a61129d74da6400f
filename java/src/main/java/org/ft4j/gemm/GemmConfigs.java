package org.ft4j.gemm;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The tuned GEMM algorithms a process runs with, found the way FasterTransformer users expect and
 * safer:
 *
 * <ol>
 *   <li>an explicit path (a file holding any GEMM types, or a folder holding gemm_config.in and
 *       igemm_config.in), when given; a path that does not exist yet is a folder when its last name
 *       has no extension, and starts from the shipped configs until entries are saved;
 *   <li>else gemm_config.in / igemm_config.in in the working directory, as FasterTransformer does;
 *   <li>else the file shipped for this GPU on the class path, gemm-configs/&lt;gpu&gt;/ (see {@link
 *       GemmEnvironment#gpuSlug()}).
 * </ol>
 *
 * Nothing here fails a forward pass: an unreadable or corrupt file, or one tuned on another GPU or
 * cuBLASLt version, is ignored with one warning, and a GEMM without an entry uses cuBLASLt's
 * heuristic (said once per GEMM). {@link #save} writes newly tuned entries back, keeping the
 * existing ones: to the explicit path, else to the working directory (a shipped file is copied
 * there with the new entries). Thread-safe.
 */
public final class GemmConfigs {
  private static final Logger LOG = LoggerFactory.getLogger(GemmConfigs.class);

  /** Class-path folder of the shipped configs. */
  public static final String RESOURCE_ROOT = "gemm-configs/";

  private enum Kind {
    FLOAT,
    INT8;

    static Kind of(GemmType t) {
      return t.isInt8() ? INT8 : FLOAT;
    }

    String fileName() {
      return this == INT8 ? GemmConfigFile.INT8_FILE : GemmConfigFile.FLOAT_FILE;
    }
  }

  /** Where one kind's entries came from and where new ones go. */
  private static final class Source {
    String name; // where the entries in use came from, for messages
    final Path target; // where save() writes
    GemmConfigFile file; // compatible entries, or null
    boolean targetUnreadable; // target exists but could not be parsed: never overwritten
    boolean targetForeign; // target exists but was tuned elsewhere: backed up before writing

    Source(String name, Path target) {
      this.name = name;
      this.target = target;
    }
  }

  private final GemmEnvironment environment;
  private final Map<Kind, Source> sources = new EnumMap<>(Kind.class);
  private final Set<GemmKey> reported = new HashSet<>();
  private final List<String> messages = new ArrayList<>();

  private GemmConfigs(GemmEnvironment environment) {
    this.environment = environment;
  }

  /**
   * Finds and loads the configs for {@code environment}; never throws for file problems (they
   * become warnings, see {@link #messages()}).
   *
   * @param explicit a file or folder the user named, or null
   * @param workingDir where FasterTransformer's gemm_config.in is looked for (the current directory
   *     in a real process)
   */
  public static GemmConfigs load(GemmEnvironment environment, Path explicit, Path workingDir) {
    return load(environment, explicit, workingDir, GemmConfigs.class.getClassLoader());
  }

  static GemmConfigs load(
      GemmEnvironment environment, Path explicit, Path workingDir, ClassLoader resources) {
    if (environment == null || workingDir == null) {
      throw new IllegalArgumentException("environment and working directory must not be null");
    }
    GemmConfigs c = new GemmConfigs(environment);
    Map<Path, Source> byPath = new LinkedHashMap<>();
    for (Kind kind : Kind.values()) {
      c.sources.put(kind, c.resolve(kind, explicit, workingDir, resources, byPath));
    }
    return c;
  }

  private Source resolve(
      Kind kind, Path explicit, Path workingDir, ClassLoader resources, Map<Path, Source> byPath) {
    if (explicit != null) {
      boolean folder = isFolder(explicit);
      Path p = folder ? explicit.resolve(kind.fileName()) : explicit;
      Source known = byPath.get(p.toAbsolutePath().normalize());
      if (known != null) {
        return known; // one explicit file holds both kinds: already resolved for FLOAT
      }
      Source s = new Source(p.toString(), p);
      byPath.put(p.toAbsolutePath().normalize(), s);
      if (Files.exists(p)) {
        readFile(s, p);
        return s;
      }
      // A missing explicit file serves both kinds; a missing file in a folder only its own.
      List<Kind> kinds = folder ? List.of(kind) : List.of(Kind.values());
      List<String> shipped = new ArrayList<>();
      for (Kind k : kinds) {
        String r = loadResource(s, k, resources);
        if (r != null) {
          shipped.add(r);
        }
      }
      String what =
          folder ? (kind == Kind.INT8 ? "INT8" : "FP32/FP16") + " GEMMs" : "GEMMs of every type";
      warn(
          "GEMM config "
              + p
              + " does not exist: "
              + what
              + " use "
              + (shipped.isEmpty()
                  ? "cuBLASLt's heuristic"
                  : "the config shipped for this GPU (" + String.join(", ", shipped) + ")")
              + "; newly tuned GEMMs will be written there");
      return s;
    }
    Path local = workingDir.resolve(kind.fileName());
    Source s = new Source(local.toString(), local);
    if (Files.exists(local)) {
      readFile(s, local);
      return s;
    }
    if (loadResource(s, kind, resources) == null && kind == Kind.FLOAT) {
      info(
          "no GEMM config for "
              + environment.gpu()
              + " (no "
              + local
              + ", none shipped in "
              + RESOURCE_ROOT
              + environment.gpuSlug()
              + "/): cuBLASLt heuristics for every GEMM; `ft4j encoder_gemm` tunes them");
    }
    return s;
  }

  /**
   * An explicit path names a folder when it is one, or, when it does not exist yet, when its last
   * name has no extension ("configs" is a folder, "tuned.cfg" and "gemm_config.in" are files).
   */
  static boolean isFolder(Path explicit) {
    if (Files.isDirectory(explicit)) {
      return true;
    }
    if (Files.exists(explicit) || explicit.getFileName() == null) {
      return false;
    }
    return !explicit.getFileName().toString().contains(".");
  }

  private void readFile(Source s, Path p) {
    try {
      accept(s, GemmConfigFile.read(p), p.toString());
    } catch (GemmConfigException e) {
      s.targetUnreadable = true;
      warn("ignoring GEMM config " + e.getMessage() + "; these GEMMs use cuBLASLt's heuristic");
    }
  }

  /**
   * Adds the shipped config of {@code kind} to {@code s}'s entries (new entries are still written
   * to {@code s.target}); returns the resource's name, or null when none is shipped or usable.
   */
  private String loadResource(Source s, Kind kind, ClassLoader resources) {
    String name = RESOURCE_ROOT + environment.gpuSlug() + "/" + kind.fileName();
    try (InputStream in = resources == null ? null : resources.getResourceAsStream(name)) {
      if (in == null) {
        return null;
      }
      String text = new String(in.readAllBytes(), StandardCharsets.UTF_8);
      GemmConfigFile f = GemmConfigFile.parse(name, text);
      GemmConfigFile before = s.file;
      boolean ok = accept(s, f, "shipped " + name);
      s.targetForeign = false; // the target is where new entries go, not the resource
      if (!ok) {
        s.file = before;
        return null;
      }
      if (before != null) {
        s.file = before.with(f.entries());
        s.name = s.name + " + shipped " + name;
      } else {
        s.name = "shipped " + name;
      }
      return name;
    } catch (IOException | GemmConfigException e) {
      warn("ignoring shipped GEMM config " + name + ": " + e.getMessage());
      return null;
    }
  }

  /** Keeps {@code f} when it was tuned here; else warns once and keeps nothing. */
  private boolean accept(Source s, GemmConfigFile f, String name) {
    String why = environment.mismatch(f.environment());
    if (why != null) {
      s.targetForeign = true;
      warn(
          "ignoring the "
              + f.size()
              + " entries of GEMM config "
              + name
              + ": "
              + why
              + "; these GEMMs use cuBLASLt's heuristic (re-tune with `ft4j encoder_gemm`)");
      return false;
    }
    s.file = f;
    LOG.info("GEMM config {}: {} tuned entries for {}", name, f.size(), environment.gpu());
    return true;
  }

  /** No files at all: every GEMM on cuBLASLt's heuristic (for tools that must not read files). */
  public static GemmConfigs heuristicOnly(GemmEnvironment environment) {
    GemmConfigs c = new GemmConfigs(environment);
    for (Kind k : Kind.values()) {
      c.sources.put(k, new Source("(none)", null));
    }
    return c;
  }

  public GemmEnvironment environment() {
    return environment;
  }

  /**
   * The tuned entry for {@code key}, or empty (the caller uses cuBLASLt's heuristic; said once per
   * GEMM as a warning when a config was loaded for its type, at debug level otherwise).
   */
  public synchronized Optional<GemmConfigEntry> find(GemmKey key) {
    Source s = sources.get(Kind.of(key.type()));
    Optional<GemmConfigEntry> e = s.file == null ? Optional.empty() : s.file.find(key);
    if (e.isEmpty() && reported.add(key)) {
      if (s.file != null) {
        warn("no tuned entry for GEMM " + key + " in " + s.name + ": using cuBLASLt's heuristic");
      } else {
        LOG.debug("GEMM {}: cuBLASLt heuristic (no config loaded)", key);
      }
    }
    return e;
  }

  /**
   * Whether {@code key} has a tuned entry of its own; says nothing (for a caller about to tune a
   * missing GEMM, where {@link #find}'s "using cuBLASLt's heuristic" would not be true).
   */
  public synchronized boolean has(GemmKey key) {
    Source s = sources.get(Kind.of(key.type()));
    return s.file != null && s.file.find(key).isPresent();
  }

  /**
   * {@link #find} or, where the GEMM has no entry of its own, the entry tuned for the nearest M
   * with the same N, K, type and epilogue ({@link GemmConfigFile#findNearestRows}); says once which
   * it used.
   */
  public synchronized Optional<GemmConfigEntry> findOrNearest(GemmKey key) {
    Source s = sources.get(Kind.of(key.type()));
    if (s.file == null) {
      return find(key);
    }
    Optional<GemmConfigEntry> e = s.file.find(key);
    if (e.isPresent()) {
      return e;
    }
    Optional<GemmConfigEntry> near = s.file.findNearestRows(key);
    if (near.isEmpty()) {
      return find(key); // warns
    }
    if (reported.add(key)) {
      warn(
          "no tuned entry for GEMM "
              + key
              + " in "
              + s.name
              + ": using the one tuned for M="
              + near.get().key().m()
              + " (same N, K, type and epilogue)");
    }
    return near;
  }

  /** Number of tuned entries in use for {@code type}'s kind (0 when none was loaded). */
  public synchronized int size(GemmType type) {
    GemmConfigFile f = sources.get(Kind.of(type)).file;
    return f == null ? 0 : f.size();
  }

  /** Where {@code type}'s entries came from (a path or resource name), for messages. */
  public synchronized String describe(GemmType type) {
    Source s = sources.get(Kind.of(type));
    return s.file == null
        ? "cuBLASLt heuristics (no usable config)"
        : s.name + " (" + s.file.size() + " entries)";
  }

  /**
   * Adds tuned entries and writes them back with every existing compatible entry (re-tuned GEMMs
   * replace theirs). A target tuned on another GPU or cuBLASLt version is first moved to {@code
   * <name>.bak}; an unreadable target is never overwritten.
   *
   * @return the files written
   * @throws GemmConfigException when a target cannot be written (the entries stay in use in this
   *     process)
   */
  public synchronized List<Path> save(List<GemmConfigEntry> tuned) {
    Map<Source, List<GemmConfigEntry>> bySource = new LinkedHashMap<>();
    for (GemmConfigEntry e : tuned) {
      bySource.computeIfAbsent(sources.get(Kind.of(e.key().type())), k -> new ArrayList<>()).add(e);
    }
    List<Path> written = new ArrayList<>();
    GemmConfigException failure = null;
    for (Map.Entry<Source, List<GemmConfigEntry>> g : bySource.entrySet()) {
      Source s = g.getKey();
      List<GemmConfigEntry> kept = s.file != null ? s.file.entries() : List.of();
      s.file = new GemmConfigFile(environment, kept).with(g.getValue());
      if (s.target == null) {
        continue;
      }
      s.name = s.target.toString();
      try {
        if (s.targetUnreadable && Files.exists(s.target)) {
          throw new GemmConfigException(
              s.target.toString(),
              0,
              "not overwriting an unreadable GEMM config; fix or remove it to save tuned entries");
        }
        if (s.targetForeign && Files.exists(s.target)) {
          Path bak = s.target.resolveSibling(s.target.getFileName() + ".bak");
          Files.move(s.target, bak, StandardCopyOption.REPLACE_EXISTING);
          warn("moved GEMM config " + s.target + " tuned elsewhere to " + bak);
          s.targetForeign = false;
        }
        s.file.write(s.target);
        written.add(s.target);
      } catch (IOException e) {
        failure = new GemmConfigException(s.target.toString(), "cannot write GEMM config: " + e, e);
      } catch (GemmConfigException e) {
        failure = e;
      }
    }
    if (failure != null) {
      throw failure;
    }
    return written;
  }

  /** The warnings and notes given so far, in order (also logged). */
  public synchronized List<String> messages() {
    return List.copyOf(messages);
  }

  private void warn(String m) {
    messages.add(m);
    LOG.warn(m);
  }

  private void info(String m) {
    messages.add(m);
    LOG.info(m);
  }
}
