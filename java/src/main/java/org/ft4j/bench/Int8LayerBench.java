package org.ft4j.bench;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import org.ft4j.cuda.CudaStream;
import org.ft4j.cuda.DType;
import org.ft4j.cuda.DeviceBuffer;
import org.ft4j.gemm.CublasLt;
import org.ft4j.gemm.Epilogue;
import org.ft4j.gemm.GemmShape;
import org.ft4j.gemm.GemmType;
import org.ft4j.gemm.MatmulPlan;
import org.ft4j.nativeapi.Int8Output;
import org.ft4j.nativeapi.NativeApi;
import org.ft4j.nativeapi.NativeApi.Int8GemmOut;

/**
 * Where an INT8 BERT layer spends its time, piece by piece, next to the FP16 pieces it replaces:
 * GPU time (CUDA-graph replays, {@link GraphTimer}) of each GEMM of a layer on cuBLASLt (FP16, int8
 * → int32, int8 → int8) and on ft4j's own INT8 GEMM (int32, dequantized FP16 and int8 outputs; its
 * automatic plan, and both warpgroup kernels forced: NaN off sm_90), and of each row kernel of the
 * INT8 layers (quantize, dequantize + bias (+ GELU) (+ quantize), dequantize + bias + residual +
 * layernorm (+ quantize)) with the FP16 kernels beside them. Row kernels also report their
 * effective bandwidth: the bytes they must move (each input read once, each output written once)
 * over the time.
 *
 * <p>Synthetic operands (byte fills with finite values); the times do not depend on the values. The
 * automatic plan takes the pair warpgroup kernel on sm_90 unless FT4J_INT8_WGMMA=0 is set.
 *
 * <pre>
 * java -cp 'lib/*' org.ft4j.bench.Int8LayerBench [tokens,...] [hidden] [intermediate] [gemm,row]
 * </pre>
 *
 * Prints CSV: {@code tokens,part,what,n,k,us,gbps}. With "prof" among the parts (e.g. {@code
 * gemm,row,prof}) each own-GEMM (automatic plan; int32, FP16 and int8 outputs) and row-kernel
 * launch runs once, untimed, announced by a {@code launch,...} line: the input of a kernel profiler
 * (scripts/gpu-session.sh PROF=1).
 */
public final class Int8LayerBench {
  private static final long WORKSPACE = 32L << 20;

  private Int8LayerBench() {}

  public static void main(String[] args) {
    int[] tokensList =
        args.length > 0
            ? Arrays.stream(args[0].split(",")).mapToInt(Integer::parseInt).toArray()
            : new int[] {128, 4096};
    int hidden = args.length > 1 ? Integer.parseInt(args[1]) : 768;
    int inter = args.length > 2 ? Integer.parseInt(args[2]) : 4 * hidden;
    String parts = args.length > 3 ? args[3] : "gemm,row";
    System.out.println("tokens,part,what,n,k,us,gbps");
    try (CublasLt lt = CublasLt.create();
        CudaStream stream = CudaStream.create();
        DeviceBuffer workspace = DeviceBuffer.allocate(WORKSPACE)) {
      for (int tokens : tokensList) {
        new Run(lt, stream, workspace, tokens, hidden, inter).all(parts);
      }
    }
  }

  /** The buffers of one token count, sized for the widest GEMM (FFN1's output). */
  private static final class Run {
    private final CublasLt lt;
    private final CudaStream stream;
    private final DeviceBuffer workspace;
    private final int tokens;
    private final int hidden;
    private final int inter;
    private final List<DeviceBuffer> owned = new ArrayList<>();

    /**
     * "prof" mode: every own-GEMM and row-kernel launch runs once, directly (no graph, no timing),
     * for a kernel profiler (gpu-session.sh PROF=1 runs Nsight Compute over it); cuBLASLt is left
     * out and each launch is announced on stdout, so the profiler's kernels can be matched to it.
     */
    private boolean once;

