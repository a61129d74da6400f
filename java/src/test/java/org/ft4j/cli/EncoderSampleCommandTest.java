package org.ft4j.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import org.ft4j.cuda.CudaDevice;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

class EncoderSampleCommandTest {
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
  void cpuBackendRunsAndPrintsFasterTransformersResultLine() {
    Result r =
        run("encoder_sample", "2", "1", "5", "2", "8", "0", "0", "0", "0", "--backend", "cpu");
    assertEquals(0, r.exit(), r.err());
    assertTrue(
        r.out()
            .contains(
                "[INFO] config batch_size 2 seq_len 5 layers 1 heads 2 size_per_head 8 hidden 16"),
        r.out());
    assertTrue(
        r.out()
            .matches(
                "(?s).*\\[INFO\\] batch_size 2 seq_len 5 layer 1 ft4j-cpu-time \\d+\\.\\d\\d ms \\(1 iterations\\).*"),
        r.out());
  }

  @Test
  void removePaddingUsesSeededUniformLengths() {
    Result pad =
        run("encoder-sample", "3", "1", "8", "2", "8", "0", "1", "0", "0", "--backend", "cpu");
    assertEquals(0, pad.exit(), pad.err());
    assertTrue(pad.out().contains("remove_padding 1"), pad.out());
    int[] a = EncoderSampleCommand.sequenceLengths(1000, 128, true, 1234);
    assertArrayEquals(a, EncoderSampleCommand.sequenceLengths(1000, 128, true, 1234));
    double mean = java.util.Arrays.stream(a).average().orElse(0);
    assertTrue(Math.abs(mean - 64.5) < 4, "mean length " + mean);
    assertTrue(java.util.Arrays.stream(a).allMatch(l -> l >= 1 && l <= 128));
    int[] full = EncoderSampleCommand.sequenceLengths(3, 128, false, 1234);
    assertArrayEquals(new int[] {128, 128, 128}, full);
  }

  @Test
  void missingOrMalformedArgumentsAreUsageErrors() {
    Result few = run("encoder-sample", "1", "12", "128");
    assertEquals(2, few.exit());
    assertTrue(few.err().contains("Missing required parameters"), few.err());
    Result notNumber = run("encoder-sample", "x", "12", "128", "12", "64", "1", "0", "0", "0");
    assertEquals(2, notNumber.exit());
    assertTrue(notNumber.err().contains("batch_size"), notNumber.err());
  }

  @Test
  void optionsThatDoNotApplyAreRejectedByName() {
    Result scalesWithoutInt8 =
        run("encoder-sample", "1", "1", "8", "2", "8", "1", "0", "0", "0", "--int8-scales", "x");
    assertTrue(
        scalesWithoutInt8.err().contains("--int8-scales applies to int8_mode 1 and 2 only"),
        scalesWithoutInt8.err());
    Result tune =
        run("encoder-sample", "1", "1", "8", "2", "8", "1", "0", "0", "1", "--backend", "cpu");
    assertEquals(0, tune.exit(), tune.err());
    assertTrue(tune.err().contains("apply to the GPU backend only"), tune.err());
    Result gemmTest = run("encoder-sample", "1", "1", "8", "2", "8", "1", "0", "0", "2");
    assertEquals(2, gemmTest.exit());
    assertTrue(gemmTest.err().contains("allow_gemm_test = 2"), gemmTest.err());
    Result fp16 = run("encoder-sample", "1", "1", "8", "2", "8", "3", "0", "0", "0");
    assertEquals(2, fp16.exit());
    assertTrue(fp16.err().contains("is_use_fp16 = 3"), fp16.err());
    Result layers = run("encoder-sample", "1", "0", "8", "2", "8", "1", "0", "0", "0");
    assertTrue(layers.err().contains("num_layers = 0"), layers.err());
    Result backend =
        run("encoder-sample", "1", "1", "8", "2", "8", "1", "0", "0", "0", "--backend", "tpu");
    assertTrue(backend.err().contains("--backend tpu"), backend.err());
    Result geluInt8 =
        run(
            "encoder-sample",
            "1",
            "1",
            "8",
            "2",
            "8",
            "1",
            "0",
            "1",
            "0",
            "--gelu-epilogue",
            "--backend",
            "cpu");
    assertEquals(2, geluInt8.exit());
    assertTrue(geluInt8.err().contains("--gelu-epilogue applies to FP32 and FP16"), geluInt8.err());
  }

