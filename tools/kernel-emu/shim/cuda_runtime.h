// kernel-emu: a CPU stand-in for <cuda_runtime.h> that runs the real kernel sources (after
// prep.py's rewrite of `__shared__` declarations and `<<<...>>>` launches) on fibers, one per
// CUDA thread. Self-sufficient: needs no CUDA header, nvcc or GPU.
//
// What it models (see README.md for what it does not):
//  - a block is run as blockDim.x fibers; __syncthreads() is a block barrier, __syncwarp() and the
//    __shfl_*_sync() exchanges are warp barriers over all 32 lanes (a mask other than 0xffffffff,
//    or a warp op reached by only some lanes, is reported);
//  - between barriers the threads run one after another in forward, reverse or random order, and
//    the blocks (optionally capped to exercise grid-stride loops) in forward, reverse or random
//    order;
//  - every launch runs under two such schedules from the same starting memory and the results are
//    compared bit for bit: a kernel whose output depends on the schedule has a race;
//  - shared memory is filled with 0xFF bytes (NaN floats) for every block and sits next to
//    PROT_NONE guard pages (as does every device buffer of the tests, see emu::dev_alloc);
//  - static + dynamic shared memory above 48 KiB (each static array counted in 16-byte units, as
//    ptxas reports them) fails the launch with cudaErrorInvalidValue and changes no memory, as a
//    launch without the opt-in attribute does on every CUDA target; with
//    cudaFuncAttributeMaxDynamicSharedMemorySize set, up to the emulated device's opt-in limit;
//  - 1-D, 2-D and 3-D grids; a grid given as a number (every such launch of the kernels is a 1-D
//    grid-stride loop) is also run capped to 2 and 3 blocks, a dim3 grid always runs whole;
//  - the emulated device (emu::device(): compute capability, SM count, opt-in shared memory) that
//    cudaGetDevice / cudaDeviceGetAttribute report;
//  - the PTX instructions of kernels/ptx.cuh (async copies, ldmatrix, mma.sync), in emu_ptx.h.
#pragma once

#include <signal.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <climits>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <tuple>
#include <type_traits>
#include <vector>

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(...)

// ---- runtime types ---------------------------------------------------------------------------
enum cudaError {
  cudaSuccess = 0,
  cudaErrorInvalidValue = 1,
  cudaErrorMemoryAllocation = 2,
  cudaErrorInvalidConfiguration = 9,
  cudaErrorInvalidDevice = 101,
  cudaErrorLaunchFailure = 719,
};
enum cudaDeviceAttr {
  cudaDevAttrMultiProcessorCount = 16,
  cudaDevAttrComputeCapabilityMajor = 75,
  cudaDevAttrComputeCapabilityMinor = 76,
  cudaDevAttrMaxSharedMemoryPerBlockOptin = 97,
};
enum cudaFuncAttribute { cudaFuncAttributeMaxDynamicSharedMemorySize = 8 };
typedef enum cudaError cudaError_t;
struct CUstream_st;
typedef struct CUstream_st* cudaStream_t;

struct uint3 { unsigned x, y, z; };
// the vector types the kernels use, with CUDA's sizes and alignments
struct alignas(16) int4 { int x, y, z, w; };
struct alignas(16) uint4 { unsigned x, y, z, w; };
struct alignas(8) uint2 { unsigned x, y; };
struct alignas(8) float2 { float x, y; };
struct alignas(2) char2 { signed char x, y; };
inline int4 make_int4(int x, int y, int z, int w) { return {x, y, z, w}; }
inline uint4 make_uint4(unsigned x, unsigned y, unsigned z, unsigned w) { return {x, y, z, w}; }
inline uint2 make_uint2(unsigned x, unsigned y) { return {x, y}; }
inline float2 make_float2(float x, float y) { return {x, y}; }
inline char2 make_char2(signed char x, signed char y) { return {x, y}; }
struct dim3 {
  unsigned x, y, z;
  dim3(unsigned x_ = 1, unsigned y_ = 1, unsigned z_ = 1) : x(x_), y(y_), z(z_) {}
};

inline const char* cudaGetErrorString(cudaError_t e) {
  switch (e) {
    case cudaSuccess: return "no error";
    case cudaErrorInvalidValue: return "invalid argument";
    case cudaErrorMemoryAllocation: return "out of memory";
    case cudaErrorInvalidConfiguration: return "invalid configuration argument";
    case cudaErrorInvalidDevice: return "invalid device ordinal";
    default: return "unspecified launch failure";
  }
}