    Run(CublasLt lt, CudaStream stream, DeviceBuffer workspace, int tokens, int hidden, int inter) {
      this.lt = lt;
      this.stream = stream;
      this.workspace = workspace;
      this.tokens = tokens;
      this.hidden = hidden;
      this.inter = inter;
    }

    private DeviceBuffer buffer(DType t, long elements, int fill) {
      DeviceBuffer b = DeviceBuffer.allocate(t, elements);
      owned.add(b);
      b.fillBytes(fill);
      return b;
    }

    void all(String parts) {
      once = parts.contains("prof");
      try {
        if (parts.contains("gemm")) {
          gemms();
        }
        if (parts.contains("row")) {
          rowKernels();
        }
      } finally {
        owned.forEach(DeviceBuffer::close);
      }
    }

    private void gemms() {
      int wide = Math.max(3 * hidden, inter);
      int deep = Math.max(hidden, inter);
      // halves 0x3C3C (~1.06) and 0x1C1C (~0.004); int8 0x03 and 0x02; scales 0x3C3C3C3C (~0.0115)
      DeviceBuffer a16 = buffer(DType.FP16, (long) tokens * deep, 0x3C);
      DeviceBuffer w16 = buffer(DType.FP16, (long) wide * deep, 0x1C);
      DeviceBuffer c16 = buffer(DType.FP16, (long) tokens * wide, 0);
      DeviceBuffer a8 = buffer(DType.INT8, (long) tokens * deep, 0x03);
      DeviceBuffer w8 = buffer(DType.INT8, (long) wide * deep, 0x02);
      DeviceBuffer c32 = buffer(DType.INT32, (long) tokens * wide, 0);
      DeviceBuffer c8 = buffer(DType.INT8, (long) tokens * wide, 0);
      DeviceBuffer rowScale = buffer(DType.FP32, tokens, 0x3C);
      DeviceBuffer colScale = buffer(DType.FP32, wide, 0x3C);
      DeviceBuffer bias = buffer(DType.FP16, wide, 0x1C);
      String[] names = {"qkv", "attn_out", "ffn1", "ffn2"};
      int[][] nk = {{3 * hidden, hidden}, {hidden, hidden}, {inter, hidden}, {hidden, inter}};
      // own GEMM plans: the automatic choice, and the two warpgroup kernels forced (sm_90 only)
      String[] planNames = {"auto", "wgmma", "wgmma_pair"};
      NativeApi.Int8GemmPlan[] plans = {
        null,
        new NativeApi.Int8GemmPlan(NativeApi.Int8GemmKernel.WARPGROUP_128, 1),
        new NativeApi.Int8GemmPlan(NativeApi.Int8GemmKernel.WARPGROUP_128_PAIR, 1)
      };
      if (once) { // the automatic plan only
        planNames = new String[] {"auto"};
        plans = new NativeApi.Int8GemmPlan[] {null};
      }
      Int8GemmOut[] outs = {Int8GemmOut.INT32, Int8GemmOut.FLOAT, Int8GemmOut.INT8};
      String[] outNames = {"i32", "fp16", "i8"};
      List<String> kinds = new ArrayList<>(List.of("fp16_lt", "i8i32_lt", "i8i8_lt"));
      for (String plan : planNames) {
        for (String out : outNames) {
          kinds.add("own_" + plan + "_" + out);
        }
      }
      double[] sums = new double[kinds.size()];
      for (int g = 0; g < names.length; g++) {
        int n = nk[g][0];
        int k = nk[g][1];
        boolean gelu = g == 2;
        GemmShape shape = GemmShape.linear(tokens, k, n);
        List<Double> t = new ArrayList<>();
        if (once) {
          for (Int8GemmOut out : outs) {
            DeviceBuffer c = out == Int8GemmOut.INT32 ? c32 : out == Int8GemmOut.INT8 ? c8 : c16;
            System.out.println(
                "launch,gemm,"
                    + names[g]
                    + ",out "
                    + out
                    + ",n "
                    + n
                    + ",k "
                    + k
                    + ",gelu "
                    + gelu);
            own(out, null, c, a8, w8, rowScale, colScale, bias, gelu, n, k);
          }
          continue;
        }
        t.add(lt(shape, GemmType.FP16, 1f, a16, w16, c16));
        t.add(lt(shape, GemmType.I8I32, 1f, a8, w8, c32));
        t.add(lt(shape, GemmType.I8I8, 0.01f, a8, w8, c8));
        for (NativeApi.Int8GemmPlan plan : plans) {
          for (Int8GemmOut out : outs) {
            DeviceBuffer c = out == Int8GemmOut.INT32 ? c32 : out == Int8GemmOut.INT8 ? c8 : c16;
            t.add(own(out, plan, c, a8, w8, rowScale, colScale, bias, gelu, n, k));
          }
        }
        for (int i = 0; i < t.size(); i++) {
          print("gemm", names[g] + ":" + kinds.get(i), n, k, t.get(i), 0);
          sums[i] += t.get(i);
        }
      }
      if (once) {
        return;
      }
      for (int i = 0; i < sums.length; i++) {
        print("gemm", "layer:" + kinds.get(i), 0, 0, sums[i], 0);
      }
    }

