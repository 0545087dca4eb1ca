#include "engine/backend/arena.hpp"

#include "engine/core/error.hpp"

namespace lyre {
namespace {

// A view of part of a chunk; the chunk owns the memory.
class ArenaBlock final : public BackendBuffer {
 public:
  ArenaBlock(void* data, std::size_t bytes) : data_(data), bytes_(bytes) {}
  void* data() override { return data_; }
  std::size_t bytes() const override { return bytes_; }

 private:
  void* data_;
  std::size_t bytes_;
};

std::size_t round_up(std::size_t bytes) {
  return (bytes + Arena::kAlignment - 1) / Arena::kAlignment * Arena::kAlignment;
}

}  // namespace

Arena::Arena(ChunkAllocator allocate_chunk, std::size_t chunk_bytes)
    : allocate_chunk_(std::move(allocate_chunk)), chunk_bytes_(round_up(chunk_bytes)) {
  LYRE_CHECK(chunk_bytes_ > 0, "arena chunks of {} bytes", chunk_bytes);
}

std::unique_ptr<BackendBuffer> Arena::allocate(std::size_t bytes) {
  const std::size_t size = round_up(std::max<std::size_t>(bytes, 1));
  used_ += bytes;
  if (size > chunk_bytes_) {  // a large block: a chunk of its own, the current one stays open
    chunks_.push_back(allocate_chunk_(size));
    reserved_ += size;
    return std::make_unique<ArenaBlock>(chunks_.back()->data(), bytes);
  }
  if (current_ == nullptr || offset_ + size > chunk_bytes_) {
    chunks_.push_back(allocate_chunk_(chunk_bytes_));
    reserved_ += chunk_bytes_;
    current_ = chunks_.back().get();
    offset_ = 0;
  }
  void* data = static_cast<std::byte*>(current_->data()) + offset_;
  offset_ += size;
  return std::make_unique<ArenaBlock>(data, bytes);
}

}  // namespace lyre
