// embedding.cu against embedding.cuh / ft4j.h: embedding_layernorm, FP32 and FP16, positions
// restarting every seq rows with an offset, ids / positions / types outside their tables clamped,
// type_ids NULL or given, hidden up to 12224 (above: rejected by the parameter check).
#include "embedding.cu.cpp"
#include "ref.h"

using kt::Buf;
using kt::Type;
using kt::kU;
using namespace ft4j;

namespace {

int clamp_to(int i, int n) { return i < 0 ? 0 : (i >= n ? n - 1 : i); }

template <typename T>
void emb_case(int rows, int seq, int hidden, int offset, bool types) {
  kt::Case c(kt::kernel("embedding_layernorm"),
             std::string(Type<T>::name) + " rows=" + std::to_string(rows) + " seq=" + std::to_string(seq) +
                 " hidden=" + std::to_string(hidden) + " posOffset=" + std::to_string(offset) +
                 " typeIds=" + std::to_string(types));
  const int vocab = 11, max_pos = 6, type_vocab = 2;
  kt::Rng rng((size_t)rows * hidden + seq * 3 + offset + types);
  std::vector<double> word = rng.vec((size_t)vocab * hidden, -1, 1);
  std::vector<double> pos = rng.vec((size_t)max_pos * hidden, -0.5, 0.5);
  std::vector<double> tt = rng.vec((size_t)type_vocab * hidden, -0.2, 0.2);
  std::vector<double> g = rng.vec(hidden, 0.5, 1.5), beta = rng.vec(hidden, -0.3, 0.3);
  Buf<T> word_b = kt::upload<T>(word, "word"), pos_b = kt::upload<T>(pos, "position");
  Buf<T> tt_b = kt::upload<T>(tt, "token_type"), g_b = kt::upload<T>(g, "gamma"), beta_b = kt::upload<T>(beta, "beta");
  // ids: in range, plus -1 and vocab + 3 (clamped into the table, the last row against its guard)
  std::vector<int> ids(rows), tids(rows);
  for (int r = 0; r < rows; ++r) { ids[r] = rng.integer(0, vocab - 1); tids[r] = rng.integer(0, type_vocab - 1); }
  ids[0] = vocab - 1;
  if (rows > 1) ids[1] = -1;
  if (rows > 2) { ids[2] = vocab + 3; tids[2] = 5; }
  if (rows > 3) tids[3] = -2;
  Buf<int> ids_b(rows, "ids"), tids_b(rows, "type_ids");
  for (int r = 0; r < rows; ++r) { ids_b[r] = ids[r]; tids_b[r] = tids[r]; }
  ids_b.readonly();
  tids_b.readonly();
  Buf<T> out(rows * (size_t)hidden, "out");
  kt::fill_nan(out);
  const float eps = 1e-12f;
  EmbeddingLayernormParams<T> p{out.p, ids_b.p, types ? tids_b.p : nullptr, word_b.p, pos_b.p, tt_b.p,
                                g_b.p, beta_b.p, eps, rows, seq, hidden, vocab, max_pos, type_vocab, offset};
  if (!kt::accepted(c, check_embedding_layernorm(p))) return;
  if (!kt::launched(c, launch_embedding_layernorm(p, nullptr))) return;
  const int dep = ref::depth(hidden, row_block_threads(hidden, 2, 512));
  for (int r = 0; r < rows; ++r) {
    const int id = clamp_to(ids[r], vocab), ps = clamp_to(r % seq + offset, max_pos);
    const int ty = types ? clamp_to(tids[r], type_vocab) : 0;
    std::vector<double> x(hidden), dx(hidden);
    for (int i = 0; i < hidden; ++i) {
      const double wp = word[(size_t)id * hidden + i] + pos[(size_t)ps * hidden + i];
      x[i] = wp + tt[(size_t)ty * hidden + i];
      dx[i] = 1.0001 * kU * (std::fabs(wp) + std::fabs(x[i]));  // fl(fl(w + p) + t)
    }
    const ref::LnRow ln = ref::layernorm(x, dx, g.data(), beta.data(), eps, dep);
    for (int i = 0; i < hidden; ++i) {
      if (!c.close_t("out", (size_t)r * hidden + i, out[(size_t)r * hidden + i], ln.y[i], ln.tol[i])) break;
    }
  }
}

void rejections() {
  kt::Case c(kt::kernel("embedding parameter checks"), "hidden above 12224, sizes < 1");
  EmbeddingLayernormParams<float> p{nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr,
                                    1e-12f, 4, 4, 12225, 10, 10, 2, 0};
  if (check_embedding_layernorm(p).empty()) c.fail("hidden = 12225 accepted");
  p.hidden = 12224;
  if (!check_embedding_layernorm(p).empty()) c.fail("hidden = 12224 rejected");
  p.vocab = 0;
  if (check_embedding_layernorm(p).empty()) c.fail("vocab = 0 accepted");
}

}  // namespace

int main(int argc, char** argv) {
  kt::init(argc, argv);
  rejections();
  for (int hidden : {1, 31, 32, 33, 384, 768, 1000, 3072, 12224}) {
    const int rows = hidden >= 3072 ? 4 : 7;
    int k = 0;
    for (int types : {1, 0}) for (int offset : {0, 2}) {
      // max_positions = 6: seq 7 (offset 0) and seq 5 (offset 2) both run past the table
      const int seq = offset ? 5 : (types ? 7 : 3);
      emb_case<float>(rows, seq, hidden, offset, types);
      emb_case<__half>(rows, seq, hidden, offset, types);
      ++k;
    }
  }
  kt::kernel("embedding_layernorm").coverage = "hidden 1..12224, ids/positions/types clamped, typeIds NULL";
  return kt::finish();
}
