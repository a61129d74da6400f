// The C API layer (native/src/ft4j.cpp against native/include/ft4j.h), compiled with every kernel
// family into this one translation unit and run on the emulator.
//
// Accepted calls: every entry point that launches a kernel is called with valid arguments on small
// random data (never zeros; outputs poisoned). From the same device memory, the kernel's launch
// function is then called directly with the parameters the header gives those arguments
// (Args::direct below, written from ft4j.h, not from ft4j.cpp), and both must leave every device
// buffer byte-identical; the call must return FT4J_OK, launch exactly the expected number of
// kernels and leave no CUDA error pending. The kernels' arithmetic itself is checked by the other
// tests; a few results here are also checked against an exact reference (copies, conversions,
// integer GEMM sums, prefix sums) so that a wrong mapping shared by both paths shows too.
//
// Refused calls: every refusal ft4j.h documents or ft4j.cpp implements, one bad argument at a
// time on top of a valid call: the status must be the documented one, ft4j_last_error() must start
// with the function's name and name the problem, and the call must launch nothing, change no byte
// of any device buffer (outputs are poisoned, inputs random) and leave no CUDA error pending.
// Aliasing: partial overlaps are refused (deq_out partly over input, out partly over residual, the
// pool over the states...), the exact aliases the header allows are accepted (deq_out = input,
// out = residual, out = input), and so are buffers that touch without overlapping.
//
// The emulated device is an sm_75 with 64 KiB of opt-in shared memory: this test is built without
// __CUDA_ARCH__, so the tensor-core code is empty here and must not be chosen. On sm_75 the fused
// attention takes its CUDA-core path in FP32 and FP16 and gemm_int8 its __dp4a kernel.
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
#include "ref.h"

#include <functional>
#include <thread>

