// Pooling without attention (layer_ops.hpp): mean = (1/len) sum_{t<len} y_t;
// none = the final states: forward half of y at len-1, backward half
// (bidirectional) of y at 0.
#pragma once

#include "engine/backend/layer_ops.hpp"

namespace lyre::cpu {

// y [T, B, Hout] -> pooled [B, Hout], Hout = hidden * directions.
template <typename S>
void pool_forward(const BatchInputs& batch, PoolKind pool, int hidden, bool bidirectional,
                  const S* y, S* pooled);

// dpooled [B, Hout] -> dy [T, B, Hout] (written; 0 wherever y was not read).
template <typename S>
void pool_backward(const BatchInputs& batch, PoolKind pool, int hidden, bool bidirectional,
                   const S* dpooled, S* dy);

}  // namespace lyre::cpu
