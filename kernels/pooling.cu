#include "kernels/pooling.cuh"

#include "kernels/cuda_check.hpp"
#include "kernels/launch.cuh"

namespace lyre::kernels {
namespace {

constexpr int kPoolThreads = 128;

// The step whose output carries feature k's final state: len - 1 for the
// forward direction's features, 0 for the backward direction's.
__device__ __forceinline__ int final_step(int k, int hidden, int len) {
  return k < hidden ? len - 1 : 0;
}

// One block per song, one feature per thread.
__global__ void pool_forward_kernel(int batch, int hidden, int directions,
                                    const std::int32_t* lengths, bool mean_pool, const float* y,
                                    float* pooled) {
  const int b = static_cast<int>(blockIdx.x);
  const int len = lengths[b];
  const int width = hidden * directions;
  const std::size_t H = static_cast<std::size_t>(width);
  for (int k = static_cast<int>(threadIdx.x); k < width; k += static_cast<int>(blockDim.x)) {
    float value = 0.0f;
    if (mean_pool) {
      for (int t = 0; t < len; ++t)
        value += y[(static_cast<std::size_t>(t) * static_cast<std::size_t>(batch) +
                    static_cast<std::size_t>(b)) * H + static_cast<std::size_t>(k)];
      if (len > 0) value *= 1.0f / static_cast<float>(len);
    } else if (len > 0) {
      const int t = final_step(k, hidden, len);
      value = y[(static_cast<std::size_t>(t) * static_cast<std::size_t>(batch) +
                 static_cast<std::size_t>(b)) * H + static_cast<std::size_t>(k)];
    }
    pooled[static_cast<std::size_t>(b) * H + static_cast<std::size_t>(k)] = value;
  }
}

// One thread per element of dy.
__global__ void pool_backward_kernel(int steps, int batch, int hidden, int directions,
                                     const std::int32_t* lengths, bool mean_pool,
                                     const float* dpooled, float* dy) {
  const int width = hidden * directions;
  const std::size_t H = static_cast<std::size_t>(width);
  const std::size_t total =
      static_cast<std::size_t>(steps) * static_cast<std::size_t>(batch) * H;
  LYRE_GRID_STRIDE_LOOP(i, total) {
    const std::size_t row = i / H;
    const int k = static_cast<int>(i % H);
    const int t = static_cast<int>(row / static_cast<std::size_t>(batch));
    const int b = static_cast<int>(row % static_cast<std::size_t>(batch));
    const int len = lengths[b];
    const float dp = dpooled[static_cast<std::size_t>(b) * H + static_cast<std::size_t>(k)];
    float value = 0.0f;
    if (t < len) {
      if (mean_pool)
        value = (1.0f / static_cast<float>(len)) * dp;
      else if (t == final_step(k, hidden, len))
        value = dp;
    }
    dy[i] = value;
  }
}

}  // namespace

// ---------------------------------------------------------------------------
// Host launchers
// ---------------------------------------------------------------------------

void pool_forward(int batch, int hidden, int directions, const std::int32_t* lengths,
                  bool mean_pool, const float* y, float* pooled, cudaStream_t stream) {
  pool_forward_kernel<<<static_cast<unsigned>(batch), kPoolThreads, 0, stream>>>(
      batch, hidden, directions, lengths, mean_pool, y, pooled);
  LYRE_CUDA_LAUNCHED("pool_forward_kernel");
}

void pool_backward(int steps, int batch, int hidden, int directions, const std::int32_t* lengths,
                   bool mean_pool, const float* dpooled, float* dy, cudaStream_t stream) {
  const std::size_t total = static_cast<std::size_t>(steps) * static_cast<std::size_t>(batch) *
                            static_cast<std::size_t>(hidden * directions);
  pool_backward_kernel<<<grid_for(total, kElementwiseThreads), kElementwiseThreads, 0, stream>>>(
      steps, batch, hidden, directions, lengths, mean_pool, dpooled, dy);
  LYRE_CUDA_LAUNCHED("pool_backward_kernel");
}

}  // namespace lyre::kernels
