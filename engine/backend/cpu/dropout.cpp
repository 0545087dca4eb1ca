#include "engine/backend/cpu/dropout.hpp"

#include "engine/core/error.hpp"
#include "engine/core/philox.hpp"

namespace lyre::cpu {
namespace {

// out[i] = in[i] / (1 - p) where element i is kept, 0 elsewhere: the forward
// and the backward are the same masked scaling.
template <typename S>
void masked_scale(std::size_t n, float p, std::uint64_t seed, std::uint64_t offset, const S* in,
                  S* out) {
  LYRE_CHECK(p >= 0.0f && p < 1.0f, "dropout probability {}", p);
  const S scale = S(1) / (S(1) - static_cast<S>(p));
  for (std::size_t i = 0; i < n; ++i)
    out[i] = dropout_keep(seed, offset + i, p) ? in[i] * scale : S(0);
}

}  // namespace

template <typename S>
void dropout_forward(std::size_t n, float p, std::uint64_t seed, std::uint64_t offset,
                     const S* in, S* out) {
  masked_scale(n, p, seed, offset, in, out);
}

template <typename S>
void dropout_backward(std::size_t n, float p, std::uint64_t seed, std::uint64_t offset,
                      const S* dout, S* din) {
  masked_scale(n, p, seed, offset, dout, din);
}

template void dropout_forward<float>(std::size_t, float, std::uint64_t, std::uint64_t,
                                     const float*, float*);
template void dropout_forward<double>(std::size_t, float, std::uint64_t, std::uint64_t,
                                      const double*, double*);
template void dropout_backward<float>(std::size_t, float, std::uint64_t, std::uint64_t,
                                      const float*, float*);
template void dropout_backward<double>(std::size_t, float, std::uint64_t, std::uint64_t,
                                       const double*, double*);

}  // namespace lyre::cpu
