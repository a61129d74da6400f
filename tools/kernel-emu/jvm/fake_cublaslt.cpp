// fake_cublaslt.cpp: a CPU implementation ("fake") of the part of NVIDIA's cuBLASLt 13 C API that
// ft4j's Java code calls (java/src/main/java/org/ft4j/gemm/{CublasLt, MatmulPlan, LtAlgorithms,
// GemmTuner}.java, through the JavaCPP presets org.bytedeco:cuda 13.1-9.19-1.5.13, whose JNI glue
// libjnicublas.so calls these C symbols). Built as a shared library and LD_PRELOADed into the JVM
// together with a fake CUDA runtime (another file) whose "device memory" is ordinary host memory:
// every pointer this file is given is read and written directly.
//
// Self-contained: no CUDA or cuBLAS header exists on the machines this is built on, so every type,
// constant and signature is declared here, with the C ABI of the real libcublasLt.so.13 (every enum
// is a 32-bit int, cublasStatus_t is an int, handles and descriptors are pointers to opaque
// structs defined here; cublasLtMatmulAlgo_t and cublasLtMatmulHeuristicResult_t have the real
// header's layout, checked by static_assert, because JavaCPP reads their fields at the offsets it
// was compiled with). Numeric constants are those of the presets' Java classes (cuBLASLt 13.1).
//
// Build (any directory):
//   g++ -std=c++17 -O2 -fPIC -shared -pthread fake_cublaslt.cpp -o libfake_cublaslt.so
// Test: see test_fake_cublaslt.cpp (its first lines hold the command).
//
// WHAT IS EMULATED
//  * Handles, matmul descriptors, matrix layouts, preferences with the attribute get/set protocol
//    of cuBLASLt (a value of the documented size or CUBLAS_STATUS_INVALID_VALUE; a get with
//    sizeInBytes == 0 reports the size through sizeWritten).
//  * cublasLtMatmul: D = epilogue(alpha * op(A) * op(B) + beta * C [+ bias]) in cuBLAS column-major
//    terms, op from TRANSA / TRANSB (N, T; C on real types = T), strided batches (BATCH_COUNT,
//    STRIDED_BATCH_OFFSET on each layout; all batch counts equal), any ld >= rows, C and D with
//    their own layouts (in place when C == D with equal layouts). When beta == 0, C is not read (a
//    NaN-poisoned C stays out of D), as in cuBLAS. Type combinations (compute, scale, A, B, C=D):
//      FP32: 32F | 32F_PEDANTIC | 32F_FAST_TF32, scale 32F, all CUDA_R_32F. TF32 is NOT emulated:
//            the inputs are used at full precision (the GPU rounds them to TF32), so this fake is
//            more accurate than the GPU there.
//      FP16: 32F | 32F_PEDANTIC, scale 32F, all CUDA_R_16F (binary16 converted in software, round
//            to nearest even, subnormals kept).
//      I8->I32: 32I | 32I_PEDANTIC, scale 32I (alpha, beta int32), A/B CUDA_R_8I, C/D CUDA_R_32I;
//            exact int32 arithmetic (wrapping modulo 2^32 like the GPU's int32 accumulator).
//      I8->I8: 32I | 32I_PEDANTIC, scale 32F, A/B/C/D CUDA_R_8I; D = saturate(rne(alpha * acc +
//            beta * C)) to [-128, 127], evaluated in double (the GPU evaluates alpha * acc in
//            float: the results differ only where float rounding moves a value across a .5 tie).
//    Floating products are accumulated in double (every product of two floats is exact there) in
//    sequential K order, and the result is rounded ONCE to the output type: the fake reproduces
//    neither the GPU's FP32 accumulation rounding nor its summation order. The result never
//    depends on the algorithm, the workspace or the number of CPU threads.
//  * Epilogues DEFAULT, BIAS, GELU, GELU_BIAS (float types only): bias[i] is added to every element
//    of D's row i (bias indexed by the M index), of the output type by default
//    (CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE may also say CUDA_R_32F for FP16 output),
//    BIAS_BATCH_STRIDE elements apart per batch; GELU is the tanh approximation
//    0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), applied after the bias.
//  * Pointer modes HOST (alpha and beta read at the call) and DEVICE (read when the matmul runs:
//    "device" memory is host memory here).
//  * Algorithms: ids 0..3 for every supported type combination (cublasLtMatmulAlgoGetIds), all
//    with the same capabilities: split-K (any number of splits up to K) with reduction schemes
//    INPLACE | COMPUTE_TYPE | OUTPUT_TYPE, CTA swizzling 0/1, tiles {64x64, 128x64, 128x128},
//    stages {32x3, 64x3}, custom options 0..1, strided batch; epilogue mask DEFAULT | BIAS | GELU |
//    GELU_BIAS for float types, DEFAULT for INT8. The configuration lives in algo.data[] (see
//    AlgoFields). cublasLtMatmulAlgoCheck validates a configuration against those capabilities and
//    the problem, and reports its workspace: 4 * M * N * batch bytes for split-K with a
//    COMPUTE_TYPE or OUTPUT_TYPE reduction, else 0. cublasLtMatmul refuses (NOT_SUPPORTED) a
//    workspace smaller than that. The heuristic returns up to 3 distinct configurations, the
//    third a split-K one when the preference's workspace (and reduction mask) allow it.
//  * CUDA graph capture: see fakecuda_capture_record below. Otherwise every matmul runs at once,
//    synchronously, on the calling thread; the stream argument is ignored. GEMMs of 2^20
//    multiply-adds or more are split over helper threads that are joined before the call returns
//    (FAKE_CUBLASLT_THREADS, default min(cores, 8)). Speed: about 4 G multiply-adds/s on 2 cores
//    (a BERT-base FFN GEMM at 384 tokens: ~0.2 s).
//  * Validation as cuBLASLt documents it: unsupported types, orders, epilogues and algorithm
//    configurations are NOT_SUPPORTED; inconsistent dimensions (op(A) m x k, op(B) k x n, C and D
//    m x n), ld < rows, unequal batch counts, a BIAS epilogue without a bias pointer, C == NULL
//    with beta != 0, C == D with different layouts, an algorithm initialised for other types
//    (or not initialised) are INVALID_VALUE; a null handle is NOT_INITIALIZED.
//  * cublasLtMatmulAlgoInit accepts only the ids that cublasLtMatmulAlgoGetIds reports (others:
//    INVALID_VALUE, as documented for ids "outside the recognized range").
//
// WHAT IS NOT EMULATED (CUBLAS_STATUS_NOT_SUPPORTED, or INVALID_VALUE for unknown attribute ids)
//  * Other type combinations (16BF, FP8, 64F, complex, COMPUTE_16F, 32F_FAST_16F / 16BF, ...),
//    matrix orders other than CUBLASLT_ORDER_COL, pointer-array / grouped batches, plane offsets,
//    TRANSC != N, FILL_MODE != FULL, epilogues other than the four above (RELU, AUX, gradients),
//    scale/amax pointers, alpha vectors, emulation descriptors, matrix transforms, negative ld,
//    inner shapes other than UNDEFINED and cluster shapes other than AUTO / 1x1x1.
//  * Whatever restrictions the real library's INT8 (IMMA) kernels have with CUBLASLT_ORDER_COL
//    (its documentation asks for the "TN" form, 4-byte alignment, dimension multiples) are NOT
//    enforced: the fake computes any transpose combination, size and alignment.
//  * The workspace is never touched (its size is only checked).
//  * Performance: nothing here predicts GPU timings; the heuristic's order is arbitrary.
//  * cublasLt*Init_internal, loggers, the heuristics cache: absent (not called by ft4j).

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <mutex>
#include <new>
#include <thread>
#include <vector>

#define FAKE_LT_API extern "C" __attribute__((visibility("default")))

#ifndef FAKE_CUBLASLT_VERSION
#define FAKE_CUBLASLT_VERSION 130100  // what ft4j's tests and docs expect (cublasLtGetVersion)
#endif

// ---- the public types (C ABI of cublasLt.h) ---------------------------------------------------

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

// Opaque objects, defined below (the real header's *Opaque_t structs are never used by ft4j: it
// creates every descriptor with the *Create functions).
struct cublasLtContext;
struct FakeLtMatmulDesc;
struct FakeLtLayout;
struct FakeLtPreference;
typedef cublasLtContext* cublasLtHandle_t;
typedef FakeLtMatmulDesc* cublasLtMatmulDesc_t;
typedef FakeLtLayout* cublasLtMatrixLayout_t;
typedef FakeLtPreference* cublasLtMatmulPreference_t;

// The fake CUDA runtime's graph-capture hook (weak: absent when this library is used alone).
// fakecuda_capture_record(stream, run, ctx, release) returns 1 when `stream` is being captured:
// the work was recorded, run(ctx) will be called at every replay of the graph and release(ctx)
// once when the graph is destroyed; 0 when the stream is not capturing (the caller runs the work
// now and keeps ctx). Any other value: the runtime refused the work (e.g. a capture that was
// invalidated); the caller keeps ctx and reports CUBLAS_STATUS_EXECUTION_FAILED.
int fakecuda_capture_record(void* stream, void (*run)(void* ctx), void* ctx,
                            void (*release)(void* ctx)) __attribute__((weak));
}

static_assert(sizeof(cublasLtMatmulAlgo_t) == 64, "cublasLtMatmulAlgo_t is 8 64-bit words");
static_assert(sizeof(cublasLtMatmulHeuristicResult_t) == 96, "heuristic result is 96 bytes");
static_assert(offsetof(cublasLtMatmulHeuristicResult_t, workspaceSize) == 64, "layout");
static_assert(offsetof(cublasLtMatmulHeuristicResult_t, state) == 72, "layout");
static_assert(offsetof(cublasLtMatmulHeuristicResult_t, wavesCount) == 76, "layout");
static_assert(offsetof(cublasLtMatmulHeuristicResult_t, reserved) == 80, "layout");

