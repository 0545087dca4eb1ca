// Additive attention + pooling (layer_ops.hpp):
//   u [T,B,A] = tanh(y w^T + b)   a GEMM per step over its active songs; 0 at padding
//   s [T,B]   = u . v
//   alpha     = softmax of s over t < len[b] (max-subtracted), 0 at padding
//   pooled[b] = sum_t alpha[t,b] y[t,b]   (divided by len[b] for pool mean)
// The backward is fused per song: with dp = dpooled[b] (/ len for mean),
//   dalpha_t = dp . y_t,  ds_t = alpha_t (dalpha_t - sum_t' alpha_t' dalpha_t'),
//   dz_t = ds_t v * (1 - u_t^2),
//   dy_t = alpha_t dp + dz_t w,   dw += dz^T y,  db += sum dz,  dv += sum ds_t u_t,
// where dw is one GEMM over all T*B rows (dz is 0 at padding) and dz w a GEMM
// per step over its active songs.
#pragma once

#include <cstddef>
#include <vector>

#include "engine/backend/layer_ops.hpp"

namespace lyre::cpu {

template <typename S>
void attention_forward(const BatchInputs& batch, const AttentionShape& shape, const S* y,
                       const S* w, const S* b, const S* v, S* u, S* alpha, S* pooled);

// `workspace` holds T*B*(A+1) elements (CpuOps::reserve sizes it once; a
// direct caller's vector grows if it is smaller).
template <typename S>
void attention_backward(const BatchInputs& batch, const AttentionShape& shape, const S* y,
                        const S* w, const S* v, const S* u, const S* alpha, const S* dpooled,
                        S* dy, S* dw, S* db, S* dv, std::vector<S>& workspace);

}  // namespace lyre::cpu
