// pooling.cu against pooling.cuh / ft4j.h: pool_rows, CLS or mean over each sequence's first
// len_b rows (len_b clamped to [1, seq]; NaN padding rows behind it must not be read), with or
// without L2 normalisation (a zero vector stays zero), FP32 and FP16 states.
#include "pooling.cu.cpp"
#include "ref.h"

using kt::Buf;
using kt::Type;
using kt::kU;
using namespace ft4j;

namespace {

// fp32-tiny / fp32-huge: magnitudes whose squares leave the float range (the kernel normalises
// v / max|v| since 2026-11-27; before, such vectors came back unnormalised or zeroed).
template <typename T>
void pool_case(int batch, int seq, int hidden, int mean, int norm, const std::vector<int>& lens,
               double lo, double hi, const char* tag, bool known_issue = false) {
  std::string lens_s;
  for (int l : lens) lens_s += (lens_s.empty() ? "" : ",") + std::to_string(l);
  kt::Case c(kt::kernel("pool_rows"),
             std::string(Type<T>::name) + " " + tag + " batch=" + std::to_string(batch) + " seq=" +
                 std::to_string(seq) + " hidden=" + std::to_string(hidden) + " mean=" + std::to_string(mean) +
                 " norm=" + std::to_string(norm) + " lens=" + lens_s,
             known_issue);
  const size_t n = (size_t)batch * seq * hidden;
  kt::Rng rng(n + 7 * mean + 3 * norm + (size_t)(lo * 1000));
  std::vector<double> st(n);
  for (int b = 0; b < batch; ++b) {
    const int len = std::min(std::max(lens[b], 1), seq);
    for (int r = 0; r < seq; ++r)
      for (int i = 0; i < hidden; ++i)
        st[((size_t)b * seq + r) * hidden + i] = r < len ? rng.uni(lo, hi) : NAN;  // padding: NaN
  }
  Buf<T> st_b = kt::upload<T>(st, "states");
  Buf<int> len_b(batch, "lengths");
  for (int b = 0; b < batch; ++b) len_b[b] = lens[b];
  len_b.readonly();
  Buf<float> out(batch * (size_t)hidden, "out");
  kt::fill_nan(out);
  PoolRowsParams<T> p{out.p, st_b.p, len_b.p, batch, seq, hidden, mean, norm};
  if (!kt::accepted(c, check_pool_rows(p))) return;
  if (!kt::launched(c, launch_pool_rows(p, nullptr))) return;
  const int dep = ref::depth(hidden, row_block_threads(hidden, 1, 256));
  for (int b = 0; b < batch; ++b) {
    const int len = std::min(std::max(lens[b], 1), seq);
    const int rows = mean ? len : 1;
    // v = fl(sum * fl(1 / rows)): the sequential column sum over rows, two roundings more
    std::vector<double> v(hidden, 0.0), dv(hidden);
    for (int i = 0; i < hidden; ++i) {
      double s = 0, sa = 0;
      for (int r = 0; r < rows; ++r) {
        const double x = st[((size_t)b * seq + r) * hidden + i];
        s += x;
        sa += std::fabs(x);
      }
      v[i] = s / rows;
      dv[i] = (rows - 1) * kU * sa / rows + 2 * kU * std::fabs(v[i]);
    }
    std::vector<double> want = v, tol = dv;
    if (norm) {
      // out = fl(v * fl(1 / sqrtf(sum of v^2))): the errors of v, of the depth-`dep` sum of the
      // squares, then sqrtf, the division and the product
      double n2 = 0, e2 = 0;
      for (int i = 0; i < hidden; ++i) { n2 += v[i] * v[i]; e2 += 2 * std::fabs(v[i]) * dv[i] + dv[i] * dv[i]; }
      if (n2 > 0) {
        const double nn = std::sqrt(n2);
        const double rel = 0.5 * (e2 / n2 + (dep + 1) * kU) + 3 * kU;
        for (int i = 0; i < hidden; ++i) {
          want[i] = v[i] / nn;
          tol[i] = std::fabs(want[i]) * rel + dv[i] / nn;
        }
      }
    }
    for (int i = 0; i < hidden; ++i) {
      if (!c.close("out", (size_t)b * hidden + i, out[(size_t)b * hidden + i], want[i], 1.0001 * tol[i])) break;
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  kt::init(argc, argv);
  for (int hidden : {1, 31, 32, 33, 255, 256, 257, 384, 768, 1000, 3072, 12288}) {
    for (int seq : {1, 2, 17, 130}) {
      for (int batch : {1, 5}) {
        if ((size_t)batch * seq * hidden > 2000000) continue;
        std::vector<int> lens(batch);
        kt::Rng g(hidden + seq + batch);
        for (int b = 0; b < batch; ++b) lens[b] = g.integer(1, seq);
        lens[0] = seq;
        if (batch > 1) lens[batch - 1] = 1;
        if (batch > 2) lens[1] = 0;        // clamped to 1
        if (batch > 3) lens[2] = seq + 5;  // clamped to seq
        if (batch > 4) lens[3] = -3;       // clamped to 1
        int k = 0;
        for (int mean : {0, 1}) for (int norm : {0, 1}) {
          if (hidden < 3072 || k % 2 == 0) pool_case<float>(batch, seq, hidden, mean, norm, lens, -2, 2, "rand");
          if (hidden < 3072 || k % 2 == 1) pool_case<__half>(batch, seq, hidden, mean, norm, lens, -2, 2, "rand");
          ++k;
        }
      }
    }
  }
  for (int hidden : {1, 33, 768}) {
    const std::vector<int> l = {4, 4};
    pool_case<float>(2, 4, hidden, 1, 1, l, 0, 0, "zeros");
    pool_case<__half>(2, 4, hidden, 1, 1, l, 60000, 65000, "fp16-large");
    pool_case<__half>(2, 4, hidden, 1, 1, l, 1e-7, 3e-7, "fp16-subnormal");
    pool_case<float>(2, 4, hidden, 1, 1, l, 1e-15, 2e-15, "fp32-small");
    pool_case<float>(2, 4, hidden, 1, 1, l, 1e15, 2e15, "fp32-large");
    pool_case<float>(2, 4, hidden, 1, 1, l, 1e-25, 2e-25, "fp32-tiny");
    pool_case<float>(2, 4, hidden, 1, 1, l, 1e20, 2e20, "fp32-huge");
  }
  kt::kernel("pool_rows").coverage = "hidden 1..12288, seq 1..130, CLS/mean, norm, lengths clamped";
  return kt::finish();
}
