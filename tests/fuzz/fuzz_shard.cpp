// libFuzzer harness: the shard reader (data/shard.*).
//
// Input: a mode byte, then a shard (fuzz_support.hpp: bit 0 clear = payload,
// the harness appends checksum and trailer). Bit 1 clear: the reader is told
// to expect the vocabulary hash, vocabulary size, class count and shard index
// that the header itself claims, so the fuzzer gets past those checks to the
// arrays; set: it expects those of an empty vocabulary (every mismatch
// message gets exercised). A shard the reader accepts must hand out what its
// header documents: every song with >= 1 token, ids in [1, vocab_size),
// labels below the class count, 1-based song ids, marks inside the song.
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "data/shard.hpp"
#include "tests/fuzz/fuzz_support.hpp"

namespace {

using namespace lyre;
using fuzz::require;

template <typename T>
T field_at(const std::string& bytes, std::size_t offset) {
  T value{};
  if (bytes.size() >= offset + sizeof(T)) std::memcpy(&value, bytes.data() + offset, sizeof(T));
  return value;
}

void check_shard(const data::ShardReader& shard, const data::ShardExpectations& expect) {
  std::uint64_t tokens = 0;
  for (std::uint64_t s = 0; s < shard.num_songs(); ++s) {
    const auto song = shard.tokens(s);
    require(!song.empty(), "an accepted shard holds a song with no token");
    tokens += song.size();
    for (const std::uint32_t t : song)
      require(t >= 1 && t < expect.vocab_size, "an accepted shard holds a token outside [1, V)");
    require(shard.label(s) < expect.num_classes, "an accepted shard holds a label out of range");
    require(shard.song_id(s) >= 1, "an accepted shard holds song id 0");
    std::uint32_t previous = 0;
    for (const data::LineMark m : shard.marks(s)) {
      require(data::mark_token(m) >= 1 && data::mark_token(m) < song.size(),
              "an accepted shard holds a mark outside its song");
      require(data::mark_token(m) >= previous, "an accepted shard holds marks out of order");
      previous = data::mark_token(m);
    }
  }
  require(tokens == shard.num_tokens(), "the songs' tokens do not add up to num_tokens");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const fuzz::BinaryInput input = fuzz::binary_input(data, size);
  data::ShardExpectations expect;
  if ((input.mode & 2) == 0) {
    // Header layout (data/shard.hpp): num_classes @12, vocab_hash @40,
    // vocab_size @48, shard_index @52.
    expect.num_classes = field_at<std::uint32_t>(input.file, 12);
    expect.vocab_hash = field_at<std::uint64_t>(input.file, 40);
    expect.vocab_size = field_at<std::uint32_t>(input.file, 48);
    expect.shard_index = field_at<std::uint32_t>(input.file, 52);
  }
  const auto path = fuzz::write_scratch("shard-0000.bin", input.file);
  fuzz::run_reader([&] {
    const data::ShardReader shard(path, expect);
    check_shard(shard, expect);
  });
  return 0;
}
