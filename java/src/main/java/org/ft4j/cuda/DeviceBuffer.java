package org.ft4j.cuda;

import static org.bytedeco.cuda.global.cudart.cudaFree;
import static org.bytedeco.cuda.global.cudart.cudaMalloc;
import static org.bytedeco.cuda.global.cudart.cudaMemcpy;
import static org.bytedeco.cuda.global.cudart.cudaMemcpyAsync;
import static org.bytedeco.cuda.global.cudart.cudaMemcpyDefault;
import static org.bytedeco.cuda.global.cudart.cudaMemcpyDeviceToHost;
import static org.bytedeco.cuda.global.cudart.cudaMemcpyHostToDevice;
import static org.bytedeco.cuda.global.cudart.cudaMemset;
import static org.bytedeco.cuda.global.cudart.cudaMemsetAsync;
import static org.bytedeco.cuda.global.cudart.cudaStreamSynchronize;

import java.lang.ref.Cleaner;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.IntPointer;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.ShortPointer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Device memory from cudaMalloc, or a view (slice) into another buffer. Closing an owning buffer
 * frees it (views of it must not be used afterwards); closing a view does nothing. A buffer that is
 * garbage-collected without being closed is freed by a cleaner, with a warning, so a forgotten
 * close does not leak device memory for the life of the process.
 *
 * <p>The synchronous copies ({@code copyFrom(float[])}, {@code toFloatArray()}, ...) use the legacy
 * default stream semantics of cudaMemcpy: they wait for work queued on blocking streams only, so
 * synchronise your own non-blocking stream before reading results with them. Host-to-device copies
 * and fills are complete on the device when they return (any stream may use the data next).
 */