namespace {

// ---- constants (cuBLASLt 13.1 values, from the presets' org.bytedeco.cuda.global classes) ------

enum : int {
  ST_SUCCESS = 0,
  ST_NOT_INITIALIZED = 1,
  ST_ALLOC_FAILED = 3,
  ST_INVALID_VALUE = 7,
  ST_ARCH_MISMATCH = 8,
  ST_MAPPING_ERROR = 11,
  ST_EXECUTION_FAILED = 13,
  ST_INTERNAL_ERROR = 14,
  ST_NOT_SUPPORTED = 15,
  ST_LICENSE_ERROR = 16,
};

enum : int { OP_N = 0, OP_T = 1, OP_C = 2 };
enum : int { FILL_LOWER = 0, FILL_UPPER = 1, FILL_FULL = 2 };
enum : int { PM_HOST = 0, PM_DEVICE = 1 };
enum : int { ORDER_COL = 0, ORDER_COL32_2R_4R4 = 4 };  // ORDER_ROW 1 ... COL32_2R_4R4 4
enum : int { BATCH_MODE_STRIDED = 0 };

enum : int {
  COMPUTE_16F = 64,
  COMPUTE_32F = 68,
  COMPUTE_32F_PEDANTIC = 69,
  COMPUTE_64F = 70,
  COMPUTE_32I = 72,
  COMPUTE_32I_PEDANTIC = 73,
  COMPUTE_32F_FAST_16F = 74,
  COMPUTE_32F_FAST_TF32 = 77,
};
enum : int { R_32F = 0, R_64F = 1, R_16F = 2, R_8I = 3, R_32I = 10 };

enum : int {  // cublasLtMatrixLayoutAttribute_t
  LAYOUT_TYPE = 0,
  LAYOUT_ORDER = 1,
  LAYOUT_ROWS = 2,
  LAYOUT_COLS = 3,
  LAYOUT_LD = 4,
  LAYOUT_BATCH_COUNT = 5,
  LAYOUT_STRIDED_BATCH_OFFSET = 6,
  LAYOUT_PLANE_OFFSET = 7,
  LAYOUT_BATCH_MODE = 8,
};

enum : int {  // cublasLtMatmulDescAttributes_t
  DESC_COMPUTE_TYPE = 0,
  DESC_SCALE_TYPE = 1,
  DESC_POINTER_MODE = 2,
  DESC_TRANSA = 3,
  DESC_TRANSB = 4,
  DESC_TRANSC = 5,
  DESC_FILL_MODE = 6,
  DESC_EPILOGUE = 7,
  DESC_BIAS_POINTER = 8,
  DESC_BIAS_BATCH_STRIDE = 10,
  DESC_SM_COUNT_TARGET = 15,
  DESC_BIAS_DATA_TYPE = 26,
  DESC_LAST_KNOWN = 40,  // ids up to here exist in cuBLASLt 13.1 (scale pointers, aux, ...)
};

enum : uint32_t { EPI_DEFAULT = 1, EPI_BIAS = 4, EPI_GELU = 32, EPI_GELU_BIAS = 36 };

enum : int {  // cublasLtMatmulPreferenceAttributes_t
  PREF_SEARCH_MODE = 0,
  PREF_MAX_WORKSPACE_BYTES = 1,
  PREF_REDUCTION_SCHEME_MASK = 3,
  PREF_MIN_ALIGNMENT_A_BYTES = 5,
  PREF_MIN_ALIGNMENT_B_BYTES = 6,
  PREF_MIN_ALIGNMENT_C_BYTES = 7,
  PREF_MIN_ALIGNMENT_D_BYTES = 8,
  PREF_MAX_WAVES_COUNT = 9,
  PREF_IMPL_MASK = 12,
  PREF_GROUPED_AVERAGE_REDUCTION_DIM = 13,
  PREF_GROUPED_DESC_D_AVERAGE_COLS = 15,
};

enum : int {  // cublasLtMatmulAlgoCapAttributes_t
  CAP_SPLITK_SUPPORT = 0,
  CAP_REDUCTION_SCHEME_MASK = 1,
  CAP_CTA_SWIZZLING_SUPPORT = 2,
  CAP_STRIDED_BATCH_SUPPORT = 3,
  CAP_OUT_OF_PLACE_RESULT_SUPPORT = 4,
  CAP_UPLO_SUPPORT = 5,
  CAP_TILE_IDS = 6,
  CAP_CUSTOM_OPTION_MAX = 7,
  CAP_CUSTOM_MEMORY_ORDER = 10,
  CAP_POINTER_MODE_MASK = 11,
  CAP_EPILOGUE_MASK = 12,
  CAP_STAGES_IDS = 13,
  CAP_LD_NEGATIVE = 14,
  CAP_NUMERICAL_IMPL_FLAGS = 15,
  CAP_MIN_ALIGNMENT_A_BYTES = 16,
  CAP_MIN_ALIGNMENT_B_BYTES = 17,
  CAP_MIN_ALIGNMENT_C_BYTES = 18,
  CAP_MIN_ALIGNMENT_D_BYTES = 19,
  CAP_POINTER_ARRAY_BATCH_SUPPORT = 21,
  CAP_FLOATING_POINT_EMULATION_SUPPORT = 22,
  CAP_POINTER_ARRAY_GROUPED_SUPPORT = 23,
};

enum : int {  // cublasLtMatmulAlgoConfigAttributes_t
  CFG_ID = 0,
  CFG_TILE_ID = 1,
  CFG_SPLITK_NUM = 2,
  CFG_REDUCTION_SCHEME = 3,
  CFG_CTA_SWIZZLING = 4,
  CFG_CUSTOM_OPTION = 5,
  CFG_STAGES_ID = 6,
  CFG_INNER_SHAPE_ID = 7,
  CFG_CLUSTER_SHAPE_ID = 8,
};

enum : uint32_t { RED_NONE = 0, RED_INPLACE = 1, RED_COMPUTE_TYPE = 2, RED_OUTPUT_TYPE = 4 };
constexpr uint32_t RED_MASK = 7;

constexpr uint32_t TILE_END = 635;      // CUBLASLT_MATMUL_TILE_END
constexpr uint32_t STAGES_END = 39;     // CUBLASLT_MATMUL_STAGES_END
constexpr uint16_t INNER_END = 5;       // CUBLASLT_MATMUL_INNER_SHAPE_END
constexpr uint16_t CLUSTER_END = 52;    // CUBLASLT_CLUSTER_SHAPE_END
constexpr uint16_t CLUSTER_1x1x1 = 2;   // CUBLASLT_CLUSTER_SHAPE_1x1x1

// The fake's algorithms and their capabilities (the same for every id).
constexpr int NUM_ALGO_IDS = 4;                           // ids 0..3
constexpr uint32_t TILE_IDS[] = {15, 18, 20};             // 64x64, 128x64, 128x128
constexpr uint32_t STAGES_IDS[] = {9, 15};                // 32x3, 64x3
constexpr int32_t CUSTOM_OPTION_MAX = 1;
constexpr uint32_t FLOAT_EPILOGUE_MASK = EPI_DEFAULT | EPI_BIAS | EPI_GELU | EPI_GELU_BIAS;
constexpr uint32_t INT8_EPILOGUE_MASK = EPI_DEFAULT;

constexpr uint32_t MAGIC_HANDLE = 0x4c54484eu;  // "LTHN"
constexpr uint32_t MAGIC_DESC = 0x4c544445u;    // "LTDE"
constexpr uint32_t MAGIC_LAYOUT = 0x4c544c41u;  // "LTLA"
constexpr uint32_t MAGIC_PREF = 0x4c545052u;    // "LTPR"
constexpr uint64_t MAGIC_ALGO = 0x46414b45u;    // "FAKE", high half of algo.data[0]

// ---- type combinations ------------------------------------------------------------------------

enum Combo : int { COMBO_NONE = -1, COMBO_F32 = 0, COMBO_F16 = 1, COMBO_I8I32 = 2, COMBO_I8I8 = 3 };

Combo comboOf(int compute, int scale, int a, int b, int c, int d) {
  if (a != b || c != d) return COMBO_NONE;
  bool f32compute =
      compute == COMPUTE_32F || compute == COMPUTE_32F_PEDANTIC || compute == COMPUTE_32F_FAST_TF32;
  bool i32compute = compute == COMPUTE_32I || compute == COMPUTE_32I_PEDANTIC;
  if (f32compute && scale == R_32F && a == R_32F && c == R_32F) return COMBO_F32;
  if ((compute == COMPUTE_32F || compute == COMPUTE_32F_PEDANTIC) && scale == R_32F &&
      a == R_16F && c == R_16F)
    return COMBO_F16;
  if (i32compute && scale == R_32I && a == R_8I && c == R_32I) return COMBO_I8I32;
  if (i32compute && scale == R_32F && a == R_8I && c == R_8I) return COMBO_I8I8;
  return COMBO_NONE;
}

bool isFloatCombo(Combo c) { return c == COMBO_F32 || c == COMBO_F16; }

size_t elementSize(int type) {
  switch (type) {
    case R_32F: return 4;
    case R_64F: return 8;
    case R_16F: return 2;
    case R_8I: return 1;
    case R_32I: return 4;
    default: return 1;
  }
}

// ---- binary16 <-> double, in software -----------------------------------------------------------

double halfToDouble(uint16_t h) {
  int sign = h >> 15;
  int exp = (h >> 10) & 0x1f;
  int mant = h & 0x3ff;
  double v;
  if (exp == 0x1f) {
    v = mant ? std::nan("") : INFINITY;
  } else if (exp == 0) {
    v = std::ldexp((double)mant, -24);  // subnormal (or zero): mant * 2^-24
  } else {
    v = std::ldexp((double)(mant | 0x400), exp - 25);  // 1.mant * 2^(exp-15)
  }
  return sign ? -v : v;
}

// Round a non-negative double holding at most 53 significant bits to the nearest integer, ties to
// even, without depending on the floating-point environment's rounding mode.
double roundHalfEven(double q) {
  double f = std::floor(q);
  double d = q - f;  // exact: q and f share their exponent range
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return std::fmod(f, 2.0) == 0 ? f : f + 1;
}

// double -> binary16, round to nearest even, subnormals kept, overflow to infinity; one rounding
// (not via float, which would round twice).
uint16_t doubleToHalf(double x) {
  uint16_t sign = std::signbit(x) ? 0x8000 : 0;
  if (std::isnan(x)) return 0x7e00 | sign;
  double ax = std::fabs(x);
  if (ax >= 65520.0) return 0x7c00 | sign;  // 65520 = max half + half an ulp: ties go to even = inf
  if (ax < 0x1p-14) {                        // subnormal range: steps of 2^-24
    double r = roundHalfEven(ax * 0x1p24);   // 0..1024; 1024 is the smallest normal's encoding
    return (uint16_t)(sign | (uint16_t)r);
  }
  int e;
  std::frexp(ax, &e);                        // ax = m * 2^e, m in [0.5, 1): exponent e - 1
  int unbiased = e - 1;                      // -14 .. 15
  double r = roundHalfEven(std::ldexp(ax, 10 - unbiased));  // [1024, 2048]
  if (r >= 2048) {
    r = 1024;
    unbiased++;
  }
  if (unbiased > 15) return 0x7c00 | sign;
  return (uint16_t)(sign | (uint16_t)((unbiased + 15) << 10) | (uint16_t)((int)r - 1024));
}

double geluTanh(double x) {
  const double k = 0.7978845608028654;  // sqrt(2 / pi)
  return 0.5 * x * (1.0 + std::tanh(k * (x + 0.044715 * x * x * x)));
}

// ---- descriptor contents ------------------------------------------------------------------------

struct DescData {
  int32_t computeType;
  int32_t scaleType;
  int32_t pointerMode = PM_HOST;
  int32_t transA = OP_N;
  int32_t transB = OP_N;
  int32_t transC = OP_N;
  int32_t fillMode = FILL_FULL;
  uint32_t epilogue = EPI_DEFAULT;
  const void* bias = nullptr;
  int64_t biasBatchStride = 0;
  int32_t biasType = -1;  // -1: the type of D
  int32_t smCountTarget = 0;
};

struct LayoutData {
  uint32_t type;
  int32_t order = ORDER_COL;
  uint64_t rows;
  uint64_t cols;
  int64_t ld;
  int32_t batchCount = 1;
  int64_t stride = 0;
  int64_t planeOffset = 0;
  int32_t batchMode = BATCH_MODE_STRIDED;
};

struct PrefData {
  uint32_t searchMode = 0;
  uint64_t maxWorkspace = 0;
  uint32_t reductionMask = RED_MASK;
  uint32_t minAlignment[4] = {256, 256, 256, 256};
  float maxWaves = 0;
  uint64_t implMask = ~0ull;
};

}  // namespace

