package org.ft4j.nativeapi;

import static org.ft4j.testing.GpuTesting.asStored;
import static org.ft4j.testing.GpuTesting.assertClose;
import static org.ft4j.testing.GpuTesting.download;
import static org.ft4j.testing.GpuTesting.poisoned;
import static org.ft4j.testing.GpuTesting.random;
import static org.ft4j.testing.GpuTesting.upload;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.SplittableRandom;
import java.util.function.BiConsumer;
import java.util.stream.Stream;
import org.ft4j.cuda.DType;
import org.ft4j.cuda.DeviceBuffer;
import org.ft4j.nativeapi.NativeApi.Int8GemmOut;
import org.ft4j.reference.Int8ReferenceKernels;
import org.ft4j.testing.GpuStream;
import org.ft4j.testing.GpuTesting;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * ft4j's own INT8 GEMM (every kernel: the simple one for unaligned or K % 16 != 0 operands, the
 * pipelined 128 x 128 one from one tile per SM on, the pipelined 64 x 64 one below that, split
 * along K for small M): exact int32 results on random int8 data for awkward M, N, K (edges, K not a
 * multiple of 16 or 32, unaligned second operand), and its FLOAT / INT8 epilogues against the
 * float64 reference, bit-identical with and without a split-K workspace. Outputs are poisoned
 * before each launch.
 */
@Tag(GpuTesting.GPU)
class Int8GemmGpuTest {
  @RegisterExtension static final GpuStream STREAM = new GpuStream();

  static byte[] int8(int n, long seed, int bound) {
    SplittableRandom r = new SplittableRandom(seed);
    byte[] x = new byte[n];
    for (int i = 0; i < n; i++) {
      x[i] = (byte) r.nextInt(-bound, bound + 1);
    }
    return x;
  }

  /** 0x7F7F7F7F in every int32: far above any |acc| <= 127^2 K here. */
  static DeviceBuffer int32Poisoned(long n) {
    DeviceBuffer b = DeviceBuffer.allocate(DType.INT32, Math.max(1, n));
    b.fillBytes(0x7F);
    return b;
  }

  /** The first n int32 values of a device buffer. */
  static int[] ints(DeviceBuffer b, int n) {
    float[] raw = b.toFloatArray(n);
    int[] out = new int[n];
    for (int i = 0; i < n; i++) {
      out[i] = Float.floatToRawIntBits(raw[i]);
    }
    return out;
  }

  static DeviceBuffer bytes(byte[] x) {
    DeviceBuffer b = DeviceBuffer.allocate(DType.INT8, Math.max(1, x.length));
    b.copyFrom(x);
    return b;
  }

  static Stream<Arguments> shapes() {
    return Stream.of(
        Arguments.of(1, 1, 1),
        Arguments.of(1, 1, 17),
        Arguments.of(7, 5, 33),
        Arguments.of(64, 64, 32),
        Arguments.of(65, 63, 31),
        Arguments.of(127, 129, 48),
        Arguments.of(33, 2304, 768), // BERT-base QKV at 33 tokens
        Arguments.of(200, 768, 3072), // FFN2
        Arguments.of(129, 3072, 768), // FFN1
        Arguments.of(3, 100, 1001),
        // at least one 128 x 128 tile per SM (132 on an H100): the pipelined kernel
        Arguments.of(1500, 1501, 80), // ragged edges, k % 32 == 16
        Arguments.of(2049, 2304, 768), // QKV at 2049 tokens
        Arguments.of(4096, 768, 64)); // attention output at 32 x 128, short k
  }

  @ParameterizedTest(name = "[{0} x {2}] x [{1} x {2}]^T")
  @MethodSource("shapes")
  void int32AccumulatorsAreExact(int m, int n, int k) {
    byte[] a = int8(m * k, 31L * m + k, 127);
    byte[] b = int8(n * k, 17L * n + k, 127);
    int[] expected = Int8ReferenceKernels.gemmInt8(a, b, m, n, k);
    try (DeviceBuffer da = bytes(a);
        DeviceBuffer db = bytes(b);
        DeviceBuffer out = int32Poisoned((long) m * n)) {
      NativeApi.gemmInt8ToInt32(out, da, db, m, n, k, null, STREAM.get());
      STREAM.get().synchronize();
      assertArrayEquals(expected, ints(out, m * n), "int32 GEMM [" + m + ", " + n + ", " + k + "]");
    }
  }

