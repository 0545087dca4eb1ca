#include "engine/backend/cpu/softmax_xent.hpp"

#include <cmath>
#include <cstddef>

#include "engine/backend/layer_ops.hpp"
#include "engine/core/error.hpp"

namespace lyre::cpu {

template <typename S>
void softmax_xent(int batch, int classes, const S* logits, const std::int32_t* labels,
                  const LossWeights& weights, S* probs, S* dlogits, double* counters) {
  LYRE_CHECK(weights.denominator >= 0, "loss denominator {}", weights.denominator);
  const S inv_denominator =
      S(1) / static_cast<S>(weights.denominator > 0 ? weights.denominator : batch);
  for (int song = 0; song < batch; ++song) {
    const std::int32_t label = labels[song];
    LYRE_CHECK(label >= 0 && label < classes, "label {} of song {} outside {} classes", label,
               song, classes);
    const std::ptrdiff_t row = static_cast<std::ptrdiff_t>(song) * classes;
    const S* z = logits + row;
    int predicted = 0;
    for (int c = 1; c < classes; ++c)
      if (z[c] > z[predicted]) predicted = c;
    const S max_logit = z[predicted];
    S total = 0;
    for (int c = 0; c < classes; ++c) total += std::exp(z[c] - max_logit);
    const S log_total = std::log(total);
    const S scale = weights.class_weights
                        ? static_cast<S>(weights.class_weights[label]) * inv_denominator
                        : inv_denominator;
    S* p = probs + row;
    for (int c = 0; c < classes; ++c) {
      p[c] = std::exp(z[c] - max_logit - log_total);
      const bool positive = p[c] > S(0.5);
      const bool is_label = c == label;
      counters[kThresholdTp] += positive && is_label ? 1.0 : 0.0;
      counters[kThresholdFp] += positive && !is_label ? 1.0 : 0.0;
      counters[kThresholdFn] += !positive && is_label ? 1.0 : 0.0;
      if (dlogits != nullptr) dlogits[row + c] = (p[c] - (is_label ? S(1) : S(0))) * scale;
    }
    counters[kLossSum] += static_cast<double>(max_logit + log_total - z[label]);
    counters[kSongs] += 1.0;
    counters[kCorrect] += predicted == label ? 1.0 : 0.0;
    counters[kConfusion + static_cast<std::size_t>(label) * static_cast<std::size_t>(classes) +
             static_cast<std::size_t>(predicted)] += 1.0;
  }
}

template void softmax_xent<float>(int, int, const float*, const std::int32_t*,
                                  const LossWeights&, float*, float*, double*);
template void softmax_xent<double>(int, int, const double*, const std::int32_t*,
                                   const LossWeights&, double*, double*, double*);

}  // namespace lyre::cpu
