package org.ft4j.testing;

import org.ft4j.cuda.CudaStream;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * One CUDA stream for a GPU test class: skips the class where no CUDA device is usable, creates the
 * stream before the class's tests and closes it after them. Register it as
 * {@code @RegisterExtension static final GpuStream STREAM = new GpuStream();} and use {@link
 * #get()}.
 */
public final class GpuStream implements BeforeAllCallback, AfterAllCallback {
  private CudaStream stream;

  @Override
  public void beforeAll(ExtensionContext context) {
    GpuTesting.assumeCudaDevice();
    stream = CudaStream.create();
  }

  @Override
  public void afterAll(ExtensionContext context) {
    if (stream != null) {
      stream.close();
      stream = null;
    }
  }

  /** The stream (only inside the class's tests). */
  public CudaStream get() {
    if (stream == null) {
      throw new IllegalStateException("no stream: the GpuStream extension is not active");
    }
    return stream;
  }
}
