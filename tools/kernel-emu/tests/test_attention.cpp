// attention.cu against attention.cuh / ft4j.h: masked_softmax (cached and re-reading variants,
// lengths clamped to [0, seq], query rows past the length computed too, large scores), and the
// exact copies add_qkv_bias_split_heads / merge_heads (packed and scalar), FP32 and FP16.
#include "attention.cu.cpp"
#include "ref.h"

using kt::Buf;
using kt::Type;
using kt::kU;
using namespace ft4j;

namespace {

template <typename T>
cudaError_t softmax_uncached(const MaskedSoftmaxParams<T>& p) {
  const int64_t rows = int64_t(p.batch) * p.heads * p.seq;
  masked_softmax_kernel<T, false><<<row_blocks(rows), row_block_threads(p.seq, 4, 512), 0, nullptr>>>(p);
  return cudaGetLastError();
}

template <typename T>
void softmax_case(int batch, int heads, int seq, const std::vector<int>& lens, bool uncached) {
  std::string ls;
  for (int l : lens) ls += (ls.empty() ? "" : ",") + std::to_string(l);
  kt::Case c(kt::kernel("masked_softmax"), std::string(Type<T>::name) + " batch=" + std::to_string(batch) +
                                               " heads=" + std::to_string(heads) + " seq=" + std::to_string(seq) +
                                               " lens=" + ls + (uncached ? " path=uncached" : " path=public"));
  const size_t n = (size_t)batch * heads * seq * seq;
  kt::Rng rng(n + seq + uncached);
  std::vector<double> s = rng.vec(n, -30, 30);
  for (size_t i = 5; i < n; i += 97) s[i] = 1000;  // exp(scale * s) alone would overflow
  Buf<T> sc = kt::upload<T>(s, "scores", false);
  Buf<int> len_b(batch, "lengths");
  for (int b = 0; b < batch; ++b) len_b[b] = lens[b];
  len_b.readonly();
  const float scale = 0.125f;
  MaskedSoftmaxParams<T> p{sc.p, len_b.p, batch, heads, seq, scale};
  if (!kt::accepted(c, check_masked_softmax(p))) return;
  if (!kt::launched(c, uncached ? softmax_uncached(p) : launch_masked_softmax(p, nullptr))) return;
  const int threads = row_block_threads(seq, 4, 512);
  for (size_t row = 0; row < (size_t)batch * heads * seq; ++row) {
    const int len = std::min(std::max(lens[row / ((size_t)heads * seq)], 0), seq);
    const double* x = &s[row * seq];
    // t = fl(scale * s); e = expf(fl(t - m)); p = fl(e * fl(1 / sum)). Relative error of e_j:
    // the argument's absolute error (t, m and the subtraction) plus 2u for expf; of the sum: its
    // depth plus the largest term error (all terms positive); then two roundings.
    double m = -INFINITY;
    for (int j = 0; j < len; ++j) m = std::max(m, (double)scale * x[j]);
    double sum = 0, worst_term = 0;
    std::vector<double> e(len), rel(len);
    for (int j = 0; j < len; ++j) {
      const double t = (double)scale * x[j];
      e[j] = std::exp(t - m);
      rel[j] = kU * (std::fabs(t) + std::fabs(m) + std::fabs(t - m)) + 2 * kU;
      sum += e[j];
      worst_term = std::max(worst_term, rel[j]);
    }
    const double rel_sum = ref::depth(len, threads) * kU + worst_term;
    for (int j = 0; j < seq; ++j) {
      const size_t at = row * seq + j;
      if (j >= len) {
        if (!c.exact("p", at, Type<T>::to_d(sc[at]), 0.0)) break;
        continue;
      }
      const double want = e[j] / sum;
      const double tol = want * (rel[j] + rel_sum + 2 * kU) * 1.0001 + 1e-38;
      if (!c.close_t("p", at, sc[at], want, tol)) break;
    }
  }
}

template <typename T>
T add_t(T a, T b) {  // the kernel's arithmetic: float sum (one rounding), stored as T
  return Type<T>::from_f((float)(Type<T>::to_d(a) + Type<T>::to_d(b)));
}

template <typename T>
void split_merge_case(int batch, int seq, int heads, int d, bool bias, bool scalar) {
  kt::Case c(kt::kernel("add_qkv_bias_split_heads + merge_heads"),
             std::string(Type<T>::name) + " batch=" + std::to_string(batch) + " seq=" + std::to_string(seq) +
                 " heads=" + std::to_string(heads) + " D=" + std::to_string(d) + " bias=" + std::to_string(bias) +
                 (scalar ? " path=scalar" : " path=public"));
  const int hidden = heads * d;
  const size_t rows = (size_t)batch * seq, per = (size_t)batch * heads * seq * d;
  kt::Rng rng(rows * hidden + bias + 2 * scalar);
  std::vector<double> qkv = rng.vec(rows * 3 * hidden, -3, 3), qb = rng.vec(3 * hidden, -1, 1);
  Buf<T> qkv_b = kt::upload<T>(qkv, "qkv"), bias_b = kt::upload<T>(qb, "qkv_bias");
  Buf<T> q(per, "q"), k(per, "k"), v(per, "v");
  kt::fill_nan(q);
  kt::fill_nan(k);
  kt::fill_nan(v);
  AddQkvBiasSplitHeadsParams<T> sp{q.p, k.p, v.p, qkv_b.p, bias ? bias_b.p : nullptr, batch, seq, heads, d};
  if (!kt::accepted(c, check_add_qkv_bias_split_heads(sp))) return;
  cudaError_t e;
  if (scalar) {
    add_qkv_bias_split_heads_kernel<T, 1><<<elementwise_blocks((int64_t)rows * 3 * hidden, 256), 256, 0, nullptr>>>(sp);
    e = cudaGetLastError();
  } else {
    e = launch_add_qkv_bias_split_heads(sp, nullptr);
  }
  if (!kt::launched(c, e)) return;
  T* parts[3] = {q.p, k.p, v.p};
  const char* names[3] = {"q", "k", "v"};
  bool ok = true;
  for (size_t r = 0; r < rows && ok; ++r) {
    const size_t b = r / seq, s = r % seq;
    for (int col = 0; col < 3 * hidden && ok; ++col) {
      const int part = col / hidden, h = (col % hidden) / d, dd = col % d;
      const T x = qkv_b[r * 3 * hidden + col];
      const T want = bias ? add_t(x, bias_b[col]) : x;
      const size_t at = ((b * heads + h) * seq + s) * d + dd;
      ok = c.exact(names[part], at, Type<T>::to_d(parts[part][at]), Type<T>::to_d(want));
    }
  }
  // merge the v part back: out[b*seq + s, h*d + dd] = v[b, h, s, dd]
  {
    T* src = v.p;
    emu::set_readonly(src, true);
    Buf<T> out(rows * hidden, "merged");
    kt::fill_nan(out);
    MergeHeadsParams<T> mp{out.p, src, batch, seq, heads, d};
    if (!kt::accepted(c, check_merge_heads(mp))) return;
    if (scalar) {
      merge_heads_kernel<T, 1><<<elementwise_blocks((int64_t)rows * hidden, 256), 256, 0, nullptr>>>(mp);
      e = cudaGetLastError();
    } else {
      e = launch_merge_heads(mp, nullptr);
    }
    if (!kt::launched(c, e)) return;
    for (size_t r = 0; r < rows; ++r) {
      const size_t b = r / seq, s = r % seq;
      for (int col = 0; col < hidden; ++col) {
        const int h = col / d, dd = col % d;
        const size_t at = ((b * heads + h) * seq + s) * d + dd;
        if (!c.exact("merged", r * hidden + col, Type<T>::to_d(out[r * hidden + col]), Type<T>::to_d(src[at]))) return;
      }
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  kt::init(argc, argv);
  struct { int batch, heads, seq; } shapes[] = {{1, 1, 1}, {2, 2, 2}, {2, 3, 31}, {1, 2, 32}, {3, 1, 33},
                                                {2, 2, 100}, {1, 1, 384}, {1, 1, 1000}};
  for (auto& sh : shapes) {
    std::vector<int> lens(sh.batch);
    kt::Rng g(sh.seq * 7 + sh.batch);
    for (int b = 0; b < sh.batch; ++b) lens[b] = g.integer(1, sh.seq);
    lens[0] = sh.seq;
    if (sh.batch > 1) lens[1] = sh.seq > 2 ? 0 : -2;  // an all-zero row block
    if (sh.batch > 2) lens[2] = sh.seq + 3;           // clamped to seq
    const bool big = sh.seq >= 384;
    softmax_case<float>(sh.batch, sh.heads, sh.seq, lens, false);
    softmax_case<__half>(sh.batch, sh.heads, sh.seq, lens, false);
    if (!big) {
      softmax_case<float>(sh.batch, sh.heads, sh.seq, lens, true);
      softmax_case<__half>(sh.batch, sh.heads, sh.seq, lens, true);
    }
    std::vector<int> one(sh.batch, 1);
    if (!big) softmax_case<float>(sh.batch, sh.heads, sh.seq, one, false);
  }
  struct { int batch, seq, heads, d; } sm[] = {{1, 1, 1, 1},  {2, 3, 2, 3},  {1, 17, 12, 8},
                                               {2, 5, 2, 16}, {1, 7, 3, 64}, {2, 2, 1, 33}};
  for (auto& s : sm) {
    for (int bias : {1, 0}) {
      split_merge_case<float>(s.batch, s.seq, s.heads, s.d, bias, false);
      split_merge_case<__half>(s.batch, s.seq, s.heads, s.d, bias, false);
    }
    split_merge_case<float>(s.batch, s.seq, s.heads, s.d, true, true);
    split_merge_case<__half>(s.batch, s.seq, s.heads, s.d, false, true);
  }
  kt::kernel("masked_softmax").coverage = "seq 1..1000, lengths 0/clamped, cached/uncached";
  kt::kernel("add_qkv_bias_split_heads + merge_heads").coverage = "D 1..64, packed/scalar, bias NULL";
  return kt::finish();
}
