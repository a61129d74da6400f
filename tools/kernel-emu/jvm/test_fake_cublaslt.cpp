// g++ -std=c++17 -O2 -Wall -Wextra -pthread tools/kernel-emu/jvm/fake_cublaslt.cpp tools/kernel-emu/jvm/test_fake_cublaslt.cpp -o /tmp/test_fake_cublaslt && /tmp/test_fake_cublaslt
//
// Standalone test of fake_cublaslt.cpp (the CPU cuBLASLt that is LD_PRELOADed into the JVM), run
// from the repository root with the command above; exit status 0 when everything passes.
//
// What it covers:
//  * every supported type combination (FP32 with compute 32F and 32F_FAST_TF32, FP16, INT8 ->
//    INT32, INT8 -> INT8), awkward sizes (1, 7, 33, ...), all four N/T combinations, padded
//    leading dimensions, batch 1 and batch 3 with padded strides (and a broadcast A), every
//    epilogue (DEFAULT, BIAS, GELU, GELU_BIAS; FP16 also with an FP32 bias), beta 0 with a
//    NaN-poisoned C and beta != 0, in place (C == D) and out of place, HOST and DEVICE pointer
//    modes, against a double-precision (long double sums) reference written here in row-major
//    terms of the same column-major data. Floating results must be the reference rounded once
//    (within half an ulp of the output type); INT8 results must be exact (int32 wrap-around,
//    round-to-nearest-even and saturation for INT8 output);
//  * binary16: all 65536 encodings through a GEMM (decode / re-encode), and the rounding of
//    products of every finite half with several scale factors (ties, subnormals, overflow) against
//    a brute-force nearest-even search over the half table;
//  * the attribute size protocol of descriptors, layouts, preferences, algorithm configs and caps
//    (sizeInBytes == 0 reports sizeWritten; wrong sizes are INVALID_VALUE), GetIds / AlgoInit,
//    the heuristic (distinct results, workspace limits), AlgoCheck (caps, split-K workspace,
//    types, layouts), a split-K algorithm refused with a too-small workspace;
//  * the CUDA graph capture hook: a strong fakecuda_capture_record defined here records the call;
//    nothing is computed until run(ctx); replays see the operands' current contents, the scalars
//    and descriptors as they were at capture; release(ctx) frees the call;
//  * the call sequence of ft4j's MatmulPlan (row-major A x W^T + bias through the swapped
//    column-major operands), and the JavaCPP-visible struct layouts.

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

// ---- the API under test, declared independently (there is no header) ---------------------------

extern "C" {
typedef int cublasStatus_t;
typedef struct {
  uint64_t data[8];
} cublasLtMatmulAlgo_t;
typedef struct {
  cublasLtMatmulAlgo_t algo;
  size_t workspaceSize;
  cublasStatus_t state;
  float wavesCount;
  int reserved[4];
} cublasLtMatmulHeuristicResult_t;
struct TestLtHandle;
struct TestLtDesc;
struct TestLtLayout;
struct TestLtPref;
typedef TestLtHandle* cublasLtHandle_t;
typedef TestLtDesc* cublasLtMatmulDesc_t;
typedef TestLtLayout* cublasLtMatrixLayout_t;
typedef TestLtPref* cublasLtMatmulPreference_t;

cublasStatus_t cublasLtCreate(cublasLtHandle_t*);
cublasStatus_t cublasLtDestroy(cublasLtHandle_t);
size_t cublasLtGetVersion(void);
const char* cublasGetStatusName(cublasStatus_t);
const char* cublasLtGetStatusName(cublasStatus_t);
const char* cublasLtGetStatusString(cublasStatus_t);
cublasStatus_t cublasLtMatmulDescCreate(cublasLtMatmulDesc_t*, int, int);
cublasStatus_t cublasLtMatmulDescDestroy(cublasLtMatmulDesc_t);
cublasStatus_t cublasLtMatmulDescSetAttribute(cublasLtMatmulDesc_t, int, const void*, size_t);
cublasStatus_t cublasLtMatmulDescGetAttribute(cublasLtMatmulDesc_t, int, void*, size_t, size_t*);
cublasStatus_t cublasLtMatrixLayoutCreate(cublasLtMatrixLayout_t*, int, uint64_t, uint64_t,
                                          int64_t);
cublasStatus_t cublasLtMatrixLayoutDestroy(cublasLtMatrixLayout_t);
cublasStatus_t cublasLtMatrixLayoutSetAttribute(cublasLtMatrixLayout_t, int, const void*, size_t);
cublasStatus_t cublasLtMatrixLayoutGetAttribute(cublasLtMatrixLayout_t, int, void*, size_t,
                                                size_t*);
cublasStatus_t cublasLtMatmulPreferenceCreate(cublasLtMatmulPreference_t*);
cublasStatus_t cublasLtMatmulPreferenceDestroy(cublasLtMatmulPreference_t);
cublasStatus_t cublasLtMatmulPreferenceSetAttribute(cublasLtMatmulPreference_t, int, const void*,
                                                    size_t);
cublasStatus_t cublasLtMatmulAlgoGetHeuristic(cublasLtHandle_t, cublasLtMatmulDesc_t,
                                              cublasLtMatrixLayout_t, cublasLtMatrixLayout_t,
                                              cublasLtMatrixLayout_t, cublasLtMatrixLayout_t,
                                              cublasLtMatmulPreference_t, int,
                                              cublasLtMatmulHeuristicResult_t[], int*);
cublasStatus_t cublasLtMatmul(cublasLtHandle_t, cublasLtMatmulDesc_t, const void*, const void*,
                              cublasLtMatrixLayout_t, const void*, cublasLtMatrixLayout_t,
                              const void*, const void*, cublasLtMatrixLayout_t, void*,
                              cublasLtMatrixLayout_t, const cublasLtMatmulAlgo_t*, void*, size_t,
                              void*);
cublasStatus_t cublasLtMatmulAlgoGetIds(cublasLtHandle_t, int, int, int, int, int, int, int,
                                        int[], int*);
cublasStatus_t cublasLtMatmulAlgoInit(cublasLtHandle_t, int, int, int, int, int, int, int,
                                      cublasLtMatmulAlgo_t*);
cublasStatus_t cublasLtMatmulAlgoCapGetAttribute(const cublasLtMatmulAlgo_t*, int, void*, size_t,
                                                 size_t*);
cublasStatus_t cublasLtMatmulAlgoConfigSetAttribute(cublasLtMatmulAlgo_t*, int, const void*,
                                                    size_t);
cublasStatus_t cublasLtMatmulAlgoConfigGetAttribute(const cublasLtMatmulAlgo_t*, int, void*,
                                                    size_t, size_t*);
cublasStatus_t cublasLtMatmulAlgoCheck(cublasLtHandle_t, cublasLtMatmulDesc_t,
                                       cublasLtMatrixLayout_t, cublasLtMatrixLayout_t,
                                       cublasLtMatrixLayout_t, cublasLtMatrixLayout_t,
                                       const cublasLtMatmulAlgo_t*,
                                       cublasLtMatmulHeuristicResult_t*);
}

static_assert(sizeof(cublasLtMatmulAlgo_t) == 64, "algo");
static_assert(sizeof(cublasLtMatmulHeuristicResult_t) == 96, "heuristic result");

// cuBLASLt 13.1 constants (the presets' values)
enum {
  SUCCESS = 0,
  NOT_INITIALIZED = 1,
  INVALID_VALUE = 7,
  NOT_SUPPORTED = 15,
  OP_N = 0,
  OP_T = 1,
  C16F = 64,
  C32F = 68,
  C32F_TF32 = 77,
  C32I = 72,
  R32F = 0,
  R16F = 2,
  R8I = 3,
  R32I = 10,
  L_TYPE = 0,
  L_ORDER = 1,
  L_ROWS = 2,
  L_COLS = 3,
  L_LD = 4,
  L_BATCH = 5,
  L_STRIDE = 6,
  D_COMPUTE = 0,
  D_SCALE = 1,
  D_POINTER_MODE = 2,
  D_TRANSA = 3,
  D_TRANSB = 4,
  D_EPILOGUE = 7,
  D_BIAS_POINTER = 8,
  D_A_SCALE_POINTER = 17,
  D_BIAS_DATA_TYPE = 26,
  E_DEFAULT = 1,
  E_BIAS = 4,
  E_GELU = 32,
  E_GELU_BIAS = 36,
  P_MAX_WS = 1,
  CAP_SPLITK = 0,
  CAP_RED_MASK = 1,
  CAP_SWIZZLE = 2,
  CAP_STRIDED = 3,
  CAP_TILES = 6,
  CAP_CUSTOM_MAX = 7,
  CAP_EPI_MASK = 12,
  CAP_STAGES = 13,
  CFG_ID = 0,
  CFG_TILE = 1,
  CFG_SPLITK = 2,
  CFG_RED = 3,
  CFG_SWIZZLE = 4,
  CFG_CUSTOM = 5,
  CFG_STAGES = 6,
  CFG_INNER = 7,
  CFG_CLUSTER = 8,
  RED_NONE = 0,
  RED_INPLACE = 1,
  RED_COMPUTE = 2,
  RED_OUTPUT = 4,
};

