#include "kernels/attention.cuh"

#include <math_constants.h>

#include "kernels/cuda_check.hpp"
#include "kernels/launch.cuh"
#include "kernels/reduce.cuh"

namespace lyre::kernels {
namespace {

constexpr int kSongThreads = 256;  // one block per song: 8 warps
constexpr int kSharedBytes = 48 * 1024;
constexpr int kStaticSharedBytes = kWarpSize * static_cast<int>(sizeof(float));

__device__ __forceinline__ std::size_t row_of(int t, int b, int batch) {
  return static_cast<std::size_t>(t) * static_cast<std::size_t>(batch) +
         static_cast<std::size_t>(b);
}

// Block per song. Warps own steps (u, scores); threads own steps (softmax)
// and then features (pooling), each loop in a fixed order.
__global__ void attention_forward_kernel(int steps, int batch, int hidden, int attention,
                                         const std::int32_t* lengths, bool mean_pool,
                                         const float* y, const float* bias, const float* v,
                                         float* u, float* alpha, float* pooled) {
  extern __shared__ float weights[];  // [steps]: scores, then alpha
  __shared__ float scratch[kWarpSize];
  const int b = static_cast<int>(blockIdx.x);
  const int len = lengths[b];
  const int lane = static_cast<int>(threadIdx.x) % kWarpSize;
  const int warp = static_cast<int>(threadIdx.x) / kWarpSize;
  const int warps = static_cast<int>(blockDim.x) / kWarpSize;
  const int tid = static_cast<int>(threadIdx.x);
  const int threads = static_cast<int>(blockDim.x);
  const std::size_t A = static_cast<std::size_t>(attention);
  const std::size_t H = static_cast<std::size_t>(hidden);

  // u = tanh(z + b) and s_t = v . u_t for t < len; u = 0 at padding.
  for (int t = warp; t < steps; t += warps) {
    float* u_t = u + row_of(t, b, batch) * A;
    if (t < len) {
      float score = 0.0f;
      for (int a = lane; a < attention; a += kWarpSize) {
        const float value = tanhf(u_t[a] + bias[a]);
        u_t[a] = value;
        score += value * v[a];
      }
      score = warp_sum(score);
      if (lane == 0) weights[t] = score;
    } else {
      for (int a = lane; a < attention; a += kWarpSize) u_t[a] = 0.0f;
    }
  }
  __syncthreads();

  // Masked softmax over t < len (block_max / block_sum synchronize the block).
  float local_max = -CUDART_INF_F;
  for (int t = tid; t < len; t += threads) local_max = fmaxf(local_max, weights[t]);
  const float max_score = block_max(local_max, -CUDART_INF_F, scratch);
  float local_total = 0.0f;
  for (int t = tid; t < len; t += threads) {
    const float e = expf(weights[t] - max_score);
    weights[t] = e;
    local_total += e;
  }
  const float total = block_sum(local_total, scratch);
  const float inv_total = len > 0 ? 1.0f / total : 0.0f;
  for (int t = tid; t < steps; t += threads) {
    const float a = t < len ? weights[t] * inv_total : 0.0f;
    if (t < len) weights[t] = a;
    alpha[row_of(t, b, batch)] = a;
  }
  __syncthreads();

  // pooled = scale * sum_{t<len} alpha_t y_t, one feature per thread.
  const float scale = mean_pool && len > 0 ? 1.0f / static_cast<float>(len) : 1.0f;
  for (int k = tid; k < hidden; k += threads) {
    float sum = 0.0f;
    for (int t = 0; t < len; ++t) sum += weights[t] * y[row_of(t, b, batch) * H + static_cast<std::size_t>(k)];
    pooled[static_cast<std::size_t>(b) * H + static_cast<std::size_t>(k)] = sum * scale;
  }
}

// Block per song: dalpha_t = scale * dpooled . y_t, the softmax backward
// ds_t = alpha_t (dalpha_t - sum_k alpha_k dalpha_k), then dz and dy's
// pooling term row by row.
__global__ void attention_backward_kernel(int steps, int batch, int hidden, int attention,
                                          const std::int32_t* lengths, bool mean_pool,
                                          const float* y, const float* v, const float* u,
                                          const float* alpha, const float* dpooled, float* dy,
                                          float* ds, float* dz) {
  extern __shared__ float grads[];  // [steps]: dalpha, then ds
  __shared__ float scratch[kWarpSize];
  const int b = static_cast<int>(blockIdx.x);
  const int len = lengths[b];
  const int lane = static_cast<int>(threadIdx.x) % kWarpSize;
  const int warp = static_cast<int>(threadIdx.x) / kWarpSize;
  const int warps = static_cast<int>(blockDim.x) / kWarpSize;
  const int tid = static_cast<int>(threadIdx.x);
  const int threads = static_cast<int>(blockDim.x);
  const std::size_t A = static_cast<std::size_t>(attention);
  const std::size_t H = static_cast<std::size_t>(hidden);
  const float scale = mean_pool && len > 0 ? 1.0f / static_cast<float>(len) : 1.0f;
  const float* dp = dpooled + static_cast<std::size_t>(b) * H;

  for (int t = warp; t < len; t += warps) {
    const float* y_t = y + row_of(t, b, batch) * H;
    float dot = 0.0f;
    for (int k = lane; k < hidden; k += kWarpSize) dot += dp[k] * y_t[k];
    dot = warp_sum(dot);
    if (lane == 0) grads[t] = dot * scale;
  }
  __syncthreads();

  float local = 0.0f;
  for (int t = tid; t < len; t += threads) local += alpha[row_of(t, b, batch)] * grads[t];
  const float weighted = block_sum(local, scratch);
  for (int t = tid; t < steps; t += threads) {
    const std::size_t r = row_of(t, b, batch);
    const float ds_t = t < len ? alpha[r] * (grads[t] - weighted) : 0.0f;
    if (t < len) grads[t] = ds_t;
    ds[r] = ds_t;
  }
  __syncthreads();

  for (int t = warp; t < steps; t += warps) {
    const std::size_t r = row_of(t, b, batch);
    float* dz_t = dz + r * A;
    float* dy_t = dy + r * H;
    if (t < len) {
      const float ds_t = grads[t];
      const float* u_t = u + r * A;
      for (int a = lane; a < attention; a += kWarpSize)
        dz_t[a] = ds_t * v[a] * (1.0f - u_t[a] * u_t[a]);
      const float direct = alpha[r] * scale;
      for (int k = lane; k < hidden; k += kWarpSize) dy_t[k] = direct * dp[k];
    } else {
      for (int a = lane; a < attention; a += kWarpSize) dz_t[a] = 0.0f;
      for (int k = lane; k < hidden; k += kWarpSize) dy_t[k] = 0.0f;
    }
  }
}

std::size_t shared_bytes(int steps) {
  return static_cast<std::size_t>(steps) * sizeof(float);
}

}  // namespace

// ---------------------------------------------------------------------------
// Host launchers
// ---------------------------------------------------------------------------

int attention_max_steps() {
  return (kSharedBytes - kStaticSharedBytes) / static_cast<int>(sizeof(float));
}

void attention_forward_pointwise(int steps, int batch, int hidden, int attention,
                                 const std::int32_t* lengths, bool mean_pool, const float* y,
                                 const float* b, const float* v, float* u, float* alpha,
                                 float* pooled, cudaStream_t stream) {
  attention_forward_kernel<<<static_cast<unsigned>(batch), kSongThreads, shared_bytes(steps),
                             stream>>>(steps, batch, hidden, attention, lengths, mean_pool, y, b,
                                       v, u, alpha, pooled);
  LYRE_CUDA_LAUNCHED("attention_forward_kernel");
}

void attention_backward_pointwise(int steps, int batch, int hidden, int attention,
                                  const std::int32_t* lengths, bool mean_pool, const float* y,
                                  const float* v, const float* u, const float* alpha,
                                  const float* dpooled, float* dy, float* ds, float* dz,
                                  cudaStream_t stream) {
  attention_backward_kernel<<<static_cast<unsigned>(batch), kSongThreads, shared_bytes(steps),
                              stream>>>(steps, batch, hidden, attention, lengths, mean_pool, y, v,
                                        u, alpha, dpooled, dy, ds, dz);
  LYRE_CUDA_LAUNCHED("attention_backward_kernel");
}

}  // namespace lyre::kernels
