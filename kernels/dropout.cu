#include "kernels/dropout.cuh"

#include "engine/core/philox.hpp"
#include "kernels/cuda_check.hpp"
#include "kernels/launch.cuh"

namespace lyre::kernels {
namespace {

__global__ void dropout_kernel(std::size_t n, float p, float scale, std::uint64_t seed,
                               std::uint64_t offset, const float* in, float* out) {
  LYRE_GRID_STRIDE_LOOP(i, n) {
    out[i] = dropout_keep(seed, offset + static_cast<std::uint64_t>(i), p) ? in[i] * scale : 0.0f;
  }
}

}  // namespace

// ---------------------------------------------------------------------------
// Host launchers
// ---------------------------------------------------------------------------

void dropout_masked_scale(std::size_t n, float p, std::uint64_t seed, std::uint64_t offset,
                          const float* in, float* out, cudaStream_t stream) {
  if (n == 0) return;
  const float scale = 1.0f / (1.0f - p);  // as the CPU backend computes it
  dropout_kernel<<<grid_for(n, kElementwiseThreads), kElementwiseThreads, 0, stream>>>(
      n, p, scale, seed, offset, in, out);
  LYRE_CUDA_LAUNCHED("dropout_kernel");
}

}  // namespace lyre::kernels
