package org.ft4j.gemm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The GEMM config file format: round trips, {@code with}, and every way a file is rejected. */
class GemmConfigFileTest {
  static final GemmEnvironment H100 =
      new GemmEnvironment("NVIDIA H100 80GB HBM3", 90, 13000, 130100L);

  /** The five header lines of H100 (lines 1 to 5). */
  static final String HEADER =
      "@format ft4j-gemm-config 1\n"
          + "@gpu NVIDIA H100 80GB HBM3\n"
          + "@sm 90\n"
          + "@cudart 13000\n"
          + "@cublaslt 130100\n";

  /** A valid data line. */
  static final String LINE =
      "32 128 qkv 4096 2304 768 1 T fp16 none 66 20 0 1 0 0 0 0 0 0 22.310 23.004";

  @TempDir Path tmp;

  static final List<GemmConfigEntry> ENTRIES =
      List.of(
          new GemmConfigEntry(
              32,
              128,
              "qkv",
              new GemmKey(4096, 2304, 768, 1, true, GemmType.FP32, Epilogue.NONE),
              new GemmAlgorithm(66, 20, 0, 1, 0, 0, 0, 0, 0),
              0,
              22.31,
              23.004),
          new GemmConfigEntry(
              8,
              512,
              "ffn1",
              new GemmKey(4096, 3072, 768, 1, false, GemmType.TF32, Epilogue.BIAS),
              new GemmAlgorithm(21, 18, 8, 4, 1, 1, 3, 0, 0),
              1 << 20,
              105.5,
              130.25),
          new GemmConfigEntry(
              8,
              128,
              "scores",
              new GemmKey(128, 128, 64, 96, true, GemmType.FP16, Epilogue.NONE),
              new GemmAlgorithm(31, 15, 12, 1, 0, 0, 0, 2, 5),
              4096,
              7.125,
              9.0),
          new GemmConfigEntry(
              8,
              128,
              "ffn1",
              new GemmKey(1024, 3072, 768, 1, true, GemmType.FP16, Epilogue.GELU_BIAS_TANH),
              new GemmAlgorithm(66, 24, 16, 2, 2, 1, 0, 0, 0),
              5_000_000_000L,
              12.0,
              12.5),
          new GemmConfigEntry(
              8,
              128,
              "context",
              new GemmKey(128, 64, 128, 96, false, GemmType.I8I32, Epilogue.NONE),
              new GemmAlgorithm(7, 3, 0, 1, 0, 0, 1, 0, 0),
              0,
              3.5,
              4.0),
          new GemmConfigEntry(
              0,
              0,
              "custom_op1",
              new GemmKey(4096, 768, 768, 1, true, GemmType.I8I8, Epilogue.NONE),
              new GemmAlgorithm(7, 3, 0, 1, 0, 0, 1, 0, 0),
              256,
              0.0,
              0.001));

  static GemmConfigEntry entry(String op, int m, int n, int k, GemmType type, int algoId) {
    return new GemmConfigEntry(
        32,
        128,
        op,
        new GemmKey(m, n, k, 1, true, type, Epilogue.NONE),
        new GemmAlgorithm(algoId, 20, 0, 1, 0, 0, 0, 0, 0),
        0,
        10.0,
        11.0);
  }

  /** {@code LINE} with field {@code index} (0-based) replaced. */
  static String lineWith(int index, String value) {
    String[] f = LINE.split(" ");
    f[index] = value;
    return String.join(" ", f);
  }

  static GemmConfigException rejected(String text) {
    return assertThrows(GemmConfigException.class, () -> GemmConfigFile.parse("test.in", text));
  }

  static void assertRejected(String text, int line, String... messageParts) {
    GemmConfigException e = rejected(text);
    assertEquals(line, e.line(), e.getMessage());
    assertEquals("test.in", e.source());
    if (line > 0) {
      assertTrue(e.getMessage().startsWith("test.in:" + line + ": "), e.getMessage());
    }
    for (String part : messageParts) {
      assertTrue(
          e.getMessage().contains(part),
          "message '" + e.getMessage() + "' should contain '" + part + "'");
    }
  }

  // ---------------------------------------------------------------- round trips

