#include "engine/backend/cpu/pooling.hpp"

#include <algorithm>
#include <cstddef>

namespace lyre::cpu {
namespace {

using Index = std::ptrdiff_t;

// The step whose output carries direction d's final state for `pool none`.
int final_step(int direction, int length) { return direction == 0 ? length - 1 : 0; }

}  // namespace

template <typename S>
void pool_forward(const BatchInputs& batch, PoolKind pool, int hidden, bool bidirectional,
                  const S* y, S* pooled) {
  const int B = batch.batch, Hout = hidden * (bidirectional ? 2 : 1);
  for (int song = 0; song < B; ++song) {
    const int len = batch.lengths[song];
    S* out = pooled + Index{song} * Hout;
    if (pool == PoolKind::mean) {
      std::fill(out, out + Hout, S(0));
      for (int t = 0; t < len; ++t) {
        const S* y_t = y + (Index{t} * B + song) * Hout;
        for (int k = 0; k < Hout; ++k) out[k] += y_t[k];
      }
      const S scale = S(1) / static_cast<S>(len);
      for (int k = 0; k < Hout; ++k) out[k] *= scale;
    } else {
      for (int d = 0; d * hidden < Hout; ++d) {
        const S* y_t = y + (Index{final_step(d, len)} * B + song) * Hout + Index{d} * hidden;
        std::copy(y_t, y_t + hidden, out + Index{d} * hidden);
      }
    }
  }
}

template <typename S>
void pool_backward(const BatchInputs& batch, PoolKind pool, int hidden, bool bidirectional,
                   const S* dpooled, S* dy) {
  const int T = batch.steps, B = batch.batch, Hout = hidden * (bidirectional ? 2 : 1);
  std::fill(dy, dy + Index{T} * B * Hout, S(0));
  for (int song = 0; song < B; ++song) {
    const int len = batch.lengths[song];
    const S* dp = dpooled + Index{song} * Hout;
    if (pool == PoolKind::mean) {
      const S scale = S(1) / static_cast<S>(len);
      for (int t = 0; t < len; ++t) {
        S* dy_t = dy + (Index{t} * B + song) * Hout;
        for (int k = 0; k < Hout; ++k) dy_t[k] = scale * dp[k];
      }
    } else {
      for (int d = 0; d * hidden < Hout; ++d) {
        S* dy_t = dy + (Index{final_step(d, len)} * B + song) * Hout + Index{d} * hidden;
        std::copy(dp + Index{d} * hidden, dp + Index{d + 1} * hidden, dy_t);
      }
    }
  }
}

template void pool_forward<float>(const BatchInputs&, PoolKind, int, bool, const float*, float*);
template void pool_forward<double>(const BatchInputs&, PoolKind, int, bool, const double*,
                                   double*);
template void pool_backward<float>(const BatchInputs&, PoolKind, int, bool, const float*, float*);
template void pool_backward<double>(const BatchInputs&, PoolKind, int, bool, const double*,
                                    double*);

}  // namespace lyre::cpu
