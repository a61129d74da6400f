// kernel-emu JVM mode: a CPU stand-in for the part of the CUDA runtime (libcudart) that ft4j's Java
// code calls through the JavaCPP presets (org.ft4j.cuda.*, the benchmarks). Compiled against the
// real CUDA headers, so every type, enum value and struct layout is the runtime's own; loaded with
// LD_PRELOAD in front of the real runtime (see run-java-gpu-tests.sh), whose symbols it shadows.
//
// What it models:
//  - one device, 0, an "sm_90" with 132 SMs and 80 GB (cudaGetDeviceProperties, attributes);
//  - device memory is host memory: cudaMalloc asks the emulator for a guarded buffer (PROT_NONE
//    pages around it, so an overrun faults at once), cudaMallocHost is plain aligned memory, every
//    copy is a memcpy;
//  - streams are tokens and every operation runs at once, in the calling thread (so every
//    synchronisation is already done), except on a stream that is being captured: then
//    copies, memsets, kernel launches (libft4j-emu) and cuBLASLt matmuls (fake_cublaslt.cpp) are
//    recorded as closures (fakecuda_capture_record) into the graph, which cudaGraphLaunch replays;
//  - events hold the host time at which they were recorded (elapsed times are CPU times: they say
//    nothing about a GPU).
// Anything else the Java side might call falls through to the real runtime, which reports that
// there is no driver.
#include <cuda_runtime_api.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#define FAKE_API extern "C" __attribute__((visibility("default")))

// from libft4j-emu (the kernel emulator's guarded buffers)
extern "C" void* kernel_emu_dev_alloc(size_t bytes);
extern "C" int kernel_emu_dev_free(void* p);

namespace {

struct Work {
  void (*run)(void*);
  void* ctx;
  void (*release)(void*);
};

struct WorkList {
  std::vector<Work> work;
  ~WorkList() {
    for (Work& w : work) {
      if (w.release) w.release(w.ctx);
    }
  }
};

// A graph and the executables made from it share the recorded work (on a GPU an executable is
// independent of its graph, which may be destroyed first); the last one releases it.
struct Graph {
  std::shared_ptr<WorkList> list = std::make_shared<WorkList>();
};

struct Exec {
  std::shared_ptr<WorkList> list;
};

struct Stream {
  Graph* capturing = nullptr;
};

struct Event {
  std::chrono::steady_clock::time_point at;
  bool recorded = false;
};

std::mutex& lock() {
  static std::mutex m;
  return m;
}

// Stream tokens handed out (the NULL/legacy stream is never capturing).
std::map<void*, Stream*>& streams() {
  static std::map<void*, Stream*> m;
  return m;
}

Stream* stream_of(cudaStream_t s) {
  if (s == nullptr) return nullptr;
  std::lock_guard<std::mutex> g(lock());
  auto it = streams().find(s);
  return it == streams().end() ? nullptr : it->second;
}

thread_local cudaError_t last_error = cudaSuccess;

cudaError_t fail(cudaError_t e) {
  last_error = e;
  return e;
}

}  // namespace

// The capture hook of libft4j-emu and fake_cublaslt.cpp: 1 when the stream is being captured and
// the work was recorded (the graph owns ctx from then on), 0 when it should run now.
FAKE_API int fakecuda_capture_record(void* stream, void (*run)(void*), void* ctx,
                                     void (*release)(void*)) {
  Stream* s = stream_of(static_cast<cudaStream_t>(stream));
  if (s == nullptr || s->capturing == nullptr) return 0;
  s->capturing->list->work.push_back(Work{run, ctx, release});
  return 1;
}

// ---- device ---------------------------------------------------------------------------------------
FAKE_API cudaError_t cudaGetDeviceCount(int* count) {
  *count = 1;
  return cudaSuccess;
}
FAKE_API cudaError_t cudaGetDevice(int* device) {
  *device = 0;
  return cudaSuccess;
}
FAKE_API cudaError_t cudaSetDevice(int device) {
  return device == 0 ? cudaSuccess : fail(cudaErrorInvalidDevice);
}
FAKE_API cudaError_t cudaDeviceSynchronize() { return cudaSuccess; }
FAKE_API cudaError_t cudaRuntimeGetVersion(int* v) {
  *v = 13000;
  return cudaSuccess;
}
FAKE_API cudaError_t cudaDriverGetVersion(int* v) {
  *v = 13000;
  return cudaSuccess;
}