  @Test
  void unalignedOperandTakesTheByteLoadPath() {
    int m = 40;
    int n = 24;
    int k = 64;
    byte[] a = int8(m * k, 1, 127);
    byte[] b = int8(n * k, 2, 127);
    byte[] shifted = new byte[b.length + 1];
    System.arraycopy(b, 0, shifted, 1, b.length);
    int[] expected = Int8ReferenceKernels.gemmInt8(a, b, m, n, k);
    try (DeviceBuffer da = bytes(a);
        DeviceBuffer dbShifted = bytes(shifted);
        DeviceBuffer out = int32Poisoned((long) m * n)) {
      DeviceBuffer db = dbShifted.slice(1, b.length);
      NativeApi.gemmInt8ToInt32(out, da, db, m, n, k, null, STREAM.get());
      STREAM.get().synchronize();
      assertArrayEquals(expected, ints(out, m * n), "int32 GEMM, unaligned b");
    }
  }

  static Stream<Arguments> epilogues() {
    return Stream.of(DType.FP32, DType.FP16)
        .flatMap(
            t ->
                Stream.of(
                    Arguments.of(t, 65, 2304, 768, false, true),
                    Arguments.of(t, 33, 3072, 768, true, true),
                    Arguments.of(t, 7, 100, 45, true, false),
                    Arguments.of(t, 1300, 1601, 96, true, true), // pipelined kernel
                    Arguments.of(t, 2000, 1500, 48, false, false),
                    // batch 1: few 64 x 64 tiles, long K: split-K with a workspace
                    Arguments.of(t, 17, 768, 3072, true, true),
                    Arguments.of(t, 128, 768, 3072, false, false)));
  }

  @ParameterizedTest(name = "{0} [{1}, {2}, {3}] gelu={4} perToken={5}")
  @MethodSource("epilogues")
  void floatAndInt8EpiloguesMatchTheReference(
      DType t, int m, int n, int k, boolean gelu, boolean perToken) {
    byte[] a = int8(m * k, m + 3L, 127);
    byte[] b = int8(n * k, n + 4L, 127);
    float[] aScale = random(m, 5, 1e-3, 4e-3);
    float aStatic = 2.5e-3f;
    float[] wScale = random(n, 6, 1e-4, 5e-4);
    float[] bias = asStored(random(n, 7, -1, 1), t);
    float[] outInv = random(n, 8, 10, 60);
    int[] acc = Int8ReferenceKernels.gemmInt8(a, b, m, n, k);
    double[] y =
        Int8ReferenceKernels.dequantizeBiasAct(
            acc, perToken ? aScale : null, aStatic, wScale, bias, gelu, m, n);
    try (DeviceBuffer da = bytes(a);
        DeviceBuffer db = bytes(b);
        DeviceBuffer as = upload(aScale, DType.FP32);
        DeviceBuffer ws = upload(wScale, DType.FP32);
        DeviceBuffer bs = upload(bias, t);
        DeviceBuffer inv = upload(outInv, DType.FP32);
        DeviceBuffer out = poisoned(t, (long) m * n);
        DeviceBuffer q = DeviceBuffer.allocate(DType.INT8, (long) m * n);
        DeviceBuffer split = poisoned(t, (long) m * n);
        DeviceBuffer workspace = int32Poisoned((long) m * n)) {
      DeviceBuffer[] withWorkspace = {null}; // the workspace the next run passes (null: none)
      BiConsumer<Int8GemmOut, DeviceBuffer> run =
          (kind, dst) -> {
            NativeApi.gemmInt8(
                kind,
                t,
                dst,
                da,
                db,
                perToken ? as : null,
                aStatic,
                ws,
                bs,
                kind == Int8GemmOut.FLOAT ? null : inv,
                0,
                gelu,
                m,
                n,
                k,
                null,
                withWorkspace[0],
                STREAM.get());
            STREAM.get().synchronize();
          };
      // Each output again with the workspace (split-K where the plan splits): bit-identical.
      BiConsumer<Int8GemmOut, DeviceBuffer> sameWithWorkspace =
          (kind, first) -> {
            DeviceBuffer dst = kind == Int8GemmOut.INT8 ? q : split;
            DType type = kind == Int8GemmOut.INT8 ? DType.INT8 : t;
            byte[] before = first.toByteArray((int) ((long) m * n * type.bytes()));
            dst.fillBytes(kind == Int8GemmOut.INT8 ? 0x80 : 0xFF);
            withWorkspace[0] = workspace;
            run.accept(kind, dst);
            withWorkspace[0] = null;
            assertArrayEquals(
                before,
                dst.toByteArray(before.length),
                kind
                    + " with a workspace ("
                    + NativeApi.gemmInt8Plan(kind, m, n, k, 4L * m * n)
                    + ")");
          };
      run.accept(Int8GemmOut.FLOAT, out);
      sameWithWorkspace.accept(Int8GemmOut.FLOAT, out);
      float[] expected = new float[y.length];
      for (int i = 0; i < y.length; i++) {
        expected[i] = (float) y[i];
      }
      assertClose(expected, download(out, t, m * n), t == DType.FP32 ? 1e-6 : 2e-3, "FLOAT " + t);

      q.fillBytes(0x80);
      run.accept(Int8GemmOut.INT8, q);
      byte[] got = q.toByteArray(m * n);
      for (int i = 0; i < got.length; i++) {
        GpuTesting.assertInt8Rounding(got[i], y[i] * outInv[i % n], "INT8 at " + i);
      }
      try (DeviceBuffer firstInt8 = bytes(got)) {
        sameWithWorkspace.accept(Int8GemmOut.INT8, firstInt8);
      }

      out.fillBytes(0xFF); // NaN in both FP32 and FP16
      run.accept(Int8GemmOut.INT8_DEQUANTIZED, out);
      // the same int8 values as the INT8 output, divided by their inverse scale
      float[] dequantized = new float[got.length];
      for (int i = 0; i < got.length; i++) {
        dequantized[i] = (float) (got[i] / (double) outInv[i % n]);
      }
      assertClose(
          dequantized, download(out, t, m * n), t == DType.FP32 ? 1e-6 : 1e-3, "INT8_DEQUANTIZED");
      sameWithWorkspace.accept(Int8GemmOut.INT8_DEQUANTIZED, out);
    }
  }

