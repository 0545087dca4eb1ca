// Inverted dropout (layer_ops.hpp): element i is kept when
// dropout_keep(seed, offset + i, p) (engine/core/philox.hpp) and then scaled
// by 1 / (1 - p). The backward regenerates the same mask.
#pragma once

#include <cstddef>
#include <cstdint>

namespace lyre::cpu {

template <typename S>
void dropout_forward(std::size_t n, float p, std::uint64_t seed, std::uint64_t offset,
                     const S* in, S* out);

template <typename S>
void dropout_backward(std::size_t n, float p, std::uint64_t seed, std::uint64_t offset,
                      const S* dout, S* din);

}  // namespace lyre::cpu