static void fill_props(cudaDeviceProp* p) {
  memset(p, 0, sizeof *p);
  snprintf(p->name, sizeof p->name, "kernel-emu CPU (sm_90 model)");
  p->totalGlobalMem = size_t(80) << 30;
  p->sharedMemPerBlock = 48 * 1024;
  p->sharedMemPerBlockOptin = 232448;
  p->sharedMemPerMultiprocessor = 233472;
  p->regsPerBlock = 65536;
  p->warpSize = 32;
  p->maxThreadsPerBlock = 1024;
  p->maxThreadsDim[0] = p->maxThreadsDim[1] = 1024;
  p->maxThreadsDim[2] = 64;
  p->maxGridSize[0] = 0x7fffffff;
  p->maxGridSize[1] = p->maxGridSize[2] = 65535;
  p->major = 9;
  p->minor = 0;
  p->multiProcessorCount = 132;
  p->l2CacheSize = 50 * 1024 * 1024;
  p->maxThreadsPerMultiProcessor = 2048;
  p->memoryBusWidth = 5120;
  p->unifiedAddressing = 1;
  p->concurrentKernels = 1;
}
FAKE_API cudaError_t cudaGetDeviceProperties(cudaDeviceProp* p, int device) {
  if (device != 0) return fail(cudaErrorInvalidDevice);
  fill_props(p);
  return cudaSuccess;
}
FAKE_API cudaError_t cudaGetDeviceProperties_v2(cudaDeviceProp* p, int device) {
  return cudaGetDeviceProperties(p, device);
}
FAKE_API cudaError_t cudaDeviceGetAttribute(int* v, cudaDeviceAttr a, int device) {
  if (device != 0) return fail(cudaErrorInvalidDevice);
  switch (a) {
    case cudaDevAttrComputeCapabilityMajor: *v = 9; return cudaSuccess;
    case cudaDevAttrComputeCapabilityMinor: *v = 0; return cudaSuccess;
    case cudaDevAttrMultiProcessorCount: *v = 132; return cudaSuccess;
    case cudaDevAttrMaxSharedMemoryPerBlockOptin: *v = 232448; return cudaSuccess;
    case cudaDevAttrMaxThreadsPerBlock: *v = 1024; return cudaSuccess;
    default: return fail(cudaErrorInvalidValue);
  }
}
FAKE_API cudaError_t cudaMemGetInfo(size_t* free_bytes, size_t* total) {
  *total = size_t(80) << 30;
  *free_bytes = size_t(79) << 30;
  return cudaSuccess;
}

// ---- errors ---------------------------------------------------------------------------------------
FAKE_API cudaError_t cudaGetLastError() {
  cudaError_t e = last_error;
  last_error = cudaSuccess;
  return e;
}
FAKE_API cudaError_t cudaPeekAtLastError() { return last_error; }
FAKE_API const char* cudaGetErrorName(cudaError_t e) {
  switch (e) {
    case cudaSuccess: return "cudaSuccess";
    case cudaErrorInvalidValue: return "cudaErrorInvalidValue";
    case cudaErrorMemoryAllocation: return "cudaErrorMemoryAllocation";
    case cudaErrorInvalidDevice: return "cudaErrorInvalidDevice";
    case cudaErrorStreamCaptureInvalidated: return "cudaErrorStreamCaptureInvalidated";
    default: return "cudaErrorUnknown";
  }
}
FAKE_API const char* cudaGetErrorString(cudaError_t e) {
  switch (e) {
    case cudaSuccess: return "no error";
    case cudaErrorInvalidValue: return "invalid argument";
    case cudaErrorMemoryAllocation: return "out of memory";
    case cudaErrorInvalidDevice: return "invalid device ordinal";
    default: return "unknown error (kernel-emu fake runtime)";
  }
}

