#include "kernels/softmax_xent.cuh"

#include "kernels/cuda_check.hpp"
#include "kernels/gather.cuh"
#include "kernels/reduce.cuh"

namespace lyre::kernels {
namespace {

constexpr int kXentThreads = 256;

struct SongTotals {
  double loss = 0.0, songs = 0.0, correct = 0.0, tp = 0.0, fp = 0.0, fn = 0.0;
};

// One song's softmax, gradient and counts; mirrors the CPU backend's formulas.
__device__ void softmax_xent_song(int song, int classes, const float* logits,
                                  std::int32_t label, const LossScale& scale, float* probs,
                                  float* dlogits, double* confusion, SongTotals& totals) {
  const std::size_t row = static_cast<std::size_t>(song) * static_cast<std::size_t>(classes);
  const float* z = logits + row;
  int predicted = 0;
  for (int c = 1; c < classes; ++c)
    if (z[c] > z[predicted]) predicted = c;
  const float max_logit = z[predicted];
  float total = 0.0f;
  for (int c = 0; c < classes; ++c) total += expf(z[c] - max_logit);
  const float log_total = logf(total);
  const float inv_denominator = 1.0f / scale.denominator;
  const float weight = scale.class_weights ? scale.class_weights[label] * inv_denominator
                                           : inv_denominator;
  for (int c = 0; c < classes; ++c) {
    const float p = expf(z[c] - max_logit - log_total);
    probs[row + static_cast<std::size_t>(c)] = p;
    const bool positive = p > 0.5f;
    const bool is_label = c == label;
    totals.tp += positive && is_label ? 1.0 : 0.0;
    totals.fp += positive && !is_label ? 1.0 : 0.0;
    totals.fn += !positive && is_label ? 1.0 : 0.0;
    if (dlogits != nullptr)
      dlogits[row + static_cast<std::size_t>(c)] = (p - (is_label ? 1.0f : 0.0f)) * weight;
  }
  totals.loss += static_cast<double>(max_logit + log_total - z[label]);
  totals.songs += 1.0;
  totals.correct += predicted == label ? 1.0 : 0.0;
  atomicAdd(&confusion[static_cast<std::size_t>(label) * static_cast<std::size_t>(classes) +
                       static_cast<std::size_t>(predicted)],
            1.0);
}

__global__ void softmax_xent_kernel(int batch, int classes, const float* logits,
                                    const std::int32_t* labels, LossScale scale, float* probs,
                                    float* dlogits, double* counters, CounterSlots slots,
                                    int* fault) {
  __shared__ double scratch[kWarpSize];
  SongTotals totals;
  for (int song = static_cast<int>(threadIdx.x); song < batch;
       song += static_cast<int>(blockDim.x)) {
    const std::int32_t label = labels[song];
    if (label < 0 || label >= classes) {
      atomicOr(fault, kFaultLabel);
      continue;
    }
    softmax_xent_song(song, classes, logits, label, scale, probs, dlogits,
                      counters + slots.confusion, totals);
  }
  const double loss = block_sum(totals.loss, scratch);
  const double songs = block_sum(totals.songs, scratch);
  const double correct = block_sum(totals.correct, scratch);
  const double tp = block_sum(totals.tp, scratch);
  const double fp = block_sum(totals.fp, scratch);
  const double fn = block_sum(totals.fn, scratch);
  if (threadIdx.x == 0) {
    counters[slots.loss_sum] += loss;
    counters[slots.songs] += songs;
    counters[slots.correct] += correct;
    counters[slots.threshold_tp] += tp;
    counters[slots.threshold_fp] += fp;
    counters[slots.threshold_fn] += fn;
  }
}

}  // namespace

// ---------------------------------------------------------------------------
// Host launchers
// ---------------------------------------------------------------------------

void softmax_xent(int batch, int classes, const float* logits, const std::int32_t* labels,
                  const LossScale& scale, float* probs, float* dlogits, double* counters,
                  const CounterSlots& slots, int* fault, cudaStream_t stream) {
  softmax_xent_kernel<<<1, kXentThreads, 0, stream>>>(batch, classes, logits, labels, scale,
                                                      probs, dlogits, counters, slots, fault);
  LYRE_CUDA_LAUNCHED("softmax_xent_kernel");
}

}  // namespace lyre::kernels
