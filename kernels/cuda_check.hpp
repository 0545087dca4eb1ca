// Error checks for CUDA, cuBLAS and cuDNN calls. Every failure becomes a
// lyre::Error carrying the call, the status text and the source location:
//   "CUDA call cudaMalloc(&p, bytes) failed: out of memory (engine/.../x.cpp:42)"
//
// This header stays free of fmt and the standard library's heavier headers so
// that nvcc compiles the kernels quickly; the throwing functions live in
// cuda_check.cpp.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cudnn.h>

namespace lyre::cuda {

[[noreturn]] void throw_cuda_error(cudaError_t status, const char* call, const char* file, int line);
[[noreturn]] void throw_cublas_error(cublasStatus_t status, const char* call, const char* file,
                                     int line);
[[noreturn]] void throw_cudnn_error(cudnnStatus_t status, const char* call, const char* file,
                                    int line);

inline void check(cudaError_t status, const char* call, const char* file, int line) {
  if (status != cudaSuccess) throw_cuda_error(status, call, file, line);
}
inline void check(cublasStatus_t status, const char* call, const char* file, int line) {
  if (status != CUBLAS_STATUS_SUCCESS) throw_cublas_error(status, call, file, line);
}
inline void check(cudnnStatus_t status, const char* call, const char* file, int line) {
  if (status != CUDNN_STATUS_SUCCESS) throw_cudnn_error(status, call, file, line);
}

}  // namespace lyre::cuda

// Wraps any CUDA / cuBLAS / cuDNN call.
#define LYRE_CUDA(call) ::lyre::cuda::check((call), #call, __FILE__, __LINE__)
// After a kernel launch: catches bad launch configurations at the launch site.
#define LYRE_CUDA_LAUNCHED(kernel_name) \
  ::lyre::cuda::check(cudaGetLastError(), "launch of " kernel_name, __FILE__, __LINE__)