struct cublasLtContext {
  uint32_t magic;
};
struct FakeLtMatmulDesc {
  uint32_t magic;
  DescData d;
};
struct FakeLtLayout {
  uint32_t magic;
  LayoutData d;
};
struct FakeLtPreference {
  uint32_t magic;
  PrefData d;
};

namespace {

// ---- the algorithm, packed into cublasLtMatmulAlgo_t::data --------------------------------------

struct AlgoFields {
  int32_t id = 0;
  uint32_t tile = 0;
  uint32_t stages = 0;
  uint32_t splitK = 1;
  uint32_t reduction = RED_NONE;
  uint32_t swizzle = 0;
  uint32_t custom = 0;
  uint16_t inner = 0;
  uint16_t cluster = 0;
  // the types the algorithm was initialised for (cublasLtMatmulAlgoInit's arguments)
  uint8_t compute = 0, scale = 0, a = 0, b = 0, c = 0, d = 0;
};

void packAlgo(const AlgoFields& f, cublasLtMatmulAlgo_t* algo) {
  algo->data[0] = (MAGIC_ALGO << 32) | (uint32_t)f.id;
  algo->data[1] = (uint64_t)f.tile | ((uint64_t)f.stages << 32);
  algo->data[2] = (uint64_t)f.splitK | ((uint64_t)f.reduction << 32);
  algo->data[3] = (uint64_t)f.swizzle | ((uint64_t)f.custom << 32);
  algo->data[4] = (uint64_t)f.inner | ((uint64_t)f.cluster << 16);
  algo->data[5] = (uint64_t)f.compute | ((uint64_t)f.scale << 8) | ((uint64_t)f.a << 16) |
                  ((uint64_t)f.b << 24) | ((uint64_t)f.c << 32) | ((uint64_t)f.d << 40);
  algo->data[6] = 0;
  algo->data[7] = 0;
}

// False when `algo` was not made by cublasLtMatmulAlgoInit / the heuristic of this library.
bool unpackAlgo(const cublasLtMatmulAlgo_t* algo, AlgoFields* f) {
  if (algo == nullptr || (algo->data[0] >> 32) != MAGIC_ALGO) return false;
  f->id = (int32_t)(uint32_t)algo->data[0];
  f->tile = (uint32_t)algo->data[1];
  f->stages = (uint32_t)(algo->data[1] >> 32);
  f->splitK = (uint32_t)algo->data[2];
  f->reduction = (uint32_t)(algo->data[2] >> 32);
  f->swizzle = (uint32_t)algo->data[3];
  f->custom = (uint32_t)(algo->data[3] >> 32);
  f->inner = (uint16_t)algo->data[4];
  f->cluster = (uint16_t)(algo->data[4] >> 16);
  uint64_t t = algo->data[5];
  f->compute = (uint8_t)t;
  f->scale = (uint8_t)(t >> 8);
  f->a = (uint8_t)(t >> 16);
  f->b = (uint8_t)(t >> 24);
  f->c = (uint8_t)(t >> 32);
  f->d = (uint8_t)(t >> 40);
  return true;
}

Combo comboOfAlgo(const AlgoFields& f) { return comboOf(f.compute, f.scale, f.a, f.b, f.c, f.d); }

template <size_t N>
bool contains(const uint32_t (&list)[N], uint32_t v) {
  for (uint32_t x : list)
    if (x == v) return true;
  return false;
}

// ---- attribute get/set helpers (cuBLASLt's size protocol) ---------------------------------------

template <class T>
int setValue(T* field, const void* buf, size_t size) {
  if (buf == nullptr || size != sizeof(T)) return ST_INVALID_VALUE;
  std::memcpy(field, buf, sizeof(T));
  return ST_SUCCESS;
}

template <class T>
int readValue(T* out, const void* buf, size_t size) {  // set without storing yet (to validate)
  return setValue(out, buf, size);
}

// A scalar or array value of `bytes` bytes at `src`: sizeInBytes == 0 only reports the size
// (sizeWritten required), else buf must be non-null and sizeInBytes exactly the size (arrays: at
// least the size).
int getBytes(const void* src, size_t bytes, bool array, void* buf, size_t size,
             size_t* sizeWritten) {
  if (size == 0) {
    if (sizeWritten == nullptr) return ST_INVALID_VALUE;
    *sizeWritten = bytes;
    return ST_SUCCESS;
  }
  if (buf == nullptr || (array ? size < bytes : size != bytes)) return ST_INVALID_VALUE;
  if (bytes) std::memcpy(buf, src, bytes);
  if (sizeWritten) *sizeWritten = bytes;
  return ST_SUCCESS;
}

template <class T>
int getValue(const T& v, void* buf, size_t size, size_t* sizeWritten) {
  return getBytes(&v, sizeof(T), false, buf, size, sizeWritten);
}

// ---- problem analysis ---------------------------------------------------------------------------

struct MatrixRef {  // one operand's layout, as the kernel needs it
  int type;
  int64_t ld;
  int64_t stride;
};

struct Problem {
  Combo combo;
  int64_t m, n, k, batch;
  bool transA, transB;
  MatrixRef A, B, C, D;
  uint32_t epilogue;
  int biasType;  // resolved (never -1) when the epilogue has a bias
  int64_t biasBatchStride;
  const void* bias;
  int pointerMode;
  int scaleType;
};

bool epilogueHasBias(uint32_t e) { return e == EPI_BIAS || e == EPI_GELU_BIAS; }
bool epilogueHasGelu(uint32_t e) { return e == EPI_GELU || e == EPI_GELU_BIAS; }

// Everything about the descriptors that does not depend on the pointers or the algorithm.
int analyze(const FakeLtMatmulDesc* descObj, const FakeLtLayout* a, const FakeLtLayout* b,
            const FakeLtLayout* c, const FakeLtLayout* d, Problem* p) {
  if (descObj == nullptr || a == nullptr || b == nullptr || c == nullptr || d == nullptr)
    return ST_INVALID_VALUE;
  if (descObj->magic != MAGIC_DESC || a->magic != MAGIC_LAYOUT || b->magic != MAGIC_LAYOUT ||
      c->magic != MAGIC_LAYOUT || d->magic != MAGIC_LAYOUT)
    return ST_INVALID_VALUE;
  const DescData& desc = descObj->d;
  const LayoutData* L[4] = {&a->d, &b->d, &c->d, &d->d};
  Combo combo = comboOf(desc.computeType, desc.scaleType, (int)a->d.type, (int)b->d.type,
                        (int)c->d.type, (int)d->d.type);
  if (combo == COMBO_NONE) return ST_NOT_SUPPORTED;
  for (const LayoutData* l : L) {
    if (l->order != ORDER_COL || l->batchMode != BATCH_MODE_STRIDED || l->planeOffset != 0)
      return ST_NOT_SUPPORTED;
    if (l->ld < 0) return ST_NOT_SUPPORTED;
    if (l->rows > (uint64_t)INT32_MAX || l->cols > (uint64_t)INT32_MAX) return ST_NOT_SUPPORTED;
    if (l->ld < (int64_t)std::max<uint64_t>(1, l->rows)) return ST_INVALID_VALUE;
    if (l->batchCount < 1) return ST_INVALID_VALUE;
  }
  if (desc.transC != OP_N || desc.fillMode != FILL_FULL) return ST_NOT_SUPPORTED;
  if (desc.pointerMode != PM_HOST && desc.pointerMode != PM_DEVICE) return ST_NOT_SUPPORTED;
  uint32_t e = desc.epilogue;
  if (e != EPI_DEFAULT && e != EPI_BIAS && e != EPI_GELU && e != EPI_GELU_BIAS)
    return ST_NOT_SUPPORTED;
  if (!isFloatCombo(combo) && e != EPI_DEFAULT) return ST_NOT_SUPPORTED;

  bool tA = desc.transA != OP_N, tB = desc.transB != OP_N;
  int64_t m = (int64_t)d->d.rows, n = (int64_t)d->d.cols;
  if ((int64_t)c->d.rows != m || (int64_t)c->d.cols != n) return ST_INVALID_VALUE;
  int64_t aRows = (int64_t)a->d.rows, aCols = (int64_t)a->d.cols;
  int64_t bRows = (int64_t)b->d.rows, bCols = (int64_t)b->d.cols;
  int64_t opARows = tA ? aCols : aRows, k = tA ? aRows : aCols;
  int64_t opBRows = tB ? bCols : bRows, opBCols = tB ? bRows : bCols;
  if (opARows != m || opBRows != k || opBCols != n) return ST_INVALID_VALUE;
  int32_t batch = d->d.batchCount;
  for (const LayoutData* l : L)
    if (l->batchCount != batch) return ST_INVALID_VALUE;

  int biasType = -1;
  if (epilogueHasBias(e)) {
    biasType = desc.biasType == -1 ? (int)d->d.type : desc.biasType;
    bool ok = biasType == (int)d->d.type || (combo == COMBO_F16 && biasType == R_32F);
    if (!ok) return ST_NOT_SUPPORTED;
  }

  p->combo = combo;
  p->m = m;
  p->n = n;
  p->k = k;
  p->batch = batch;
  p->transA = tA;
  p->transB = tB;
  p->A = {(int)a->d.type, a->d.ld, a->d.stride};
  p->B = {(int)b->d.type, b->d.ld, b->d.stride};
  p->C = {(int)c->d.type, c->d.ld, c->d.stride};
  p->D = {(int)d->d.type, d->d.ld, d->d.stride};
  p->epilogue = e;
  p->biasType = biasType;
  p->biasBatchStride = desc.biasBatchStride;
  p->bias = desc.bias;
  p->pointerMode = desc.pointerMode;
  p->scaleType = desc.scaleType;
  return ST_SUCCESS;
}

uint64_t splitWorkspace(const Problem& p) {
  return 4ull * (uint64_t)p.m * (uint64_t)p.n * (uint64_t)p.batch;
}

// Validates `f` against the capabilities and the problem; *workspace: what it needs.
int checkAlgo(const Problem& p, const AlgoFields& f, uint64_t* workspace) {
  Combo ac = comboOfAlgo(f);
  if (ac == COMBO_NONE || f.id < 0 || f.id >= NUM_ALGO_IDS) return ST_INVALID_VALUE;
  // initialised for other types than the problem's
  if (ac != p.combo) return ST_INVALID_VALUE;
  if (f.tile != 0 && !contains(TILE_IDS, f.tile)) return ST_NOT_SUPPORTED;
  if (f.stages != 0 && !contains(STAGES_IDS, f.stages)) return ST_NOT_SUPPORTED;
  if (f.swizzle > 1) return ST_NOT_SUPPORTED;
  if (f.custom > (uint32_t)CUSTOM_OPTION_MAX) return ST_NOT_SUPPORTED;
  if (f.inner != 0) return ST_NOT_SUPPORTED;
  if (f.cluster != 0 && f.cluster != CLUSTER_1x1x1) return ST_NOT_SUPPORTED;
  uint32_t epiMask = isFloatCombo(p.combo) ? FLOAT_EPILOGUE_MASK : INT8_EPILOGUE_MASK;
  if ((epiMask & p.epilogue) != p.epilogue) return ST_NOT_SUPPORTED;
  if (f.splitK < 1) return ST_NOT_SUPPORTED;
  uint64_t ws = 0;
  if (f.splitK > 1) {  // at most K slices, combined by one scheme of the caps' mask (not NONE)
    if ((uint64_t)f.splitK > (uint64_t)std::max<int64_t>(p.k, 1)) return ST_NOT_SUPPORTED;
    if (f.reduction != RED_INPLACE && f.reduction != RED_COMPUTE_TYPE &&
        f.reduction != RED_OUTPUT_TYPE)
      return ST_NOT_SUPPORTED;
    if (f.reduction != RED_INPLACE) ws = splitWorkspace(p);  // the partial sums, 4 bytes each
  }  // no split: the reduction scheme does not matter
  *workspace = ws;
  return ST_SUCCESS;
}

AlgoFields baseAlgo(const Problem& p, int id) {
  AlgoFields f;
  f.id = id;
  // the types, recovered from the problem's combination (the compute type as the descriptor said)
  switch (p.combo) {
    case COMBO_F32: f.a = f.b = f.c = f.d = R_32F; f.scale = R_32F; break;
    case COMBO_F16: f.a = f.b = f.c = f.d = R_16F; f.scale = R_32F; break;
    case COMBO_I8I32: f.a = f.b = R_8I; f.c = f.d = R_32I; f.scale = R_32I; break;
    case COMBO_I8I8: f.a = f.b = f.c = f.d = R_8I; f.scale = R_32F; break;
    default: break;
  }
  return f;
}

// The heuristic's candidates for `p`, best first (at most 3, distinct configurations).
std::vector<std::pair<AlgoFields, uint64_t>> heuristicCandidates(const Problem& p, int compute,
                                                                 const PrefData& pref) {
  std::vector<std::pair<AlgoFields, uint64_t>> out;
  AlgoFields a = baseAlgo(p, 0);
  a.compute = (uint8_t)compute;
  a.tile = 20;
  a.stages = 9;
  out.push_back({a, 0});
  AlgoFields b = baseAlgo(p, 1);
  b.compute = (uint8_t)compute;
  b.tile = 18;
  b.stages = 15;
  b.swizzle = 1;
  out.push_back({b, 0});
  AlgoFields c = baseAlgo(p, 2);
  c.compute = (uint8_t)compute;
  c.tile = 15;
  c.stages = 9;
  bool splitAdded = false;
  if (p.k >= 2) {
    c.splitK = (uint32_t)std::min<int64_t>(4, p.k);
    uint64_t ws = splitWorkspace(p);
    if ((pref.reductionMask & RED_COMPUTE_TYPE) && pref.maxWorkspace >= ws) {
      c.reduction = RED_COMPUTE_TYPE;
      out.push_back({c, ws});
      splitAdded = true;
    } else if (pref.reductionMask & RED_INPLACE) {
      c.reduction = RED_INPLACE;
      out.push_back({c, 0});
      splitAdded = true;
    }
  }
  if (!splitAdded) {
    AlgoFields d = baseAlgo(p, 3);
    d.compute = (uint8_t)compute;
    d.tile = 15;
    d.stages = 15;
    out.push_back({d, 0});
  }
  return out;
}

// ---- the computation ----------------------------------------------------------------------------

// A whole cublasLtMatmul call, with its own copies of everything it needs (a captured call runs
// after the descriptors may have been changed or destroyed).
struct MatmulCall {
  Problem p;
  // scalars: HOST pointer mode copies the values at the call; DEVICE mode reads them at run time
  double alphaF = 0, betaF = 0;
  int32_t alphaI = 0, betaI = 0;
  const void* alphaPtr = nullptr;
  const void* betaPtr = nullptr;
  const void* A = nullptr;
  const void* B = nullptr;
  const void* C = nullptr;
  void* D = nullptr;
};

void readScalars(const Problem& p, const void* alpha, const void* beta, MatmulCall* c) {
  if (p.scaleType == R_32I) {
    std::memcpy(&c->alphaI, alpha, 4);
    std::memcpy(&c->betaI, beta, 4);
  } else {
    float a, b;
    std::memcpy(&a, alpha, 4);
    std::memcpy(&b, beta, 4);
    c->alphaF = a;
    c->betaF = b;
  }
}

int threadCount() {
  static int n = [] {
    const char* env = std::getenv("FAKE_CUBLASLT_THREADS");
    if (env && *env) {
      int v = std::atoi(env);
      return std::max(1, std::min(v, 256));
    }
    unsigned hw = std::thread::hardware_concurrency();
    return (int)std::max(1u, std::min(hw == 0 ? 1u : hw, 8u));
  }();
  return n;
}

// Runs body(t) for t in [0, tasks) on up to threadCount() threads (the caller's among them).
template <class F>
void parallelFor(int64_t tasks, bool parallel, F&& body) {
  int threads = parallel ? (int)std::min<int64_t>(threadCount(), tasks) : 1;
  if (threads <= 1) {
    for (int64_t t = 0; t < tasks; t++) body(t);
    return;
  }
  std::atomic<int64_t> next{0};
  std::mutex failedLock;
  std::exception_ptr failed;  // the first exception of any worker, rethrown after the join
  auto worker = [&] {
    try {
      for (int64_t t; (t = next.fetch_add(1)) < tasks;) body(t);
    } catch (...) {
      std::lock_guard<std::mutex> hold(failedLock);
      if (!failed) failed = std::current_exception();
      next = tasks;  // the others stop too
    }
  };
  std::vector<std::thread> pool;
  for (int i = 1; i < threads; i++) {
    try {
      pool.emplace_back(worker);
    } catch (...) {
      break;  // no more threads: the others (and this one) do the work
    }
  }
  worker();
  for (std::thread& t : pool) t.join();
  if (failed) std::rethrow_exception(failed);
}

inline double loadFloat(const void* base, int type, int64_t index) {
  if (type == R_32F) {
    float v;
    std::memcpy(&v, (const char*)base + index * 4, 4);
    return v;
  }
  uint16_t h;  // R_16F
  std::memcpy(&h, (const char*)base + index * 2, 2);
  return halfToDouble(h);
}

inline void storeFloat(void* base, int type, int64_t index, double v) {
  if (type == R_32F) {
    float f = (float)v;  // one rounding (to nearest even) from the double result
    std::memcpy((char*)base + index * 4, &f, 4);
  } else {
    uint16_t h = doubleToHalf(v);
    std::memcpy((char*)base + index * 2, &h, 2);
  }
}

// Element (r, c) of a column-major matrix: index r + c * ld.
inline int64_t cm(int64_t r, int64_t c, int64_t ld) { return r + c * ld; }

// The product kernel. Operands are packed per batch into panels converted to the accumulation
// type T (double for floating types, uint32_t holding sign-extended int8 for INT8: uint32
// arithmetic wraps modulo 2^32 exactly like the GPU's int32 accumulator, without signed overflow):
//   A panels of R rows:    Ap[(ip * k + p) * R + r] = op(A)(ip * R + r, p), 0 beyond m;
//   B panels of JB columns: Bp[(jp * k + p) * JB + q] = op(B)(p, jp * JB + q), 0 beyond n.
// A micro-block of R x JB elements of D keeps its sums in registers (GCC vector extensions, 16-byte
// vectors: SSE2 on any x86-64, NEON on arm64) and runs over p in increasing order, so every
// element's sum is the plain sequential sum over p whatever the blocking and the thread split:
// results never depend on them. Padding lanes only ever see zeros from the other operand and are
// never stored.
constexpr int64_t JB = 4;  // columns of D per micro-block

template <class T>
struct Lanes {
  typedef T V __attribute__((vector_size(16)));
  static constexpr int64_t L = 16 / (int64_t)sizeof(T);  // lanes per vector
  static constexpr int64_t R = 2 * L;                    // rows of D per micro-block
};

template <class T, class Load>
void pack(const Problem& P, const void* A, const void* B, int64_t batch, std::vector<T>& Ap,
          std::vector<T>& Bp, Load load) {
  constexpr int64_t R = Lanes<T>::R;
  const int64_t m = P.m, n = P.n, k = P.k;
  const int64_t mp = (m + R - 1) / R, np = (n + JB - 1) / JB;
  Ap.assign((size_t)(mp * k * R), T(0));
  Bp.assign((size_t)(np * k * JB), T(0));
  const int64_t offA = batch * P.A.stride, offB = batch * P.B.stride;
  for (int64_t i = 0; i < m; i++)
    for (int64_t p = 0; p < k; p++)
      Ap[(size_t)(((i / R) * k + p) * R + i % R)] =
          (T)load(A, P.A.type, offA + (P.transA ? cm(p, i, P.A.ld) : cm(i, p, P.A.ld)));
  for (int64_t j = 0; j < n; j++)
    for (int64_t p = 0; p < k; p++)
      Bp[(size_t)(((j / JB) * k + p) * JB + j % JB)] =
          (T)load(B, P.B.type, offB + (P.transB ? cm(j, p, P.B.ld) : cm(p, j, P.B.ld)));
}

// acc[q][r] = sum over p = 0, 1, ..., k-1 of Ap(panel ip, p, r) * Bp(panel jp, p, q).
template <class T>
void microBlock(const T* Ap, const T* Bp, int64_t k, int64_t ip, int64_t jp,
                T (&acc)[JB][Lanes<T>::R]) {
  typedef typename Lanes<T>::V V;
  constexpr int64_t L = Lanes<T>::L, R = Lanes<T>::R;
  const T* a = Ap + ip * k * R;
  const T* b = Bp + jp * k * JB;
  V c00 = {}, c01 = {}, c10 = {}, c11 = {}, c20 = {}, c21 = {}, c30 = {}, c31 = {};
  for (int64_t p = 0; p < k; p++, a += R, b += JB) {
    V a0, a1;
    std::memcpy(&a0, a, sizeof a0);
    std::memcpy(&a1, a + L, sizeof a1);
    const T b0 = b[0], b1 = b[1], b2 = b[2], b3 = b[3];
    c00 += a0 * b0;
    c01 += a1 * b0;
    c10 += a0 * b1;
    c11 += a1 * b1;
    c20 += a0 * b2;
    c21 += a1 * b2;
    c30 += a0 * b3;
    c31 += a1 * b3;
  }
  const V* c[JB][2] = {{&c00, &c01}, {&c10, &c11}, {&c20, &c21}, {&c30, &c31}};
  for (int64_t q = 0; q < JB; q++) {
    std::memcpy(&acc[q][0], c[q][0], sizeof(V));
    std::memcpy(&acc[q][L], c[q][1], sizeof(V));
  }
}

// The output of D(i, j) of batch `b` from the accumulator value.
struct FloatOut {
  const MatmulCall& c;
  double alpha, beta;
  void operator()(int64_t b, int64_t i, int64_t j, double acc) const {
    const Problem& P = c.p;
    double v = alpha * acc;
    if (beta != 0) v += beta * loadFloat(c.C, P.C.type, b * P.C.stride + cm(i, j, P.C.ld));
    if (epilogueHasBias(P.epilogue))
      v += loadFloat(P.bias, P.biasType, b * P.biasBatchStride + i);
    if (epilogueHasGelu(P.epilogue)) v = geluTanh(v);
    storeFloat(c.D, P.D.type, b * P.D.stride + cm(i, j, P.D.ld), v);
  }
};

struct I32Out {
  const MatmulCall& c;
  int32_t alpha, beta;
  void operator()(int64_t b, int64_t i, int64_t j, uint32_t acc) const {
    const Problem& P = c.p;
    uint32_t v = (uint32_t)alpha * acc;  // int32 arithmetic, wrapping modulo 2^32
    if (beta != 0) {
      int32_t cv;
      std::memcpy(&cv, (const char*)c.C + 4 * (b * P.C.stride + cm(i, j, P.C.ld)), 4);
      v += (uint32_t)beta * (uint32_t)cv;
    }
    int32_t out = (int32_t)v;
    std::memcpy((char*)c.D + 4 * (b * P.D.stride + cm(i, j, P.D.ld)), &out, 4);
  }
};

struct I8Out {
  const MatmulCall& c;
  double alpha, beta;
  void operator()(int64_t b, int64_t i, int64_t j, uint32_t acc) const {
    const Problem& P = c.p;
    double v = alpha * (double)(int32_t)acc;
    if (beta != 0) v += beta * (double)((const int8_t*)c.C)[b * P.C.stride + cm(i, j, P.C.ld)];
    double r;
    if (std::isnan(v)) {
      r = 0;
    } else {
      double a = std::fabs(v);
      r = a > 1e6 ? a : roundHalfEven(a);  // beyond the int8 range anyway
      if (v < 0) r = -r;
    }
    r = std::max(-128.0, std::min(127.0, r));
    ((int8_t*)c.D)[b * P.D.stride + cm(i, j, P.D.ld)] = (int8_t)(int)r;
  }
};

template <class T, class Load, class Out>
void runGemm(const MatmulCall& c, Load load, const Out& out) {
  constexpr int64_t R = Lanes<T>::R;
  const Problem& P = c.p;
  const int64_t m = P.m, n = P.n, k = P.k, batch = P.batch;
  if (m == 0 || n == 0) return;
  const double work = (double)m * (double)n * (double)std::max<int64_t>(k, 1) * (double)batch;
  const bool parallel = work >= (double)(1 << 20) && threadCount() > 1;
  // tiles of D: TI rows x TJ columns (the A panels of a tile stay in cache across its columns)
  const int64_t TI = 16 * R, TJ = 16 * JB;
  const int64_t tilesI = (m + TI - 1) / TI, tilesJ = (n + TJ - 1) / TJ;
  auto tile = [&](const std::vector<T>& Ap, const std::vector<T>& Bp, int64_t b, int64_t t) {
    const int64_t i0 = (t % tilesI) * TI, j0 = (t / tilesI) * TJ;
    const int64_t i1 = std::min(m, i0 + TI), j1 = std::min(n, j0 + TJ);
    T acc[JB][R];
    for (int64_t jb = j0; jb < j1; jb += JB) {
      for (int64_t ib = i0; ib < i1; ib += R) {
        microBlock<T>(Ap.data(), Bp.data(), k, ib / R, jb / JB, acc);
        const int64_t rows = std::min(R, m - ib), cols = std::min(JB, n - jb);
        for (int64_t q = 0; q < cols; q++)
          for (int64_t r = 0; r < rows; r++) out(b, ib + r, jb + q, acc[q][r]);
      }
    }
  };
  if (parallel && batch >= threadCount()) {
    // one task per batch: each packs its own operands
    parallelFor(batch, true, [&](int64_t b) {
      std::vector<T> Ap, Bp;
      pack<T>(P, c.A, c.B, b, Ap, Bp, load);
      for (int64_t t = 0; t < tilesI * tilesJ; t++) tile(Ap, Bp, b, t);
    });
    return;
  }
  std::vector<T> Ap, Bp;
  for (int64_t b = 0; b < batch; b++) {
    pack<T>(P, c.A, c.B, b, Ap, Bp, load);
    parallelFor(tilesI * tilesJ, parallel, [&](int64_t t) { tile(Ap, Bp, b, t); });
  }
}

void execute(const MatmulCall& call) {
  MatmulCall c = call;
  if (c.p.pointerMode == PM_DEVICE) readScalars(c.p, c.alphaPtr, c.betaPtr, &c);
  switch (c.p.combo) {
    case COMBO_F32:
    case COMBO_F16:
      runGemm<double>(c, loadFloat, FloatOut{c, c.alphaF, c.betaF});
      break;
    case COMBO_I8I32:
    case COMBO_I8I8: {
      auto load8 = [](const void* base, int, int64_t index) -> uint32_t {
        return (uint32_t)(int32_t)((const int8_t*)base)[index];  // sign-extended
      };
      if (c.p.combo == COMBO_I8I32)
        runGemm<uint32_t>(c, load8, I32Out{c, c.alphaI, c.betaI});
      else
        runGemm<uint32_t>(c, load8, I8Out{c, c.alphaF, c.betaF});
      break;
    }
    default:
      break;
  }
}

void runCaptured(void* ctx) {
  try {
    execute(*static_cast<MatmulCall*>(ctx));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fake cuBLASLt: a captured cublasLtMatmul failed at replay: %s\n",
                 e.what());
  }
}