  @Test
  void formatThenParseGivesEqualEnvironmentAndEntries() {
    GemmConfigFile f = new GemmConfigFile(H100, ENTRIES);
    GemmConfigFile back = GemmConfigFile.parse("mem", f.format());
    assertEquals(H100, back.environment());
    assertEquals(ENTRIES, back.entries());
    assertEquals(ENTRIES.size(), back.size());
    for (GemmConfigEntry e : ENTRIES) {
      assertEquals(e, back.find(e.key()).orElseThrow());
    }
  }

  @Test
  void formatWritesTheHeaderThenOneLinePerEntryInOrder() {
    String text = new GemmConfigFile(H100, ENTRIES).format();
    assertTrue(text.endsWith("\n"));
    List<String> lines = List.of(text.split("\n"));
    List<String> nonComment =
        lines.stream().filter(l -> !l.startsWith("#")).collect(Collectors.toList());
    List<String> expected =
        Stream.concat(Stream.of(HEADER.split("\n")), ENTRIES.stream().map(GemmConfigEntry::format))
            .collect(Collectors.toList());
    assertEquals(expected, nonComment);
    assertTrue(lines.contains("# " + GemmConfigEntry.COLUMNS), text);
  }

  @Test
  void emptyFileRoundTrips() {
    GemmConfigFile back = GemmConfigFile.parse("mem", new GemmConfigFile(H100, List.of()).format());
    assertEquals(H100, back.environment());
    assertEquals(0, back.size());
    assertTrue(back.entries().isEmpty());
  }

  @Test
  void writeThenReadGivesEqualFile() throws IOException {
    Path file = tmp.resolve("sub/dir/gemm_config.in"); // parents are created
    new GemmConfigFile(H100, ENTRIES).write(file);
    GemmConfigFile back = GemmConfigFile.read(file);
    assertEquals(H100, back.environment());
    assertEquals(ENTRIES, back.entries());
    assertEquals(new GemmConfigFile(H100, ENTRIES).format(), Files.readString(file));
  }

  @Test
  void writeReplacesAnExistingFileAndLeavesNoTemporaryFile() throws IOException {
    Path file = tmp.resolve("gemm_config.in");
    Files.writeString(file, "old content that is much longer than nothing at all\n".repeat(100));
    GemmConfigFile one = new GemmConfigFile(H100, ENTRIES.subList(0, 1));
    one.write(file);
    assertEquals(one.format(), Files.readString(file));
    try (Stream<Path> s = Files.list(tmp)) {
      assertEquals(List.of(file), s.collect(Collectors.toList()));
    }
  }

  @Test
  void writtenFileIsWorldReadableOrKeepsThePermissionsOfTheFileItReplaces() throws IOException {
    org.junit.jupiter.api.Assumptions.assumeTrue(
        Files.getFileStore(tmp)
            .supportsFileAttributeView(java.nio.file.attribute.PosixFileAttributeView.class),
        "POSIX permissions not supported here");
    Path fresh = tmp.resolve("gemm_config.in");
    new GemmConfigFile(H100, ENTRIES).write(fresh);
    assertEquals(
        "rw-r--r--",
        java.nio.file.attribute.PosixFilePermissions.toString(
            Files.getPosixFilePermissions(fresh)));
    Path shared = tmp.resolve("igemm_config.in");
    Files.writeString(shared, "x\n");
    Files.setPosixFilePermissions(
        shared, java.nio.file.attribute.PosixFilePermissions.fromString("rw-rw-r--"));
    new GemmConfigFile(H100, ENTRIES).write(shared);
    assertEquals(
        "rw-rw-r--",
        java.nio.file.attribute.PosixFilePermissions.toString(
            Files.getPosixFilePermissions(shared)));
  }

  @Test
  void headerKeyMayBeFollowedByATab() {
    GemmConfigFile f = GemmConfigFile.parse("t", HEADER.replace("@sm 90", "@sm\t90") + LINE);
    assertEquals(90, f.environment().sm());
  }

  // ---------------------------------------------------------------- with(...)

