package org.ft4j.cuda;

import static org.bytedeco.cuda.global.cudart.cudaDeviceSynchronize;
import static org.bytedeco.cuda.global.cudart.cudaGetDeviceProperties;
import static org.bytedeco.cuda.global.cudart.cudaMemGetInfo;
import static org.bytedeco.cuda.global.cudart.cudaSetDevice;

import org.bytedeco.cuda.cudart.cudaDeviceProp;
import org.bytedeco.javacpp.SizeTPointer;
import org.ft4j.nativeapi.NativeApi;

/**
 * One CUDA device. {@link #count()} probes through ft4j's own library, which links only the CUDA
 * runtime, so it answers 0 on a machine without a driver instead of failing; everything else needs
 * a device.
 */
public final class CudaDevice {
  private final int ordinal;
  private final String name;
  private final int smMajor;
  private final int smMinor;
  private final long totalMemory;
  private final int multiprocessors;
  private final int runtimeVersion;
  private final int driverVersion;

  private CudaDevice(
      int ordinal,
      String name,
      int smMajor,
      int smMinor,
      long totalMemory,
      int multiprocessors,
      int runtimeVersion,
      int driverVersion) {
    this.ordinal = ordinal;
    this.name = name;
    this.smMajor = smMajor;
    this.smMinor = smMinor;
    this.totalMemory = totalMemory;
    this.multiprocessors = multiprocessors;
    this.runtimeVersion = runtimeVersion;
    this.driverVersion = driverVersion;
  }

  /**
   * Number of usable CUDA devices; 0 when the native library, the driver or a device is missing.
   */
  public static int count() {
    if (NativeApi.loadFailure() != null) {
      return 0;
    }
    return NativeApi.cudaDeviceCount();
  }

  /** True when at least one CUDA device can be used. */
  public static boolean isAvailable() {
    return count() > 0;
  }

  /** Why no device can be used, for messages; null when one can. */
  public static String unavailableReason() {
    Throwable failure = NativeApi.loadFailure();
    if (failure != null) {
      return "the ft4j native library could not be loaded: " + failure.getMessage();
    }
    if (NativeApi.cudaDeviceCount() == 0) {
      return "no CUDA device (or no NVIDIA driver) was found";
    }
    return null;
  }

  /** Opens device {@code ordinal} and makes it current on this thread. */
  public static CudaDevice open(int ordinal) {
    int n = count();
    if (n == 0) {
      throw new CudaException(
          unavailableReason() + "; use --backend cpu on machines without a GPU");
    }
    if (ordinal < 0 || ordinal >= n) {
      throw new IllegalArgumentException("CUDA device " + ordinal + " out of range [0, " + n + ")");
    }
    NativeApi.DeviceInfo info = NativeApi.deviceInfo(ordinal);
    CudaRuntime.ensureLoaded();
    CudaRuntime.check(cudaSetDevice(ordinal), "cudaSetDevice(" + ordinal + ")");
    try (cudaDeviceProp prop = new cudaDeviceProp()) {
      CudaRuntime.check(cudaGetDeviceProperties(prop, ordinal), "cudaGetDeviceProperties");
      return new CudaDevice(
          ordinal,
          prop.name().getString(),
          info.smMajor(),
          info.smMinor(),
          prop.totalGlobalMem(),
          prop.multiProcessorCount(),
          info.runtimeVersion(),
          info.driverVersion());
    }
  }

  /** Makes this device current on the calling thread (CUDA's current device is per thread). */
  public void makeCurrent() {
    CudaRuntime.check(cudaSetDevice(ordinal), "cudaSetDevice(" + ordinal + ")");
  }

  /** Bytes of device memory in use (by every process), from cudaMemGetInfo. */
  public long memoryUsed() {
    makeCurrent();
    try (SizeTPointer free = new SizeTPointer(1);
        SizeTPointer total = new SizeTPointer(1)) {
      CudaRuntime.check(cudaMemGetInfo(free, total), "cudaMemGetInfo");
      return total.get() - free.get();
    }
  }

  /** Waits for all work on this device. */
  public void synchronize() {
    makeCurrent();
    CudaRuntime.check(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
  }

  public int ordinal() {
    return ordinal;
  }

  public String name() {
    return name;
  }

  public int smMajor() {
    return smMajor;
  }

  public int smMinor() {
    return smMinor;
  }

  /** Compute capability as an integer, e.g. 90 for sm_90. */
  public int sm() {
    return smMajor * 10 + smMinor;
  }

  public long totalMemory() {
    return totalMemory;
  }

  public int multiprocessors() {
    return multiprocessors;
  }

  /** CUDA runtime version, e.g. 13000 for 13.0. */
  public int runtimeVersion() {
    return runtimeVersion;
  }

  /** Highest CUDA version the driver supports, e.g. 13000. */
  public int driverVersion() {
    return driverVersion;
  }

  @Override
  public String toString() {
    return String.format(
        "%s (device %d, sm_%d%d, %d SMs, %.1f GiB, CUDA runtime %s, driver %s)",
        name,
        ordinal,
        smMajor,
        smMinor,
        multiprocessors,
        totalMemory / (double) (1L << 30),
        versionString(runtimeVersion),
        versionString(driverVersion));
  }

  static String versionString(int v) {
    return (v / 1000) + "." + (v % 1000) / 10;
  }
}