void releaseCaptured(void* ctx) { delete static_cast<MatmulCall*>(ctx); }

const char* statusName(int s) {
  switch (s) {
    case ST_SUCCESS: return "CUBLAS_STATUS_SUCCESS";
    case ST_NOT_INITIALIZED: return "CUBLAS_STATUS_NOT_INITIALIZED";
    case ST_ALLOC_FAILED: return "CUBLAS_STATUS_ALLOC_FAILED";
    case ST_INVALID_VALUE: return "CUBLAS_STATUS_INVALID_VALUE";
    case ST_ARCH_MISMATCH: return "CUBLAS_STATUS_ARCH_MISMATCH";
    case ST_MAPPING_ERROR: return "CUBLAS_STATUS_MAPPING_ERROR";
    case ST_EXECUTION_FAILED: return "CUBLAS_STATUS_EXECUTION_FAILED";
    case ST_INTERNAL_ERROR: return "CUBLAS_STATUS_INTERNAL_ERROR";
    case ST_NOT_SUPPORTED: return "CUBLAS_STATUS_NOT_SUPPORTED";
    case ST_LICENSE_ERROR: return "CUBLAS_STATUS_LICENSE_ERROR";
    default: return "<unknown>";
  }
}

const char* statusString(int s) {
  switch (s) {
    case ST_SUCCESS: return "success";
    case ST_NOT_INITIALIZED: return "the library was not initialized";
    case ST_ALLOC_FAILED: return "the resource allocation failed";
    case ST_INVALID_VALUE: return "an invalid numeric value was used as an argument";
    case ST_ARCH_MISMATCH: return "an absent device architectural feature is required";
    case ST_MAPPING_ERROR: return "an access to GPU memory space failed";
    case ST_EXECUTION_FAILED: return "the GPU program failed to execute";
    case ST_INTERNAL_ERROR: return "an internal operation failed";
    case ST_NOT_SUPPORTED: return "the functionality requested is not supported";
    case ST_LICENSE_ERROR: return "error detected trying to check the license";
    default: return "unknown error";
  }
}