  @Test
  void withAppendsNewKeysAndReplacesExistingKeysInPlace() {
    GemmConfigEntry a = entry("qkv", 4096, 2304, 768, GemmType.FP16, 1);
    GemmConfigEntry b = entry("attn_out", 4096, 768, 768, GemmType.FP16, 2);
    GemmConfigEntry c = entry("ffn1", 4096, 3072, 768, GemmType.FP16, 3);
    GemmConfigEntry bRetuned = entry("attn_out", 4096, 768, 768, GemmType.FP16, 42);
    GemmConfigEntry d = entry("ffn2", 4096, 768, 3072, GemmType.FP16, 4);
    assertEquals(b.key(), bRetuned.key());

    GemmConfigFile base = new GemmConfigFile(H100, List.of(a, b, c));
    GemmConfigFile next = base.with(List.of(d, bRetuned));

    assertEquals(List.of(a, bRetuned, c, d), next.entries());
    assertEquals(42, next.find(b.key()).orElseThrow().algorithm().id());
    assertSame(H100, next.environment());
    // the original is unchanged
    assertEquals(List.of(a, b, c), base.entries());
    assertEquals(2, base.find(b.key()).orElseThrow().algorithm().id());
  }

  @Test
  void constructorKeepsTheLastEntryForARepeatedKeyAtTheFirstPosition() {
    GemmConfigEntry a = entry("qkv", 4096, 2304, 768, GemmType.FP32, 1);
    GemmConfigEntry b = entry("attn_out", 4096, 768, 768, GemmType.FP32, 2);
    GemmConfigEntry a2 = entry("qkv", 4096, 2304, 768, GemmType.FP32, 9);
    GemmConfigFile f = new GemmConfigFile(H100, List.of(a, b, a2));
    assertEquals(List.of(a2, b), f.entries());
    assertThrows(UnsupportedOperationException.class, () -> f.entries().add(a));
    assertThrows(IllegalArgumentException.class, () -> new GemmConfigFile(null, List.of()));
  }

  @Test
  void sameDimensionsWithDifferentTypeOrEpilogueAreDifferentKeys() {
    GemmConfigEntry fp16 = entry("qkv", 4096, 2304, 768, GemmType.FP16, 1);
    GemmConfigEntry fp32 = entry("qkv", 4096, 2304, 768, GemmType.FP32, 2);
    GemmConfigEntry bias =
        new GemmConfigEntry(
            32,
            128,
            "qkv",
            new GemmKey(4096, 2304, 768, 1, true, GemmType.FP16, Epilogue.BIAS),
            fp16.algorithm(),
            0,
            1,
            1);
    String text =
        HEADER + fp16.format() + "\n" + fp32.format() + "\n" + bias.format() + "\n"; // no dupes
    assertEquals(List.of(fp16, fp32, bias), GemmConfigFile.parse("mem", text).entries());
  }

  // ---------------------------------------------------------------- tolerated input

  @Test
  void commentsBlankLinesAndExtraWhitespaceAreIgnored() {
    String text =
        "# leading comment\n"
            + "\n"
            + "   \t \n"
            + "@format ft4j-gemm-config 1\n"
            + "  # indented comment\n"
            + "@gpu   NVIDIA H100 80GB HBM3  \n"
            + "@sm 90\n"
            + "@cudart 13000\n"
            + "\n"
            + "@cublaslt 130100\n"
            + "# batch seq op ...\n"
            + "  "
            + LINE.replace(" ", " \t ")
            + "  \n"
            + "\n"
            + "#32 128 qkv this is not an entry\n";
    GemmConfigFile f = GemmConfigFile.parse("mem", text);
    assertEquals(H100, f.environment());
    assertEquals(1, f.size());
    assertEquals(LINE, f.entries().get(0).format());
  }

  @Test
  void crlfLineEndingsAreAccepted() {
    String text = new GemmConfigFile(H100, ENTRIES).format().replace("\n", "\r\n");
    GemmConfigFile f = GemmConfigFile.parse("mem", text);
    assertEquals(H100, f.environment());
    assertEquals(ENTRIES, f.entries());
  }

  @Test
  void crlfLineNumbersInErrorsAreStillRight() {
    String text = (HEADER + LINE + "\n" + lineWith(3, "x") + "\n").replace("\n", "\r\n");
    assertRejected(text, 7, "column 4 (m)");
  }

  @Test
  void fileWithoutTrailingNewlineIsAccepted() {
    assertEquals(1, GemmConfigFile.parse("mem", HEADER + LINE).size());
  }

  @Test
  void upperCaseTypeLabelIsAccepted() {
    GemmConfigFile f = GemmConfigFile.parse("mem", HEADER + lineWith(8, "FP16"));
    assertEquals(GemmType.FP16, f.entries().get(0).key().type());
  }

  // ---------------------------------------------------------------- rejected input

