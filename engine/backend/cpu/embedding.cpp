#include "engine/backend/cpu/embedding.hpp"

#include <algorithm>
#include <cstddef>

namespace lyre::cpu {

template <typename S>
void embedding_forward(const BatchInputs& batch, const S* table, int dim, S* x) {
  const int T = batch.steps, B = batch.batch;
  const auto D = static_cast<std::size_t>(dim);
#pragma omp parallel for schedule(static) if (static_cast<long>(T) * B * dim >= 65536)
  for (int t = 0; t < T; ++t) {
    for (int b = 0; b < B; ++b) {
      const std::size_t row = static_cast<std::size_t>(t) * static_cast<std::size_t>(B) + static_cast<std::size_t>(b);
      S* out = x + row * D;
      if (t < batch.lengths[b]) {
        const S* src = table + static_cast<std::size_t>(batch.tokens[row]) * D;
        std::copy(src, src + D, out);
      } else {
        std::fill(out, out + D, S(0));
      }
    }
  }
}

template <typename S>
void embedding_backward(const BatchInputs& batch, const S* dx, int dim, S* dtable) {
  // Serial: two songs may share a token, and the scatter is a small part of a step.
  const int T = batch.steps, B = batch.batch;
  const auto D = static_cast<std::size_t>(dim);
  for (int t = 0; t < T; ++t) {
    for (int b = 0; b < B; ++b) {
      const std::size_t row = static_cast<std::size_t>(t) * static_cast<std::size_t>(B) + static_cast<std::size_t>(b);
      const std::int32_t token = batch.tokens[row];
      if (t >= batch.lengths[b] || token == 0) continue;
      S* dst = dtable + static_cast<std::size_t>(token) * D;
      const S* src = dx + row * D;
#pragma omp simd
      for (std::size_t j = 0; j < D; ++j) dst[j] += src[j];
    }
  }
}

template void embedding_forward<float>(const BatchInputs&, const float*, int, float*);
template void embedding_forward<double>(const BatchInputs&, const double*, int, double*);
template void embedding_backward<float>(const BatchInputs&, const float*, int, float*);
template void embedding_backward<double>(const BatchInputs&, const double*, int, double*);

}  // namespace lyre::cpu
