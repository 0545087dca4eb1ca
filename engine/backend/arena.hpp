// A bump allocator over large chunks: a fold replica's buffers (parameters,
// gradients, Adam state, activations, batch staging) come out of a few big
// allocations instead of dozens, all released together when the replica's
// execution context goes. Nothing is freed block by block, which is exactly
// the lifetime of training buffers: sized once before the loop, kept to the end.
//
// Chunks come from `ChunkAllocator` (device memory on CUDA; any memory in the
// tests). Blocks are 256-byte aligned (cuDNN's weight space and vectorized
// kernels want it); a block larger than the chunk size gets a chunk of its own.
// Blocks must not outlive the arena.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <vector>

#include "engine/backend/layer_ops.hpp"

namespace lyre {

class Arena {
 public:
  using ChunkAllocator = std::function<std::unique_ptr<BackendBuffer>(std::size_t bytes)>;
  static constexpr std::size_t kAlignment = 256;
  static constexpr std::size_t kDefaultChunkBytes = std::size_t{64} << 20;

  explicit Arena(ChunkAllocator allocate_chunk, std::size_t chunk_bytes = kDefaultChunkBytes);
  Arena(const Arena&) = delete;
  Arena& operator=(const Arena&) = delete;

  std::unique_ptr<BackendBuffer> allocate(std::size_t bytes);

  std::size_t chunks() const { return chunks_.size(); }
  std::size_t reserved_bytes() const { return reserved_; }  // sum of chunk sizes
  std::size_t used_bytes() const { return used_; }          // sum of block sizes

 private:
  ChunkAllocator allocate_chunk_;
  std::size_t chunk_bytes_;
  std::vector<std::unique_ptr<BackendBuffer>> chunks_;
  BackendBuffer* current_ = nullptr;  // the chunk blocks are cut from
  std::size_t offset_ = 0;            // next free byte in current_
  std::size_t reserved_ = 0, used_ = 0;
};

}  // namespace lyre
