package org.ft4j.encoder;

import static org.ft4j.testing.GpuTesting.assertClose;
import static org.ft4j.testing.GpuTesting.random;
import static org.ft4j.testing.GpuTesting.randomLengths;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.ft4j.cuda.CudaDevice;
import org.ft4j.gemm.Epilogue;
import org.ft4j.gemm.GemmAlgorithm;
import org.ft4j.gemm.GemmConfigEntry;
import org.ft4j.gemm.GemmConfigFile;
import org.ft4j.gemm.GemmEnvironment;
import org.ft4j.gemm.GemmKey;
import org.ft4j.gemm.GemmType;
import org.ft4j.quant.ScaleSet;
import org.ft4j.testing.GpuTesting;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The encoder with GEMM configs: allow_gemm_test tunes on first use and writes the file, a later
 * encoder loads it, and a config whose algorithm cuBLASLt rejects still runs (heuristic) — each
 * output equal to the heuristic encoder's within FP16 tolerance.
 */
@Tag(GpuTesting.GPU)
class TunedGemmEncoderGpuTest {
  private static final int BATCH = 3;
  private static final int SEQ = 45;
  private static EncoderConfig config;
  private static EncoderWeights weights;
  private static float[] input;
  private static int[] lengths;

  @BeforeAll
  static void setUp() {
    GpuTesting.assumeCudaDevice();
    config = EncoderConfig.of(2, 4, 64, Precision.FP16);
    weights = EncoderWeights.random(config, 4242);
    input = random(BATCH * SEQ * config.hidden(), 4243, -1, 1);
    lengths = randomLengths(BATCH, SEQ, 4244);
  }

  private static float[] run(BertEncoder.Options options) {
    try (BertEncoder e = BertEncoder.create(weights, options)) {
      return e.forward(input, lengths, BATCH, SEQ);
    }
  }

  @Test
  void tuneOnFirstUseWritesTheConfigAndALaterEncoderUsesIt(@TempDir Path dir) throws Exception {
    Path empty = Files.createDirectory(dir.resolve("empty"));
    Path tunedDir = Files.createDirectory(dir.resolve("tuned"));
    float[] heuristic = run(BertEncoder.Options.defaults().withGemmConfig(empty));

    float[] tuning =
        run(BertEncoder.Options.defaults().withGemmConfig(tunedDir).withTuneGemms(true));
    Path file = tunedDir.resolve(GemmConfigFile.FLOAT_FILE);
    assertTrue(Files.exists(file), "allow_gemm_test wrote no " + file);
    GemmConfigFile written = GemmConfigFile.read(file);
    List<String> ops = written.entries().stream().map(GemmConfigEntry::op).toList();
    assertEquals(List.of("qkv", "attn_out", "ffn1", "ffn2"), ops); // fused attention at FP16
    assertTrue(written.entries().stream().allMatch(e -> e.batch() == BATCH && e.seq() == SEQ));
    assertClose(heuristic, tuning, 2e-3, "encoder while tuning vs heuristic");

    try (BertEncoder later =
        BertEncoder.create(weights, BertEncoder.Options.defaults().withGemmConfig(tunedDir))) {
      float[] out = later.forward(input, lengths, BATCH, SEQ);
      assertTrue(later.gemmConfigSource().contains("4 entries"), later.gemmConfigSource());
      assertClose(heuristic, out, 2e-3, "encoder on the tuned config vs heuristic");
    }
  }

  /**
   * allow_gemm_test in the INT8 modes: the four linear GEMMs are tuned with ft4j's own INT8 GEMM
   * racing cuBLASLt and appended to igemm_config.in (i8i32 lines for mode 1; i8i8 lines naming an
   * own variant for mode 2), and the encoder's output stays that of the untuned encoder.
   */
  @ParameterizedTest
  @EnumSource(
      value = Precision.class,
      names = {"INT8_MODE_1", "INT8_MODE_2"})
  void int8TuningRacesTheOwnGemmAndAppendsIgemmConfig(Precision mode, @TempDir Path dir)
      throws Exception {
    EncoderWeights w = EncoderWeights.random(EncoderConfig.of(2, 4, 64, mode), 4245);
    ScaleSet scales = Int8EncoderGpuTest.calibrate(w, 3, 24);
    // 4 x 44 = 176 GEMM rows: multiples of 4 everywhere, which cuBLASLt's int8 kernels may need
    int batch = 4;
    int seq = 44;
    float[] x = random(batch * seq * w.config().hidden(), 4246, -1, 1);
    int[] lens = randomLengths(batch, seq, 4247);
    Path empty = Files.createDirectory(dir.resolve("empty"));
    Path tunedDir = Files.createDirectory(dir.resolve("tuned"));
    float[] untuned;
    try (BertEncoder e =
        BertEncoder.create(w, scales, BertEncoder.Options.defaults().withGemmConfig(empty))) {
      untuned = e.forward(x, lens, batch, seq);
    }
    float[] tuning;
    try (BertEncoder e =
        BertEncoder.create(
            w,
            scales,
            BertEncoder.Options.defaults().withGemmConfig(tunedDir).withTuneGemms(true))) {
      tuning = e.forward(x, lens, batch, seq);
    }
    Path file = tunedDir.resolve(GemmConfigFile.INT8_FILE);
    assertTrue(Files.exists(file), "allow_gemm_test wrote no " + file);
    List<GemmConfigEntry> written = GemmConfigFile.read(file).entries();
    assertEquals(
        List.of("qkv", "attn_out", "ffn1", "ffn2"),
        written.stream().map(GemmConfigEntry::op).toList());
    GemmType type = mode == Precision.INT8_MODE_2 ? GemmType.I8I8 : GemmType.I8I32;
    for (GemmConfigEntry e : written) {
      assertEquals(type, e.key().type(), e::toString);
      if (type == GemmType.I8I8) {
        assertTrue(e.algorithm().isFt4jOwn(), "mode 2 runs only ft4j's GEMM: " + e);
      }
    }
    assertClose(untuned, tuning, 2e-3, mode + " encoder while tuning vs untuned");
  }

  @Test
  void anAlgorithmCublasRejectsFallsBackToTheHeuristic(@TempDir Path dir) throws Exception {
    float[] heuristic = run(BertEncoder.Options.defaults().withGemmConfig(dir));
    GemmEnvironment env = GemmEnvironment.of(CudaDevice.open(0));
    int rows = BATCH * SEQ;
    GemmKey qkv =
        new GemmKey(
            rows, 3 * config.hidden(), config.hidden(), 1, true, GemmType.FP16, Epilogue.NONE);
    GemmConfigEntry bogus =
        new GemmConfigEntry(
            BATCH, SEQ, "qkv", qkv, new GemmAlgorithm(100000, 0, 0, 1, 0, 0, 0, 0, 0), 0, 1, 1);
    Path file = dir.resolve("bogus.in");
    new GemmConfigFile(env, List.of(bogus)).write(file);
    float[] out = run(BertEncoder.Options.defaults().withGemmConfig(file));
    assertClose(heuristic, out, 1e-6, "rejected tuned algorithm -> heuristic");
  }

  @Test
  void aCorruptConfigIsIgnoredAndTheEncoderRuns(@TempDir Path dir) throws Exception {
    float[] heuristic = run(BertEncoder.Options.defaults().withGemmConfig(dir));
    Path file = dir.resolve("corrupt.in");
    Files.writeString(file, "@format ft4j-gemm-config 1\nthis is not a config\n");
    float[] out = run(BertEncoder.Options.defaults().withGemmConfig(file));
    assertClose(heuristic, out, 1e-6, "corrupt config -> heuristic");
  }
}
