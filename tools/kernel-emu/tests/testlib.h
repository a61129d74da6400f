// kernel-emu test library: guarded "device" buffers, fault reports that name the case, per-element
// tolerance checks against double-precision references, one summary line per kernel.
//
// Error model used by the tolerances (see each test for the terms of its kernel): every float
// operation of a kernel rounds with a relative error of at most u = 2^-24; a reduction of n terms
// done as per-thread sequential sums followed by a tree has a depth of at most
// ceil(n / threads) + 10 (5 warp-shuffle levels + 5 levels over the warps), so its absolute error
// is at most depth * u * sum|terms|. An output stored as FP16 adds at most half an FP16 ulp of
// the value. The references are evaluated in double from the very values the kernel reads
// (inputs rounded to their storage type first), so the tolerance only has to cover the kernel's
// own float arithmetic. Every check records |got - ref| / tol; the summary prints the worst ratio,
// which shows how much room is left.
#pragma once

#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cinttypes>
#include <cstdarg>
#include <map>
#include <memory>

namespace kt {

constexpr double kU = 1.0 / 16777216.0;  // 2^-24: unit roundoff of float

// ---- storage types -----------------------------------------------------------------------------
template <typename T> struct Type;
template <> struct Type<float> {
  static constexpr const char* name = "FP32";
  static float from_f(float v) { return v; }
  static double to_d(float v) { return v; }
  // largest error of rounding a float result y into the storage type: the float rounding itself
  // is part of each kernel's own budget, so nothing more
  static double store_err(double) { return 0.0; }
};
template <> struct Type<__half> {
  static constexpr const char* name = "FP16";
  static __half from_f(float v) { return __float2half_rn(v); }
  static double to_d(__half v) { return __half2float(v); }
  static double store_err(double y) {  // half an FP16 ulp of |y| (subnormal spacing 2^-24)
    const double a = std::fabs(y);
    if (!(a >= 6.103515625e-05)) return 0.5 * 5.9604644775390625e-08;
    int e;
    std::frexp(a, &e);  // a = m * 2^e, m in [0.5, 1)
    return 0.5 * std::ldexp(1.0, e - 11);
  }
};
template <typename T> constexpr bool is_half() { return sizeof(T) == 2; }
inline bool is_aligned16(const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; }

// ---- guarded device buffers --------------------------------------------------------------------
template <typename T>
struct Buf {
  T* p = nullptr;
  size_t n = 0;
  Buf() = default;
  Buf(size_t count, const std::string& name) : n(count) {
    p = static_cast<T*>(emu::dev_alloc(count * sizeof(T), sizeof(T), name));
  }
  Buf(const Buf&) = delete;
  Buf& operator=(const Buf&) = delete;
  Buf(Buf&& o) noexcept : p(o.p), n(o.n) { o.p = nullptr; o.n = 0; }
  Buf& operator=(Buf&& o) noexcept { std::swap(p, o.p); std::swap(n, o.n); return *this; }
  ~Buf() { if (p) emu::dev_free(p); }
  T& operator[](size_t i) { return p[i]; }
  const T& operator[](size_t i) const { return p[i]; }
  // the kernel only reads it: writes while a kernel runs fault
  void readonly() { emu::set_readonly(p, true); }
};

// A buffer of T filled from float values; `vals` gets the values actually stored (after the
// storage rounding), which is what the references must use.
template <typename T>
Buf<T> upload(std::vector<double>& vals, const std::string& name, bool ro = true) {
  Buf<T> b(vals.size(), name);
  for (size_t i = 0; i < vals.size(); ++i) {
    b[i] = Type<T>::from_f((float)vals[i]);
    vals[i] = Type<T>::to_d(b[i]);
  }
  if (ro) b.readonly();
  return b;
}
inline Buf<float> upload_f(std::vector<double>& vals, const std::string& name, bool ro = true) {
  return upload<float>(vals, name, ro);
}
template <typename T>
void fill_nan(Buf<T>& b) {
  for (size_t i = 0; i < b.n; ++i) b[i] = Type<T>::from_f(NAN);
}

// ---- random data ---------------------------------------------------------------------------------
struct Rng {
  std::mt19937_64 g;
  explicit Rng(uint64_t seed) : g(seed * 0x9E3779B97F4A7C15ull + 7) {}
  double uni(double lo, double hi) { return std::uniform_real_distribution<double>(lo, hi)(g); }
  int integer(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(g); }
  std::vector<double> vec(size_t n, double lo, double hi) {
    std::vector<double> v(n);
    for (auto& x : v) x = uni(lo, hi);
    return v;
  }
};

// ---- reporting ---------------------------------------------------------------------------------
struct Kernel {
  std::string name;
  long cases = 0, failed = 0, rejected_ok = 0, flips = 0, known = 0, known_pass = 0;
  double max_window = 0;  // largest int8 rounding-boundary window used (unclamped values)
  long tol_checks = 0;  // elements compared with a tolerance (the others exactly)
  double worst = 0;  // max (|got - ref| - storage rounding) / tol over all checks
  std::string worst_at;
  std::string coverage;
};
inline std::vector<std::unique_ptr<Kernel>>& kernels() {
  static std::vector<std::unique_ptr<Kernel>> v;
  return v;
}
inline Kernel& kernel(const std::string& name) {
  for (auto& k : kernels()) if (k->name == name) return *k;
  kernels().emplace_back(new Kernel{name});
  return *kernels().back();
}
inline bool& strict_known() { static bool b = false; return b; }
inline bool& fail_fast() { static bool b = false; return b; }
inline long& case_serial() { static long n = 0; return n; }

// One test case: names itself for mismatch and fault reports, alternates the guard position
// (buffers and shared memory start right after a guard page, or end right before one) and counts
// as failed on any mismatch or emulator finding (race, shuffle, barrier) during its lifetime.
struct Case {
  Kernel& k;
  std::string desc;
  long mismatches = 0;
  long errors_before;
  bool known_issue;
  Case(Kernel& kern, const std::string& d, bool known = false) : k(kern), known_issue(known) {
    const bool front = (case_serial()++ & 1) != 0;
    emu::config().guard_front = front;
    desc = k.name + " " + d + (front ? " guard=front" : " guard=end");
    emu::current_case() = desc;
    errors_before = emu::error_count();
    k.cases++;
  }
  void fail(const char* fmt, ...) __attribute__((format(printf, 2, 3))) {
    if (mismatches++ < 3) {
      char buf[512];
      va_list ap;
      va_start(ap, fmt);
      vsnprintf(buf, sizeof buf, fmt, ap);
      va_end(ap);
      printf("%s [%s] %s\n", known_issue ? "KNOWN-ISSUE" : "MISMATCH", desc.c_str(), buf);
    }
  }
  // |got - ref| <= tol + store, elementwise: tol bounds the kernel's float arithmetic, store the
  // rounding of the result into its storage type (kt::Type<T>::store_err). NaN / Inf where the
  // reference is finite fails. The worst (|got - ref| - store) / tol is kept for the summary.
  bool close(const char* what, size_t i, double got, double ref, double tol, double store = 0) {
    const double err = std::fabs(got - ref);
    if (std::isfinite(ref) && !std::isfinite(got)) {
      fail("%s[%zu] = %.9g, expected %.9g (non-finite: unwritten or overflow)", what, i, got, ref);
      return false;
    }
    if (!(err <= tol + store)) {
      fail("%s[%zu] = %.9g, expected %.9g (error %.3g > tolerance %.3g + storage rounding %.3g)",
           what, i, got, ref, err, tol, store);
      return false;
    }
    k.tol_checks++;
    if (tol > 0 && !known_issue) {
      const double ratio = std::max(0.0, err - store) / tol;
      if (ratio > k.worst) { k.worst = ratio; k.worst_at = desc + " " + what; }
    }
    return true;
  }
  template <typename T>
  bool close_t(const char* what, size_t i, T got, double ref, double tol) {
    return close(what, i, Type<T>::to_d(got), ref, tol, Type<T>::store_err(std::fabs(ref) + tol));
  }
  bool exact(const char* what, size_t i, double got, double ref) {
    if (got == ref || (std::isnan(got) && std::isnan(ref))) return true;
    fail("%s[%zu] = %.9g, expected exactly %.9g", what, i, got, ref);
    return false;
  }
  // An int8 output: q must be clamp(rint(s), -127, 127) of the exact scaled value s, except that
  // when s lies within `window` of a rounding boundary (k + 0.5) the kernel's float s may fall on
  // the other side: then the neighbouring value is accepted, and counted as a boundary flip (with
  // a window above 0.5, every value from q(s - window) to q(s + window)).
  bool int8(const char* what, size_t i, int got, double s, double window) {
    auto q = [](double x) { return std::max(-127.0, std::min(127.0, std::nearbyint(x))); };
    const double want = q(s);
    if (std::fabs(s) < 127.5) k.max_window = std::max(k.max_window, window);
    if (got == want) return true;
    if (got >= q(s - window) && got <= q(s + window)) {
      k.flips++;
      return true;
    }
    fail("%s[%zu] = %d, expected %d (exact scaled value %.9g, boundary window %.2g)%s", what, i,
         got, (int)want, s, window, got == -128 ? " -128 is never a valid output" : "");
    return false;
  }
  ~Case() {
    const long errs = emu::error_count() - errors_before;
    const bool bad = mismatches > 0 || errs > 0;
    if (known_issue && errs == 0) {  // emulator findings are never excused
      if (bad) k.known++; else k.known_pass++;
      if (bad && !strict_known()) { emu::current_case() = "(between cases)"; return; }
    }
    if (bad) {
      k.failed++;
      if (mismatches > 3) printf("MISMATCH [%s] ... %ld mismatches in all\n", desc.c_str(), mismatches);
      if (fail_fast()) {
        printf("kernel-emu: stopping at the first failure (FT4J_EMU_FAIL_FAST)\n");
        fflush(stdout);
        _exit(1);
      }
    }
    emu::current_case() = "(between cases)";
  }
};

// A launch the test expects to succeed.
inline bool launched(Case& c, cudaError_t e) {
  if (e != cudaSuccess) {
    c.fail("launch failed: %s (%d)", cudaGetErrorString(e), (int)e);
    return false;
  }
  return true;
}
// A parameter check the test expects to accept.
inline bool accepted(Case& c, const std::string& why) {
  if (!why.empty()) {
    c.fail("rejected by the parameter check: %s", why.c_str());
    return false;
  }
  return true;
}

// ---- faults ------------------------------------------------------------------------------------
inline bool in(const char* a, const char* lo, size_t len) { return a >= lo && a < lo + len; }

inline void describe_fault(const char* a, char* out, size_t cap) {
  const size_t pg = emu::page_size();
  for (emu::DevBuf* b : emu::dev_bufs()) {
    const emu::Guarded& g = b->g;
    const size_t n = g.bytes / b->elem;
    if (in(a, g.map, pg)) {
      snprintf(out, cap, "read/write %td bytes BEFORE the start of device buffer '%s' (%zu elements)",
               g.p - a, b->name.c_str(), n);
      return;
    }
    if (in(a, g.data + g.data_len, pg)) {
      snprintf(out, cap, "read/write PAST THE END of device buffer '%s': element %td of %zu",
               b->name.c_str(), (a - g.p) / (ptrdiff_t)b->elem, n);
      return;
    }
    if (in(a, g.data, g.data_len) && b->readonly) {
      snprintf(out, cap, "WRITE to the kernel input '%s' (read-only), element %td", b->name.c_str(),
               (a - g.p) / (ptrdiff_t)b->elem);
      return;
    }
  }
  struct { const char* name; emu::Arena* a; } arenas[] = {{"dynamic", &emu::dyn_arena()},
                                                          {"static", &emu::static_arena()}};
  for (auto& ar : arenas) {
    const emu::Guarded& g = ar.a->g;
    if (in(a, g.map, pg) || in(a, g.data + g.data_len, pg)) {
      snprintf(out, cap, "access outside the %s SHARED memory (%zu dynamic bytes requested)",
               ar.name, emu::ls().dyn_bytes);
      return;
    }
  }
  for (emu::Fiber& f : emu::fibers()) {
    if (f.stack.map && in(a, f.stack.map, pg)) {
      snprintf(out, cap, "stack overflow of an emulated thread");
      return;
    }
  }
  snprintf(out, cap, "address %p is not next to any device buffer (wild pointer)", (const void*)a);
}

inline void on_fault(int sig, siginfo_t* si, void*) {
  char what[400];
  if (sig == SIGSEGV || sig == SIGBUS) describe_fault((const char*)si->si_addr, what, sizeof what);
  else snprintf(what, sizeof what, "%s", strsignal(sig));
  printf("FAULT %s in case: %s%s: %s\n", sig == SIGSEGV ? "SIGSEGV" : strsignal(sig),
         emu::current_case().c_str(),
         emu::in_kernel() ? (" [block " + std::to_string(emu::block_idx().x) + " thread " +
                             std::to_string(emu::current_tid()) + "]").c_str()
                          : "",
         what);
  fflush(stdout);
  signal(sig, SIG_DFL);
  raise(sig);
}

inline void init(int, char**) {
  static char altstack[1 << 16];
  stack_t ss{};
  ss.ss_sp = altstack;
  ss.ss_size = sizeof altstack;
  sigaltstack(&ss, nullptr);
  struct sigaction sa{};
  sa.sa_sigaction = on_fault;
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
  for (int s : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT}) sigaction(s, &sa, nullptr);
  const char* e = getenv("FT4J_EMU_STRICT");
  strict_known() = e && *e && *e != '0';
  e = getenv("FT4J_EMU_FAIL_FAST");
  fail_fast() = e && *e && *e != '0';
  setvbuf(stdout, nullptr, _IOLBF, 0);
}

