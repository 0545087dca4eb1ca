// Additive attention with a masked softmax and pooling: the pointwise parts.
// The matrix products around them run through cuBLAS (cuda_ops.cpp).
//
//   y:       [T,B,H]   LSTM output (H = Hout), 0 at padding
//   w:       [A,H]     (cuBLAS: z = y w^T, dy += dz w, dw += dz^T y)
//   b, v:    [A]
//   u:       [T,B,A]   forward: holds z = y w^T on entry, tanh(z + b) on exit
//                      (0 at padding)
//   alpha:   [T,B]     masked softmax over t < len of s_t = v . u_t, 0 at padding
//   pooled:  [B,H]     sum_{t<len} alpha_t y_t, times 1/len for `mean`
//   dpooled: [B,H]
//   dy:      [T,B,H]   backward: the pooling term scale * alpha_t * dpooled (0 at
//                      padding); cuBLAS then adds dz w
//   ds:      [T,B]     score gradient, 0 at padding (cuBLAS: dv += u^T ds)
//   dz:      [T,B,A]   ds_t * v * (1 - u_t^2), 0 at padding (cuBLAS: db += dz^T 1)
//
// One block per song does the whole per-song chain, with its scores in shared
// memory: T floats, so T <= attention_max_steps().
#pragma once

#include <cstdint>

#include <cuda_runtime.h>

namespace lyre::kernels {

int attention_max_steps();

void attention_forward_pointwise(int steps, int batch, int hidden, int attention,
                                 const std::int32_t* lengths, bool mean_pool, const float* y,
                                 const float* b, const float* v, float* u, float* alpha,
                                 float* pooled, cudaStream_t stream);

void attention_backward_pointwise(int steps, int batch, int hidden, int attention,
                                  const std::int32_t* lengths, bool mean_pool, const float* y,
                                  const float* v, const float* u, const float* alpha,
                                  const float* dpooled, float* dy, float* ds, float* dz,
                                  cudaStream_t stream);

}  // namespace lyre::kernels
