// Embedding lookup (layer_ops.hpp): x [T, B, D] = E[tokens] at t < len, 0 at
// padding; the backward scatters into the table's rows, never into PAD (row 0).
#pragma once

#include "engine/backend/layer_ops.hpp"

namespace lyre::cpu {

template <typename S>
void embedding_forward(const BatchInputs& batch, const S* table, int dim, S* x);

// dtable[tokens[t, b]] += dx[t, b] for t < len[b] and tokens != PAD.
template <typename S>
void embedding_backward(const BatchInputs& batch, const S* dx, int dim, S* dtable);

}  // namespace lyre::cpu