bool validHandle(const cublasLtContext* h) { return h != nullptr && h->magic == MAGIC_HANDLE; }

}  // namespace

// ======================================= the C API ===============================================

FAKE_LT_API cublasStatus_t cublasLtCreate(cublasLtHandle_t* handle) {
  if (handle == nullptr) return ST_INVALID_VALUE;
  cublasLtContext* h = new (std::nothrow) cublasLtContext{MAGIC_HANDLE};
  if (h == nullptr) return ST_ALLOC_FAILED;
  *handle = h;
  return ST_SUCCESS;
}

// The Destroy of a descriptor, layout or preference: NULL is fine, a pointer that is not one of
// ours (or already destroyed) is INVALID_VALUE; the magic is cleared so a second destroy is caught.
template <typename T>
static cublasStatus_t destroyObject(T* object, uint32_t magic) {
  if (object == nullptr) return ST_SUCCESS;
  if (object->magic != magic) return ST_INVALID_VALUE;
  object->magic = 0;
  delete object;
  return ST_SUCCESS;
}

FAKE_LT_API cublasStatus_t cublasLtDestroy(cublasLtHandle_t handle) {
  if (!validHandle(handle)) return ST_NOT_INITIALIZED;
  handle->magic = 0;
  delete handle;
  return ST_SUCCESS;
}

