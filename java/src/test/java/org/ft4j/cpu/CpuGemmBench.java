package org.ft4j.cpu;

import java.util.Locale;
import java.util.SplittableRandom;

/**
 * GFLOP/s of the CPU encoder's GEMM ({@link PackedMatrix}) on one thread (the micro-kernel and its
 * blocking, no fork-join) and on the shared pool, for BERT-family projection shapes. Not a test:
 * run it with {@code scripts/cpu-bench.sh gemm [rows,...]}.
 *
 * <p>Output: CSV lines {@code shape,rows,in,out,threads,gflops} (median of 7 timed repeats after
 * warm-up).
 */
public final class CpuGemmBench {
  private CpuGemmBench() {}

  public static void main(String[] args) {
    int[] rowsList = {985, 31};
    if (args.length > 0) {
      String[] parts = args[0].split(",");
      rowsList = new int[parts.length];
      for (int i = 0; i < parts.length; i++) {
        rowsList[i] = Integer.parseInt(parts[i].trim());
      }
    }
    // MiniLM-L6 / BGE-small (hidden 384) and BERT-base (hidden 768) projections: QKV, FFN1, FFN2
    int[][] shapes = {{384, 1152}, {384, 1536}, {1536, 384}, {768, 2304}, {768, 3072}, {3072, 768}};
    CpuKernels k = CpuKernels.best();
    System.out.println(
        "# kernels "
            + k.name()
            + ", "
            + Runtime.getRuntime().availableProcessors()
            + " cores, "
            + System.getProperty("java.vm.version"));
    System.out.println("shape,rows,in,out,threads,gflops");
    SplittableRandom rnd = new SplittableRandom(7);
    for (int rows : rowsList) {
      for (int[] s : shapes) {
        int in = s[0];
        int out = s[1];
        float[] w = new float[in * out];
        float[] x = new float[rows * in];
        for (int i = 0; i < w.length; i++) {
          w[i] = (float) (rnd.nextDouble() - 0.5);
        }
        for (int i = 0; i < x.length; i++) {
          x[i] = (float) (rnd.nextDouble() - 0.5);
        }
        PackedMatrix p = PackedMatrix.ofRowMajor(w, out, in, k);
        float[] y = new float[rows * out];
        int panels = (out + p.nb - 1) / p.nb;
        double flop = 2.0 * rows * in * out;
        Runnable one =
            () -> PackedMatrix.multiply(k, x, 0, in, rows, p.data, out, in, 0, panels, y, 0, out);
        Runnable pool =
            () ->
                CpuEncoder.sharedPool()
                    .invoke(
                        java.util.concurrent.ForkJoinTask.adapt(
                            () -> p.multiply(k, x, rows, y, null)));
        String name = in + "x" + out;
        print(name, rows, in, out, 1, flop / seconds(one, flop));
        print(
            name,
            rows,
            in,
            out,
            CpuEncoder.sharedPool().getParallelism(),
            flop / seconds(pool, flop));
      }
    }
  }

  private static void print(String name, int rows, int in, int out, int threads, double flops) {
    System.out.printf(
        Locale.ROOT, "%s,%d,%d,%d,%d,%.1f%n", name, rows, in, out, threads, flops / 1e9);
  }

  /** Median seconds of one call, each timed repeat running ~0.2 s worth of calls. */
  private static double seconds(Runnable r, double flop) {
    int calls = Math.max(1, (int) (0.2 / (flop / 60e9)));
    for (int i = 0; i < 3 * calls; i++) {
      r.run();
    }
    double[] t = new double[7];
    for (int rep = 0; rep < t.length; rep++) {
      long t0 = System.nanoTime();
      for (int i = 0; i < calls; i++) {
        r.run();
      }
      t[rep] = (System.nanoTime() - t0) / 1e9 / calls;
    }
    java.util.Arrays.sort(t);
    return t[t.length / 2];
  }
}