namespace {

constexpr int FP32 = FT4J_DTYPE_FP32, FP16 = FT4J_DTYPE_FP16, INT8 = FT4J_DTYPE_INT8;
constexpr int INVALID = FT4J_ERR_INVALID_ARGUMENT, UNSUPPORTED = FT4J_ERR_UNSUPPORTED;
constexpr int CUDA_ERROR = FT4J_ERR_CUDA;

// The summary lines (one per group of entry points).
constexpr const char* kQuant = "capi quantize/dequantize";
constexpr const char* kNorm = "capi layernorm/embedding/gelu";
constexpr const char* kPool = "capi pooling/padding";
constexpr const char* kAttn = "capi attention (unfused)";
constexpr const char* kFused = "capi fused attention";
constexpr const char* kGemm = "capi gemm_int8";
constexpr const char* kMisc = "capi convert/devices/errors";

const char* dname(int dtype) { return dtype == FP32 ? "FP32" : dtype == FP16 ? "FP16" : "INT8"; }
size_t dsize(int dtype) { return dtype == FP32 ? 4 : dtype == FP16 ? 2 : 1; }
const char* status_name(int s) {
  switch (s) {
    case FT4J_OK: return "FT4J_OK";
    case FT4J_ERR_INVALID_ARGUMENT: return "FT4J_ERR_INVALID_ARGUMENT";
    case FT4J_ERR_UNSUPPORTED: return "FT4J_ERR_UNSUPPORTED";
    case FT4J_ERR_CUDA: return "FT4J_ERR_CUDA";
    case FT4J_ERR_INTERNAL: return "FT4J_ERR_INTERNAL";
    default: return "unknown status";
  }
}
std::string str(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
std::string str(const char* fmt, ...) {
  char buf[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  return buf;
}
// p moved by `bytes` (misaligned pointers, pointers into arenas).
template <typename T>
T* off(T* p, long bytes) {
  return reinterpret_cast<T*>(reinterpret_cast<uintptr_t>(p) + bytes);
}

// ---- device buffers ----------------------------------------------------------------------------
// A guarded device buffer of `count` elements of `elem` bytes (testlib's kt::Buf, untyped: the
// storage type of most buffers here is the call's dtype).
struct Dev {
  char* p = nullptr;
  size_t bytes = 0;
  Dev() = default;
  Dev(size_t count, size_t elem, const std::string& name) : bytes(count * elem) {
    p = static_cast<char*>(emu::dev_alloc(bytes, elem, name));
  }
  Dev(Dev&& o) noexcept : p(o.p), bytes(o.bytes) { o.p = nullptr; }
  Dev& operator=(Dev&& o) noexcept { std::swap(p, o.p); std::swap(bytes, o.bytes); return *this; }
  Dev(const Dev&) = delete;
  ~Dev() { if (p) emu::dev_free(p); }
  template <typename T> T* as() const { return reinterpret_cast<T*>(p); }
  // element `i` of a dtype buffer, as void*
  void* at(int dtype, long i) const { return p + i * long(dsize(dtype)); }
};
// Random values in [lo, hi] (never 0) stored as dtype (FP32 / FP16): an input, read-only unless
// `ro` is false (a buffer written in place or an arena that overlap layouts point into).
Dev values(int dtype, size_t count, kt::Rng& g, double lo, double hi, const std::string& name,
           bool ro = true) {
  Dev d(count, dsize(dtype), name);
  for (size_t i = 0; i < count; ++i) {
    double v = g.uni(lo, hi);
    if (v == 0) v = hi;
    if (dtype == FP32) d.as<float>()[i] = float(v); else d.as<__half>()[i] = __float2half_rn(float(v));
  }
  if (ro) emu::set_readonly(d.p, true);
  return d;
}
Dev ints(const std::vector<int>& v, const std::string& name, bool ro = true) {
  Dev d(v.size(), 4, name);
  for (size_t i = 0; i < v.size(); ++i) d.as<int>()[i] = v[i];
  if (ro) emu::set_readonly(d.p, true);
  return d;
}
Dev int32s(size_t count, kt::Rng& g, int lo, int hi, const std::string& name, bool ro = true) {
  std::vector<int> v(count);
  for (int& x : v) { x = g.integer(lo, hi); if (x == 0) x = hi; }
  return ints(v, name, ro);
}
Dev int8s(size_t count, kt::Rng& g, const std::string& name, bool ro = true) {
  Dev d(count, 1, name);
  for (size_t i = 0; i < count; ++i) {
    const int x = g.integer(-127, 127);
    d.as<int8_t>()[i] = int8_t(x == 0 ? 1 : x);
  }
  if (ro) emu::set_readonly(d.p, true);
  return d;
}
// An output, poisoned: int8 -128 (never a valid output), else all bits set (FP32 / FP16 NaN).
Dev output(size_t count, size_t elem, const std::string& name) {
  Dev d(count, elem, name);
  memset(d.p, elem == 1 ? 0x80 : 0xFF, d.bytes);
  return d;
}

// Room for the separate [1, 12225] tensors of a call refused for its width (the overlap checks
// take the extents the arguments describe; never read: marked read-only, so that launches of
// accepted calls do not copy it).
constexpr int kWide = 12225;
Dev wide() {
  Dev d(5 * size_t(kWide), 4, "wide (cols 12225)");
  emu::set_readonly(d.p, true);
  return d;
}
// Tensor i of `wide`.
char* wide_at(const Dev& d, int i) { return d.p + 4 * size_t(kWide) * i; }

// Bytes of every live device buffer.
using Memory = std::vector<std::vector<char>>;
Memory snapshot() {
  Memory m;
  for (emu::DevBuf* b : emu::dev_bufs()) m.emplace_back(b->g.p, b->g.p + b->g.bytes);
  return m;
}
void restore(const Memory& m) {
  auto& v = emu::dev_bufs();
  for (size_t i = 0; i < v.size(); ++i) memcpy(v[i]->g.p, m[i].data(), m[i].size());
}
// Where two snapshots of the same buffers first differ ("" when they do not).
std::string difference(const Memory& a, const Memory& b) {
  auto& v = emu::dev_bufs();
  for (size_t i = 0; i < v.size() && i < a.size() && i < b.size(); ++i) {
    if (a[i] == b[i]) continue;
    size_t at = 0;
    while (a[i][at] == b[i][at]) ++at;
    return str("device buffer '%s' byte %zu (element %zu): 0x%02x, then 0x%02x", v[i]->name.c_str(),
               at, at / v[i]->elem, (unsigned char)a[i][at], (unsigned char)b[i][at]);
  }
  return "";
}

// ---- the two expectations ------------------------------------------------------------------------
// A call that must succeed: FT4J_OK, `launches` kernel launches (-1: any), no CUDA error pending.
bool expect_ok(kt::Case& c, const char* fn, long launches, const std::function<int()>& call) {
  const long before = emu::launch_count();
  const int got = call();
  if (got != FT4J_OK) {
    c.fail("%s returned %s (%d): %s", fn, status_name(got), got, ft4j_last_error());
    return false;
  }
  const long n = emu::launch_count() - before;
  if (launches >= 0 && n != launches) c.fail("%s launched %ld kernels, expected %ld", fn, n, launches);
  const cudaError_t e = cudaPeekAtLastError();
  if (e != cudaSuccess) c.fail("%s left the CUDA error %s pending", fn, cudaGetErrorName(e));
  return true;
}

// A call that must be refused with `status` and a message "<fn>: ..." that contains every one of
// `says`, launching nothing, changing no device memory, leaving no CUDA error pending.
void expect_refused(kt::Case& c, const char* fn, int status, const std::vector<std::string>& says,
                    const std::function<int()>& call) {
  const long mismatches = c.mismatches;
  ft4j::set_last_error("(message of an earlier call)");
  const Memory before = snapshot();
  const long launches = emu::launch_count();
  const int got = call();
  const std::string msg = ft4j_last_error();
  if (got != status) {
    c.fail("returned %s (%d), expected %s; message: %s", status_name(got), got, status_name(status),
           msg.c_str());
  }
  if (msg.rfind(std::string(fn) + ": ", 0) != 0) {
    c.fail("the message does not start with '%s: ': %s", fn, msg.c_str());
  }
  for (const std::string& s : says) {
    if (msg.find(s) == std::string::npos) c.fail("the message does not say '%s': %s", s.c_str(), msg.c_str());
  }
  if (emu::launch_count() != launches) {
    c.fail("a refused call launched %ld kernels", emu::launch_count() - launches);
  }
  const std::string d = difference(before, snapshot());
  if (!d.empty()) c.fail("a refused call changed device memory: %s", d.c_str());
  const cudaError_t e = cudaPeekAtLastError();
  if (e != cudaSuccess) {
    c.fail("the refused call left the CUDA error %s pending (the next launch reports it)",
           cudaGetErrorName(e));
    cudaGetLastError();  // one finding, not one per later case
  }
  if (c.mismatches == mismatches) c.k.rejected_ok++;
}

// ---- tables of calls -----------------------------------------------------------------------------
// F: a fixture with the buffers of one entry point (allocated per case, so that they sit against
// the guard page the case uses), F::Args its arguments, with call() (the C API) and direct() (the
// kernel family's launch function with the parameters ft4j.h gives those arguments).
template <typename F>
using Set = std::function<void(typename F::Args&, F&)>;
template <typename F>
using Check = std::function<void(kt::Case&, F&, const typename F::Args&)>;
#define SET(...) [](A& a, F& f) { (void)a; (void)f; __VA_ARGS__; }

template <typename F>
std::string case_name(int dtype, const char* verb, const std::string& what) {
  return F::typed ? str("%s %s %s %s", F::fn, dname(dtype), verb, what.c_str())
                  : str("%s %s %s", F::fn, verb, what.c_str());
}

// The call must succeed and equal the direct launch; `check`: a reference check of the result.
template <typename F>
void accepts(int dtype, const std::string& what, const Set<F>& set = {}, const Check<F>& check = {},
             long launches = 1) {
  kt::Case c(kt::kernel(F::group), case_name<F>(dtype, "accepts", what));
  F f(dtype);
  typename F::Args a = f.args();
  if (set) set(a, f);
  const Memory before = snapshot();
  if (!expect_ok(c, F::fn, launches, [&] { return a.call(); })) return;
  const Memory api = snapshot();
  if (difference(before, api).empty()) c.fail("the call wrote nothing");
  restore(before);
  if (!kt::launched(c, a.direct())) return;
  const std::string d = difference(api, snapshot());
  if (!d.empty()) c.fail("the C API and the direct launch differ: %s (C API first)", d.c_str());
  if (check) check(c, f, a);
}

// The call must be refused (expect_refused).
template <typename F>
void refuses(int dtype, const std::string& what, int status, const std::vector<std::string>& says,
             const Set<F>& set) {
  kt::Case c(kt::kernel(F::group), case_name<F>(dtype, "refuses", what));
  F f(dtype);
  typename F::Args a = f.args();
  set(a, f);
  expect_refused(c, F::fn, status, says, [&] { return a.call(); });
}

// Typed views of a dtype's launch (T = float or __half).
#define BY_DTYPE(dtype, call) ((dtype) == FP32 ? call<float>() : call<__half>())

// ==== quantize_rows, dequantize_bias_act, dequantize_bias_residual_layernorm ======================
// Rows of 45 columns, 3 rows (more than the emulator's grid cap of 2).
constexpr int kRows = 3, kCols = 45, kN = kRows * kCols;

struct QuantizeRows {
  static constexpr const char* fn = "ft4j_quantize_rows";
  static constexpr const char* group = kQuant;
  static constexpr bool typed = true;
  struct Args {
    int dtype; void* qout; void* out_scale; const void* input; const void* inv_smooth;
    float static_amax; void* deq_out; int rows, cols;
    int call() const {
      return ft4j_quantize_rows(dtype, qout, out_scale, input, inv_smooth, static_amax, deq_out,
                                rows, cols, nullptr);
    }
    template <typename T> cudaError_t launch() const {
      return ft4j::launch_quantize_rows(
          ft4j::QuantizeRowsParams<T>{(int8_t*)qout, (float*)out_scale, (const T*)input,
                                      (const float*)inv_smooth, static_amax, (T*)deq_out, rows, cols},
          nullptr);
    }
    cudaError_t direct() const { return BY_DTYPE(dtype, launch); }
  };
  int dtype;
  kt::Rng g;
  Dev input, inv, qout, scale, deq, arena, wide = ::wide();
  explicit QuantizeRows(int dt)
      : dtype(dt), g(11 + dt), input(values(dt, kN, g, -3, 3, "input")),
        inv(values(FP32, kCols, g, 0.5, 2, "inv_smooth")), qout(output(kN, 1, "qout")),
        scale(output(kRows, 4, "out_scale")), deq(output(kN, dsize(dt), "deq_out")),
        arena(values(dt, 2 * kN, g, -3, 3, "arena (input/deq_out layouts)", false)) {}
  // per token, SmoothQuant, a dequantized copy; static_amax is unused then (NaN)
  Args args() const { return {dtype, qout.p, scale.p, input.p, inv.p, NAN, deq.p, kRows, kCols}; }
};

void quantize_rows_calls() {
  using F = QuantizeRows;
  using A = F::Args;
  for (int dt : {FP32, FP16}) {
    accepts<F>(dt, "per-token, inv_smooth, deq_out (static_amax unused: NaN)");
    accepts<F>(dt, "static amax, no inv_smooth, no deq_out",
               SET(a.out_scale = nullptr; a.inv_smooth = nullptr; a.static_amax = 2.5f; a.deq_out = nullptr));
    accepts<F>(dt, "deq_out == input (the documented alias)", SET(a.input = a.deq_out = f.arena.at(f.dtype, 0)));
    accepts<F>(dt, "deq_out right after input",
               SET(a.input = f.arena.at(f.dtype, 0); a.deq_out = f.arena.at(f.dtype, kN)));
    accepts<F>(dt, "deq_out right before input",
               SET(a.deq_out = f.arena.at(f.dtype, 0); a.input = f.arena.at(f.dtype, kN)));
  }
  const int dt = FP32;
  refuses<F>(dt, "dtype INT8", UNSUPPORTED, {"dtype = 2 is not supported"}, SET(a.dtype = INT8));
  refuses<F>(dt, "dtype -1", UNSUPPORTED, {"dtype = -1 is not supported"}, SET(a.dtype = -1));
  refuses<F>(dt, "input NULL", INVALID, {"input is NULL"}, SET(a.input = nullptr));
  refuses<F>(dt, "qout NULL", INVALID, {"qout is NULL"}, SET(a.qout = nullptr));
  refuses<F>(dt, "input misaligned", INVALID, {"input = 0x", "is not aligned to its 4-byte elements"},
             SET(a.input = off(a.input, 2)));
  refuses<F>(FP16, "input misaligned", INVALID, {"input = 0x", "is not aligned to its 2-byte elements"},
             SET(a.input = off(a.input, 1)));
  refuses<F>(dt, "out_scale misaligned", INVALID, {"out_scale = 0x", "4-byte"}, SET(a.out_scale = off(a.out_scale, 1)));
  refuses<F>(dt, "inv_smooth misaligned", INVALID, {"inv_smooth = 0x", "4-byte"},
             SET(a.inv_smooth = off(a.inv_smooth, 2)));
  refuses<F>(dt, "deq_out misaligned", INVALID, {"deq_out = 0x", "4-byte"}, SET(a.deq_out = off(a.deq_out, 2)));
  for (float bad : {0.f, -1.f, NAN, INFINITY}) {
    refuses<F>(dt, str("static_amax %g without out_scale", bad), INVALID,
               {str("static_amax = %g, must be > 0 and finite for static quantization", bad)},
               [bad](A& a, F&) { a.out_scale = nullptr; a.static_amax = bad; });
  }
  refuses<F>(dt, "rows 0", INVALID, {"rows = 0, must be >= 1"}, SET(a.rows = 0));
  refuses<F>(dt, "cols -4", INVALID, {"cols = -4, must be >= 1"}, SET(a.cols = -4));
  refuses<F>(dt, "cols 12225", UNSUPPORTED, {"quantize_rows: cols = 12225 exceeds the 12224 columns"},
             SET(a.rows = 1; a.cols = kWide; a.input = wide_at(f.wide, 0); a.qout = wide_at(f.wide, 1);
                 a.deq_out = wide_at(f.wide, 2); a.inv_smooth = wide_at(f.wide, 3)));
  refuses<F>(dt, "deq_out one row into input", INVALID, {"deq_out (4-byte elements) overlaps input (4-byte elements)"},
             SET(a.input = f.arena.at(f.dtype, 0); a.deq_out = f.arena.at(f.dtype, kCols)));
  refuses<F>(dt, "deq_out ending one element into input", INVALID, {"deq_out (4-byte elements) overlaps input"},
             SET(a.deq_out = f.arena.at(f.dtype, 0); a.input = f.arena.at(f.dtype, kN - 1)));
  refuses<F>(FP16, "deq_out one element past input", INVALID,
             {"deq_out (2-byte elements) overlaps input (2-byte elements)"},
             SET(a.input = f.arena.at(f.dtype, 0); a.deq_out = f.arena.at(f.dtype, 1)));
  refuses<F>(dt, "qout over input", INVALID, {"qout (1-byte elements) overlaps input (4-byte elements)"},
             SET(a.input = f.arena.at(f.dtype, 0); a.qout = f.arena.p));
  refuses<F>(dt, "qout == input with deq_out == input", INVALID, {"qout (1-byte elements) overlaps input"},
             SET(a.input = a.deq_out = a.qout = f.arena.p));
  refuses<F>(dt, "qout partly over deq_out", INVALID, {"qout (1-byte elements) overlaps deq_out (4-byte elements)"},
             SET(a.qout = off(a.deq_out, 3)));
}

struct DequantizeBiasAct {
  static constexpr const char* fn = "ft4j_dequantize_bias_act";
  static constexpr const char* group = kQuant;
  static constexpr bool typed = true;
  struct Args {
    int dtype; void* out; void* qout; void* qout_scale; const void* acc; int acc_int8;
    const void* in_scale; float in_static_scale; const void* w_scale; const void* bias;
    const void* inv_smooth; float static_amax; int gelu; int rows, cols;
    int call() const {
      return ft4j_dequantize_bias_act(dtype, out, qout, qout_scale, acc, acc_int8, in_scale,
                                      in_static_scale, w_scale, bias, inv_smooth, static_amax, gelu,
                                      rows, cols, nullptr);
    }
    template <typename T> cudaError_t launch() const {
      return ft4j::launch_dequantize_bias_act(
          ft4j::DequantizeBiasActParams<T>{
              (T*)out, (int8_t*)qout, (float*)qout_scale, acc_int8 ? nullptr : (const int32_t*)acc,
              acc_int8 ? (const int8_t*)acc : nullptr, (const float*)in_scale, in_static_scale,
              (const float*)w_scale, (const T*)bias, (const float*)inv_smooth, static_amax, gelu,
              rows, cols},
          nullptr);
    }
    cudaError_t direct() const { return BY_DTYPE(dtype, launch); }
  };
  int dtype;
  kt::Rng g;
  Dev acc, acc8, in_scale, w, bias, inv, out, qout, qscale, arena32, arena8, wide = ::wide();
  explicit DequantizeBiasAct(int dt)
      : dtype(dt), g(23 + dt), acc(int32s(kN, g, -40000, 40000, "acc")), acc8(int8s(kN, g, "acc8")),
        in_scale(values(FP32, kRows, g, 1e-3, 4e-3, "in_scale")),
        w(values(FP32, kCols, g, 2e-4, 1e-3, "w_scale")), bias(values(dt, kCols, g, -1, 1, "bias")),
        inv(values(FP32, kCols, g, 0.5, 2, "inv_smooth")), out(output(kN, dsize(dt), "out")),
        qout(output(kN, 1, "qout")), qscale(output(kRows, 4, "qout_scale")),
        arena32(int32s(2 * kN, g, -40000, 40000, "arena (int32 acc layouts)", false)),
        arena8(int8s(2 * kN, g, "arena (int8 acc layouts)", false)) {}
  // per-row in_scale, bias, GELU, out and per-token qout with SmoothQuant; the static scales are
  // unused then (NaN)
  Args args() const {
    return {dtype, out.p, qout.p, qscale.p, acc.p, 0, in_scale.p, NAN, w.p, bias.p, inv.p, NAN, 1,
            kRows, kCols};
  }
};

void dequantize_bias_act_calls() {
  using F = DequantizeBiasAct;
  using A = F::Args;
  for (int dt : {FP32, FP16}) {
    accepts<F>(dt, "per-row in_scale, bias, GELU, out and per-token qout (static scales unused: NaN)");
    accepts<F>(dt, "int8 acc, static in scale, static qout only, no bias",
               SET(a.acc = f.acc8.p; a.acc_int8 = 1; a.in_scale = nullptr; a.in_static_scale = 2.f;
                   a.out = nullptr; a.qout_scale = nullptr; a.static_amax = 0.2f; a.bias = nullptr; a.gelu = 0));
    accepts<F>(dt, "out only (static_amax 0 unused), no bias, no GELU",
               SET(a.qout = nullptr; a.qout_scale = nullptr; a.inv_smooth = nullptr; a.static_amax = 0.f;
                   a.bias = nullptr; a.gelu = 0));
    accepts<F>(dt, "qout == int8 acc (1-byte elements, exactly)",
               SET(a.acc = a.qout = f.arena8.p; a.acc_int8 = 1; a.in_scale = nullptr; a.in_static_scale = 2.f));
  }
  accepts<F>(FP32, "out == int32 acc (4-byte elements, exactly)", SET(a.acc = a.out = f.arena32.p; a.qout = nullptr));
  accepts<F>(FP32, "out right after acc", SET(a.acc = f.arena32.p; a.out = f.arena32.p + 4 * kN));
  const int dt = FP32;
  refuses<F>(dt, "dtype INT8", UNSUPPORTED, {"dtype = 2 is not supported"}, SET(a.dtype = INT8));
  refuses<F>(dt, "out and qout NULL", INVALID, {"out and qout are both NULL"}, SET(a.out = nullptr; a.qout = nullptr));
  refuses<F>(dt, "acc NULL", INVALID, {"acc is NULL"}, SET(a.acc = nullptr));
  refuses<F>(dt, "int32 acc misaligned", INVALID, {"acc = 0x", "is not aligned to its 4-byte elements"},
             SET(a.acc = off(a.acc, 2)));
  refuses<F>(dt, "acc_int8 2", INVALID, {"acc_int8 = 2, must be 0 or 1"}, SET(a.acc_int8 = 2));
  refuses<F>(dt, "acc_int8 -1", INVALID, {"acc_int8 = -1, must be 0 or 1"}, SET(a.acc_int8 = -1));
  for (float bad : {0.f, -2.f, NAN, INFINITY}) {
    refuses<F>(dt, str("in_static_scale %g without in_scale", bad), INVALID,
               {str("in_static_scale = %g, must be > 0 and finite when in_scale is NULL", bad)},
               [bad](A& a, F&) { a.in_scale = nullptr; a.in_static_scale = bad; });
  }
  refuses<F>(dt, "in_scale misaligned", INVALID, {"in_scale = 0x", "4-byte"}, SET(a.in_scale = off(a.in_scale, 1)));
  refuses<F>(dt, "w_scale NULL", INVALID, {"w_scale is NULL"}, SET(a.w_scale = nullptr));
  refuses<F>(dt, "w_scale misaligned", INVALID, {"w_scale = 0x", "4-byte"}, SET(a.w_scale = off(a.w_scale, 2)));
  refuses<F>(dt, "bias misaligned", INVALID, {"bias = 0x", "4-byte"}, SET(a.bias = off(a.bias, 2)));
  refuses<F>(FP16, "bias misaligned", INVALID, {"bias = 0x", "2-byte"}, SET(a.bias = off(a.bias, 1)));
  refuses<F>(dt, "inv_smooth misaligned", INVALID, {"inv_smooth = 0x"}, SET(a.inv_smooth = off(a.inv_smooth, 2)));
  refuses<F>(dt, "qout_scale misaligned", INVALID, {"qout_scale = 0x", "4-byte"},
             SET(a.qout_scale = off(a.qout_scale, 2)));
  refuses<F>(dt, "static_amax 0 for a static qout", INVALID, {"static_amax = 0, must be > 0 and finite"},
             SET(a.qout_scale = nullptr; a.static_amax = 0.f));
  refuses<F>(dt, "gelu 2", INVALID, {"gelu = 2, must be 0 or 1"}, SET(a.gelu = 2));
  refuses<F>(dt, "rows 0", INVALID, {"rows = 0, must be >= 1"}, SET(a.rows = 0));
  refuses<F>(dt, "cols 0", INVALID, {"cols = 0, must be >= 1"}, SET(a.cols = 0));
  refuses<F>(dt, "cols 12225", UNSUPPORTED, {"dequantize_bias_act: cols = 12225 exceeds"},
             SET(a.rows = 1; a.cols = kWide; a.acc = wide_at(f.wide, 0); a.out = wide_at(f.wide, 1);
                 a.qout = wide_at(f.wide, 2); a.w_scale = wide_at(f.wide, 3); a.bias = wide_at(f.wide, 4)));
  refuses<F>(dt, "out one row into acc", INVALID, {"out (4-byte elements) overlaps acc (4-byte elements)"},
             SET(a.acc = f.arena32.p; a.out = f.arena32.p + 4 * kCols));
  refuses<F>(dt, "out == int8 acc (4- and 1-byte elements)", INVALID,
             {"out (4-byte elements) overlaps acc (1-byte elements)"},
             SET(a.acc = a.out = f.arena32.p; a.acc_int8 = 1));
  refuses<F>(FP16, "out == int32 acc (2- and 4-byte elements)", INVALID,
             {"out (2-byte elements) overlaps acc (4-byte elements)"},
             SET(a.acc = a.out = f.arena32.p));
  refuses<F>(dt, "qout inside int32 acc", INVALID, {"qout (1-byte elements) overlaps acc (4-byte elements)"},
             SET(a.acc = f.arena32.p; a.qout = f.arena32.p + 5));
  refuses<F>(dt, "qout partly over out", INVALID, {"out (4-byte elements) overlaps qout (1-byte elements)"},
             SET(a.qout = off(a.out, 4)));
}

struct DequantizeBiasResidualLayernorm {
  static constexpr const char* fn = "ft4j_dequantize_bias_residual_layernorm";
  static constexpr const char* group = kQuant;
  static constexpr bool typed = true;
  struct Args {
    int dtype; void* out; void* qout; void* qout_scale; const void* acc; int acc_int8;
    const void* in_scale; float in_static_scale; const void* w_scale; const void* bias;
    const void* residual; const void* gamma; const void* beta; const void* inv_smooth;
    float static_amax; float eps; int out_dequantized; int rows, cols;
    int call() const {
      return ft4j_dequantize_bias_residual_layernorm(
          dtype, out, qout, qout_scale, acc, acc_int8, in_scale, in_static_scale, w_scale, bias,
          residual, gamma, beta, inv_smooth, static_amax, eps, out_dequantized, rows, cols, nullptr);
    }
    template <typename T> cudaError_t launch() const {
      return ft4j::launch_dequantize_bias_residual_layernorm(
          ft4j::DequantizeBiasResidualLayernormParams<T>{
              (T*)out, (int8_t*)qout, (float*)qout_scale, acc_int8 ? nullptr : (const int32_t*)acc,
              acc_int8 ? (const int8_t*)acc : nullptr, (const float*)in_scale, in_static_scale,
              (const float*)w_scale, (const T*)bias, (const T*)residual, (const T*)gamma,
              (const T*)beta, (const float*)inv_smooth, static_amax, eps, out_dequantized, rows,
              cols},
          nullptr);
    }
    cudaError_t direct() const { return BY_DTYPE(dtype, launch); }
  };
  int dtype;
  kt::Rng g;
  Dev acc, acc8, in_scale, w, bias, residual, gamma, beta, inv, out, qout, qscale, arena, arena32,
      wide = ::wide();
  explicit DequantizeBiasResidualLayernorm(int dt)
      : dtype(dt), g(37 + dt), acc(int32s(kN, g, -40000, 40000, "acc")), acc8(int8s(kN, g, "acc8")),
        in_scale(values(FP32, kRows, g, 1e-3, 4e-3, "in_scale")),
        w(values(FP32, kCols, g, 2e-4, 1e-3, "w_scale")), bias(values(dt, kCols, g, -1, 1, "bias")),
        residual(values(dt, kN, g, -2, 2, "residual")), gamma(values(dt, kCols, g, 0.5, 1.5, "gamma")),
        beta(values(dt, kCols, g, -0.5, 0.5, "beta")), inv(values(FP32, kCols, g, 0.5, 2, "inv_smooth")),
        out(output(kN, dsize(dt), "out")), qout(output(kN, 1, "qout")),
        qscale(output(kRows, 4, "qout_scale")),
        arena(values(dt, 2 * kN, g, -2, 2, "arena (residual/out layouts)", false)),
        arena32(int32s(2 * kN, g, -40000, 40000, "arena (int32 acc layouts)", false)) {}
  Args args() const {
    return {dtype, out.p, qout.p, qscale.p, acc.p, 0, in_scale.p, NAN, w.p, bias.p, residual.p,
            gamma.p, beta.p, inv.p, NAN, 1e-5f, 0, kRows, kCols};
  }
};

void dequantize_bias_residual_layernorm_calls() {
  using F = DequantizeBiasResidualLayernorm;
  using A = F::Args;
  for (int dt : {FP32, FP16}) {
    accepts<F>(dt, "per-row in_scale, bias, out and per-token qout (static scales unused: NaN)");
    accepts<F>(dt, "out == residual (the documented alias)", SET(a.residual = a.out = f.arena.at(f.dtype, 0)));
    accepts<F>(dt, "out == residual, out_dequantized, int8 acc, static scales",
               SET(a.residual = a.out = f.arena.at(f.dtype, 0); a.out_dequantized = 1; a.acc = f.acc8.p;
                   a.acc_int8 = 1; a.in_scale = nullptr; a.in_static_scale = 0.02f; a.qout_scale = nullptr;
                   a.static_amax = 2.5f));
    accepts<F>(dt, "no qout (static_amax 0 unused), no bias",
               SET(a.qout = nullptr; a.qout_scale = nullptr; a.inv_smooth = nullptr; a.static_amax = 0.f; a.bias = nullptr));
    accepts<F>(dt, "out right after residual",
               SET(a.residual = f.arena.at(f.dtype, 0); a.out = f.arena.at(f.dtype, kN)));
  }
  const int dt = FP32;
  refuses<F>(dt, "dtype 3", UNSUPPORTED, {"dtype = 3 is not supported"}, SET(a.dtype = 3));
  refuses<F>(dt, "out NULL", INVALID, {"out is NULL"}, SET(a.out = nullptr));
  refuses<F>(dt, "acc NULL", INVALID, {"acc is NULL"}, SET(a.acc = nullptr));
  refuses<F>(dt, "residual NULL", INVALID, {"residual is NULL"}, SET(a.residual = nullptr));
  refuses<F>(dt, "gamma NULL", INVALID, {"gamma is NULL"}, SET(a.gamma = nullptr));
  refuses<F>(dt, "beta NULL", INVALID, {"beta is NULL"}, SET(a.beta = nullptr));
  refuses<F>(dt, "w_scale NULL", INVALID, {"w_scale is NULL"}, SET(a.w_scale = nullptr));
  refuses<F>(dt, "residual misaligned", INVALID, {"residual = 0x", "4-byte"}, SET(a.residual = off(a.residual, 2)));
  refuses<F>(FP16, "gamma misaligned", INVALID, {"gamma = 0x", "2-byte"}, SET(a.gamma = off(a.gamma, 1)));
  for (float bad : {0.f, -1e-5f, NAN, INFINITY}) {
    refuses<F>(dt, str("eps %g", bad), INVALID, {str("eps = %g, must be > 0 and finite", bad)},
               [bad](A& a, F&) { a.eps = bad; });
  }
  refuses<F>(dt, "out_dequantized without qout", INVALID, {"out_dequantized = 1, must be 0, or 1 with a qout"},
             SET(a.qout = nullptr; a.qout_scale = nullptr; a.out_dequantized = 1));
  refuses<F>(dt, "out_dequantized 2", INVALID, {"out_dequantized = 2"}, SET(a.out_dequantized = 2));
  refuses<F>(dt, "acc_int8 3", INVALID, {"acc_int8 = 3, must be 0 or 1"}, SET(a.acc_int8 = 3));
  refuses<F>(dt, "in_static_scale 0 without in_scale", INVALID, {"in_static_scale = 0"},
             SET(a.in_scale = nullptr; a.in_static_scale = 0.f));
  refuses<F>(dt, "static_amax -2 for a static qout", INVALID, {"static_amax = -2"},
             SET(a.qout_scale = nullptr; a.static_amax = -2.f));
  refuses<F>(dt, "rows -1", INVALID, {"rows = -1, must be >= 1"}, SET(a.rows = -1));
  refuses<F>(dt, "cols 12225", UNSUPPORTED, {"dequantize_bias_residual_layernorm: cols = 12225 exceeds"},
             SET(a.rows = 1; a.cols = kWide; a.acc = wide_at(f.wide, 0); a.out = wide_at(f.wide, 1);
                 a.qout = wide_at(f.wide, 2); a.residual = wide_at(f.wide, 3)));
  refuses<F>(dt, "out one row into residual", INVALID, {"out (4-byte elements) overlaps residual (4-byte elements)"},
             SET(a.residual = f.arena.at(f.dtype, 0); a.out = f.arena.at(f.dtype, kCols)));
  refuses<F>(dt, "residual one element into out", INVALID, {"out (4-byte elements) overlaps residual"},
             SET(a.out = f.arena.at(f.dtype, 0); a.residual = f.arena.at(f.dtype, kN - 1)));
  refuses<F>(FP16, "out one element past residual", INVALID,
             {"out (2-byte elements) overlaps residual (2-byte elements)"},
             SET(a.residual = f.arena.at(f.dtype, 0); a.out = f.arena.at(f.dtype, 1)));
  refuses<F>(dt, "residual one row into int32 acc", INVALID,
             {"residual (4-byte elements) overlaps acc (4-byte elements)"},
             SET(a.acc = f.arena32.p; a.residual = f.arena32.p + 4 * kCols));
  refuses<F>(dt, "qout inside residual", INVALID, {"residual (4-byte elements) overlaps qout (1-byte elements)"},
             SET(a.residual = f.arena.at(f.dtype, 0); a.qout = f.arena.p + 1));
  refuses<F>(dt, "out one row into int32 acc", INVALID, {"out (4-byte elements) overlaps acc (4-byte elements)"},
             SET(a.acc = f.arena32.p; a.out = f.arena32.p + 4 * kCols));
  refuses<F>(dt, "qout inside int32 acc", INVALID, {"qout (1-byte elements) overlaps acc"},
             SET(a.acc = f.arena32.p; a.qout = f.arena32.p + 7));
  refuses<F>(dt, "qout partly over out", INVALID, {"out (4-byte elements) overlaps qout"}, SET(a.qout = off(a.out, 8)));
}

// ==== add_bias_residual_layernorm, embedding_layernorm, add_bias_gelu =========================
struct Layernorm {
  static constexpr const char* fn = "ft4j_add_bias_residual_layernorm";
  static constexpr const char* group = kNorm;
  static constexpr bool typed = true;
  struct Args {
    int dtype; void* out; const void* input; const void* bias; const void* residual;
    const void* gamma; const void* beta; float eps; int rows, cols;
    int call() const {
      return ft4j_add_bias_residual_layernorm(dtype, out, input, bias, residual, gamma, beta, eps,
                                              rows, cols, nullptr);
    }
    template <typename T> cudaError_t launch() const {
      return ft4j::launch_add_bias_residual_layernorm(
          ft4j::AddBiasResidualLayernormParams<T>{(T*)out, (const T*)input, (const T*)bias,
                                                  (const T*)residual, (const T*)gamma,
                                                  (const T*)beta, eps, rows, cols},
          nullptr);
    }
    cudaError_t direct() const { return BY_DTYPE(dtype, launch); }
  };
  int dtype;
  kt::Rng g;
  Dev input, residual, bias, gamma, beta, out, arena;
  explicit Layernorm(int dt)
      : dtype(dt), g(41 + dt), input(values(dt, kN, g, -2, 2, "input")),
        residual(values(dt, kN, g, -2, 2, "residual")), bias(values(dt, kCols, g, -1, 1, "bias")),
        gamma(values(dt, kCols, g, 0.5, 1.5, "gamma")), beta(values(dt, kCols, g, -0.5, 0.5, "beta")),
        out(output(kN, dsize(dt), "out")),
        arena(values(dt, 2 * kN, g, -2, 2, "arena (out/input/residual layouts)", false)) {}
  Args args() const {
    return {dtype, out.p, input.p, bias.p, residual.p, gamma.p, beta.p, 1e-5f, kRows, kCols};
  }
};

void layernorm_calls() {
  using F = Layernorm;
  using A = F::Args;
  for (int dt : {FP32, FP16}) {
    accepts<F>(dt, "bias");
    accepts<F>(dt, "bias NULL", SET(a.bias = nullptr));
    accepts<F>(dt, "out == input (documented)", SET(a.input = a.out = f.arena.at(f.dtype, 0)));
    accepts<F>(dt, "out == residual (documented)", SET(a.residual = a.out = f.arena.at(f.dtype, 0)));
    accepts<F>(dt, "out right after input", SET(a.input = f.arena.at(f.dtype, 0); a.out = f.arena.at(f.dtype, kN)));
  }
  const int dt = FP32;
  refuses<F>(dt, "dtype INT8", UNSUPPORTED, {"dtype = 2 is not supported"}, SET(a.dtype = INT8));
  refuses<F>(dt, "out NULL", INVALID, {"out is NULL"}, SET(a.out = nullptr));
  refuses<F>(dt, "input NULL", INVALID, {"input is NULL"}, SET(a.input = nullptr));
  refuses<F>(dt, "residual NULL", INVALID, {"residual is NULL"}, SET(a.residual = nullptr));
  refuses<F>(dt, "gamma NULL", INVALID, {"gamma is NULL"}, SET(a.gamma = nullptr));
  refuses<F>(dt, "beta NULL", INVALID, {"beta is NULL"}, SET(a.beta = nullptr));
  refuses<F>(dt, "bias misaligned", INVALID, {"bias = 0x", "4-byte"}, SET(a.bias = off(a.bias, 2)));
  refuses<F>(FP16, "out misaligned", INVALID, {"out = 0x", "2-byte"}, SET(a.out = off(a.out, 1)));
  for (float bad : {0.f, -1.f, NAN, INFINITY}) {
    refuses<F>(dt, str("eps %g", bad), INVALID, {str("eps = %g, must be > 0 and finite", bad)},
               [bad](A& a, F&) { a.eps = bad; });
  }
  refuses<F>(dt, "rows 0", INVALID, {"rows = 0, must be >= 1"}, SET(a.rows = 0));
  refuses<F>(dt, "cols -1", INVALID, {"cols = -1, must be >= 1"}, SET(a.cols = -1));
  // ft4j.h allows out to alias input or residual; a partial overlap lets one row's block overwrite
  // a row another block still reads (a race), as for dequantize_bias_residual_layernorm
  refuses<F>(dt, "out one row into input", INVALID, {"out (4-byte elements) overlaps input (4-byte elements)"},
             SET(a.input = f.arena.at(f.dtype, 0); a.out = f.arena.at(f.dtype, kCols)));
  refuses<F>(dt, "out one row into residual", INVALID, {"out (4-byte elements) overlaps residual"},
             SET(a.residual = f.arena.at(f.dtype, 0); a.out = f.arena.at(f.dtype, kCols)));
  refuses<F>(FP16, "input one element into out", INVALID, {"out (2-byte elements) overlaps input"},
             SET(a.out = f.arena.at(f.dtype, 0); a.input = f.arena.at(f.dtype, kN - 1)));
}

// Rows 6 of 3 tokens each, hidden 40, vocab 11, 5 positions from offset 2 (3 + 2 = 5: the last
// position used is the table's last row), 2 token types.
struct Embedding {
  static constexpr const char* fn = "ft4j_embedding_layernorm";
  static constexpr const char* group = kNorm;
  static constexpr bool typed = true;
  static constexpr int rows = 6, seq = 3, hidden = 40, vocab = 11, positions = 5, types = 2;
  struct Args {
    int dtype; void* out; const int* ids; const int* type_ids; const void* word;
    const void* position; const void* token_type; const void* gamma; const void* beta; float eps;
    int rows, seq, hidden, vocab, max_positions, type_vocab, position_offset;
    int call() const {
      return ft4j_embedding_layernorm(dtype, out, ids, type_ids, word, position, token_type, gamma,
                                      beta, eps, rows, seq, hidden, vocab, max_positions,
                                      type_vocab, position_offset, nullptr);
    }
    template <typename T> cudaError_t launch() const {
      return ft4j::launch_embedding_layernorm(
          ft4j::EmbeddingLayernormParams<T>{(T*)out, ids, type_ids, (const T*)word,
                                            (const T*)position, (const T*)token_type,
                                            (const T*)gamma, (const T*)beta, eps, rows, seq, hidden,
                                            vocab, max_positions, type_vocab, position_offset},
          nullptr);
    }
    cudaError_t direct() const { return BY_DTYPE(dtype, launch); }
  };
  int dtype;
  kt::Rng g;
  Dev ids, type_ids, word, position, token_type, gamma, beta, out;
  explicit Embedding(int dt)
      : dtype(dt), g(43 + dt), ids(ints({3, 10, 0, 7, 7, 1}, "ids")), type_ids(ints({0, 1, 1, 0, 1, 0}, "type_ids")),
        word(values(dt, vocab * hidden, g, -1, 1, "word")),
        position(values(dt, positions * hidden, g, -1, 1, "position")),
        token_type(values(dt, types * hidden, g, -1, 1, "token_type")),
        gamma(values(dt, hidden, g, 0.5, 1.5, "gamma")), beta(values(dt, hidden, g, -0.5, 0.5, "beta")),
        out(output(rows * hidden, dsize(dt), "out")) {}
  Args args() const {
    return {dtype, out.p, ids.as<int>(), type_ids.as<int>(), word.p, position.p, token_type.p,
            gamma.p, beta.p, 1e-12f, rows, seq, hidden, vocab, positions, types, 2};
  }
};

void embedding_calls() {
  using F = Embedding;
  using A = F::Args;
  for (int dt : {FP32, FP16}) {
    accepts<F>(dt, "type_ids, position_offset 2 (seq + offset == max_positions)");
    accepts<F>(dt, "type_ids NULL, position_offset 0", SET(a.type_ids = nullptr; a.position_offset = 0));
  }
  const int dt = FP32;
  refuses<F>(dt, "dtype INT8", UNSUPPORTED, {"dtype = 2 is not supported"}, SET(a.dtype = INT8));
  refuses<F>(dt, "out NULL", INVALID, {"out is NULL"}, SET(a.out = nullptr));
  refuses<F>(dt, "ids NULL", INVALID, {"ids is NULL"}, SET(a.ids = nullptr));
  refuses<F>(dt, "word NULL", INVALID, {"word is NULL"}, SET(a.word = nullptr));
  refuses<F>(dt, "position NULL", INVALID, {"position is NULL"}, SET(a.position = nullptr));
  refuses<F>(dt, "token_type NULL", INVALID, {"token_type is NULL"}, SET(a.token_type = nullptr));
  refuses<F>(dt, "gamma NULL", INVALID, {"gamma is NULL"}, SET(a.gamma = nullptr));
  refuses<F>(dt, "beta NULL", INVALID, {"beta is NULL"}, SET(a.beta = nullptr));
  refuses<F>(dt, "type_ids misaligned", INVALID, {"type_ids = 0x", "4-byte"}, SET(a.type_ids = off(a.type_ids, 2)));
  refuses<F>(FP16, "word misaligned", INVALID, {"word = 0x", "2-byte"}, SET(a.word = off(a.word, 1)));
  refuses<F>(dt, "eps 0", INVALID, {"eps = 0, must be > 0 and finite"}, SET(a.eps = 0.f));
  refuses<F>(dt, "eps NaN", INVALID, {"eps = nan"}, SET(a.eps = NAN));
  refuses<F>(dt, "rows 0", INVALID, {"rows = 0, must be >= 1"}, SET(a.rows = 0));
  refuses<F>(dt, "seq 0", INVALID, {"seq = 0, must be >= 1"}, SET(a.seq = 0));
  refuses<F>(dt, "hidden 0", INVALID, {"hidden = 0, must be >= 1"}, SET(a.hidden = 0));
  refuses<F>(dt, "vocab 0", INVALID, {"vocab = 0, must be >= 1"}, SET(a.vocab = 0));
  refuses<F>(dt, "max_positions 0", INVALID, {"max_positions = 0, must be >= 1"}, SET(a.max_positions = 0));
  refuses<F>(dt, "type_vocab -1", INVALID, {"type_vocab = -1, must be >= 1"}, SET(a.type_vocab = -1));
  refuses<F>(dt, "position_offset -1", INVALID, {"position_offset = -1, must be >= 0"}, SET(a.position_offset = -1));
  refuses<F>(dt, "seq + position_offset above max_positions", INVALID,
             {"seq + position_offset = 6 exceeds max_positions = 5"},
             SET(a.position_offset = 3));
  refuses<F>(dt, "vocab * hidden beyond 64-bit sizes", INVALID, {"word has too many elements for a 64-bit size"},
             SET(a.vocab = INT_MAX; a.hidden = INT_MAX));
  refuses<F>(dt, "hidden 12225", UNSUPPORTED, {"embedding_layernorm: hidden = 12225 is above the supported"},
             SET(a.hidden = 12225));
}

struct AddBiasGelu {
  static constexpr const char* fn = "ft4j_add_bias_gelu";
  static constexpr const char* group = kNorm;
  static constexpr bool typed = true;
  struct Args {
    int dtype; void* data; const void* bias; int rows, cols;
    int call() const { return ft4j_add_bias_gelu(dtype, data, bias, rows, cols, nullptr); }
    template <typename T> cudaError_t launch() const {
      return ft4j::launch_add_bias_gelu(ft4j::AddBiasGeluParams<T>{(T*)data, (const T*)bias, rows, cols}, nullptr);
    }
    cudaError_t direct() const { return BY_DTYPE(dtype, launch); }
  };
  int dtype;
  kt::Rng g;
  Dev data, bias;
  explicit AddBiasGelu(int dt)
      : dtype(dt), g(47 + dt), data(values(dt, kN, g, -4, 4, "data", false)),
        bias(values(dt, kCols, g, -1, 1, "bias")) {}
  Args args() const { return {dtype, data.p, bias.p, kRows, kCols}; }
};

void add_bias_gelu_calls() {
  using F = AddBiasGelu;
  using A = F::Args;
  for (int dt : {FP32, FP16}) accepts<F>(dt, "in place");
  const int dt = FP32;
  refuses<F>(dt, "dtype 2", UNSUPPORTED, {"dtype = 2 is not supported"}, SET(a.dtype = INT8));
  refuses<F>(dt, "data NULL", INVALID, {"data is NULL"}, SET(a.data = nullptr));
  refuses<F>(dt, "bias NULL", INVALID, {"bias is NULL"}, SET(a.bias = nullptr));
  refuses<F>(dt, "data misaligned", INVALID, {"data = 0x", "4-byte"}, SET(a.data = off(a.data, 2)));
  refuses<F>(FP16, "bias misaligned", INVALID, {"bias = 0x", "2-byte"}, SET(a.bias = off(a.bias, 1)));
  refuses<F>(dt, "rows 0", INVALID, {"rows = 0, must be >= 1"}, SET(a.rows = 0));
  refuses<F>(dt, "cols -3", INVALID, {"cols = -3, must be >= 1"}, SET(a.cols = -3));
}

// ==== pool_rows, zero_padded_rows, padding_copy ==================================================
// Batch 3 of up to 5 tokens (lengths 5, 2, 4), hidden 40.
constexpr int kBatch = 3, kSeq = 5, kHidden = 40;
constexpr int kStates = kBatch * kSeq * kHidden, kPooled = kBatch * kHidden;

struct Pooling {
  static constexpr const char* fn = "ft4j_pool_rows";
  static constexpr const char* group = kPool;
  static constexpr bool typed = true;
  struct Args {
    int dtype; float* out; const void* states; const int* lengths; int batch, seq, hidden, mean, normalize;
    int call() const {
      return ft4j_pool_rows(dtype, out, states, lengths, batch, seq, hidden, mean, normalize, nullptr);
    }
    template <typename T> cudaError_t launch() const {
      return ft4j::launch_pool_rows(ft4j::PoolRowsParams<T>{out, (const T*)states, lengths, batch,
                                                            seq, hidden, mean, normalize},
                                    nullptr);
    }
    cudaError_t direct() const { return BY_DTYPE(dtype, launch); }
  };
  int dtype;
  kt::Rng g;
  Dev states, lengths, out, arena;
  explicit Pooling(int dt)
      : dtype(dt), g(53 + dt), states(values(dt, kStates, g, -2, 2, "states")),
        lengths(ints({5, 2, 4}, "lengths")), out(output(kPooled, 4, "out")),
        arena(values(FP32, kStates + kPooled, g, -2, 2, "arena (FP32 out/states layouts)", false)) {}
  // CLS, not normalised
  Args args() const {
    return {dtype, out.as<float>(), states.p, lengths.as<int>(), kBatch, kSeq, kHidden, 0, 0};
  }
};

void pooling_calls() {
  using F = Pooling;
  using A = F::Args;
  // CLS without normalisation is a copy of each sequence's row 0: exact
  const Check<F> cls_copy = [](kt::Case& c, F& f, const A& a) {
    for (int b = 0; b < kBatch; ++b)
      for (int i = 0; i < kHidden; ++i) {
        const size_t at = size_t(b) * kSeq * kHidden + i;
        const double want = a.dtype == FP32 ? f.states.as<float>()[at] : __half2float(f.states.as<__half>()[at]);
        if (!c.exact("out", size_t(b) * kHidden + i, a.out[size_t(b) * kHidden + i], want)) return;
      }
  };
  for (int dt : {FP32, FP16}) {
    accepts<F>(dt, "CLS", {}, cls_copy);
    accepts<F>(dt, "mean over the lengths, normalised", SET(a.mean = 1; a.normalize = 1));
  }
  accepts<F>(FP32, "out right after states",
             SET(a.states = f.arena.p; a.out = f.arena.as<float>() + kStates; a.mean = 1));
  accepts<F>(FP32, "out right before states",
             SET(a.out = f.arena.as<float>(); a.states = f.arena.as<float>() + kPooled; a.mean = 1));
  const int dt = FP32;
  refuses<F>(dt, "dtype 2", UNSUPPORTED, {"dtype = 2 is not supported"}, SET(a.dtype = INT8));
  refuses<F>(dt, "out NULL", INVALID, {"out is NULL"}, SET(a.out = nullptr));
  refuses<F>(dt, "states NULL", INVALID, {"states is NULL"}, SET(a.states = nullptr));
  refuses<F>(dt, "lengths NULL", INVALID, {"lengths is NULL"}, SET(a.lengths = nullptr));
  refuses<F>(dt, "out misaligned", INVALID, {"out = 0x", "4-byte"}, SET(a.out = off(a.out, 2)));
  refuses<F>(FP16, "states misaligned", INVALID, {"states = 0x", "2-byte"}, SET(a.states = off(a.states, 1)));
  refuses<F>(dt, "lengths misaligned", INVALID, {"lengths = 0x", "4-byte"}, SET(a.lengths = off(a.lengths, 2)));
  refuses<F>(dt, "mean 2", INVALID, {"mean = 2, must be 0 (CLS) or 1 (mean)"}, SET(a.mean = 2));
  refuses<F>(dt, "normalize -1", INVALID, {"normalize = -1, must be 0 or 1"}, SET(a.normalize = -1));
  refuses<F>(dt, "batch 0", INVALID, {"batch = 0, must be >= 1"}, SET(a.batch = 0));
  refuses<F>(dt, "seq 0", INVALID, {"seq = 0, must be >= 1"}, SET(a.seq = 0));
  refuses<F>(dt, "hidden -1", INVALID, {"hidden = -1, must be >= 1"}, SET(a.hidden = -1));
  refuses<F>(dt, "states too large for 64-bit sizes", INVALID, {"states has too many elements for a 64-bit size"},
             SET(a.batch = INT_MAX; a.seq = INT_MAX; a.hidden = INT_MAX));
  const std::vector<std::string> over = {"out overlaps states"};
  refuses<F>(dt, "out over the last row of states", INVALID, over,
             SET(a.states = f.arena.p; a.out = f.arena.as<float>() + kStates - kHidden));
  refuses<F>(dt, "states starting inside out", INVALID, over,
             SET(a.out = f.arena.as<float>(); a.states = f.arena.as<float>() + kHidden));
  refuses<F>(dt, "out == states", INVALID, over, SET(a.out = f.arena.as<float>(); a.states = f.arena.p));
  refuses<F>(dt, "out's last element over states' first", INVALID, over,
             SET(a.out = f.arena.as<float>(); a.states = f.arena.as<float>() + kPooled - 1));
  refuses<F>(FP16, "out over FP16 states' last element", INVALID, over,
             SET(a.states = f.arena.p; a.out = f.arena.as<float>() + kStates / 2 - 1));
}

struct ZeroPaddedRows {
  static constexpr const char* fn = "ft4j_zero_padded_rows";
  static constexpr const char* group = kPool;
  static constexpr bool typed = true;
  struct Args {
    int dtype; void* data; const int* lengths; int batch, seq, hidden;
    int call() const { return ft4j_zero_padded_rows(dtype, data, lengths, batch, seq, hidden, nullptr); }
    template <typename T> cudaError_t launch() const {
      return ft4j::launch_zero_padded_rows(ft4j::ZeroPaddedRowsParams<T>{(T*)data, lengths, batch, seq, hidden}, nullptr);
    }
    cudaError_t direct() const { return BY_DTYPE(dtype, launch); }
  };
  int dtype;
  kt::Rng g;
  Dev data, lengths;
  std::vector<char> initial;
  explicit ZeroPaddedRows(int dt)
      : dtype(dt), g(59 + dt), data(values(dt, kStates, g, -2, 2, "data", false)),
        lengths(ints({5, 2, 4}, "lengths")), initial(data.p, data.p + data.bytes) {}
  Args args() const { return {dtype, data.p, lengths.as<int>(), kBatch, kSeq, kHidden}; }
};

void zero_padded_rows_calls() {
  using F = ZeroPaddedRows;
  using A = F::Args;
  // rows past each length are zero (all bits), the others untouched
  const Check<F> zeroed = [](kt::Case& c, F& f, const A& a) {
    const int lens[kBatch] = {5, 2, 4};
    const size_t row = kHidden * dsize(a.dtype);
    for (int b = 0; b < kBatch; ++b)
      for (int s = 0; s < kSeq; ++s) {
        const size_t at = (size_t(b) * kSeq + s) * row;
        const std::vector<char> zero(row, 0);
        const bool ok = s < lens[b] ? memcmp(f.data.p + at, f.initial.data() + at, row) == 0
                                    : memcmp(f.data.p + at, zero.data(), row) == 0;
        if (!ok) { c.fail("row (%d, %d) %s", b, s, s < lens[b] ? "changed" : "not zeroed"); return; }
      }
  };
  for (int dt : {FP32, FP16}) accepts<F>(dt, "lengths 5, 2, 4 of 5", {}, zeroed);
  const int dt = FP32;
  refuses<F>(dt, "dtype 5", UNSUPPORTED, {"dtype = 5 is not supported"}, SET(a.dtype = 5));
  refuses<F>(dt, "data NULL", INVALID, {"data is NULL"}, SET(a.data = nullptr));
  refuses<F>(dt, "lengths NULL", INVALID, {"lengths is NULL"}, SET(a.lengths = nullptr));
  refuses<F>(FP16, "data misaligned", INVALID, {"data = 0x", "2-byte"}, SET(a.data = off(a.data, 1)));
  refuses<F>(dt, "lengths misaligned", INVALID, {"lengths = 0x", "4-byte"}, SET(a.lengths = off(a.lengths, 1)));
  refuses<F>(dt, "batch 0", INVALID, {"batch = 0, must be >= 1"}, SET(a.batch = 0));
  refuses<F>(dt, "seq -2", INVALID, {"seq = -2, must be >= 1"}, SET(a.seq = -2));
  refuses<F>(dt, "hidden 0", INVALID, {"hidden = 0, must be >= 1"}, SET(a.hidden = 0));
}

// Lengths 5, 2, 4: offsets 0, 5, 7, 11; padded [3, 5, 40], packed [11, 40].
constexpr int kPacked = 11;
struct PaddingCopy {
  static constexpr const char* fn = "ft4j_padding_copy";
  static constexpr const char* group = kPool;
  static constexpr bool typed = true;
  struct Args {
    int dtype; void* dst; const void* src; const int* offsets; int batch, seq, hidden, restore;
    int call() const {
      return ft4j_padding_copy(dtype, dst, src, offsets, batch, seq, hidden, restore, nullptr);
    }
    template <typename T> cudaError_t launch() const {
      return ft4j::launch_padding_copy(
          ft4j::PaddingCopyParams<T>{(T*)dst, (const T*)src, offsets, batch, seq, hidden, restore}, nullptr);
    }
    cudaError_t direct() const { return BY_DTYPE(dtype, launch); }
  };
  int dtype;
  kt::Rng g;
  Dev padded, packed, offsets, packed_out, padded_out, arena;
  explicit PaddingCopy(int dt)
      : dtype(dt), g(61 + dt), padded(values(dt, kStates, g, -2, 2, "padded")),
        packed(values(dt, kPacked * kHidden, g, -2, 2, "packed")), offsets(ints({0, 5, 7, 11}, "offsets")),
        packed_out(output(kPacked * kHidden, dsize(dt), "packed out")),
        padded_out(output(kStates, dsize(dt), "padded out")),
        arena(values(dt, kStates + kPacked * kHidden, g, -2, 2, "arena (dst/src layouts)", false)) {}
  // remove padding
  Args args() const { return {dtype, packed_out.p, padded.p, offsets.as<int>(), kBatch, kSeq, kHidden, 0}; }
};

void padding_copy_calls() {
  using F = PaddingCopy;
  using A = F::Args;
  // every row where ft4j.h puts it; restored padding rows are zero
  const Check<F> moved = [](kt::Case& c, F& f, const A& a) {
    const int off[kBatch + 1] = {0, 5, 7, 11};
    const size_t row = kHidden * dsize(a.dtype);
    const std::vector<char> zero(row, 0);
    for (int b = 0; b < kBatch; ++b)
      for (int s = 0; s < kSeq; ++s) {
        const char* padded = static_cast<const char*>(a.restore ? a.dst : a.src) + (size_t(b) * kSeq + s) * row;
        const bool valid = s < off[b + 1] - off[b];
        const char* packed = valid ? static_cast<const char*>(a.restore ? a.src : a.dst) + size_t(off[b] + s) * row : zero.data();
        if ((valid || a.restore) && memcmp(padded, packed, row) != 0) {
          c.fail("row (%d, %d) not copied%s", b, s, valid ? "" : " (padding: zeros)");
          return;
        }
      }
  };
  for (int dt : {FP32, FP16}) {
    accepts<F>(dt, "remove", {}, moved);
    accepts<F>(dt, "restore", SET(a.dst = f.padded_out.p; a.src = f.packed.p; a.restore = 1), moved);
  }
  accepts<F>(FP32, "remove into the rows right after padded",
             SET(a.src = f.arena.p; a.dst = f.arena.at(f.dtype, kStates)), moved);
  const int dt = FP32;
  refuses<F>(dt, "dtype 2", UNSUPPORTED, {"dtype = 2 is not supported"}, SET(a.dtype = INT8));
  refuses<F>(dt, "dst NULL", INVALID, {"dst is NULL"}, SET(a.dst = nullptr));
  refuses<F>(dt, "src NULL", INVALID, {"src is NULL"}, SET(a.src = nullptr));
  refuses<F>(dt, "offsets NULL", INVALID, {"offsets is NULL"}, SET(a.offsets = nullptr));
  refuses<F>(dt, "offsets misaligned", INVALID, {"offsets = 0x", "4-byte"}, SET(a.offsets = off(a.offsets, 2)));
  refuses<F>(FP16, "src misaligned", INVALID, {"src = 0x", "2-byte"}, SET(a.src = off(a.src, 1)));
  refuses<F>(dt, "dst == src", INVALID, {"dst and src are the same buffer"}, SET(a.dst = f.arena.p; a.src = f.arena.p));
  refuses<F>(dt, "packed dst starts inside the padded src", INVALID, {"dst (packed) starts inside src (padded)"},
             SET(a.src = f.arena.p; a.dst = f.arena.at(f.dtype, 1)));
  refuses<F>(dt, "packed src starts inside the padded dst", INVALID, {"src (packed) starts inside dst (padded)"},
             SET(a.dst = f.arena.p; a.src = f.arena.at(f.dtype, kStates - 1); a.restore = 1));
  refuses<F>(dt, "restore 2", INVALID, {"restore = 2, must be 0 or 1"}, SET(a.restore = 2));
  refuses<F>(dt, "batch 0", INVALID, {"batch = 0, must be >= 1"}, SET(a.batch = 0));
  refuses<F>(dt, "seq 0", INVALID, {"seq = 0, must be >= 1"}, SET(a.seq = 0));
  refuses<F>(dt, "hidden -1", INVALID, {"hidden = -1, must be >= 1"}, SET(a.hidden = -1));
  refuses<F>(dt, "padded too large for 64-bit sizes", INVALID, {"padded has too many elements"},
             SET(a.batch = INT_MAX; a.seq = INT_MAX; a.hidden = INT_MAX));
}

// ==== add_qkv_bias_split_heads, masked_softmax, merge_heads ======================================
// Batch 2, seq 3, heads 2, head size 5: hidden 10, qkv [6, 30].
constexpr int kAB = 2, kAS = 3, kAH = 2, kAD = 5, kAHidden = kAH * kAD, kATokens = kAB * kAS;

struct SplitHeads {
  static constexpr const char* fn = "ft4j_add_qkv_bias_split_heads";
  static constexpr const char* group = kAttn;
  static constexpr bool typed = true;
  struct Args {
    int dtype; void* q; void* k; void* v; const void* qkv; const void* qkv_bias; int batch, seq, heads, size_per_head;
    int call() const {
      return ft4j_add_qkv_bias_split_heads(dtype, q, k, v, qkv, qkv_bias, batch, seq, heads, size_per_head, nullptr);
    }
    template <typename T> cudaError_t launch() const {
      return ft4j::launch_add_qkv_bias_split_heads(
          ft4j::AddQkvBiasSplitHeadsParams<T>{(T*)q, (T*)k, (T*)v, (const T*)qkv, (const T*)qkv_bias,
                                              batch, seq, heads, size_per_head},
          nullptr);
    }
    cudaError_t direct() const { return BY_DTYPE(dtype, launch); }
  };
  int dtype;
  kt::Rng g;
  Dev qkv, bias, q, k, v;
  explicit SplitHeads(int dt)
      : dtype(dt), g(67 + dt), qkv(values(dt, kATokens * 3 * kAHidden, g, -2, 2, "qkv")),
        bias(values(dt, 3 * kAHidden, g, -1, 1, "qkv_bias")), q(output(kATokens * kAHidden, dsize(dt), "q")),
        k(output(kATokens * kAHidden, dsize(dt), "k")), v(output(kATokens * kAHidden, dsize(dt), "v")) {}
  Args args() const { return {dtype, q.p, k.p, v.p, qkv.p, bias.p, kAB, kAS, kAH, kAD}; }
};

void split_heads_calls() {
  using F = SplitHeads;
  using A = F::Args;
  for (int dt : {FP32, FP16}) {
    accepts<F>(dt, "qkv_bias");
    accepts<F>(dt, "qkv_bias NULL", SET(a.qkv_bias = nullptr));
  }
  const int dt = FP32;
  refuses<F>(dt, "dtype 2", UNSUPPORTED, {"dtype = 2 is not supported"}, SET(a.dtype = INT8));
  refuses<F>(dt, "q NULL", INVALID, {"q is NULL"}, SET(a.q = nullptr));
  refuses<F>(dt, "k NULL", INVALID, {"k is NULL"}, SET(a.k = nullptr));
  refuses<F>(dt, "v NULL", INVALID, {"v is NULL"}, SET(a.v = nullptr));
  refuses<F>(dt, "qkv NULL", INVALID, {"qkv is NULL"}, SET(a.qkv = nullptr));
  refuses<F>(dt, "qkv_bias misaligned", INVALID, {"qkv_bias = 0x", "4-byte"}, SET(a.qkv_bias = off(a.qkv_bias, 2)));
  refuses<F>(FP16, "v misaligned", INVALID, {"v = 0x", "2-byte"}, SET(a.v = off(a.v, 1)));
  refuses<F>(dt, "batch 0", INVALID, {"batch = 0, must be >= 1"}, SET(a.batch = 0));
  refuses<F>(dt, "seq 0", INVALID, {"seq = 0, must be >= 1"}, SET(a.seq = 0));
  refuses<F>(dt, "heads 0", INVALID, {"heads = 0, must be >= 1"}, SET(a.heads = 0));
  refuses<F>(dt, "size_per_head -1", INVALID, {"size_per_head = -1, must be >= 1"}, SET(a.size_per_head = -1));
  refuses<F>(dt, "3 * heads * size_per_head above INT_MAX", INVALID,
             {"3 * heads * size_per_head = 3 * 32768 * 32768 overflows an int"},
             SET(a.heads = 32768; a.size_per_head = 32768));
}

struct MaskedSoftmax {
  static constexpr const char* fn = "ft4j_masked_softmax";
  static constexpr const char* group = kAttn;
  static constexpr bool typed = true;
  struct Args {
    int dtype; void* scores; const int* lengths; int batch, heads, seq; float scale;
    int call() const { return ft4j_masked_softmax(dtype, scores, lengths, batch, heads, seq, scale, nullptr); }
    template <typename T> cudaError_t launch() const {
      return ft4j::launch_masked_softmax(
          ft4j::MaskedSoftmaxParams<T>{(T*)scores, lengths, batch, heads, seq, scale}, nullptr);
    }
    cudaError_t direct() const { return BY_DTYPE(dtype, launch); }
  };
  int dtype;
  kt::Rng g;
  Dev scores, lengths;
  explicit MaskedSoftmax(int dt)
      : dtype(dt), g(71 + dt), scores(values(dt, kAB * kAH * kAS * kAS, g, -4, 4, "scores", false)),
        lengths(ints({3, 2}, "lengths")) {}
  Args args() const { return {dtype, scores.p, lengths.as<int>(), kAB, kAH, kAS, 0.45f}; }
};

void masked_softmax_calls() {
  using F = MaskedSoftmax;
  using A = F::Args;
  for (int dt : {FP32, FP16}) accepts<F>(dt, "lengths 3, 2 of 3, in place");
  const int dt = FP32;
  refuses<F>(dt, "dtype 2", UNSUPPORTED, {"dtype = 2 is not supported"}, SET(a.dtype = INT8));
  refuses<F>(dt, "scores NULL", INVALID, {"scores is NULL"}, SET(a.scores = nullptr));
  refuses<F>(dt, "lengths NULL", INVALID, {"lengths is NULL"}, SET(a.lengths = nullptr));
  refuses<F>(FP16, "scores misaligned", INVALID, {"scores = 0x", "2-byte"}, SET(a.scores = off(a.scores, 1)));
  refuses<F>(dt, "scale NaN", INVALID, {"scale = nan, must be finite"}, SET(a.scale = NAN));
  refuses<F>(dt, "scale -inf", INVALID, {"scale = -inf, must be finite"}, SET(a.scale = -INFINITY));
  refuses<F>(dt, "batch 0", INVALID, {"batch = 0, must be >= 1"}, SET(a.batch = 0));
  refuses<F>(dt, "heads 0", INVALID, {"heads = 0, must be >= 1"}, SET(a.heads = 0));
  refuses<F>(dt, "seq 0", INVALID, {"seq = 0, must be >= 1"}, SET(a.seq = 0));
  refuses<F>(dt, "scores too large for 64-bit sizes", INVALID, {"scores has too many elements for a 64-bit size"},
             SET(a.batch = 1 << 20; a.heads = 1 << 20; a.seq = 1 << 20));
}

struct MergeHeads {
  static constexpr const char* fn = "ft4j_merge_heads";
  static constexpr const char* group = kAttn;
  static constexpr bool typed = true;
  struct Args {
    int dtype; void* out; const void* in; int batch, seq, heads, size_per_head;
    int call() const { return ft4j_merge_heads(dtype, out, in, batch, seq, heads, size_per_head, nullptr); }
    template <typename T> cudaError_t launch() const {
      return ft4j::launch_merge_heads(
          ft4j::MergeHeadsParams<T>{(T*)out, (const T*)in, batch, seq, heads, size_per_head}, nullptr);
    }
    cudaError_t direct() const { return BY_DTYPE(dtype, launch); }
  };
  int dtype;
  kt::Rng g;
  Dev in, out;
  explicit MergeHeads(int dt)
      : dtype(dt), g(73 + dt), in(values(dt, kATokens * kAHidden, g, -2, 2, "in", false)),
        out(output(kATokens * kAHidden, dsize(dt), "out")) {}
  Args args() const { return {dtype, out.p, in.p, kAB, kAS, kAH, kAD}; }
};

void merge_heads_calls() {
  using F = MergeHeads;
  using A = F::Args;
  // the exact inverse of the split: out[b * seq + s, h * D + d] = in[b, h, s, d]
  const Check<F> merged = [](kt::Case& c, F& f, const A& a) {
    const size_t e = dsize(a.dtype);
    for (int b = 0; b < kAB; ++b) for (int h = 0; h < kAH; ++h) for (int s = 0; s < kAS; ++s) {
      const char* from = f.in.p + (((size_t(b) * kAH + h) * kAS + s) * kAD) * e;
      const char* to = f.out.p + ((size_t(b) * kAS + s) * kAHidden + h * kAD) * e;
      if (memcmp(from, to, kAD * e) != 0) { c.fail("head %d of token (%d, %d) not where ft4j.h puts it", h, b, s); return; }
    }
  };
  for (int dt : {FP32, FP16}) accepts<F>(dt, "batch 2, seq 3, heads 2, D 5", {}, merged);
  const int dt = FP32;
  refuses<F>(dt, "dtype 2", UNSUPPORTED, {"dtype = 2 is not supported"}, SET(a.dtype = INT8));
  refuses<F>(dt, "out NULL", INVALID, {"out is NULL"}, SET(a.out = nullptr));
  refuses<F>(dt, "in NULL", INVALID, {"in is NULL"}, SET(a.in = nullptr));
  refuses<F>(dt, "out == in", INVALID, {"out and in are the same buffer"}, SET(a.out = f.in.p));
  refuses<F>(dt, "out one element past in", INVALID, {"out and in overlap"}, SET(a.out = off(f.in.p, 4)));
  refuses<F>(dt, "in one element past out", INVALID, {"out and in overlap"}, SET(a.in = off(a.out, 4)));
  refuses<F>(FP16, "in misaligned", INVALID, {"in = 0x", "2-byte"}, SET(a.in = off(a.in, 1)));
  refuses<F>(dt, "batch 0", INVALID, {"batch = 0, must be >= 1"}, SET(a.batch = 0));
  refuses<F>(dt, "size_per_head 0", INVALID, {"size_per_head = 0, must be >= 1"}, SET(a.size_per_head = 0));
  refuses<F>(dt, "heads * size_per_head above INT_MAX", INVALID,
             {"heads * size_per_head = 65536 * 65536 overflows an int"},
             SET(a.heads = 65536; a.size_per_head = 65536));
}

// ==== fused attention ============================================================================
// Lengths 5, 1, 7 (offsets 0, 5, 6, 13), heads 2, head size 24 (buffers sized for 160): packed
// rows 13, or a padded batch of 8 rows per sequence (24 rows).
constexpr int kFB = 3, kFH = 2, kFD = 24, kFMaxD = 160, kFPad = 8, kFRows = kFB * kFPad;

struct FusedBuffers {
  int dtype;
  kt::Rng g;
  Dev qkv, qkv8, bias, offsets, out, out8;
  explicit FusedBuffers(int dt)
      : dtype(dt), g(79 + dt), qkv(values(dt, kFRows * 3 * kFH * kFMaxD, g, -1.5, 1.5, "qkv")),
        qkv8(int8s(kFRows * 3 * kFH * kFMaxD, g, "qkv (int8)")),
        bias(values(dt, 3 * kFH * kFMaxD, g, -0.5, 0.5, "qkv_bias")), offsets(ints({0, 5, 6, 13}, "offsets")),
        out(output(kFRows * kFH * kFMaxD, dsize(dt), "out")), out8(output(kFRows * kFH * kFMaxD, 1, "out (int8)")) {}
};

struct FusedAttention : FusedBuffers {
  static constexpr const char* fn = "ft4j_fused_attention";
  static constexpr const char* group = kFused;
  static constexpr bool typed = true;
  struct Args {
    int dtype; void* out; const void* qkv; const void* qkv_bias; const int* offsets;
    int batch, heads, size_per_head, padded_seq, max_seq; float scale;
    int call() const {
      return ft4j_fused_attention(dtype, out, qkv, qkv_bias, offsets, batch, heads, size_per_head,
                                  padded_seq, max_seq, scale, nullptr);
    }
    template <typename T> cudaError_t launch() const {
      return ft4j::launch_fused_attention(
          ft4j::FusedAttentionParams<T>{(T*)out, (const T*)qkv, (const T*)qkv_bias, offsets, batch,
                                        heads, size_per_head, padded_seq, max_seq, scale},
          nullptr);
    }
    cudaError_t direct() const { return BY_DTYPE(dtype, launch); }
  };
  using FusedBuffers::FusedBuffers;
  // packed rows, with bias
  Args args() const {
    return {dtype, out.p, qkv.p, bias.p, offsets.as<int>(), kFB, kFH, kFD, 0, 7, 0.2041f};
  }
};

struct FusedAttentionInt8 : FusedBuffers {
  static constexpr const char* fn = "ft4j_fused_attention_int8";
  static constexpr const char* group = kFused;
  static constexpr bool typed = true;
  struct Args {
    int dtype; int qkv_dtype; void* out; const void* qkv; const void* qkv_bias; const int* offsets;
    int batch, heads, size_per_head, padded_seq, max_seq;
    float scale, q_step, k_step, v_step, out_amax;
    int call() const {
      return ft4j_fused_attention_int8(dtype, qkv_dtype, out, qkv, qkv_bias, offsets, batch, heads,
                                       size_per_head, padded_seq, max_seq, scale, q_step, k_step,
                                       v_step, out_amax, nullptr);
    }
    // mode 1 (qkv of dtype): the steps are ignored, i.e. 1 (fused_attention.cuh)
    template <typename TIn, typename T> cudaError_t run() const {
      const bool int8_in = std::is_same<TIn, int8_t>::value;
      return ft4j::launch_fused_attention(
          ft4j::Int8FusedAttentionParams<TIn, T>{
              (int8_t*)out, (const TIn*)qkv, (const T*)qkv_bias, offsets, batch, heads,
              size_per_head, padded_seq, max_seq, scale, int8_in ? q_step : 1.f,
              int8_in ? k_step : 1.f, int8_in ? v_step : 1.f, out_amax},
          nullptr);
    }
    template <typename T> cudaError_t launch() const {
      return qkv_dtype == INT8 ? run<int8_t, T>() : run<T, T>();
    }
    cudaError_t direct() const { return BY_DTYPE(dtype, launch); }
  };
  using FusedBuffers::FusedBuffers;
  // mode 2: int8 qkv with its three steps, packed rows, with bias
  Args args() const {
    return {dtype, INT8, out8.p, qkv8.p, bias.p, offsets.as<int>(), kFB, kFH, kFD, 0, 7, 0.2041f,
            0.012f, 0.011f, 0.013f, 1.25f};
  }
};

void fused_attention_calls() {
  using F = FusedAttention;
  using A = F::Args;
  for (int dt : {FP32, FP16}) {
    accepts<F>(dt, "packed rows, qkv_bias");
    accepts<F>(dt, "padded batch (padded_seq = max_seq = 8), no qkv_bias",
               SET(a.padded_seq = a.max_seq = kFPad; a.qkv_bias = nullptr));
  }
  accepts<F>(FP32, "max_seq 8 above every length, head size 33", SET(a.max_seq = 8; a.size_per_head = 33));
  const int dt = FP32;
  refuses<F>(dt, "dtype INT8", UNSUPPORTED, {"dtype = 2 is not supported"}, SET(a.dtype = INT8));
  refuses<F>(dt, "out NULL", INVALID, {"out is NULL"}, SET(a.out = nullptr));
  refuses<F>(dt, "qkv NULL", INVALID, {"qkv is NULL"}, SET(a.qkv = nullptr));
  refuses<F>(dt, "offsets NULL", INVALID, {"offsets is NULL"}, SET(a.offsets = nullptr));
  refuses<F>(dt, "out == qkv", INVALID, {"out and qkv are the same buffer"}, SET(a.out = f.qkv.p));
  refuses<F>(dt, "qkv_bias misaligned", INVALID, {"qkv_bias = 0x", "4-byte"}, SET(a.qkv_bias = off(a.qkv_bias, 2)));
  refuses<F>(FP16, "out misaligned", INVALID, {"out = 0x", "2-byte"}, SET(a.out = off(a.out, 1)));
  refuses<F>(dt, "offsets misaligned", INVALID, {"offsets = 0x", "4-byte"}, SET(a.offsets = off(a.offsets, 2)));
  refuses<F>(dt, "batch 0", INVALID, {"batch = 0, must be >= 1"}, SET(a.batch = 0));
  refuses<F>(dt, "heads 0", INVALID, {"heads = 0, must be >= 1"}, SET(a.heads = 0));
  refuses<F>(dt, "size_per_head 0", INVALID, {"size_per_head = 0, must be >= 1"}, SET(a.size_per_head = 0));
  refuses<F>(dt, "max_seq 0", INVALID, {"max_seq = 0, must be >= 1"}, SET(a.max_seq = 0));
  refuses<F>(dt, "padded_seq -1", INVALID, {"padded_seq = -1, must be >= 0"}, SET(a.padded_seq = -1));
  refuses<F>(dt, "padded_seq != max_seq", INVALID, {"padded_seq = 8 must equal max_seq = 7"}, SET(a.padded_seq = 8));
  refuses<F>(dt, "scale NaN", INVALID, {"scale = nan, must be > 0 and finite"}, SET(a.scale = NAN));
  refuses<F>(dt, "scale inf", INVALID, {"scale = inf, must be > 0 and finite"}, SET(a.scale = INFINITY));
  refuses<F>(dt, "scale 0", INVALID, {"scale = 0, must be > 0 and finite"}, SET(a.scale = 0.f));
  refuses<F>(dt, "scale -0.125", INVALID, {"scale = -0.125, must be > 0 and finite"}, SET(a.scale = -0.125f));
  refuses<F>(dt, "3 * heads * size_per_head above INT_MAX", INVALID, {"overflows an int"},
             SET(a.heads = 32768; a.size_per_head = 32768));
  refuses<F>(dt, "size_per_head 257", UNSUPPORTED, {"fused_attention: size_per_head = 257 is not supported (1..256"},
             SET(a.size_per_head = 257));
  refuses<F>(dt, "size_per_head 256 on sm_75 (shared memory)", UNSUPPORTED,
             {"size_per_head = 256 needs 82176 bytes of shared memory, this device allows 65536"},
             SET(a.size_per_head = 256));
  refuses<F>(dt, "batch 65536", UNSUPPORTED, {"batch = 65536 exceeds 65535 sequences"}, SET(a.batch = 65536));
  refuses<F>(dt, "heads 65536", UNSUPPORTED, {"heads = 65536 exceeds 65535"},
             SET(a.heads = 65536; a.size_per_head = 1));

  // The runtime refusing the launch: a head size of 160 needs 51456 bytes of shared memory, above
  // the 48 KiB default, which the kernel raises with cudaFuncSetAttribute. With the device's opt-in
  // limit lowered after the kernel cached it, that call fails: FT4J_ERR_CUDA naming the kernel,
  // nothing launched, and (the error having been reported) no CUDA error left for the next call.
  {
    kt::Case c(kt::kernel(F::group), "ft4j_fused_attention FP32 reports a failed launch (cudaFuncSetAttribute refused)");
    F f(FP32);
    A a = f.args();
    a.size_per_head = kFMaxD;
    const int optin = emu::device().optin_shared;
    emu::device().optin_shared = 48 * 1024;
    expect_refused(c, F::fn, CUDA_ERROR,
                   {"fused_attention FP32 [batch=3, heads=2, size_per_head=160, padded_seq=0, max_seq=7] "
                    "failed: cudaErrorInvalidValue (invalid argument)"},
                   [&] { return a.call(); });
    emu::device().optin_shared = optin;
  }
  accepts<F>(FP32, "head size 160 (opt-in shared memory above 48 KiB), after a failed launch",
             SET(a.size_per_head = kFMaxD));
}

void fused_attention_int8_calls() {
  using F = FusedAttentionInt8;
  using A = F::Args;
  for (int dt : {FP32, FP16}) {
    accepts<F>(dt, "int8 qkv (mode 2), packed rows, qkv_bias");
    accepts<F>(dt, "qkv of dtype (mode 1; steps ignored: 0)",
               SET(a.qkv_dtype = a.dtype; a.qkv = f.qkv.p; a.q_step = a.k_step = a.v_step = 0.f));
    accepts<F>(dt, "int8 qkv, padded batch, no qkv_bias", SET(a.padded_seq = a.max_seq = kFPad; a.qkv_bias = nullptr));
  }
  const int dt = FP32;
  refuses<F>(dt, "dtype INT8", UNSUPPORTED, {"dtype = 2 is not supported"}, SET(a.dtype = INT8));
  refuses<F>(dt, "qkv_dtype FP16 for an FP32 encoder", INVALID,
             {"qkv_dtype = 1 must be FT4J_DTYPE_INT8 (2) or dtype (0)"}, SET(a.qkv_dtype = FP16; a.qkv = f.qkv.p));
  refuses<F>(dt, "out NULL", INVALID, {"out is NULL"}, SET(a.out = nullptr));
  refuses<F>(dt, "out == qkv", INVALID, {"out and qkv are the same buffer"}, SET(a.out = f.qkv8.p));
  refuses<F>(dt, "FP32 qkv misaligned (mode 1)", INVALID, {"qkv = 0x", "4-byte"},
             SET(a.qkv_dtype = FP32; a.qkv = off(f.qkv.p, 2)));
  refuses<F>(dt, "max_seq 0", INVALID, {"max_seq = 0, must be >= 1"}, SET(a.max_seq = 0));
  refuses<F>(dt, "q_step 0 (mode 2)", UNSUPPORTED,
             {"q/k/v steps = 0.000000, 0.011000, 0.013000 must be finite and > 0"},
             SET(a.q_step = 0.f));
  refuses<F>(dt, "v_step NaN (mode 2)", UNSUPPORTED, {"must be finite and > 0"}, SET(a.v_step = NAN));
  refuses<F>(dt, "out_amax 0", UNSUPPORTED, {"out_amax = 0.000000 must be finite and > 0"}, SET(a.out_amax = 0.f));
  refuses<F>(dt, "out_amax inf (mode 1)", UNSUPPORTED, {"out_amax = inf must be finite and > 0"},
             SET(a.qkv_dtype = FP32; a.qkv = f.qkv.p; a.out_amax = INFINITY));
  refuses<F>(dt, "size_per_head 300", UNSUPPORTED, {"size_per_head = 300 is not supported"},
             SET(a.size_per_head = 300));
}

// The queries and the tiling knob: no kernel, no device memory.
void fused_attention_queries() {
  kt::Kernel& k = kt::kernel(kFused);
  auto path_is = [&](const char* what, int want, const std::function<int(int*)>& call) {
    kt::Case c(k, str("%s is %d", what, want));
    int path = -7;
    if (!expect_ok(c, what, 0, [&] { return call(&path); })) return;
    if (path != want) c.fail("path %d, expected %d", path, want);
  };
  // sm_75: the CUDA-core path (2) for FP32 and FP16 alike; no path (0) above 256 or beyond the
  // shared memory
  path_is("ft4j_fused_attention_path FP32 D 64", 2, [](int* p) { return ft4j_fused_attention_path(FP32, 12, 64, p); });
  path_is("ft4j_fused_attention_path FP16 D 64 (sm_75)", 2, [](int* p) { return ft4j_fused_attention_path(FP16, 12, 64, p); });
  path_is("ft4j_fused_attention_path FP32 D 257", 0, [](int* p) { return ft4j_fused_attention_path(FP32, 2, 257, p); });
  path_is("ft4j_fused_attention_path FP32 D 256 (sm_75)", 0, [](int* p) { return ft4j_fused_attention_path(FP32, 2, 256, p); });
  path_is("ft4j_fused_attention_int8_path FP16 int8 qkv D 64", 2,
          [](int* p) { return ft4j_fused_attention_int8_path(FP16, INT8, 12, 64, p); });
  path_is("ft4j_fused_attention_int8_path FP32 FP32 qkv D 96", 2,
          [](int* p) { return ft4j_fused_attention_int8_path(FP32, FP32, 12, 96, p); });
  auto refused = [&](const char* fn, const char* what, int status, const std::vector<std::string>& says,
                     const std::function<int()>& call) {
    kt::Case c(k, str("%s refuses %s", fn, what));
    expect_refused(c, fn, status, says, call);
  };
  int path = 0;
  refused("ft4j_fused_attention_path", "path NULL", INVALID, {"path is NULL"},
          [] { return ft4j_fused_attention_path(FP32, 12, 64, nullptr); });
  refused("ft4j_fused_attention_path", "dtype 2", UNSUPPORTED, {"dtype = 2 is not supported"},
          [&] { return ft4j_fused_attention_path(INT8, 12, 64, &path); });
  refused("ft4j_fused_attention_path", "heads 0", INVALID, {"heads = 0, must be >= 1"},
          [&] { return ft4j_fused_attention_path(FP32, 0, 64, &path); });
  refused("ft4j_fused_attention_path", "size_per_head -1", INVALID, {"size_per_head = -1, must be >= 1"},
          [&] { return ft4j_fused_attention_path(FP32, 12, -1, &path); });
  refused("ft4j_fused_attention_path", "3 * heads * D above INT_MAX", INVALID, {"overflows an int"},
          [&] { return ft4j_fused_attention_path(FP32, 32768, 32768, &path); });
  refused("ft4j_fused_attention_int8_path", "qkv_dtype FP32 for FP16", INVALID,
          {"qkv_dtype = 0 must be FT4J_DTYPE_INT8 (2) or dtype (1)"},
          [&] { return ft4j_fused_attention_int8_path(FP16, FP32, 12, 64, &path); });
  refused("ft4j_fused_attention_int8_path", "path NULL", INVALID, {"path is NULL"},
          [] { return ft4j_fused_attention_int8_path(FP16, INT8, 12, 64, nullptr); });
  for (auto [w, m] : std::vector<std::pair<int, int>>{{4, 1}, {8, 2}, {0, 1}, {0, 0}}) {
    kt::Case c(k, str("ft4j_set_fused_attention_tiling accepts warps %d, m_tiles %d", w, m));
    expect_ok(c, "ft4j_set_fused_attention_tiling", 0, [w = w, m = m] { return ft4j_set_fused_attention_tiling(w, m); });
  }
  for (auto [w, m] : std::vector<std::pair<int, int>>{{5, 1}, {4, 3}, {8, -1}, {-4, 0}}) {
    refused("ft4j_set_fused_attention_tiling", str("warps %d, m_tiles %d", w, m).c_str(), INVALID,
            {str("warps = %d and m_tiles = %d: warps must be 0, 4 or 8 and m_tiles 0, 1 or 2", w, m)},
            [w = w, m = m] { return ft4j_set_fused_attention_tiling(w, m); });
  }
  ft4j_set_fused_attention_tiling(0, 0);
  for (auto [g, n] : std::vector<std::pair<int, int>>{{1, 64}, {2, 128}, {-1, 0}, {0, 0}}) {
    kt::Case c(k, str("ft4j_set_fused_attention_wgmma accepts warpgroups %d, keys %d", g, n));
    expect_ok(c, "ft4j_set_fused_attention_wgmma", 0, [g = g, n = n] { return ft4j_set_fused_attention_wgmma(g, n); });
  }
  for (auto [g, n] : std::vector<std::pair<int, int>>{{3, 64}, {-2, 0}, {1, 32}, {2, -64}}) {
    refused("ft4j_set_fused_attention_wgmma", str("warpgroups %d, keys %d", g, n).c_str(), INVALID,
            {str("warpgroups = %d and keys = %d: warpgroups must be -1, 0, 1 or 2 and keys 0, 64 or 128", g, n)},
            [g = g, n = n] { return ft4j_set_fused_attention_wgmma(g, n); });
  }
  // forced, but not on this device (sm_75): the CUDA-core path as before
  ft4j_set_fused_attention_wgmma(2, 64);
  path_is("ft4j_fused_attention_path FP16 D 64, wgmma forced (sm_75)", 2,
          [](int* p) { return ft4j_fused_attention_path(FP16, 12, 64, p); });
  ft4j_set_fused_attention_wgmma(0, 0);
}

struct LengthsToOffsets {
  static constexpr const char* fn = "ft4j_lengths_to_offsets";
  static constexpr const char* group = kFused;
  static constexpr bool typed = false;
  static constexpr int kMax = 1100;  // more than one block of 1024 threads
  struct Args {
    const int* lengths; int batch; int* offsets;
    int call() const { return ft4j_lengths_to_offsets(lengths, batch, offsets, nullptr); }
    cudaError_t direct() const { return ft4j::launch_lengths_to_offsets(lengths, batch, offsets, nullptr); }
  };
  kt::Rng g;
  Dev lengths, offsets;
  explicit LengthsToOffsets(int) : g(83), lengths(int32s(kMax, g, 1, 9, "lengths")), offsets(output(kMax + 1, 4, "offsets")) {}
  Args args() const { return {lengths.as<int>(), 3, offsets.as<int>()}; }
};

void lengths_to_offsets_calls() {
  using F = LengthsToOffsets;
  using A = F::Args;
  const Check<F> sums = [](kt::Case& c, F& f, const A& a) {
    int64_t sum = 0;
    for (int b = 0; b <= a.batch; ++b) {
      if (!c.exact("offsets", b, a.offsets[b], double(sum))) return;
      if (b < a.batch) sum += f.lengths.as<int>()[b];
    }
  };
  accepts<F>(FP32, "batch 3", {}, sums);
  accepts<F>(FP32, "batch 1100", SET(a.batch = F::kMax), sums);
  refuses<F>(FP32, "lengths NULL", INVALID, {"lengths is NULL"}, SET(a.lengths = nullptr));
  refuses<F>(FP32, "offsets NULL", INVALID, {"offsets is NULL"}, SET(a.offsets = nullptr));
  refuses<F>(FP32, "lengths misaligned", INVALID, {"lengths = 0x", "4-byte"}, SET(a.lengths = off(a.lengths, 1)));
  refuses<F>(FP32, "offsets misaligned", INVALID, {"offsets = 0x", "4-byte"}, SET(a.offsets = off(a.offsets, 2)));
  refuses<F>(FP32, "batch 0", INVALID, {"batch = 0, must be >= 1"}, SET(a.batch = 0));
  refuses<F>(FP32, "batch -1", INVALID, {"batch = -1, must be >= 1"}, SET(a.batch = -1));
  refuses<F>(FP32, "in place", INVALID, {"offsets and lengths overlap"}, SET(a.offsets = f.lengths.as<int>()));
  refuses<F>(FP32, "offsets' last element over lengths", INVALID, {"offsets and lengths overlap"},
             SET(a.offsets = f.lengths.as<int>() - 3));
}

// ==== gemm_int8 =================================================================================
// M 5, N 7, K 48 (16-byte rows) or 37 (byte loads); on sm_75 always the simple __dp4a kernel.
constexpr int kGM = 5, kGN = 7, kGK = 48;

struct GemmInt8 {
  static constexpr const char* fn = "ft4j_gemm_int8";
  static constexpr const char* group = kGemm;
  static constexpr bool typed = true;
  struct Args {
    int dtype, out_kind; void* out; const void* a; const void* b; const void* a_scale; float a_static;
    const void* w_scale; const void* bias; const void* out_inv_scale; float out_inv_static; int gelu;
    int m, n, k, plan_kernel, plan_splits; void* workspace; size_t workspace_bytes;
    int call() const {
      return ft4j_gemm_int8(dtype, out_kind, out, a, b, a_scale, a_static, w_scale, bias,
                            out_inv_scale, out_inv_static, gelu, m, n, k, plan_kernel, plan_splits,
                            workspace, workspace_bytes, nullptr);
    }
    // plan_kernel < 0: ft4j plans (plan_splits unused); a NULL workspace has no bytes
    template <typename T> cudaError_t launch() const {
      return ft4j::launch_gemm_int8(
          ft4j::GemmInt8Params<T>{out, (const int8_t*)a, (const int8_t*)b, (const float*)a_scale,
                                  a_static, (const float*)w_scale, (const T*)bias,
                                  (const float*)out_inv_scale, out_inv_static, gelu,
                                  static_cast<ft4j::GemmInt8Out>(out_kind), m, n, k,
                                  (int32_t*)workspace, workspace ? workspace_bytes : 0, plan_kernel,
                                  plan_kernel < 0 ? 1 : plan_splits},
          nullptr);
    }
    cudaError_t direct() const { return BY_DTYPE(dtype, launch); }
  };
  int dtype;
  kt::Rng g;
  Dev a, b, a_scale, w, bias, out_inv, out, arena;
  explicit GemmInt8(int dt)
      : dtype(dt), g(89 + dt), a(int8s(kGM * kGK, g, "a")), b(int8s(kGN * kGK, g, "b")),
        a_scale(values(FP32, kGM, g, 0.01, 0.03, "a_scale")), w(values(FP32, kGN, g, 0.001, 0.004, "w_scale")),
        bias(values(dt, kGN, g, -0.5, 0.5, "bias")), out_inv(values(FP32, kGN, g, 20, 60, "out_inv_scale")),
        out(output(kGM * kGN, 4, "out")), arena(output(4 * kGM * kGN, 4, "arena (out/workspace layouts)")) {}
  // FLOAT output, per-token a_scale, bias, GELU; out_inv unused (NaN); ft4j plans (splits unused)
  Args args() const {
    return {dtype, 1, out.p, a.p, b.p, a_scale.p, NAN, w.p, bias.p, nullptr, NAN, 1,
            kGM, kGN, kGK, -1, -9, nullptr, 0};
  }
};

void gemm_int8_calls() {
  using F = GemmInt8;
  using A = F::Args;
  // INT32: the exact integer sums
  const Check<F> int32_sums = [](kt::Case& c, F& f, const A& a) {
    for (int i = 0; i < a.m; ++i)
      for (int j = 0; j < a.n; ++j) {
        int64_t s = 0;
        for (int t = 0; t < a.k; ++t) s += int(f.a.as<int8_t>()[i * a.k + t]) * int(f.b.as<int8_t>()[j * a.k + t]);
        if (!c.exact("out", size_t(i) * a.n + j, static_cast<const int32_t*>(a.out)[i * a.n + j], double(s))) return;
      }
  };
  accepts<F>(FP32, "INT32 output (w_scale NULL unused)",
             SET(a.out_kind = 0; a.w_scale = nullptr; a.a_scale = nullptr), int32_sums);
  accepts<F>(FP32, "INT32 output, K 37 (byte loads)", SET(a.out_kind = 0; a.k = 37), int32_sums);
  for (int dt : {FP32, FP16}) {
    accepts<F>(dt, "FLOAT, per-token a_scale, bias, GELU");
    accepts<F>(dt, "FLOAT, static a, no bias, K 37",
               SET(a.a_scale = nullptr; a.a_static = 0.02f; a.bias = nullptr; a.gelu = 0; a.k = 37));
    accepts<F>(dt, "INT8, per-channel out_inv_scale", SET(a.out_kind = 2; a.out_inv_scale = f.out_inv.p));
    accepts<F>(dt, "INT8_DEQUANTIZED, static out_inv", SET(a.out_kind = 3; a.out_inv_static = 40.f; a.gelu = 0));
  }
  accepts<F>(FP32, "tuned plan: kernel 0, 1 split", SET(a.plan_kernel = 0; a.plan_splits = 1));
  accepts<F>(FP32, "workspace right after out", SET(a.out = f.arena.p; a.workspace = f.arena.p + 4 * kGM * kGN;
                                                      a.workspace_bytes = 4 * kGM * kGN));
  accepts<F>(FP32, "workspace right before out", SET(a.workspace = f.arena.p; a.workspace_bytes = 4 * kGM * kGN;
                                                       a.out = f.arena.p + 4 * kGM * kGN));
  const int dt = FP32;
  refuses<F>(dt, "dtype 2", UNSUPPORTED, {"dtype = 2 is not supported"}, SET(a.dtype = INT8));
  refuses<F>(dt, "out_kind 4", INVALID, {"out_kind = 4, must be 0 (INT32), 1 (FLOAT), 2 (INT8) or 3 (INT8_DEQUANTIZED)"},
             SET(a.out_kind = 4));
  refuses<F>(dt, "out_kind -1", INVALID, {"out_kind = -1"}, SET(a.out_kind = -1));
  refuses<F>(dt, "out NULL", INVALID, {"out is NULL"}, SET(a.out = nullptr));
  refuses<F>(dt, "a NULL", INVALID, {"a is NULL"}, SET(a.a = nullptr));
  refuses<F>(dt, "b NULL", INVALID, {"b is NULL"}, SET(a.b = nullptr));
  refuses<F>(dt, "FP32 out misaligned", INVALID, {"out = 0x", "4-byte"}, SET(a.out = off(a.out, 2)));
  refuses<F>(FP16, "FP16 out misaligned", INVALID, {"out = 0x", "2-byte"}, SET(a.out = off(a.out, 1)));
  refuses<F>(FP16, "INT32 out misaligned", INVALID, {"out = 0x", "4-byte"}, SET(a.out_kind = 0; a.out = off(a.out, 2)));
  refuses<F>(dt, "M 0", INVALID, {"M = 0, must be >= 1"}, SET(a.m = 0));
  refuses<F>(dt, "N -1", INVALID, {"N = -1, must be >= 1"}, SET(a.n = -1));
  refuses<F>(dt, "K 0", INVALID, {"K = 0, must be >= 1"}, SET(a.k = 0));
  refuses<F>(dt, "K above INT_MAX - 64", INVALID, {"K = 2147483584 is too large (at most 2147483583)"},
             SET(a.k = INT_MAX - 63));
  refuses<F>(dt, "w_scale NULL for FLOAT", INVALID, {"w_scale is NULL"}, SET(a.w_scale = nullptr));
  refuses<F>(dt, "a_static 0 without a_scale", INVALID, {"a_static = 0, must be > 0 and finite when a_scale is NULL"},
             SET(a.a_scale = nullptr; a.a_static = 0.f));
  refuses<F>(dt, "a_scale misaligned", INVALID, {"a_scale = 0x", "4-byte"}, SET(a.a_scale = off(a.a_scale, 2)));
  refuses<F>(dt, "bias misaligned", INVALID, {"bias = 0x", "4-byte"}, SET(a.bias = off(a.bias, 2)));
  refuses<F>(dt, "gelu 2", INVALID, {"gelu = 2, must be 0 or 1"}, SET(a.gelu = 2));
  refuses<F>(dt, "INT8 with out_inv_static NaN and no out_inv_scale", INVALID,
             {"out_inv_static = nan, must be > 0 and finite when out_inv_scale is NULL"}, SET(a.out_kind = 2));
  refuses<F>(dt, "INT8_DEQUANTIZED with out_inv_scale misaligned", INVALID, {"out_inv_scale = 0x", "4-byte"},
             SET(a.out_kind = 3; a.out_inv_scale = off(f.out_inv.p, 2)));
  refuses<F>(dt, "workspace misaligned", INVALID, {"workspace = 0x", "4-byte"},
             SET(a.workspace = f.arena.p + 2; a.workspace_bytes = 64));
  refuses<F>(dt, "workspace starting inside out", INVALID, {"the workspace overlaps the output"},
             SET(a.out = f.arena.p; a.workspace = f.arena.p + 4; a.workspace_bytes = 64));
  refuses<F>(dt, "workspace's last byte over out", INVALID, {"the workspace overlaps the output"},
             SET(a.workspace = f.arena.p; a.out = f.arena.p + 8; a.workspace_bytes = 9));
  refuses<F>(dt, "out over a", INVALID, {"out and a overlap"}, SET(a.a = f.arena.p; a.out = f.arena.p + 16));
  refuses<F>(dt, "out over b", INVALID, {"out and b overlap"}, SET(a.b = f.arena.p + 64; a.out = f.arena.p));
  refuses<F>(dt, "M above 65535 row blocks", UNSUPPORTED,
             {"gemm_int8: M = 4194241 needs more than 65535 row blocks of 64"},
             SET(a.m = 65535 * 64 + 1));
  refuses<F>(dt, "tuned plan: kernel 1 on sm_75", UNSUPPORTED,
             {"kernel 1 with 1 K splits: the pipelined kernels need sm_80+"},
             SET(a.plan_kernel = 1; a.plan_splits = 1));
  refuses<F>(dt, "tuned plan: kernel 3 (warpgroup) on sm_75", UNSUPPORTED,
             {"kernel 3 with 1 K splits: the pipelined kernels need sm_80+"},
             SET(a.plan_kernel = 3; a.plan_splits = 1));
  refuses<F>(dt, "tuned plan: kernel 4 (warpgroup pair) on sm_75", UNSUPPORTED,
             {"kernel 4 with 1 K splits: the pipelined kernels need sm_80+"},
             SET(a.plan_kernel = 4; a.plan_splits = 1));
  refuses<F>(dt, "tuned plan: kernel 5", UNSUPPORTED, {"unknown kernel 5 with 1 K splits (kernels 0, 1, 2, 3, 4)"},
             SET(a.plan_kernel = 5; a.plan_splits = 1));
  refuses<F>(dt, "tuned plan: kernel 0 with 2 splits", UNSUPPORTED,
             {"kernel 0 with 2 K splits: the simple kernel has none"},
             SET(a.plan_kernel = 0; a.plan_splits = 2));
  refuses<F>(dt, "tuned plan: 0 splits", UNSUPPORTED, {"kernel 0 with 0 K splits: splits must be 1..65535"},
             SET(a.plan_kernel = 0; a.plan_splits = 0));

  // ft4j_gemm_int8_plan: on sm_75 always the simple kernel without splits
  kt::Kernel& k = kt::kernel(kGemm);
  for (auto [kind, m, ws] : std::vector<std::tuple<int, int, size_t>>{{1, 5, 0}, {0, 4096, 0}, {2, 1, 1 << 26}}) {
    kt::Case c(k, str("ft4j_gemm_int8_plan out_kind %d, M %d, workspace %zu: simple kernel", kind, m, ws));
    int kernel = -5, splits = -5;
    if (!expect_ok(c, "ft4j_gemm_int8_plan", 0, [&, kind = kind, m = m, ws = ws] {
          return ft4j_gemm_int8_plan(kind, m, 4096, 4096, ws, &kernel, &splits);
        })) continue;
    if (kernel != 0 || splits != 1) c.fail("plan kernel %d, %d splits; expected 0, 1 on sm_75", kernel, splits);
  }
  int kernel = 0, splits = 0;
  auto refused = [&](const char* what, const std::vector<std::string>& says, const std::function<int()>& call) {
    kt::Case c(k, str("ft4j_gemm_int8_plan refuses %s", what));
    expect_refused(c, "ft4j_gemm_int8_plan", INVALID, says, call);
  };
  refused("out_kind 4", {"out_kind = 4, must be 0..3"}, [&] { return ft4j_gemm_int8_plan(4, 5, 7, 48, 0, &kernel, &splits); });
  refused("kernel NULL", {"kernel or splits is NULL"}, [&] { return ft4j_gemm_int8_plan(1, 5, 7, 48, 0, nullptr, &splits); });
  refused("splits NULL", {"kernel or splits is NULL"}, [&] { return ft4j_gemm_int8_plan(1, 5, 7, 48, 0, &kernel, nullptr); });
  refused("M 0", {"M = 0, must be >= 1"}, [&] { return ft4j_gemm_int8_plan(1, 0, 7, 48, 0, &kernel, &splits); });
  refused("K -1", {"K = -1, must be >= 1"}, [&] { return ft4j_gemm_int8_plan(1, 5, 7, -1, 0, &kernel, &splits); });
}

// ==== convert =====================================================================================
constexpr int kCount = 50;
struct Convert {
  static constexpr const char* fn = "ft4j_convert";
  static constexpr const char* group = kMisc;
  static constexpr bool typed = true;
  struct Args {
    int dst_dtype; void* dst; int src_dtype; const void* src; size_t count;
    int call() const { return ft4j_convert(dst_dtype, dst, src_dtype, src, count, nullptr); }
    template <typename D, typename S> cudaError_t run() const {
      return ft4j::launch_convert(ft4j::ConvertParams<D, S>{(D*)dst, (const S*)src, count}, nullptr);
    }
    template <typename D> cudaError_t from() const { return src_dtype == FP32 ? run<D, float>() : run<D, __half>(); }
    cudaError_t direct() const { return BY_DTYPE(dst_dtype, from); }
  };
  int dtype;
  kt::Rng g;
  Dev src, dst, arena;
  explicit Convert(int dt)
      : dtype(dt), g(97 + dt), src(values(dt, kCount, g, -70000, 70000, "src")), dst(output(kCount, 4, "dst")),
        arena(values(FP32, 2 * kCount, g, -3, 3, "arena (dst/src layouts)", false)) {}
  // to the other type
  Args args() const { return {dtype == FP32 ? FP16 : FP32, dst.p, dtype, src.p, kCount}; }
};

void convert_calls() {
  using F = Convert;
  using A = F::Args;
  // exact: FP16 -> FP32 widens, FP32 -> FP16 rounds to nearest even (the shim's conversion is
  // checked against _Float16 by test_emu), same type copies
  const Check<F> converted = [](kt::Case& c, F&, const A& a) {
    for (size_t i = 0; i < a.count; ++i) {
      const float v = a.src_dtype == FP32 ? static_cast<const float*>(a.src)[i]
                                          : __half2float(static_cast<const __half*>(a.src)[i]);
      const double want = a.dst_dtype == FP32 ? v : __half2float(__float2half_rn(v));
      const double got = a.dst_dtype == FP32 ? static_cast<const float*>(a.dst)[i]
                                             : __half2float(static_cast<const __half*>(a.dst)[i]);
      if (!c.exact("dst", i, got, want)) return;
    }
  };
  for (int dt : {FP32, FP16}) {
    accepts<F>(dt, "to the other type", {}, converted);
    accepts<F>(dt, "to the same type (a copy)", SET(a.dst_dtype = a.src_dtype), converted);
    accepts<F>(dt, "dst right after src", SET(a.src = f.arena.p; a.dst = f.arena.at(a.src_dtype, kCount)), converted);
  }
  const int dt = FP32;
  refuses<F>(dt, "dst_dtype 2", UNSUPPORTED, {"dst_dtype = 2 is not supported"}, SET(a.dst_dtype = INT8));
  refuses<F>(dt, "src_dtype 7", UNSUPPORTED, {"src_dtype = 7 is not supported"}, SET(a.src_dtype = 7));
  refuses<F>(dt, "dst NULL", INVALID, {"dst is NULL"}, SET(a.dst = nullptr));
  refuses<F>(dt, "src NULL", INVALID, {"src is NULL"}, SET(a.src = nullptr));
  refuses<F>(dt, "FP32 src misaligned", INVALID, {"src = 0x", "4-byte"}, SET(a.src = off(a.src, 2)));
  refuses<F>(FP16, "FP32 dst misaligned", INVALID, {"dst = 0x", "4-byte"}, SET(a.dst = off(a.dst, 2)));
  refuses<F>(dt, "count 0", INVALID, {"count = 0, must be >= 1"}, SET(a.count = 0));
  refuses<F>(dt, "count above SIZE_MAX / 4", INVALID, {"is too large for a 64-bit size"},
             SET(a.count = SIZE_MAX / 4 + 1));
  refuses<F>(dt, "dst == src", INVALID, {"dst and src overlap"}, SET(a.src = a.dst = f.arena.p; a.dst_dtype = FP32));
  refuses<F>(dt, "FP16 dst inside FP32 src", INVALID, {"dst and src overlap"},
             SET(a.src = f.arena.p; a.dst = f.arena.p + 98));
  refuses<F>(FP16, "FP32 dst's last element over FP16 src", INVALID, {"dst and src overlap"},
             SET(a.dst = f.arena.p; a.src = f.arena.p + 4 * kCount - 4));
}

// ==== version, devices, the error message ========================================================
void device_and_error_calls() {
  kt::Kernel& k = kt::kernel(kMisc);
  {
    kt::Case c(k, "ft4j_version is a string");
    const char* v = ft4j_version();
    if (v == nullptr || *v == 0) c.fail("ft4j_version() returned %s", v ? "\"\"" : "NULL");
  }
  auto refused = [&](const char* fn, const std::string& what, int status, const std::vector<std::string>& says,
                     const std::function<int()>& call) {
    kt::Case c(k, str("%s refuses %s", fn, what.c_str()));
    expect_refused(c, fn, status, says, call);
  };
  {
    kt::Case c(k, "ft4j_cuda_device_count counts the device");
    int n = -1;
    if (expect_ok(c, "ft4j_cuda_device_count", 0, [&] { return ft4j_cuda_device_count(&n); }) && n != 1) {
      c.fail("count %d, expected 1", n);
    }
  }
  refused("ft4j_cuda_device_count", "count NULL", INVALID, {"count is NULL"}, [] { return ft4j_cuda_device_count(nullptr); });
  // ft4j.h: no driver or no device is a count of 0 and FT4J_OK (and no CUDA error left behind)
  for (cudaError_t none : {cudaErrorNoDevice, cudaErrorInsufficientDriver, cudaErrorInitializationError,
                           cudaErrorSystemDriverMismatch, cudaErrorCompatNotSupportedOnDevice}) {
    kt::Case c(k, str("ft4j_cuda_device_count is 0 when cudaGetDeviceCount fails with %s", cudaGetErrorName(none)));
    emu::runtime().device_count_error = none;
    int n = -1;
    if (expect_ok(c, "ft4j_cuda_device_count", 0, [&] { return ft4j_cuda_device_count(&n); }) && n != 0) {
      c.fail("count %d, expected 0", n);
    }
    emu::runtime().device_count_error = cudaSuccess;
  }
  // any other failure is an error, reported once: the next call must not see it again
  emu::runtime().device_count_error = cudaErrorInvalidValue;
  int n = 0;
  refused("ft4j_cuda_device_count", "a failing cudaGetDeviceCount", CUDA_ERROR,
          {"cudaGetDeviceCount failed: cudaErrorInvalidValue (invalid argument)"},
          [&] { return ft4j_cuda_device_count(&n); });
  emu::runtime().device_count_error = cudaSuccess;
  {
    kt::Case c(k, "ft4j_cuda_device_info of device 0");
    int major = 0, minor = 0, rt = 0, drv = 0;
    if (expect_ok(c, "ft4j_cuda_device_info", 0, [&] { return ft4j_cuda_device_info(0, &major, &minor, &rt, &drv); }) &&
        (major != 7 || minor != 5 || rt != 12080 || drv != 12080)) {
      c.fail("sm_%d%d, runtime %d, driver %d; expected sm_75, 12080, 12080", major, minor, rt, drv);
    }
  }
  int v[4];
  refused("ft4j_cuda_device_info", "device 1 of 1", INVALID, {"device 1 out of range [0, 1)"},
          [&] { return ft4j_cuda_device_info(1, &v[0], &v[1], &v[2], &v[3]); });
  refused("ft4j_cuda_device_info", "device -1", INVALID, {"device -1 out of range [0, 1)"},
          [&] { return ft4j_cuda_device_info(-1, &v[0], &v[1], &v[2], &v[3]); });
  for (int i = 0; i < 4; ++i) {
    refused("ft4j_cuda_device_info", str("output %d NULL", i), INVALID, {"an output pointer is NULL"}, [&, i] {
      int* p[4] = {&v[0], &v[1], &v[2], &v[3]};
      p[i] = nullptr;
      return ft4j_cuda_device_info(0, p[0], p[1], p[2], p[3]);
    });
  }
  // a device the runtime counts but cannot describe: the failing call is named
  emu::runtime().device_count = 2;
  refused("ft4j_cuda_device_info", "a device whose attributes fail", CUDA_ERROR,
          {"cudaDeviceGetAttribute(major) failed: cudaErrorInvalidDevice (invalid device ordinal)"},
          [&] { return ft4j_cuda_device_info(1, &v[0], &v[1], &v[2], &v[3]); });
  emu::runtime().device_count = 1;
  // After a reported CUDA error the next call works (nothing pending from the failed one).
  {
    kt::Case c(k, "a kernel call after the failed queries succeeds");
    Dev data(8, 4, "data"), bias(8, 4, "bias");
    for (int i = 0; i < 8; ++i) { data.as<float>()[i] = 0.5f * i - 1.1f; bias.as<float>()[i] = 0.25f; }
    expect_ok(c, "ft4j_add_bias_gelu", 1, [&] { return ft4j_add_bias_gelu(FP32, data.p, bias.p, 2, 4, nullptr); });
  }
  // The message is per thread: a failure on another thread leaves this thread's message alone.
  {
    kt::Case c(k, "ft4j_last_error is per thread");
    ft4j_add_bias_gelu(FP32, nullptr, nullptr, 1, 1, nullptr);
    const std::string mine = ft4j_last_error();
    std::string theirs;
    std::thread t([&] {
      ft4j_pool_rows(9, nullptr, nullptr, nullptr, 1, 1, 1, 0, 0, nullptr);
      theirs = ft4j_last_error();
    });
    t.join();
    if (mine != ft4j_last_error()) c.fail("this thread's message changed to: %s", ft4j_last_error());
    if (theirs.rfind("ft4j_pool_rows: dtype = 9", 0) != 0) c.fail("the other thread's message: %s", theirs.c_str());
    if (mine.rfind("ft4j_add_bias_gelu: data is NULL", 0) != 0) c.fail("this thread's message: %s", mine.c_str());
  }
}

std::string coverage(const char* group, const char* entry_points) {
  const kt::Kernel& k = kt::kernel(group);
  return str("%s; %ld refusals", entry_points, k.rejected_ok);
}

}  // namespace

int main(int argc, char** argv) {
  kt::init(argc, argv);
  // sm_75 (see the top): 40 SMs, 64 KiB of opt-in shared memory; set before the first call, the
  // kernels cache what they read per device
  emu::device().major = 7;
  emu::device().minor = 5;
  emu::device().sms = 40;
  emu::device().optin_shared = 64 * 1024;
  for (const char* group : {kQuant, kNorm, kPool, kAttn, kFused, kGemm, kMisc}) kt::kernel(group);  // report order
  {
    kt::Case c(kt::kernel(kMisc), "ft4j_last_error is empty before any failure");
    if (strcmp(ft4j_last_error(), "") != 0) c.fail("ft4j_last_error() = \"%s\"", ft4j_last_error());
  }
  quantize_rows_calls();
  dequantize_bias_act_calls();
  dequantize_bias_residual_layernorm_calls();
  layernorm_calls();
  embedding_calls();
  add_bias_gelu_calls();
  pooling_calls();
  zero_padded_rows_calls();
  padding_copy_calls();
  split_heads_calls();
  masked_softmax_calls();
  merge_heads_calls();
  fused_attention_queries();
  fused_attention_calls();
  fused_attention_int8_calls();
  lengths_to_offsets_calls();
  gemm_int8_calls();
  convert_calls();
  device_and_error_calls();
  kt::kernel(kQuant).coverage = coverage(kQuant, "quantize_rows, dequantize_bias_act, dequantize_bias_residual_layernorm");
  kt::kernel(kNorm).coverage = coverage(kNorm, "add_bias_residual_layernorm, embedding_layernorm, add_bias_gelu");
  kt::kernel(kPool).coverage = coverage(kPool, "pool_rows, zero_padded_rows, padding_copy");
  kt::kernel(kAttn).coverage = coverage(kAttn, "add_qkv_bias_split_heads, masked_softmax, merge_heads");
  kt::kernel(kFused).coverage = coverage(kFused, "fused_attention(_int8)(_path), tiling, lengths_to_offsets");
  kt::kernel(kGemm).coverage = coverage(kGemm, "gemm_int8, gemm_int8_plan");
  kt::kernel(kMisc).coverage = coverage(kMisc, "convert, version, device count/info, last_error");
  return kt::finish();
}
