// Softmax cross-entropy fused with its gradient and the epoch metrics
// (layer_ops.hpp, MetricSlot).
#pragma once

#include <cstdint>

#include "engine/backend/layer_ops.hpp"

namespace lyre::cpu {

// probs [B, C] = softmax(logits) through a max-subtracted log-sum-exp;
// dlogits [B, C] = w[label] (probs - onehot(label)) / denominator unless null
// (LossWeights in layer_ops.hpp; w = 1 and denominator = B by default); counters
// (metric_slots(C) doubles) accumulate per song:
//   kLossSum   log-sum-exp - logit[label]
//   kSongs     1
//   kCorrect   argmax == label (ties go to the lower class index)
//   kThreshold{Tp,Fp,Fn}  over every class c: prob > 0.5 against c == label,
//              as Keras' Precision() / Recall() count them
//   kConfusion [label * C + argmax]
template <typename S>
void softmax_xent(int batch, int classes, const S* logits, const std::int32_t* labels,
                  const LossWeights& weights, S* probs, S* dlogits, double* counters);

}  // namespace lyre::cpu
