// quantize.cu against quantize.cuh / ft4j.h: quantize_rows, dequantize_bias_act,
// dequantize_bias_residual_layernorm, in every mode (per-token / static, SmoothQuant or not,
// int32 / int8 accumulators, bias, GELU, out / qout / both, per-row / static input scale,
// dequantized outputs, out aliasing residual and deq_out aliasing input), FP32 and FP16.
#include "quantize.cu.cpp"
#include "ref.h"

using kt::Buf;
using kt::Type;
using kt::kU;
using namespace ft4j;

namespace {

constexpr int kCols[] = {1, 31, 32, 33, 384, 768, 1000, 3072, 4097, 12224};

std::string flags(std::initializer_list<std::pair<const char*, int>> kv) {
  std::string s;
  for (auto& p : kv) s += std::string(" ") + p.first + "=" + std::to_string(p.second);
  return s;
}

// Values beyond `beyond` (the static amax) of both signs, so that static quantization clamps.
void outliers(std::vector<double>& x, double beyond) {
  x[0] = 4.5 * beyond;
  if (x.size() > 2) x[x.size() / 2] = -4.5 * beyond;
}

Buf<int8_t> int8_out(size_t n, const char* name) {
  Buf<int8_t> b(n, name);
  memset(b.p, 0x80, n);  // -128: never a valid output
  return b;
}
Buf<float> nan_floats(size_t n, const char* name) {
  Buf<float> b(n, name);
  kt::fill_nan(b);
  return b;
}

// Checks one quantized row (qout, out_scale, a dequantized copy when deq != nullptr).
template <typename T>
void check_quantized(kt::Case& c, const ref::QuantRow& qr, const int8_t* q, const float* scale,
                     int r, const T* deq, const char* deq_name, const std::vector<double>& inv,
                     size_t at) {
  const size_t cols = qr.s.size();
  for (size_t i = 0; i < cols; ++i) {
    if (!c.int8("qout", at + i, q[at + i], qr.s[i], qr.window[i])) break;
  }
  if (scale) c.close("out_scale", r, scale[r], qr.amax / 127, ref::scale_tol(qr));
  if (deq) {
    for (size_t i = 0; i < cols; ++i) {
      const double iv = inv.empty() ? 1.0 : inv[i];
      const double want = ref::deq_ref(q[at + i], qr, iv);
      const double tol = ref::deq_tol(q[at + i], qr, iv);
      if (!c.close_t(deq_name, at + i, deq[at + i], want, tol)) break;
    }
  }
}

// ---- quantize_rows ---------------------------------------------------------------------------
template <typename T>
void quantize_rows_case(int rows, int cols, bool per_token, bool smooth, int deq_mode) {
  kt::Case c(kt::kernel("quantize_rows"),
             std::string(Type<T>::name) + flags({{"rows", rows}, {"cols", cols}, {"perTok", per_token},
                                                 {"smooth", smooth}, {"deq", deq_mode}}));
  const size_t n = (size_t)rows * cols;
  kt::Rng rng(n * 31 + per_token * 7 + smooth * 3 + deq_mode);
  const float amax = 9.f;
  std::vector<double> x = rng.vec(n, -5, 5);
  outliers(x, amax);
  if (rows > 1 && per_token) for (int i = 0; i < cols; ++i) x[(size_t)cols + i] = 0;  // zero row
  Buf<T> in = kt::upload<T>(x, "input", deq_mode != 2);
  std::vector<double> inv;
  Buf<float> inv_b;
  if (smooth) { inv = rng.vec(cols, 0.25, 4); inv_b = kt::upload_f(inv, "inv_smooth"); }
  Buf<int8_t> q = int8_out(n, "qout");
  Buf<float> scale = nan_floats(per_token ? rows : 0, "out_scale");
  Buf<T> deq_b;
  if (deq_mode == 1) { deq_b = Buf<T>(n, "deq_out"); kt::fill_nan(deq_b); }
  T* deq = deq_mode == 1 ? deq_b.p : (deq_mode == 2 ? in.p : nullptr);
  QuantizeRowsParams<T> p{q.p, per_token ? scale.p : nullptr, in.p, smooth ? inv_b.p : nullptr,
                          amax, deq, rows, cols};
  if (!kt::accepted(c, check_quantize_rows(p))) return;
  if (!kt::launched(c, launch_quantize_rows(p, nullptr))) return;
  for (int r = 0; r < rows; ++r) {
    std::vector<double> v(cols), dv(cols);
    for (int i = 0; i < cols; ++i) {
      v[i] = x[(size_t)r * cols + i] * (smooth ? inv[i] : 1.0);
      dv[i] = smooth ? kU * std::fabs(v[i]) : 0.0;  // fl(x * inv_smooth)
    }
    const ref::QuantRow qr = ref::quant_row(v, dv, per_token, amax);
    check_quantized<T>(c, qr, q.p, per_token ? scale.p : nullptr, r, deq, "deq_out", inv,
                       (size_t)r * cols);
  }
}

// ---- dequantize_bias_act -----------------------------------------------------------------------
template <typename T>
void dba_case(int rows, int cols, bool per_token, bool acc8, bool bias, bool gelu, bool out,
              bool qout, bool smooth, bool row_in) {
  kt::Case c(kt::kernel("dequantize_bias_act"),
             std::string(Type<T>::name) +
                 flags({{"rows", rows}, {"cols", cols}, {"perTok", per_token}, {"acc8", acc8},
                        {"bias", bias}, {"gelu", gelu}, {"out", out}, {"qout", qout},
                        {"smooth", smooth}, {"rowIn", row_in}}));
  const size_t n = (size_t)rows * cols;
  kt::Rng rng(n * 17 + per_token + 2 * acc8 + 4 * bias + 8 * gelu + 16 * out + 32 * qout + 64 * smooth);
  // acc in float is exact (|acc| < 2^24). int32: y within about +-1.2 (static amax 1: clamps);
  // int8 (mode 2): the GEMM's int8 output times its step, y within about +-7.4 (amax 6: clamps),
  // GELU far into its negative tail where the erfc form matters.
  std::vector<int> acc(n);
  for (auto& a : acc) a = acc8 ? rng.integer(-127, 127) : rng.integer(-40000, 40000);
  if (rows > 1 && !bias) for (int i = 0; i < cols; ++i) acc[(size_t)cols + i] = 0;  // y = 0 row
  Buf<int32_t> acc32;
  Buf<int8_t> acc8b;
  if (acc8) { acc8b = Buf<int8_t>(n, "acc8"); for (size_t i = 0; i < n; ++i) acc8b[i] = (int8_t)acc[i]; acc8b.readonly(); }
  else { acc32 = Buf<int32_t>(n, "acc"); for (size_t i = 0; i < n; ++i) acc32[i] = acc[i]; acc32.readonly(); }
  std::vector<double> a = acc8 ? std::vector<double>(rows, 1.0) : rng.vec(rows, 1e-3, 4e-3);
  Buf<float> a_b = kt::upload_f(a, "in_scale");
  const float a_static = acc8 ? 1.f : 2.5e-3f;
  std::vector<double> w = acc8 ? rng.vec(cols, 0.01, 0.05) : rng.vec(cols, 2e-4, 1e-3);
  Buf<float> w_b = kt::upload_f(w, "w_scale");
  std::vector<double> b = rng.vec(cols, -1, 1);
  Buf<T> b_b = kt::upload<T>(b, "bias");
  std::vector<double> inv = rng.vec(cols, 0.25, 4);
  Buf<float> inv_b = kt::upload_f(inv, "inv_smooth");
  Buf<T> o_b;
  if (out) { o_b = Buf<T>(n, "out"); kt::fill_nan(o_b); }
  Buf<int8_t> q = int8_out(qout ? n : 0, "qout");
  Buf<float> scale = nan_floats(per_token ? rows : 0, "qout_scale");
  const float amax = acc8 ? 6.f : 1.f;
  DequantizeBiasActParams<T> p{out ? o_b.p : nullptr, qout ? q.p : nullptr,
                               per_token ? scale.p : nullptr, acc8 ? nullptr : acc32.p,
                               acc8 ? acc8b.p : nullptr, row_in ? a_b.p : nullptr, a_static,
                               w_b.p, bias ? b_b.p : nullptr, smooth ? inv_b.p : nullptr, amax,
                               gelu ? 1 : 0, rows, cols};
  if (!kt::accepted(c, check_dequantize_bias_act(p))) return;
  if (!kt::launched(c, launch_dequantize_bias_act(p, nullptr))) return;
  const std::vector<double> no_inv;
  for (int r = 0; r < rows; ++r) {
    const double ar = row_in ? a[r] : (double)a_static;
    std::vector<double> v(cols), dv(cols);
    bool ok = true;
    for (int i = 0; i < cols; ++i) {
      const size_t at = (size_t)r * cols + i;
      // fl(fl(acc * a) * w) (+ bias): 2u of the product, u of the sum
      const double prod = acc[at] * ar * w[i];
      double y = prod + (bias ? b[i] : 0.0);
      double dy = 2.0001 * kU * std::fabs(prod) + (bias ? 1.0001 * kU * std::fabs(y) : 0.0);
      if (gelu) { dy = ref::gelu_tol(y, dy); y = ref::gelu(y); }
      if (out && ok) {
        ok = c.close_t("out", at, o_b[at], y, dy);
      }
      v[i] = y * (smooth ? inv[i] : 1.0);
      dv[i] = smooth ? (dy + kU * std::fabs(y)) * inv[i] : dy;
    }
    if (qout) {
      const ref::QuantRow qr = ref::quant_row(v, dv, per_token, amax);
      check_quantized<T>(c, qr, q.p, per_token ? scale.p : nullptr, r, (const T*)nullptr, "", no_inv,
                         (size_t)r * cols);
    }
  }
}

// ---- dequantize_bias_residual_layernorm -------------------------------------------------------
template <typename T>
void dbrln_case(int rows, int cols, bool per_token, bool acc8, bool bias, bool qout, bool smooth,
                bool row_in, bool out_dq, bool alias) {
  kt::Case c(kt::kernel("dequantize_bias_residual_layernorm"),
             std::string(Type<T>::name) +
                 flags({{"rows", rows}, {"cols", cols}, {"perTok", per_token}, {"acc8", acc8},
                        {"bias", bias}, {"qout", qout}, {"smooth", smooth}, {"rowIn", row_in},
                        {"outDq", out_dq}, {"aliasResidual", alias}}));
  const size_t n = (size_t)rows * cols;
  kt::Rng rng(n * 13 + per_token + 2 * acc8 + 4 * bias + 8 * qout + 16 * smooth + 32 * out_dq + 64 * alias);
  std::vector<int> acc(n);
  for (auto& a : acc) a = acc8 ? rng.integer(-127, 127) : rng.integer(-40000, 40000);
  Buf<int32_t> acc32;
  Buf<int8_t> acc8b;
  if (acc8) { acc8b = Buf<int8_t>(n, "acc8"); for (size_t i = 0; i < n; ++i) acc8b[i] = (int8_t)acc[i]; acc8b.readonly(); }
  else { acc32 = Buf<int32_t>(n, "acc"); for (size_t i = 0; i < n; ++i) acc32[i] = acc[i]; acc32.readonly(); }
  std::vector<double> a = rng.vec(rows, 1e-3, 4e-3);
  Buf<float> a_b = kt::upload_f(a, "in_scale");
  const float a_static = 2.5e-3f;
  std::vector<double> w = acc8 ? rng.vec(cols, 1e-3, 5e-3) : rng.vec(cols, 2e-4, 1e-3);
  Buf<float> w_b = kt::upload_f(w, "w_scale");
  std::vector<double> b = rng.vec(cols, -1, 1), res = rng.vec(n, -3, 3);
  std::vector<double> g = rng.vec(cols, 0.5, 1.5), beta = rng.vec(cols, -0.5, 0.5);
  Buf<T> b_b = kt::upload<T>(b, "bias"), res_b = kt::upload<T>(res, "residual", !alias);
  Buf<T> g_b = kt::upload<T>(g, "gamma"), beta_b = kt::upload<T>(beta, "beta");
  std::vector<double> inv = rng.vec(cols, 0.25, 4);
  Buf<float> inv_b = kt::upload_f(inv, "inv_smooth");
  Buf<T> o_b;
  if (!alias) { o_b = Buf<T>(n, "out"); kt::fill_nan(o_b); }
  T* out = alias ? res_b.p : o_b.p;
  Buf<int8_t> q = int8_out(qout ? n : 0, "qout");
  Buf<float> scale = nan_floats(per_token ? rows : 0, "qout_scale");
  const float amax = 4.f, eps = 1e-5f;
  DequantizeBiasResidualLayernormParams<T> p{
      out, qout ? q.p : nullptr, per_token ? scale.p : nullptr, acc8 ? nullptr : acc32.p,
      acc8 ? acc8b.p : nullptr, row_in ? a_b.p : nullptr, a_static, w_b.p,
      bias ? b_b.p : nullptr, res_b.p, g_b.p, beta_b.p, smooth ? inv_b.p : nullptr, amax, eps,
      out_dq ? 1 : 0, rows, cols};
  if (!kt::accepted(c, check_dequantize_bias_residual_layernorm(p))) return;
  if (!kt::launched(c, launch_dequantize_bias_residual_layernorm(p, nullptr))) return;
  const int n_pack = launch_width(p);  // 8 (packed accesses) or 1
  const int dep = ref::depth(cols, threads_for(cols, n_pack), n_pack);
  for (int r = 0; r < rows; ++r) {
    const double ar = row_in ? a[r] : (double)a_static;
    std::vector<double> x(cols), dx(cols);
    for (int i = 0; i < cols; ++i) {
      const size_t at = (size_t)r * cols + i;
      // fl(fl(fl(acc * a) * w) + res) (+ bias)
      const double prod = acc[at] * ar * w[i];
      x[i] = prod + res[at] + (bias ? b[i] : 0.0);
      dx[i] = 1.0001 * kU * (2 * std::fabs(prod) + std::fabs(prod) + std::fabs(res[at]) +
                             (bias ? std::fabs(prod) + std::fabs(res[at]) + std::fabs(b[i]) : 0.0));
    }
    const ref::LnRow ln = ref::layernorm(x, dx, g.data(), beta.data(), eps, dep);
    if (!out_dq) {
      for (int i = 0; i < cols; ++i) {
        const size_t at = (size_t)r * cols + i;
        if (!c.close_t("out", at, out[at], ln.y[i], ln.tol[i])) break;
      }
    }
    if (qout) {
      std::vector<double> v(cols), dv(cols);
      for (int i = 0; i < cols; ++i) {
        v[i] = ln.y[i] * (smooth ? inv[i] : 1.0);
        dv[i] = smooth ? (ln.tol[i] + kU * std::fabs(ln.y[i])) * inv[i] : ln.tol[i];
      }
      const ref::QuantRow qr = ref::quant_row(v, dv, per_token, amax);
      const std::vector<double> no_inv;
      check_quantized<T>(c, qr, q.p, per_token ? scale.p : nullptr, r,
                         out_dq ? (const T*)out : nullptr, "out(dequantized)",
                         smooth ? inv : no_inv, (size_t)r * cols);
    }
  }
}

// ---- parameter checks ---------------------------------------------------------------------------
void rejections() {
  kt::Case c(kt::kernel("quantize parameter checks"), "cols above kMaxQuantizeCols, bad scales");
  int8_t* q = reinterpret_cast<int8_t*>(16);
  const float* f = reinterpret_cast<const float*>(16);
  float* fo = reinterpret_cast<float*>(16);
  const int32_t* acc = reinterpret_cast<const int32_t*>(16);
  for (int cols : {12225, 12288}) {
    QuantizeRowsParams<float> p{q, fo, f, nullptr, 1.f, nullptr, 2, cols};
    if (check_quantize_rows(p).empty()) c.fail("quantize_rows accepts cols = %d", cols);
    DequantizeBiasActParams<float> d{fo, nullptr, nullptr, acc, nullptr, nullptr, 1.f, f, nullptr,
                                     nullptr, 1.f, 0, 2, cols};
    if (check_dequantize_bias_act(d).empty()) c.fail("dequantize_bias_act accepts cols = %d", cols);
  }
  QuantizeRowsParams<float> ok{q, fo, f, nullptr, 1.f, nullptr, 2, kMaxQuantizeCols};
  if (!check_quantize_rows(ok).empty()) c.fail("quantize_rows rejects cols = kMaxQuantizeCols");
  QuantizeRowsParams<float> st{q, nullptr, f, nullptr, 0.f, nullptr, 2, 8};
  if (check_quantize_rows(st).empty()) c.fail("static quantization accepts static_amax = 0");
  DequantizeBiasActParams<float> both{fo, nullptr, nullptr, acc, q, nullptr, 1.f, f, nullptr,
                                      nullptr, 1.f, 0, 2, 8};
  if (check_dequantize_bias_act(both).empty()) c.fail("acc and acc8 both given: accepted");
  DequantizeBiasResidualLayernormParams<float> dq{fo, nullptr, nullptr, acc, nullptr, nullptr, 1.f,
                                                  f, nullptr, f, f, f, nullptr, 1.f, 1e-5f, 1, 2, 8};
  if (check_dequantize_bias_residual_layernorm(dq).empty()) c.fail("out_dequantized without qout: accepted");
}

}  // namespace