FAKE_LT_API size_t cublasLtGetVersion(void) { return FAKE_CUBLASLT_VERSION; }

FAKE_LT_API size_t cublasLtGetCudartVersion(void) { return 13010; }

// libraryPropertyType: MAJOR_VERSION 0, MINOR_VERSION 1, PATCH_LEVEL 2
FAKE_LT_API cublasStatus_t cublasLtGetProperty(int type, int* value) {
  if (value == nullptr) return ST_INVALID_VALUE;
  switch (type) {
    case 0: *value = FAKE_CUBLASLT_VERSION / 10000; return ST_SUCCESS;
    case 1: *value = FAKE_CUBLASLT_VERSION / 100 % 100; return ST_SUCCESS;
    case 2: *value = FAKE_CUBLASLT_VERSION % 100; return ST_SUCCESS;
    default: return ST_INVALID_VALUE;
  }
}

FAKE_LT_API const char* cublasGetStatusName(cublasStatus_t status) { return statusName(status); }
FAKE_LT_API const char* cublasGetStatusString(cublasStatus_t status) {
  return statusString(status);
}
FAKE_LT_API const char* cublasLtGetStatusName(cublasStatus_t status) { return statusName(status); }
FAKE_LT_API const char* cublasLtGetStatusString(cublasStatus_t status) {
  return statusString(status);
}

// ---- matmul descriptor ----

FAKE_LT_API cublasStatus_t cublasLtMatmulDescCreate(cublasLtMatmulDesc_t* desc, int computeType,
                                                    int scaleType) {
  if (desc == nullptr) return ST_INVALID_VALUE;
  FakeLtMatmulDesc* d = new (std::nothrow) FakeLtMatmulDesc;
  if (d == nullptr) return ST_ALLOC_FAILED;
  d->magic = MAGIC_DESC;
  d->d.computeType = computeType;
  d->d.scaleType = scaleType;
  *desc = d;
  return ST_SUCCESS;
}

FAKE_LT_API cublasStatus_t cublasLtMatmulDescDestroy(cublasLtMatmulDesc_t desc) {
  return destroyObject(desc, MAGIC_DESC);
}

FAKE_LT_API cublasStatus_t cublasLtMatmulDescSetAttribute(cublasLtMatmulDesc_t desc, int attr,
                                                          const void* buf, size_t size) {
  if (desc == nullptr || desc->magic != MAGIC_DESC) return ST_INVALID_VALUE;
  DescData& d = desc->d;
  int32_t v = 0;
  switch (attr) {
    case DESC_COMPUTE_TYPE: return setValue(&d.computeType, buf, size);
    case DESC_SCALE_TYPE: return setValue(&d.scaleType, buf, size);
    case DESC_POINTER_MODE: return setValue(&d.pointerMode, buf, size);
    case DESC_TRANSA:
    case DESC_TRANSB:
    case DESC_TRANSC: {
      int s = readValue(&v, buf, size);
      if (s != ST_SUCCESS) return s;
      if (v != OP_N && v != OP_T && v != OP_C) return ST_INVALID_VALUE;
      (attr == DESC_TRANSA ? d.transA : attr == DESC_TRANSB ? d.transB : d.transC) = v;
      return ST_SUCCESS;
    }
    case DESC_FILL_MODE: {
      int s = readValue(&v, buf, size);
      if (s != ST_SUCCESS) return s;
      if (v < FILL_LOWER || v > FILL_FULL) return ST_INVALID_VALUE;
      d.fillMode = v;
      return ST_SUCCESS;
    }
    case DESC_EPILOGUE: return setValue(&d.epilogue, buf, size);
    case DESC_BIAS_POINTER: return setValue(&d.bias, buf, size);
    case DESC_BIAS_BATCH_STRIDE: return setValue(&d.biasBatchStride, buf, size);
    case DESC_BIAS_DATA_TYPE: return setValue(&d.biasType, buf, size);
    case DESC_SM_COUNT_TARGET: return setValue(&d.smCountTarget, buf, size);  // a hint: ignored
    default:
      // other cuBLASLt 13.1 attributes (scale / amax / aux pointers, alpha vectors, ...) are
      // real but not emulated; anything else is unknown
      return attr >= 0 && attr <= DESC_LAST_KNOWN ? ST_NOT_SUPPORTED : ST_INVALID_VALUE;
  }
}

FAKE_LT_API cublasStatus_t cublasLtMatmulDescGetAttribute(cublasLtMatmulDesc_t desc, int attr,
                                                          void* buf, size_t size,
                                                          size_t* sizeWritten) {
  if (desc == nullptr || desc->magic != MAGIC_DESC) return ST_INVALID_VALUE;
  const DescData& d = desc->d;
  switch (attr) {
    case DESC_COMPUTE_TYPE: return getValue(d.computeType, buf, size, sizeWritten);
    case DESC_SCALE_TYPE: return getValue(d.scaleType, buf, size, sizeWritten);
    case DESC_POINTER_MODE: return getValue(d.pointerMode, buf, size, sizeWritten);
    case DESC_TRANSA: return getValue(d.transA, buf, size, sizeWritten);
    case DESC_TRANSB: return getValue(d.transB, buf, size, sizeWritten);
    case DESC_TRANSC: return getValue(d.transC, buf, size, sizeWritten);
    case DESC_FILL_MODE: return getValue(d.fillMode, buf, size, sizeWritten);
    case DESC_EPILOGUE: return getValue(d.epilogue, buf, size, sizeWritten);
    case DESC_BIAS_POINTER: return getValue(d.bias, buf, size, sizeWritten);
    case DESC_BIAS_BATCH_STRIDE: return getValue(d.biasBatchStride, buf, size, sizeWritten);
    case DESC_BIAS_DATA_TYPE: return getValue(d.biasType, buf, size, sizeWritten);
    case DESC_SM_COUNT_TARGET: return getValue(d.smCountTarget, buf, size, sizeWritten);
    default: return attr >= 0 && attr <= DESC_LAST_KNOWN ? ST_NOT_SUPPORTED : ST_INVALID_VALUE;
  }
}

// ---- matrix layout ----

FAKE_LT_API cublasStatus_t cublasLtMatrixLayoutCreate(cublasLtMatrixLayout_t* layout, int type,
                                                      uint64_t rows, uint64_t cols, int64_t ld) {
  if (layout == nullptr) return ST_INVALID_VALUE;
  FakeLtLayout* l = new (std::nothrow) FakeLtLayout;
  if (l == nullptr) return ST_ALLOC_FAILED;
  l->magic = MAGIC_LAYOUT;
  l->d.type = (uint32_t)type;
  l->d.rows = rows;
  l->d.cols = cols;
  l->d.ld = ld;
  *layout = l;
  return ST_SUCCESS;
}

FAKE_LT_API cublasStatus_t cublasLtMatrixLayoutDestroy(cublasLtMatrixLayout_t layout) {
  return destroyObject(layout, MAGIC_LAYOUT);
}

FAKE_LT_API cublasStatus_t cublasLtMatrixLayoutSetAttribute(cublasLtMatrixLayout_t layout,
                                                            int attr, const void* buf,
                                                            size_t size) {
  if (layout == nullptr || layout->magic != MAGIC_LAYOUT) return ST_INVALID_VALUE;
  LayoutData& l = layout->d;
  switch (attr) {
    case LAYOUT_TYPE: return setValue(&l.type, buf, size);
    case LAYOUT_ORDER: {
      int32_t v;
      int s = readValue(&v, buf, size);
      if (s != ST_SUCCESS) return s;
      if (v < ORDER_COL || v > ORDER_COL32_2R_4R4) return ST_INVALID_VALUE;
      l.order = v;  // only ORDER_COL is computed: the others fail at use (NOT_SUPPORTED)
      return ST_SUCCESS;
    }
    case LAYOUT_ROWS: return setValue(&l.rows, buf, size);
    case LAYOUT_COLS: return setValue(&l.cols, buf, size);
    case LAYOUT_LD: return setValue(&l.ld, buf, size);
    case LAYOUT_BATCH_COUNT: {
      int32_t v;
      int s = readValue(&v, buf, size);
      if (s != ST_SUCCESS) return s;
      if (v < 1) return ST_INVALID_VALUE;
      l.batchCount = v;
      return ST_SUCCESS;
    }
    case LAYOUT_STRIDED_BATCH_OFFSET: return setValue(&l.stride, buf, size);
    case LAYOUT_PLANE_OFFSET: return setValue(&l.planeOffset, buf, size);
    case LAYOUT_BATCH_MODE: return setValue(&l.batchMode, buf, size);
    default: return ST_INVALID_VALUE;
  }
}

