package org.ft4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;
import org.ft4j.cuda.CudaDevice;
import org.ft4j.encoder.EncoderConfig;
import org.ft4j.encoder.Precision;
import org.ft4j.gemm.Epilogue;
import org.ft4j.gemm.GemmAlgorithm;
import org.ft4j.gemm.GemmType;
import org.ft4j.gemm.OwnInt8Gemm;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/** encoder_gemm's arguments and the GEMM list it tunes (the tuning itself is a GPU test). */
class EncoderGemmCommandTest {
  private record Result(int exit, String out, String err) {}

  private static Result run(String... args) {
    CommandLine cl = Ft4jCli.newCommandLine();
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    cl.setOut(new PrintWriter(out));
    cl.setErr(new PrintWriter(err));
    int exit = cl.execute(args);
    return new Result(exit, out.toString(), err.toString());
  }

  @Test
  void badArgumentsAreUsageErrorsNamingTheArgument() {
    Result list = run("encoder_gemm", "1,x", "128", "12", "64", "1", "0");
    assertEquals(2, list.exit());
    assertTrue(list.err().contains("batch_size '1,x': 'x' is not an integer"), list.err());
    Result zero = run("encoder_gemm", "8", "0", "12", "64", "1", "0");
    assertEquals(2, zero.exit());
    assertTrue(zero.err().contains("seq_len = 0, must be >= 1"), zero.err());
    Result mode = run("encoder_gemm", "8", "128", "12", "64", "1", "3");
    assertEquals(2, mode.exit());
    assertTrue(mode.err().contains("int8_mode = 3"), mode.err());
    Result tf32 = run("encoder_gemm", "8", "128", "12", "64", "1", "0", "--allow-tf32");
    assertEquals(2, tf32.exit());
    assertTrue(tf32.err().contains("--allow-tf32 applies to FP32"), tf32.err());
    Result att = run("encoder_gemm", "8", "128", "12", "64", "1", "0", "--attention", "flash");
    assertEquals(2, att.exit());
    assertTrue(att.err().contains("--attention flash"), att.err());
    Result gelu = run("encoder_gemm", "8", "128", "12", "64", "1", "1", "--gelu-epilogue");
    assertEquals(2, gelu.exit());
    assertTrue(gelu.err().contains("--gelu-epilogue applies to FP32 and FP16"), gelu.err());
    Result few = run("encoder_gemm", "8", "128", "12");
    assertEquals(2, few.exit());
    assertTrue(few.err().contains("Missing required parameters"), few.err());
  }

  @Test
  void withoutAGpuItSaysSoAndFails() {
    Assumptions.assumeFalse(CudaDevice.isAvailable(), "this machine has a GPU");
    Result r = run("encoder_gemm", "8", "128", "12", "64", "1", "0");
    assertEquals(1, r.exit());
    assertTrue(r.err().contains("no usable CUDA device"), r.err());
  }

  @Test
  void fasterTransformersShapeTableTunesEachDistinctGemmOnce() {
    EncoderConfig bert = EncoderConfig.bertBase(Precision.FP16);
    List<Integer> batches = List.of(1, 8, 32);
    List<Integer> seqs = List.of(32, 128, 384);
    List<EncoderGemmCommand.Job> fused =
        EncoderGemmCommand.jobs(bert, batches, seqs, true, GemmType.FP16);
    // rows 32, 128, 384, 256, 1024 (8 x 128 and 32 x 32), 3072, 4096, 12288: 8 x 4 linear GEMMs
    assertEquals(32, fused.size());
    Set<String> ops = fused.stream().map(j -> j.gemm().op()).collect(Collectors.toSet());
    assertEquals(Set.of("qkv", "attn_out", "ffn1", "ffn2"), ops);
    EncoderGemmCommand.Job first1024 =
        fused.stream().filter(j -> j.gemm().shape().m() == 1024).findFirst().orElseThrow();
    assertEquals(8, first1024.batch());
    assertEquals(128, first1024.seq());
    // the unfused attention adds a scores and a context GEMM for each of the 9 (batch, seq)
    List<EncoderGemmCommand.Job> unfused =
        EncoderGemmCommand.jobs(bert, batches, seqs, false, GemmType.FP16);
    assertEquals(32 + 18, unfused.size());
    EncoderGemmCommand.Job scores =
        unfused.stream()
            .filter(j -> j.gemm().op().equals("scores") && j.batch() == 32 && j.seq() == 384)
            .findFirst()
            .orElseThrow();
    assertEquals(32 * 12, scores.gemm().shape().batch());
    assertEquals(384, scores.gemm().shape().n());
    assertEquals(64, scores.gemm().shape().k());
  }

