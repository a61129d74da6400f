package org.ft4j.bench;

import java.util.Arrays;
import java.util.Locale;
import org.ft4j.cuda.CudaStream;
import org.ft4j.cuda.DType;
import org.ft4j.cuda.DeviceBuffer;
import org.ft4j.gemm.CublasLt;
import org.ft4j.gemm.Epilogue;
import org.ft4j.gemm.GemmShape;
import org.ft4j.gemm.MatmulPlan;
import org.ft4j.nativeapi.NativeApi;

/**
 * Should the encoder's biases go into the cuBLASLt epilogue or into ft4j's own kernels? For the
 * four linear GEMMs of a BERT layer, times with CUDA events (median of 7 runs of GraphTimer.REPS
 * (50) launches): the GEMM without epilogue, with the BIAS epilogue, with the (tanh) GELU_BIAS
 * epilogue for FFN1, and ft4j's add-bias-GELU kernel. ft4j's split-heads and layernorm kernels read
 * the bias while they pass over the GEMM output anyway, so the bias costs them nothing measurable;
 * the epilogue pays only if BIAS is as fast as NONE.
 *
 * <pre>java -cp 'lib/*' org.ft4j.bench.EpilogueBench [tokens,...] [hidden] [intermediate]</pre>
 */
public final class EpilogueBench {
  private EpilogueBench() {}

  public static void main(String[] args) {
    int[] tokensList =
        args.length > 0
            ? Arrays.stream(args[0].split(",")).mapToInt(Integer::parseInt).toArray()
            : new int[] {128, 4096, 12288};
    int hidden = args.length > 1 ? Integer.parseInt(args[1]) : 768;
    int inter = args.length > 2 ? Integer.parseInt(args[2]) : 4 * hidden;
    System.out.println(
        "dtype,tokens,gemm,n,k,none_us,bias_us,gelu_bias_tanh_us,ft4j_add_bias_gelu_us");
    try (CublasLt lt = CublasLt.create();
        CudaStream stream = CudaStream.create();
        DeviceBuffer workspace = DeviceBuffer.allocate(32L << 20)) {
      for (DType t : new DType[] {DType.FP16, DType.FP32}) {
        for (int tokens : tokensList) {
          int[][] gemms = {
            {3 * hidden, hidden}, {hidden, hidden}, {inter, hidden}, {hidden, inter}
          };
          String[] names = {"qkv", "attn_out", "ffn1", "ffn2"};
          for (int g = 0; g < gemms.length; g++) {
            int n = gemms[g][0];
            int k = gemms[g][1];
            GemmShape shape = GemmShape.linear(tokens, k, n);
            try (DeviceBuffer a = DeviceBuffer.allocate(t, (long) tokens * k);
                DeviceBuffer w = DeviceBuffer.allocate(t, (long) n * k);
                DeviceBuffer c = DeviceBuffer.allocate(t, (long) tokens * n);
                DeviceBuffer bias = DeviceBuffer.allocate(t, n)) {
              // small finite values: halves 0x3C3C (~1.06) and 0x1C1C (~0.004); floats ~0.0115,
              // ~5e-22
              a.fillBytes(0x3C);
              w.fillBytes(0x1C);
              bias.fillBytes(0x1C);
              double none = timeGemm(lt, shape, t, Epilogue.NONE, a, w, c, null, workspace, stream);
              double withBias =
                  timeGemm(lt, shape, t, Epilogue.BIAS, a, w, c, bias, workspace, stream);
              String gelu = "";
              String kernel = "";
              if (g == 2) {
                gelu =
                    fmt(
                        timeGemm(
                            lt,
                            shape,
                            t,
                            Epilogue.GELU_BIAS_TANH,
                            a,
                            w,
                            c,
                            bias,
                            workspace,
                            stream));
                kernel =
                    fmt(
                        GraphTimer.micros(
                            stream, () -> NativeApi.addBiasGelu(t, c, bias, tokens, n, stream)));
              }
              System.out.println(
                  String.join(
                      ",",
                      t.toString(),
                      Integer.toString(tokens),
                      names[g],
                      Integer.toString(n),
                      Integer.toString(k),
                      fmt(none),
                      fmt(withBias),
                      gelu,
                      kernel));
            }
          }
        }
      }
    }
  }

  private static double timeGemm(
      CublasLt lt,
      GemmShape shape,
      DType t,
      Epilogue epilogue,
      DeviceBuffer a,
      DeviceBuffer w,
      DeviceBuffer c,
      DeviceBuffer bias,
      DeviceBuffer workspace,
      CudaStream stream) {
    try (MatmulPlan plan = new MatmulPlan(lt, shape, t, 1f, epilogue, workspace.bytes(), false)) {
      return GraphTimer.micros(stream, () -> plan.run(stream, a, w, c, bias, workspace));
    }
  }

  private static String fmt(double us) {
    return String.format(Locale.ROOT, "%.2f", us);
  }
}
