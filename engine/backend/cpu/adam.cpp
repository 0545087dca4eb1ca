#include "engine/backend/cpu/adam.hpp"

#include <cmath>

#include "engine/core/error.hpp"

namespace lyre::cpu {
namespace {

using Index = std::ptrdiff_t;

// Below this many parameters the update runs on one thread.
constexpr Index kParallelParams = 65536;

template <typename S>
double squared_norm(Index n, const S* x) {
  double total = 0.0;
#pragma omp parallel for simd reduction(+ : total) schedule(static) if (n >= kParallelParams)
  for (Index i = 0; i < n; ++i) total += static_cast<double>(x[i]) * static_cast<double>(x[i]);
  return total;
}

template <typename S>
void clip_global_norm(Index n, S* grads, double clip_norm) {
  const double coef = clip_norm / (std::sqrt(squared_norm(n, grads)) + 1e-6);
  if (coef >= 1.0) return;
  const auto scale = static_cast<S>(coef);
#pragma omp parallel for simd schedule(static) if (n >= kParallelParams)
  for (Index i = 0; i < n; ++i) grads[i] *= scale;
}

}  // namespace

template <typename S>
void adam(const AdamStep& step, std::size_t n, S* params, S* grads, S* m, S* v) {
  LYRE_CHECK(step.step >= 1, "Adam step {} (1-based)", step.step);
  const auto count = static_cast<Index>(n);
  if (step.clip_norm > 0.0) clip_global_norm(count, grads, step.clip_norm);
  const double t = static_cast<double>(step.step);
  const auto beta1 = static_cast<S>(step.beta1), beta2 = static_cast<S>(step.beta2);
  const auto one_minus_beta1 = static_cast<S>(1.0 - step.beta1);
  const auto one_minus_beta2 = static_cast<S>(1.0 - step.beta2);
  const auto weight_decay = static_cast<S>(step.weight_decay);
  const auto step_size = static_cast<S>(step.lr / (1.0 - std::pow(step.beta1, t)));
  const auto sqrt_correction2 = static_cast<S>(std::sqrt(1.0 - std::pow(step.beta2, t)));
  const auto eps = static_cast<S>(step.eps);
#pragma omp parallel for simd schedule(static) if (count >= kParallelParams)
  for (Index i = 0; i < count; ++i) {
    const S g = grads[i] + weight_decay * params[i];
    m[i] = beta1 * m[i] + one_minus_beta1 * g;
    v[i] = beta2 * v[i] + one_minus_beta2 * g * g;
    const S denom = std::sqrt(v[i]) / sqrt_correction2 + eps;
    params[i] -= step_size * (m[i] / denom);
  }
}

template void adam<float>(const AdamStep&, std::size_t, float*, float*, float*, float*);
template void adam<double>(const AdamStep&, std::size_t, double*, double*, double*, double*);

}  // namespace lyre::cpu
