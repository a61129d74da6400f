package org.ft4j.cuda;

import static org.bytedeco.cuda.global.cudart.cudaEventCreate;
import static org.bytedeco.cuda.global.cudart.cudaEventDestroy;
import static org.bytedeco.cuda.global.cudart.cudaEventElapsedTime;
import static org.bytedeco.cuda.global.cudart.cudaEventRecord;
import static org.bytedeco.cuda.global.cudart.cudaEventSynchronize;

import org.bytedeco.cuda.cudart.CUevent_st;

/** A timing CUDA event. */
public final class CudaEvent implements AutoCloseable {
  private CUevent_st handle;

  private CudaEvent(CUevent_st handle) {
    this.handle = handle;
  }

  public static CudaEvent create() {
    CudaRuntime.ensureLoaded();
    CUevent_st e = new CUevent_st();
    CudaRuntime.check(cudaEventCreate(e), "cudaEventCreate");
    return new CudaEvent(e);
  }

  public void record(CudaStream stream) {
    CudaRuntime.check(cudaEventRecord(handle(), stream.handle()), "cudaEventRecord");
  }

  public void synchronize() {
    CudaRuntime.check(cudaEventSynchronize(handle()), "cudaEventSynchronize");
  }

  /** Milliseconds between two recorded, completed events. */
  public static float elapsedMillis(CudaEvent start, CudaEvent end) {
    float[] ms = new float[1];
    CudaRuntime.check(
        cudaEventElapsedTime(ms, start.handle(), end.handle()), "cudaEventElapsedTime");
    return ms[0];
  }

  private CUevent_st handle() {
    if (handle == null) {
      throw new IllegalStateException("event is closed");
    }
    return handle;
  }

  @Override
  public void close() {
    if (handle != null) {
      CUevent_st h = handle;
      handle = null;
      CudaRuntime.check(cudaEventDestroy(h), "cudaEventDestroy");
    }
  }
}