    /** cuBLASLt's heuristic algorithm, NaN where it has none. */
    private double lt(
        GemmShape shape,
        GemmType type,
        float alpha,
        DeviceBuffer a,
        DeviceBuffer w,
        DeviceBuffer c) {
      try (MatmulPlan plan =
          new MatmulPlan(lt, shape, type, alpha, Epilogue.NONE, workspace.bytes(), null)) {
        return GraphTimer.micros(stream, () -> plan.run(stream, a, w, c, null, workspace));
      } catch (RuntimeException e) {
        System.err.println("cuBLASLt " + type + " " + shape + ": " + e.getMessage());
        return Double.NaN;
      }
    }

    /** ft4j's own GEMM on {@code plan} (null: automatic), NaN where the device cannot run it. */
    private double own(
        Int8GemmOut kind,
        NativeApi.Int8GemmPlan plan,
        DeviceBuffer out,
        DeviceBuffer a8,
        DeviceBuffer w8,
        DeviceBuffer rowScale,
        DeviceBuffer colScale,
        DeviceBuffer bias,
        boolean gelu,
        int n,
        int k) {
      try {
        return time(
            () ->
                NativeApi.gemmInt8(
                    kind,
                    DType.FP16,
                    out,
                    a8,
                    w8,
                    rowScale,
                    0f,
                    colScale,
                    bias,
                    kind == Int8GemmOut.INT8 ? colScale : null,
                    0f,
                    gelu,
                    tokens,
                    n,
                    k,
                    plan,
                    workspace,
                    stream));
      } catch (UnsupportedOperationException e) {
        System.err.println("own INT8 GEMM " + plan + ": " + e.getMessage());
        return Double.NaN;
      }
    }

