package org.ft4j.gemm;

import java.util.Locale;
import org.ft4j.cuda.CudaDevice;

/**
 * What a tuned GEMM algorithm is only valid for: the GPU model, its compute capability, the CUDA
 * runtime and the cuBLASLt library version. A config file's header records them; entries tuned
 * elsewhere are ignored (cuBLASLt renumbers and retunes algorithms between versions, and a winner
 * on one GPU model is not the winner on another).
 *
 * @param gpu the device name as CUDA reports it, e.g. "NVIDIA H100 80GB HBM3"
 * @param sm compute capability as an integer, e.g. 90
 * @param cudart CUDA runtime version, e.g. 13000
 * @param cublasLt cuBLASLt version (cublasLtGetVersion), e.g. 130100
 */
public record GemmEnvironment(String gpu, int sm, int cudart, long cublasLt) {

  public GemmEnvironment {
    if (gpu == null || gpu.isBlank() || !gpu.equals(gpu.strip()) || gpu.contains("\n")) {
      throw new IllegalArgumentException(
          "GPU name must be one non-blank line without surrounding spaces: '" + gpu + "'");
    }
    if (sm < 10 || cudart < 1 || cublasLt < 1) {
      throw new IllegalArgumentException(
          "implausible environment: sm " + sm + ", cudart " + cudart + ", cuBLASLt " + cublasLt);
    }
  }

  /** The environment of an open device (loads cuBLASLt to ask its version). */
  public static GemmEnvironment of(CudaDevice device) {
    CublasLt.ensureLoaded();
    return new GemmEnvironment(
        device.name(), device.sm(), device.runtimeVersion(), CublasLt.version());
  }

  /**
   * Whether algorithms tuned in {@code other} are valid here: same GPU model, SM and cuBLASLt
   * version (the CUDA runtime version is informative only: cuBLASLt chooses the kernels).
   */
  public boolean compatibleWith(GemmEnvironment other) {
    return gpu.equals(other.gpu) && sm == other.sm && cublasLt == other.cublasLt;
  }

  /** Why {@code other} is not compatible, or null when it is. */
  public String mismatch(GemmEnvironment other) {
    if (!gpu.equals(other.gpu)) {
      return "tuned on '" + other.gpu + "', this GPU is '" + gpu + "'";
    }
    if (sm != other.sm) {
      return "tuned on sm_" + other.sm + ", this GPU is sm_" + sm;
    }
    if (cublasLt != other.cublasLt) {
      return "tuned with cuBLASLt " + other.cublasLt + ", this process runs cuBLASLt " + cublasLt;
    }
    return null;
  }

  /**
   * The folder name of this GPU's shipped configs under gemm-configs/: the name in lower case, runs
   * of other characters as one '-', e.g. "nvidia-h100-80gb-hbm3".
   */
  public String gpuSlug() {
    return slug(gpu);
  }

  static String slug(String name) {
    String s = name.toLowerCase(Locale.ROOT).replaceAll("[^a-z0-9]+", "-");
    return s.replaceAll("^-+|-+$", "");
  }
}
