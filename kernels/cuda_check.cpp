#include "kernels/cuda_check.hpp"

#include "engine/core/error.hpp"

namespace lyre::cuda {

void throw_cuda_error(cudaError_t status, const char* call, const char* file, int line) {
  fail("CUDA call {} failed: {} ({}:{})", call, cudaGetErrorString(status), file, line);
}

void throw_cublas_error(cublasStatus_t status, const char* call, const char* file, int line) {
  fail("cuBLAS call {} failed: {} ({}:{})", call, cublasGetStatusString(status), file, line);
}

void throw_cudnn_error(cudnnStatus_t status, const char* call, const char* file, int line) {
  fail("cuDNN call {} failed: {} ({}:{})", call, cudnnGetErrorString(status), file, line);
}

}  // namespace lyre::cuda