    private void rowKernels() {
      int wide = Math.max(3 * hidden, inter);
      long cells = (long) tokens * wide;
      DeviceBuffer acc = buffer(DType.INT32, cells, 0x01); // 16843009
      DeviceBuffer acc8 = buffer(DType.INT8, cells, 0x3C);
      DeviceBuffer x = buffer(DType.FP16, cells, 0x3C);
      DeviceBuffer y = buffer(DType.FP16, cells, 0x3C);
      DeviceBuffer residual = buffer(DType.FP16, cells, 0x3C);
      DeviceBuffer q = buffer(DType.INT8, cells, 0);
      DeviceBuffer rowIn = buffer(DType.FP32, tokens, 0x3C);
      DeviceBuffer rowOut = buffer(DType.FP32, tokens, 0);
      DeviceBuffer wScale = buffer(DType.FP32, wide, 0x3C);
      DeviceBuffer bias = buffer(DType.FP16, wide, 0x1C);
      DeviceBuffer gamma = buffer(DType.FP16, wide, 0x3C);
      DeviceBuffer beta = buffer(DType.FP16, wide, 0x1C);
      Int8Output perToken = Int8Output.perToken(q, rowOut, null);
      float eps = 1e-12f;
      long h = (long) tokens * hidden;
      long i3 = (long) tokens * 3 * hidden;
      long f = (long) tokens * inter;

      row(
          "quantize hidden (fp16 -> int8 per token)",
          hidden,
          h * 3,
          () -> NativeApi.quantizeRows(DType.FP16, perToken, x, tokens, hidden, stream));
      row(
          "mode1 qkv: dequantize int32 -> fp16",
          3 * hidden,
          i3 * 6,
          () ->
              NativeApi.dequantizeBiasAct(
                  DType.FP16,
                  y,
                  null,
                  acc,
                  DType.INT32,
                  rowIn,
                  0f,
                  wScale,
                  null,
                  false,
                  tokens,
                  3 * hidden,
                  stream));
      row(
          "mode1 ffn1: dequantize int32 + bias + gelu -> int8 per token",
          inter,
          f * 5,
          () ->
              NativeApi.dequantizeBiasAct(
                  DType.FP16,
                  null,
                  perToken,
                  acc,
                  DType.INT32,
                  rowIn,
                  0f,
                  wScale,
                  bias,
                  true,
                  tokens,
                  inter,
                  stream));
      row(
          "mode1 ln: dequantize int32 + bias + residual + layernorm -> fp16 + int8",
          hidden,
          h * (4 + 2 + 2 + 1),
          () ->
              NativeApi.dequantizeBiasResidualLayerNorm(
                  DType.FP16,
                  y,
                  perToken,
                  acc,
                  DType.INT32,
                  rowIn,
                  0f,
                  wScale,
                  bias,
                  residual,
                  gamma,
                  beta,
                  eps,
                  false,
                  tokens,
                  hidden,
                  stream));
      row(
          "mode2 ffn1: dequantize int8 + bias + gelu -> int8 per token",
          inter,
          f * 2,
          () ->
              NativeApi.dequantizeBiasAct(
                  DType.FP16,
                  null,
                  perToken,
                  acc8,
                  DType.INT8,
                  null,
                  1f,
                  wScale,
                  bias,
                  true,
                  tokens,
                  inter,
                  stream));
      row(
          "mode2 ln: int8 + bias + residual + layernorm -> int8 + dequantized fp16",
          hidden,
          h * (1 + 2 + 2 + 1),
          () ->
              NativeApi.dequantizeBiasResidualLayerNorm(
                  DType.FP16,
                  y,
                  perToken,
                  acc8,
                  DType.INT8,
                  null,
                  1f,
                  wScale,
                  bias,
                  residual,
                  gamma,
                  beta,
                  eps,
                  true,
                  tokens,
                  hidden,
                  stream));
      row(
          "fp16 ln: bias + residual + layernorm",
          hidden,
          h * 6,
          () ->
              NativeApi.addBiasResidualLayerNorm(
                  DType.FP16, y, x, bias, residual, gamma, beta, eps, tokens, hidden, stream));
      row(
          "fp16 ffn1: bias + gelu in place",
          inter,
          f * 4,
          () -> NativeApi.addBiasGelu(DType.FP16, y, bias, tokens, inter, stream));
    }

    private void row(String what, int cols, long bytes, Runnable launch) {
      if (once) {
        System.out.println("launch,row,\"" + what + "\",cols " + cols);
      }
      double us = time(launch);
      if (!once) {
        print("row", what, cols, 0, us, bytes / (us * 1e3));
      }
    }

    /** GPU microseconds of one launch (graph replays); in "prof" mode one direct launch, NaN. */
    private double time(Runnable launch) {
      if (!once) {
        return GraphTimer.micros(stream, launch);
      }
      launch.run();
      stream.synchronize();
      return Double.NaN;
    }

    private void print(String part, String what, int n, int k, double us, double gbps) {
      System.out.println(
          String.format(
              Locale.ROOT, "%d,%s,\"%s\",%d,%d,%.2f,%.0f", tokens, part, what, n, k, us, gbps));
    }
  }
}