int main(int argc, char** argv) {
  kt::init(argc, argv);
  rejections();
  for (int cols : kCols) {
    const int rows = cols == 1 ? 5 : 3;  // > the emulator's grid caps (2, 3): rows stride
    int k = 0;
    for (int pt : {0, 1}) for (int sm : {0, 1}) for (int dq : {0, 1, 2}) {
      quantize_rows_case<float>(rows, cols, pt, sm, dq);
      quantize_rows_case<__half>(rows, cols, pt, sm, dq);
      ++k;
    }
    k = 0;
    for (int pt : {0, 1}) for (int a8 : {0, 1}) for (int gelu : {0, 1}) for (int oq : {1, 2, 3}) {
      const bool bias = (k % 3) != 2, smooth = (k / 2) % 2, row_in = (k % 4) < 2;
      dba_case<float>(rows, cols, pt, a8, bias, gelu, oq & 1, oq & 2, smooth, row_in);
      dba_case<__half>(rows, cols, pt, a8, bias, gelu, oq & 1, oq & 2, smooth, row_in);
      ++k;
    }
    k = 0;
    for (int pt : {0, 1}) for (int a8 : {0, 1}) for (int qo : {0, 1}) for (int odq : {0, 1}) for (int al : {0, 1}) {
      if (odq && !qo) continue;
      const bool bias = (k % 3) != 2, smooth = (k / 2) % 2, row_in = (k % 4) < 2;
      dbrln_case<float>(rows, cols, pt, a8, bias, qo, smooth, row_in, odq, al);
      dbrln_case<__half>(rows, cols, pt, a8, bias, qo, smooth, row_in, odq, al);
      ++k;
    }
  }
  kt::kernel("quantize_rows").coverage = "cols 1..12224, perTok/static x smooth x deq none/own/alias";
  kt::kernel("dequantize_bias_act").coverage = "int32/int8 acc, bias, GELU, out/qout/both, smooth, rowIn";
  kt::kernel("dequantize_bias_residual_layernorm").coverage = "qout, outDq, out=residual, smooth, rowIn";
  return kt::finish();
}
