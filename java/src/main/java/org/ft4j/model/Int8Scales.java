package org.ft4j.model;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.ft4j.quant.ScaleSet;
import org.ft4j.quant.ScaleSetException;

/**
 * Where a model's INT8 scale file ({@link ScaleSet}) lives:
 *
 * <ol>
 *   <li>an explicit path, when given;
 *   <li>next to the model: {@code <dir>/ft4j-int8-scales.json} for a model directory, {@code
 *       <name>.ft4j-int8-scales.json} beside a .onnx / .safetensors file, {@code
 *       <name>.ft4j-int8-scales.json} in the working directory for an embedded model — where {@code
 *       ft4j calibrate} writes by default;
 *   <li>for the embedded models, the scales shipped in the jar ({@code int8-scales/<name>.json}),
 *       calibrated on data/calibration-en.jsonl and data/calibration-varied-en.jsonl.
 * </ol>
 */
public final class Int8Scales {
  /** The file name inside a model directory. */
  public static final String FILE = "ft4j-int8-scales.json";

  /** Class-path folder of the shipped scale sets. */
  public static final String RESOURCE_ROOT = "int8-scales/";

  private Int8Scales() {}

  /** Where {@code ft4j calibrate} writes the scales of {@code spec} unless told otherwise. */
  public static Path defaultPath(String spec, Path workingDir) {
    String embedded = ModelLoader.embeddedName(spec);
    if (embedded != null) {
      return workingDir.resolve(embedded + "." + FILE);
    }
    Path p = Path.of(spec);
    if (Files.isDirectory(p)) {
      return p.resolve(FILE);
    }
    String name = p.getFileName().toString();
    int dot = name.lastIndexOf('.');
    String stem = dot > 0 ? name.substring(0, dot) : name;
    return p.resolveSibling(stem + "." + FILE);
  }

  /**
   * Loads the scales of {@code spec}: {@code explicit} if not null, else the first that exists of
   * the default path and (embedded models) the shipped set.
   *
   * @throws ScaleSetException naming every place looked at when none exists, or what is wrong with
   *     the file found
   */
  public static ScaleSet load(String spec, Path explicit, Path workingDir) {
    if (explicit != null) {
      if (!Files.exists(explicit)) {
        throw new ScaleSetException("INT8 scale file " + explicit + " does not exist");
      }
      return ScaleSet.read(explicit);
    }
    List<String> looked = new ArrayList<>();
    Path next = defaultPath(spec, workingDir);
    if (Files.exists(next)) {
      return ScaleSet.read(next);
    }
    looked.add(next.toString());
    String embedded = ModelLoader.embeddedName(spec);
    if (embedded != null) {
      String resource = RESOURCE_ROOT + embedded + ".json";
      try (InputStream in = Int8Scales.class.getClassLoader().getResourceAsStream(resource)) {
        if (in != null) {
          return ScaleSet.parse(
              "shipped " + resource, new String(in.readAllBytes(), StandardCharsets.UTF_8));
        }
      } catch (IOException e) {
        throw new ScaleSetException("cannot read shipped " + resource + ": " + e, e);
      }
      looked.add("shipped " + resource);
    }
    throw new ScaleSetException(
        "no INT8 scales for model "
            + spec
            + " (looked for "
            + String.join(", ", looked)
            + "): run `ft4j calibrate --model "
            + spec
            + " --data texts.jsonl` or pass a scale file");
  }
}