  /**
   * Every kernel and split count the tuner may force gives the exact int32 sums (split counts
   * beyond one per k-step included); on a GPU below sm_80 the pipelined ones are refused before the
   * launch, the warpgroup (wgmma) one everywhere but on sm_90 (and there too by a library built
   * without sm_90a code, which this test reports). A split with a scaled output and no workspace is
   * refused too.
   */
  @Test
  void everyForcedKernelAndSplitGivesTheExactSums() {
    org.ft4j.cuda.CudaDevice device = org.ft4j.cuda.CudaDevice.open(0);
    boolean tensorCores = device.smMajor() >= 8;
    boolean hopper = device.smMajor() == 9 && device.smMinor() == 0;
    int[][] shapes = {{128, 768, 3072}, {37, 200, 4096}, {300, 520, 1008}, {5, 64, 32}};
    for (int[] shape : shapes) {
      int m = shape[0];
      int n = shape[1];
      int k = shape[2];
      byte[] a = int8(m * k, 7L * m + k, 127);
      byte[] b = int8(n * k, 3L * n + k, 127);
      int[] expected = Int8ReferenceKernels.gemmInt8(a, b, m, n, k);
      try (DeviceBuffer da = bytes(a);
          DeviceBuffer db = bytes(b);
          DeviceBuffer out = int32Poisoned((long) m * n)) {
        for (NativeApi.Int8GemmPlan plan :
            new NativeApi.Int8GemmPlan[] {
              new NativeApi.Int8GemmPlan(NativeApi.Int8GemmKernel.SIMPLE, 1),
              new NativeApi.Int8GemmPlan(NativeApi.Int8GemmKernel.PIPELINED_128, 1),
              new NativeApi.Int8GemmPlan(NativeApi.Int8GemmKernel.PIPELINED_128, 3),
              new NativeApi.Int8GemmPlan(NativeApi.Int8GemmKernel.PIPELINED_64, 1),
              new NativeApi.Int8GemmPlan(NativeApi.Int8GemmKernel.PIPELINED_64, 2),
              new NativeApi.Int8GemmPlan(NativeApi.Int8GemmKernel.PIPELINED_64, 5),
              new NativeApi.Int8GemmPlan(NativeApi.Int8GemmKernel.PIPELINED_64, 200),
              new NativeApi.Int8GemmPlan(NativeApi.Int8GemmKernel.WARPGROUP_128, 1),
              new NativeApi.Int8GemmPlan(NativeApi.Int8GemmKernel.WARPGROUP_128, 2),
              new NativeApi.Int8GemmPlan(NativeApi.Int8GemmKernel.WARPGROUP_128, 3),
              new NativeApi.Int8GemmPlan(NativeApi.Int8GemmKernel.WARPGROUP_128, 40),
              new NativeApi.Int8GemmPlan(NativeApi.Int8GemmKernel.WARPGROUP_128_PAIR, 1),
              new NativeApi.Int8GemmPlan(NativeApi.Int8GemmKernel.WARPGROUP_128_PAIR, 3),
              new NativeApi.Int8GemmPlan(NativeApi.Int8GemmKernel.WARPGROUP_128_PAIR, 40)
            }) {
          String what = "[" + m + ", " + n + ", " + k + "] " + plan;
          boolean warpgroup =
              plan.kernel() == NativeApi.Int8GemmKernel.WARPGROUP_128
                  || plan.kernel() == NativeApi.Int8GemmKernel.WARPGROUP_128_PAIR;
          if (warpgroup && hopper && !WARPGROUP_BUILT.get()) {
            continue;
          }
          if ((warpgroup && !hopper)
              || (!tensorCores && plan.kernel() != NativeApi.Int8GemmKernel.SIMPLE)) {
            assertThrows(
                UnsupportedOperationException.class,
                () -> NativeApi.gemmInt8ToInt32(out, da, db, m, n, k, plan, STREAM.get()),
                what);
            continue;
          }
          out.fillBytes(0x7F);
          NativeApi.gemmInt8ToInt32(out, da, db, m, n, k, plan, STREAM.get());
          STREAM.get().synchronize();
          assertArrayEquals(expected, ints(out, m * n), what);
        }
      }
    }
    if (tensorCores) {
      try (DeviceBuffer a = DeviceBuffer.allocate(DType.INT8, 64 * 64);
          DeviceBuffer ws = upload(new float[64], DType.FP32);
          DeviceBuffer out = DeviceBuffer.allocate(DType.FP32, 64 * 64)) {
        UnsupportedOperationException e =
            assertThrows(
                UnsupportedOperationException.class,
                () ->
                    NativeApi.gemmInt8(
                        Int8GemmOut.FLOAT,
                        DType.FP32,
                        out,
                        a,
                        a,
                        null,
                        1f,
                        ws,
                        null,
                        null,
                        0,
                        false,
                        64,
                        64,
                        64,
                        new NativeApi.Int8GemmPlan(NativeApi.Int8GemmKernel.PIPELINED_64, 2),
                        null,
                        STREAM.get()));
        assertTrue(e.getMessage().contains("workspace"), e.getMessage());
      }
    }
  }

