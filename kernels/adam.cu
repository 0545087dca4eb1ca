#include "kernels/adam.cuh"

#include <cstdint>

#include "kernels/cuda_check.hpp"
#include "kernels/launch.cuh"
#include "kernels/reduce.cuh"

namespace lyre::kernels {
namespace {

constexpr int kNormThreads = 256;
constexpr int kNormFinalThreads = kNormBlocks;  // one partial per thread

// Stage 1: a fixed grid, each block writing its partial sum of squares.
__global__ void squared_norm_partials_kernel(std::size_t n, const float* grads,
                                             double* partials) {
  __shared__ double scratch[kWarpSize];
  double sum = 0.0;
  LYRE_GRID_STRIDE_LOOP(i, n) {
    const double g = static_cast<double>(grads[i]);
    sum += g * g;
  }
  sum = block_sum(sum, scratch);
  if (threadIdx.x == 0) partials[blockIdx.x] = sum;
}

// Stage 2: one block sums the partials in order and turns the norm into the
// clipping scale, as the CPU backend does (in double, then rounded to float).
__global__ void clip_scale_kernel(const double* partials, int count, double clip_norm,
                                  float* clip_scale) {
  __shared__ double scratch[kWarpSize];
  double sum = 0.0;
  for (int i = static_cast<int>(threadIdx.x); i < count; i += static_cast<int>(blockDim.x))
    sum += partials[i];
  sum = block_sum(sum, scratch);
  if (threadIdx.x == 0) {
    const double coef = clip_norm / (sqrt(sum) + 1e-6);
    *clip_scale = coef >= 1.0 ? 1.0f : static_cast<float>(coef);
  }
}

__device__ __forceinline__ void adam_update(const AdamScalars& s, float scale, float& param,
                                            float& grad, float& m, float& v) {
  if (scale < 1.0f) grad *= scale;
  const float g = grad + s.weight_decay * param;
  m = s.beta1 * m + s.one_minus_beta1 * g;
  v = s.beta2 * v + s.one_minus_beta2 * g * g;
  const float denom = sqrtf(v) / s.sqrt_correction2 + s.eps;
  param -= s.step_size * (m / denom);
}

// One launch over the whole buffer: float4 steps over the first n / 4 * 4
// elements when `vectorized`, then plain floats over the rest.
__global__ void adam_kernel(std::size_t n, bool vectorized, AdamScalars s,
                            const float* clip_scale, float* params, float* grads, float* m,
                            float* v) {
  const float scale = clip_scale != nullptr ? *clip_scale : 1.0f;
  std::size_t done = 0;
  if (vectorized) {
    const std::size_t n4 = n / 4;
    auto* params4 = reinterpret_cast<float4*>(params);
    auto* grads4 = reinterpret_cast<float4*>(grads);
    auto* m4 = reinterpret_cast<float4*>(m);
    auto* v4 = reinterpret_cast<float4*>(v);
    LYRE_GRID_STRIDE_LOOP(i, n4) {
      float4 p = params4[i], g = grads4[i], mi = m4[i], vi = v4[i];
      adam_update(s, scale, p.x, g.x, mi.x, vi.x);
      adam_update(s, scale, p.y, g.y, mi.y, vi.y);
      adam_update(s, scale, p.z, g.z, mi.z, vi.z);
      adam_update(s, scale, p.w, g.w, mi.w, vi.w);
      params4[i] = p;
      if (scale < 1.0f) grads4[i] = g;
      m4[i] = mi;
      v4[i] = vi;
    }
    done = n4 * 4;
  }
  LYRE_GRID_STRIDE_LOOP(j, n - done) {
    const std::size_t i = done + j;
    float p = params[i], g = grads[i], mi = m[i], vi = v[i];
    adam_update(s, scale, p, g, mi, vi);
    params[i] = p;
    if (scale < 1.0f) grads[i] = g;
    m[i] = mi;
    v[i] = vi;
  }
}

bool aligned16(const void* p) { return reinterpret_cast<std::uintptr_t>(p) % 16 == 0; }

}  // namespace

// ---------------------------------------------------------------------------
// Host launchers
// ---------------------------------------------------------------------------

void grad_clip_scale(std::size_t n, const float* grads, double clip_norm, double* norm_partials,
                     float* clip_scale, cudaStream_t stream) {
  squared_norm_partials_kernel<<<kNormBlocks, kNormThreads, 0, stream>>>(n, grads,
                                                                         norm_partials);
  LYRE_CUDA_LAUNCHED("squared_norm_partials_kernel");
  clip_scale_kernel<<<1, kNormFinalThreads, 0, stream>>>(norm_partials, kNormBlocks, clip_norm,
                                                         clip_scale);
  LYRE_CUDA_LAUNCHED("clip_scale_kernel");
}

void adam_step(std::size_t n, const AdamScalars& scalars, const float* clip_scale, float* params,
               float* grads, float* m, float* v, cudaStream_t stream) {
  if (n == 0) return;
  const bool vectorized = aligned16(params) && aligned16(grads) && aligned16(m) && aligned16(v);
  const std::size_t items = vectorized ? (n + 3) / 4 : n;
  adam_kernel<<<grid_for(items, kElementwiseThreads), kElementwiseThreads, 0, stream>>>(
      n, vectorized, scalars, clip_scale, params, grads, m, v);
  LYRE_CUDA_LAUNCHED("adam_kernel");
}

}  // namespace lyre::kernels
