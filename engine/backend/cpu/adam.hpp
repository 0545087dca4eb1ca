// Adam with optional global-norm clipping, exactly as PyTorch 1.13 runs
// torch.nn.utils.clip_grad_norm_(params, clip) followed by
// torch.optim.Adam(lr, betas, eps, weight_decay).step():
//   clip:  norm = ||grads||_2; coef = clip / (norm + 1e-6); grads *= coef if coef < 1
//          (in place, as PyTorch scales p.grad)
//   g = grad + weight_decay * param
//   m = beta1 m + (1 - beta1) g;   v = beta2 v + (1 - beta2) g^2
//   param -= lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
#pragma once

#include <cstddef>

#include "engine/backend/layer_ops.hpp"

namespace lyre::cpu {

template <typename S>
void adam(const AdamStep& step, std::size_t n, S* params, S* grads, S* m, S* v);

}  // namespace lyre::cpu