  /**
   * Whether the library has the warpgroup kernel's sm_90a code, asked once on an sm_90 GPU: a build
   * narrowed to other architectures refuses a forced warpgroup plan naming "sm_90a", which is
   * printed (the kernel is then not tested here).
   */
  private static final java.util.function.Supplier<Boolean> WARPGROUP_BUILT =
      new java.util.function.Supplier<>() {
        private Boolean built;

        @Override
        public synchronized Boolean get() {
          if (built == null) {
            try (DeviceBuffer a = DeviceBuffer.allocate(DType.INT8, 16 * 16);
                DeviceBuffer out = DeviceBuffer.allocate(DType.INT32, 16 * 16)) {
              a.fillBytes(1);
              NativeApi.gemmInt8ToInt32(
                  out,
                  a,
                  a,
                  16,
                  16,
                  16,
                  new NativeApi.Int8GemmPlan(NativeApi.Int8GemmKernel.WARPGROUP_128, 1),
                  STREAM.get());
              STREAM.get().synchronize();
              built = true;
            } catch (UnsupportedOperationException e) {
              if (!e.getMessage().contains("sm_90a")) {
                throw e;
              }
              System.out.println("Int8GemmGpuTest: the warpgroup kernel is not tested: " + e);
              built = false;
            }
          }
          return built;
        }
      };

