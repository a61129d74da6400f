// Zeroing of the padded rows of a padded batch (see padding.cu).
#pragma once

#include <cuda_fp16.h>
#include <cuda_runtime_api.h>

#include <string>

namespace ft4j {

template <typename T>
struct ZeroPaddedRowsParams {
  T* data;             // [batch, seq, hidden]
  const int* lengths;  // [batch], device
  int batch;
  int seq;
  int hidden;
};

// "" or why the shape is not supported (FT4J_ERR_UNSUPPORTED). Pointers are checked by the caller:
// non-NULL where required and aligned to the element size.
template <typename T>
std::string check_zero_padded_rows(const ZeroPaddedRowsParams<T>& p);

template <typename T>
cudaError_t launch_zero_padded_rows(const ZeroPaddedRowsParams<T>& p, cudaStream_t stream);

}  // namespace ft4j
