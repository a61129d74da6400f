// padding.cu against padding.cuh / ft4j.h: zero_padded_rows (lengths clamped to [0, seq]) and
// padding_copy remove / restore (packed and scalar), FP32 and FP16. Pure copies: exact.
#include "padding.cu.cpp"
#include "ref.h"

using kt::Buf;
using kt::Type;
using namespace ft4j;

namespace {

std::string lens_str(const std::vector<int>& l) {
  std::string s;
  for (int x : l) s += (s.empty() ? "" : ",") + std::to_string(x);
  return s;
}

template <typename T>
void zero_case(int batch, int seq, int hidden, const std::vector<int>& lens) {
  kt::Case c(kt::kernel("zero_padded_rows"), std::string(Type<T>::name) + " batch=" + std::to_string(batch) +
                                                 " seq=" + std::to_string(seq) + " hidden=" + std::to_string(hidden) +
                                                 " lens=" + lens_str(lens));
  const size_t n = (size_t)batch * seq * hidden;
  kt::Rng rng(n + hidden);
  std::vector<double> d = rng.vec(n, -2, 2);
  for (auto& x : d) if (x == 0) x = 1;
  Buf<T> data = kt::upload<T>(d, "data", false);
  Buf<int> len_b(batch, "lengths");
  for (int b = 0; b < batch; ++b) len_b[b] = lens[b];
  len_b.readonly();
  ZeroPaddedRowsParams<T> p{data.p, len_b.p, batch, seq, hidden};
  if (!kt::accepted(c, check_zero_padded_rows(p))) return;
  if (!kt::launched(c, launch_zero_padded_rows(p, nullptr))) return;
  for (int b = 0; b < batch; ++b) {
    const int len = std::min(std::max(lens[b], 0), seq);
    for (int s = 0; s < seq; ++s)
      for (int i = 0; i < hidden; ++i) {
        const size_t at = ((size_t)b * seq + s) * hidden + i;
        if (!c.exact("data", at, Type<T>::to_d(data[at]), s < len ? d[at] : 0.0)) return;
      }
  }
}

template <typename T>
void copy_case(int batch, int seq, int hidden, const std::vector<int>& lens, bool restore, bool scalar) {
  kt::Case c(kt::kernel("padding_copy"), std::string(Type<T>::name) + (restore ? " restore" : " remove") +
                                             " batch=" + std::to_string(batch) + " seq=" + std::to_string(seq) +
                                             " hidden=" + std::to_string(hidden) + " lens=" + lens_str(lens) +
                                             (scalar ? " path=scalar" : " path=public"));
  std::vector<int> off(batch + 1, 0);
  for (int b = 0; b < batch; ++b) off[b + 1] = off[b] + lens[b];
  const size_t packed_rows = off[batch], padded = (size_t)batch * seq * hidden;
  kt::Rng rng(padded + packed_rows + restore);
  Buf<int> off_b(batch + 1, "offsets");
  for (int b = 0; b <= batch; ++b) off_b[b] = off[b];
  off_b.readonly();
  std::vector<double> src = rng.vec(restore ? packed_rows * hidden : padded, -2, 2);
  Buf<T> src_b = kt::upload<T>(src, restore ? "packed" : "padded");
  Buf<T> dst(restore ? padded : packed_rows * hidden, restore ? "padded" : "packed");
  kt::fill_nan(dst);
  PaddingCopyParams<T> p{dst.p, src_b.p, off_b.p, batch, seq, hidden, restore ? 1 : 0};
  if (!kt::accepted(c, check_padding_copy(p))) return;
  cudaError_t e;
  if (scalar) {
    padding_copy_kernel<T, 1><<<row_blocks(int64_t(batch) * seq), row_block_threads(hidden, 2, 256), 0, nullptr>>>(p);
    e = cudaGetLastError();
  } else {
    e = launch_padding_copy(p, nullptr);
  }
  if (!kt::launched(c, e)) return;
  for (int b = 0; b < batch; ++b) {
    const int len = std::min(std::max(lens[b], 0), seq);
    for (int s = 0; s < seq; ++s)
      for (int i = 0; i < hidden; ++i) {
        const size_t pad_at = ((size_t)b * seq + s) * hidden + i, pk_at = ((size_t)off[b] + s) * hidden + i;
        if (restore) {
          if (!c.exact("padded", pad_at, Type<T>::to_d(dst[pad_at]), s < len ? src[pk_at] : 0.0)) return;
        } else if (s < len) {
          if (!c.exact("packed", pk_at, Type<T>::to_d(dst[pk_at]), src[pad_at])) return;
        }
      }
  }
}

}  // namespace

int main(int argc, char** argv) {
  kt::init(argc, argv);
  struct { int batch, seq, hidden; } shapes[] = {{1, 1, 1}, {3, 4, 31}, {2, 5, 32}, {4, 3, 33},
                                                 {3, 7, 384}, {2, 9, 1000}, {2, 3, 3072}};
  for (auto& sh : shapes) {
    std::vector<int> lens(sh.batch);
    for (int b = 0; b < sh.batch; ++b) lens[b] = 1 + (b * 5 + sh.seq) % sh.seq;
    lens[0] = sh.seq;
    std::vector<int> zlens = lens;
    if (sh.batch > 1) zlens[1] = 0;
    if (sh.batch > 2) zlens[2] = -1;          // clamped to 0
    if (sh.batch > 3) zlens[3] = sh.seq + 2;  // clamped to seq
    zero_case<float>(sh.batch, sh.seq, sh.hidden, zlens);
    zero_case<__half>(sh.batch, sh.seq, sh.hidden, zlens);
    std::vector<int> clens = lens;
    if (sh.batch > 1) clens[1] = 0;  // an empty sequence
    for (int restore : {0, 1}) {
      copy_case<float>(sh.batch, sh.seq, sh.hidden, clens, restore, false);
      copy_case<__half>(sh.batch, sh.seq, sh.hidden, clens, restore, false);
      copy_case<float>(sh.batch, sh.seq, sh.hidden, clens, restore, true);
      copy_case<__half>(sh.batch, sh.seq, sh.hidden, clens, restore, true);
    }
  }
  kt::kernel("zero_padded_rows").coverage = "hidden 1..3072, lengths 0/negative/above seq";
  kt::kernel("padding_copy").coverage = "remove/restore, packed/scalar, empty sequences";
  return kt::finish();
}