  @Test
  void wrongFieldCountIsRejected() {
    String shortLine = LINE.substring(0, LINE.lastIndexOf(' '));
    assertRejected(HEADER + shortLine + "\n", 6, "expected 22 fields", "found 21");
    assertRejected(HEADER + LINE + " 1\n", 6, "expected 22 fields", "found 23");
  }

  @Test
  void nonIntegerColumnIsRejectedNamingTheColumn() {
    assertRejected(HEADER + lineWith(3, "4k") + "\n", 6, "column 4 (m)", "'4k'", "an integer");
    assertRejected(HEADER + lineWith(0, "1.5") + "\n", 6, "column 1 (batch)", "'1.5'");
    assertRejected(HEADER + lineWith(6, "one") + "\n", 6, "column 7 (batch_count)", "'one'");
    assertRejected(HEADER + lineWith(13, "x") + "\n", 6, "column 14 (splitk)", "'x'");
    assertRejected(HEADER + lineWith(19, "1e3") + "\n", 6, "column 20 (workspace)", "'1e3'");
    assertRejected(HEADER + lineWith(20, "fast") + "\n", 6, "column 21 (time_us)", "a number");
    assertRejected(
        HEADER + LINE + "\n" + lineWith(4, "99999999999") + "\n",
        7,
        "column 5 (n)",
        "'99999999999'");
  }

  @Test
  void unknownTypeLabelIsRejected() {
    assertRejected(HEADER + lineWith(8, "bf16") + "\n", 6, "column 9 (type)", "'bf16'");
  }

  @Test
  void unknownEpilogueIsRejected() {
    assertRejected(HEADER + lineWith(9, "relu") + "\n", 6, "column 10 (epilogue)", "'relu'");
  }

  @Test
  void badBTransValueIsRejected() {
    assertRejected(HEADER + lineWith(7, "X") + "\n", 6, "column 8 (b_trans)", "'X'", "T or N");
    assertRejected(HEADER + lineWith(7, "t") + "\n", 6, "column 8 (b_trans)", "'t'");
  }

  @Test
  void negativeDimensionIsRejected() {
    assertRejected(HEADER + lineWith(4, "-2304") + "\n", 6, "must be >= 1", "N=-2304");
    assertRejected(HEADER + lineWith(6, "0") + "\n", 6, "batch_count=0");
    assertRejected(HEADER + lineWith(0, "-1") + "\n", 6, "batch -1");
  }

  @Test
  void splitKOneWithReductionIsRejected() {
    assertRejected(HEADER + lineWith(14, "2") + "\n", 6, "reduction scheme 2 without split-K");
  }

  @Test
  void otherInvalidValuesAreRejectedWithTheLineNumber() {
    assertRejected(HEADER + "\n" + lineWith(15, "2") + "\n", 7, "CTA swizzle = 2");
    assertRejected(HEADER + lineWith(2, "QKV") + "\n", 6, "op 'QKV'");
    assertRejected(HEADER + lineWith(20, "NaN") + "\n", 6, "time_us = NaN");
    assertRejected(HEADER + lineWith(8, "i8i32").replace(" none ", " bias ") + "\n", 6, "epilogue");
  }

  @Test
  void duplicateEntryIsRejectedNamingTheFirstLine() {
    String other = lineWith(10, "99"); // same GEMM, another algorithm
    String text = HEADER + LINE + "\n# again\n" + lineWith(4, "768") + "\n" + other + "\n";
    assertRejected(text, 9, "second entry for", "first on line 6");
  }

  @Test
  void headerAfterFirstEntryIsRejected() {
    assertRejected(HEADER + LINE + "\n\n@sm 90\n", 8, "header line '@sm 90' after the first entry");
  }

  @Test
  void unknownHeaderKeyIsRejected() {
    String text = "@format ft4j-gemm-config 1\n# c\n@device 0\n" + LINE + "\n";
    assertRejected(text, 3, "unknown header '@device'");
  }

  @Test
  void repeatedOrEmptyHeaderIsRejected() {
    assertRejected(HEADER + "@sm 80\n" + LINE + "\n", 6, "header '@sm' given twice");
    assertRejected("@format ft4j-gemm-config 1\n@gpu\n", 2, "header '@gpu' has no value");
  }

