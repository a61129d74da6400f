// Internal error plumbing of the C surface: a C++ exception type that carries an ft4j status code,
// and the guard that turns it (or anything else thrown) into a status + thread-local message.
#pragma once

#include <cuda_runtime_api.h>

#include <sstream>
#include <stdexcept>
#include <string>

#include "ft4j.h"

namespace ft4j {

class Error : public std::runtime_error {
 public:
  Error(int status, const std::string& message) : std::runtime_error(message), status_(status) {}
  int status() const { return status_; }

 private:
  int status_;
};

void set_last_error(const std::string& message);

// Throws FT4J_ERR_INVALID_ARGUMENT with the message built from `parts` when `condition` is false.
template <typename... Parts>
void require(bool condition, const Parts&... parts) {
  if (!condition) {
    std::ostringstream out;
    (out << ... << parts);
    throw Error(FT4J_ERR_INVALID_ARGUMENT, out.str());
  }
}

// A non-empty reason from a check_<family>() function becomes FT4J_ERR_UNSUPPORTED.
inline void require_supported(const std::string& reason, const char* what) {
  if (!reason.empty()) throw Error(FT4J_ERR_UNSUPPORTED, std::string(what) + ": " + reason);
}

// Checks a CUDA runtime result; the message names the call. The runtime also records a failure as
// the thread's last error, which the next launch's cudaGetLastError() would report as its own:
// the error reported here is consumed.
inline void check_cuda(cudaError_t result, const char* what) {
  if (result != cudaSuccess) {
    cudaGetLastError();
    throw Error(FT4J_ERR_CUDA, std::string(what) + " failed: " + cudaGetErrorName(result) + " (" +
                                   cudaGetErrorString(result) + ")");
  }
}

// Runs `body` and converts any exception into a status code and the thread-local message, so that
// nothing thrown crosses the extern "C" boundary.
template <typename Body>
int guarded(const char* function, Body&& body) noexcept {
  try {
    body();
    return FT4J_OK;
  } catch (const Error& e) {
    set_last_error(std::string(function) + ": " + e.what());
    return e.status();
  } catch (const std::exception& e) {
    set_last_error(std::string(function) + ": internal error: " + e.what());
    return FT4J_ERR_INTERNAL;
  } catch (...) {
    set_last_error(std::string(function) + ": internal error of unknown type");
    return FT4J_ERR_INTERNAL;
  }
}

}  // namespace ft4j
