// Fully connected layer (layer_ops.hpp): out [B, C] = in [B, K] w^T + b, w [C, K].
#pragma once

namespace lyre::cpu {

template <typename S>
void linear_forward(int batch, int in_features, int out_features, const S* in, const S* w,
                    const S* b, S* out);

// din = dout w (written; skipped when null); dw += dout^T in; db += column sums of dout.
template <typename S>
void linear_backward(int batch, int in_features, int out_features, const S* in, const S* w,
                     const S* dout, S* din, S* dw, S* db);

}  // namespace lyre::cpu
