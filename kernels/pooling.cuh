// Pooling without attention.
//
//   y, dy:            [T,B,Hout]   Hout = hidden * directions
//   pooled, dpooled:  [B,Hout]
//   lengths:          [B] int32
//
//   mean: pooled[b] = (1/len) sum_{t<len} y[t,b]; dy[t,b] = dpooled[b] / len for
//         t < len, 0 otherwise.
//   final state (pool none): the forward half of pooled[b] is y[len-1,b,0:H),
//         the backward half (bidirectional) is y[0,b,H:2H); dy is dpooled at
//         exactly those places and 0 everywhere else.
#pragma once

#include <cstdint>

#include <cuda_runtime.h>

namespace lyre::kernels {

void pool_forward(int batch, int hidden, int directions, const std::int32_t* lengths,
                  bool mean_pool, const float* y, float* pooled, cudaStream_t stream);

void pool_backward(int steps, int batch, int hidden, int directions, const std::int32_t* lengths,
                   bool mean_pool, const float* dpooled, float* dy, cudaStream_t stream);

}  // namespace lyre::kernels