  @Test
  void geluEpilogueRunsTheTanhReferenceOnTheCpu() {
    String[] args = {
      "encoder_sample",
      "2",
      "1",
      "5",
      "2",
      "8",
      "0",
      "0",
      "0",
      "0",
      "--backend",
      "reference",
      "--gelu-epilogue"
    };
    Result r = run(args);
    assertEquals(0, r.exit(), r.err());
    assertTrue(r.out().contains("ft4j-cpu-time"), r.out());
    assertTrue(r.out().contains("float64 reference encoder"), r.out());
    args[11] = "cpu"; // the float32 encoder has the exact GELU only
    r = run(args);
    assertEquals(2, r.exit(), r.out());
    assertTrue(
        r.err().contains("--gelu-epilogue applies to the gpu and reference backends"), r.err());
    r = run("encoder_sample", "2", "1", "5", "2", "8", "1", "0", "0", "0", "--backend", "cpu");
    assertTrue(r.out().contains("cpu: float32 encoder, vector ("), r.out());
    assertTrue(r.err().contains("is_use_fp16 applies to the GPU backend only"), r.err());
    r = run("encoder_sample", "2", "1", "5", "2", "8", "0", "0", "0", "0", "--backend", "tpu");
    assertEquals(2, r.exit(), r.out());
    assertTrue(r.err().contains("expected gpu, cpu or reference"), r.err());
  }

  @Test
  void gpuBackendWithoutADeviceExplainsAndSuggestsTheCpuBackend() {
    Assumptions.assumeFalse(CudaDevice.isAvailable(), "this machine has a CUDA device");
    Result r = run("encoder-sample", "1", "1", "8", "2", "8", "1", "0", "0", "0");
    assertEquals(1, r.exit());
    assertTrue(r.err().contains("no usable CUDA device"), r.err());
    assertTrue(r.err().contains("--backend cpu"), r.err());
  }

  @Test
  void int8ModesRunTheFakeQuantizedReferenceOnTheCpu() {
    for (String mode : new String[] {"1", "2"}) {
      Result r =
          run("encoder-sample", "2", "2", "9", "2", "16", "1", "1", mode, "0", "--backend", "cpu");
      assertEquals(0, r.exit(), r.err());
      assertTrue(r.out().contains("fake-quantized int8-" + mode), r.out());
      assertTrue(r.out().contains("INT8 scales: calibrated on 9 random tokens"), r.out());
      assertTrue(r.out().contains("ft4j-cpu-time"), r.out());
    }
  }

  @Test
  void int8ScaleFilesMustFitTheModel(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir)
      throws Exception {
    org.ft4j.encoder.EncoderConfig other =
        org.ft4j.encoder.EncoderConfig.of(3, 2, 16, org.ft4j.encoder.Precision.INT8_MODE_1);
    org.ft4j.encoder.EncoderWeights w = org.ft4j.encoder.EncoderWeights.random(other, 1);
    float[] x = EncoderSampleCommand.randomInput(other, 1, 4, 5);
    java.nio.file.Path file = dir.resolve("scales.json");
    org.ft4j.quant.Calibrator.calibrateOnHiddenStates(
            w, x, new int[] {4}, 1, 4, 0.5, org.ft4j.quant.CalibrationMethod.DEFAULT, "test")
        .write(file);
    Result wrong =
        run(
            "encoder-sample",
            "1",
            "2",
            "8",
            "2",
            "16",
            "1",
            "0",
            "1",
            "0",
            "--backend",
            "cpu",
            "--int8-scales",
            file.toString());
    assertTrue(wrong.err().contains("this model has 2 layers"), wrong.err());
    Result right =
        run(
            "encoder-sample",
            "1",
            "3",
            "4",
            "2",
            "16",
            "1",
            "0",
            "1",
            "0",
            "--backend",
            "cpu",
            "--int8-scales",
            file.toString());
    assertEquals(0, right.exit(), right.err());
    assertTrue(right.out().contains("INT8 scales: " + file), right.out());
  }
}
