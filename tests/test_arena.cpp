// The arena a CUDA fold replica allocates from, exercised over host memory.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <set>

#include "engine/backend/arena.hpp"

namespace lyre {
namespace {

class HostChunk final : public BackendBuffer {
 public:
  explicit HostChunk(std::size_t bytes)
      : storage_(bytes + Arena::kAlignment), bytes_(bytes) {
    // Align the chunk itself as device allocations are.
    auto address = reinterpret_cast<std::uintptr_t>(storage_.data());
    offset_ = (Arena::kAlignment - address % Arena::kAlignment) % Arena::kAlignment;
  }
  void* data() override { return storage_.data() + offset_; }
  std::size_t bytes() const override { return bytes_; }

 private:
  std::vector<std::byte> storage_;
  std::size_t bytes_, offset_ = 0;
};

struct CountingSource {
  std::vector<std::size_t> requests;
  Arena::ChunkAllocator allocator() {
    return [this](std::size_t bytes) {
      requests.push_back(bytes);
      return std::make_unique<HostChunk>(bytes);
    };
  }
};

TEST(Arena, SmallBlocksShareOneChunkAlignedAndDisjoint) {
  CountingSource source;
  Arena arena(source.allocator(), 4096);
  std::vector<std::unique_ptr<BackendBuffer>> blocks;
  for (std::size_t bytes : {1u, 100u, 256u, 257u, 1000u}) blocks.push_back(arena.allocate(bytes));
  EXPECT_EQ(source.requests, (std::vector<std::size_t>{4096}));
  EXPECT_EQ(arena.chunks(), 1u);
  for (std::size_t i = 0; i < blocks.size(); ++i) {
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(blocks[i]->data()) % Arena::kAlignment, 0u);
    std::memset(blocks[i]->data(), static_cast<int>(i + 1), blocks[i]->bytes());
  }
  // Every block still holds its own fill: none overlaps another.
  for (std::size_t i = 0; i < blocks.size(); ++i) {
    const auto* p = static_cast<const unsigned char*>(blocks[i]->data());
    for (std::size_t k = 0; k < blocks[i]->bytes(); ++k) ASSERT_EQ(p[k], i + 1) << "block " << i;
  }
  EXPECT_EQ(arena.used_bytes(), 1u + 100 + 256 + 257 + 1000);
}

TEST(Arena, FullChunkOpensANewOne) {
  CountingSource source;
  Arena arena(source.allocator(), 1024);
  auto a = arena.allocate(600);
  auto b = arena.allocate(600);  // 768 (rounded) + 768 > 1024
  EXPECT_EQ(arena.chunks(), 2u);
  EXPECT_EQ(arena.reserved_bytes(), 2048u);
  EXPECT_NE(a->data(), b->data());
}

TEST(Arena, LargeBlockGetsItsOwnChunkAndTheCurrentOneStaysOpen) {
  CountingSource source;
  Arena arena(source.allocator(), 1024);
  auto small = arena.allocate(100);
  auto large = arena.allocate(5000);
  auto next = arena.allocate(100);
  EXPECT_EQ(source.requests, (std::vector<std::size_t>{1024, 5120}));
  EXPECT_EQ(static_cast<std::byte*>(next->data()) - static_cast<std::byte*>(small->data()), 256);
  EXPECT_EQ(large->bytes(), 5000u);
}

TEST(Arena, ZeroByteBlocksAreDistinct) {
  CountingSource source;
  Arena arena(source.allocator(), 1024);
  auto a = arena.allocate(0), b = arena.allocate(0);
  EXPECT_NE(a->data(), b->data());
  EXPECT_EQ(a->bytes(), 0u);
}

}  // namespace
}  // namespace lyre
