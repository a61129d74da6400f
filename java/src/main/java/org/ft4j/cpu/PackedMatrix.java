package org.ft4j.cpu;

import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.ForkJoinTask;
import java.util.stream.IntStream;

/**
 * A logical [out, in] matrix W in {@link CpuKernels}' panel layout, and the GEMM y = x Wᵀ over it
 * (x [rows, in] → y [rows, out]): the form of every projection of the encoder (PyTorch stores a
 * linear layer's weight as [out, in]) and of both attention products.
 *
 * <p>Blocking: k-slices of {@value #KC} (a panel's slice, KC · nb floats, stays in L1 while the
 * rows stream past it), rows in blocks of {@value #ROW_BLOCK}; the parallel form splits rows and
 * panels into tasks on the current fork-join pool.
 */
final class PackedMatrix {
  /** k-slice length. */
  static final int KC = 256;

  /** Rows per parallel task (at most). */
  static final int ROW_BLOCK = 64;

  /** Products below this many multiply-adds run on the calling thread. */
  static final long SERIAL_WORK = 1L << 18;

  final int out;
  final int in;
  final int nb;
  final float[] data;

  private PackedMatrix(int out, int in, int nb, float[] data) {
    this.out = out;
    this.in = in;
    this.nb = nb;
    this.data = data;
  }

  /** W = {@code w} in PyTorch layout [out, in] (row-major), packed for {@code kernels}. */
  static PackedMatrix ofRowMajor(float[] w, int out, int in, CpuKernels kernels) {
    if ((long) out * in != w.length) {
      throw new IllegalArgumentException(
          "weight of " + w.length + " values is not [" + out + ", " + in + "]");
    }
    int nb = kernels.panelWidth();
    float[] data = new float[size(out, in, nb)];
    pack(w, 0, in, 1, out, in, nb, data);
    return new PackedMatrix(out, in, nb, data);
  }

  /** Floats a packed [out, in] matrix takes with panel width nb. */
  static int size(int out, int in, int nb) {
    long n = (long) ((out + nb - 1) / nb) * nb * in;
    if (n > Integer.MAX_VALUE - 8) {
      throw new IllegalArgumentException("[" + out + ", " + in + "] is too large to pack");
    }
    return (int) n;
  }

  /**
   * Packs the [out, in] matrix whose element (o, i) is {@code src[at + o·strideOut + i·strideIn]}
   * into {@code dst} (at least {@link #size} floats; columns past {@code out} set to 0).
   */
  static void pack(
      float[] src, int at, int strideOut, int strideIn, int out, int in, int nb, float[] dst) {
    int panels = (out + nb - 1) / nb;
    for (int pn = 0; pn < panels; pn++) {
      int o0 = pn * nb;
      int cols = Math.min(nb, out - o0);
      int base = pn * in * nb;
      if (strideIn == 1) { // rows of W contiguous (weights, K): read each row once, in order
        for (int j = 0; j < cols; j++) {
          int s = at + (o0 + j) * strideOut;
          for (int i = 0, d = base + j; i < in; i++, d += nb) {
            dst[d] = src[s + i];
          }
        }
        for (int j = cols; j < nb; j++) {
          for (int i = 0, d = base + j; i < in; i++, d += nb) {
            dst[d] = 0f;
          }
        }
        continue;
      }
      for (int i = 0; i < in; i++) {
        int d = base + i * nb;
        int s = at + o0 * strideOut + i * strideIn;
        for (int j = 0; j < cols; j++) {
          dst[d + j] = src[s + j * strideOut];
        }
        for (int j = cols; j < nb; j++) {
          dst[d + j] = 0f;
        }
      }
    }
  }

  /**
   * y[yAt + r·ldy + o] = sum_i x[xAt + r·ldx + i] · W[o, i] for r &lt; rows, o in the panels
   * [panel0, panel1), on the calling thread. W is the packed [out, in] matrix in {@code p}.
   */
  static void multiply(
      CpuKernels k,
      float[] x,
      int xAt,
      int ldx,
      int rows,
      float[] p,
      int out,
      int in,
      int panel0,
      int panel1,
      float[] y,
      int yAt,
      int ldy) {
    int nb = k.panelWidth();
    for (int k0 = 0; k0 < in; k0 += KC) {
      int kc = Math.min(KC, in - k0);
      for (int pn = panel0; pn < panel1; pn++) {
        int cols = Math.min(nb, out - pn * nb);
        k.panel(
            x,
            xAt + k0,
            ldx,
            rows,
            kc,
            p,
            (pn * in + k0) * nb,
            y,
            yAt + pn * nb,
            ldy,
            cols,
            k0 > 0);
      }
    }
  }

  /**
   * Threads a parallel stream started here runs on: the pool of the current worker thread, else the
   * common pool plus the calling thread.
   */
  static int threads() {
    ForkJoinPool p = ForkJoinTask.getPool();
    return p != null ? p.getParallelism() : ForkJoinPool.getCommonPoolParallelism() + 1;
  }

  /**
   * What runs on each finished tile of a product (its rows [row0, row0 + rows) and columns [col0,
   * col0 + cols), all k summed), in the task that computed it, while the tile is in cache: the
   * bias, or bias + GELU.
   */
  interface TileEpilogue {
    void apply(float[] y, int row0, int rows, int col0, int cols);
  }

  /**
   * y [rows, out] = x [rows, in] · Wᵀ, then {@code epilogue} (may be null) on every tile; split
   * into parallel tasks when the product is large.
   */
  void multiply(CpuKernels k, float[] x, int rows, float[] y, TileEpilogue epilogue) {
    int panels = (out + nb - 1) / nb;
    if ((long) rows * in * out < SERIAL_WORK) {
      multiply(k, x, 0, in, rows, data, out, in, 0, panels, y, 0, out);
      if (epilogue != null) {
        epilogue.apply(y, 0, rows, 0, out);
      }
      return;
    }
    int threads = threads();
    int rowBlocks = (rows + ROW_BLOCK - 1) / ROW_BLOCK;
    // Enough tasks for the pool (4 per thread) without cutting panels finer than needed.
    int panelGroups = Math.min(panels, Math.max(1, (4 * threads + rowBlocks - 1) / rowBlocks));
    int perGroup = (panels + panelGroups - 1) / panelGroups;
    int groups = (panels + perGroup - 1) / perGroup;
    IntStream.range(0, rowBlocks * groups)
        .parallel()
        .forEach(
            task -> {
              int rb = task / groups;
              int g = task % groups;
              int r0 = rb * ROW_BLOCK;
              int m = Math.min(ROW_BLOCK, rows - r0);
              int p0 = g * perGroup;
              int p1 = Math.min(panels, p0 + perGroup);
              multiply(k, x, r0 * in, in, m, data, out, in, p0, p1, y, r0 * out, out);
              if (epilogue != null) {
                int c0 = p0 * nb;
                epilogue.apply(y, r0, m, c0, Math.min(out, p1 * nb) - c0);
              }
            });
  }
}