// ---- memory ---------------------------------------------------------------------------------------
FAKE_API cudaError_t cudaMalloc(void** p, size_t bytes) {
  *p = kernel_emu_dev_alloc(bytes == 0 ? 1 : bytes);
  return *p ? cudaSuccess : fail(cudaErrorMemoryAllocation);
}
FAKE_API cudaError_t cudaFree(void* p) {
  if (p == nullptr) return cudaSuccess;
  return kernel_emu_dev_free(p) ? cudaSuccess : fail(cudaErrorInvalidValue);
}
FAKE_API cudaError_t cudaMallocHost(void** p, size_t bytes) {
  *p = aligned_alloc(256, ((bytes == 0 ? 1 : bytes) + 255) / 256 * 256);
  return *p ? cudaSuccess : fail(cudaErrorMemoryAllocation);
}
FAKE_API cudaError_t cudaHostAlloc(void** p, size_t bytes, unsigned) { return cudaMallocHost(p, bytes); }
FAKE_API cudaError_t cudaFreeHost(void* p) {
  free(p);
  return cudaSuccess;
}

namespace {
struct CopyWork {
  void* dst;
  const void* src;
  size_t bytes;
  int value;  // memset value, or -1 for a copy
};
void run_copy(void* c) {
  CopyWork* w = static_cast<CopyWork*>(c);
  if (w->value < 0) memmove(w->dst, w->src, w->bytes); else memset(w->dst, w->value, w->bytes);
}
void release_copy(void* c) { delete static_cast<CopyWork*>(c); }
cudaError_t copy_on(cudaStream_t stream, void* dst, const void* src, size_t bytes, int value) {
  if (bytes == 0) return cudaSuccess;
  CopyWork* w = new CopyWork{dst, src, bytes, value};
  if (fakecuda_capture_record(stream, run_copy, w, release_copy)) return cudaSuccess;
  run_copy(w);
  delete w;
  return cudaSuccess;
}
}  // namespace

FAKE_API cudaError_t cudaMemcpy(void* dst, const void* src, size_t bytes, cudaMemcpyKind) {
  return copy_on(nullptr, dst, src, bytes, -1);
}
FAKE_API cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t bytes, cudaMemcpyKind,
                                     cudaStream_t stream) {
  return copy_on(stream, dst, src, bytes, -1);
}
FAKE_API cudaError_t cudaMemset(void* p, int value, size_t bytes) {
  return copy_on(nullptr, p, nullptr, bytes, value & 0xff);
}
FAKE_API cudaError_t cudaMemsetAsync(void* p, int value, size_t bytes, cudaStream_t stream) {
  return copy_on(stream, p, nullptr, bytes, value & 0xff);
}

// ---- streams, events ------------------------------------------------------------------------------
FAKE_API cudaError_t cudaStreamCreateWithFlags(cudaStream_t* s, unsigned) {
  Stream* st = new Stream();
  std::lock_guard<std::mutex> g(lock());
  streams()[st] = st;
  *s = reinterpret_cast<cudaStream_t>(st);
  return cudaSuccess;
}
FAKE_API cudaError_t cudaStreamCreate(cudaStream_t* s) { return cudaStreamCreateWithFlags(s, 0); }
FAKE_API cudaError_t cudaStreamDestroy(cudaStream_t s) {
  std::lock_guard<std::mutex> g(lock());
  auto it = streams().find(s);
  if (it == streams().end()) return fail(cudaErrorInvalidValue);
  delete it->second->capturing;
  delete it->second;
  streams().erase(it);
  return cudaSuccess;
}
FAKE_API cudaError_t cudaStreamSynchronize(cudaStream_t s) {
  Stream* st = stream_of(s);
  if (st && st->capturing) return fail(cudaErrorStreamCaptureUnsupported);  // as on a GPU
  return cudaSuccess;
}
FAKE_API cudaError_t cudaStreamQuery(cudaStream_t) { return cudaSuccess; }