FAKE_LT_API cublasStatus_t cublasLtMatrixLayoutGetAttribute(cublasLtMatrixLayout_t layout,
                                                            int attr, void* buf, size_t size,
                                                            size_t* sizeWritten) {
  if (layout == nullptr || layout->magic != MAGIC_LAYOUT) return ST_INVALID_VALUE;
  const LayoutData& l = layout->d;
  switch (attr) {
    case LAYOUT_TYPE: return getValue(l.type, buf, size, sizeWritten);
    case LAYOUT_ORDER: return getValue(l.order, buf, size, sizeWritten);
    case LAYOUT_ROWS: return getValue(l.rows, buf, size, sizeWritten);
    case LAYOUT_COLS: return getValue(l.cols, buf, size, sizeWritten);
    case LAYOUT_LD: return getValue(l.ld, buf, size, sizeWritten);
    case LAYOUT_BATCH_COUNT: return getValue(l.batchCount, buf, size, sizeWritten);
    case LAYOUT_STRIDED_BATCH_OFFSET: return getValue(l.stride, buf, size, sizeWritten);
    case LAYOUT_PLANE_OFFSET: return getValue(l.planeOffset, buf, size, sizeWritten);
    case LAYOUT_BATCH_MODE: return getValue(l.batchMode, buf, size, sizeWritten);
    default: return ST_INVALID_VALUE;
  }
}

// ---- preference ----

FAKE_LT_API cublasStatus_t cublasLtMatmulPreferenceCreate(cublasLtMatmulPreference_t* pref) {
  if (pref == nullptr) return ST_INVALID_VALUE;
  FakeLtPreference* p = new (std::nothrow) FakeLtPreference;
  if (p == nullptr) return ST_ALLOC_FAILED;
  p->magic = MAGIC_PREF;
  *pref = p;
  return ST_SUCCESS;
}

FAKE_LT_API cublasStatus_t cublasLtMatmulPreferenceDestroy(cublasLtMatmulPreference_t pref) {
  return destroyObject(pref, MAGIC_PREF);
}

FAKE_LT_API cublasStatus_t cublasLtMatmulPreferenceSetAttribute(cublasLtMatmulPreference_t pref,
                                                                int attr, const void* buf,
                                                                size_t size) {
  if (pref == nullptr || pref->magic != MAGIC_PREF) return ST_INVALID_VALUE;
  PrefData& p = pref->d;
  switch (attr) {
    case PREF_SEARCH_MODE: return setValue(&p.searchMode, buf, size);  // ignored
    case PREF_MAX_WORKSPACE_BYTES: return setValue(&p.maxWorkspace, buf, size);
    case PREF_REDUCTION_SCHEME_MASK: return setValue(&p.reductionMask, buf, size);
    case PREF_MIN_ALIGNMENT_A_BYTES:
    case PREF_MIN_ALIGNMENT_B_BYTES:
    case PREF_MIN_ALIGNMENT_C_BYTES:
    case PREF_MIN_ALIGNMENT_D_BYTES:  // the fake needs no alignment: accepted, ignored
      return setValue(&p.minAlignment[attr - PREF_MIN_ALIGNMENT_A_BYTES], buf, size);
    case PREF_MAX_WAVES_COUNT: return setValue(&p.maxWaves, buf, size);  // ignored
    case PREF_IMPL_MASK: return setValue(&p.implMask, buf, size);        // ignored
    default:
      return attr >= PREF_GROUPED_AVERAGE_REDUCTION_DIM && attr <= PREF_GROUPED_DESC_D_AVERAGE_COLS
                 ? ST_NOT_SUPPORTED
                 : ST_INVALID_VALUE;
  }
}

FAKE_LT_API cublasStatus_t cublasLtMatmulPreferenceGetAttribute(cublasLtMatmulPreference_t pref,
                                                                int attr, void* buf, size_t size,
                                                                size_t* sizeWritten) {
  if (pref == nullptr || pref->magic != MAGIC_PREF) return ST_INVALID_VALUE;
  const PrefData& p = pref->d;
  switch (attr) {
    case PREF_SEARCH_MODE: return getValue(p.searchMode, buf, size, sizeWritten);
    case PREF_MAX_WORKSPACE_BYTES: return getValue(p.maxWorkspace, buf, size, sizeWritten);
    case PREF_REDUCTION_SCHEME_MASK: return getValue(p.reductionMask, buf, size, sizeWritten);
    case PREF_MIN_ALIGNMENT_A_BYTES:
    case PREF_MIN_ALIGNMENT_B_BYTES:
    case PREF_MIN_ALIGNMENT_C_BYTES:
    case PREF_MIN_ALIGNMENT_D_BYTES:
      return getValue(p.minAlignment[attr - PREF_MIN_ALIGNMENT_A_BYTES], buf, size, sizeWritten);
    case PREF_MAX_WAVES_COUNT: return getValue(p.maxWaves, buf, size, sizeWritten);
    case PREF_IMPL_MASK: return getValue(p.implMask, buf, size, sizeWritten);
    default: return ST_INVALID_VALUE;
  }
}

// ---- algorithms ----

FAKE_LT_API cublasStatus_t cublasLtMatmulAlgoGetIds(cublasLtHandle_t handle, int computeType,
                                                    int scaleType, int Atype, int Btype,
                                                    int Ctype, int Dtype, int requestedAlgoCount,
                                                    int algoIdsArray[], int* returnAlgoCount) {
  if (!validHandle(handle)) return ST_NOT_INITIALIZED;
  if (requestedAlgoCount <= 0 || algoIdsArray == nullptr || returnAlgoCount == nullptr)
    return ST_INVALID_VALUE;
  int n = 0;
  if (comboOf(computeType, scaleType, Atype, Btype, Ctype, Dtype) != COMBO_NONE) {
    for (int id = 0; id < NUM_ALGO_IDS && n < requestedAlgoCount; id++) algoIdsArray[n++] = id;
  }
  *returnAlgoCount = n;
  return ST_SUCCESS;
}

FAKE_LT_API cublasStatus_t cublasLtMatmulAlgoInit(cublasLtHandle_t handle, int computeType,
                                                  int scaleType, int Atype, int Btype, int Ctype,
                                                  int Dtype, int algoId,
                                                  cublasLtMatmulAlgo_t* algo) {
  if (!validHandle(handle)) return ST_NOT_INITIALIZED;
  if (algo == nullptr || algoId < 0 || algoId >= NUM_ALGO_IDS) return ST_INVALID_VALUE;
  if (comboOf(computeType, scaleType, Atype, Btype, Ctype, Dtype) == COMBO_NONE)
    return ST_NOT_SUPPORTED;
  AlgoFields f;  // defaults: tile and stages UNDEFINED, no split, no swizzle, custom 0
  f.id = algoId;
  f.compute = (uint8_t)computeType;
  f.scale = (uint8_t)scaleType;
  f.a = (uint8_t)Atype;
  f.b = (uint8_t)Btype;
  f.c = (uint8_t)Ctype;
  f.d = (uint8_t)Dtype;
  packAlgo(f, algo);
  return ST_SUCCESS;
}

FAKE_LT_API cublasStatus_t cublasLtMatmulAlgoCapGetAttribute(const cublasLtMatmulAlgo_t* algo,
                                                             int attr, void* buf, size_t size,
                                                             size_t* sizeWritten) {
  AlgoFields f;
  if (!unpackAlgo(algo, &f)) return ST_INVALID_VALUE;
  Combo combo = comboOfAlgo(f);
  if (combo == COMBO_NONE) return ST_INVALID_VALUE;
  auto i32 = [&](int32_t v) { return getValue(v, buf, size, sizeWritten); };
  auto u32 = [&](uint32_t v) { return getValue(v, buf, size, sizeWritten); };
  switch (attr) {
    case CAP_SPLITK_SUPPORT: return i32(1);
    case CAP_REDUCTION_SCHEME_MASK: return u32(RED_MASK);
    case CAP_CTA_SWIZZLING_SUPPORT: return u32(1);
    case CAP_STRIDED_BATCH_SUPPORT: return i32(1);
    case CAP_OUT_OF_PLACE_RESULT_SUPPORT: return i32(1);
    case CAP_UPLO_SUPPORT: return i32(0);
    case CAP_TILE_IDS:
      return getBytes(TILE_IDS, sizeof(TILE_IDS), true, buf, size, sizeWritten);
    case CAP_CUSTOM_OPTION_MAX: return i32(CUSTOM_OPTION_MAX);
    case CAP_CUSTOM_MEMORY_ORDER: return i32(0);
    case CAP_POINTER_MODE_MASK: return u32(1u | 2u);  // HOST | DEVICE
    case CAP_EPILOGUE_MASK:
      return u32(isFloatCombo(combo) ? FLOAT_EPILOGUE_MASK : INT8_EPILOGUE_MASK);
    case CAP_STAGES_IDS:
      return getBytes(STAGES_IDS, sizeof(STAGES_IDS), true, buf, size, sizeWritten);
    case CAP_LD_NEGATIVE: return i32(0);
    case CAP_NUMERICAL_IMPL_FLAGS: return getValue((uint64_t)0, buf, size, sizeWritten);
    case CAP_MIN_ALIGNMENT_A_BYTES: return u32((uint32_t)elementSize(f.a));
    case CAP_MIN_ALIGNMENT_B_BYTES: return u32((uint32_t)elementSize(f.b));
    case CAP_MIN_ALIGNMENT_C_BYTES: return u32((uint32_t)elementSize(f.c));
    case CAP_MIN_ALIGNMENT_D_BYTES: return u32((uint32_t)elementSize(f.d));
    case CAP_POINTER_ARRAY_BATCH_SUPPORT:
    case CAP_FLOATING_POINT_EMULATION_SUPPORT:
    case CAP_POINTER_ARRAY_GROUPED_SUPPORT: return i32(0);
    default: return ST_INVALID_VALUE;
  }
}

