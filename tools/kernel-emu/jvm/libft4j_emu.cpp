// kernel-emu JVM mode: the C API of libft4j (native/src/ft4j.cpp) over every kernel, built for the
// CPU emulator (shim/) as a shared library that is LD_PRELOADed into a JVM, so that ft4j's Java
// code runs its GPU paths on the CPU (run-java-gpu-tests.sh). Built with hidden visibility: only
// the ft4j_* API (FT4J_API) and the two buffer functions below are exported, the emulator's own
// CUDA stand-ins stay inside.
//
// Settings (environment): FT4J_EMU_RUNS = schedules per launch (default 1: no race check, which
// the kernel tests do; 3 compares three schedules bit for bit as they do).
#include "activation.cu.cpp"
#include "attention.cu.cpp"
#include "convert.cu.cpp"
#include "embedding.cu.cpp"
#include "fused_attention.cu.cpp"
#include "gemm_int8.cu.cpp"
#include "layernorm.cu.cpp"
#include "padding.cu.cpp"
#include "pooling.cu.cpp"
#include "quantize.cu.cpp"
#include "ft4j.cpp"

#define KERNEL_EMU_API extern "C" __attribute__((visibility("default")))

namespace {
struct Setup {
  Setup() {
    const char* r = getenv("FT4J_EMU_RUNS");
    emu::config().runs = r && *r ? atoi(r) : 1;
    emu::device() = emu::Device{9, 0, 132, 232448};  // as fake_cudart.cpp reports it
  }
} setup;
}  // namespace

// Device memory for the fake cudaMalloc: an emulator buffer between guard pages.
KERNEL_EMU_API void* kernel_emu_dev_alloc(size_t bytes) {
  std::lock_guard<std::recursive_mutex> hold(emu::big_lock());
  return emu::dev_alloc(bytes, 1, "cudaMalloc(" + std::to_string(bytes) + ")");
}

// 1 when p was a buffer of kernel_emu_dev_alloc (now freed), else 0.
KERNEL_EMU_API int kernel_emu_dev_free(void* p) {
  std::lock_guard<std::recursive_mutex> hold(emu::big_lock());
  if (emu::find_buf(p) == nullptr) return 0;
  emu::dev_free(p);
  return 1;
}
