// The extern "C" surface declared in native/include/ft4j.h: argument checks, dtype dispatch to the
// kernel families in kernels/, and errors turned into status codes (see ft4j_status.h).
#include "ft4j.h"

#include <cuda_fp16.h>
#include <cuda_runtime_api.h>

#include <climits>
#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <sstream>
#include <string>

#include "activation.cuh"
#include "attention.cuh"
#include "convert.cuh"
#include "embedding.cuh"
#include "fused_attention.cuh"
#include "ft4j_status.h"
#include "layernorm.cuh"
#include "gemm_int8.cuh"
#include "padding.cuh"
#include "pooling.cuh"
#include "quantize.cuh"

#ifndef FT4J_VERSION_STRING
#define FT4J_VERSION_STRING "unknown"
#endif

namespace ft4j {
namespace {
thread_local std::string last_error;
}  // namespace

void set_last_error(const std::string& message) { last_error = message; }

namespace {

template <typename... Parts>
std::string concat(const Parts&... parts) {
  std::ostringstream out;
  (out << ... << parts);
  return out.str();
}

void require_dtype(int dtype, const char* name) {
  if (dtype != FT4J_DTYPE_FP32 && dtype != FT4J_DTYPE_FP16) {
    throw Error(FT4J_ERR_UNSUPPORTED, concat(name, " = ", dtype, " is not supported (FP32 = ",
                                             FT4J_DTYPE_FP32, ", FP16 = ", FT4J_DTYPE_FP16, ")"));
  }
}

const char* dtype_name(int dtype) { return dtype == FT4J_DTYPE_FP32 ? "FP32" : "FP16"; }

size_t dtype_size(int dtype) { return dtype == FT4J_DTYPE_FP32 ? 4 : 2; }

template <typename T>
struct Type {
  using type = T;
};

// Calls f(Type<T>{}) with the storage type T of a dtype already checked by require_dtype.
template <typename F>
void with_dtype(int dtype, F&& f) {
  if (dtype == FT4J_DTYPE_FP32) {
    f(Type<float>{});
  } else {
    f(Type<__half>{});
  }
}

// A device pointer: non-NULL unless `optional`, and aligned to its elements.
void require_pointer(const void* pointer, const char* name, size_t element_size,
                     bool optional = false) {
  require(optional || pointer != nullptr, name, " is NULL");
  require(reinterpret_cast<uintptr_t>(pointer) % element_size == 0, name, " = ", pointer,
          " is not aligned to its ", element_size, "-byte elements");
}

void require_positive(int64_t value, const char* name) {
  require(value >= 1, name, " = ", value, ", must be >= 1");
}

// Two [rows, cols] tensors of one row kernel (one block per row): an exact alias with equal element
// sizes stays row-local and is safe; any other overlap lets one row's block overwrite what another
// row's block still reads.
void require_row_safe(const void* x, size_t x_size, const char* x_name, const void* y,
                      size_t y_size, const char* y_name, int rows, int cols) {
  if (x == nullptr || y == nullptr) return;
  if (x == y && x_size == y_size) return;
  const auto* x0 = static_cast<const char*>(x);
  const auto* y0 = static_cast<const char*>(y);
  const size_t n = size_t(rows) * size_t(cols);
  require(x0 + n * x_size <= y0 || y0 + n * y_size <= x0, x_name, " (", x_size,
          "-byte elements) overlaps ", y_name, " (", y_size,
          "-byte elements): only equal-type tensors may alias, and only exactly");
}

// Two byte ranges that must not share a byte.
void require_disjoint(const void* x, size_t x_bytes, const char* x_name, const void* y,
                      size_t y_bytes, const char* y_name) {
  const uintptr_t a = reinterpret_cast<uintptr_t>(x);
  const uintptr_t b = reinterpret_cast<uintptr_t>(y);
  require(a + x_bytes <= b || b + y_bytes <= a, x_name, " and ", y_name, " overlap");
}

// The product of `dims` (each >= 1) as the element count of a tensor, rejected when its size in
// bytes (at 4 bytes an element, the widest dtype) would not fit in an int64.
int64_t element_count(std::initializer_list<int64_t> dims, const char* what) {
  int64_t count = 1;
  bool overflow = false;
  for (int64_t d : dims) overflow = overflow || __builtin_mul_overflow(count, d, &count);
  int64_t bytes = 0;
  overflow = overflow || __builtin_mul_overflow(count, int64_t(4), &bytes);
  require(!overflow, what, " has too many elements for a 64-bit size");
  return count;
}

// hidden = heads * size_per_head (times `copies` for the fused QKV row), which must fit in an int.
int hidden_size(int heads, int size_per_head, int copies) {  // copies: 1 or 3
  const int64_t hidden = int64_t(heads) * size_per_head;
  const char* factor = copies == 1 ? "" : "3 * ";
  require(hidden * copies <= INT_MAX, factor, "heads * size_per_head = ", factor, heads, " * ",
          size_per_head, " overflows an int");
  return static_cast<int>(hidden);
}

// A failed launch becomes FT4J_ERR_CUDA with a message naming the kernel and the shape.
template <typename... Parts>
void check_launch(cudaError_t result, const Parts&... what) {
  if (result != cudaSuccess) check_cuda(result, concat(what...).c_str());
}

}  // namespace
}  // namespace ft4j

using ft4j::guarded;
using ft4j::require;
using ft4j::require_dtype;
using ft4j::require_pointer;
using ft4j::require_disjoint;
using ft4j::require_row_safe;
using ft4j::require_positive;
using ft4j::require_supported;