  @Test
  void geluEpilogueTunesFfn1WithItsOwnKey() {
    EncoderConfig bert = EncoderConfig.bertBase(Precision.FP16);
    List<EncoderGemmCommand.Job> plain =
        EncoderGemmCommand.jobs(bert, List.of(8), List.of(128), true, GemmType.FP16);
    List<EncoderGemmCommand.Job> gelu =
        EncoderGemmCommand.jobs(bert, List.of(8), List.of(128), true, GemmType.FP16, true);
    assertEquals(plain.size(), gelu.size());
    for (int i = 0; i < gelu.size(); i++) {
      EncoderGemmCommand.Job j = gelu.get(i);
      assertEquals(plain.get(i).gemm().shape(), j.gemm().shape());
      Epilogue expected = j.gemm().op().equals("ffn1") ? Epilogue.GELU_BIAS_TANH : Epilogue.NONE;
      assertEquals(expected, j.gemm().epilogue(), j.gemm().op());
      assertEquals(Epilogue.NONE, plain.get(i).gemm().epilogue());
    }
  }

  @Test
  void ownGemmVariantsFitTheShape() {
    // BERT-base FFN2 at batch 1 x 128: K = 3072, 96 k-steps: every split count
    assertEquals(
        List.of(
            GemmAlgorithm.ft4jOwn(),
            GemmAlgorithm.ft4jOwn(1, 1),
            GemmAlgorithm.ft4jOwn(2, 1),
            GemmAlgorithm.ft4jOwn(3, 1),
            GemmAlgorithm.ft4jOwn(3, 2),
            GemmAlgorithm.ft4jOwn(3, 3),
            GemmAlgorithm.ft4jOwn(3, 4),
            GemmAlgorithm.ft4jOwn(3, 6),
            GemmAlgorithm.ft4jOwn(3, 8),
            // the warpgroup kernel: 24 k-steps of 128, up to 4 splits
            GemmAlgorithm.ft4jOwn(4, 1),
            GemmAlgorithm.ft4jOwn(4, 2),
            GemmAlgorithm.ft4jOwn(4, 3),
            GemmAlgorithm.ft4jOwn(4, 4),
            // and the one with two blocks per SM
            GemmAlgorithm.ft4jOwn(5, 1),
            GemmAlgorithm.ft4jOwn(5, 2),
            GemmAlgorithm.ft4jOwn(5, 3),
            GemmAlgorithm.ft4jOwn(5, 4)),
        OwnInt8Gemm.variants(128, 768, 3072));
    // K = 384: 12 k-steps, at least 4 per split: up to 3 splits; 3 warpgroup steps: no split
    assertEquals(
        List.of(
            GemmAlgorithm.ft4jOwn(),
            GemmAlgorithm.ft4jOwn(1, 1),
            GemmAlgorithm.ft4jOwn(2, 1),
            GemmAlgorithm.ft4jOwn(3, 1),
            GemmAlgorithm.ft4jOwn(3, 2),
            GemmAlgorithm.ft4jOwn(3, 3),
            GemmAlgorithm.ft4jOwn(4, 1),
            GemmAlgorithm.ft4jOwn(5, 1)),
        OwnInt8Gemm.variants(32, 384, 384));
    // K % 16 != 0: only the simple kernel (and the automatic choice, which picks it)
    assertEquals(
        List.of(GemmAlgorithm.ft4jOwn(), GemmAlgorithm.ft4jOwn(1, 1)),
        OwnInt8Gemm.variants(32, 384, 1001));
  }

  @Test
  void listsAreParsedAndDeduplicated() {
    assertEquals(List.of(1, 8, 32), EncoderGemmCommand.positiveList("batch_size", "1, 8,32,8"));
    assertThrows(
        IllegalArgumentException.class, () -> EncoderGemmCommand.positiveList("seq_len", "1,,2"));
  }
}
