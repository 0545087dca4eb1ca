// Softmax cross-entropy fused with its gradient and the epoch metrics.
//
//   logits, probs: [B,C]
//   dlogits:       [B,C]  w[label] (probs - onehot(label)) / denominator; may be
//                  null (evaluation); w = 1 when class_weights is null
//   labels:        [B] int32
//   counters:      [metric_slots(C)] doubles, accumulated (layout: MetricSlot in
//                  engine/backend/layer_ops.hpp, passed in as CounterSlots)
//
// Per song: a stable softmax (max subtracted), loss = max + log(sum e) - z_label,
// prediction = argmax of the logits (ties go to the lower class), the
// one-vs-rest counts at probability > 0.5 and one confusion cell
// [label * C + predicted].
//
// One block does the whole batch: each thread takes songs in a fixed stride,
// the block sums the thread totals in a fixed order and one thread adds them
// to the counters, so the sums are deterministic. Confusion cells take
// atomicAdd of 1.0: integer-valued doubles, exact in any order. A label
// outside [0, C) sets kFaultLabel in `fault` (gather.cuh) and the song is
// left out of every count.
#pragma once

#include <cstdint>

#include <cuda_runtime.h>

namespace lyre::kernels {

struct CounterSlots {
  int loss_sum, songs, correct, threshold_tp, threshold_fp, threshold_fn, confusion;
};

struct LossScale {
  const float* class_weights;  // [C] device memory, or null
  float denominator;           // > 0
};

void softmax_xent(int batch, int classes, const float* logits, const std::int32_t* labels,
                  const LossScale& scale, float* probs, float* dlogits, double* counters,
                  const CounterSlots& slots, int* fault, cudaStream_t stream);

}  // namespace lyre::kernels