namespace {

// The argument checks both fused attention entry points share (element size of qkv and out:
// io_size; of the bias: bias_size).
void require_fused_attention_args(const void* out, const void* qkv, const void* qkv_bias,
                                  const int* offsets, size_t out_size, size_t qkv_size,
                                  size_t bias_size, int batch, int heads, int size_per_head,
                                  int padded_seq, int max_seq, float scale) {
  require_pointer(out, "out", out_size);
  require_pointer(qkv, "qkv", qkv_size);
  require_pointer(qkv_bias, "qkv_bias", bias_size, true);
  require_pointer(offsets, "offsets", sizeof(int));
  require(out != qkv, "out and qkv are the same buffer (fused attention is not in place)");
  require_positive(batch, "batch");
  require_positive(heads, "heads");
  require_positive(size_per_head, "size_per_head");
  require_positive(max_seq, "max_seq");
  require(padded_seq >= 0, "padded_seq = ", padded_seq, ", must be >= 0");
  require(padded_seq == 0 || padded_seq == max_seq, "padded_seq = ", padded_seq,
          " must equal max_seq = ", max_seq, " for a padded batch");
  require(std::isfinite(scale) && scale > 0.f, "scale = ", scale, ", must be > 0 and finite");
  const int hidden = ft4j::hidden_size(heads, size_per_head, 3);
  ft4j::element_count({batch, max_seq, 3, hidden}, "qkv");
}

// Checks and launches a fused attention (FusedAttentionParams or Int8FusedAttentionParams).
template <typename P>
void launch_attention(const P& p, const char* name, const char* types, cudaStream_t stream) {
  require_supported(ft4j::check_fused_attention(p), name);
  ft4j::check_launch(ft4j::launch_fused_attention(p, stream), name, " ", types,
                     " [batch=", p.batch, ", heads=", p.heads,
                     ", size_per_head=", p.size_per_head, ", padded_seq=", p.padded_seq,
                     ", max_seq=", p.max_seq, "]");
}

// The path a launch with 16-byte aligned stand-in buffers takes: 0 none, 1 mma, 2 simt, 3 wgmma.
template <typename P>
int fused_attention_path_code(P p) {
  std::string reason;
  switch (ft4j::select_fused_attention_path(p, &reason)) {
    case ft4j::FusedAttentionPath::kMma: return 1;
    case ft4j::FusedAttentionPath::kSimt: return 2;
    case ft4j::FusedAttentionPath::kWgmma: return 3;
    default: return 0;
  }
}

// qkv_dtype of ft4j_fused_attention_int8: int8, or the encoder's dtype.
void require_int8_attention_input(int dtype, int qkv_dtype) {
  require(qkv_dtype == FT4J_DTYPE_INT8 || qkv_dtype == dtype, "qkv_dtype = ", qkv_dtype,
          " must be FT4J_DTYPE_INT8 (", FT4J_DTYPE_INT8, ") or dtype (", dtype, ")");
}

template <typename T>
T* stand_in() {
  return reinterpret_cast<T*>(uintptr_t(256));
}

}  // namespace

