package org.ft4j.cuda;

import static org.bytedeco.cuda.global.cudart.cudaGetErrorName;
import static org.bytedeco.cuda.global.cudart.cudaGetErrorString;

import org.bytedeco.cuda.global.cudart;
import org.bytedeco.javacpp.Loader;

/**
 * Loads bytedeco's CUDA runtime binding on first use and checks runtime status codes. The binding
 * needs the driver library (libcuda.so.1); on a machine without one, {@link #ensureLoaded()} throws
 * a {@link CudaException} that says so instead of an UnsatisfiedLinkError deep inside a call.
 */
public final class CudaRuntime {
  private static volatile boolean loaded;
  private static volatile Throwable loadFailure;

  private CudaRuntime() {}

  /** Loads the binding or throws a CudaException naming what is missing. */
  public static void ensureLoaded() {
    if (loaded) {
      return;
    }
    synchronized (CudaRuntime.class) {
      if (loaded) {
        return;
      }
      if (loadFailure == null) {
        try {
          Loader.load(cudart.class);
          loaded = true;
          return;
        } catch (Throwable t) {
          loadFailure = t;
        }
      }
    }
    throw new CudaException(
        "the CUDA runtime binding could not be loaded (an NVIDIA driver, libcuda.so.1, and the CUDA"
            + " 13 runtime, libcudart.so.13, are needed; on a machine without a GPU use --backend"
            + " cpu): "
            + loadFailure,
        loadFailure);
  }

  /** Throws a CudaException naming {@code what} when {@code status} is not cudaSuccess. */
  public static void check(int status, String what) {
    if (status != cudart.cudaSuccess) {
      throw new CudaException(what + " failed: " + describe(status));
    }
  }

  /** "cudaErrorMemoryAllocation (out of memory)" for a runtime status code. */
  public static String describe(int status) {
    return cudaGetErrorName(status).getString()
        + " ("
        + cudaGetErrorString(status).getString()
        + ", code "
        + status
        + ")";
  }
}