namespace emu {

// ---- configuration, error reporting ------------------------------------------------------------
constexpr size_t kSharedLimit = 48 * 1024;  // static + dynamic, without the opt-in attribute
constexpr size_t kDynArena = 227 * 1024;    // the largest opt-in of any target (sm_90)
constexpr int kMaxThreads = 1024;

// The device the runtime calls report (one device, 0). Tests set it before the first launch:
// the kernels cache what they read per device.
struct Device {
  int major = 9;
  int minor = 0;
  int sms = 132;
  int optin_shared = 232448;  // sm_90: 227 KiB
};
inline Device& device() { static Device d; return d; }

struct Sched {
  int thread_order;  // 0 forward, 1 reverse, 2 random (reshuffled every round), 3 warp-serial
                     // (run_block)
  int block_order;   // 0 forward, 1 reverse, 2 random
  unsigned grid_cap; // 0: the launch's grid; else at most this many blocks (1-D grid-stride loops)
  int async_land;    // cp.async copies land 0: when issued, 1: at the wait, 2: either (random)
  const char* name;
};
inline const Sched kSchedules[3] = {{0, 0, 0, 0, "fwd/copies-at-issue"},
                                    {3, 1, 2, 1, "warp-serial-rev/grid<=2/copies-at-wait"},
                                    {2, 2, 3, 2, "random/grid<=3/copies-random"}};
inline const Sched*& cur_sched() { static const Sched* s = &kSchedules[0]; return s; }

// CUDA graph capture, when the emulator runs inside a process with the fake CUDA runtime
// (tools/kernel-emu/jvm): work issued on a stream that is being captured is handed to it as a
// closure (run at each replay, released with the graph) instead of running now. Returns 1 when it
// took the work, 0 when the stream is not capturing. Absent (weak, NULL) in the plain tests.
extern "C" int fakecuda_capture_record(void* stream, void (*run)(void* ctx), void* ctx,
                                       void (*release)(void* ctx)) __attribute__((weak));

// One launch at a time: the emulator's state (fibers, shared memory, the buffer registry) is
// global. The tests are single-threaded; a JVM (tools/kernel-emu/jvm) may call from many threads.
inline std::recursive_mutex& big_lock() { static std::recursive_mutex m; return m; }

struct Config {
  int runs = 3;           // schedules per launch, compared bit for bit (1: no race check, no
                          // snapshots: a launch that fails for shared memory is not undone)
  unsigned rotation = 0;  // which schedule pair the next launch uses
  bool guard_front = false;  // buffers and shared memory start at a guard page (else end at one)
  uint32_t seed = 12345;
};
inline Config& config() { static Config c; return c; }

inline std::string& current_case() { static std::string s; return s; }
inline long& error_count() { static long e = 0; return e; }
inline long& printed_errors() { static long e = 0; return e; }

struct Fiber;
inline Fiber*& cur_fiber() { static Fiber* f = nullptr; return f; }
inline uint3& block_idx() { static uint3 v{0, 0, 0}; return v; }
inline uint3& block_dim() { static uint3 v{1, 1, 1}; return v; }
inline uint3& grid_dim() { static uint3 v{1, 1, 1}; return v; }
unsigned current_tid();
inline bool& in_kernel() { static bool b = false; return b; }

// An emulator finding (race, barrier misuse, shuffle mask...): counted, the first ones printed.
inline long& kind_count(const std::string& kind) {
  static std::map<std::string, long> m;  // node-based: references stay valid
  return m[kind];
}
inline void report(const char* kind, const std::string& what) {
  error_count()++;
  kind_count(kind)++;
  if (printed_errors()++ < 20) {
    if (in_kernel()) {
      fprintf(stdout, "EMU %s: %s [block %u thread %u] in case: %s\n", kind, what.c_str(),
              block_idx().x, current_tid(), current_case().c_str());
    } else {
      fprintf(stdout, "EMU %s: %s in case: %s\n", kind, what.c_str(), current_case().c_str());
    }
    fflush(stdout);
  }
}

// ---- guarded memory ----------------------------------------------------------------------------
inline size_t page_size() { static size_t p = (size_t)sysconf(_SC_PAGESIZE); return p; }

// `bytes` of memory between two PROT_NONE pages, starting right after the front one
// (config().guard_front) or ending right before the back one.
struct Guarded {
  char* map = nullptr;   // whole mapping
  size_t map_len = 0;
  char* data = nullptr;  // first data page
  size_t data_len = 0;   // data pages
  char* p = nullptr;     // the buffer
  size_t bytes = 0;
};
inline Guarded guarded_alloc(size_t bytes, bool front) {
  const size_t pg = page_size();
  Guarded g;
  g.bytes = bytes;
  g.data_len = std::max<size_t>(1, (bytes + pg - 1) / pg) * pg;
  g.map_len = g.data_len + 2 * pg;
  void* m = mmap(nullptr, g.map_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (m == MAP_FAILED) { perror("kernel-emu: mmap"); abort(); }
  g.map = (char*)m;
  g.data = g.map + pg;
  mprotect(g.map, pg, PROT_NONE);
  mprotect(g.data + g.data_len, pg, PROT_NONE);
  g.p = front ? g.data : g.data + g.data_len - bytes;
  return g;
}
inline void guarded_free(Guarded& g) {
  if (g.map) munmap(g.map, g.map_len);
  g = Guarded();
}

// "Device" buffers of the tests. Read-only ones (the kernel's inputs) are write-protected while a
// kernel runs; writable ones are snapshotted and restored between the schedules of a launch.
struct DevBuf {
  Guarded g;
  std::string name;
  size_t elem = 1;
  bool readonly = false;
};
inline std::vector<DevBuf*>& dev_bufs() { static std::vector<DevBuf*> v; return v; }
inline void* dev_alloc(size_t bytes, size_t elem, const std::string& name) {
  DevBuf* b = new DevBuf();
  b->g = guarded_alloc(bytes, config().guard_front);
  b->name = name;
  b->elem = elem;
  dev_bufs().push_back(b);
  return b->g.p;
}
inline DevBuf* find_buf(const void* p) {
  for (DevBuf* b : dev_bufs()) if (b->g.p == p) return b;
  return nullptr;
}
inline void dev_free(void* p) {
  if (!p) return;
  auto& v = dev_bufs();
  for (size_t i = 0; i < v.size(); ++i) {
    if (v[i]->g.p == p) { guarded_free(v[i]->g); delete v[i]; v.erase(v.begin() + i); return; }
  }
  fprintf(stderr, "kernel-emu: dev_free of an unknown pointer\n");
  abort();
}
inline void set_readonly(const void* p, bool ro) {
  DevBuf* b = find_buf(p);
  if (!b) { fprintf(stderr, "kernel-emu: set_readonly of an unknown pointer\n"); abort(); }
  b->readonly = ro;
}
inline void protect_inputs(bool on) {
  for (DevBuf* b : dev_bufs()) {
    if (b->readonly) mprotect(b->g.data, b->g.data_len, on ? PROT_READ : PROT_READ | PROT_WRITE);
  }
}

// Shared memory: two arenas between guard pages, the dynamic one (up to the opt-in limit) and the
// static one (48 KiB).
struct Arena { Guarded g; size_t size; };
inline Arena& dyn_arena() { static Arena a{guarded_alloc(kDynArena, false), kDynArena}; return a; }
inline Arena& static_arena() { static Arena a{guarded_alloc(kSharedLimit, false), kSharedLimit}; return a; }
// The arena in use: right after the front guard page or right before the back one.
inline char* arena_lo(Arena& a) {
  return config().guard_front ? a.g.data : a.g.data + a.g.data_len - a.size;
}
inline char* arena_hi(Arena& a) { return arena_lo(a) + a.size; }
inline bool in_arena(Arena& a, const void* p, size_t bytes) {
  const char* c = static_cast<const char*>(p);
  return c >= a.g.data && c + bytes <= a.g.data + a.g.data_len;
}
inline bool is_shared(const void* p, size_t bytes) {
  return in_arena(dyn_arena(), p, bytes) || in_arena(static_arena(), p, bytes);
}

// ---- fibers ------------------------------------------------------------------------------------
enum FiberState { kReady, kAtBlockBarrier, kAtWarpOp, kDone, kAborted };

#if defined(__x86_64__) && !defined(FT4J_EMU_UCONTEXT) && (defined(__clang__) || __GNUC__ >= 8)
#define EMU_FAST_SWITCH 1
// Saves the callee-saved registers and the SSE/x87 control words on the current stack, stores the
// stack pointer in *save and continues on `load` (a stack saved the same way, or a new fiber's).
__attribute__((naked, noinline, used)) static void fast_switch(void** /*save*/, void* /*load*/) {
  __asm__ volatile(
      "pushq %rbp\n\t"
      "pushq %rbx\n\t"
      "pushq %r12\n\t"
      "pushq %r13\n\t"
      "pushq %r14\n\t"
      "pushq %r15\n\t"
      "subq $8, %rsp\n\t"
      "stmxcsr (%rsp)\n\t"
      "fnstcw 4(%rsp)\n\t"
      "movq %rsp, (%rdi)\n\t"
      "movq %rsi, %rsp\n\t"
      "ldmxcsr (%rsp)\n\t"
      "fldcw 4(%rsp)\n\t"
      "addq $8, %rsp\n\t"
      "popq %r15\n\t"
      "popq %r14\n\t"
      "popq %r13\n\t"
      "popq %r12\n\t"
      "popq %rbx\n\t"
      "popq %rbp\n\t"
      "ret\n\t");
}
#else
#define EMU_FAST_SWITCH 0
#endif

constexpr size_t kStackBytes = 64 * 1024;

// An async copy (cp.async) issued and not landed yet: 16 bytes from src, or 16 zeros (src NULL).
struct AsyncCopy {
  char* dst;
  const char* src;
  unsigned group;  // the commit group it belongs to (== Fiber::async_group: not committed yet)
};
inline void land(const AsyncCopy& c) {
  if (c.src) memcpy(c.dst, c.src, 16); else memset(c.dst, 0, 16);
}
// A warpgroup MMA (wgmma.mma_async) issued and not performed yet (shim/emu_ptx.h): the thread's
// accumulators, the two shared-memory descriptors, its commit group, which instruction, and for
// an A operand in registers the whole warp's A fragments as they were at issue.
struct AsyncMma {
  enum Kind { kS8 = 0, kF16 = 1, kF16RegATransB = 2 };
  void* d;  // int32 (kS8) or float accumulators
  uint64_t a;
  uint64_t b;
  unsigned group;
  Kind kind = kS8;
  int n = 128;  // N of the shape
  std::array<uint32_t, 128> a_regs{};  // kF16RegATransB: lane l's registers at 4 l .. 4 l + 3
};

struct Fiber {
  void* sp = nullptr;  // fast switch
  ucontext_t uc;       // ucontext fallback
  Guarded stack;
  unsigned tid = 0;
  int state = kDone;
  unsigned warp_seq = 0;        // warp-synchronous operations done so far
  const char* warp_op = "";     // the one it waits at (lanes must be at the same one)
  std::vector<AsyncCopy> async;  // cp.async copies in flight
  unsigned async_group = 0;      // id of the open (uncommitted) group; committed: 0 .. id-1
  std::vector<AsyncMma> mma;     // wgmma operations in flight
  unsigned mma_group = 0;        // the same for wgmma.commit_group
};
inline std::vector<Fiber>& fibers() { static std::vector<Fiber> f(kMaxThreads); return f; }
inline void*& sched_sp() { static void* p = nullptr; return p; }
inline ucontext_t& sched_uc() { static ucontext_t u; return u; }
inline unsigned current_tid() { return cur_fiber() ? cur_fiber()->tid : 0u; }

// The body every fiber of the current launch runs (type-erased kernel + arguments).
inline void (*&kernel_body())(void*) { static void (*f)(void*) = nullptr; return f; }
inline void*& kernel_ctx() { static void* c = nullptr; return c; }

inline void to_scheduler(int state) {
  Fiber* f = cur_fiber();
  f->state = state;
#if EMU_FAST_SWITCH
  fast_switch(&f->sp, sched_sp());
#else
  swapcontext(&f->uc, &sched_uc());
#endif
}

[[noreturn]] inline void fiber_entry() {
  kernel_body()(kernel_ctx());
  for (const AsyncCopy& c : cur_fiber()->async) land(c);  // copies never waited for still land
  cur_fiber()->async.clear();
  if (!cur_fiber()->mma.empty()) {
    report("PTX", "a thread exits with wgmma operations it never waited for (wgmma.wait_group)");
    cur_fiber()->mma.clear();
  }
  to_scheduler(kDone);
  abort();  // a finished fiber is never resumed
}
#if !EMU_FAST_SWITCH
inline void fiber_entry_uc() { fiber_entry(); }
#endif

inline void fiber_start(Fiber& f, unsigned tid) {
  if (!f.stack.map) f.stack = guarded_alloc(kStackBytes, false);
  f.tid = tid;
  f.state = kReady;
  f.warp_seq = 0;
  f.warp_op = "";
  f.async.clear();
  f.async_group = 0;
  f.mma.clear();
  f.mma_group = 0;
#if EMU_FAST_SWITCH
  uintptr_t top = (uintptr_t)(f.stack.data + f.stack.data_len) & ~uintptr_t(15);
  void** sp = (void**)top;
  *--sp = nullptr;                        // return address of fiber_entry (it never returns)
  *--sp = (void*)&fiber_entry;            // where fast_switch's `ret` goes
  for (int i = 0; i < 6; ++i) *--sp = 0;  // rbp rbx r12 r13 r14 r15
  uint32_t mxcsr;
  uint16_t fpcw;
  __asm__ volatile("stmxcsr %0" : "=m"(mxcsr));
  __asm__ volatile("fnstcw %0" : "=m"(fpcw));
  uint64_t ctl = (uint64_t)mxcsr | ((uint64_t)fpcw << 32);
  *--sp = (void*)ctl;
  f.sp = sp;
#else
  getcontext(&f.uc);
  f.uc.uc_stack.ss_sp = f.stack.data;
  f.uc.uc_stack.ss_size = f.stack.data_len;
  f.uc.uc_link = nullptr;
  makecontext(&f.uc, (void (*)())&fiber_entry_uc, 0);
#endif
}

inline void fiber_resume(Fiber& f) {
  cur_fiber() = &f;
#if EMU_FAST_SWITCH
  fast_switch(&sched_sp(), f.sp);
#else
  swapcontext(&sched_uc(), &f.uc);
#endif
  cur_fiber() = nullptr;
}

// ---- per-launch state --------------------------------------------------------------------------
struct StaticArray { const char* file; int line; size_t bytes; size_t offset; };
constexpr size_t kWarpBlob = 64;  // bytes a lane may publish in one warp-wide operation
struct LaunchState {
  size_t dyn_bytes = 0;
  char* dyn = nullptr;
  std::vector<StaticArray> statics;  // the kernel's __shared__ arrays, by declaration site
  size_t static_bytes = 0;           // sum of the arrays rounded up to 16 bytes
  size_t shared_limit = kSharedLimit;  // static + dynamic (the opt-in raises it)
  bool failed = false;               // shared memory above the limit
  unsigned nwarps = 0;
  std::vector<uint64_t> warp_buf[2];  // shuffle exchange, double-buffered by warp_seq parity
  std::vector<unsigned char> warp_blob[2];  // wider exchanges (PTX models), the same way
  uint64_t block_serial = 0;                // blocks run so far (tags warp_result)
  // What one lane computed for its whole warp's current operation (an MMA's 16 x 8 result), for
  // the other lanes of the same operation: tag = block_serial << 32 | warp_seq.
  struct WarpResult { uint64_t tag = ~uint64_t(0); unsigned char data[1024]; };
  std::vector<WarpResult> warp_result;
};
inline LaunchState& ls() { static LaunchState s; return s; }

// `extern __shared__ T name[];` (prep.py)
template <typename T>
inline T* dyn_smem() { return reinterpret_cast<T*>(ls().dyn); }

// `__shared__ [__align__(align)] T name[d1][d2]...;` (prep.py: A = T[d1][d2]..., or T for a
// scalar; file and line name the declaration). One object per declaration site and block,
// whichever thread reaches it first and however often; the first declaration that takes static +
// dynamic above the limit fails the launch. In the end-guard mode the first array ends at the
// arena's guard page (as far as its alignment allows), in the front-guard mode it starts at it.
template <typename A>
inline A& static_smem(size_t align, const char* file, int line) {
  LaunchState& s = ls();
  const size_t bytes = sizeof(A);
  if (align < alignof(A)) align = alignof(A);
  for (const StaticArray& a : s.statics) {
    if (a.line == line && strcmp(a.file, file) == 0) {
      if (a.bytes != bytes) report("ERROR", "a __shared__ array declared with different sizes");
      return *reinterpret_cast<A*>(arena_lo(static_arena()) + a.offset);
    }
  }
  const size_t rounded = (bytes + 15) & ~size_t(15);
  StaticArray a{file, line, bytes, 0};
  if (config().guard_front) {
    a.offset = (s.static_bytes + align - 1) & ~(align - 1);
  } else {
    a.offset = bytes > kSharedLimit - s.static_bytes ? 0 : kSharedLimit - s.static_bytes - bytes;
    a.offset &= ~(align - 1);
  }
  s.static_bytes += rounded;
  s.statics.push_back(a);
  if (s.static_bytes > kSharedLimit || s.static_bytes + s.dyn_bytes > s.shared_limit) {
    s.failed = true;
    to_scheduler(kAborted);
  }
  return *reinterpret_cast<A*>(arena_lo(static_arena()) + a.offset);
}

// ---- warp-synchronous operations ---------------------------------------------------------------
inline void check_mask(unsigned mask, const char* op) {
  if (mask != 0xffffffffu) {
    char buf[96];
    snprintf(buf, sizeof buf, "%s with mask 0x%08x (only full-warp masks are expected)", op, mask);
    report("SHUFFLE", buf);
  }
}

// One warp-synchronous step: publishes `v`, waits for all 32 lanes, returns lane `src`'s value.
inline uint64_t warp_exchange(uint64_t v, int src) {
  Fiber* f = cur_fiber();
  LaunchState& s = ls();
  const unsigned lane = f->tid & 31, warp = f->tid >> 5;
  auto& buf = s.warp_buf[f->warp_seq & 1];
  buf[warp * 32 + lane] = v;
  f->warp_op = "shuffle/syncwarp";
  to_scheduler(kAtWarpOp);
  const uint64_t r = buf[warp * 32 + (unsigned)src];
  f->warp_seq++;
  return r;
}

// One warp-wide operation of `op` (a PTX model): publishes `bytes` (<= kWarpBlob) of this lane,
// waits for all 32 lanes to reach the same operation, returns the 32 lanes' data (lane l at
// l * kWarpBlob), valid until this lane's next warp operation.
inline const unsigned char* warp_gather(const char* op, const void* mine, size_t bytes) {
  Fiber* f = cur_fiber();
  LaunchState& s = ls();
  const unsigned lane = f->tid & 31, warp = f->tid >> 5;
  auto& buf = s.warp_blob[f->warp_seq & 1];
  memcpy(&buf[(warp * 32 + lane) * kWarpBlob], mine, bytes);
  f->warp_op = op;
  to_scheduler(kAtWarpOp);
  f->warp_seq++;
  return &buf[warp * 32 * kWarpBlob];
}

// After warp_gather: the warp's shared result slot for this operation and whether it is still to
// be computed (true for the first lane that asks; the others find it filled).
inline std::pair<unsigned char*, bool> warp_result() {
  Fiber* f = cur_fiber();
  LaunchState& s = ls();
  LaunchState::WarpResult& r = s.warp_result[f->tid >> 5];
  const uint64_t tag = (s.block_serial << 32) | f->warp_seq;
  const bool compute = r.tag != tag;
  r.tag = tag;
  return {r.data, compute};
}

template <typename T>
inline uint64_t to_bits(T v) {
  static_assert(sizeof(T) <= 8 && std::is_trivially_copyable<T>::value, "shuffle type");
  uint64_t b = 0;
  memcpy(&b, &v, sizeof(T));
  return b;
}
template <typename T>
inline T from_bits(uint64_t b) {
  T v;
  memcpy(&v, &b, sizeof(T));
  return v;
}
inline int check_width(int width, const char* op) {
  if (width != 32) {
    report("SHUFFLE", std::string(op) + " with width != 32 is not emulated");
    return 32;
  }
  return width;
}

// ---- the scheduler ----------------------------------------------------------------------------
inline std::mt19937& rng() { static std::mt19937 r(12345); return r; }

// Releases warp w's lanes waiting at a warp operation once all its lanes are there (a lane still
// running, or at __syncthreads, keeps it). Returns whether it released.
inline bool release_warp(int w, int nthreads) {
  auto& fs = fibers();
  int at = 0, ready = 0, lanes = 0;
  unsigned seq = 0;
  const char* op = "";
  bool same = true;
  for (int l = 0; l < 32 && w * 32 + l < nthreads; ++l) {
    Fiber& f = fs[w * 32 + l];
    lanes++;
    if (f.state == kAtWarpOp) {
      if (at == 0) {
        seq = f.warp_seq;
        op = f.warp_op;
      } else {
        same = same && f.warp_seq == seq && strcmp(f.warp_op, op) == 0;
      }
      at++;
    }
    ready += f.state == kReady;
  }
  if (at == 0 || ready) return false;
  if (at < 32 || !same) {
    report("SHUFFLE", at < 32 ? "warp shuffle/sync reached by " + std::to_string(at) +
                                    " of 32 lanes (the others exited, wait at "
                                    "__syncthreads or do not exist)"
                              : std::string("lanes of a warp at different shuffles/syncs"));
  }
  for (int l = 0; l < lanes; ++l) {
    Fiber& f = fs[w * 32 + l];
    if (f.state == kAtWarpOp) f.state = kReady;
  }
  return true;
}

// Runs one block to completion, until the launch fails (shared memory) or a deadlock is reported.
// Between block barriers: thread orders 0-2 advance every warp by one warp operation per round
// (threads forward, reverse or random); order 3 runs the warps one after another, last warp
// first, each as far as it gets before a __syncthreads (warps far apart: a warp that overwrites
// shared memory another warp has yet to read between two barriers shows up as a race).
inline void run_block(int nthreads, const Sched& sc) {
  auto& fs = fibers();
  LaunchState& s = ls();
  for (int t = 0; t < nthreads; ++t) fiber_start(fs[t], (unsigned)t);
  std::vector<int> order(nthreads);
  const bool reverse = sc.thread_order == 1 || sc.thread_order == 3;
  for (int i = 0; i < nthreads; ++i) order[i] = reverse ? nthreads - 1 - i : i;
  const int nwarps = (nthreads + 31) / 32;
  for (;;) {
    if (sc.thread_order == 3) {
      for (int w = nwarps - 1; w >= 0; --w) {
        for (;;) {  // this warp as far as it goes
          bool ran = false;
          for (int l = 31; l >= 0; --l) {
            if (w * 32 + l >= nthreads) continue;
            Fiber& f = fs[w * 32 + l];
            if (f.state != kReady) continue;
            fiber_resume(f);
            ran = true;
            if (s.failed) return;
          }
          if (!release_warp(w, nthreads) && !ran) break;
        }
      }
    } else {
      if (sc.thread_order == 2) std::shuffle(order.begin(), order.end(), rng());
      for (int i : order) {
        Fiber& f = fs[i];
        if (f.state != kReady) continue;
        fiber_resume(f);
        if (s.failed) return;
      }
      // Warp operations: released when all 32 lanes of the warp are at the same one.
      bool released = false;
      for (int w = 0; w < nwarps; ++w) released |= release_warp(w, nthreads);
      if (released) continue;
    }
    int ready = 0, at_bar = 0, done = 0, at_warp = 0;
    for (int t = 0; t < nthreads; ++t) {
      ready += fs[t].state == kReady;
      at_bar += fs[t].state == kAtBlockBarrier;
      done += fs[t].state == kDone;
      at_warp += fs[t].state == kAtWarpOp;
    }
    if (ready) continue;
    if (done == nthreads) return;
    if (at_bar && at_bar + done == nthreads) {
      if (done) report("BARRIER", "__syncthreads() reached while " + std::to_string(done) +
                                      " threads of the block have exited");
      for (int t = 0; t < nthreads; ++t) if (fs[t].state == kAtBlockBarrier) fs[t].state = kReady;
      continue;
    }
    if (sc.thread_order != 3 || at_warp == 0) {
      report("BARRIER", "deadlock: threads wait at __syncthreads() and at warp operations");
      return;
    }
    // (order 3: a warp op left unreleased (some lanes at a barrier): one more lock-step round
    // reports it the usual way)
    bool released = false;
    for (int w = 0; w < nwarps; ++w) released |= release_warp(w, nthreads);
    if (!released) {
      report("BARRIER", "deadlock: threads wait at __syncthreads() and at warp operations");
      return;
    }
  }
}

// ---- launch ------------------------------------------------------------------------------------
// A launch configuration. A grid given as a number (not a dim3) is a 1-D grid-stride launch: only
// those are run capped (kSchedules); a dim3 grid (even one with y = z = 1) always runs whole.
struct Cfg {
  dim3 grid, block;
  size_t dyn;
  bool cappable;
  cudaStream_t stream;
  Cfg(dim3 g, dim3 b, size_t d = 0, cudaStream_t s = nullptr)
      : grid(g), block(b), dyn(d), cappable(false), stream(s) {}
  template <typename I, typename = typename std::enable_if<std::is_integral<I>::value>::type>
  Cfg(I g, dim3 b, size_t d = 0, cudaStream_t s = nullptr)
      : grid(dim3((unsigned)g)), block(b), dyn(d), cappable(true), stream(s) {}
};

template <typename F, typename... Args>
cudaError_t launch(F kernel, const Cfg& c, Args... args);

// Hands a launch to a capturing stream (see fakecuda_capture_record); true when it was taken.
template <typename F, typename... Args>
bool captured(F kernel, const Cfg& c, const Args&... args) {
  if (fakecuda_capture_record == nullptr || c.stream == nullptr) return false;
  struct Work {
    F kernel;
    Cfg cfg;
    std::tuple<Args...> args;
  };
  Work* w = new Work{kernel, c, std::tuple<Args...>(args...)};
  w->cfg.stream = nullptr;  // at replay: run, not capture again
  auto run = [](void* ctx) {
    Work* x = static_cast<Work*>(ctx);
    std::apply([x](const Args&... a) { launch(x->kernel, x->cfg, a...); }, x->args);
  };
  auto release = [](void* ctx) { delete static_cast<Work*>(ctx); };
  if (fakecuda_capture_record(c.stream, run, w, release)) return true;
  delete w;
  return false;
}

inline cudaError_t& last_error() { static cudaError_t e = cudaSuccess; return e; }
inline long& launch_count() { static long n = 0; return n; }
inline long& schedule_runs() { static long n = 0; return n; }

template <typename F, typename Tuple>
struct Invocation {
  F fn;
  Tuple args;
  static void run(void* self) {
    auto* inv = static_cast<Invocation*>(self);
    std::apply(inv->fn, inv->args);
  }
};

struct Snapshot {
  std::vector<std::vector<char>> bytes;
  void take() {
    auto& v = dev_bufs();
    bytes.resize(v.size());
    for (size_t i = 0; i < v.size(); ++i) {
      if (v[i]->readonly) { bytes[i].clear(); continue; }
      bytes[i].assign(v[i]->g.p, v[i]->g.p + v[i]->g.bytes);
    }
  }
  void restore() const {
    auto& v = dev_bufs();
    for (size_t i = 0; i < v.size(); ++i) {
      if (!v[i]->readonly) memcpy(v[i]->g.p, bytes[i].data(), v[i]->g.bytes);
    }
  }
};

// Runs the whole grid under one schedule. Returns false when the launch fails (shared memory).
inline bool run_grid(dim3 grid, bool cappable, int threads, const Sched& sc) {
  LaunchState& s = ls();
  unsigned gx = grid.x;
  if (cappable && sc.grid_cap && gx > sc.grid_cap) gx = sc.grid_cap;
  grid_dim() = uint3{gx, grid.y, grid.z};
  block_dim() = uint3{(unsigned)threads, 1, 1};
  const size_t total = size_t(gx) * grid.y * grid.z;
  std::vector<size_t> blocks(total);
  for (size_t i = 0; i < total; ++i) blocks[i] = sc.block_order == 1 ? total - 1 - i : i;
  if (sc.block_order == 2) std::shuffle(blocks.begin(), blocks.end(), rng());
  cur_sched() = &sc;
  Arena& da = dyn_arena();
  Arena& sa = static_arena();
  // dynamic shared memory: 16-byte aligned, ending at the guard page as far as that allows
  const size_t dyn_span = (s.dyn_bytes + 15) & ~size_t(15);
  const size_t fill = std::max(kSharedLimit, dyn_span);
  for (size_t b : blocks) {
    block_idx() = uint3{unsigned(b % gx), unsigned(b / gx % grid.y), unsigned(b / gx / grid.y)};
    s.dyn = config().guard_front ? arena_lo(da)
                                 : reinterpret_cast<char*>(uintptr_t(arena_hi(da) - s.dyn_bytes) &
                                                           ~uintptr_t(15));
    // uninitialised shared memory reads as NaN
    memset(config().guard_front ? arena_lo(da) : arena_hi(da) - fill, 0xFF, fill);
    memset(arena_lo(sa), 0xFF, kSharedLimit);
    s.statics.clear();
    s.static_bytes = 0;
    for (auto& wb : s.warp_buf) wb.assign(s.nwarps * 32, ~uint64_t(0));
    for (auto& wb : s.warp_blob) wb.assign(s.nwarps * 32 * kWarpBlob, 0xFF);
    s.warp_result.resize(s.nwarps);
    s.block_serial++;
    in_kernel() = true;
    run_block(threads, sc);
    in_kernel() = false;
    if (s.failed) return false;
  }
  return true;
}

// cudaFuncAttributeMaxDynamicSharedMemorySize per kernel (cudaFuncSetAttribute)
inline std::map<const void*, size_t>& max_dynamic_shared() {
  static std::map<const void*, size_t> m;
  return m;
}
template <typename F>
const void* kernel_key(F f) {
  if constexpr (std::is_pointer<F>::value) return reinterpret_cast<const void*>(f);
  else return nullptr;
}

template <typename F, typename... Args>
cudaError_t launch(F kernel, const Cfg& c, Args... args) {
  if (captured(kernel, c, args...)) return cudaSuccess;
  std::lock_guard<std::recursive_mutex> hold(big_lock());
  launch_count()++;
  if (c.grid.x < 1 || c.grid.x > 0x7fffffffu || c.grid.y < 1 || c.grid.y > 65535 ||
      c.grid.z < 1 || c.grid.z > 65535 || c.block.x < 1 || c.block.x > (unsigned)kMaxThreads) {
    last_error() = cudaErrorInvalidConfiguration;
    return last_error();
  }
  if (c.block.y != 1 || c.block.z != 1) {
    report("UNSUPPORTED", "2-D/3-D blocks are not emulated");
    last_error() = cudaErrorInvalidConfiguration;
    return last_error();
  }
  LaunchState& s = ls();
  const auto attr = max_dynamic_shared().find(kernel_key(kernel));
  const bool opted_in = attr != max_dynamic_shared().end();
  if (c.dyn > (opted_in ? attr->second : kSharedLimit)) {
    last_error() = cudaErrorInvalidValue;
    return last_error();
  }
  s.shared_limit = opted_in ? size_t(device().optin_shared) : kSharedLimit;
  s.dyn_bytes = c.dyn;
  s.failed = false;
  s.nwarps = (c.block.x + 31) / 32;
  Invocation<F, std::tuple<Args...>> inv{kernel, std::tuple<Args...>(args...)};
  kernel_body() = &Invocation<F, std::tuple<Args...>>::run;
  kernel_ctx() = &inv;

  Config& cf = config();
  const int runs = cf.runs < 1 ? 1 : (cf.runs > 3 ? 3 : cf.runs);
  const unsigned first = cf.rotation++ % 3;
  Snapshot before, after_first;
  if (cf.runs > 1) before.take();
  protect_inputs(true);
  bool ok = true;
  for (int k = 0; k < runs && ok; ++k) {
    const Sched& sc = kSchedules[(first + k) % 3];
    if (k > 0) {
      after_first.take();
      before.restore();
    }
    schedule_runs()++;
    ok = run_grid(c.grid, c.cappable, (int)c.block.x, sc);
    if (ok && k > 0) {
      // Same starting memory, other schedule: any difference is a race (or a read of memory the
      // kernel did not write first).
      auto& v = dev_bufs();
      for (size_t i = 0; i < v.size(); ++i) {
        if (v[i]->readonly) continue;
        const char* a = after_first.bytes[i].data();
        const char* b = v[i]->g.p;
        if (memcmp(a, b, v[i]->g.bytes) == 0) continue;
        size_t at = 0;
        while (a[at] == b[at]) ++at;
        char buf[256];
        snprintf(buf, sizeof buf,
                 "result depends on the schedule (%s vs %s): buffer '%s' element %zu differs",
                 kSchedules[first].name, sc.name, v[i]->name.c_str(), at / v[i]->elem);
        report("RACE", buf);
        break;
      }
    }
  }
  protect_inputs(false);
  if (!ok) {
    if (cf.runs > 1) before.restore();  // a launch that fails changes nothing
    last_error() = cudaErrorInvalidValue;
    return last_error();
  }
  return cudaSuccess;
}

}  // namespace emu

// ---- device-side names -------------------------------------------------------------------------
#define threadIdx (::uint3{::emu::current_tid(), 0u, 0u})
#define blockIdx (::emu::block_idx())
#define blockDim (::emu::block_dim())
#define gridDim (::emu::grid_dim())
#define warpSize 32

inline void __syncthreads() { emu::to_scheduler(emu::kAtBlockBarrier); }
// The emulator's shared "window" is the host address itself: the low bits (alignment) agree with
// the pointer's, as on the GPU, where the window base is aligned far beyond 1024 bytes.
inline size_t __cvta_generic_to_shared(const void* p) { return reinterpret_cast<size_t>(p); }
inline void __syncwarp(unsigned mask = 0xffffffffu) {
  emu::check_mask(mask, "__syncwarp");
  emu::warp_exchange(0, (int)(emu::current_tid() & 31));
}
template <typename T>
inline T __shfl_sync(unsigned mask, T v, int src, int width = 32) {
  emu::check_mask(mask, "__shfl_sync");
  width = emu::check_width(width, "__shfl_sync");
  return emu::from_bits<T>(emu::warp_exchange(emu::to_bits(v), src & 31));
}
// __ldg: a read through the read-only (non-coherent) path; on the CPU a plain read. (The kernels use
// it only for data no thread of the launch writes.)
template <typename T>
inline T __ldg(const T* p) {
  return *p;
}
template <typename T>
inline T __shfl_xor_sync(unsigned mask, T v, int lane_mask, int width = 32) {
  emu::check_mask(mask, "__shfl_xor_sync");
  width = emu::check_width(width, "__shfl_xor_sync");
  const int lane = (int)(emu::current_tid() & 31);
  int src = lane ^ lane_mask;
  if (src > 31) src = lane;
  return emu::from_bits<T>(emu::warp_exchange(emu::to_bits(v), src));
}
template <typename T>
inline T __shfl_down_sync(unsigned mask, T v, unsigned delta, int width = 32) {
  emu::check_mask(mask, "__shfl_down_sync");
  width = emu::check_width(width, "__shfl_down_sync");
  const int lane = (int)(emu::current_tid() & 31);
  const int src = lane + (int)delta < 32 ? lane + (int)delta : lane;
  return emu::from_bits<T>(emu::warp_exchange(emu::to_bits(v), src));
}
template <typename T>
inline T __shfl_up_sync(unsigned mask, T v, unsigned delta, int width = 32) {
  emu::check_mask(mask, "__shfl_up_sync");
  width = emu::check_width(width, "__shfl_up_sync");
  const int lane = (int)(emu::current_tid() & 31);
  const int src = lane - (int)delta >= 0 ? lane - (int)delta : lane;
  return emu::from_bits<T>(emu::warp_exchange(emu::to_bits(v), src));
}

// Math: the host libm in float (the GPU's ulp errors differ; see README).
inline int __float2int_rn(float x) {  // round half to even, saturating, NaN -> 0
  if (std::isnan(x)) return 0;
  const float r = nearbyintf(x);
  if (r >= 2147483648.f) return INT_MAX;
  if (r < -2147483648.f) return INT_MIN;
  return (int)r;
}
inline float rsqrtf(float x) { return 1.f / sqrtf(x); }
inline float __expf(float x) { return expf(x); }
inline float __logf(float x) { return logf(x); }
inline float __fdividef(float a, float b) { return a / b; }
inline float __saturatef(float x) { return x < 0.f ? 0.f : (x > 1.f ? 1.f : x); }

// Device-side helpers of the kernels (sequential fibers: an atomic is a plain read-modify-write).
inline int atomicAdd(int* p, int v) { const int old = *p; *p = (int)((unsigned)old + (unsigned)v); return old; }
inline float atomicAdd(float* p, float v) { const float old = *p; *p = old + v; return old; }
inline int __dp4a(int a, int b, int c) {  // c + the dot product of the four signed bytes
  int32_t sum = c;
  for (int i = 0; i < 4; ++i) {
    sum = (int32_t)((uint32_t)sum + (uint32_t)((int)(int8_t)(a >> (8 * i)) * (int)(int8_t)(b >> (8 * i))));
  }
  return sum;
}
inline int min(int a, int b) { return a < b ? a : b; }
inline int max(int a, int b) { return a > b ? a : b; }
inline unsigned min(unsigned a, unsigned b) { return a < b ? a : b; }
inline unsigned max(unsigned a, unsigned b) { return a > b ? a : b; }
inline long long min(long long a, long long b) { return a < b ? a : b; }
inline long long max(long long a, long long b) { return a > b ? a : b; }
inline long min(long a, long b) { return a < b ? a : b; }
inline long max(long a, long b) { return a > b ? a : b; }

// ---- runtime calls -----------------------------------------------------------------------------
inline cudaError_t cudaGetDevice(int* d) { *d = 0; return cudaSuccess; }
inline cudaError_t cudaDeviceGetAttribute(int* v, cudaDeviceAttr a, int dev) {
  if (dev != 0) return emu::last_error() = cudaErrorInvalidDevice;
  const emu::Device& d = emu::device();
  switch (a) {
    case cudaDevAttrMultiProcessorCount: *v = d.sms; return cudaSuccess;
    case cudaDevAttrComputeCapabilityMajor: *v = d.major; return cudaSuccess;
    case cudaDevAttrComputeCapabilityMinor: *v = d.minor; return cudaSuccess;
    case cudaDevAttrMaxSharedMemoryPerBlockOptin: *v = d.optin_shared; return cudaSuccess;
  }
  return emu::last_error() = cudaErrorInvalidValue;
}
// (the kernel's static shared memory is not known before it runs: the launch checks the sum)
inline cudaError_t cudaFuncSetAttribute(const void* kernel, cudaFuncAttribute a, int value) {
  if (a != cudaFuncAttributeMaxDynamicSharedMemorySize || value < 0 ||
      value > emu::device().optin_shared) {
    return emu::last_error() = cudaErrorInvalidValue;
  }
  emu::max_dynamic_shared()[kernel] = size_t(value);
  return cudaSuccess;
}
inline cudaError_t cudaMemsetAsync(void* p, int v, size_t bytes, cudaStream_t stream = nullptr) {
  if (emu::fakecuda_capture_record != nullptr && stream != nullptr) {
    struct Work { void* p; int v; size_t bytes; };
    Work* w = new Work{p, v, bytes};
    if (emu::fakecuda_capture_record(
            stream, [](void* c) { Work* x = static_cast<Work*>(c); memset(x->p, x->v, x->bytes); },
            w, [](void* c) { delete static_cast<Work*>(c); })) {
      return cudaSuccess;
    }
    delete w;
  }
  memset(p, v, bytes);
  return cudaSuccess;
}

inline cudaError_t cudaGetLastError() {
  cudaError_t e = emu::last_error();
  emu::last_error() = cudaSuccess;
  return e;
}
inline cudaError_t cudaPeekAtLastError() { return emu::last_error(); }

// ==== runtime calls of the C API layer (native/src/ft4j.cpp; test_capi) ==========================
// ft4j.cpp asks the runtime a few things the kernels never do. Emulated for the one device that
// emu::device() describes; device buffers are host memory here, so nothing else is needed.
// The error codes ft4j_cuda_device_count treats as "no usable GPU" (their CUDA values; constants
// rather than enumerators so that this section stays apart from the kernels' enum above):
constexpr cudaError_t cudaErrorInitializationError = static_cast<cudaError_t>(3);
constexpr cudaError_t cudaErrorInsufficientDriver = static_cast<cudaError_t>(35);
constexpr cudaError_t cudaErrorNoDevice = static_cast<cudaError_t>(100);
constexpr cudaError_t cudaErrorSystemDriverMismatch = static_cast<cudaError_t>(803);
constexpr cudaError_t cudaErrorCompatNotSupportedOnDevice = static_cast<cudaError_t>(804);

namespace emu {
// What the device-query calls below report; a test may change it to reach ft4j.cpp's other paths.
struct Runtime {
  int device_count = 1;  // cudaGetDeviceCount's count (only device 0 has attributes, so a larger
                         // count makes cudaDeviceGetAttribute fail for the others)
  cudaError_t device_count_error = cudaSuccess;  // else cudaGetDeviceCount fails with it (e.g.
                                                 // cudaErrorNoDevice: a machine without a GPU)
  int runtime_version = 12080;  // CUDA 12.8, as cudaRuntimeGetVersion / cudaDriverGetVersion
  int driver_version = 12080;   // encode it (1000 * major + 10 * minor)
};
inline Runtime& runtime() { static Runtime r; return r; }
}  // namespace emu

// The count, or the configured failure, which (as in CUDA) is also recorded as the last error.
inline cudaError_t cudaGetDeviceCount(int* count) {
  if (emu::runtime().device_count_error != cudaSuccess) {
    *count = 0;
    return emu::last_error() = emu::runtime().device_count_error;
  }
  *count = emu::runtime().device_count;
  return cudaSuccess;
}
inline cudaError_t cudaRuntimeGetVersion(int* v) { *v = emu::runtime().runtime_version; return cudaSuccess; }
inline cudaError_t cudaDriverGetVersion(int* v) { *v = emu::runtime().driver_version; return cudaSuccess; }
// The enumerator's name, as CUDA spells it ("cudaErrorInvalidValue").
inline const char* cudaGetErrorName(cudaError_t e) {
  switch (static_cast<int>(e)) {
    case cudaSuccess: return "cudaSuccess";
    case cudaErrorInvalidValue: return "cudaErrorInvalidValue";
    case cudaErrorMemoryAllocation: return "cudaErrorMemoryAllocation";
    case 3: return "cudaErrorInitializationError";
    case cudaErrorInvalidConfiguration: return "cudaErrorInvalidConfiguration";
    case 35: return "cudaErrorInsufficientDriver";
    case 100: return "cudaErrorNoDevice";
    case cudaErrorInvalidDevice: return "cudaErrorInvalidDevice";
    case cudaErrorLaunchFailure: return "cudaErrorLaunchFailure";
    case 803: return "cudaErrorSystemDriverMismatch";
    case 804: return "cudaErrorCompatNotSupportedOnDevice";
    default: return "cudaErrorUnknown";
  }
}
