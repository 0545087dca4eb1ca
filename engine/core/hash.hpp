// Content hashes for file checksums and vocabulary identity (xxHash's XXH3-64:
// fast enough that validating a 100 MB shard costs a few milliseconds).
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include <xxhash.h>

namespace lyre {

inline std::uint64_t hash_bytes(const void* data, std::size_t size, std::uint64_t seed = 0) {
  return XXH3_64bits_withSeed(data, size, seed);
}

inline std::uint64_t hash_string(std::string_view s, std::uint64_t seed = 0) {
  return hash_bytes(s.data(), s.size(), seed);
}

// Streaming form, for files written piece by piece.
class Hasher {
 public:
  Hasher() : state_(XXH3_createState()) { XXH3_64bits_reset(state_); }
  ~Hasher() { XXH3_freeState(state_); }
  Hasher(const Hasher&) = delete;
  Hasher& operator=(const Hasher&) = delete;

  void update(const void* data, std::size_t size) { XXH3_64bits_update(state_, data, size); }
  template <typename T>
  void update(std::span<const T> values) {
    update(values.data(), values.size_bytes());
  }
  std::uint64_t digest() const { return XXH3_64bits_digest(state_); }

 private:
  XXH3_state_t* state_;
};

}  // namespace lyre
