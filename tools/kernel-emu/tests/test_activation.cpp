// activation.cu against activation.cuh / ft4j.h: add_bias_gelu in place, FP32 and FP16, packed and
// scalar variants, inputs from the far negative tail (where 1 + erf cancels) to large positive.
#include "activation.cu.cpp"
#include "ref.h"

using kt::Buf;
using kt::Type;
using kt::kU;
using namespace ft4j;

namespace {

template <typename T>
void gelu_case(int rows, int cols, bool force_scalar) {
  kt::Case c(kt::kernel("add_bias_gelu"), std::string(Type<T>::name) + " rows=" + std::to_string(rows) +
                                              " cols=" + std::to_string(cols) +
                                              (force_scalar ? " path=scalar" : " path=public"));
  const size_t n = (size_t)rows * cols;
  kt::Rng rng(n * 3 + force_scalar);
  std::vector<double> d = rng.vec(n, -8, 8), b = rng.vec(cols, -1, 1);
  const double special[] = {-12, -9.5, -6, -3, -1e-3, 0, 1e-3, 3, 9.5, 20};
  for (size_t i = 0; i < n && i < 10; ++i) d[i * 7 % n] = special[i];
  Buf<T> data = kt::upload<T>(d, "data", false), bias = kt::upload<T>(b, "bias");
  AddBiasGeluParams<T> p{data.p, bias.p, rows, cols};
  if (!kt::accepted(c, check_add_bias_gelu(p))) return;
  if (!kt::launched(c, force_scalar ? launch<T, 1>(p, nullptr) : launch_add_bias_gelu(p, nullptr))) return;
  for (size_t i = 0; i < n; ++i) {
    const double x = d[i] + b[i % cols];
    const double tol = ref::gelu_tol(x, kU * std::fabs(x));  // x = fl(data + bias)
    if (!c.close_t("data", i, data[i], ref::gelu(x), tol)) break;
  }
}

}  // namespace

int main(int argc, char** argv) {
  kt::init(argc, argv);
  for (int cols : {1, 31, 32, 33, 384, 1000, 3072, 4096, 12288}) {
    for (int rows : {1, 4}) {
      gelu_case<float>(rows, cols, false);
      gelu_case<__half>(rows, cols, false);
      gelu_case<float>(rows, cols, true);
      gelu_case<__half>(rows, cols, true);
    }
  }
  kt::kernel("add_bias_gelu").coverage = "cols 1..12288, packed/scalar, x in [-13, 21]";
  return kt::finish();
}
