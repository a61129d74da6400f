// Double-precision references of the documented kernel semantics, each with the bound of the
// kernel's float arithmetic derived from the error model in testlib.h (u = 2^-24 per rounding).
#pragma once

#include <cmath>
#include <vector>

#include "testlib.h"

namespace ref {

using kt::kU;

// Summation depth of a block reduction over n terms with `threads` threads: the per-thread
// sequential part (ceil(n / threads) - 1 additions, `per_load` terms per load for packed loads)
// plus 5 warp-shuffle levels plus 5 levels across the warps (testlib.h).
inline int depth(long n, int threads, int per_load = 1) {
  const long loads = (n / per_load + threads - 1) / threads;
  return (int)(loads * per_load) + 10;
}

// ---- layer normalisation -------------------------------------------------------------------
// y = (x - mean) / sqrt(var + eps) * g + b over one row (biased variance), where the kernel's
// float x[i] is known to lie within dx[i] of the exact x[i]. tol[i] bounds |y_float - y|:
//   mean: error of the inputs, of the depth-`dep` sum and of the multiplication by fl(1/n);
//   d = x - mean: dd = dx + dmean + u|d|;
//   var: relative error from the d errors (2|d|dd / sum d^2), the sum, the scaling and + eps;
//   rstd = 1/sqrtf(var + eps): half of that, plus 2u; y: three more roundings.
struct LnRow {
  std::vector<double> y, tol;
  double mean = 0, rstd = 0;
};
inline LnRow layernorm(const std::vector<double>& x, const std::vector<double>& dx,
                       const double* g, const double* b, double eps, int dep) {
  const size_t n = x.size();
  LnRow r;
  r.y.resize(n);
  r.tol.resize(n);
  double sum = 0, sum_abs = 0, sum_dx = 0;
  for (size_t i = 0; i < n; ++i) { sum += x[i]; sum_abs += std::fabs(x[i]); sum_dx += dx[i]; }
  const double mean = sum / n;
  double s2 = 0;
  for (size_t i = 0; i < n; ++i) s2 += (x[i] - mean) * (x[i] - mean);
  const double var = s2 / n;
  const double rstd = 1.0 / std::sqrt(var + eps);
  r.mean = mean;
  r.rstd = rstd;
  if (n == 1) {  // x - mean is exactly 0 in float too (mean = x * 1.0f): y = b exactly
    r.y[0] = b[0];
    r.tol[0] = 0;
    return r;
  }
  const double dmean = (sum_dx + dep * kU * sum_abs) / n + 2 * kU * std::fabs(mean);
  double var_err = 0;  // absolute error bound of the float sum of squares
  for (size_t i = 0; i < n; ++i) {
    const double d = x[i] - mean;
    const double dd = dx[i] + dmean + kU * std::fabs(d);
    var_err += 2 * std::fabs(d) * dd + dd * dd;
  }
  var_err += (dep + 1) * kU * s2;                              // the sum, the squares
  const double ve = var_err / n + 2 * kU * var + kU * (var + eps);  // scaling by fl(1/n), + eps
  const double rel_rstd = 0.5 * ve / (var + eps) + 2 * kU;
  for (size_t i = 0; i < n; ++i) {
    const double d = x[i] - mean;
    const double dd = dx[i] + dmean + kU * std::fabs(d);
    const double y = d * rstd * g[i] + b[i];
    r.y[i] = y;
    r.tol[i] = rstd * std::fabs(g[i]) * dd + std::fabs(d * rstd * g[i]) * (rel_rstd + 2 * kU) +
               kU * (std::fabs(y) + std::fabs(b[i]));
  }
  return r;
}

// ---- GELU ------------------------------------------------------------------------------------
inline double gelu(double x) { return 0.5 * x * std::erfc(-x / std::sqrt(2.0)); }
// Bound of |gelu_erf(x_f) - gelu(x)| for a float x_f within dx of x, gelu_erf(x) =
// 0.5f * x * erfcf(-x * 0.70710678f): the propagated input error |gelu'(x)| dx, the rounding of
// the erfc argument (2u relative: the constant and the product) times |d gelu / dz|, and 6u of
// the result for erfcf itself (<= 4 ulp on the GPU, ~1 in glibc) and the products.
inline double gelu_tol(double x, double dx) {
  const double z = x / std::sqrt(2.0);
  const double gp = 0.5 * std::erfc(-z) + x * std::exp(-0.5 * x * x) / std::sqrt(2 * M_PI);
  const double dgdz = 0.5 * std::fabs(x) * 2 / std::sqrt(M_PI) * std::exp(-z * z);
  return std::fabs(gp) * dx + dgdz * 2 * kU * std::fabs(z) + 6 * kU * std::fabs(gelu(x)) + 1e-40;
}

// ---- int8 quantization ---------------------------------------------------------------------------
// One row's quantization: v (exact) with float errors dv, per token (amax = max |v|, 1 for a row
// of zeros) or static. window[i]: how close the exact s = v * 127 / amax may be to a rounding
// boundary before the kernel's float s can fall on the other side (its error: dv * 127 / amax,
// the amax error relative to amax, and 2u for fl(127 / amax) and the product).
struct QuantRow {
  double amax = 0, amax_err = 0;
  std::vector<double> s, window;
};
inline QuantRow quant_row(const std::vector<double>& v, const std::vector<double>& dv,
                          bool per_token, double static_amax) {
  QuantRow q;
  q.amax = static_amax;
  if (per_token) {
    double m = 0, e = 0;
    for (size_t i = 0; i < v.size(); ++i) {
      m = std::max(m, std::fabs(v[i]));
      e = std::max(e, dv[i]);
    }
    q.amax = m > 0 ? m : 1.0;
    q.amax_err = m > 0 ? e : 0.0;
  }
  q.s.resize(v.size());
  q.window.resize(v.size());
  for (size_t i = 0; i < v.size(); ++i) {
    const double s = v[i] * 127 / q.amax;
    q.s[i] = s;
    q.window[i] = dv[i] * 127 / q.amax + std::fabs(s) * q.amax_err / q.amax +
                  2 * kU * std::fabs(s) + 1e-12;
  }
  return q;
}
// out_scale[r] = fl(fl(amax) / 127): the amax error plus one rounding.
inline double scale_tol(const QuantRow& q) { return q.amax_err / 127 + 1.01 * kU * q.amax / 127; }
// Dequantized value q * step / inv_smooth for the kernel's q: fl(amax / 127), the product and
// the division (3u), and the amax error.
inline double deq_ref(int qv, const QuantRow& q, double inv) { return qv * (q.amax / 127) / inv; }
inline double deq_tol(int qv, const QuantRow& q, double inv) {
  return std::fabs(deq_ref(qv, q, inv)) * (3.03 * kU + q.amax_err / q.amax);
}

}  // namespace ref
