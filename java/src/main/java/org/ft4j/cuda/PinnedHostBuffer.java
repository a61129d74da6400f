package org.ft4j.cuda;

import static org.bytedeco.cuda.global.cudart.cudaFreeHost;
import static org.bytedeco.cuda.global.cudart.cudaMallocHost;

import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.IntPointer;
import org.bytedeco.javacpp.Pointer;

/** Page-locked host memory: the staging area that makes host<->device copies asynchronous. */
public final class PinnedHostBuffer implements AutoCloseable {
  private final long bytes;
  private Pointer memory;

  private PinnedHostBuffer(Pointer memory, long bytes) {
    this.memory = memory;
    this.bytes = bytes;
  }

  public static PinnedHostBuffer allocate(long bytes) {
    if (bytes < 1) {
      throw new IllegalArgumentException("pinned allocation of " + bytes + " bytes, must be >= 1");
    }
    CudaRuntime.ensureLoaded();
    Pointer p = new Pointer();
    CudaRuntime.check(cudaMallocHost(p, bytes), "cudaMallocHost(" + bytes + " bytes)");
    return new PinnedHostBuffer(p, bytes);
  }

  public long bytes() {
    return bytes;
  }

  public Pointer pointer() {
    if (memory == null) {
      throw new IllegalStateException("pinned buffer is closed");
    }
    return memory;
  }

  /** Writes {@code data} at the start. */
  public void put(float[] data) {
    check(4L * data.length);
    new FloatPointer(pointer()).capacity(data.length).put(data);
  }

  /** Writes {@code data} at the start. */
  public void put(int[] data) {
    check(4L * data.length);
    new IntPointer(pointer()).capacity(data.length).put(data);
  }

  /** Reads {@code out.length} floats from the start. */
  public void get(float[] out) {
    check(4L * out.length);
    new FloatPointer(pointer()).capacity(out.length).get(out);
  }

  private void check(long length) {
    if (length > bytes) {
      throw new IllegalArgumentException(length + " bytes do not fit a pinned buffer of " + bytes);
    }
  }

  @Override
  public void close() {
    if (memory != null) {
      Pointer p = memory;
      memory = null;
      CudaRuntime.check(cudaFreeHost(p), "cudaFreeHost");
    }
  }
}
