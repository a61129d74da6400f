// gemm_int8.cu against gemm_int8.cuh: acc[m, n] = sum_k A[m, k] B[n, k] exactly in int32, then
// the epilogue of each output kind (INT32; FLOAT: acc * a_m * w_n (+ bias) (GELU) as FP32/FP16;
// INT8: that quantized with out_inv; INT8_DEQUANTIZED: the int8 value / out_inv as T), with
// per-token or static input scales and per-channel or static output scales.
//
// Built twice (run.sh): EMU_SM=90 with the sm_80+ device code (mma.sync m16n8k32 through
// shim/emu_ptx.h, cp.async pipelines, split-K with atomics), every kernel forced in turn as a tuned
// plan would (simple with 16-byte and byte loads, 128 x 128 and 64 x 64 pipelined, 1..3 K splits)
// and the automatic plan; EMU_SM=75 with the sm_75 device code (the __dp4a path), where the plan
// must always be the simple kernel and forcing a pipelined one is refused.
//
// Shapes are awkward on purpose: M, N, K of 1, odd, one past a tile, K not a multiple of 16 (byte
// loads) and K % 32 == 16 (a half k-step, zero-filled); A and B use the whole int8 range
// including -128; outputs are poisoned (int8 -128 is never a valid output).
#include "gemm_int8.cu.cpp"
#include "ref.h"

#include <functional>

using kt::Buf;
using kt::Type;
using kt::kU;
using namespace ft4j;

#ifndef EMU_SM
#define EMU_SM 90
#endif

