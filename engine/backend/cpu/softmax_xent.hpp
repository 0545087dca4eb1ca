// Softmax cross-entropy fused with its gradient and the epoch metrics
// (layer_ops.hpp, MetricSlot).
#pragma once

#include <cstdint>

namespace lyre::cpu {

// probs [B, C] = softmax(logits) through a max-subtracted log-sum-exp;
// dlogits [B, C] = (probs - onehot(label)) / B unless null; counters
// (metric_slots(C) doubles) accumulate per song:
//   kLossSum   log-sum-exp - logit[label]
//   kSongs     1
//   kCorrect   argmax == label (ties go to the lower class index)
//   kThreshold{Tp,Fp,Fn}  over every class c: prob > 0.5 against c == label,
//              as Keras' Precision() / Recall() count them
//   kConfusion [label * C + argmax]
template <typename S>
void softmax_xent(int batch, int classes, const S* logits, const std::int32_t* labels, S* probs,
                  S* dlogits, double* counters);

}  // namespace lyre::cpu
