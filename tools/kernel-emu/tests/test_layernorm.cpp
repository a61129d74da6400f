// layernorm.cu against layernorm.cuh / ft4j.h: add_bias_residual_layernorm, FP32 and FP16, with
// and without bias, out separate / aliasing input / aliasing residual, through the public launch
// (16-byte packs where aligned, the shared-memory row up to kRowSharedBytes) and with the scalar
// and re-reading (uncached) variants forced, at widths around the shared-memory limit.
#include "layernorm.cu.cpp"
#include "ref.h"

using kt::Buf;
using kt::Type;
using kt::kU;
using namespace ft4j;

namespace {

// Which kernel variant runs: the public entry point, the scalar one (N = 1) through the same
// launch code, or the variant that re-reads x from global memory (otherwise used above 12224).
enum Path { kPublic, kScalar, kUncached };
const char* path_name(Path p) { return p == kPublic ? "public" : (p == kScalar ? "scalar" : "uncached"); }

template <typename T, int N>
cudaError_t launch_uncached(const AddBiasResidualLayernormParams<T>& p) {
  const int threads = row_block_threads(p.cols / N, 2, 512);
  add_bias_residual_layernorm_kernel<T, N, false><<<row_blocks(p.rows), threads, 0, nullptr>>>(p);
  return cudaGetLastError();
}

template <typename T>
void ln_case(int rows, int cols, bool bias, int alias /*0 none, 1 input, 2 residual*/, Path path) {
  kt::Case c(kt::kernel("add_bias_residual_layernorm"),
             std::string(Type<T>::name) + " rows=" + std::to_string(rows) + " cols=" +
                 std::to_string(cols) + " bias=" + std::to_string(bias) + " alias=" +
                 (alias == 0 ? "none" : (alias == 1 ? "input" : "residual")) + " path=" + path_name(path));
  const size_t n = (size_t)rows * cols;
  kt::Rng rng(n * 5 + bias + 2 * alias + 8 * path);
  std::vector<double> in = rng.vec(n, -2, 2), res = rng.vec(n, -2, 2), b = rng.vec(cols, -1, 1);
  std::vector<double> g = rng.vec(cols, 0.5, 1.5), beta = rng.vec(cols, -0.5, 0.5);
  for (int i = 0; i < cols; i += 7) in[i] += 3;  // a row mean away from 0
  Buf<T> in_b = kt::upload<T>(in, "input", alias != 1), res_b = kt::upload<T>(res, "residual", alias != 2);
  Buf<T> b_b = kt::upload<T>(b, "bias"), g_b = kt::upload<T>(g, "gamma"), beta_b = kt::upload<T>(beta, "beta");
  Buf<T> o_b;
  if (alias == 0) { o_b = Buf<T>(n, "out"); kt::fill_nan(o_b); }
  T* out = alias == 0 ? o_b.p : (alias == 1 ? in_b.p : res_b.p);
  const float eps = 1e-12f;
  AddBiasResidualLayernormParams<T> p{out, in_b.p, bias ? b_b.p : nullptr, res_b.p, g_b.p, beta_b.p,
                                      eps, rows, cols};
  if (!kt::accepted(c, check_add_bias_residual_layernorm(p))) return;
  constexpr int kWide = 16 / sizeof(T);
  const bool wide = path == kPublic && cols % kWide == 0 && kt::is_aligned16(out) &&
                    kt::is_aligned16(in_b.p) && kt::is_aligned16(res_b.p) && kt::is_aligned16(g_b.p) &&
                    kt::is_aligned16(beta_b.p) && (!bias || kt::is_aligned16(b_b.p));
  cudaError_t e = path == kPublic ? launch_add_bias_residual_layernorm(p, nullptr)
                  : path == kScalar ? launch<T, 1>(p, nullptr)
                                    : launch_uncached<T, 1>(p);
  if (!kt::launched(c, e)) return;
  const int per = wide ? kWide : 1;
  const int dep = ref::depth(cols, row_block_threads(cols / per, 2, 512), per);
  for (int r = 0; r < rows; ++r) {
    std::vector<double> x(cols), dx(cols);
    for (int i = 0; i < cols; ++i) {
      const size_t at = (size_t)r * cols + i;
      const double s = in[at] + res[at];
      x[i] = s + (bias ? b[i] : 0.0);
      dx[i] = 1.0001 * kU * (std::fabs(s) + (bias ? std::fabs(x[i]) : 0.0));  // fl(fl(in + res) + b)
    }
    const ref::LnRow ln = ref::layernorm(x, dx, g.data(), beta.data(), eps, dep);
    for (int i = 0; i < cols; ++i) {
      const size_t at = (size_t)r * cols + i;
      if (!c.close_t("out", at, out[at], ln.y[i], ln.tol[i])) break;
    }
  }
}

// The cached kernel launched by hand with a row of `cols` floats of dynamic shared memory beside
// its 33-float static scratch: must run up to 12252 columns and fail (changing nothing) above,
// as on the GPU. The launch code itself switches to the uncached kernel above kRowSharedBytes.
void shared_limit_case(int cols) {
  kt::Case c(kt::kernel("layernorm shared-memory limit"), "cached kernel forced, cols=" + std::to_string(cols));
  const int rows = 1;
  std::vector<double> v(cols, 1.0);
  Buf<float> in = kt::upload_f(v, "input"), res = kt::upload_f(v, "residual"), g = kt::upload_f(v, "gamma"),
             beta = kt::upload_f(v, "beta");
  Buf<float> out(cols, "out");
  kt::fill_nan(out);
  AddBiasResidualLayernormParams<float> p{out.p, in.p, nullptr, res.p, g.p, beta.p, 1e-5f, rows, cols};
  add_bias_residual_layernorm_kernel<float, 1, true>
      <<<1, row_block_threads(cols, 2, 512), sizeof(float) * cols, nullptr>>>(p);
  const cudaError_t e = cudaGetLastError();
  const bool fits = cols * 4 + 144 <= 48 * 1024;
  if (fits && e != cudaSuccess) c.fail("launch failed (%d) although it fits", (int)e);
  if (!fits && e != cudaErrorInvalidValue) c.fail("launch returned %d, expected cudaErrorInvalidValue", (int)e);
  if (!fits && !std::isnan(out[0])) c.fail("a failed launch wrote its output");
  if (fits) c.exact("out", 0, out[0], 1.0);  // constant row: (x - mean) = 0, beta = 1
  if ((size_t)cols * 4 <= kRowSharedBytes && !fits) c.fail("kRowSharedBytes admits a row that does not fit");
}

}  // namespace

int main(int argc, char** argv) {
  kt::init(argc, argv);
  const int cols_list[] = {1, 31, 32, 33, 384, 1000, 1024, 3072, 4097, 12224, 12225, 12252, 12253, 12288};
  for (int cols : cols_list) {
    const int rows = 3;  // > the emulator's grid caps (2, 3): rows stride
    int k = 0;
    for (int alias : {0, 1, 2}) for (int bias : {1, 0}) {
      const Path path = k % 3 == 0 ? kPublic : (k % 3 == 1 ? kScalar : kPublic);
      ln_case<float>(rows, cols, bias, alias, path);
      ln_case<__half>(rows, cols, bias, alias, path);
      ++k;
    }
    if (cols <= 4097) {  // the re-reading variant at small widths too
      ln_case<float>(rows, cols, true, 0, kUncached);
      ln_case<__half>(rows, cols, false, 2, kUncached);
    }
  }
  for (int cols : {12224, 12252, 12253, 12288}) shared_limit_case(cols);
  kt::kernel("add_bias_residual_layernorm").coverage =
      "cols 1..12288, bias, out=input/residual, packed/scalar/uncached";
  return kt::finish();
}