FAKE_API cudaError_t cudaEventCreate(cudaEvent_t* e) {
  *e = reinterpret_cast<cudaEvent_t>(new Event());
  return cudaSuccess;
}
FAKE_API cudaError_t cudaEventCreateWithFlags(cudaEvent_t* e, unsigned) { return cudaEventCreate(e); }
FAKE_API cudaError_t cudaEventDestroy(cudaEvent_t e) {
  delete reinterpret_cast<Event*>(e);
  return cudaSuccess;
}
FAKE_API cudaError_t cudaEventRecord(cudaEvent_t e, cudaStream_t s) {
  Stream* st = stream_of(s);
  if (st && st->capturing) return fail(cudaErrorStreamCaptureUnsupported);  // not modelled
  Event* ev = reinterpret_cast<Event*>(e);
  ev->at = std::chrono::steady_clock::now();
  ev->recorded = true;
  return cudaSuccess;
}
FAKE_API cudaError_t cudaEventRecordWithFlags(cudaEvent_t e, cudaStream_t s, unsigned) {
  return cudaEventRecord(e, s);
}
FAKE_API cudaError_t cudaEventSynchronize(cudaEvent_t) { return cudaSuccess; }
FAKE_API cudaError_t cudaEventQuery(cudaEvent_t) { return cudaSuccess; }
FAKE_API cudaError_t cudaEventElapsedTime(float* ms, cudaEvent_t start, cudaEvent_t end) {
  Event* a = reinterpret_cast<Event*>(start);
  Event* b = reinterpret_cast<Event*>(end);
  if (!a->recorded || !b->recorded) return fail(cudaErrorInvalidResourceHandle);
  *ms = std::chrono::duration<float, std::milli>(b->at - a->at).count();
  return cudaSuccess;
}

// ---- graphs ---------------------------------------------------------------------------------------
FAKE_API cudaError_t cudaStreamBeginCapture(cudaStream_t s, cudaStreamCaptureMode) {
  Stream* st = stream_of(s);
  if (st == nullptr || st->capturing) return fail(cudaErrorIllegalState);
  st->capturing = new Graph();
  return cudaSuccess;
}
FAKE_API cudaError_t cudaStreamEndCapture(cudaStream_t s, cudaGraph_t* graph) {
  Stream* st = stream_of(s);
  if (st == nullptr || st->capturing == nullptr) return fail(cudaErrorIllegalState);
  *graph = reinterpret_cast<cudaGraph_t>(st->capturing);
  st->capturing = nullptr;
  return cudaSuccess;
}
FAKE_API cudaError_t cudaStreamIsCapturing(cudaStream_t s, cudaStreamCaptureStatus* status) {
  Stream* st = stream_of(s);
  *status = st && st->capturing ? cudaStreamCaptureStatusActive : cudaStreamCaptureStatusNone;
  return cudaSuccess;
}
FAKE_API cudaError_t cudaGraphInstantiate(cudaGraphExec_t* exec, cudaGraph_t graph,
                                          unsigned long long) {
  *exec = reinterpret_cast<cudaGraphExec_t>(new Exec{reinterpret_cast<Graph*>(graph)->list});
  return cudaSuccess;
}
FAKE_API cudaError_t cudaGraphInstantiateWithFlags(cudaGraphExec_t* exec, cudaGraph_t graph,
                                                   unsigned long long flags) {
  return cudaGraphInstantiate(exec, graph, flags);
}
FAKE_API cudaError_t cudaGraphLaunch(cudaGraphExec_t exec, cudaStream_t) {
  for (Work& w : reinterpret_cast<Exec*>(exec)->list->work) w.run(w.ctx);
  return cudaSuccess;
}
FAKE_API cudaError_t cudaGraphExecDestroy(cudaGraphExec_t exec) {
  delete reinterpret_cast<Exec*>(exec);
  return cudaSuccess;
}
FAKE_API cudaError_t cudaGraphDestroy(cudaGraph_t graph) {
  delete reinterpret_cast<Graph*>(graph);
  return cudaSuccess;
}
