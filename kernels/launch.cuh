// Launch-size helpers shared by the host launchers (included by .cu files only).
#pragma once

#include <cstddef>

namespace lyre::kernels {

// Threads per block of the elementwise kernels: a multiple of the warp size.
inline constexpr int kElementwiseThreads = 256;

// Blocks covering `n` items at `threads` per block, at least 1, at most
// 2^20 (the kernels loop with a grid stride past that).
inline unsigned grid_for(std::size_t n, int threads) {
  constexpr std::size_t kMaxBlocks = std::size_t{1} << 20;
  const std::size_t per_block = static_cast<std::size_t>(threads);
  std::size_t blocks = (n + per_block - 1) / per_block;
  if (blocks < 1) blocks = 1;
  if (blocks > kMaxBlocks) blocks = kMaxBlocks;
  return static_cast<unsigned>(blocks);
}

// First index and stride of a grid-stride loop, in 64 bits.
#define LYRE_GRID_STRIDE_LOOP(i, n)                                                           \
  for (std::size_t i = static_cast<std::size_t>(blockIdx.x) * blockDim.x + threadIdx.x;      \
       i < (n); i += static_cast<std::size_t>(gridDim.x) * blockDim.x)

}  // namespace lyre::kernels
