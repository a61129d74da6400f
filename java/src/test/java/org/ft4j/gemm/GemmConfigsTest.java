package org.ft4j.gemm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.stream.Collectors;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Where GemmConfigs finds tuned entries (explicit path, working directory, shipped resource), what
 * it says about them, and what {@link GemmConfigs#save} writes back.
 */
class GemmConfigsTest {
  private static final GemmEnvironment H100 =
      new GemmEnvironment("NVIDIA H100 80GB HBM3", 90, 13000, 130100L);
  private static final GemmEnvironment A100 =
      new GemmEnvironment("NVIDIA A100-SXM4-80GB", 80, 13000, 130100L);

  private static final GemmConfigEntry A = entry("qkv", 4096, 2304, 768, GemmType.FP16, 1);
  private static final GemmConfigEntry B = entry("ffn1", 4096, 3072, 768, GemmType.FP16, 2);
  private static final GemmConfigEntry B_RETUNED = entry("ffn1", 4096, 3072, 768, GemmType.FP16, 9);
  private static final GemmConfigEntry N = entry("ffn2", 4096, 768, 3072, GemmType.FP16, 3);
  private static final GemmConfigEntry F32 = entry("qkv", 4096, 2304, 768, GemmType.FP32, 4);
  private static final GemmConfigEntry I32 = entry("qkv", 4096, 2304, 768, GemmType.I8I32, 5);
  private static final GemmConfigEntry I8 = entry("attn_out", 4096, 768, 768, GemmType.I8I8, 6);
  private static final GemmConfigEntry I8_NEW = entry("ffn2", 4096, 768, 3072, GemmType.I8I8, 7);

  /** A class loader that finds no shipped configs (not even ones on the test class path). */
  private static final ClassLoader NO_RESOURCES = new URLClassLoader(new URL[0], null);

  @TempDir Path tmp;
  private Path wd;

  @BeforeEach
  void setUp() throws IOException {
    wd = Files.createDirectories(tmp.resolve("wd"));
  }

  private static GemmConfigEntry entry(String op, int m, int n, int k, GemmType type, int algoId) {
    return new GemmConfigEntry(
        32,
        128,
        op,
        new GemmKey(m, n, k, 1, true, type, Epilogue.NONE),
        new GemmAlgorithm(algoId, 20, 0, 1, 0, 0, 0, 0, 0),
        0,
        10.0 + algoId,
        20.0);
  }

  private static void write(Path file, GemmEnvironment env, GemmConfigEntry... entries)
      throws IOException {
    new GemmConfigFile(env, List.of(entries)).write(file);
  }

  private GemmConfigs load(Path explicit) {
    return GemmConfigs.load(H100, explicit, wd, NO_RESOURCES);
  }

  private static List<String> matching(GemmConfigs c, String part) {
    return c.messages().stream().filter(m -> m.contains(part)).collect(Collectors.toList());
  }

  private static void assertContains(String text, String... parts) {
    for (String p : parts) {
      assertTrue(text.contains(p), "'" + text + "' should contain '" + p + "'");
    }
  }

  // ---------------------------------------------------------------- (a) working directory

  @Test
  void workingDirectoryFileWithMatchingHeaderIsUsed() throws IOException {
    write(wd.resolve("gemm_config.in"), H100, A, B);
    GemmConfigs c = load(null);

    assertEquals(Optional.of(A), c.find(A.key()));
    assertEquals(Optional.of(B), c.find(B.key()));
    assertEquals(2, c.size(GemmType.FP16));
    assertEquals(2, c.size(GemmType.FP32)); // one file for every float type
    assertEquals(0, c.size(GemmType.I8I8));
    assertTrue(c.describe(GemmType.FP16).contains("gemm_config.in (2 entries)"));
    assertEquals(List.of(), c.messages());
  }

  @Test
  void missingKeyIsEmptyAndReportedOnce() throws IOException {
    write(wd.resolve("gemm_config.in"), H100, A, B);
    GemmConfigs c = load(null);

    assertEquals(Optional.empty(), c.find(N.key()));
    assertEquals(Optional.empty(), c.find(N.key()));
    assertEquals(1, c.messages().size(), c.messages().toString());
    String m = c.messages().get(0);
    assertContains(
        m, "no tuned entry", N.key().toString(), wd.resolve("gemm_config.in").toString());

    // the same dimensions with another type are another GEMM, reported on their own
    assertEquals(Optional.empty(), c.find(F32.key()));
    assertEquals(2, matching(c, "no tuned entry").size());
    // a hit adds nothing
    assertEquals(Optional.of(A), c.find(A.key()));
    assertEquals(2, c.messages().size());
  }

  @Test
  void hasAsksWithoutSayingAnything() throws IOException {
    write(wd.resolve("gemm_config.in"), H100, A);
    GemmConfigs c = load(null);
    assertTrue(c.has(A.key()));
    assertFalse(c.has(N.key())); // about to be tuned: no "using cuBLASLt's heuristic" note
    assertFalse(c.has(I8.key())); // no igemm_config.in at all
    assertEquals(List.of(), c.messages());
  }

  @Test
  void missingKeyOfAKindWithoutConfigIsNotAWarning() throws IOException {
    write(wd.resolve("gemm_config.in"), H100, A);
    GemmConfigs c = load(null);
    assertEquals(Optional.empty(), c.find(I8.key())); // no igemm_config.in: heuristic, debug only
    assertEquals(List.of(), c.messages());
  }

  // ---------------------------------------------------------------- (b) version mismatch

  @Test
  void fileTunedWithAnotherCublasLtIsIgnored() throws IOException {
    assertMismatchIgnored(
        new GemmEnvironment("NVIDIA H100 80GB HBM3", 90, 13000, 120804L),
        "tuned with cuBLASLt 120804, this process runs cuBLASLt 130100");
  }

  @Test
  void fileTunedOnAnotherGpuIsIgnored() throws IOException {
    assertMismatchIgnored(A100, "tuned on 'NVIDIA A100-SXM4-80GB'");
  }

  @Test
  void fileTunedOnAnotherSmIsIgnored() throws IOException {
    assertMismatchIgnored(
        new GemmEnvironment("NVIDIA H100 80GB HBM3", 89, 13000, 130100L), "tuned on sm_89");
  }

  @Test
  void fileFromAnotherCudaRuntimeIsUsed() throws IOException {
    write(wd.resolve("gemm_config.in"), new GemmEnvironment(H100.gpu(), 90, 12080, 130100L), A);
    GemmConfigs c = load(null);
    assertEquals(Optional.of(A), c.find(A.key()));
    assertEquals(List.of(), c.messages());
  }

  private void assertMismatchIgnored(GemmEnvironment tunedIn, String reason) throws IOException {
    Path file = wd.resolve("gemm_config.in");
    write(file, tunedIn, A, B);
    GemmConfigs c = load(null);

    assertEquals(1, c.messages().size(), c.messages().toString());
    assertContains(c.messages().get(0), reason, file.toString(), "ignoring the 2 entries");
    assertEquals(Optional.empty(), c.find(A.key()));
    assertEquals(Optional.empty(), c.find(B.key()));
    assertEquals(0, c.size(GemmType.FP16));
    assertTrue(c.describe(GemmType.FP16).startsWith("cuBLASLt heuristics"));
    assertEquals(1, c.messages().size(), "lookups without a config add no warning");
  }

  // ---------------------------------------------------------------- (c) nothing anywhere

  @Test
  void noFileAnywhereMeansHeuristicsAndOneNote() {
    GemmConfigs c = load(null);
    assertEquals(Optional.empty(), c.find(A.key()));
    assertEquals(Optional.empty(), c.find(I8.key()));
    assertEquals(1, c.messages().size(), c.messages().toString());
    assertContains(
        c.messages().get(0),
        "cuBLASLt heuristics",
        "encoder_gemm",
        "NVIDIA H100 80GB HBM3",
        "gemm-configs/nvidia-h100-80gb-hbm3/");
    assertEquals(0, c.size(GemmType.FP32));
  }

  // ---------------------------------------------------------------- (d) explicit path

  @Test
  void explicitFileBeatsWorkingDirectoryFile() throws IOException {
    write(wd.resolve("gemm_config.in"), H100, B);
    Path explicit = tmp.resolve("tuned/my.cfg");
    write(explicit, H100, A, I32); // one file may hold every type
    GemmConfigs c = load(explicit);

    assertEquals(Optional.of(A), c.find(A.key()));
    assertEquals(Optional.of(I32), c.find(I32.key()));
    assertEquals(Optional.empty(), c.find(B.key()));
    assertContains(matching(c, "no tuned entry").get(0), explicit.toString());

    // save goes to the explicit file, the working directory's is untouched
    String wdBefore = Files.readString(wd.resolve("gemm_config.in"));
    assertEquals(List.of(explicit), c.save(List.of(N, I8_NEW)));
    assertEquals(List.of(A, I32, N, I8_NEW), GemmConfigFile.read(explicit).entries());
    assertEquals(wdBefore, Files.readString(wd.resolve("gemm_config.in")));
  }

  @Test
  void explicitFolderReadsBothFilesInIt() throws IOException {
    write(wd.resolve("gemm_config.in"), H100, B);
    Path dir = Files.createDirectories(tmp.resolve("configs"));
    write(dir.resolve("gemm_config.in"), H100, A);
    write(dir.resolve("igemm_config.in"), H100, I8);
    GemmConfigs c = load(dir);

    assertEquals(Optional.of(A), c.find(A.key()));
    assertEquals(Optional.of(I8), c.find(I8.key()));
    assertEquals(Optional.empty(), c.find(B.key()));
    assertEquals(1, c.size(GemmType.FP16));
    assertEquals(1, c.size(GemmType.I8I32));

    assertEquals(List.of(dir.resolve("igemm_config.in")), c.save(List.of(I8_NEW)));
    assertEquals(
        List.of(I8, I8_NEW), GemmConfigFile.read(dir.resolve("igemm_config.in")).entries());
    assertFalse(Files.exists(wd.resolve("igemm_config.in")));
  }

  @Test
  void explicitPathThatDoesNotExistIsSaidAndWrittenBySave() throws IOException {
    write(wd.resolve("gemm_config.in"), H100, B); // not used: the explicit path wins
    Path explicit = tmp.resolve("new/tuned.cfg");
    GemmConfigs c = load(explicit);

    assertEquals(1, c.messages().size(), c.messages().toString());
    assertContains(c.messages().get(0), explicit.toString(), "does not exist");
    assertEquals(Optional.empty(), c.find(B.key()));
    assertFalse(Files.exists(explicit));

    assertEquals(List.of(explicit), c.save(List.of(A, I8)));
    GemmConfigFile written = GemmConfigFile.read(explicit);
    assertEquals(H100, written.environment());
    assertEquals(List.of(A, I8), written.entries());
    assertEquals(Optional.of(A), c.find(A.key())); // in use in this process too
    assertEquals(Optional.of(I8), c.find(I8.key()));
  }

  // ---------------------------------------------------------------- (e) shipped resource

  private Path shipped(GemmEnvironment env, String fileName, GemmConfigEntry... entries)
      throws IOException {
    Path root = tmp.resolve("classpath");
    write(root.resolve("gemm-configs/" + H100.gpuSlug() + "/" + fileName), env, entries);
    return root;
  }

  @Test
  void shippedResourceIsUsedAndSaveCopiesItIntoTheWorkingDirectory() throws IOException {
    assertEquals("nvidia-h100-80gb-hbm3", H100.gpuSlug());
    Path root = shipped(H100, "gemm_config.in", A, B);
    Path resource = root.resolve("gemm-configs/nvidia-h100-80gb-hbm3/gemm_config.in");
    String resourceBefore = Files.readString(resource);
    try (URLClassLoader loader = new URLClassLoader(new URL[] {root.toUri().toURL()}, null)) {
      GemmConfigs c = GemmConfigs.load(H100, null, wd, loader);
      assertEquals(Optional.of(A), c.find(A.key()));
      assertEquals(Optional.of(B), c.find(B.key()));
      assertEquals(2, c.size(GemmType.FP16));
      assertEquals(List.of(), matching(c, "cuBLASLt heuristics for every GEMM"));

      Path local = wd.resolve("gemm_config.in");
      assertEquals(List.of(local), c.save(List.of(N)));
      GemmConfigFile written = GemmConfigFile.read(local);
      assertEquals(H100, written.environment());
      assertEquals(List.of(A, B, N), written.entries());
      assertFalse(Files.exists(wd.resolve("gemm_config.in.bak")));
      assertEquals(resourceBefore, Files.readString(resource));
    }
  }

  @Test
  void shippedEntriesAreDescribedAsShippedNotAsTheMissingWorkingDirectoryFile() throws IOException {
    Path root = shipped(H100, "gemm_config.in", A);
    try (URLClassLoader loader = new URLClassLoader(new URL[] {root.toUri().toURL()}, null)) {
      GemmConfigs c = GemmConfigs.load(H100, null, wd, loader);
      assertContains(c.describe(GemmType.FP16), "shipped gemm-configs/", "(1 entries)");
      assertEquals(Optional.empty(), c.find(B.key()));
      List<String> missing = matching(c, "no tuned entry for GEMM");
      assertEquals(1, missing.size(), c.messages().toString());
      assertContains(missing.get(0), "shipped gemm-configs/nvidia-h100-80gb-hbm3/gemm_config.in");
      assertFalse(missing.get(0).contains(wd.toString()), missing.get(0));
      // after a save the entries live in the working directory's file
      c.save(List.of(N));
      assertContains(c.describe(GemmType.FP16), wd.resolve("gemm_config.in").toString());
    }
  }

  @Test
  void missingExplicitFileStartsFromBothShippedConfigsAndKeepsThemWhenSaving() throws IOException {
    Path root = shipped(H100, "gemm_config.in", A);
    write(root.resolve("gemm-configs/" + H100.gpuSlug() + "/igemm_config.in"), H100, I8);
    Path explicit = tmp.resolve("new/tuned.cfg");
    try (URLClassLoader loader = new URLClassLoader(new URL[] {root.toUri().toURL()}, null)) {
      GemmConfigs c = GemmConfigs.load(H100, explicit, wd, loader);
      assertEquals(Optional.of(A), c.find(A.key()));
      assertEquals(Optional.of(I8), c.find(I8.key()));
      List<String> said = matching(c, "does not exist");
      assertEquals(1, said.size(), c.messages().toString());
      assertContains(said.get(0), "gemm_config.in", "igemm_config.in", "written there");

      assertEquals(List.of(explicit), c.save(List.of(N)));
      assertEquals(List.of(A, I8, N), GemmConfigFile.read(explicit).entries());
    }
  }

  @Test
  void missingExplicitPathWithoutExtensionIsAFolderForBothFiles() throws IOException {
    Path dir = tmp.resolve("tuned-configs");
    GemmConfigs c = load(dir);
    assertEquals(2, matching(c, "does not exist").size(), c.messages().toString());
    List<Path> written = c.save(List.of(A, I8));
    assertEquals(List.of(dir.resolve("gemm_config.in"), dir.resolve("igemm_config.in")), written);
    assertEquals(List.of(A), GemmConfigFile.read(dir.resolve("gemm_config.in")).entries());
    assertEquals(List.of(I8), GemmConfigFile.read(dir.resolve("igemm_config.in")).entries());
  }

  @Test
  void workingDirectoryFileBeatsShippedResource() throws IOException {
    Path root = shipped(H100, "gemm_config.in", A);
    write(wd.resolve("gemm_config.in"), H100, B);
    try (URLClassLoader loader = new URLClassLoader(new URL[] {root.toUri().toURL()}, null)) {
      GemmConfigs c = GemmConfigs.load(H100, null, wd, loader);
      assertEquals(Optional.of(B), c.find(B.key()));
      assertEquals(Optional.empty(), c.find(A.key()));
    }
  }

  @Test
  void shippedResourceFromAnotherCublasLtIsIgnored() throws IOException {
    Path root = shipped(new GemmEnvironment(H100.gpu(), 90, 13000, 120000L), "gemm_config.in", A);
    try (URLClassLoader loader = new URLClassLoader(new URL[] {root.toUri().toURL()}, null)) {
      GemmConfigs c = GemmConfigs.load(H100, null, wd, loader);
      assertEquals(Optional.empty(), c.find(A.key()));
      assertEquals(1, matching(c, "tuned with cuBLASLt 120000").size(), c.messages().toString());

      Path local = wd.resolve("gemm_config.in");
      assertEquals(List.of(local), c.save(List.of(N)));
      assertEquals(List.of(N), GemmConfigFile.read(local).entries());
      assertFalse(Files.exists(wd.resolve("gemm_config.in.bak")));
    }
  }

  @Test
  void shippedInt8ResourceIsUsedForInt8Gemms() throws IOException {
    Path root = shipped(H100, "igemm_config.in", I8);
    try (URLClassLoader loader = new URLClassLoader(new URL[] {root.toUri().toURL()}, null)) {
      GemmConfigs c = GemmConfigs.load(H100, null, wd, loader);
      assertEquals(Optional.of(I8), c.find(I8.key()));
      assertEquals(Optional.empty(), c.find(A.key()));
      assertEquals(List.of(wd.resolve("igemm_config.in")), c.save(List.of(I8_NEW)));
      assertEquals(
          List.of(I8, I8_NEW), GemmConfigFile.read(wd.resolve("igemm_config.in")).entries());
    }
  }

  // ---------------------------------------------------------------- (f) corrupt file

  @Test
  void corruptWorkingDirectoryFileIsIgnoredAndNeverOverwritten() throws IOException {
    Path file = wd.resolve("gemm_config.in");
    String text =
        new GemmConfigFile(H100, List.of(A)).format()
            + "32 128 ffn1 4096 3072 768 1 T bf16 none 2 20 0 1 0 0 0 0 0 0 12.000 20.000\n";
    Files.writeString(file, text);
    int badLine = (int) text.lines().count();

    GemmConfigs c = assertDoesNotThrow(() -> load(null));
    assertEquals(1, c.messages().size(), c.messages().toString());
    assertContains(c.messages().get(0), file + ":" + badLine + ":", "column 9 (type)");
    assertEquals(Optional.empty(), c.find(A.key()), "the whole file is ignored");

    byte[] before = Files.readAllBytes(file);
    GemmConfigException e = assertThrows(GemmConfigException.class, () -> c.save(List.of(N)));
    assertEquals(file.toString(), e.source());
    assertContains(e.getMessage(), "not overwriting");
    assertArrayEquals(before, Files.readAllBytes(file));
    assertFalse(Files.exists(wd.resolve("gemm_config.in.bak")));
    assertEquals(Optional.of(N), c.find(N.key()), "tuned entries stay in use in this process");
  }

  @Test
  void corruptFloatFileDoesNotStopSavingInt8Entries() throws IOException {
    Path file = wd.resolve("gemm_config.in");
    Files.writeString(file, "not a GEMM config\n");
    GemmConfigs c = load(null);
    assertContains(c.messages().get(0), file + ":1:", "header '@format' missing");

    byte[] before = Files.readAllBytes(file);
    assertThrows(GemmConfigException.class, () -> c.save(List.of(N, I8)));
    assertArrayEquals(before, Files.readAllBytes(file));
    assertEquals(List.of(I8), GemmConfigFile.read(wd.resolve("igemm_config.in")).entries());
  }

  // ---------------------------------------------------------------- (g) foreign file

  @Test
  void fileFromAnotherGpuIsBackedUpBeforeSaving() throws IOException {
    Path file = wd.resolve("gemm_config.in");
    write(file, A100, A, B);
    String foreign = Files.readString(file);
    GemmConfigs c = load(null);
    assertEquals(1, matching(c, "tuned on 'NVIDIA A100-SXM4-80GB'").size());

    assertEquals(List.of(file), c.save(List.of(N)));
    Path bak = wd.resolve("gemm_config.in.bak");
    assertEquals(foreign, Files.readString(bak));
    GemmConfigFile written = GemmConfigFile.read(file);
    assertEquals(H100, written.environment());
    assertEquals(List.of(N), written.entries());
    assertEquals(1, matching(c, "moved GEMM config").size(), c.messages().toString());
    assertContains(matching(c, "moved GEMM config").get(0), bak.toString());

    // a second save appends to the new file and leaves the backup alone
    assertEquals(List.of(file), c.save(List.of(B_RETUNED)));
    assertEquals(List.of(N, B_RETUNED), GemmConfigFile.read(file).entries());
    assertEquals(foreign, Files.readString(bak));
  }

  // ---------------------------------------------------------------- (h) INT8 vs float files

  @Test
  void int8EntriesComeFromIgemmConfigAndFloatOnesFromGemmConfig() throws IOException {
    Path floatFile = wd.resolve("gemm_config.in");
    Path int8File = wd.resolve("igemm_config.in");
    write(floatFile, H100, A, I32); // an INT8 entry in the float file is not looked at
    write(int8File, H100, I8, F32); // nor a float entry in the INT8 file
    GemmConfigs c = load(null);

    assertEquals(Optional.of(A), c.find(A.key()));
    assertEquals(Optional.of(I8), c.find(I8.key()));
    assertEquals(Optional.empty(), c.find(I32.key()));
    assertEquals(Optional.empty(), c.find(F32.key()));
    assertContains(matching(c, I32.key().toString()).get(0), int8File.toString());
    assertContains(matching(c, F32.key().toString()).get(0), floatFile.toString());
  }

  @Test
  void saveOfAnInt8EntryWritesIgemmConfig() throws IOException {
    Path floatFile = wd.resolve("gemm_config.in");
    write(floatFile, H100, A);
    String floatBefore = Files.readString(floatFile);
    GemmConfigs c = load(null);

    Path int8File = wd.resolve("igemm_config.in");
    assertEquals(List.of(int8File), c.save(List.of(I8)));
    assertEquals(List.of(I8), GemmConfigFile.read(int8File).entries());
    assertEquals(floatBefore, Files.readString(floatFile));
    assertEquals(Optional.of(I8), c.find(I8.key()));
  }

  @Test
  void saveOfMixedEntriesWritesBothFiles() throws IOException {
    GemmConfigs c = load(null);
    List<Path> written = c.save(List.of(A, I8, N, I32));
    assertEquals(2, written.size());
    assertTrue(written.contains(wd.resolve("gemm_config.in")), written.toString());
    assertTrue(written.contains(wd.resolve("igemm_config.in")), written.toString());
    assertEquals(List.of(A, N), GemmConfigFile.read(wd.resolve("gemm_config.in")).entries());
    assertEquals(List.of(I8, I32), GemmConfigFile.read(wd.resolve("igemm_config.in")).entries());
  }

  // ---------------------------------------------------------------- (i) save keeps and replaces

  @Test
  void saveKeepsExistingEntriesAndReplacesRetunedOnes() throws IOException {
    Path file = wd.resolve("gemm_config.in");
    write(file, H100, A, B);
    GemmConfigs c = load(null);

    assertEquals(List.of(file), c.save(List.of(B_RETUNED, N)));
    GemmConfigFile written = GemmConfigFile.read(file);
    assertEquals(H100, written.environment());
    assertEquals(List.of(A, B_RETUNED, N), written.entries());
    assertEquals(9, written.find(B.key()).orElseThrow().algorithm().id());
    assertEquals(Optional.of(B_RETUNED), c.find(B.key()));

    // a fresh process sees the same
    GemmConfigs again = load(null);
    assertEquals(Optional.of(B_RETUNED), again.find(B.key()));
    assertEquals(Optional.of(N), again.find(N.key()));
    assertEquals(3, again.size(GemmType.FP16));
  }

  @Test
  void heuristicOnlyReadsAndWritesNothing() throws IOException {
    write(wd.resolve("gemm_config.in"), H100, A);
    GemmConfigs c = GemmConfigs.heuristicOnly(H100);
    assertEquals(Optional.empty(), c.find(A.key()));
    assertEquals(List.of(), c.save(List.of(N)));
    assertEquals(Optional.of(N), c.find(N.key()));
    assertEquals(List.of(A), GemmConfigFile.read(wd.resolve("gemm_config.in")).entries());
  }

  @Test
  void loadRejectsNullArguments() {
    assertThrows(IllegalArgumentException.class, () -> GemmConfigs.load(null, null, wd));
    assertThrows(IllegalArgumentException.class, () -> GemmConfigs.load(H100, null, null));
  }

  @Test
  void messagesAreACopy() {
    GemmConfigs c = load(null);
    List<String> m = c.messages();
    assertThrows(UnsupportedOperationException.class, () -> m.add("x"));
  }
}