namespace {

const char* kArch = EMU_SM >= 80 ? "sm_90" : "sm_75";

std::string kname(const char* what) { return std::string("gemm_int8 ") + what + (EMU_SM >= 80 ? "" : " (sm_75)"); }

const char* kind_name(GemmInt8Out k) {
  switch (k) {
    case GemmInt8Out::INT32: return "INT32";
    case GemmInt8Out::FLOAT: return "FLOAT";
    case GemmInt8Out::INT8: return "INT8";
    default: return "INT8_DEQUANTIZED";
  }
}

struct Shape { int m, n, k; };

// What a case exercises.
struct Variant {
  GemmInt8Out kind;
  int forced_kernel;  // -1: automatic plan
  int splits;
  bool per_token;     // a_scale per row (else a_static)
  bool per_channel;   // out_inv per column (else static)
  bool bias;
  bool gelu;
  bool misalign;      // A and B one byte off 16-byte alignment (byte loads), out one element off
};

// Plans seen per kernel name, for the summary line.
std::map<std::string, long>& plans_seen() { static std::map<std::string, long> m; return m; }

// A buffer of `count` elements starting `offset` bytes into a guarded allocation whose size is a
// multiple of 16 bytes (so that offset 0 is 16-byte aligned in both guard modes).
template <typename T>
struct Placed {
  Buf<unsigned char> raw;
  T* p;
  Placed(size_t count, size_t offset, const std::string& name)
      : raw(((count * sizeof(T) + offset + 15) / 16) * 16, name) {
    // place the data against the guard page the case uses, offset bytes from 16-byte alignment
    const size_t bytes = count * sizeof(T);
    unsigned char* base = emu::config().guard_front ? raw.p + offset
                                                     : raw.p + raw.n - bytes;
    if (!emu::config().guard_front) base -= (reinterpret_cast<uintptr_t>(base) - offset) % 16;
    p = reinterpret_cast<T*>(base);
  }
};

template <typename T>
void gemm_case(const Shape& s, const Variant& v) {
  const int M = s.m, N = s.n, K = s.k;
  char desc[256];
  snprintf(desc, sizeof desc, "%s %s M=%d N=%d K=%d kernel=%d splits=%d a=%s out_inv=%s bias=%d gelu=%d%s",
           Type<T>::name, kind_name(v.kind), M, N, K, v.forced_kernel, v.splits,
           v.per_token ? "row" : "static", v.per_channel ? "col" : "static", v.bias, v.gelu,
           v.misalign ? " misaligned" : "");
  kt::Case c(kt::kernel(kname(kind_name(v.kind))), desc);
  kt::Rng rng(uint64_t(M) * 1000003 + N * 1009 + K * 17 + int(v.kind) * 3 + v.forced_kernel * 5 +
              v.splits + v.per_token + 2 * v.gelu);
  const size_t off = v.misalign ? 1 : 0;
  Placed<int8_t> a(size_t(M) * K, off, "A"), b(size_t(N) * K, off, "B");
  std::vector<int> av(size_t(M) * K), bv(size_t(N) * K);
  for (size_t i = 0; i < av.size(); ++i) a.p[i] = int8_t(av[i] = rng.integer(-128, 127));
  for (size_t i = 0; i < bv.size(); ++i) b.p[i] = int8_t(bv[i] = rng.integer(-128, 127));
  // a few rows and columns at the extremes: the largest sums the int32 accumulators see
  for (int i = 0; i < K; ++i) {
    a.p[i] = -128;
    av[i] = -128;
    b.p[i] = -128;
    bv[i] = -128;
  }
  a.raw.readonly();
  b.raw.readonly();

  std::vector<double> a_scale = rng.vec(M, 2e-4, 4e-3), w_scale = rng.vec(N, 2e-4, 4e-3);
  const double a_static = 1.7e-3;
  Buf<float> as = kt::upload_f(a_scale, "a_scale"), ws = kt::upload_f(w_scale, "w_scale");
  std::vector<double> bias = rng.vec(N, -3, 3);
  Buf<T> bias_b = kt::upload<T>(bias, "bias");

  // exact accumulators and the exact epilogue value y (before any output rounding) with its bound
  std::vector<int64_t> acc(size_t(M) * N);
  std::vector<double> y(acc.size()), ytol(acc.size());
  double ymax = 0;
  for (int m = 0; m < M; ++m) {
    const double am = v.per_token ? a_scale[m] : double(float(a_static));
    for (int n = 0; n < N; ++n) {
      int64_t sum = 0;
      for (int k = 0; k < K; ++k) sum += int64_t(av[size_t(m) * K + k]) * bv[size_t(n) * K + k];
      acc[size_t(m) * N + n] = sum;
      // float(acc) * a * w: three roundings; + bias: one more of the sum
      const double y0 = double(sum) * am * w_scale[n];
      double yy = y0, t = 3 * kU * std::fabs(y0) + 1e-30;
      if (v.bias) {
        yy += bias[n];
        t += kU * std::fabs(yy);
      }
      if (v.gelu) {
        const double g = ref::gelu(yy);
        t = ref::gelu_tol(yy, t);
        yy = g;
      }
      y[size_t(m) * N + n] = yy;
      ytol[size_t(m) * N + n] = t;
      ymax = std::max(ymax, std::fabs(yy));
    }
  }
  // output scales: |s| up to ~1.6 x 127, so that both signs clamp somewhere
  std::vector<double> out_inv = rng.vec(N, 0.9, 1.6);
  for (double& x : out_inv) x *= 127.0 / std::max(ymax, 1e-3);
  const float out_inv_static = float(127.0 * 1.3 / std::max(ymax, 1e-3));
  Buf<float> oi = kt::upload_f(out_inv, "out_inv_scale");

  const size_t esize = v.kind == GemmInt8Out::INT32 ? 4 : v.kind == GemmInt8Out::INT8 ? 1 : sizeof(T);
  // misaligned cases: the output one element off the alignment of a pair (single stores)
  Placed<unsigned char> out(size_t(M) * N * esize, v.misalign ? esize : 0, "out");
  memset(out.p, v.kind == GemmInt8Out::INT8 ? 0x80 : 0xFF, size_t(M) * N * esize);  // -128 / NaN / -1
  Buf<int32_t> workspace(size_t(M) * N, "workspace");
  memset(workspace.p, 0x5A, workspace.n * 4);

  GemmInt8Params<T> p{};
  p.out = out.p;
  p.a = a.p;
  p.b = b.p;
  p.a_scale = v.per_token ? as.p : nullptr;
  p.a_static = float(a_static);
  p.w_scale = ws.p;
  p.bias = v.bias ? bias_b.p : nullptr;
  p.out_inv_scale = v.per_channel ? oi.p : nullptr;
  p.out_inv_static = out_inv_static;
  p.gelu = v.gelu;
  p.out_kind = v.kind;
  p.m = M;
  p.n = N;
  p.k = K;
  p.workspace = workspace.p;
  p.workspace_bytes = workspace.n * 4;
  p.forced_kernel = v.forced_kernel;
  p.forced_splits = v.forced_kernel >= 0 ? v.splits : 0;
  if (!kt::accepted(c, check_gemm_int8(p))) return;
  const GemmInt8Plan plan = plan_gemm_int8(p);
  static const char* names[] = {"simple", "tile128", "tile64", "wgmma", "wgmma-pair"};
  const bool vec = K % 16 == 0 && !v.misalign;
  std::string seen = std::string(names[int(plan.kernel)]) +
                     (plan.kernel == GemmInt8Kernel::SIMPLE ? (vec ? "/16B" : "/bytes") : "") +
                     (plan.splits > 1 ? "/splitK" : "");
  plans_seen()[seen]++;
  if (EMU_SM < 80 && plan.kernel != GemmInt8Kernel::SIMPLE) {
    c.fail("sm_75 planned kernel %d", int(plan.kernel));
    return;
  }
  if (!kt::launched(c, launch_gemm_int8(p, nullptr))) return;

  for (size_t i = 0; i < acc.size(); ++i) {
    const int col = int(i % N);
    switch (v.kind) {
      case GemmInt8Out::INT32: {
        const int32_t got = reinterpret_cast<int32_t*>(out.p)[i];
        if (!c.exact("out", i, got, double(acc[i]))) return;
        break;
      }
      case GemmInt8Out::FLOAT: {
        if (!c.close_t("out", i, reinterpret_cast<T*>(out.p)[i], y[i], ytol[i])) return;
        break;
      }
      case GemmInt8Out::INT8:
      case GemmInt8Out::INT8_DEQUANTIZED: {
        const double inv = v.per_channel ? out_inv[col] : double(out_inv_static);
        const double sc = y[i] * inv;
        const double window = ytol[i] * inv + 2 * kU * std::fabs(sc);
        if (v.kind == GemmInt8Out::INT8) {
          if (!c.int8("out", i, reinterpret_cast<int8_t*>(out.p)[i], sc, window)) return;
        } else {
          // the stored value is q / inv (one float division, then the storage rounding) for the
          // q that the rounding-boundary window allows
          const double got = Type<T>::to_d(reinterpret_cast<T*>(out.p)[i]);
          auto q = [](double x) { return std::max(-127.0, std::min(127.0, std::nearbyint(x))); };
          bool ok = false;
          double best = 0;
          for (double qq : {q(sc), q(sc - window), q(sc + window)}) {
            const double want = qq / double(float(inv));
            const double tol = kU * std::fabs(want) + Type<T>::store_err(std::fabs(want));
            if (std::fabs(got - want) <= tol) { ok = true; break; }
            best = want;
          }
          if (!ok) {
            c.fail("out[%zu] = %.9g, expected %.9g (= q / out_inv, q from %.9g)", i, got, best, sc);
            return;
          }
        }
        break;
      }
    }
  }
}

// The refusals of check_gemm_int8 (nothing may launch).
void parameter_checks() {
  kt::Case c(kt::kernel(kname("parameter checks")), "refusals");
  Buf<int8_t> a(64, "A"), b(64, "B");
  Buf<float> w(8, "w"), out(64, "out");
  Buf<int32_t> ws(64, "ws");
  auto base = [&] {
    GemmInt8Params<float> p{};
    p.out = out.p;
    p.a = a.p;
    p.b = b.p;
    p.w_scale = w.p;
    p.a_static = 1.f;
    p.out_inv_static = 1.f;
    p.out_kind = GemmInt8Out::FLOAT;
    p.m = 4;
    p.n = 8;
    p.k = 16;
    p.workspace = nullptr;
    p.forced_kernel = -1;
    return p;
  };
  struct Bad { const char* what; std::function<void(GemmInt8Params<float>&)> edit; const char* needle; };
  std::vector<Bad> bad = {
      {"M = 0", [](auto& p) { p.m = 0; }, ">= 1"},
      {"K = -1", [](auto& p) { p.k = -1; }, ">= 1"},
      {"M above 65535 row blocks", [](auto& p) { p.m = 65535 * 64 + 1; }, "65535"},
      {"scaled output without w_scale", [](auto& p) { p.w_scale = nullptr; }, "w_scale"},
      {"unknown forced kernel", [](auto& p) { p.forced_kernel = 5; p.forced_splits = 1; }, "unknown"},
      {"forced splits 0", [](auto& p) { p.forced_kernel = 2; p.forced_splits = 0; }, "splits"},
      {"simple kernel with splits", [](auto& p) { p.forced_kernel = 0; p.forced_splits = 2; }, "has none"},
      {"pipelined with K % 16 != 0", [](auto& p) { p.forced_kernel = 1; p.forced_splits = 1; p.k = 24; }, "K % 16"},
  };
  if (EMU_SM >= 80) {
    bad.push_back({"split without workspace", [](auto& p) { p.forced_kernel = 2; p.forced_splits = 2; }, "workspace"});
  } else {
    bad.push_back({"pipelined kernel below sm_80", [](auto& p) { p.forced_kernel = 2; p.forced_splits = 1; }, "sm_80"});
  }
  for (auto& t : bad) {
    GemmInt8Params<float> p = base();
    t.edit(p);
    const std::string why = check_gemm_int8(p);
    if (why.empty()) c.fail("%s: accepted", t.what);
    else if (why.find(t.needle) == std::string::npos) c.fail("%s: message '%s' does not name '%s'", t.what, why.c_str(), t.needle);
  }
  // accepted: INT32 output needs neither w_scale nor a workspace to split
  GemmInt8Params<float> p = base();
  p.out_kind = GemmInt8Out::INT32;
  p.w_scale = nullptr;
  if (EMU_SM >= 80) {
    p.forced_kernel = 2;
    p.forced_splits = 3;
  }
  const std::string why = check_gemm_int8(p);
  if (!why.empty()) c.fail("INT32 %s refused: %s", EMU_SM >= 80 ? "split without workspace" : "output", why.c_str());
}

}  // namespace