public final class DeviceBuffer implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(DeviceBuffer.class);
  private static final Cleaner CLEANER = Cleaner.create();

  private final long address;
  private final long bytes;
  private final DeviceBuffer owner; // null for an owning buffer
  private final Cleaner.Cleanable cleanable; // null for views
  private final Allocation allocation;
  private final Pointer pointer;

  private DeviceBuffer(long address, long bytes, DeviceBuffer owner, Allocation allocation) {
    this.address = address;
    this.bytes = bytes;
    this.owner = owner;
    this.allocation = allocation;
    this.cleanable = allocation == null ? null : CLEANER.register(this, allocation);
    this.pointer = new DevicePointer(address);
  }

  /** Allocates {@code bytes} (>= 1) of device memory. */
  public static DeviceBuffer allocate(long bytes) {
    if (bytes < 1) {
      throw new IllegalArgumentException("device allocation of " + bytes + " bytes, must be >= 1");
    }
    CudaRuntime.ensureLoaded();
    Pointer p = new Pointer();
    int status = cudaMalloc(p, bytes);
    if (status != 0) {
      throw new CudaException(
          "cudaMalloc("
              + bytes
              + " bytes = "
              + (bytes >> 20)
              + " MiB) failed: "
              + CudaRuntime.describe(status));
    }
    Allocation a = new Allocation(p.address(), bytes);
    return new DeviceBuffer(p.address(), bytes, null, a);
  }

  /** Allocates room for {@code elements} values of {@code type}. */
  public static DeviceBuffer allocate(DType type, long elements) {
    if (elements < 1) {
      throw new IllegalArgumentException(
          "device allocation of " + elements + " " + type + " elements");
    }
    return allocate(Math.multiplyExact(elements, (long) type.bytes()));
  }

  /** Allocates and fills with {@code data} (synchronous). */
  public static DeviceBuffer of(float[] data) {
    DeviceBuffer b = allocate(DType.FP32, data.length);
    b.copyFrom(data);
    return b;
  }

  /** Allocates and fills with {@code data} (synchronous). */
  public static DeviceBuffer of(int[] data) {
    DeviceBuffer b = allocate(DType.INT32, data.length);
    b.copyFrom(data);
    return b;
  }

  public long bytes() {
    return bytes;
  }

  /** The device address; valid while the owning buffer is open. */
  public long address() {
    checkOpen();
    return address;
  }

  /**
   * The "synchronous" cudaMemcpy from pageable memory and cudaMemset may return before the device
   * has finished: they run on the legacy default stream, which ft4j's non-blocking streams do not
   * wait for. Waiting for the legacy stream here makes the synchronous methods of this class really
   * complete, so work queued next on any stream sees the data.
   */
  private static void completeLegacyStream(String what) {
    CudaRuntime.check(cudaStreamSynchronize(null), "cudaStreamSynchronize(legacy) after " + what);
  }

  /** A JavaCPP pointer to the start of this buffer, for native calls. */
  public Pointer pointer() {
    checkOpen();
    return pointer;
  }

  /** A view of {@code length} bytes at {@code offset}; it owns nothing. */
  public DeviceBuffer slice(long offset, long length) {
    checkOpen();
    if (offset < 0 || length < 1 || offset > bytes - length) {
      throw new IllegalArgumentException(
          "slice ["
              + offset
              + ", "
              + offset
              + " + "
              + length
              + ") outside a buffer of "
              + bytes
              + " bytes");
    }
    return new DeviceBuffer(address + offset, length, owner == null ? this : owner, null);
  }

  /** True if at least {@code elements} values of {@code type} fit. */
  public boolean fits(DType type, long elements) {
    return elements >= 0 && elements <= bytes / type.bytes();
  }

  /**
   * Throws IllegalArgumentException naming {@code what} unless {@code elements} of {@code type}
   * fit.
   */
  public void requireFits(DType type, long elements, String what) {
    if (!fits(type, elements)) {
      throw new IllegalArgumentException(
          what
              + ": needs "
              + elements
              + " "
              + type
              + " values ("
              + elements * type.bytes()
              + " bytes), buffer has "
              + bytes
              + " bytes");
    }
  }

  /** Copies {@code data} to the start of the buffer (synchronous). */
  public void copyFrom(float[] data) {
    requireFits(DType.FP32, data.length, "copyFrom(float[])");
    try (FloatPointer host = new FloatPointer(data)) {
      CudaRuntime.check(
          cudaMemcpy(pointer(), host, 4L * data.length, cudaMemcpyHostToDevice),
          "cudaMemcpy host->device (" + data.length + " floats)");
      completeLegacyStream("cudaMemcpy host->device");
    }
  }

  /** Copies {@code data} to the start of the buffer (synchronous). */
  public void copyFrom(int[] data) {
    requireFits(DType.INT32, data.length, "copyFrom(int[])");
    try (IntPointer host = new IntPointer(data)) {
      CudaRuntime.check(
          cudaMemcpy(pointer(), host, 4L * data.length, cudaMemcpyHostToDevice),
          "cudaMemcpy host->device (" + data.length + " ints)");
      completeLegacyStream("cudaMemcpy host->device");
    }
  }

  /** Copies raw 16-bit values (e.g. FP16 bit patterns) to the start of the buffer (synchronous). */
  public void copyFrom(short[] data) {
    requireFits(DType.FP16, data.length, "copyFrom(short[])");
    try (ShortPointer host = new ShortPointer(data)) {
      CudaRuntime.check(
          cudaMemcpy(pointer(), host, 2L * data.length, cudaMemcpyHostToDevice),
          "cudaMemcpy host->device (" + data.length + " shorts)");
      completeLegacyStream("cudaMemcpy host->device");
    }
  }

  /** Copies int8 values to the start of the buffer (synchronous). */
  public void copyFrom(byte[] data) {
    requireFits(DType.INT8, data.length, "copyFrom(byte[])");
    try (BytePointer host = new BytePointer(data)) {
      CudaRuntime.check(
          cudaMemcpy(pointer(), host, data.length, cudaMemcpyHostToDevice),
          "cudaMemcpy host->device (" + data.length + " bytes)");
      completeLegacyStream("cudaMemcpy host->device");
    }
  }

  /** The first {@code count} int8 values (synchronous). */
  public byte[] toByteArray(int count) {
    requireFits(DType.INT8, count, "toByteArray");
    byte[] out = new byte[count];
    try (BytePointer host = new BytePointer(count)) {
      CudaRuntime.check(
          cudaMemcpy(host, pointer(), count, cudaMemcpyDeviceToHost),
          "cudaMemcpy device->host (" + count + " bytes)");
      host.get(out);
    }
    return out;
  }

  /** The first {@code count} FP32 values (synchronous). */
  public float[] toFloatArray(int count) {
    requireFits(DType.FP32, count, "toFloatArray");
    float[] out = new float[count];
    try (FloatPointer host = new FloatPointer(count)) {
      CudaRuntime.check(
          cudaMemcpy(host, pointer(), 4L * count, cudaMemcpyDeviceToHost),
          "cudaMemcpy device->host (" + count + " floats)");
      host.get(out);
    }
    return out;
  }

  /** The first {@code count} 16-bit values, e.g. FP16 bit patterns (synchronous). */
  public short[] toShortArray(int count) {
    requireFits(DType.FP16, count, "toShortArray");
    short[] out = new short[count];
    try (ShortPointer host = new ShortPointer(count)) {
      CudaRuntime.check(
          cudaMemcpy(host, pointer(), 2L * count, cudaMemcpyDeviceToHost),
          "cudaMemcpy device->host (" + count + " shorts)");
      host.get(out);
    }
    return out;
  }

  /** Queues a copy of {@code length} bytes from {@code source} (host or device) to this buffer. */
  public void copyFromAsync(Pointer source, long length, CudaStream stream) {
    if (length < 0 || length > bytes) {
      throw new IllegalArgumentException("copy of " + length + " bytes into a buffer of " + bytes);
    }
    CudaRuntime.check(
        cudaMemcpyAsync(pointer(), source, length, cudaMemcpyDefault, stream.handle()),
        "cudaMemcpyAsync -> device (" + length + " bytes)");
  }

  /** Queues a copy of the first {@code length} bytes of this buffer to {@code target}. */
  public void copyToAsync(Pointer target, long length, CudaStream stream) {
    if (length < 0 || length > bytes) {
      throw new IllegalArgumentException(
          "copy of " + length + " bytes out of a buffer of " + bytes);
    }
    CudaRuntime.check(
        cudaMemcpyAsync(target, pointer(), length, cudaMemcpyDefault, stream.handle()),
        "cudaMemcpyAsync device -> (" + length + " bytes)");
  }

  /** Sets every byte to {@code value} (synchronous; 0xFF poisons FP32 and FP16 data with NaN). */
  public void fillBytes(int value) {
    CudaRuntime.check(
        cudaMemset(pointer(), value & 0xFF, bytes), "cudaMemset (" + bytes + " bytes)");
    completeLegacyStream("cudaMemset");
  }

  /** Queues setting every byte to {@code value} (0xFF poisons FP32 and FP16 data with NaN). */
  public void fillBytes(int value, CudaStream stream) {
    CudaRuntime.check(
        cudaMemsetAsync(pointer(), value & 0xFF, bytes, stream.handle()),
        "cudaMemsetAsync (" + bytes + " bytes)");
  }

  public boolean isOpen() {
    return owner == null ? !allocation.freed : owner.isOpen();
  }

  private void checkOpen() {
    if (!isOpen()) {
      throw new IllegalStateException("device buffer of " + bytes + " bytes is closed");
    }
  }

  @Override
  public void close() {
    if (allocation != null && !allocation.freed) {
      allocation.closedExplicitly = true;
      cleanable.clean();
    }
  }

  /** The state a cleaner needs to free the memory; holds no reference to the buffer. */
  private static final class Allocation implements Runnable {
    private final long address;
    private final long bytes;
    private volatile boolean freed;
    private volatile boolean closedExplicitly;

    Allocation(long address, long bytes) {
      this.address = address;
      this.bytes = bytes;
    }

    @Override
    public void run() {
      if (freed) {
        return;
      }
      freed = true;
      if (!closedExplicitly) {
        LOG.warn("a device buffer of {} bytes was not closed; freeing it now", bytes);
      }
      int status = cudaFree(new DevicePointer(address));
      if (status != 0) {
        LOG.warn("cudaFree of {} bytes failed: {}", bytes, CudaRuntime.describe(status));
      }
    }
  }
}
