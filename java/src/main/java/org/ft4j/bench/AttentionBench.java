package org.ft4j.bench;

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
 * Attention time per layer, fused kernel against the unfused path (QKV split + two batched cuBLASLt
 * GEMMs + masked softmax + merge), all tokens valid, from the QKV GEMM output to the [tokens,
 * hidden] context; and the INT8 modes' fused attention, int8 context out, the bias of the row's
 * type: mode 1 (QKV of the row's type in) in the int8_out_us column, mode 2 (int8 QKV in) in
 * int8_us. fused_WxM_us: the mma.sync tensor-core path with W warps per block and M m16 tiles (16
 * query rows) per warp forced (NaN off that path), to check the automatic choice; wgmma_GxK_us: the
 * warpgroup-MMA path (sm_90, head size 64 or 128) with G warpgroups per block and K keys per step
 * forced (NaN where it does not apply), to decide whether it becomes the default. Compare with the
 * "sdpa_attention_only_us_per_layer" column of ../shared/anchors/pytorch_encoder.py run on the same
 * GPU.
 *
 * <pre>java -cp 'lib/*' org.ft4j.bench.AttentionBench [32x128,32x384,8x1024,4x4096] [heads] [d]
 * </pre>
 */
public final class AttentionBench {
  private AttentionBench() {}

  /** Tilings timed beside the automatic one: {warps per block, m-tiles per warp}. */
  private static final int[][] TILINGS = {{4, 1}, {8, 1}, {4, 2}, {8, 2}};

  /** Warpgroup-path tilings timed: {warpgroups per block, keys per step}. */
  private static final int[][] WGMMA_TILINGS = {{1, 64}, {2, 64}, {1, 128}, {2, 128}};

  public static void main(String[] args) {
    String shapes = args.length > 0 ? args[0] : "1x128,32x128,32x384,8x1024,4x4096";
    int heads = args.length > 1 ? Integer.parseInt(args[1]) : 12;
    int d = args.length > 2 ? Integer.parseInt(args[2]) : 64;
    int hidden = heads * d;
    System.out.println(
        "dtype,batch,seq,heads,d,fused_path,fused_us,fused_4x1_us,fused_8x1_us,fused_4x2_us,fused_8x2_us,wgmma_1x64_us,wgmma_2x64_us,wgmma_1x128_us,wgmma_2x128_us,unfused_us,int8_out_us,int8_us");
    try (CublasLt lt = CublasLt.create();
        CudaStream stream = CudaStream.create();
        DeviceBuffer workspace = DeviceBuffer.allocate(32L << 20)) {
      for (DType t : new DType[] {DType.FP16, DType.FP32}) {
        for (String shape : shapes.split(",")) {
          int batch = Integer.parseInt(shape.split("x")[0]);
          int seq = Integer.parseInt(shape.split("x")[1]);
          long tokens = (long) batch * seq;
          int[] lengths = new int[batch];
          java.util.Arrays.fill(lengths, seq);
          float scale = (float) (1 / Math.sqrt(d));
          long scores = (long) batch * heads * seq * seq;
          try (DeviceBuffer qkv = DeviceBuffer.allocate(t, tokens * 3 * hidden);
              DeviceBuffer bias = DeviceBuffer.allocate(t, 3L * hidden);
              DeviceBuffer out = DeviceBuffer.allocate(t, tokens * hidden);
              DeviceBuffer len = DeviceBuffer.of(lengths);
              DeviceBuffer off = DeviceBuffer.allocate(DType.INT32, batch + 1L);
              DeviceBuffer q = DeviceBuffer.allocate(t, tokens * hidden);
              DeviceBuffer k = DeviceBuffer.allocate(t, tokens * hidden);
              DeviceBuffer v = DeviceBuffer.allocate(t, tokens * hidden);
              DeviceBuffer ctx = DeviceBuffer.allocate(t, tokens * hidden);
              DeviceBuffer s = DeviceBuffer.allocate(t, scores);
              DeviceBuffer qkv8 = DeviceBuffer.allocate(DType.INT8, tokens * 3 * hidden);
              DeviceBuffer out8 = DeviceBuffer.allocate(DType.INT8, tokens * hidden);
              MatmulPlan qk =
                  new MatmulPlan(
                      lt,
                      GemmShape.attentionScores(batch * heads, seq, d),
                      t,
                      scale,
                      Epilogue.NONE,
                      workspace.bytes(),
                      false);
              MatmulPlan pv =
                  new MatmulPlan(
                      lt,
                      GemmShape.attentionContext(batch * heads, seq, d),
                      t,
                      1f,
                      Epilogue.NONE,
                      workspace.bytes(),
                      false)) {
            qkv.fillBytes(0x2C); // small finite values (FP16 ~0.06, FP32 ~2.4e-12)
            bias.fillBytes(0x2C);
            NativeApi.lengthsToOffsets(len, batch, off, stream);
            int rows = (int) tokens;
            Runnable fusedCall =
                () ->
                    NativeApi.fusedAttention(
                        t, out, qkv, bias, off, rows, batch, heads, d, seq, seq, scale, stream);
            double fused = GraphTimer.micros(stream, fusedCall);
            // the mma.sync path with its tiling forced (warps x m-tiles per warp of TILINGS),
            // then the warpgroup path with each of WGMMA_TILINGS
            StringBuilder forced = new StringBuilder();
            try {
              NativeApi.setFusedAttentionWgmma(-1, 0);
              boolean mma =
                  NativeApi.fusedAttentionPath(t, heads, d) == NativeApi.AttentionPath.TENSOR_CORES;
              for (int[] tiling : TILINGS) {
                double us = Double.NaN;
                if (mma) {
                  NativeApi.setFusedAttentionTiling(tiling[0], tiling[1]);
                  us = GraphTimer.micros(stream, fusedCall);
                }
                forced.append(String.format(Locale.ROOT, ",%.2f", us));
              }
              NativeApi.setFusedAttentionTiling(0, 0);
              for (int[] tiling : WGMMA_TILINGS) {
                NativeApi.setFusedAttentionWgmma(tiling[0], tiling[1]);
                double us = Double.NaN;
                if (NativeApi.fusedAttentionPath(t, heads, d)
                    == NativeApi.AttentionPath.WARPGROUP_TENSOR_CORES) {
                  us = GraphTimer.micros(stream, fusedCall);
                }
                forced.append(String.format(Locale.ROOT, ",%.2f", us));
              }
            } finally {
              NativeApi.setFusedAttentionTiling(0, 0);
              NativeApi.setFusedAttentionWgmma(0, 0);
            }
            qkv8.fillBytes(0x05);
            double int8Out =
                GraphTimer.micros(
                    stream,
                    () ->
                        NativeApi.fusedAttentionInt8(
                            t, t, out8, qkv, bias, off, rows, batch, heads, d, seq, seq, scale, 1f,
                            1f, 1f, 1f, stream));
            double int8 =
                GraphTimer.micros(
                    stream,
                    () ->
                        NativeApi.fusedAttentionInt8(
                            t,
                            DType.INT8,
                            out8,
                            qkv8,
                            bias,
                            off,
                            rows,
                            batch,
                            heads,
                            d,
                            seq,
                            seq,
                            scale,
                            0.01f,
                            0.01f,
                            0.01f,
                            1f,
                            stream));
            double unfused =
                GraphTimer.micros(
                    stream,
                    () -> {
                      NativeApi.addQkvBiasSplitHeads(
                          t, q, k, v, qkv, bias, batch, seq, heads, d, stream);
                      qk.run(stream, q, k, s, null, workspace);
                      NativeApi.maskedSoftmax(t, s, len, batch, heads, seq, 1f, stream);
                      pv.run(stream, s, v, ctx, null, workspace);
                      NativeApi.mergeHeads(t, out, ctx, batch, seq, heads, d, stream);
                    });
            System.out.printf(
                Locale.ROOT,
                "%s,%d,%d,%d,%d,%s,%.2f%s,%.2f,%.2f,%.2f%n",
                t,
                batch,
                seq,
                heads,
                d,
                NativeApi.fusedAttentionPath(t, heads, d),
                fused,
                forced,
                unfused,
                int8Out,
                int8);
          }
        }
      }
    }
  }
}
