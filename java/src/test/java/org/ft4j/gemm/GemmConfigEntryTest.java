package org.ft4j.gemm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Locale;
import org.ft4j.nativeapi.NativeApi;
import org.junit.jupiter.api.Test;

/** Validation of GemmKey, GemmAlgorithm and GemmConfigEntry, and the data-line format. */
class GemmConfigEntryTest {
  private static final GemmAlgorithm ALGO = new GemmAlgorithm(66, 20, 0, 1, 0, 0, 0, 0, 0);

  private static void assertRejected(Runnable r, String messagePart) {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, r::run);
    assertTrue(
        e.getMessage().contains(messagePart),
        "message '" + e.getMessage() + "' should contain '" + messagePart + "'");
  }

  @Test
  void int8KeyWithEpilogueIsRejected() {
    assertRejected(
        () -> new GemmKey(128, 64, 32, 1, true, GemmType.I8I32, Epilogue.BIAS),
        "take no cuBLASLt epilogue");
    assertRejected(
        () -> new GemmKey(128, 64, 32, 1, true, GemmType.I8I8, Epilogue.GELU_BIAS_TANH),
        "take no cuBLASLt epilogue");
    // INT8 without an epilogue and float types with any epilogue are fine
    assertEquals(
        GemmType.I8I8, new GemmKey(128, 64, 32, 1, true, GemmType.I8I8, Epilogue.NONE).type());
    assertEquals(
        Epilogue.GELU_BIAS_TANH,
        new GemmKey(128, 64, 32, 1, false, GemmType.FP16, Epilogue.GELU_BIAS_TANH).epilogue());
  }

  @Test
  void keyRejectsNonPositiveDimensionsAndNulls() {
    assertRejected(() -> new GemmKey(0, 64, 32, 1, true, GemmType.FP32, Epilogue.NONE), "M=0");
    assertRejected(() -> new GemmKey(8, -1, 32, 1, true, GemmType.FP32, Epilogue.NONE), "N=-1");
    assertRejected(() -> new GemmKey(8, 8, 0, 1, true, GemmType.FP32, Epilogue.NONE), "K=0");
    assertRejected(
        () -> new GemmKey(8, 8, 8, 0, true, GemmType.FP32, Epilogue.NONE), "batch_count=0");
    assertRejected(() -> new GemmKey(8, 8, 8, 1, true, null, Epilogue.NONE), "must not be null");
    assertRejected(() -> new GemmKey(8, 8, 8, 1, true, GemmType.FP32, null), "must not be null");
  }

  @Test
  void keyOfShapeCopiesDimensions() {
    // rows 4096, in 768, out 2304: M = rows, N = out, K = in, B (the weight) transposed
    GemmKey k = GemmKey.of(GemmShape.linear(4096, 768, 2304), GemmType.FP16, Epilogue.BIAS);
    assertEquals(new GemmKey(4096, 2304, 768, 1, true, GemmType.FP16, Epilogue.BIAS), k);
    GemmKey s = GemmKey.of(GemmShape.attentionContext(96, 128, 64), GemmType.I8I8, Epilogue.NONE);
    assertEquals(new GemmKey(128, 64, 128, 96, false, GemmType.I8I8, Epilogue.NONE), s);
  }

  @Test
  void swizzleMustBeZeroOrOne() {
    assertRejected(() -> new GemmAlgorithm(1, 0, 0, 1, 0, 2, 0, 0, 0), "CTA swizzle = 2");
    assertRejected(() -> new GemmAlgorithm(1, 0, 0, 1, 0, -1, 0, 0, 0), "CTA swizzle = -1");
    assertEquals(1, new GemmAlgorithm(1, 0, 0, 1, 0, 1, 0, 0, 0).swizzle());
  }

  @Test
  void algorithmRejectsBadSplitKAndNegativeFields() {
    assertRejected(() -> new GemmAlgorithm(1, 0, 0, 0, 0, 0, 0, 0, 0), "split-K = 0");
    assertRejected(() -> new GemmAlgorithm(1, 0, 0, 1, 2, 0, 0, 0, 0), "without split-K");
    assertRejected(() -> new GemmAlgorithm(-2, 0, 0, 1, 0, 0, 0, 0, 0), "algorithm id = -2");
    // -1 is ft4j's own GEMM: its kernel in the tile field, its K splits, no other field
    assertTrue(new GemmAlgorithm(-1, 0, 0, 1, 0, 0, 0, 0, 0).isFt4jOwn());
    assertRejected(() -> new GemmAlgorithm(-1, 0, 0, 2, 0, 0, 0, 0, 0), "2 K splits");
    assertRejected(() -> new GemmAlgorithm(-1, 3, 0, 2, 1, 0, 0, 0, 0), "takes no other cuBLASLt");
    assertEquals(2, new GemmAlgorithm(-1, 3, 0, 2, 0, 0, 0, 0, 0).splitK());
    assertRejected(() -> new GemmAlgorithm(1, -3, 0, 1, 0, 0, 0, 0, 0), "tile = -3");
    assertRejected(() -> new GemmAlgorithm(1, 0, -1, 1, 0, 0, 0, 0, 0), "stages = -1");
    assertRejected(() -> new GemmAlgorithm(1, 0, 0, 4, -1, 0, 0, 0, 0), "reduction scheme = -1");
    assertRejected(() -> new GemmAlgorithm(1, 0, 0, 1, 0, 0, -1, 0, 0), "custom option = -1");
    assertRejected(() -> new GemmAlgorithm(1, 0, 0, 1, 0, 0, 0, -1, 0), "inner shape = -1");
    assertRejected(() -> new GemmAlgorithm(1, 0, 0, 1, 0, 0, 0, 0, -1), "cluster shape = -1");
    // split-K with a reduction scheme is valid
    assertEquals(2, new GemmAlgorithm(1, 0, 0, 4, 2, 0, 0, 0, 0).reduction());
  }

  @Test
  void entryRejectsBadOpWorkspaceAndTimes() {
    GemmKey key = new GemmKey(8, 8, 8, 1, false, GemmType.FP32, Epilogue.NONE);
    assertRejected(() -> new GemmConfigEntry(1, 1, "QKV", key, ALGO, 0, 1, 1), "op 'QKV'");
    assertRejected(() -> new GemmConfigEntry(1, 1, "1qkv", key, ALGO, 0, 1, 1), "op '1qkv'");
    assertRejected(() -> new GemmConfigEntry(1, 1, null, key, ALGO, 0, 1, 1), "op 'null'");
    assertRejected(() -> new GemmConfigEntry(-1, 1, "qkv", key, ALGO, 0, 1, 1), "batch -1");
    assertRejected(() -> new GemmConfigEntry(1, -1, "qkv", key, ALGO, 0, 1, 1), "seq -1");
    assertRejected(() -> new GemmConfigEntry(1, 1, "qkv", null, ALGO, 0, 1, 1), "must not be null");
    assertRejected(() -> new GemmConfigEntry(1, 1, "qkv", key, null, 0, 1, 1), "must not be null");
    assertRejected(() -> new GemmConfigEntry(1, 1, "qkv", key, ALGO, -1, 1, 1), "workspace = -1");
    assertRejected(
        () -> new GemmConfigEntry(1, 1, "qkv", key, ALGO, 0, Double.NaN, 1), "time_us = NaN");
    assertRejected(() -> new GemmConfigEntry(1, 1, "qkv", key, ALGO, 0, -0.5, 1), "time_us = -0.5");
    assertRejected(
        () -> new GemmConfigEntry(1, 1, "qkv", key, ALGO, 0, 1, Double.POSITIVE_INFINITY),
        "heuristic_us = Infinity");
  }

  @Test
  void formatProducesTheTwentyTwoColumnsInOrder() {
    GemmConfigEntry e =
        new GemmConfigEntry(
            32,
            128,
            "qkv",
            new GemmKey(4096, 2304, 768, 3, true, GemmType.FP16, Epilogue.BIAS),
            new GemmAlgorithm(66, 20, 7, 4, 2, 1, 5, 9, 11),
            5_000_000_000L,
            22.31,
            23.0041);
    String line = e.format();
    String[] fields = line.split("\\s+");
    assertEquals(22, fields.length, line);
    assertEquals(22, GemmConfigEntry.COLUMNS.split(" ").length);
    assertEquals(
        "32 128 qkv 4096 2304 768 3 T fp16 bias 66 20 7 4 2 1 5 9 11 5000000000 22.310 23.004",
        line);
    assertEquals(e.key(), GemmConfigEntry.parse(line, "x", 1).key());
    assertEquals(e.algorithm(), GemmConfigEntry.parse(line, "x", 1).algorithm());
  }

  @Test
  void formatUsesBTransposedNAndInt8LabelsWithoutEpilogue() {
    GemmConfigEntry e =
        new GemmConfigEntry(
            0,
            0,
            "context",
            new GemmKey(128, 64, 128, 96, false, GemmType.I8I32, Epilogue.NONE),
            ALGO,
            0,
            0,
            0);
    assertEquals(
        "0 0 context 128 64 128 96 N i8i32 none 66 20 0 1 0 0 0 0 0 0 0.000 0.000", e.format());
  }

  @Test
  void formatIgnoresTheDefaultLocale() {
    Locale before = Locale.getDefault();
    try {
      Locale.setDefault(Locale.GERMANY); // decimal comma
      GemmConfigEntry e =
          new GemmConfigEntry(
              1,
              1,
              "qkv",
              new GemmKey(8, 8, 8, 1, false, GemmType.FP32, Epilogue.NONE),
              ALGO,
              0,
              1.5,
              2.25);
      assertTrue(e.format().endsWith(" 1.500 2.250"), e.format());
    } finally {
      Locale.setDefault(before);
    }
  }

  @Test
  void parseRoundTripsAnEntry() {
    GemmConfigEntry e =
        new GemmConfigEntry(
            8,
            512,
            "ffn1",
            new GemmKey(4096, 3072, 768, 1, false, GemmType.TF32, Epilogue.GELU_BIAS_TANH),
            new GemmAlgorithm(21, 18, 8, 4, 1, 1, 3, 0, 0),
            1 << 20,
            105.5,
            130.25);
    assertEquals(e, GemmConfigEntry.parse("  " + e.format() + "\t ", "x", 3));
  }

  @Test
  void typeLabelsAreCaseInsensitiveAndEpilogueLabelsRoundTrip() {
    assertEquals(GemmType.I8I8, GemmType.fromLabel("I8I8"));
    for (GemmType t : GemmType.values()) {
      assertEquals(t, GemmType.fromLabel(t.label()));
    }
    for (Epilogue ep : Epilogue.values()) {
      assertEquals(ep, Epilogue.fromLabel(ep.label()));
    }
    assertRejected(() -> GemmType.fromLabel("bf16"), "unknown GEMM type 'bf16'");
    assertRejected(() -> Epilogue.fromLabel("relu"), "unknown epilogue 'relu'");
    assertEquals(Epilogue.BIAS, Epilogue.fromLabel("BIAS")); // case-insensitive, like GemmType
  }

  @Test
  void ft4jsOwnGemmRoundTripsAsTheWordFt4j() {
    GemmConfigEntry e =
        new GemmConfigEntry(
            32,
            128,
            "ffn2",
            new GemmKey(4096, 768, 3072, 1, true, GemmType.I8I32, Epilogue.NONE),
            GemmAlgorithm.ft4jOwn(),
            0,
            41.25,
            47.5);
    assertEquals(
        "32 128 ffn2 4096 768 3072 1 T i8i32 none ft4j 0 0 1 0 0 0 0 0 0 41.250 47.500",
        e.format());
    GemmConfigEntry back = GemmConfigEntry.parse(e.format(), "igemm_config.in", 4);
    assertEquals(e, back);
    assertTrue(back.algorithm().isFt4jOwn());
    assertEquals("ft4j's own INT8 GEMM", back.algorithm().toString());
  }

  @Test
  void aTunedVariantOfFt4jsOwnGemmRoundTripsWithItsKernelAndSplits() {
    GemmAlgorithm variant = GemmAlgorithm.ft4jOwn(3, 4);
    GemmConfigEntry e =
        new GemmConfigEntry(
            1,
            128,
            "ffn2",
            new GemmKey(128, 768, 3072, 1, true, GemmType.I8I32, Epilogue.NONE),
            variant,
            0,
            9.5,
            30.25);
    assertEquals(
        "1 128 ffn2 128 768 3072 1 T i8i32 none ft4j 3 0 4 0 0 0 0 0 0 9.500 30.250", e.format());
    GemmConfigEntry back = GemmConfigEntry.parse(e.format(), "igemm_config.in", 2);
    assertEquals(e, back);
    assertEquals("ft4j's own INT8 GEMM (pipelined 64x64, 4 K splits)", back.algorithm().toString());
    assertEquals(
        new NativeApi.Int8GemmPlan(NativeApi.Int8GemmKernel.PIPELINED_64, 4),
        back.algorithm().ownPlan());
    assertEquals(
        new NativeApi.Int8GemmPlan(NativeApi.Int8GemmKernel.SIMPLE, 1),
        GemmAlgorithm.ft4jOwn(1, 1).ownPlan());
    assertEquals(
        new NativeApi.Int8GemmPlan(NativeApi.Int8GemmKernel.PIPELINED_128, 2),
        GemmAlgorithm.ft4jOwn(2, 2).ownPlan());
    assertEquals(
        new NativeApi.Int8GemmPlan(NativeApi.Int8GemmKernel.WARPGROUP_128, 3),
        GemmAlgorithm.ft4jOwn(4, 3).ownPlan());
    assertEquals(
        "ft4j's own INT8 GEMM (warpgroup 128x128, 3 K splits)",
        GemmAlgorithm.ft4jOwn(4, 3).toString());
    assertEquals(
        new NativeApi.Int8GemmPlan(NativeApi.Int8GemmKernel.WARPGROUP_128_PAIR, 2),
        GemmAlgorithm.ft4jOwn(5, 2).ownPlan());
    assertEquals(
        "ft4j's own INT8 GEMM (warpgroup 128x128, 2 blocks/SM, 2 K splits)",
        GemmAlgorithm.ft4jOwn(5, 2).toString());
    IllegalArgumentException unknown =
        assertThrows(IllegalArgumentException.class, () -> GemmAlgorithm.ft4jOwn(6, 1));
    assertTrue(unknown.getMessage().contains("= 6, must be 0..5"), unknown::getMessage);
    assertNull(GemmAlgorithm.ft4jOwn().ownPlan()); // ft4j's automatic choice
  }

  @Test
  void int8Mode2LinesHoldTheOwnGemmsBestVariant() {
    GemmKey key = new GemmKey(128, 768, 3072, 1, true, GemmType.I8I8, Epilogue.NONE);
    GemmAlgorithm cublasLt = new GemmAlgorithm(21, 18, 0, 1, 0, 0, 0, 0, 0);
    GemmTuner.Result r =
        new GemmTuner.Result(
            key,
            cublasLt,
            1024,
            8.0,
            cublasLt,
            9.0,
            40,
            12,
            1.5,
            GemmAlgorithm.ft4jOwn(3, 4),
            10.5,
            cublasLt,
            8.0);
    GemmTuner.Result own = r.ownOnly();
    assertEquals(GemmAlgorithm.ft4jOwn(3, 4), own.best());
    assertEquals(10.5, own.micros());
    assertEquals(0, own.workspaceBytes());
    assertEquals(9.0, own.heuristicMicros()); // cuBLASLt's heuristic stays the reference
    GemmConfigEntry e = own.entry(1, 128, "ffn2");
    assertEquals(
        "1 128 ffn2 128 768 3072 1 T i8i8 none ft4j 3 0 4 0 0 0 0 0 0 10.500 9.000", e.format());
    assertEquals(e, GemmConfigEntry.parse(e.format(), "igemm_config.in", 1));
    GemmTuner.Result none =
        new GemmTuner.Result(
            key, cublasLt, 0, 8.0, cublasLt, 9.0, 40, 12, 1.5, null, Double.NaN, cublasLt, 8.0);
    assertThrows(IllegalStateException.class, none::ownOnly);
  }

  @Test
  void ft4jsOwnGemmTakesNoOtherCublasLtFieldsAndOnlyIntegerTypes() {
    GemmConfigException fields =
        assertThrows(
            GemmConfigException.class,
            () ->
                GemmConfigEntry.parse(
                    "1 32 qkv 32 2304 768 1 T i8i32 none ft4j 20 0 1 0 0 0 0 0 0 5.0 6.0",
                    "igemm_config.in",
                    7));
    assertTrue(fields.getMessage().contains("igemm_config.in"), fields.getMessage());
    assertTrue(fields.getMessage().contains("7"), fields.getMessage());
    assertTrue(fields.getMessage().contains("own GEMM kernel"), fields.getMessage());
    for (String bad :
        new String[] {
          "ft4j 0 0 2 0 0 0 0 0 0", // the automatic choice with splits
          "ft4j 1 0 2 0 0 0 0 0 0", // the simple kernel with splits
          "ft4j 3 0 0 0 0 0 0 0 0", // no splits at all
          "ft4j 3 4 2 0 0 0 0 0 0" // stages
        }) {
      assertThrows(
          GemmConfigException.class,
          () ->
              GemmConfigEntry.parse(
                  "1 32 qkv 32 2304 768 1 T i8i32 none " + bad + " 5.0 6.0", "g", 1),
          bad);
    }
    GemmConfigException fp16 =
        assertThrows(
            GemmConfigException.class,
            () ->
                GemmConfigEntry.parse(
                    "1 32 qkv 32 2304 768 1 T fp16 none ft4j 0 0 1 0 0 0 0 0 0 5.0 6.0", "g", 2));
    assertTrue(fp16.getMessage().contains("i8i8 GEMMs"), fp16.getMessage());
    GemmConfigException negative =
        assertThrows(
            GemmConfigException.class,
            () ->
                GemmConfigEntry.parse(
                    "1 32 qkv 32 2304 768 1 T i8i32 none -1 0 0 1 0 0 0 0 0 0 5.0 6.0", "g", 3));
    assertTrue(negative.getMessage().contains("column 11 (algo)"), negative.getMessage());
  }
}
