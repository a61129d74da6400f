package org.ft4j.gemm;

import static org.bytedeco.cuda.global.cublas.cublasGetStatusName;
import static org.bytedeco.cuda.global.cublas.cublasLtCreate;
import static org.bytedeco.cuda.global.cublas.cublasLtDestroy;
import static org.bytedeco.cuda.global.cublas.cublasLtGetVersion;

import org.bytedeco.cuda.cublas.cublasLtContext;
import org.bytedeco.cuda.global.cublas;
import org.bytedeco.javacpp.Loader;
import org.ft4j.cuda.CudaException;
import org.ft4j.cuda.CudaRuntime;

/** A cuBLASLt handle (bytedeco binding; needs libcublasLt.so.13 and libcublas.so.13). */
public final class CublasLt implements AutoCloseable {
  private cublasLtContext handle;

  private CublasLt(cublasLtContext handle) {
    this.handle = handle;
  }

  public static CublasLt create() {
    ensureLoaded();
    cublasLtContext h = new cublasLtContext();
    check(cublasLtCreate(h), "cublasLtCreate");
    return new CublasLt(h);
  }

  /** Loads the CUDA runtime and the cuBLASLt binding; a CudaException says what is missing. */
  public static void ensureLoaded() {
    CudaRuntime.ensureLoaded();
    try {
      Loader.load(cublas.class);
    } catch (Throwable t) {
      throw new CudaException(
          "the cuBLASLt binding could not be loaded (libcublasLt.so.13 and libcublas.so.13 from"
              + " CUDA 13 must be on the library path): "
              + t,
          t);
    }
  }

  /** cuBLASLt version, e.g. 130100. */
  public static long version() {
    ensureLoaded();
    return cublasLtGetVersion();
  }

  cublasLtContext handle() {
    if (handle == null) {
      throw new IllegalStateException("cuBLASLt handle is closed");
    }
    return handle;
  }

  /**
   * Throws a CudaException naming {@code what} when {@code status} is not CUBLAS_STATUS_SUCCESS.
   */
  static void check(int status, String what) {
    if (status != 0) {
      String name;
      try {
        name = cublasGetStatusName(status).getString();
      } catch (RuntimeException | LinkageError e) {
        name = "cuBLAS status " + status;
      }
      throw new CudaException(what + " failed: " + name + " (" + status + ")");
    }
  }

  @Override
  public void close() {
    if (handle != null) {
      cublasLtContext h = handle;
      handle = null;
      check(cublasLtDestroy(h), "cublasLtDestroy");
    }
  }
}
