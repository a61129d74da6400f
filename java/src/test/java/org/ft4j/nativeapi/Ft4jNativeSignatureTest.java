package org.ft4j.nativeapi;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * The Java declarations of the C API (Ft4jNative) against native/include/ft4j.h, parameter by
 * parameter: the same functions, and for each the same number of parameters with the same names
 * (snake_case vs camelCase) and kinds (int, float, size_t / long, pointer) in the same order. The
 * JNI glue JavaCPP generates is compiled against ft4j.h, which catches a wrong count or type, but
 * two parameters of one type in swapped order (m and n, batch and seq, two buffers) compile fine
 * and would only show as wrong results on a GPU.
 */
class Ft4jNativeSignatureTest {
  record Param(String kind, String name) {}

  static final Path HEADER = Path.of("native/include/ft4j.h");
  static final Path JAVA = Path.of("java/src/main/java/org/ft4j/nativeapi/Ft4jNative.java");

  /** ft4j_* prototypes of the header: name -> parameters. */
  static Map<String, List<Param>> header(String text) {
    String code = text.replaceAll("(?s)/\\*.*?\\*/", " ").replaceAll("//[^\n]*", " ");
    Matcher m =
        Pattern.compile("FT4J_API\\s+[^;(]*?\\b(ft4j_\\w+)\\s*\\(([^)]*)\\)\\s*;").matcher(code);
    Map<String, List<Param>> out = new LinkedHashMap<>();
    while (m.find()) {
      List<Param> params = new ArrayList<>();
      String list = m.group(2).trim();
      if (!list.isEmpty() && !list.equals("void")) {
        for (String p : list.split(",")) {
          String t = p.trim();
          String name = t.replaceAll(".*?(\\w+)$", "$1");
          String type = t.substring(0, t.length() - name.length());
          String kind =
              type.contains("*")
                  ? "pointer"
                  : type.contains("size_t") ? "long" : type.contains("float") ? "float" : "int";
          params.add(new Param(kind, name));
        }
      }
      out.put(m.group(1), params);
    }
    return out;
  }

  /** The native declarations of Ft4jNative: name -> parameters. */
  static Map<String, List<Param>> java(String text) {
    String code = text.replaceAll("@\\w+(\\(\"[^\"]*\"\\))?", " "); // @Const, @Cast("size_t")
    Matcher m =
        Pattern.compile("public\\s+static\\s+native\\s+[^;(]*?\\b(ft4j_\\w+)\\s*\\(([^)]*)\\)\\s*;")
            .matcher(code);
    Map<String, List<Param>> out = new LinkedHashMap<>();
    while (m.find()) {
      List<Param> params = new ArrayList<>();
      String list = m.group(2).trim();
      if (!list.isEmpty()) {
        for (String p : list.split(",")) {
          String[] words = p.trim().split("\\s+");
          String type = words[0];
          String kind =
              switch (type) {
                case "int" -> "int";
                case "float" -> "float";
                case "long" -> "long";
                default -> "pointer"; // Pointer, IntPointer, int[], CUstream_st, ...
              };
          params.add(new Param(kind, words[words.length - 1]));
        }
      }
      out.put(m.group(1), params);
    }
    return out;
  }

  static String normalized(String name) {
    return name.replace("_", "").toLowerCase(Locale.ROOT);
  }

  @Test
  void everyDeclarationMatchesTheHeaderParameterByParameter() throws IOException {
    Map<String, List<Param>> c = header(Files.readString(HEADER));
    Map<String, List<Param>> j = java(Files.readString(JAVA));
    assertTrue(c.size() >= 25, "prototypes found in ft4j.h: " + c.keySet());
    assertTrue(j.size() >= 23, "declarations found in Ft4jNative: " + j.keySet());
    List<String> problems = new ArrayList<>();
    for (var e : j.entrySet()) {
      List<Param> cp = c.get(e.getKey());
      if (cp == null) {
        problems.add(e.getKey() + ": not in ft4j.h");
        continue;
      }
      List<Param> jp = e.getValue();
      if (cp.size() != jp.size()) {
        problems.add(e.getKey() + ": " + jp.size() + " parameters, ft4j.h has " + cp.size());
        continue;
      }
      for (int i = 0; i < cp.size(); i++) {
        Param a = cp.get(i);
        Param b = jp.get(i);
        if (!a.kind().equals(b.kind()) || !normalized(a.name()).equals(normalized(b.name()))) {
          problems.add(e.getKey() + " parameter " + (i + 1) + ": Java " + b + ", ft4j.h " + a);
        }
      }
    }
    // the functions the Java side does not declare must be the two string getters it reads
    // another way or none
    List<String> undeclared = new ArrayList<>(c.keySet());
    undeclared.removeAll(j.keySet());
    assertEquals(List.of(), problems, "Ft4jNative vs ft4j.h");
    assertEquals(List.of(), undeclared, "ft4j.h functions without a Java declaration");
  }

  @Test
  void theParsersSeeASwap() {
    String h = "FT4J_API int ft4j_x(int dtype, void* out, int m, int n, size_t bytes);";
    String good =
        "public static native int ft4j_x(int dtype, Pointer out, int m, int n, @Cast(\"size_t\")"
            + " long bytes);";
    String swapped = good.replace("int m, int n", "int n, int m");
    assertEquals(5, header(h).get("ft4j_x").size());
    assertEquals(header(h).get("ft4j_x"), java(good).get("ft4j_x"));
    assertTrue(!java(swapped).get("ft4j_x").equals(header(h).get("ft4j_x")));
  }
}
