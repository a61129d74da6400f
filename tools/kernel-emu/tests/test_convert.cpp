// convert.cu against convert.cuh / ft4j.h: dst[i] = (Dst) src[i] for the four FP32/FP16 pairs;
// FP32 -> FP16 rounds to nearest even, beyond the FP16 range to +-Inf, NaN stays NaN. Exact.
#include "convert.cu.cpp"
#include "ref.h"

using kt::Buf;
using kt::Type;
using namespace ft4j;

namespace {

// Independent FP16 rounding of a double: round to nearest even at the binade's spacing.
double round_half(double x) {
  if (std::isnan(x) || std::isinf(x)) return x;
  const double a = std::fabs(x);
  if (a >= 65520.0) return std::copysign(INFINITY, x);  // 65504 + half an ulp (32) rounds up
  int e;
  std::frexp(a, &e);  // a in [2^(e-1), 2^e)
  const double spacing = a < 6.103515625e-05 ? std::ldexp(1.0, -24) : std::ldexp(1.0, e - 11);
  return std::copysign(std::nearbyint(a / spacing) * spacing, x);
}

template <typename D, typename S>
void convert_case(size_t count) {
  kt::Case c(kt::kernel("convert"), std::string(Type<S>::name) + "->" + Type<D>::name + " count=" +
                                        std::to_string(count));
  kt::Rng rng(count * 3 + sizeof(D) + 2 * sizeof(S));
  std::vector<double> v(count);
  for (auto& x : v) x = rng.uni(-3, 3) * std::ldexp(1.0, rng.integer(-30, 17));
  const double special[] = {0.0, -0.0, 65504.0, 65519.99, 65520.0, -70000.0, 1e-8, 6e-8,
                            2.98023224e-08, 1.0 + 1.0 / 2048, NAN, INFINITY};
  for (size_t i = 0; i < count && i < 12; ++i) v[i * 5 % count] = special[i];
  Buf<S> src = kt::upload<S>(v, "src");  // v: the stored source values
  Buf<D> dst(count, "dst");
  kt::fill_nan(dst);
  if (std::is_same<D, __half>::value) for (size_t i = 0; i < count; ++i) dst[i] = Type<D>::from_f(12345.f);
  ConvertParams<D, S> p{dst.p, src.p, count};
  if (!kt::accepted(c, check_convert(p))) return;
  if (!kt::launched(c, launch_convert(p, nullptr))) return;
  for (size_t i = 0; i < count; ++i) {
    const double want = std::is_same<D, __half>::value ? round_half(v[i]) : v[i];
    const double got = Type<D>::to_d(dst[i]);
    if (!c.exact("dst", i, got, want)) break;
    if (want == 0 && std::signbit(got) != std::signbit(want)) { c.fail("dst[%zu]: sign of zero lost", i); break; }
  }
}

}  // namespace

int main(int argc, char** argv) {
  kt::init(argc, argv);
  for (size_t count : {1, 255, 256, 257, 1000, 100003}) {
    convert_case<__half, float>(count);
    convert_case<float, __half>(count);
    convert_case<float, float>(count);
    convert_case<__half, __half>(count);
  }
  kt::kernel("convert").coverage = "FP32/FP16 pairs, count 1..100003, rounding ties, overflow, NaN";
  return kt::finish();
}