  /** Which kernel runs where (see plan_gemm_int8), on the device at hand. */
  @Test
  void plansSplitSmallGemmsAlongK() {
    long ws = 32L << 20;
    org.ft4j.cuda.CudaDevice device = org.ft4j.cuda.CudaDevice.open(0);
    boolean tensorCores = device.smMajor() >= 8;
    // 128 x 768 is 2 x 12 = 24 tiles of 64 x 64, K = 3072 is 96 k-steps: splits = min(SMs / 24,
    // 96 / 8) where that is >= 2 (an H100's 132 SMs: 5), else none
    int splits = Math.min(device.multiprocessors() / 24, 96 / 8);
    int expectedSplits = splits < 2 ? 1 : splits;
    NativeApi.Int8GemmPlan batchOne = NativeApi.gemmInt8Plan(Int8GemmOut.INT8, 128, 768, 3072, ws);
    NativeApi.Int8GemmPlan noRoom = NativeApi.gemmInt8Plan(Int8GemmOut.INT8, 128, 768, 3072, 0);
    NativeApi.Int8GemmPlan int32 = NativeApi.gemmInt8Plan(Int8GemmOut.INT32, 128, 768, 3072, 0);
    NativeApi.Int8GemmPlan large = NativeApi.gemmInt8Plan(Int8GemmOut.INT8, 4096, 3072, 768, ws);
    NativeApi.Int8GemmPlan oddK = NativeApi.gemmInt8Plan(Int8GemmOut.INT8, 128, 768, 1001, ws);
    if (!tensorCores) {
      for (NativeApi.Int8GemmPlan p : new NativeApi.Int8GemmPlan[] {batchOne, large, oddK}) {
        assertTrue(p.kernel() == NativeApi.Int8GemmKernel.SIMPLE && p.splits() == 1, p::toString);
      }
      return;
    }
    assertTrue(
        batchOne.kernel() == NativeApi.Int8GemmKernel.PIPELINED_64
            && batchOne.splits() == expectedSplits,
        batchOne + ", expected " + expectedSplits + " splits");
    assertTrue(noRoom.splits() == 1, noRoom::toString);
    assertTrue(int32.splits() == batchOne.splits(), int32::toString); // sums in place
    // the pair warpgroup kernel on an sm_90 GPU unless turned off (FT4J_INT8_WGMMA=0)
    boolean wgmma =
        !"0".equals(System.getenv("FT4J_INT8_WGMMA"))
            && device.smMajor() == 9
            && device.smMinor() == 0
            && WARPGROUP_BUILT.get();
    assertTrue(
        large.kernel()
            == (wgmma
                ? NativeApi.Int8GemmKernel.WARPGROUP_128_PAIR
                : NativeApi.Int8GemmKernel.PIPELINED_128),
        large::toString);
    assertTrue(oddK.kernel() == NativeApi.Int8GemmKernel.SIMPLE, oddK::toString);
  }

  @Test
  void badShapesAreRejectedBeforeTheLaunch() {
    try (DeviceBuffer a = DeviceBuffer.allocate(DType.INT8, 16);
        DeviceBuffer out = DeviceBuffer.allocate(DType.INT32, 16)) {
      IllegalArgumentException e =
          assertThrows(
              IllegalArgumentException.class,
              () -> NativeApi.gemmInt8ToInt32(out, a, a, 4, 4, 8, null, STREAM.get()));
      assertTrue(e.getMessage().contains("gemmInt8 a [4, 8]"), e.getMessage());
      e =
          assertThrows(
              IllegalArgumentException.class,
              () ->
                  NativeApi.gemmInt8(
                      Int8GemmOut.FLOAT,
                      DType.FP32,
                      out,
                      a,
                      a,
                      null,
                      1f,
                      null,
                      null,
                      null,
                      0,
                      false,
                      2,
                      2,
                      2,
                      null,
                      null,
                      STREAM.get()));
      assertTrue(e.getMessage().contains("needs w_scale"), e.getMessage());
    }
  }
}