  @Test
  void missingHeaderIsRejectedAtTheFirstEntry() {
    String noCublasLt = HEADER.replace("@cublaslt 130100\n", "");
    assertRejected(
        noCublasLt + "# columns\n\n" + LINE + "\n",
        7,
        "header '@cublaslt' missing before the first entry");
    String noGpu = HEADER.replace("@gpu NVIDIA H100 80GB HBM3\n", "");
    assertRejected(noGpu + LINE + "\n", 5, "header '@gpu' missing");
  }

  @Test
  void missingHeaderInAFileWithoutEntriesIsRejectedWithoutALine() {
    assertRejected(HEADER.replace("@cudart 13000\n", ""), 0, "header '@cudart' missing");
  }

  @Test
  void wrongFormatIsRejected() {
    String text = HEADER.replace("ft4j-gemm-config 1", "ft4j-gemm-config 2") + LINE + "\n";
    assertRejected(text, 1, "format 'ft4j-gemm-config 2' is not 'ft4j-gemm-config 1'");
  }

  @Test
  void fasterTransformerFileIsRejectedAtItsFirstLine() {
    // FasterTransformer's own gemm_config.in has no header: its first data line is the error
    assertRejected("1 1 128 768 2304 0 23 1 0 0 0 0 0 0.0 1 0\n", 1, "header '@format' missing");
  }

  @Test
  void emptyFileIsRejected() {
    assertRejected("", 0, "header '@format' missing");
    assertRejected("# only a comment\n\n", 0, "header '@format' missing");
  }

  @Test
  void nonIntegerSmIsRejected() {
    // the environment is built (and checked) when the first entry is reached
    GemmConfigException e = rejected(HEADER.replace("@sm 90", "@sm ninety") + LINE + "\n");
    assertTrue(e.getMessage().contains("'@sm' value 'ninety'"), e.getMessage());
    assertTrue(e.getMessage().contains("not a non-negative integer"), e.getMessage());
    // reported on the header's own line, not at the first entry
    assertEquals(HEADER.lines().takeWhile(l -> !l.startsWith("@sm")).count() + 1, e.line());
    // also without any entry
    GemmConfigException noEntries = rejected(HEADER.replace("@cublaslt 130100", "@cublaslt 13.1"));
    assertTrue(noEntries.getMessage().contains("13.1"), noEntries.getMessage());
  }

  @Test
  void implausibleHeaderValueIsRejected() {
    GemmConfigException e = rejected(HEADER.replace("@sm 90", "@sm 9") + LINE + "\n");
    assertTrue(e.getMessage().contains("bad header"), e.getMessage());
    assertTrue(e.getMessage().contains("sm 9"), e.getMessage());
  }

  // ---------------------------------------------------------------- files

  @Test
  void readOfAMissingFileNamesThePath() {
    Path missing = tmp.resolve("nowhere/gemm_config.in");
    GemmConfigException e =
        assertThrows(GemmConfigException.class, () -> GemmConfigFile.read(missing));
    assertEquals(missing.toString(), e.source());
    assertEquals(0, e.line());
    assertTrue(e.getMessage().startsWith(missing + ": cannot read GEMM config"), e.getMessage());
  }

  @Test
  void readOfAMalformedFileNamesThePathAndLine() throws IOException {
    Path file = tmp.resolve("gemm_config.in");
    Files.write(file, (HEADER + lineWith(8, "bf16") + "\n").getBytes(StandardCharsets.UTF_8));
    GemmConfigException e =
        assertThrows(GemmConfigException.class, () -> GemmConfigFile.read(file));
    assertEquals(file.toString(), e.source());
    assertEquals(6, e.line());
    assertTrue(e.getMessage().startsWith(file + ":6: column 9 (type)"), e.getMessage());
  }

  @Test
  void fileNameDependsOnTheTypeKind() {
    assertEquals("gemm_config.in", GemmConfigFile.fileName(GemmType.FP32));
    assertEquals("gemm_config.in", GemmConfigFile.fileName(GemmType.TF32));
    assertEquals("gemm_config.in", GemmConfigFile.fileName(GemmType.FP16));
    assertEquals("igemm_config.in", GemmConfigFile.fileName(GemmType.I8I32));
    assertEquals("igemm_config.in", GemmConfigFile.fileName(GemmType.I8I8));
    assertFalse(
        Arrays.stream(GemmType.values())
            .anyMatch(t -> t.isInt8() != GemmConfigFile.fileName(t).startsWith("i")));
  }
}