extern "C" {

const char* ft4j_last_error(void) { return ft4j::last_error.c_str(); }

const char* ft4j_version(void) { return FT4J_VERSION_STRING; }

int ft4j_cuda_device_count(int* count) {
  return guarded(__func__, [&] {
    require(count != nullptr, "count is NULL");
    *count = 0;
    int n = 0;
    cudaError_t result = cudaGetDeviceCount(&n);
    if (result == cudaErrorNoDevice || result == cudaErrorInsufficientDriver ||
        result == cudaErrorInitializationError || result == cudaErrorSystemDriverMismatch ||
        result == cudaErrorCompatNotSupportedOnDevice) {
      cudaGetLastError();  // not sticky, but leave no error behind for the next call
      return;
    }
    ft4j::check_cuda(result, "cudaGetDeviceCount");
    *count = n;
  });
}

int ft4j_cuda_device_info(int device, int* sm_major, int* sm_minor, int* runtime_version,
                          int* driver_version) {
  return guarded(__func__, [&] {
    require(sm_major && sm_minor && runtime_version && driver_version, "an output pointer is NULL");
    int n = 0;
    ft4j::check_cuda(cudaGetDeviceCount(&n), "cudaGetDeviceCount");
    require(device >= 0 && device < n, "device ", device, " out of range [0, ", n, ")");
    ft4j::check_cuda(cudaDeviceGetAttribute(sm_major, cudaDevAttrComputeCapabilityMajor, device),
                     "cudaDeviceGetAttribute(major)");
    ft4j::check_cuda(cudaDeviceGetAttribute(sm_minor, cudaDevAttrComputeCapabilityMinor, device),
                     "cudaDeviceGetAttribute(minor)");
    ft4j::check_cuda(cudaRuntimeGetVersion(runtime_version), "cudaRuntimeGetVersion");
    ft4j::check_cuda(cudaDriverGetVersion(driver_version), "cudaDriverGetVersion");
  });
}

int ft4j_add_bias_gelu(int dtype, void* data, const void* bias, int rows, int cols,
                       struct CUstream_st* stream) {
  return guarded(__func__, [&] {
    require_dtype(dtype, "dtype");
    const size_t size = ft4j::dtype_size(dtype);
    require_pointer(data, "data", size);
    require_pointer(bias, "bias", size);
    require_positive(rows, "rows");
    require_positive(cols, "cols");
    ft4j::with_dtype(dtype, [&](auto type) {
      using T = typename decltype(type)::type;
      const ft4j::AddBiasGeluParams<T> p{static_cast<T*>(data), static_cast<const T*>(bias), rows,
                                         cols};
      require_supported(ft4j::check_add_bias_gelu(p), "add_bias_gelu");
      ft4j::check_launch(ft4j::launch_add_bias_gelu(p, stream), "add_bias_gelu ",
                         ft4j::dtype_name(dtype), " [rows=", rows, ", cols=", cols, "]");
    });
  });
}

int ft4j_add_bias_residual_layernorm(int dtype, void* out, const void* input, const void* bias,
                                     const void* residual, const void* gamma, const void* beta,
                                     float eps, int rows, int cols, struct CUstream_st* stream) {
  return guarded(__func__, [&] {
    require_dtype(dtype, "dtype");
    const size_t size = ft4j::dtype_size(dtype);
    require_pointer(out, "out", size);
    require_pointer(input, "input", size);
    require_pointer(bias, "bias", size, true);
    require_pointer(residual, "residual", size);
    require_pointer(gamma, "gamma", size);
    require_pointer(beta, "beta", size);
    require(std::isfinite(eps) && eps > 0, "eps = ", eps, ", must be > 0 and finite");
    require_positive(rows, "rows");
    require_positive(cols, "cols");
    // out may alias input or residual exactly (ft4j.h); a partial overlap is a race between rows
    require_row_safe(out, size, "out", input, size, "input", rows, cols);
    require_row_safe(out, size, "out", residual, size, "residual", rows, cols);
    ft4j::with_dtype(dtype, [&](auto type) {
      using T = typename decltype(type)::type;
      const ft4j::AddBiasResidualLayernormParams<T> p{static_cast<T*>(out),
                                                      static_cast<const T*>(input),
                                                      static_cast<const T*>(bias),
                                                      static_cast<const T*>(residual),
                                                      static_cast<const T*>(gamma),
                                                      static_cast<const T*>(beta),
                                                      eps,
                                                      rows,
                                                      cols};
      require_supported(ft4j::check_add_bias_residual_layernorm(p), "add_bias_residual_layernorm");
      ft4j::check_launch(ft4j::launch_add_bias_residual_layernorm(p, stream),
                         "add_bias_residual_layernorm ", ft4j::dtype_name(dtype), " [rows=", rows,
                         ", cols=", cols, "]");
    });
  });
}

int ft4j_add_qkv_bias_split_heads(int dtype, void* q, void* k, void* v, const void* qkv,
                                  const void* qkv_bias, int batch, int seq, int heads,
                                  int size_per_head, struct CUstream_st* stream) {
  return guarded(__func__, [&] {
    require_dtype(dtype, "dtype");
    const size_t size = ft4j::dtype_size(dtype);
    require_pointer(q, "q", size);
    require_pointer(k, "k", size);
    require_pointer(v, "v", size);
    require_pointer(qkv, "qkv", size);
    require_pointer(qkv_bias, "qkv_bias", size, true);
    require_positive(batch, "batch");
    require_positive(seq, "seq");
    require_positive(heads, "heads");
    require_positive(size_per_head, "size_per_head");
    const int hidden = ft4j::hidden_size(heads, size_per_head, 3);
    ft4j::element_count({batch, seq, 3, hidden}, "qkv");
    ft4j::with_dtype(dtype, [&](auto type) {
      using T = typename decltype(type)::type;
      const ft4j::AddQkvBiasSplitHeadsParams<T> p{static_cast<T*>(q),
                                                  static_cast<T*>(k),
                                                  static_cast<T*>(v),
                                                  static_cast<const T*>(qkv),
                                                  static_cast<const T*>(qkv_bias),
                                                  batch,
                                                  seq,
                                                  heads,
                                                  size_per_head};
      require_supported(ft4j::check_add_qkv_bias_split_heads(p), "add_qkv_bias_split_heads");
      ft4j::check_launch(ft4j::launch_add_qkv_bias_split_heads(p, stream),
                         "add_qkv_bias_split_heads ", ft4j::dtype_name(dtype), " [batch=", batch,
                         ", seq=", seq, ", heads=", heads, ", size_per_head=", size_per_head, "]");
    });
  });
}

int ft4j_masked_softmax(int dtype, void* scores, const int* lengths, int batch, int heads, int seq,
                        float scale, struct CUstream_st* stream) {
  return guarded(__func__, [&] {
    require_dtype(dtype, "dtype");
    const size_t size = ft4j::dtype_size(dtype);
    require_pointer(scores, "scores", size);
    require_pointer(lengths, "lengths", sizeof(int));
    require_positive(batch, "batch");
    require_positive(heads, "heads");
    require_positive(seq, "seq");
    require(std::isfinite(scale), "scale = ", scale, ", must be finite");
    ft4j::element_count({batch, heads, seq, seq}, "scores");
    ft4j::with_dtype(dtype, [&](auto type) {
      using T = typename decltype(type)::type;
      const ft4j::MaskedSoftmaxParams<T> p{
          static_cast<T*>(scores), lengths, batch, heads, seq, scale};
      require_supported(ft4j::check_masked_softmax(p), "masked_softmax");
      ft4j::check_launch(ft4j::launch_masked_softmax(p, stream), "masked_softmax ",
                         ft4j::dtype_name(dtype), " [batch=", batch, ", heads=", heads,
                         ", seq=", seq, "]");
    });
  });
}

int ft4j_merge_heads(int dtype, void* out, const void* in, int batch, int seq, int heads,
                     int size_per_head, struct CUstream_st* stream) {
  return guarded(__func__, [&] {
    require_dtype(dtype, "dtype");
    const size_t size = ft4j::dtype_size(dtype);
    require_pointer(out, "out", size);
    require_pointer(in, "in", size);
    require(out != in, "out and in are the same buffer (merge_heads is not in place)");
    require_positive(batch, "batch");
    require_positive(seq, "seq");
    require_positive(heads, "heads");
    require_positive(size_per_head, "size_per_head");
    const int hidden = ft4j::hidden_size(heads, size_per_head, 1);
    const size_t bytes = size_t(ft4j::element_count({batch, seq, hidden}, "out")) * size;
    require_disjoint(out, bytes, "out", in, bytes, "in");  // (both hold every head of every token)
    ft4j::with_dtype(dtype, [&](auto type) {
      using T = typename decltype(type)::type;
      const ft4j::MergeHeadsParams<T> p{
          static_cast<T*>(out), static_cast<const T*>(in), batch, seq, heads, size_per_head};
      require_supported(ft4j::check_merge_heads(p), "merge_heads");
      ft4j::check_launch(ft4j::launch_merge_heads(p, stream), "merge_heads ",
                         ft4j::dtype_name(dtype), " [batch=", batch, ", seq=", seq,
                         ", heads=", heads, ", size_per_head=", size_per_head, "]");
    });
  });
}

int ft4j_embedding_layernorm(int dtype, void* out, const int* ids, const int* type_ids,
                             const void* word, const void* position, const void* token_type,
                             const void* gamma, const void* beta, float eps, int rows, int seq,
                             int hidden, int vocab, int max_positions, int type_vocab,
                             int position_offset, struct CUstream_st* stream) {
  return guarded(__func__, [&] {
    require_dtype(dtype, "dtype");
    const size_t size = ft4j::dtype_size(dtype);
    require_pointer(out, "out", size);
    require_pointer(ids, "ids", sizeof(int));
    require_pointer(type_ids, "type_ids", sizeof(int), true);
    require_pointer(word, "word", size);
    require_pointer(position, "position", size);
    require_pointer(token_type, "token_type", size);
    require_pointer(gamma, "gamma", size);
    require_pointer(beta, "beta", size);
    require(std::isfinite(eps) && eps > 0, "eps = ", eps, ", must be > 0 and finite");
    require_positive(rows, "rows");
    require_positive(seq, "seq");
    require_positive(hidden, "hidden");
    require_positive(vocab, "vocab");
    require_positive(max_positions, "max_positions");
    require_positive(type_vocab, "type_vocab");
    require(position_offset >= 0, "position_offset = ", position_offset, ", must be >= 0");
    require(int64_t(seq) + position_offset <= max_positions, "seq + position_offset = ",
            int64_t(seq) + position_offset, " exceeds max_positions = ", max_positions);
    ft4j::element_count({rows, hidden}, "out");
    ft4j::element_count({vocab, hidden}, "word");
    ft4j::with_dtype(dtype, [&](auto type) {
      using T = typename decltype(type)::type;
      const ft4j::EmbeddingLayernormParams<T> p{static_cast<T*>(out),
                                                ids,
                                                type_ids,
                                                static_cast<const T*>(word),
                                                static_cast<const T*>(position),
                                                static_cast<const T*>(token_type),
                                                static_cast<const T*>(gamma),
                                                static_cast<const T*>(beta),
                                                eps,
                                                rows,
                                                seq,
                                                hidden,
                                                vocab,
                                                max_positions,
                                                type_vocab,
                                                position_offset};
      require_supported(ft4j::check_embedding_layernorm(p), "embedding_layernorm");
      ft4j::check_launch(ft4j::launch_embedding_layernorm(p, stream), "embedding_layernorm ",
                         ft4j::dtype_name(dtype), " [rows=", rows, ", seq=", seq,
                         ", hidden=", hidden, "]");
    });
  });
}

int ft4j_fused_attention(int dtype, void* out, const void* qkv, const void* qkv_bias,
                         const int* offsets, int batch, int heads, int size_per_head,
                         int padded_seq, int max_seq, float scale, struct CUstream_st* stream) {
  return guarded(__func__, [&] {
    require_dtype(dtype, "dtype");
    const size_t size = ft4j::dtype_size(dtype);
    require_fused_attention_args(out, qkv, qkv_bias, offsets, size, size, size, batch, heads,
                                 size_per_head, padded_seq, max_seq, scale);
    ft4j::with_dtype(dtype, [&](auto type) {
      using T = typename decltype(type)::type;
      const ft4j::FusedAttentionParams<T> p{static_cast<T*>(out),
                                            static_cast<const T*>(qkv),
                                            static_cast<const T*>(qkv_bias),
                                            offsets,
                                            batch,
                                            heads,
                                            size_per_head,
                                            padded_seq,
                                            max_seq,
                                            scale};
      launch_attention(p, "fused_attention", ft4j::dtype_name(dtype), stream);
    });
  });
}

int ft4j_fused_attention_int8(int dtype, int qkv_dtype, void* out, const void* qkv,
                              const void* qkv_bias, const int* offsets, int batch, int heads,
                              int size_per_head, int padded_seq, int max_seq, float scale,
                              float q_step, float k_step, float v_step, float out_amax,
                              struct CUstream_st* stream) {
  return guarded(__func__, [&] {
    require_dtype(dtype, "dtype");
    require_int8_attention_input(dtype, qkv_dtype);
    const bool int8_in = qkv_dtype == FT4J_DTYPE_INT8;
    const size_t bias_size = ft4j::dtype_size(dtype);
    require_fused_attention_args(out, qkv, qkv_bias, offsets, 1, int8_in ? 1 : bias_size,
                                 bias_size, batch, heads, size_per_head, padded_seq, max_seq,
                                 scale);
    if (!int8_in) q_step = k_step = v_step = 1.f;
    ft4j::with_dtype(dtype, [&](auto type) {
      using T = typename decltype(type)::type;
      auto run = [&](auto input) {
        using TIn = typename decltype(input)::type;
        const ft4j::Int8FusedAttentionParams<TIn, T> p{static_cast<int8_t*>(out),
                                                       static_cast<const TIn*>(qkv),
                                                       static_cast<const T*>(qkv_bias),
                                                       offsets,
                                                       batch,
                                                       heads,
                                                       size_per_head,
                                                       padded_seq,
                                                       max_seq,
                                                       scale,
                                                       q_step,
                                                       k_step,
                                                       v_step,
                                                       out_amax};
        const std::string types =
            std::string(ft4j::dtype_name(dtype)) + (int8_in ? ", int8 qkv" : "");
        launch_attention(p, "fused_attention_int8", types.c_str(), stream);
      };
      if (int8_in) {
        run(ft4j::Type<int8_t>{});
      } else {
        run(ft4j::Type<T>{});
      }
    });
  });
}

int ft4j_fused_attention_path(int dtype, int heads, int size_per_head, int* path) {
  return guarded(__func__, [&] {
    require_dtype(dtype, "dtype");
    require(path != nullptr, "path is NULL");
    require_positive(heads, "heads");
    require_positive(size_per_head, "size_per_head");
    ft4j::hidden_size(heads, size_per_head, 3);
    *path = 0;
    ft4j::with_dtype(dtype, [&](auto type) {
      using T = typename decltype(type)::type;
      // Only the alignment of the pointers matters to the choice.
      *path = fused_attention_path_code(ft4j::FusedAttentionParams<T>{
          stand_in<T>(), stand_in<const T>(), nullptr, stand_in<const int>(), 1, heads,
          size_per_head, 0, 1, 1.f});
    });
  });
}

int ft4j_set_fused_attention_tiling(int warps, int m_tiles) {
  return guarded(__func__, [&] {
    require(ft4j::set_fused_attention_tiling(warps, m_tiles), "warps = ", warps,
            " and m_tiles = ", m_tiles, ": warps must be 0, 4 or 8 and m_tiles 0, 1 or 2");
  });
}

int ft4j_set_fused_attention_wgmma(int warpgroups, int keys) {
  return guarded(__func__, [&] {
    require(ft4j::set_fused_attention_wgmma(warpgroups, keys), "warpgroups = ", warpgroups,
            " and keys = ", keys, ": warpgroups must be -1, 0, 1 or 2 and keys 0, 64 or 128");
  });
}

int ft4j_fused_attention_int8_path(int dtype, int qkv_dtype, int heads, int size_per_head,
                                   int* path) {
  return guarded(__func__, [&] {
    require_dtype(dtype, "dtype");
    require_int8_attention_input(dtype, qkv_dtype);
    require(path != nullptr, "path is NULL");
    require_positive(heads, "heads");
    require_positive(size_per_head, "size_per_head");
    ft4j::hidden_size(heads, size_per_head, 3);
    *path = 0;
    ft4j::with_dtype(dtype, [&](auto type) {
      using T = typename decltype(type)::type;
      auto query = [&](auto input) {
        using TIn = typename decltype(input)::type;
        *path = fused_attention_path_code(ft4j::Int8FusedAttentionParams<TIn, T>{
            stand_in<int8_t>(), stand_in<const TIn>(), nullptr, stand_in<const int>(), 1, heads,
            size_per_head, 0, 1, 1.f, 1.f, 1.f, 1.f, 1.f});
      };
      if (qkv_dtype == FT4J_DTYPE_INT8) {
        query(ft4j::Type<int8_t>{});
      } else {
        query(ft4j::Type<T>{});
      }
    });
  });
}

int ft4j_lengths_to_offsets(const int* lengths, int batch, int* offsets,
                            struct CUstream_st* stream) {
  return guarded(__func__, [&] {
    require_pointer(lengths, "lengths", sizeof(int));
    require_pointer(offsets, "offsets", sizeof(int));
    require_positive(batch, "batch");
    // one block scans lengths in chunks while writing offsets: in place it would read sums
    require_disjoint(offsets, (size_t(batch) + 1) * sizeof(int), "offsets", lengths,
                     size_t(batch) * sizeof(int), "lengths");
    ft4j::check_launch(ft4j::launch_lengths_to_offsets(lengths, batch, offsets, stream),
                       "lengths_to_offsets [batch=", batch, "]");
  });
}

int ft4j_padding_copy(int dtype, void* dst, const void* src, const int* offsets, int batch,
                      int seq, int hidden, int restore, struct CUstream_st* stream) {
  return guarded(__func__, [&] {
    require_dtype(dtype, "dtype");
    const size_t size = ft4j::dtype_size(dtype);
    require_pointer(dst, "dst", size);
    require_pointer(src, "src", size);
    require_pointer(offsets, "offsets", sizeof(int));
    require(dst != src, "dst and src are the same buffer");
    require_positive(batch, "batch");
    require_positive(seq, "seq");
    require_positive(hidden, "hidden");
    require(restore == 0 || restore == 1, "restore = ", restore, ", must be 0 or 1");
    const size_t padded_elems = ft4j::element_count({batch, seq, hidden}, "padded");
    // the packed buffer's extent (offsets[batch] rows) is on the device; what the host can see: a
    // packed buffer that starts inside the padded one
    {
      const auto* padded = static_cast<const char*>(restore ? dst : src);
      const auto* packed = static_cast<const char*>(restore ? src : dst);
      require(!(packed > padded && packed < padded + padded_elems * size),
              restore ? "src (packed)" : "dst (packed)", " starts inside ",
              restore ? "dst (padded)" : "src (padded)", ": dst and src must not overlap");
    }
    ft4j::with_dtype(dtype, [&](auto type) {
      using T = typename decltype(type)::type;
      const ft4j::PaddingCopyParams<T> p{static_cast<T*>(dst), static_cast<const T*>(src), offsets,
                                         batch, seq, hidden, restore};
      require_supported(ft4j::check_padding_copy(p), "padding_copy");
      ft4j::check_launch(ft4j::launch_padding_copy(p, stream), "padding_copy ",
                         restore ? "restore " : "remove ", ft4j::dtype_name(dtype),
                         " [batch=", batch, ", seq=", seq, ", hidden=", hidden, "]");
    });
  });
}

int ft4j_zero_padded_rows(int dtype, void* data, const int* lengths, int batch, int seq, int hidden,
                          struct CUstream_st* stream) {
  return guarded(__func__, [&] {
    require_dtype(dtype, "dtype");
    const size_t size = ft4j::dtype_size(dtype);
    require_pointer(data, "data", size);
    require_pointer(lengths, "lengths", sizeof(int));
    require_positive(batch, "batch");
    require_positive(seq, "seq");
    require_positive(hidden, "hidden");
    ft4j::element_count({batch, seq, hidden}, "data");
    ft4j::with_dtype(dtype, [&](auto type) {
      using T = typename decltype(type)::type;
      const ft4j::ZeroPaddedRowsParams<T> p{static_cast<T*>(data), lengths, batch, seq, hidden};
      require_supported(ft4j::check_zero_padded_rows(p), "zero_padded_rows");
      ft4j::check_launch(ft4j::launch_zero_padded_rows(p, stream), "zero_padded_rows ",
                         ft4j::dtype_name(dtype), " [batch=", batch, ", seq=", seq,
                         ", hidden=", hidden, "]");
    });
  });
}

int ft4j_pool_rows(int dtype, float* out, const void* states, const int* lengths, int batch,
                   int seq, int hidden, int mean, int normalize, struct CUstream_st* stream) {
  return guarded(__func__, [&] {
    require_dtype(dtype, "dtype");
    const size_t size = ft4j::dtype_size(dtype);
    require_pointer(out, "out", sizeof(float));
    require_pointer(states, "states", size);
    require_pointer(lengths, "lengths", sizeof(int));
    require_positive(batch, "batch");
    require_positive(seq, "seq");
    require_positive(hidden, "hidden");
    require(mean == 0 || mean == 1, "mean = ", mean, ", must be 0 (CLS) or 1 (mean)");
    require(normalize == 0 || normalize == 1, "normalize = ", normalize, ", must be 0 or 1");
    ft4j::element_count({batch, seq, hidden}, "states");
    const auto* o = reinterpret_cast<const char*>(out);
    const auto* s = static_cast<const char*>(states);
    const size_t out_bytes = size_t(batch) * size_t(hidden) * sizeof(float);
    const size_t states_bytes = size_t(batch) * size_t(seq) * size_t(hidden) * size;
    require(o + out_bytes <= s || s + states_bytes <= o,
            "out overlaps states: the pooled rows cannot be written over the hidden states they "
            "are read from");
    ft4j::with_dtype(dtype, [&](auto type) {
      using T = typename decltype(type)::type;
      const ft4j::PoolRowsParams<T> p{out,   static_cast<const T*>(states), lengths, batch, seq,
                                      hidden, mean, normalize};
      require_supported(ft4j::check_pool_rows(p), "pool_rows");
      ft4j::check_launch(ft4j::launch_pool_rows(p, stream), "pool_rows ", ft4j::dtype_name(dtype),
                         " [batch=", batch, ", seq=", seq, ", hidden=", hidden, "]");
    });
  });
}

int ft4j_convert(int dst_dtype, void* dst, int src_dtype, const void* src, size_t count,
                 struct CUstream_st* stream) {
  return guarded(__func__, [&] {
    require_dtype(dst_dtype, "dst_dtype");
    require_dtype(src_dtype, "src_dtype");
    require_pointer(dst, "dst", ft4j::dtype_size(dst_dtype));
    require_pointer(src, "src", ft4j::dtype_size(src_dtype));
    require(count >= 1, "count = 0, must be >= 1");
    require(count <= SIZE_MAX / 4, "count = ", count, " is too large for a 64-bit size");
    require_disjoint(dst, count * ft4j::dtype_size(dst_dtype), "dst", src,
                     count * ft4j::dtype_size(src_dtype), "src");
    ft4j::with_dtype(dst_dtype, [&](auto dst_type) {
      ft4j::with_dtype(src_dtype, [&](auto src_type) {
        using Dst = typename decltype(dst_type)::type;
        using Src = typename decltype(src_type)::type;
        const ft4j::ConvertParams<Dst, Src> p{static_cast<Dst*>(dst), static_cast<const Src*>(src),
                                              count};
        require_supported(ft4j::check_convert(p), "convert");
        ft4j::check_launch(ft4j::launch_convert(p, stream), "convert ", ft4j::dtype_name(src_dtype),
                           " -> ", ft4j::dtype_name(dst_dtype), " [count=", count, "]");
      });
    });
  });
}

namespace {
// A float vector of scales (optional pointer) or, when it is NULL, one positive finite scale.
void require_scales(const void* vector, const char* vector_name, float value,
                    const char* value_name) {
  require_pointer(vector, vector_name, 4, true);
  if (vector == nullptr) {
    require(std::isfinite(value) && value > 0, value_name, " = ", value,
            ", must be > 0 and finite when ", vector_name, " is NULL");
  }
}

// Checks of one quantized output (qout, its per-row scale named scale_name, inv_smooth,
// static_amax).
void require_quantized_output(const void* qout, const void* out_scale, const char* scale_name,
                              const void* inv_smooth, float static_amax, bool optional) {
  require_pointer(qout, "qout", 1, optional);
  require_pointer(out_scale, scale_name, 4, true);
  require_pointer(inv_smooth, "inv_smooth", 4, true);
  if (qout != nullptr && out_scale == nullptr) {
    require(std::isfinite(static_amax) && static_amax > 0, "static_amax = ", static_amax,
            ", must be > 0 and finite for static quantization");
  }
}

// Checks of what a dequantizing row kernel reads from the GEMM before it: acc (int32, or int8 when
// acc_int8), its input scale (per row or static), per-column w_scale, optional bias of `size` bytes.
void require_gemm_output(const void* acc, int acc_int8, const void* in_scale,
                         float in_static_scale, const void* w_scale, const void* bias,
                         size_t size) {
  require(acc_int8 == 0 || acc_int8 == 1, "acc_int8 = ", acc_int8, ", must be 0 or 1");
  require_pointer(acc, "acc", acc_int8 ? 1 : 4);
  require_scales(in_scale, "in_scale", in_static_scale, "in_static_scale");
  require_pointer(w_scale, "w_scale", 4);
  require_pointer(bias, "bias", size, true);
}
}  // namespace

int ft4j_quantize_rows(int dtype, void* qout, void* out_scale, const void* input,
                       const void* inv_smooth, float static_amax, void* deq_out, int rows,
                       int cols, struct CUstream_st* stream) {
  return guarded(__func__, [&] {
    require_dtype(dtype, "dtype");
    require_pointer(input, "input", ft4j::dtype_size(dtype));
    require_quantized_output(qout, out_scale, "out_scale", inv_smooth, static_amax, false);
    require_pointer(deq_out, "deq_out", ft4j::dtype_size(dtype), true);
    require_positive(rows, "rows");
    require_positive(cols, "cols");
    const size_t size = ft4j::dtype_size(dtype);
    require_row_safe(qout, 1, "qout", input, size, "input", rows, cols);
    require_row_safe(qout, 1, "qout", deq_out, size, "deq_out", rows, cols);
    require_row_safe(deq_out, size, "deq_out", input, size, "input", rows, cols);
    ft4j::with_dtype(dtype, [&](auto type) {
      using T = typename decltype(type)::type;
      const ft4j::QuantizeRowsParams<T> p{static_cast<int8_t*>(qout),
                                          static_cast<float*>(out_scale),
                                          static_cast<const T*>(input),
                                          static_cast<const float*>(inv_smooth),
                                          static_amax,
                                          static_cast<T*>(deq_out),
                                          rows,
                                          cols};
      require_supported(ft4j::check_quantize_rows(p), "quantize_rows");
      ft4j::check_launch(ft4j::launch_quantize_rows(p, stream), "quantize_rows ",
                         ft4j::dtype_name(dtype), " [rows=", rows, ", cols=", cols, "]");
    });
  });
}

int ft4j_dequantize_bias_act(int dtype, void* out, void* qout, void* qout_scale, const void* acc,
                             int acc_int8, const void* in_scale, float in_static_scale,
                             const void* w_scale,
                             const void* bias, const void* inv_smooth, float static_amax, int gelu,
                             int rows, int cols, struct CUstream_st* stream) {
  return guarded(__func__, [&] {
    require_dtype(dtype, "dtype");
    const size_t size = ft4j::dtype_size(dtype);
    require(out != nullptr || qout != nullptr, "out and qout are both NULL");
    require_pointer(out, "out", size, true);
    require_quantized_output(qout, qout_scale, "qout_scale", inv_smooth, static_amax, true);
    require_gemm_output(acc, acc_int8, in_scale, in_static_scale, w_scale, bias, size);
    require(gelu == 0 || gelu == 1, "gelu = ", gelu, ", must be 0 or 1");
    require_positive(rows, "rows");
    require_positive(cols, "cols");
    const size_t acc_size = acc_int8 ? 1 : 4;
    require_row_safe(out, size, "out", acc, acc_size, "acc", rows, cols);
    require_row_safe(qout, 1, "qout", acc, acc_size, "acc", rows, cols);
    require_row_safe(out, size, "out", qout, 1, "qout", rows, cols);
    ft4j::with_dtype(dtype, [&](auto type) {
      using T = typename decltype(type)::type;
      const ft4j::DequantizeBiasActParams<T> p{static_cast<T*>(out),
                                               static_cast<int8_t*>(qout),
                                               static_cast<float*>(qout_scale),
                                               acc_int8 ? nullptr : static_cast<const int32_t*>(acc),
                                               acc_int8 ? static_cast<const int8_t*>(acc) : nullptr,
                                               static_cast<const float*>(in_scale),
                                               in_static_scale,
                                               static_cast<const float*>(w_scale),
                                               static_cast<const T*>(bias),
                                               static_cast<const float*>(inv_smooth),
                                               static_amax,
                                               gelu,
                                               rows,
                                               cols};
      require_supported(ft4j::check_dequantize_bias_act(p), "dequantize_bias_act");
      ft4j::check_launch(ft4j::launch_dequantize_bias_act(p, stream), "dequantize_bias_act ",
                         ft4j::dtype_name(dtype), " [rows=", rows, ", cols=", cols, "]");
    });
  });
}

int ft4j_dequantize_bias_residual_layernorm(int dtype, void* out, void* qout, void* qout_scale,
                                            const void* acc, int acc_int8, const void* in_scale,
                                            float in_static_scale, const void* w_scale,
                                            const void* bias, const void* residual,
                                            const void* gamma, const void* beta,
                                            const void* inv_smooth, float static_amax, float eps,
                                            int out_dequantized, int rows, int cols,
                                            struct CUstream_st* stream) {
  return guarded(__func__, [&] {
    require_dtype(dtype, "dtype");
    const size_t size = ft4j::dtype_size(dtype);
    require_pointer(out, "out", size);
    require_quantized_output(qout, qout_scale, "qout_scale", inv_smooth, static_amax, true);
    require_gemm_output(acc, acc_int8, in_scale, in_static_scale, w_scale, bias, size);
    require(out_dequantized == 0 || (out_dequantized == 1 && qout != nullptr),
            "out_dequantized = ", out_dequantized, ", must be 0, or 1 with a qout");
    require_pointer(residual, "residual", size);
    require_pointer(gamma, "gamma", size);
    require_pointer(beta, "beta", size);
    require(std::isfinite(eps) && eps > 0, "eps = ", eps, ", must be > 0 and finite");
    require_positive(rows, "rows");
    require_positive(cols, "cols");
    const size_t acc_size = acc_int8 ? 1 : 4;
    require_row_safe(out, size, "out", acc, acc_size, "acc", rows, cols);
    require_row_safe(qout, 1, "qout", acc, acc_size, "acc", rows, cols);
    require_row_safe(out, size, "out", qout, 1, "qout", rows, cols);
    require_row_safe(residual, size, "residual", acc, acc_size, "acc", rows, cols);
    require_row_safe(residual, size, "residual", qout, 1, "qout", rows, cols);
    require_row_safe(out, size, "out", residual, size, "residual", rows, cols);
    ft4j::with_dtype(dtype, [&](auto type) {
      using T = typename decltype(type)::type;
      const ft4j::DequantizeBiasResidualLayernormParams<T> p{
          static_cast<T*>(out),
          static_cast<int8_t*>(qout),
          static_cast<float*>(qout_scale),
          acc_int8 ? nullptr : static_cast<const int32_t*>(acc),
          acc_int8 ? static_cast<const int8_t*>(acc) : nullptr,
          static_cast<const float*>(in_scale),
          in_static_scale,
          static_cast<const float*>(w_scale),
          static_cast<const T*>(bias),
          static_cast<const T*>(residual),
          static_cast<const T*>(gamma),
          static_cast<const T*>(beta),
          static_cast<const float*>(inv_smooth),
          static_amax,
          eps,
          out_dequantized,
          rows,
          cols};
      require_supported(ft4j::check_dequantize_bias_residual_layernorm(p),
                        "dequantize_bias_residual_layernorm");
      ft4j::check_launch(ft4j::launch_dequantize_bias_residual_layernorm(p, stream),
                         "dequantize_bias_residual_layernorm ", ft4j::dtype_name(dtype),
                         " [rows=", rows, ", cols=", cols, "]");
    });
  });
}

int ft4j_gemm_int8(int dtype, int out_kind, void* out, const void* a, const void* b,
                   const void* a_scale, float a_static, const void* w_scale, const void* bias,
                   const void* out_inv_scale, float out_inv_static, int gelu, int m, int n, int k,
                   int plan_kernel, int plan_splits, void* workspace, size_t workspace_bytes,
                   struct CUstream_st* stream) {
  return guarded(__func__, [&] {
    require_dtype(dtype, "dtype");
    require(out_kind >= 0 && out_kind <= 3, "out_kind = ", out_kind,
            ", must be 0 (INT32), 1 (FLOAT), 2 (INT8) or 3 (INT8_DEQUANTIZED)");
    const size_t out_size =
        out_kind == 0 ? 4 : out_kind == 2 ? 1 : ft4j::dtype_size(dtype);
    require_pointer(out, "out", out_size);
    require_pointer(a, "a", 1);
    require_pointer(b, "b", 1);
    require_positive(m, "M");
    require_positive(n, "N");
    require_positive(k, "K");
    if (out_kind != 0) {
      require_pointer(w_scale, "w_scale", 4);
      require_scales(a_scale, "a_scale", a_static, "a_static");
      require_pointer(bias, "bias", ft4j::dtype_size(dtype), true);
      require(gelu == 0 || gelu == 1, "gelu = ", gelu, ", must be 0 or 1");
    }
    if (out_kind >= 2) {
      require_scales(out_inv_scale, "out_inv_scale", out_inv_static, "out_inv_static");
    }
    // K tiles of 32 are counted in int: keep k + 32 in range
    require(k <= INT_MAX - 64, "K = ", k, " is too large (at most ", INT_MAX - 64, ")");
    const size_t out_bytes = out_size * size_t(m) * size_t(n);
    if (workspace != nullptr) {
      require_pointer(workspace, "workspace", sizeof(int32_t));
      // split-K partial sums live there while the epilogue writes out: they must not overlap
      const auto* w0 = static_cast<const char*>(workspace);
      const auto* o0 = static_cast<const char*>(out);
      require(w0 + workspace_bytes <= o0 || o0 + out_bytes <= w0,
              "the workspace overlaps the output");
    }
    ft4j::with_dtype(dtype, [&](auto type) {
      using T = typename decltype(type)::type;
      const ft4j::GemmInt8Params<T> p{out,
                                      static_cast<const int8_t*>(a),
                                      static_cast<const int8_t*>(b),
                                      static_cast<const float*>(a_scale),
                                      a_static,
                                      static_cast<const float*>(w_scale),
                                      static_cast<const T*>(bias),
                                      static_cast<const float*>(out_inv_scale),
                                      out_inv_static,
                                      gelu,
                                      static_cast<ft4j::GemmInt8Out>(out_kind),
                                      m,
                                      n,
                                      k,
                                      static_cast<int32_t*>(workspace),
                                      workspace == nullptr ? 0 : workspace_bytes,
                                      plan_kernel,
                                      plan_kernel < 0 ? 1 : plan_splits};
      require_supported(ft4j::check_gemm_int8(p), "gemm_int8");
      // other blocks still read the operands while one stores its tile
      require_disjoint(out, out_bytes, "out", a, size_t(m) * size_t(k), "a");
      require_disjoint(out, out_bytes, "out", b, size_t(n) * size_t(k), "b");
      ft4j::check_launch(ft4j::launch_gemm_int8(p, stream), "gemm_int8 out_kind=", out_kind,
                         " [M=", m, ", N=", n, ", K=", k, "]");
    });
  });
}

int ft4j_gemm_int8_plan(int out_kind, int m, int n, int k, size_t workspace_bytes, int* kernel,
                        int* splits) {
  return guarded(__func__, [&] {
    require(out_kind >= 0 && out_kind <= 3, "out_kind = ", out_kind, ", must be 0..3");
    require(kernel != nullptr && splits != nullptr, "kernel or splits is NULL");
    require_positive(m, "M");
    require_positive(n, "N");
    require_positive(k, "K");
    // 16-byte aligned stand-ins: only the alignment of the pointers matters to the choice.
    ft4j::GemmInt8Params<float> p{};
    p.a = p.b = reinterpret_cast<const int8_t*>(uintptr_t(256));
    p.out = reinterpret_cast<void*>(uintptr_t(256));
    p.out_kind = static_cast<ft4j::GemmInt8Out>(out_kind);
    p.m = m;
    p.n = n;
    p.k = k;
    p.workspace = workspace_bytes > 0 ? reinterpret_cast<int32_t*>(uintptr_t(256)) : nullptr;
    p.workspace_bytes = workspace_bytes;
    p.forced_kernel = -1;
    const ft4j::GemmInt8Plan plan = ft4j::plan_gemm_int8(p);
    *kernel = static_cast<int>(plan.kernel);
    *splits = plan.splits;
  });
}

}  // extern "C"