// Prints "SUMMARY PASS|FAIL kernel: ..." per kernel; returns the exit status.
inline int finish() {
  int status = 0;
  for (auto& kp : kernels()) {
    Kernel& k = *kp;
    const bool ok = k.failed == 0 && k.cases > 0;
    if (!ok) status = 1;
    char line[1024];
    int n = snprintf(line, sizeof line, "SUMMARY %s %-36s %5ld cases", ok ? "PASS" : "FAIL",
                     k.name.c_str(), k.cases);
    if (k.failed) n += snprintf(line + n, sizeof line - n, ", %ld FAILED", k.failed);
    if (k.tol_checks) n += snprintf(line + n, sizeof line - n, ", worst %.2f of tol", k.worst);
    else n += snprintf(line + n, sizeof line - n, ", exact");
    if (k.max_window > 0) {
      n += snprintf(line + n, sizeof line - n, ", int8 window <= %.1e (%ld flips)", k.max_window, k.flips);
    }
    if (k.known || k.known_pass) {
      n += snprintf(line + n, sizeof line - n, ", known issue: %ld of %ld cases still fail%s", k.known,
                    k.known + k.known_pass, strict_known() ? " (strict)" : "");
    }
    if (!k.coverage.empty()) n += snprintf(line + n, sizeof line - n, " | %s", k.coverage.c_str());
    puts(line);
    if (getenv("FT4J_EMU_VERBOSE") && !k.worst_at.empty()) printf("  worst at: %s\n", k.worst_at.c_str());
  }
  if (emu::error_count() > 0) {
    printf("SUMMARY FAIL emulator findings: %ld (races, shuffle masks, barriers; see EMU lines)\n",
           emu::error_count());
    status = 1;
  }
  fflush(stdout);
  return status;
}

}  // namespace kt