// ---- capture hook: overrides the library's weak reference ---------------------------------------

static void* g_capturingStream = nullptr;
struct Recorded {
  void (*run)(void*);
  void* ctx;
  void (*release)(void*);
};
static std::vector<Recorded> g_recorded;

extern "C" int fakecuda_capture_record(void* stream, void (*run)(void*), void* ctx,
                                       void (*release)(void*)) {
  if (stream == nullptr || stream != g_capturingStream) return 0;
  g_recorded.push_back({run, ctx, release});
  return 1;
}

// ---- test plumbing ------------------------------------------------------------------------------

static int g_failures = 0;
static int g_checks = 0;

#define EXPECT(cond, ...)                                           \
  do {                                                              \
    g_checks++;                                                     \
    if (!(cond)) {                                                  \
      if (++g_failures <= 40) {                                     \
        std::printf("FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond); \
        std::printf(__VA_ARGS__);                                   \
        std::printf("\n");                                          \
      }                                                             \
    }                                                               \
  } while (0)

#define EXPECT_STATUS(expr, want)                                                        \
  do {                                                                                   \
    int got_ = (expr);                                                                   \
    EXPECT(got_ == (want), "%s returned %d (%s), expected %d", #expr, got_,              \
           cublasLtGetStatusName(got_), (int)(want));                                    \
  } while (0)

// ---- binary16, independently of the library: a table of every finite non-negative half ----------

static double halfValue(uint16_t bits) {  // decode from the definition
  int e = (bits >> 10) & 31, f = bits & 1023;
  double mag;
  if (e == 31) mag = f ? NAN : INFINITY;
  else if (e == 0) mag = f * std::pow(2.0, -24);
  else mag = (1.0 + f / 1024.0) * std::pow(2.0, e - 15);
  return (bits & 0x8000) ? -mag : mag;
}

static std::vector<double> g_halfTable;  // g_halfTable[b] = value of bits b, b in 0..0x7bff

// Nearest half to x, ties to the even encoding, beyond the largest finite half by half an ulp or
// more: infinity.
static uint16_t nearestHalf(double x) {
  if (std::isnan(x)) return 0x7e00;
  uint16_t sign = std::signbit(x) ? 0x8000 : 0;
  double a = std::fabs(x);
  const double maxHalf = 65504.0, maxUlp = 32.0;
  if (a >= maxHalf + maxUlp / 2) return sign | 0x7c00;  // the tie at 65520 goes to even: inf
  // largest encoding with value <= a (values increase with the encoding)
  size_t lo = 0, hi = g_halfTable.size() - 1;
  while (lo < hi) {
    size_t mid = (lo + hi + 1) / 2;
    if (g_halfTable[mid] <= a) lo = mid;
    else hi = mid - 1;
  }
  if (g_halfTable[lo] == a || lo == g_halfTable.size() - 1) return sign | (uint16_t)lo;
  double below = g_halfTable[lo], above = g_halfTable[lo + 1];
  double dBelow = a - below, dAbove = above - a;
  uint16_t pick;
  if (dBelow < dAbove) pick = (uint16_t)lo;
  else if (dAbove < dBelow) pick = (uint16_t)(lo + 1);
  else pick = (lo % 2 == 0) ? (uint16_t)lo : (uint16_t)(lo + 1);
  return sign | pick;
}

static double halfUlpAt(double v) {
  double a = std::fabs(v);
  if (a < std::pow(2.0, -14)) return std::pow(2.0, -24);
  return std::pow(2.0, std::floor(std::log2(a)) - 10);
}

// ---- helpers ------------------------------------------------------------------------------------

struct Handles {
  cublasLtHandle_t lt = nullptr;
};
static Handles H;

static cublasLtMatrixLayout_t makeLayout(int type, int64_t rows, int64_t cols, int64_t ld,
                                         int batch, int64_t stride) {
  cublasLtMatrixLayout_t l = nullptr;
  EXPECT_STATUS(cublasLtMatrixLayoutCreate(&l, type, (uint64_t)rows, (uint64_t)cols, ld), SUCCESS);
  if (batch > 1) {
    int32_t b = batch;
    int64_t s = stride;
    EXPECT_STATUS(cublasLtMatrixLayoutSetAttribute(l, L_BATCH, &b, 4), SUCCESS);
    EXPECT_STATUS(cublasLtMatrixLayoutSetAttribute(l, L_STRIDE, &s, 8), SUCCESS);
  }
  return l;
}

static void setDescInt(cublasLtMatmulDesc_t d, int attr, int32_t v) {
  EXPECT_STATUS(cublasLtMatmulDescSetAttribute(d, attr, &v, 4), SUCCESS);
}

static size_t typeSize(int t) { return t == R32F || t == R32I ? 4 : t == R16F ? 2 : 1; }

// Storage of `count` elements of `type`, values given as doubles (exactly representable).
struct Buffer {
  int type;
  std::vector<unsigned char> bytes;
  Buffer(int t, size_t count) : type(t), bytes(count * typeSize(t) + 16, 0) {}
  void* data() { return bytes.data(); }
  size_t count() const { return (bytes.size() - 16) / typeSize(type); }
  void set(size_t i, double v) {
    if (type == R32F) {
      float f = (float)v;
      std::memcpy(&bytes[i * 4], &f, 4);
    } else if (type == R16F) {
      uint16_t h = nearestHalf(v);
      std::memcpy(&bytes[i * 2], &h, 2);
    } else if (type == R32I) {
      int32_t x = (int32_t)v;
      std::memcpy(&bytes[i * 4], &x, 4);
    } else {
      bytes[i] = (unsigned char)(int8_t)v;
    }
  }
  double get(size_t i) const {
    if (type == R32F) {
      float f;
      std::memcpy(&f, &bytes[i * 4], 4);
      return f;
    }
    if (type == R16F) {
      uint16_t h;
      std::memcpy(&h, &bytes[i * 2], 2);
      return halfValue(h);
    }
    if (type == R32I) {
      int32_t x;
      std::memcpy(&x, &bytes[i * 4], 4);
      return x;
    }
    return (int8_t)bytes[i];
  }
  void poison() {  // NaN for floating types, a pattern for integers
    for (size_t i = 0; i < count(); i++) {
      if (type == R32F) {
        uint32_t nan = 0x7fc00001u;
        std::memcpy(&bytes[i * 4], &nan, 4);
      } else if (type == R16F) {
        uint16_t nan = 0x7e01;
        std::memcpy(&bytes[i * 2], &nan, 2);
      } else if (type == R32I) {
        int32_t x = 0x5a5a5a5a;
        std::memcpy(&bytes[i * 4], &x, 4);
      } else {
        bytes[i] = 0x5a;
      }
    }
  }
};

enum Kind { K_F32, K_TF32, K_F16, K_I8I32, K_I8I8 };
static const char* kindName(Kind k) {
  static const char* n[] = {"fp32", "tf32", "fp16", "i8i32", "i8i8"};
  return n[k];
}
struct Types {
  int compute, scale, in, out;
};
static Types typesOf(Kind k) {
  switch (k) {
    case K_F32: return {C32F, R32F, R32F, R32F};
    case K_TF32: return {C32F_TF32, R32F, R32F, R32F};
    case K_F16: return {C32F, R32F, R16F, R16F};
    case K_I8I32: return {C32I, R32I, R8I, R32I};
    default: return {C32I, R32F, R8I, R8I};
  }
}

// The reference in row-major terms. A column-major matrix X (rows r, cols c, leading dimension ld)
// stored at X[off ...] is, read row by row, the row-major c x ld array whose row j holds column j
// of X. So with D^T = op(B)^T op(A)^T, all row-major:
//   opAT[p][i] (k x m) = op(A)(i, p): A^T's row p = A's column p when A is not transposed
//                        (Adata[off + p*lda + i]), else A's row i read across
//                        (Adata[off + i*lda + p]);
//   opBT[j][p] (n x k) = op(B)(p, j): Bdata[off + j*ldb + p] when not transposed, else
//                        Bdata[off + p*ldb + j];
//   DT[j][i]           = D(i, j) at Ddata[off + j*ldd + i].
struct Case {
  Kind kind;
  int64_t m, n, k;
  bool tA, tB;
  int batch;
  int pad;  // extra leading-dimension rows
  uint32_t epilogue;
  bool bias32;  // FP16: bias in FP32
  double alpha, beta;
  bool inPlace;
  bool broadcastA;  // stride 0 for A
  int algoMode;     // 0: no algorithm, 1: heuristic's first, 2: AlgoInit + config (split-K)
  bool devicePointers;
};

static std::string describe(const Case& c) {
  char buf[256];
  std::snprintf(buf, sizeof buf,
                "%s m=%lld n=%lld k=%lld %c%c batch=%d pad=%d epi=%u%s alpha=%g beta=%g%s%s "
                "algo=%d%s",
                kindName(c.kind), (long long)c.m, (long long)c.n, (long long)c.k,
                c.tA ? 'T' : 'N', c.tB ? 'T' : 'N', c.batch, c.pad, c.epilogue,
                c.bias32 ? " bias32" : "", c.alpha, c.beta, c.inPlace ? " in-place" : "",
                c.broadcastA ? " broadcastA" : "", c.algoMode, c.devicePointers ? " device" : "");
  return buf;
}

static double gelu(long double x) {
  const long double k = 0.797884560802865355879892119868763737L;  // sqrt(2/pi)
  return (double)(0.5L * x * (1.0L + std::tanh(k * (x + 0.044715L * x * x * x))));
}

static std::mt19937_64 g_rng(20260501);

static double randomValue(int type) {
  if (type == R32F) return std::uniform_real_distribution<float>(-1.0f, 1.0f)(g_rng);
  if (type == R16F) return (double)(int)(g_rng() % 4095 - 2047) / 1024.0;  // exact halves
  return (double)(int)(g_rng() % 256) - 128.0;                              // int8
}

static int runCase(const Case& c) {
  const int before = g_failures;
  Types t = typesOf(c.kind);
  const int64_t m = c.m, n = c.n, k = c.k;
  // stored shapes (column-major)
  const int64_t aRows = c.tA ? k : m, aCols = c.tA ? m : k;
  const int64_t bRows = c.tB ? n : k, bCols = c.tB ? k : n;
  const int64_t lda = aRows + c.pad, ldb = bRows + c.pad, ldc = m + c.pad;
  const int64_t ldd = c.inPlace ? ldc : m + (c.pad ? c.pad + 2 : 0);  // D's own layout
  const int64_t extra = 5;
  const int64_t sA = c.broadcastA ? 0 : lda * aCols + extra, sB = ldb * bCols + extra;
  const int64_t sC = ldc * n + extra, sD = c.inPlace ? sC : ldd * n + extra + 1;
  const int batch = c.batch;
  const size_t nA = (size_t)(sA * (batch - 1) + lda * aCols);
  const size_t nB = (size_t)(sB * (batch - 1) + ldb * bCols);
  const size_t nC = (size_t)(sC * (batch - 1) + ldc * n);
  const size_t nD = (size_t)(sD * (batch - 1) + ldd * n);
  Buffer A(t.in, nA), B(t.in, nB), C(t.out, nC), D(t.out, c.inPlace ? 0 : nD);
  for (size_t i = 0; i < nA; i++) A.set(i, randomValue(t.in));
  for (size_t i = 0; i < nB; i++) B.set(i, randomValue(t.in));
  if (c.beta != 0) {
    for (size_t i = 0; i < nC; i++) C.set(i, randomValue(t.out == R32I ? R8I : t.out));
  } else {
    C.poison();  // beta == 0: cuBLAS does not read C
  }
  Buffer Cin = C;  // the values C held before the call (in place: D overwrites them)
  Buffer* Dbuf = c.inPlace ? &C : &D;
  if (!c.inPlace) D.poison();
  const int biasType = c.bias32 ? R32F : t.out;
  const int64_t biasCount = m;
  Buffer bias(biasType, (size_t)biasCount);
  for (size_t i = 0; i < (size_t)biasCount; i++) bias.set(i, randomValue(biasType));

  cublasLtMatmulDesc_t desc = nullptr;
  EXPECT_STATUS(cublasLtMatmulDescCreate(&desc, t.compute, t.scale), SUCCESS);
  setDescInt(desc, D_TRANSA, c.tA ? OP_T : OP_N);
  setDescInt(desc, D_TRANSB, c.tB ? OP_T : OP_N);
  setDescInt(desc, D_EPILOGUE, (int32_t)c.epilogue);
  if (c.devicePointers) setDescInt(desc, D_POINTER_MODE, 1);
  bool hasBias = c.epilogue == E_BIAS || c.epilogue == E_GELU_BIAS;
  if (hasBias) {
    const void* p = bias.data();
    EXPECT_STATUS(cublasLtMatmulDescSetAttribute(desc, D_BIAS_POINTER, &p, sizeof p), SUCCESS);
    if (c.bias32) setDescInt(desc, D_BIAS_DATA_TYPE, R32F);
  }
  cublasLtMatrixLayout_t la = makeLayout(t.in, aRows, aCols, lda, batch, sA);
  cublasLtMatrixLayout_t lb = makeLayout(t.in, bRows, bCols, ldb, batch, sB);
  cublasLtMatrixLayout_t lc = makeLayout(t.out, m, n, ldc, batch, sC);
  cublasLtMatrixLayout_t ld = c.inPlace ? lc : makeLayout(t.out, m, n, ldd, batch, sD);

  // the algorithm
  cublasLtMatmulAlgo_t algo;
  const cublasLtMatmulAlgo_t* algoPtr = nullptr;
  size_t wsNeeded = 0;
  if (c.algoMode == 1) {
    cublasLtMatmulPreference_t pref = nullptr;
    EXPECT_STATUS(cublasLtMatmulPreferenceCreate(&pref), SUCCESS);
    uint64_t ws = 1 << 20;
    EXPECT_STATUS(cublasLtMatmulPreferenceSetAttribute(pref, P_MAX_WS, &ws, 8), SUCCESS);
    cublasLtMatmulHeuristicResult_t r[2];
    int found = 0;
    EXPECT_STATUS(cublasLtMatmulAlgoGetHeuristic(H.lt, desc, la, lb, lc, ld, pref, 2, r, &found),
                  SUCCESS);
    EXPECT(found == 2, "%d results", found);
    algo = r[found > 1 ? 1 : 0].algo;
    wsNeeded = r[found > 1 ? 1 : 0].workspaceSize;
    algoPtr = &algo;
    cublasLtMatmulPreferenceDestroy(pref);
  } else if (c.algoMode == 2) {
    EXPECT_STATUS(cublasLtMatmulAlgoInit(H.lt, t.compute, t.scale, t.in, t.in, t.out, t.out, 2,
                                         &algo),
                  SUCCESS);
    uint32_t split = k >= 3 ? 3 : 1, red = k >= 3 ? RED_OUTPUT : RED_NONE, tile = 18;
    EXPECT_STATUS(cublasLtMatmulAlgoConfigSetAttribute(&algo, CFG_SPLITK, &split, 4), SUCCESS);
    EXPECT_STATUS(cublasLtMatmulAlgoConfigSetAttribute(&algo, CFG_RED, &red, 4), SUCCESS);
    EXPECT_STATUS(cublasLtMatmulAlgoConfigSetAttribute(&algo, CFG_TILE, &tile, 4), SUCCESS);
    cublasLtMatmulHeuristicResult_t r;
    EXPECT_STATUS(cublasLtMatmulAlgoCheck(H.lt, desc, la, lb, lc, ld, &algo, &r), SUCCESS);
    wsNeeded = r.workspaceSize;
    EXPECT(wsNeeded == (split > 1 ? (size_t)(4 * m * n * batch) : 0), "workspace %zu", wsNeeded);
    algoPtr = &algo;
  }
  std::vector<unsigned char> workspace(wsNeeded + 1);

  // scalars
  float alphaF = (float)c.alpha, betaF = (float)c.beta;
  int32_t alphaI = (int32_t)c.alpha, betaI = (int32_t)c.beta;
  const void* alpha = t.scale == R32I ? (const void*)&alphaI : (const void*)&alphaF;
  const void* beta = t.scale == R32I ? (const void*)&betaI : (const void*)&betaF;

  EXPECT_STATUS(cublasLtMatmul(H.lt, desc, alpha, A.data(), la, B.data(), lb, beta, C.data(), lc,
                               Dbuf->data(), ld, algoPtr, workspace.data(), wsNeeded, nullptr),
                SUCCESS);

  // the reference
  int shown = 0;
  for (int b = 0; b < batch; b++) {
    for (int64_t j = 0; j < n; j++) {
      for (int64_t i = 0; i < m; i++) {
        long double sum = 0, mag = 0;
        int64_t isum = 0;
        for (int64_t p = 0; p < k; p++) {
          // opAT[p][i] and opBT[j][p], row-major reads of the column-major storage
          double av = A.get((size_t)(b * sA + (c.tA ? i * lda + p : p * lda + i)));
          double bv = B.get((size_t)(b * sB + (c.tB ? p * ldb + j : j * ldb + p)));
          sum += (long double)av * bv;
          mag += std::fabs((long double)av * bv);
          isum += (int64_t)av * (int64_t)bv;
        }
        double cin = c.beta != 0 ? Cin.get((size_t)(b * sC + j * ldc + i)) : 0.0;
        double got = Dbuf->get((size_t)(b * sD + j * ldd + i));  // DT[j][i]
        bool ok;
        double want;
        if (c.kind == K_I8I32) {
          uint32_t w = (uint32_t)(int32_t)c.alpha * (uint32_t)(int64_t)isum +
                       (uint32_t)(int32_t)c.beta * (uint32_t)(int32_t)cin;
          want = (double)(int32_t)w;
          ok = got == want;
        } else if (c.kind == K_I8I8) {
          double v = (double)(float)c.alpha * (double)(int32_t)(uint32_t)isum +
                     (c.beta != 0 ? (double)(float)c.beta * cin : 0.0);
          want = std::nearbyint(v);  // the default rounding mode: to nearest, ties to even
          want = want < -128 ? -128 : want > 127 ? 127 : want;
          ok = got == want;
        } else {
          long double v = (long double)(float)c.alpha * sum;
          if (c.beta != 0) v += (long double)(float)c.beta * cin;
          if (hasBias) v += bias.get((size_t)i);
          if (c.epilogue == E_GELU || c.epilogue == E_GELU_BIAS) v = gelu(v);
          want = (double)v;
          double scale = (double)(mag + std::fabs(cin) + 1);
          double ulp = t.out == R32F ? std::fabs(std::nextafter((float)got, INFINITY) - (float)got)
                                     : halfUlpAt(got);
          if (std::isinf(got) && std::fabs(want) > 65000) ulp = INFINITY;
          ok = std::isfinite(got) &&
               std::fabs(got - want) <= 0.5 * ulp * (1 + 1e-6) + 1e-14 * scale;
        }
        if (!ok && shown++ < 3)
          EXPECT(ok, "%s: batch %d D(%lld, %lld) = %.10g, expected %.10g", describe(c).c_str(), b,
                 (long long)i, (long long)j, got, want);
      }
    }
  }
  if (!c.inPlace) {  // the padding between D's columns and batches is untouched
    for (size_t idx = 0; idx < nD; idx++) {
      int64_t inBatch = (int64_t)idx % sD, col = inBatch / ldd, row = inBatch % ldd;
      bool written = (int64_t)idx / sD < batch && col < n && row < m;
      if (!written) {
        double v = D.get(idx);
        bool poisoned = t.out == R32F || t.out == R16F ? std::isnan(v)
                        : t.out == R32I                ? v == 0x5a5a5a5a
                                                       : v == 0x5a;
        if (!poisoned && shown++ < 3)
          EXPECT(poisoned, "%s: D[%zu] outside the matrix written", describe(c).c_str(), idx);
      }
    }
  }
  cublasLtMatrixLayoutDestroy(la);
  cublasLtMatrixLayoutDestroy(lb);
  cublasLtMatrixLayoutDestroy(lc);
  if (!c.inPlace) cublasLtMatrixLayoutDestroy(ld);
  cublasLtMatmulDescDestroy(desc);
  return g_failures - before;
}

static void testGemms() {
  struct Dims {
    int64_t m, n, k;
  };
  const Dims dims[] = {{1, 1, 1},  {7, 33, 1},  {33, 7, 5},  {1, 7, 33},
                       {7, 1, 33}, {17, 9, 40}, {33, 33, 33}, {64, 40, 70}};
  int cases = 0, failed = 0, index = 0;
  for (Kind kind : {K_F32, K_TF32, K_F16, K_I8I32, K_I8I8}) {
    bool isFloat = kind == K_F32 || kind == K_TF32 || kind == K_F16;
    std::vector<uint32_t> epilogues = {E_DEFAULT};
    if (isFloat) epilogues = {E_DEFAULT, E_BIAS, E_GELU, E_GELU_BIAS};
    for (const Dims& d : dims)
      for (int tr = 0; tr < 4; tr++)
        for (int batch : {1, 3})
          for (uint32_t epi : epilogues)
            for (int betaCase = 0; betaCase < 2; betaCase++) {
              Case c;
              c.kind = kind;
              c.m = d.m;
              c.n = d.n;
              c.k = d.k;
              c.tA = tr & 1;
              c.tB = tr & 2;
              c.batch = batch;
              c.pad = index % 3 == 0 ? 0 : 3;
              c.epilogue = epi;
              c.bias32 = kind == K_F16 && index % 2 == 0;
              if (kind == K_I8I32) {
                const double alphas[] = {1, 3, -2, 70000};  // 70000: int32 wrap-around
                c.alpha = alphas[index % 4];
                c.beta = betaCase ? -2 : 0;
              } else if (kind == K_I8I8) {
                const double alphas[] = {0.5, 0.0137, 1.0, -0.25};  // 0.5: ties; 1.0: saturation
                c.alpha = alphas[index % 4];
                c.beta = betaCase ? 0.5 : 0;
              } else {
                c.alpha = index % 2 ? 0.5 : 1.25;
                c.beta = betaCase ? 0.75 : 0;
              }
              c.inPlace = index % 2 == 1;
              c.broadcastA = batch > 1 && index % 5 == 0;
              c.algoMode = index % 3;
              c.devicePointers = index % 7 == 0;
              index++;
              cases++;
              if (runCase(c) != 0) failed++;
            }
  }
  // large enough for the threaded paths (per-column tasks; per-batch tasks)
  for (Kind kind : {K_F32, K_F16, K_I8I32, K_I8I8}) {
    Case c{kind, 200, 150, 64, true, false, 1, 1, E_DEFAULT, false, 1, 0, false, false, 0, false};
    if (kind == K_F32) c.epilogue = E_GELU_BIAS;
    cases++;
    if (runCase(c) != 0) failed++;
    Case b{kind, 40, 50, 300, false, true, 9, 2, E_DEFAULT, false, 1, 0, true, false, 1, false};
    if (kind == K_F16) b.epilogue = E_BIAS;
    cases++;
    if (runCase(b) != 0) failed++;
  }
  std::printf("%s gemm cases: %d run, %d failed\n", failed ? "FAIL" : "PASS", cases, failed);
}

// ---- binary16 conversions through FP16 GEMMs ----------------------------------------------------

// D(i) = alpha * A(i) * B for every half encoding A(i): m = 65536, n = k = 1.
static std::vector<uint16_t> halfGemm(float alpha, uint16_t bBits) {
  const int64_t m = 65536;
  std::vector<uint16_t> a(m), d(m, 0x7e01);
  for (int64_t i = 0; i < m; i++) a[i] = (uint16_t)i;
  cublasLtMatmulDesc_t desc;
  cublasLtMatmulDescCreate(&desc, C32F, R32F);
  cublasLtMatrixLayout_t la = makeLayout(R16F, m, 1, m, 1, 0);
  cublasLtMatrixLayout_t lb = makeLayout(R16F, 1, 1, 1, 1, 0);
  cublasLtMatrixLayout_t lc = makeLayout(R16F, m, 1, m, 1, 0);
  float beta = 0;
  EXPECT_STATUS(cublasLtMatmul(H.lt, desc, &alpha, a.data(), la, &bBits, lb, &beta, nullptr, lc,
                               d.data(), lc, nullptr, nullptr, 0, nullptr),
                SUCCESS);
  cublasLtMatrixLayoutDestroy(la);
  cublasLtMatrixLayoutDestroy(lb);
  cublasLtMatrixLayoutDestroy(lc);
  cublasLtMatmulDescDestroy(desc);
  return d;
}

static void testHalf() {
  int before = g_failures;
  // every encoding survives decode + encode (NaN stays NaN; -0 may come back as +0: 0 + -0 = +0)
  std::vector<uint16_t> d = halfGemm(1.0f, 0x3c00);
  for (int i = 0; i < 65536; i++) {
    uint16_t in = (uint16_t)i, out = d[i];
    bool inNan = (in & 0x7c00) == 0x7c00 && (in & 0x3ff);
    bool ok = inNan ? ((out & 0x7c00) == 0x7c00 && (out & 0x3ff))
                    : (out == in || (in == 0x8000 && out == 0));
    if (!ok) {
      EXPECT(ok, "half 0x%04x came back as 0x%04x", in, out);
      break;
    }
  }
  // rounding of alpha * a: ties (1 + 2^-11, 1 + 3 * 2^-11), subnormal results, overflow
  const float alphas[] = {1.0f + 0x1p-11f, 1.0f + 3 * 0x1p-11f, 1.2345678f, 0.7654321f, 1e-3f,
                          3.0f, 0x1p-20f, 1.0f - 0x1p-12f};
  long checked = 0;
  for (float alpha : alphas) {
    d = halfGemm(alpha, 0x3c00);
    for (int i = 0; i < 65536; i++) {
      uint16_t in = (uint16_t)i;
      if ((in & 0x7c00) == 0x7c00 || (in & 0x7fff) == 0) continue;  // inf, NaN, zeros
      double exact = (double)alpha * halfValue(in);               // exact in double
      uint16_t want = nearestHalf(exact);
      if (d[i] != want) {
        EXPECT(d[i] == want, "alpha %.9g * half 0x%04x = %.17g: got 0x%04x, expected 0x%04x",
               alpha, in, exact, d[i], want);
        break;
      }
      checked++;
    }
  }
  std::printf("%s binary16: 65536 encodings round-tripped, %ld products rounded\n",
              g_failures == before ? "PASS" : "FAIL", checked);
}

// ---- attribute protocol, ids, caps, configs, heuristic, check -----------------------------------

static void testProtocol() {
  int before = g_failures;
  EXPECT(cublasLtGetVersion() == 130100, "version %zu", cublasLtGetVersion());
  EXPECT(std::strcmp(cublasGetStatusName(0), "CUBLAS_STATUS_SUCCESS") == 0, "name");
  EXPECT(std::strcmp(cublasGetStatusName(15), "CUBLAS_STATUS_NOT_SUPPORTED") == 0, "name");
  EXPECT(std::strcmp(cublasLtGetStatusName(7), "CUBLAS_STATUS_INVALID_VALUE") == 0, "name");
  EXPECT(cublasLtGetStatusString(7) != nullptr, "string");

  // GetIds
  int ids[8], found = -1;
  for (Kind kind : {K_F32, K_TF32, K_F16, K_I8I32, K_I8I8}) {
    Types t = typesOf(kind);
    EXPECT_STATUS(cublasLtMatmulAlgoGetIds(H.lt, t.compute, t.scale, t.in, t.in, t.out, t.out, 8,
                                           ids, &found),
                  SUCCESS);
    EXPECT(found == 4 && ids[0] == 0 && ids[3] == 3, "%s: %d ids", kindName(kind), found);
  }
  EXPECT_STATUS(cublasLtMatmulAlgoGetIds(H.lt, C32F, R32F, R32F, R32F, R32F, R32F, 2, ids, &found),
                SUCCESS);
  EXPECT(found == 2, "%d ids", found);
  EXPECT_STATUS(cublasLtMatmulAlgoGetIds(H.lt, C32F, R32F, R32F, R32F, R16F, R16F, 8, ids, &found),
                SUCCESS);
  EXPECT(found == 0, "mixed types: %d ids", found);
  EXPECT_STATUS(cublasLtMatmulAlgoGetIds(H.lt, C16F, R16F, R16F, R16F, R16F, R16F, 8, ids, &found),
                SUCCESS);
  EXPECT(found == 0, "compute 16F: %d ids", found);
  EXPECT_STATUS(cublasLtMatmulAlgoGetIds(H.lt, C32I, R32F, R8I, R8I, R32I, R32I, 8, ids, &found),
                SUCCESS);
  EXPECT(found == 0, "i8i32 with a float scale: %d ids", found);
  EXPECT_STATUS(cublasLtMatmulAlgoGetIds(H.lt, C32F, R32F, R32F, R32F, R32F, R32F, 0, ids, &found),
                INVALID_VALUE);
  EXPECT_STATUS(
      cublasLtMatmulAlgoGetIds(nullptr, C32F, R32F, R32F, R32F, R32F, R32F, 8, ids, &found),
      NOT_INITIALIZED);

  // AlgoInit
  cublasLtMatmulAlgo_t algo, algoI8;
  std::memset(&algo, 0, sizeof algo);
  EXPECT_STATUS(cublasLtMatmulAlgoInit(H.lt, C32F, R32F, R32F, R32F, R32F, R32F, 4, &algo),
                INVALID_VALUE);
  EXPECT_STATUS(cublasLtMatmulAlgoInit(H.lt, C32F, R32F, R32F, R32F, R32F, R32F, 100000, &algo),
                INVALID_VALUE);
  EXPECT_STATUS(cublasLtMatmulAlgoInit(H.lt, C32F, R32F, R32F, R32F, R16F, R16F, 0, &algo),
                NOT_SUPPORTED);
  cublasLtMatmulAlgo_t zero;
  std::memset(&zero, 0, sizeof zero);
  size_t written = 0;
  int32_t i32 = -1;
  EXPECT_STATUS(cublasLtMatmulAlgoCapGetAttribute(&zero, CAP_SPLITK, &i32, 4, &written),
                INVALID_VALUE);  // not initialised
  EXPECT_STATUS(cublasLtMatmulAlgoInit(H.lt, C32F, R32F, R32F, R32F, R32F, R32F, 1, &algo),
                SUCCESS);
  EXPECT_STATUS(cublasLtMatmulAlgoInit(H.lt, C32I, R32I, R8I, R8I, R32I, R32I, 1, &algoI8),
                SUCCESS);

  // caps: array protocol
  written = 0;
  EXPECT_STATUS(cublasLtMatmulAlgoCapGetAttribute(&algo, CAP_TILES, nullptr, 0, &written), SUCCESS);
  EXPECT(written == 12, "TILE_IDS size %zu", written);
  uint32_t tiles[3] = {0, 0, 0};
  EXPECT_STATUS(cublasLtMatmulAlgoCapGetAttribute(&algo, CAP_TILES, tiles, 12, &written), SUCCESS);
  EXPECT(tiles[0] == 15 && tiles[1] == 18 && tiles[2] == 20, "tiles %u %u %u", tiles[0], tiles[1],
         tiles[2]);
  EXPECT_STATUS(cublasLtMatmulAlgoCapGetAttribute(&algo, CAP_TILES, tiles, 8, &written),
                INVALID_VALUE);
  EXPECT_STATUS(cublasLtMatmulAlgoCapGetAttribute(&algo, CAP_TILES, nullptr, 0, nullptr),
                INVALID_VALUE);
  EXPECT_STATUS(cublasLtMatmulAlgoCapGetAttribute(&algo, CAP_TILES, nullptr, 12, &written),
                INVALID_VALUE);
  EXPECT_STATUS(cublasLtMatmulAlgoCapGetAttribute(&algo, CAP_STAGES, nullptr, 0, &written),
                SUCCESS);
  EXPECT(written == 8, "STAGES_IDS size %zu", written);
  uint32_t stages[2];
  EXPECT_STATUS(cublasLtMatmulAlgoCapGetAttribute(&algo, CAP_STAGES, stages, 8, &written), SUCCESS);
  // caps: scalars
  struct {
    int attr;
    int32_t want;
  } scalars[] = {{CAP_SPLITK, 1},     {CAP_RED_MASK, 7},   {CAP_SWIZZLE, 1},
                 {CAP_STRIDED, 1},    {CAP_CUSTOM_MAX, 1}, {CAP_EPI_MASK, 1 | 4 | 32 | 36}};
  for (auto& s : scalars) {
    i32 = -1;
    EXPECT_STATUS(cublasLtMatmulAlgoCapGetAttribute(&algo, s.attr, &i32, 4, &written), SUCCESS);
    EXPECT(i32 == s.want && written == 4, "cap %d = %d, expected %d", s.attr, i32, s.want);
  }
  EXPECT_STATUS(cublasLtMatmulAlgoCapGetAttribute(&algoI8, CAP_EPI_MASK, &i32, 4, &written),
                SUCCESS);
  EXPECT(i32 == 1, "INT8 epilogue mask %d", i32);
  int64_t i64;
  EXPECT_STATUS(cublasLtMatmulAlgoCapGetAttribute(&algo, CAP_SPLITK, &i64, 8, &written),
                INVALID_VALUE);
  EXPECT_STATUS(cublasLtMatmulAlgoCapGetAttribute(&algo, CAP_SPLITK, nullptr, 0, &written),
                SUCCESS);
  EXPECT(written == 4, "scalar size %zu", written);
  EXPECT_STATUS(cublasLtMatmulAlgoCapGetAttribute(&algo, 99, &i32, 4, &written), INVALID_VALUE);

  // config attributes
  uint32_t u32 = 0;
  uint16_t u16 = 0;
  EXPECT_STATUS(cublasLtMatmulAlgoConfigGetAttribute(&algo, CFG_ID, &i32, 4, &written), SUCCESS);
  EXPECT(i32 == 1, "id %d", i32);
  EXPECT_STATUS(cublasLtMatmulAlgoConfigGetAttribute(&algo, CFG_SPLITK, &u32, 4, &written),
                SUCCESS);
  EXPECT(u32 == 1, "default splitK %u", u32);
  EXPECT_STATUS(cublasLtMatmulAlgoConfigSetAttribute(&algo, CFG_ID, &i32, 4), INVALID_VALUE);
  const struct {
    int attr;
    uint32_t value;
  } cfg[] = {{CFG_TILE, 18}, {CFG_STAGES, 15}, {CFG_SPLITK, 4}, {CFG_RED, RED_COMPUTE},
             {CFG_SWIZZLE, 1}, {CFG_CUSTOM, 1}};
  for (auto& c : cfg) {
    EXPECT_STATUS(cublasLtMatmulAlgoConfigSetAttribute(&algo, c.attr, &c.value, 4), SUCCESS);
    u32 = 0;
    EXPECT_STATUS(cublasLtMatmulAlgoConfigGetAttribute(&algo, c.attr, &u32, 4, &written), SUCCESS);
    EXPECT(u32 == c.value && written == 4, "config %d = %u", c.attr, u32);
    EXPECT_STATUS(cublasLtMatmulAlgoConfigSetAttribute(&algo, c.attr, &i64, 8), INVALID_VALUE);
    EXPECT_STATUS(cublasLtMatmulAlgoConfigSetAttribute(&algo, c.attr, nullptr, 4), INVALID_VALUE);
  }
  u16 = 0;
  EXPECT_STATUS(cublasLtMatmulAlgoConfigSetAttribute(&algo, CFG_INNER, &u16, 2), SUCCESS);
  EXPECT_STATUS(cublasLtMatmulAlgoConfigSetAttribute(&algo, CFG_INNER, &u32, 4), INVALID_VALUE);
  EXPECT_STATUS(cublasLtMatmulAlgoConfigGetAttribute(&algo, CFG_CLUSTER, &u16, 2, &written),
                SUCCESS);
  EXPECT(written == 2, "cluster size %zu", written);
  EXPECT_STATUS(cublasLtMatmulAlgoConfigGetAttribute(&algo, CFG_CLUSTER, &u32, 4, &written),
                INVALID_VALUE);
  u32 = 2;
  EXPECT_STATUS(cublasLtMatmulAlgoConfigSetAttribute(&algo, CFG_SWIZZLE, &u32, 4), INVALID_VALUE);
  u32 = 3;
  EXPECT_STATUS(cublasLtMatmulAlgoConfigSetAttribute(&algo, CFG_RED, &u32, 4), INVALID_VALUE);
  u32 = 0;
  EXPECT_STATUS(cublasLtMatmulAlgoConfigSetAttribute(&algo, CFG_SPLITK, &u32, 4), INVALID_VALUE);
  u32 = 635;
  EXPECT_STATUS(cublasLtMatmulAlgoConfigSetAttribute(&algo, CFG_TILE, &u32, 4), INVALID_VALUE);

  // descriptor / layout / preference attribute sizes
  cublasLtMatmulDesc_t desc;
  EXPECT_STATUS(cublasLtMatmulDescCreate(&desc, C32F, R32F), SUCCESS);
  EXPECT_STATUS(cublasLtMatmulDescSetAttribute(desc, D_TRANSA, &i64, 8), INVALID_VALUE);
  i32 = 5;
  EXPECT_STATUS(cublasLtMatmulDescSetAttribute(desc, D_TRANSA, &i32, 4), INVALID_VALUE);
  EXPECT_STATUS(cublasLtMatmulDescGetAttribute(desc, D_TRANSA, nullptr, 0, &written), SUCCESS);
  EXPECT(written == 4, "TRANSA size %zu", written);
  EXPECT_STATUS(cublasLtMatmulDescGetAttribute(desc, D_BIAS_POINTER, nullptr, 0, &written),
                SUCCESS);
  EXPECT(written == 8, "BIAS_POINTER size %zu", written);
  EXPECT_STATUS(cublasLtMatmulDescGetAttribute(desc, D_EPILOGUE, &i32, 4, &written), SUCCESS);
  EXPECT(i32 == E_DEFAULT, "default epilogue %d", i32);
  EXPECT_STATUS(cublasLtMatmulDescGetAttribute(desc, D_COMPUTE, &i32, 4, &written), SUCCESS);
  EXPECT(i32 == C32F, "compute %d", i32);
  EXPECT_STATUS(cublasLtMatmulDescSetAttribute(desc, D_BIAS_POINTER, &i32, 4), INVALID_VALUE);
  EXPECT_STATUS(cublasLtMatmulDescSetAttribute(desc, D_A_SCALE_POINTER, &i64, 8), NOT_SUPPORTED);
  EXPECT_STATUS(cublasLtMatmulDescSetAttribute(desc, 99, &i32, 4), INVALID_VALUE);
  cublasLtMatrixLayout_t l;
  EXPECT_STATUS(cublasLtMatrixLayoutCreate(&l, R32F, 5, 6, 7), SUCCESS);
  uint64_t u64 = 0;
  EXPECT_STATUS(cublasLtMatrixLayoutGetAttribute(l, L_ROWS, &u64, 8, &written), SUCCESS);
  EXPECT(u64 == 5, "rows %llu", (unsigned long long)u64);
  EXPECT_STATUS(cublasLtMatrixLayoutGetAttribute(l, L_LD, &i64, 8, &written), SUCCESS);
  EXPECT(i64 == 7, "ld %lld", (long long)i64);
  EXPECT_STATUS(cublasLtMatrixLayoutGetAttribute(l, L_ROWS, &u32, 4, &written), INVALID_VALUE);
  EXPECT_STATUS(cublasLtMatrixLayoutSetAttribute(l, L_ROWS, &u32, 4), INVALID_VALUE);
  EXPECT_STATUS(cublasLtMatrixLayoutSetAttribute(l, L_STRIDE, &i32, 4), INVALID_VALUE);
  i32 = 0;
  EXPECT_STATUS(cublasLtMatrixLayoutSetAttribute(l, L_BATCH, &i32, 4), INVALID_VALUE);
  EXPECT_STATUS(cublasLtMatrixLayoutGetAttribute(l, L_TYPE, nullptr, 0, &written), SUCCESS);
  EXPECT(written == 4, "TYPE size %zu", written);
  cublasLtMatrixLayoutDestroy(l);
  cublasLtMatmulPreference_t pref;
  EXPECT_STATUS(cublasLtMatmulPreferenceCreate(&pref), SUCCESS);
  EXPECT_STATUS(cublasLtMatmulPreferenceSetAttribute(pref, P_MAX_WS, &u32, 4), INVALID_VALUE);

  // heuristic and check on a 40 x 24 x 64 FP32 problem, batch 2
  const int64_t m = 40, n = 24, k = 64;
  const int batch = 2;
  cublasLtMatrixLayout_t la = makeLayout(R32F, k, m, k, batch, k * m);  // A transposed
  cublasLtMatrixLayout_t lb = makeLayout(R32F, k, n, k, batch, k * n);
  cublasLtMatrixLayout_t lc = makeLayout(R32F, m, n, m, batch, m * n);
  setDescInt(desc, D_TRANSA, OP_T);
  const size_t splitWs = 4 * m * n * batch;
  cublasLtMatmulHeuristicResult_t r[16];
  u64 = 0;
  EXPECT_STATUS(cublasLtMatmulPreferenceSetAttribute(pref, P_MAX_WS, &u64, 8), SUCCESS);
  EXPECT_STATUS(cublasLtMatmulAlgoGetHeuristic(H.lt, desc, la, lb, lc, lc, pref, 16, r, &found),
                SUCCESS);
  EXPECT(found == 3, "%d results", found);
  for (int i = 0; i < found; i++) {
    EXPECT(r[i].state == 0 && r[i].workspaceSize == 0 && r[i].wavesCount == 1.0f,
           "result %d: state %d ws %zu", i, r[i].state, r[i].workspaceSize);
    for (int j = 0; j < i; j++)
      EXPECT(std::memcmp(&r[i].algo, &r[j].algo, sizeof(cublasLtMatmulAlgo_t)) != 0,
             "results %d and %d are the same algorithm", i, j);
    cublasLtMatmulHeuristicResult_t chk;
    EXPECT_STATUS(cublasLtMatmulAlgoCheck(H.lt, desc, la, lb, lc, lc, &r[i].algo, &chk), SUCCESS);
    EXPECT(chk.workspaceSize == r[i].workspaceSize && chk.state == 0, "check of result %d", i);
  }
  u64 = splitWs;
  EXPECT_STATUS(cublasLtMatmulPreferenceSetAttribute(pref, P_MAX_WS, &u64, 8), SUCCESS);
  EXPECT_STATUS(cublasLtMatmulAlgoGetHeuristic(H.lt, desc, la, lb, lc, lc, pref, 3, r, &found),
                SUCCESS);
  EXPECT(found == 3 && r[2].workspaceSize == splitWs, "split-K candidate ws %zu",
         r[2].workspaceSize);
  EXPECT_STATUS(cublasLtMatmulAlgoConfigGetAttribute(&r[2].algo, CFG_SPLITK, &u32, 4, &written),
                SUCCESS);
  EXPECT(u32 == 4, "heuristic split %u", u32);
  cublasLtMatmulAlgo_t splitAlgo = r[2].algo;
  cublasLtMatmulHeuristicResult_t first = r[0];
  EXPECT_STATUS(cublasLtMatmulAlgoGetHeuristic(H.lt, desc, la, lb, lc, lc, pref, 1, r, &found),
                SUCCESS);
  EXPECT(found == 1 && std::memcmp(&r[0].algo, &first.algo, 64) == 0, "request 1: %d", found);
  EXPECT_STATUS(cublasLtMatmulAlgoGetHeuristic(H.lt, desc, la, lb, lc, lc, pref, 0, r, &found),
                INVALID_VALUE);

  // check: configurations
  auto checkWith = [&](std::vector<std::pair<int, uint32_t>> fields, int wantStatus,
                       size_t wantWs) {
    cublasLtMatmulAlgo_t a;
    EXPECT_STATUS(cublasLtMatmulAlgoInit(H.lt, C32F, R32F, R32F, R32F, R32F, R32F, 3, &a), SUCCESS);
    for (auto& f : fields) {
      if (f.first == CFG_INNER || f.first == CFG_CLUSTER) {
        uint16_t v = (uint16_t)f.second;
        EXPECT_STATUS(cublasLtMatmulAlgoConfigSetAttribute(&a, f.first, &v, 2), SUCCESS);
      } else {
        EXPECT_STATUS(cublasLtMatmulAlgoConfigSetAttribute(&a, f.first, &f.second, 4), SUCCESS);
      }
    }
    cublasLtMatmulHeuristicResult_t res;
    int s = cublasLtMatmulAlgoCheck(H.lt, desc, la, lb, lc, lc, &a, &res);
    EXPECT(s == wantStatus && res.state == wantStatus, "check status %d state %d, expected %d", s,
           res.state, wantStatus);
    if (s == SUCCESS)
      EXPECT(res.workspaceSize == wantWs, "check ws %zu, expected %zu", res.workspaceSize, wantWs);
  };
  checkWith({}, SUCCESS, 0);
  checkWith({{CFG_TILE, 20}, {CFG_STAGES, 9}, {CFG_SWIZZLE, 1}, {CFG_CUSTOM, 1}}, SUCCESS, 0);
  checkWith({{CFG_SPLITK, 4}, {CFG_RED, RED_COMPUTE}}, SUCCESS, splitWs);
  checkWith({{CFG_SPLITK, 16}, {CFG_RED, RED_OUTPUT}}, SUCCESS, splitWs);
  checkWith({{CFG_SPLITK, 8}, {CFG_RED, RED_INPLACE}}, SUCCESS, 0);
  checkWith({{CFG_SPLITK, 2}, {CFG_RED, RED_NONE}}, NOT_SUPPORTED, 0);
  checkWith({{CFG_SPLITK, 65}, {CFG_RED, RED_INPLACE}}, NOT_SUPPORTED, 0);  // more splits than K
  checkWith({{CFG_TILE, 17}}, NOT_SUPPORTED, 0);
  checkWith({{CFG_STAGES, 8}}, NOT_SUPPORTED, 0);
  checkWith({{CFG_CUSTOM, 2}}, NOT_SUPPORTED, 0);
  checkWith({{CFG_INNER, 1}}, NOT_SUPPORTED, 0);
  checkWith({{CFG_CLUSTER, 2}}, SUCCESS, 0);  // 1x1x1
  checkWith({{CFG_CLUSTER, 5}}, NOT_SUPPORTED, 0);
  cublasLtMatmulHeuristicResult_t res;
  EXPECT_STATUS(cublasLtMatmulAlgoCheck(H.lt, desc, la, lb, lc, lc, &algoI8, &res), INVALID_VALUE);
  EXPECT_STATUS(cublasLtMatmulAlgoCheck(H.lt, desc, la, lb, lc, lc, &zero, &res), INVALID_VALUE);
  EXPECT_STATUS(cublasLtMatmulAlgoCheck(H.lt, desc, la, lb, lc, lc, &first.algo, nullptr),
                INVALID_VALUE);
  // layouts: a row-major C is not emulated; mismatched dimensions are invalid
  cublasLtMatrixLayout_t rowMajor = makeLayout(R32F, m, n, n, batch, m * n);
  i32 = 1;  // CUBLASLT_ORDER_ROW
  EXPECT_STATUS(cublasLtMatrixLayoutSetAttribute(rowMajor, L_ORDER, &i32, 4), SUCCESS);
  EXPECT_STATUS(cublasLtMatmulAlgoCheck(H.lt, desc, la, lb, rowMajor, rowMajor, &first.algo, &res),
                NOT_SUPPORTED);
  cublasLtMatrixLayout_t wrong = makeLayout(R32F, m + 1, n, m + 1, batch, (m + 1) * n);
  EXPECT_STATUS(cublasLtMatmulAlgoCheck(H.lt, desc, la, lb, wrong, wrong, &first.algo, &res),
                INVALID_VALUE);
  cublasLtMatrixLayout_t oneBatch = makeLayout(R32F, m, n, m, 1, 0);
  EXPECT_STATUS(cublasLtMatmulAlgoCheck(H.lt, desc, la, lb, oneBatch, oneBatch, &first.algo, &res),
                INVALID_VALUE);
  cublasLtMatrixLayout_t smallLd = makeLayout(R32F, m, n, m - 1, batch, m * n);
  EXPECT_STATUS(cublasLtMatmulAlgoCheck(H.lt, desc, la, lb, smallLd, smallLd, &first.algo, &res),
                INVALID_VALUE);
  int found2 = -1;
  EXPECT_STATUS(cublasLtMatmulAlgoGetHeuristic(H.lt, desc, la, lb, rowMajor, rowMajor, pref, 3, r,
                                               &found2),
                NOT_SUPPORTED);
  EXPECT(found2 == 0, "heuristic for an unsupported layout: %d", found2);

  // a split-K algorithm needs its workspace
  std::vector<float> A(k * m * batch), B(k * n * batch);
  std::vector<float> D1(m * n * batch, -1), D2(m * n * batch, -7);
  for (auto& v : A) v = (float)randomValue(R32F);
  for (auto& v : B) v = (float)randomValue(R32F);
  float one = 1, zeroF = 0;
  std::vector<unsigned char> ws(splitWs);
  EXPECT_STATUS(cublasLtMatmul(H.lt, desc, &one, A.data(), la, B.data(), lb, &zeroF, nullptr, lc,
                               D2.data(), lc, &splitAlgo, ws.data(), splitWs - 1, nullptr),
                NOT_SUPPORTED);
  EXPECT(D2[0] == -7 && D2.back() == -7, "refused matmul wrote D");
  EXPECT_STATUS(cublasLtMatmul(H.lt, desc, &one, A.data(), la, B.data(), lb, &zeroF, nullptr, lc,
                               D2.data(), lc, &splitAlgo, ws.data(), splitWs, nullptr),
                SUCCESS);
  EXPECT_STATUS(cublasLtMatmul(H.lt, desc, &one, A.data(), la, B.data(), lb, &zeroF, nullptr, lc,
                               D1.data(), lc, nullptr, nullptr, 0, nullptr),
                SUCCESS);
  EXPECT(std::memcmp(D1.data(), D2.data(), D1.size() * 4) == 0,
         "split-K and default algorithms differ");
  // in place needs one layout for C and D; the bias epilogue needs a bias; beta != 0 needs C
  cublasLtMatrixLayout_t otherLd = makeLayout(R32F, m, n, m, batch, m * n + 1);
  std::vector<float> big(m * n * batch + 64);
  EXPECT_STATUS(cublasLtMatmul(H.lt, desc, &one, A.data(), la, B.data(), lb, &one, big.data(), lc,
                               big.data(), otherLd, nullptr, nullptr, 0, nullptr),
                INVALID_VALUE);
  EXPECT_STATUS(cublasLtMatmul(H.lt, desc, &one, A.data(), la, B.data(), lb, &one, nullptr, lc,
                               D1.data(), lc, nullptr, nullptr, 0, nullptr),
                INVALID_VALUE);
  setDescInt(desc, D_EPILOGUE, E_BIAS);
  EXPECT_STATUS(cublasLtMatmul(H.lt, desc, &one, A.data(), la, B.data(), lb, &zeroF, nullptr, lc,
                               D1.data(), lc, nullptr, nullptr, 0, nullptr),
                INVALID_VALUE);
  setDescInt(desc, D_EPILOGUE, 2);  // RELU: not emulated
  EXPECT_STATUS(cublasLtMatmulAlgoCheck(H.lt, desc, la, lb, lc, lc, &first.algo, &res),
                NOT_SUPPORTED);
  setDescInt(desc, D_EPILOGUE, E_DEFAULT);
  EXPECT_STATUS(cublasLtMatmul(nullptr, desc, &one, A.data(), la, B.data(), lb, &zeroF, nullptr, lc,
                               D1.data(), lc, nullptr, nullptr, 0, nullptr),
                NOT_INITIALIZED);

  // INT8 takes no epilogue
  cublasLtMatmulDesc_t d8;
  EXPECT_STATUS(cublasLtMatmulDescCreate(&d8, C32I, R32I), SUCCESS);
  setDescInt(d8, D_TRANSA, OP_T);
  setDescInt(d8, D_EPILOGUE, E_BIAS);
  cublasLtMatrixLayout_t a8 = makeLayout(R8I, k, m, k, 1, 0), b8 = makeLayout(R8I, k, n, k, 1, 0),
                         c32 = makeLayout(R32I, m, n, m, 1, 0);
  EXPECT_STATUS(cublasLtMatmulAlgoCheck(H.lt, d8, a8, b8, c32, c32, &algoI8, &res), NOT_SUPPORTED);
  setDescInt(d8, D_EPILOGUE, E_DEFAULT);
  EXPECT_STATUS(cublasLtMatmulAlgoCheck(H.lt, d8, a8, b8, c32, c32, &algoI8, &res), SUCCESS);

  for (cublasLtMatrixLayout_t x :
       {la, lb, lc, rowMajor, wrong, oneBatch, smallLd, otherLd, a8, b8, c32})
    EXPECT_STATUS(cublasLtMatrixLayoutDestroy(x), SUCCESS);
  cublasLtMatmulDescDestroy(d8);
  cublasLtMatmulDescDestroy(desc);
  cublasLtMatmulPreferenceDestroy(pref);
  std::printf("%s protocol: ids, caps, configs, attributes, heuristic, check, workspace\n",
              g_failures == before ? "PASS" : "FAIL");
}

// ---- graph capture ------------------------------------------------------------------------------

static void testCapture() {
  int before = g_failures;
  const int64_t m = 5, n = 3, k = 4;
  std::vector<float> A(m * k), B(k * n), D(m * n, -1), bias(m);
  for (int64_t i = 0; i < m * k; i++) A[i] = (float)(i % 7) - 3;
  for (int64_t i = 0; i < k * n; i++) B[i] = (float)(i % 5) - 2;
  for (int64_t i = 0; i < m; i++) bias[i] = (float)i;
  auto expect = [&](float alpha, int64_t i, int64_t j) {
    double s = 0;
    for (int64_t p = 0; p < k; p++) s += (double)A[p * m + i] * B[j * k + p];
    return (float)(alpha * s + bias[i]);
  };
  cublasLtMatmulDesc_t desc;
  cublasLtMatmulDescCreate(&desc, C32F, R32F);
  setDescInt(desc, D_EPILOGUE, E_BIAS);
  const void* bp = bias.data();
  cublasLtMatmulDescSetAttribute(desc, D_BIAS_POINTER, &bp, 8);
  cublasLtMatrixLayout_t la = makeLayout(R32F, m, k, m, 1, 0), lb = makeLayout(R32F, k, n, k, 1, 0),
                         lc = makeLayout(R32F, m, n, m, 1, 0);
  float alpha = 2, beta = 0;
  int streamObject = 0;
  void* stream = &streamObject;

  g_capturingStream = stream;
  g_recorded.clear();
  EXPECT_STATUS(cublasLtMatmul(H.lt, desc, &alpha, A.data(), la, B.data(), lb, &beta, D.data(), lc,
                               D.data(), lc, nullptr, nullptr, 0, stream),
                SUCCESS);
  g_capturingStream = nullptr;
  EXPECT(g_recorded.size() == 1, "%zu recorded", g_recorded.size());
  bool untouched = true;
  for (float v : D) untouched &= v == -1;
  EXPECT(untouched, "a captured matmul computed at capture");
  // the call owns copies: change the scalars and the descriptors, destroy them
  alpha = 100;
  setDescInt(desc, D_EPILOGUE, E_DEFAULT);
  cublasLtMatrixLayoutDestroy(la);
  cublasLtMatrixLayoutDestroy(lb);
  cublasLtMatrixLayoutDestroy(lc);
  cublasLtMatmulDescDestroy(desc);
  if (g_recorded.size() == 1) {
    Recorded r = g_recorded[0];
    r.run(r.ctx);
    bool ok = true;
    for (int64_t j = 0; j < n; j++)
      for (int64_t i = 0; i < m; i++) ok &= D[j * m + i] == expect(2, i, j);
    EXPECT(ok, "replay 1 result");
    // a replay reads the operands' current contents
    A[0] = 10;
    r.run(r.ctx);
    ok = true;
    for (int64_t j = 0; j < n; j++)
      for (int64_t i = 0; i < m; i++) ok &= D[j * m + i] == expect(2, i, j);
    EXPECT(ok, "replay 2 result (new A)");
    r.release(r.ctx);
  }
  g_recorded.clear();

  // a stream that is not capturing: computed at once, nothing recorded
  g_capturingStream = stream;
  int otherStream = 0;
  cublasLtMatmulDescCreate(&desc, C32F, R32F);
  la = makeLayout(R32F, m, k, m, 1, 0);
  lb = makeLayout(R32F, k, n, k, 1, 0);
  lc = makeLayout(R32F, m, n, m, 1, 0);
  std::fill(D.begin(), D.end(), -1.0f);
  alpha = 1;
  EXPECT_STATUS(cublasLtMatmul(H.lt, desc, &alpha, A.data(), la, B.data(), lb, &beta, nullptr, lc,
                               D.data(), lc, nullptr, nullptr, 0, &otherStream),
                SUCCESS);
  g_capturingStream = nullptr;
  EXPECT(g_recorded.empty(), "recorded on a stream that is not capturing");
  EXPECT(D[0] == expect(1, 0, 0) - bias[0], "immediate result %g", D[0]);
  // a refused call is not recorded either
  g_capturingStream = stream;
  EXPECT_STATUS(cublasLtMatmul(H.lt, desc, &alpha, A.data(), la, B.data(), lb, &beta, nullptr, lc,
                               D.data(), la, nullptr, nullptr, 0, stream),
                INVALID_VALUE);
  g_capturingStream = nullptr;
  EXPECT(g_recorded.empty(), "an invalid call was recorded");
  cublasLtMatrixLayoutDestroy(la);
  cublasLtMatrixLayoutDestroy(lb);
  cublasLtMatrixLayoutDestroy(lc);
  cublasLtMatmulDescDestroy(desc);
  std::printf("%s capture hook: recorded, not computed until run, copies of scalars/descriptors\n",
              g_failures == before ? "PASS" : "FAIL");
}

// ---- ft4j's MatmulPlan call sequence ------------------------------------------------------------

// GemmShape.linear(rows = 19, in = 64, out = 48) with a bias: C[i][j] = sum_k A[i][k] W[j][k] +
// bias[j], row-major; cuBLAS A = W (transposed), cuBLAS B = A, m = 48, n = 19, k = 64.
static void testMatmulPlanSequence() {
  int before = g_failures;
  const int rows = 19, in = 64, out = 48;
  std::vector<float> a(rows * in), w(out * in), bias(out), c(rows * out, NAN);
  for (auto& v : a) v = (float)randomValue(R32F);
  for (auto& v : w) v = (float)randomValue(R32F);
  for (auto& v : bias) v = (float)randomValue(R32F);
  cublasLtMatmulDesc_t desc;
  EXPECT_STATUS(cublasLtMatmulDescCreate(&desc, C32F, R32F), SUCCESS);
  setDescInt(desc, D_SCALE, R32F);
  setDescInt(desc, D_TRANSA, OP_T);
  setDescInt(desc, D_TRANSB, OP_N);
  setDescInt(desc, D_EPILOGUE, E_BIAS);
  cublasLtMatrixLayout_t la = makeLayout(R32F, in, out, in, 1, 0);  // rows A = K, cols = N(out)
  cublasLtMatrixLayout_t lb = makeLayout(R32F, in, rows, in, 1, 0);
  cublasLtMatrixLayout_t lc = makeLayout(R32F, out, rows, out, 1, 0);
  cublasLtMatmulPreference_t pref;
  cublasLtMatmulPreferenceCreate(&pref);
  int64_t maxWs = 32 << 20;
  cublasLtMatmulPreferenceSetAttribute(pref, P_MAX_WS, &maxWs, 8);
  cublasLtMatmulHeuristicResult_t r[1];
  int found = 0;
  EXPECT_STATUS(cublasLtMatmulAlgoGetHeuristic(H.lt, desc, la, lb, lc, lc, pref, 1, r, &found),
                SUCCESS);
  cublasLtMatmulHeuristicResult_t chk;
  EXPECT_STATUS(cublasLtMatmulAlgoCheck(H.lt, desc, la, lb, lc, lc, &r[0].algo, &chk), SUCCESS);
  const void* bp = bias.data();
  EXPECT_STATUS(cublasLtMatmulDescSetAttribute(desc, D_BIAS_POINTER, &bp, 8), SUCCESS);
  float alpha = 1, beta = 0;
  std::vector<unsigned char> ws(1 << 10);
  EXPECT_STATUS(cublasLtMatmul(H.lt, desc, &alpha, w.data(), la, a.data(), lb, &beta, c.data(), lc,
                               c.data(), lc, &r[0].algo, ws.data(), ws.size(), nullptr),
                SUCCESS);
  double worst = 0;
  for (int i = 0; i < rows; i++)
    for (int j = 0; j < out; j++) {
      double s = bias[j];
      for (int p = 0; p < in; p++) s += (double)a[i * in + p] * w[j * in + p];
      worst = std::max(worst, std::fabs(c[i * out + j] - s));
    }
  EXPECT(worst < 1e-6, "row-major linear + bias: worst error %g", worst);
  cublasLtMatmulPreferenceDestroy(pref);
  cublasLtMatrixLayoutDestroy(la);
  cublasLtMatrixLayoutDestroy(lb);
  cublasLtMatrixLayoutDestroy(lc);
  cublasLtMatmulDescDestroy(desc);
  std::printf("%s MatmulPlan's call sequence (linear 19x64 -> 48 + bias)\n",
              g_failures == before ? "PASS" : "FAIL");
}

int main() {
  g_halfTable.resize(0x7c00);
  for (uint32_t b = 0; b < 0x7c00; b++) g_halfTable[b] = halfValue((uint16_t)b);
  EXPECT(offsetof(cublasLtMatmulHeuristicResult_t, workspaceSize) == 64 &&
             offsetof(cublasLtMatmulHeuristicResult_t, state) == 72 &&
             offsetof(cublasLtMatmulHeuristicResult_t, wavesCount) == 76,
         "heuristic result layout");
  EXPECT_STATUS(cublasLtCreate(&H.lt), SUCCESS);
  testProtocol();
  testHalf();
  testCapture();
  testMatmulPlanSequence();
  testGemms();
  EXPECT_STATUS(cublasLtDestroy(H.lt), SUCCESS);
  std::printf("%s: %d checks, %d failed\n", g_failures ? "FAILED" : "ALL PASSED", g_checks,
              g_failures);
  return g_failures ? 1 : 0;
}
