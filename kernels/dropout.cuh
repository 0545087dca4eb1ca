// Inverted dropout with a counter-based mask (engine/core/philox.hpp).
//
//   in, out, dout, din: [n]
//   out[i] = in[i] * 1/(1-p) where dropout_keep(seed, offset + i, p), else 0
//
// The backward regenerates the same mask from (seed, offset), so nothing is
// stored between the passes, and the CPU backend draws the same mask.
#pragma once

#include <cstddef>
#include <cstdint>

#include <cuda_runtime.h>

namespace lyre::kernels {

// Forward (in -> out) and backward (dout -> din) are the same masked scaling.
void dropout_masked_scale(std::size_t n, float p, std::uint64_t seed, std::uint64_t offset,
                          const float* in, float* out, cudaStream_t stream);

}  // namespace lyre::kernels