FAKE_LT_API cublasStatus_t cublasLtMatmulAlgoConfigSetAttribute(cublasLtMatmulAlgo_t* algo,
                                                                int attr, const void* buf,
                                                                size_t size) {
  AlgoFields f;
  if (!unpackAlgo(algo, &f)) return ST_INVALID_VALUE;
  uint32_t v = 0;
  uint16_t h = 0;
  int s;
  switch (attr) {
    case CFG_ID: return ST_INVALID_VALUE;  // read-only: set by cublasLtMatmulAlgoInit
    case CFG_TILE_ID:
      if ((s = readValue(&v, buf, size)) != ST_SUCCESS) return s;
      if (v >= TILE_END) return ST_INVALID_VALUE;
      f.tile = v;
      break;
    case CFG_STAGES_ID:
      if ((s = readValue(&v, buf, size)) != ST_SUCCESS) return s;
      if (v >= STAGES_END) return ST_INVALID_VALUE;
      f.stages = v;
      break;
    case CFG_SPLITK_NUM:
      if ((s = readValue(&v, buf, size)) != ST_SUCCESS) return s;
      if (v < 1) return ST_INVALID_VALUE;
      f.splitK = v;
      break;
    case CFG_REDUCTION_SCHEME:
      if ((s = readValue(&v, buf, size)) != ST_SUCCESS) return s;
      if (v != RED_NONE && v != RED_INPLACE && v != RED_COMPUTE_TYPE && v != RED_OUTPUT_TYPE)
        return ST_INVALID_VALUE;
      f.reduction = v;
      break;
    case CFG_CTA_SWIZZLING:
      if ((s = readValue(&v, buf, size)) != ST_SUCCESS) return s;
      if (v > 1) return ST_INVALID_VALUE;
      f.swizzle = v;
      break;
    case CFG_CUSTOM_OPTION:
      if ((s = readValue(&v, buf, size)) != ST_SUCCESS) return s;
      f.custom = v;  // checked against CUSTOM_OPTION_MAX by cublasLtMatmulAlgoCheck
      break;
    case CFG_INNER_SHAPE_ID:
      if ((s = readValue(&h, buf, size)) != ST_SUCCESS) return s;
      if (h >= INNER_END) return ST_INVALID_VALUE;
      f.inner = h;
      break;
    case CFG_CLUSTER_SHAPE_ID:
      if ((s = readValue(&h, buf, size)) != ST_SUCCESS) return s;
      if (h >= CLUSTER_END) return ST_INVALID_VALUE;
      f.cluster = h;
      break;
    default: return ST_INVALID_VALUE;
  }
  packAlgo(f, algo);
  return ST_SUCCESS;
}

FAKE_LT_API cublasStatus_t cublasLtMatmulAlgoConfigGetAttribute(const cublasLtMatmulAlgo_t* algo,
                                                                int attr, void* buf, size_t size,
                                                                size_t* sizeWritten) {
  AlgoFields f;
  if (!unpackAlgo(algo, &f)) return ST_INVALID_VALUE;
  switch (attr) {
    case CFG_ID: return getValue(f.id, buf, size, sizeWritten);
    case CFG_TILE_ID: return getValue(f.tile, buf, size, sizeWritten);
    case CFG_SPLITK_NUM: return getValue(f.splitK, buf, size, sizeWritten);
    case CFG_REDUCTION_SCHEME: return getValue(f.reduction, buf, size, sizeWritten);
    case CFG_CTA_SWIZZLING: return getValue(f.swizzle, buf, size, sizeWritten);
    case CFG_CUSTOM_OPTION: return getValue(f.custom, buf, size, sizeWritten);
    case CFG_STAGES_ID: return getValue(f.stages, buf, size, sizeWritten);
    case CFG_INNER_SHAPE_ID: return getValue(f.inner, buf, size, sizeWritten);
    case CFG_CLUSTER_SHAPE_ID: return getValue(f.cluster, buf, size, sizeWritten);
    default: return ST_INVALID_VALUE;
  }
}

FAKE_LT_API cublasStatus_t cublasLtMatmulAlgoGetHeuristic(
    cublasLtHandle_t handle, cublasLtMatmulDesc_t operationDesc, cublasLtMatrixLayout_t Adesc,
    cublasLtMatrixLayout_t Bdesc, cublasLtMatrixLayout_t Cdesc, cublasLtMatrixLayout_t Ddesc,
    cublasLtMatmulPreference_t preference, int requestedAlgoCount,
    cublasLtMatmulHeuristicResult_t heuristicResultsArray[], int* returnAlgoCount) {
  if (!validHandle(handle)) return ST_NOT_INITIALIZED;
  if (requestedAlgoCount <= 0 || heuristicResultsArray == nullptr || returnAlgoCount == nullptr)
    return ST_INVALID_VALUE;
  if (preference != nullptr && preference->magic != MAGIC_PREF) return ST_INVALID_VALUE;
  *returnAlgoCount = 0;
  Problem p;
  int s = analyze(operationDesc, Adesc, Bdesc, Cdesc, Ddesc, &p);
  if (s != ST_SUCCESS) return s;
  PrefData pref = preference ? preference->d : PrefData{};
  try {
    auto cands = heuristicCandidates(p, operationDesc->d.computeType, pref);
    int n = 0;
    for (auto& c : cands) {
      if (n >= requestedAlgoCount) break;
      cublasLtMatmulHeuristicResult_t& r = heuristicResultsArray[n];
      std::memset(&r, 0, sizeof r);
      packAlgo(c.first, &r.algo);
      r.workspaceSize = (size_t)c.second;
      r.state = ST_SUCCESS;
      r.wavesCount = 1.0f;
      n++;
    }
    *returnAlgoCount = n;
  } catch (const std::bad_alloc&) {
    return ST_ALLOC_FAILED;
  }
  return *returnAlgoCount > 0 ? ST_SUCCESS : ST_NOT_SUPPORTED;
}

FAKE_LT_API cublasStatus_t cublasLtMatmulAlgoCheck(cublasLtHandle_t handle,
                                                   cublasLtMatmulDesc_t operationDesc,
                                                   cublasLtMatrixLayout_t Adesc,
                                                   cublasLtMatrixLayout_t Bdesc,
                                                   cublasLtMatrixLayout_t Cdesc,
                                                   cublasLtMatrixLayout_t Ddesc,
                                                   const cublasLtMatmulAlgo_t* algo,
                                                   cublasLtMatmulHeuristicResult_t* result) {
  if (!validHandle(handle)) return ST_NOT_INITIALIZED;
  if (algo == nullptr || result == nullptr) return ST_INVALID_VALUE;
  std::memset(result, 0, sizeof *result);
  result->algo = *algo;
  Problem p;
  AlgoFields f;
  uint64_t ws = 0;
  int s = analyze(operationDesc, Adesc, Bdesc, Cdesc, Ddesc, &p);
  if (s == ST_SUCCESS) s = unpackAlgo(algo, &f) ? checkAlgo(p, f, &ws) : ST_INVALID_VALUE;
  result->state = s;
  result->workspaceSize = s == ST_SUCCESS ? (size_t)ws : 0;
  result->wavesCount = s == ST_SUCCESS ? 1.0f : 0.0f;
  return s;
}

// ---- the matmul ----

FAKE_LT_API cublasStatus_t cublasLtMatmul(
    cublasLtHandle_t handle, cublasLtMatmulDesc_t computeDesc, const void* alpha, const void* A,
    cublasLtMatrixLayout_t Adesc, const void* B, cublasLtMatrixLayout_t Bdesc, const void* beta,
    const void* C, cublasLtMatrixLayout_t Cdesc, void* D, cublasLtMatrixLayout_t Ddesc,
    const cublasLtMatmulAlgo_t* algo, void* workspace, size_t workspaceSizeInBytes,
    void* stream) {
  if (!validHandle(handle)) return ST_NOT_INITIALIZED;
  if (alpha == nullptr || beta == nullptr) return ST_INVALID_VALUE;
  MatmulCall* call = nullptr;
  try {
    call = new MatmulCall;
    Problem& p = call->p;
    int s = analyze(computeDesc, Adesc, Bdesc, Cdesc, Ddesc, &p);
    if (s == ST_SUCCESS) {
      uint64_t needs = 0;
      if (algo != nullptr) {
        AlgoFields f;
        s = unpackAlgo(algo, &f) ? checkAlgo(p, f, &needs) : ST_INVALID_VALUE;
      }  // no algorithm: cuBLASLt picks one itself; the fake's first choice needs no workspace
      if (s == ST_SUCCESS && needs > workspaceSizeInBytes) s = ST_NOT_SUPPORTED;
      if (s == ST_SUCCESS && needs > 0 && workspace == nullptr) s = ST_INVALID_VALUE;
    }
    if (s == ST_SUCCESS) {
      bool empty = p.m == 0 || p.n == 0;
      if (p.pointerMode == PM_HOST) {
        readScalars(p, alpha, beta, call);
      } else {
        call->alphaPtr = alpha;
        call->betaPtr = beta;
      }
      bool betaZero = p.pointerMode == PM_HOST &&
                      (p.scaleType == R_32I ? call->betaI == 0 : call->betaF == 0);
      if (!empty && (D == nullptr || (p.k > 0 && (A == nullptr || B == nullptr)) ||
                     (C == nullptr && !betaZero)))
        s = ST_INVALID_VALUE;
      if (!empty && epilogueHasBias(p.epilogue) && p.bias == nullptr) s = ST_INVALID_VALUE;
      // in place (C == D) needs one layout for both
      if (C != nullptr && C == D && (p.C.ld != p.D.ld || p.C.stride != p.D.stride))
        s = ST_INVALID_VALUE;
    }
    if (s != ST_SUCCESS) {
      delete call;
      return s;
    }
    call->A = A;
    call->B = B;
    call->C = C;
    call->D = D;
    if (fakecuda_capture_record != nullptr) {
      int r = fakecuda_capture_record(stream, runCaptured, call, releaseCaptured);
      if (r == 1) return ST_SUCCESS;  // recorded: the graph owns `call` now
      if (r != 0) {
        delete call;
        return ST_EXECUTION_FAILED;
      }
    }
    execute(*call);
    delete call;
    return ST_SUCCESS;
  } catch (const std::bad_alloc&) {
    delete call;
    return ST_ALLOC_FAILED;
  } catch (...) {
    delete call;
    return ST_INTERNAL_ERROR;
  }
}
