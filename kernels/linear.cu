#include "kernels/linear.cuh"

#include "kernels/cuda_check.hpp"
#include "kernels/launch.cuh"

namespace lyre::kernels {
namespace {

__global__ void broadcast_rows_kernel(std::size_t total, int cols, const float* bias,
                                      float* out) {
  LYRE_GRID_STRIDE_LOOP(i, total) { out[i] = bias[i % static_cast<std::size_t>(cols)]; }
}

__global__ void fill_kernel(std::size_t n, float value, float* out) {
  LYRE_GRID_STRIDE_LOOP(i, n) { out[i] = value; }
}

}  // namespace

// ---------------------------------------------------------------------------
// Host launchers
// ---------------------------------------------------------------------------

void broadcast_rows(int rows, int cols, const float* bias, float* out, cudaStream_t stream) {
  const std::size_t total = static_cast<std::size_t>(rows) * static_cast<std::size_t>(cols);
  broadcast_rows_kernel<<<grid_for(total, kElementwiseThreads), kElementwiseThreads, 0,
                          stream>>>(total, cols, bias, out);
  LYRE_CUDA_LAUNCHED("broadcast_rows_kernel");
}

void fill(std::size_t n, float value, float* out, cudaStream_t stream) {
  if (n == 0) return;
  fill_kernel<<<grid_for(n, kElementwiseThreads), kElementwiseThreads, 0, stream>>>(n, value,
                                                                                    out);
  LYRE_CUDA_LAUNCHED("fill_kernel");
}

}  // namespace lyre::kernels
