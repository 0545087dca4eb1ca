// Adam (torch.optim.Adam semantics) over one flat parameter buffer, with
// optional global-norm gradient clipping.
//
//   params, grads, m, v: [n]
//   norm_partials:       [kNormBlocks] doubles (scratch)
//   clip_scale:          [1] float (device): min(1, clip / (||grads|| + 1e-6))
//
// Clipping (torch.nn.utils.clip_grad_norm_): the squared norm is reduced in two
// deterministic stages, a fixed grid of kNormBlocks blocks writing one partial
// each, then one block summing the partials in order, which also computes the
// scale into device memory. The Adam kernel reads that scale, so no host
// synchronization happens; like the CPU backend it writes the clipped
// gradient back when the scale is below 1.
//
// Per element (the CPU backend's order of operations):
//   g = grad * scale + weight_decay * param
//   m = beta1 m + (1 - beta1) g;  v = beta2 v + (1 - beta2) g^2
//   param -= step_size * (m / (sqrt(v) / sqrt(1 - beta2^t) + eps)),
//   step_size = lr / (1 - beta1^t)
// One launch: float4 loads and stores when all four buffers are 16-byte
// aligned (the last n % 4 elements as floats), plain floats otherwise.
#pragma once

#include <cstddef>

#include <cuda_runtime.h>

namespace lyre::kernels {

inline constexpr int kNormBlocks = 512;

struct AdamScalars {
  float beta1, beta2, one_minus_beta1, one_minus_beta2;
  float weight_decay, step_size, sqrt_correction2, eps;
};

void grad_clip_scale(std::size_t n, const float* grads, double clip_norm, double* norm_partials,
                     float* clip_scale, cudaStream_t stream);

// clip_scale may be null (no clipping).
void adam_step(std::size_t n, const AdamScalars& scalars, const float* clip_scale, float* params,
               float* grads, float* m, float* v, cudaStream_t stream);

}  // namespace lyre::kernels
