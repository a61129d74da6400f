package org.ft4j.cuda;

import static org.bytedeco.cuda.global.cudart.cudaStreamCreateWithFlags;
import static org.bytedeco.cuda.global.cudart.cudaStreamDestroy;
import static org.bytedeco.cuda.global.cudart.cudaStreamNonBlocking;
import static org.bytedeco.cuda.global.cudart.cudaStreamSynchronize;

import org.bytedeco.cuda.cudart.CUstream_st;

/** A non-blocking CUDA stream. Not thread-safe; close once. */
public final class CudaStream implements AutoCloseable {
  private CUstream_st handle;

  private CudaStream(CUstream_st handle) {
    this.handle = handle;
  }

  /** Creates a stream that does not synchronise with the legacy default stream. */
  public static CudaStream create() {
    CudaRuntime.ensureLoaded();
    CUstream_st s = new CUstream_st();
    CudaRuntime.check(
        cudaStreamCreateWithFlags(s, cudaStreamNonBlocking), "cudaStreamCreateWithFlags");
    return new CudaStream(s);
  }

  /** The raw stream for bytedeco and ft4j native calls. */
  public CUstream_st handle() {
    if (handle == null) {
      throw new IllegalStateException("stream is closed");
    }
    return handle;
  }

  /** Waits until all work queued on the stream is done; a kernel failure surfaces here. */
  public void synchronize() {
    CudaRuntime.check(cudaStreamSynchronize(handle()), "cudaStreamSynchronize");
  }

  @Override
  public void close() {
    if (handle != null) {
      CUstream_st h = handle;
      handle = null;
      CudaRuntime.check(cudaStreamDestroy(h), "cudaStreamDestroy");
    }
  }
}