int main(int argc, char** argv) {
  kt::init(argc, argv);
  emu::device().major = EMU_SM / 10;
  emu::device().minor = EMU_SM % 10;
  emu::device().sms = EMU_SM >= 80 ? 132 : 40;
  parameter_checks();

  const Shape shapes[] = {{1, 1, 1},    {3, 5, 7},     {1, 8, 512},   {17, 9, 33},  {64, 64, 32},
                          {65, 63, 48}, {100, 70, 96}, {33, 130, 160}, {130, 129, 64},
                          {72, 136, 784}};  // 7 warpgroup k-steps: stages are refilled
  const GemmInt8Out kinds[] = {GemmInt8Out::INT32, GemmInt8Out::FLOAT, GemmInt8Out::INT8,
                               GemmInt8Out::INT8_DEQUANTIZED};
  int serial = 0;
  for (const Shape& s : shapes) {
    const bool vec = s.k % 16 == 0;
    // (kernel, splits): automatic; simple; on sm_80+ with 16-byte rows the pipelined kernels
    std::vector<std::pair<int, int>> plans = {{-1, 1}, {0, 1}};
    if (EMU_SM >= 80 && vec) {
      plans.push_back({1, 1});
      plans.push_back({2, 1});
      plans.push_back({2, 2});
      if (s.k >= 96) plans.push_back({2, 3});
    }
    if (EMU_SM >= 90 && vec) {  // the warpgroup kernels (k-steps of 128): one step, several, split
      for (int wk : {3, 4}) {
        plans.push_back({wk, 1});
        if (s.k > 128) plans.push_back({wk, 2});
        if (s.k >= 384) plans.push_back({wk, 3});
      }
    }
    for (auto [kernel, splits] : plans) {
      for (GemmInt8Out kind : kinds) {
        ++serial;
        Variant v{kind, kernel, splits, serial % 2 == 0, serial % 3 != 0, serial % 4 < 2,
                  kind != GemmInt8Out::INT32 && serial % 5 < 2, false};
        if (serial % 7 == 3) gemm_case<float>(s, v); else gemm_case<__half>(s, v);
      }
    }
    // the same shape with A and B off 16-byte alignment: byte loads in the simple kernel
    Variant v{GemmInt8Out::FLOAT, -1, 1, true, true, true, true, true};
    gemm_case<__half>(s, v);
    v.kind = GemmInt8Out::INT32;
    gemm_case<float>(s, v);
  }
  std::string cov;
  for (auto& [k, n] : plans_seen()) cov += (cov.empty() ? "" : ", ") + k + " x" + std::to_string(n);
  for (auto& k : kt::kernels()) {
    if (k->name.find("parameter") == std::string::npos) k->coverage = std::string(kArch) + ": " + cov;
  }
  return kt::finish();
}
