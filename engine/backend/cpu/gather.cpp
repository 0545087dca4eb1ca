#include "engine/backend/cpu/gather.hpp"

#include <algorithm>
#include <cstddef>

#include "engine/core/error.hpp"

namespace lyre::cpu {

void gather_batch(const CorpusView& corpus, const std::uint32_t* song_ids, int steps, int batch,
                  int max_len, std::int32_t* tokens, std::int32_t* lengths,
                  std::int32_t* labels) {
  LYRE_CHECK(steps >= 1 && batch >= 1 && max_len >= 1, "batch {}x{}, max_len {}", steps, batch,
             max_len);
  const auto B = static_cast<std::size_t>(batch);
  std::fill(tokens, tokens + static_cast<std::size_t>(steps) * B, 0);
  for (std::size_t b = 0; b < B; ++b) {
    const std::uint32_t song = song_ids[b];
    LYRE_CHECK(song < corpus.num_songs, "song id {} of {}", song, corpus.num_songs);
    const std::uint64_t begin = corpus.offsets[song];
    const std::uint64_t full = corpus.offsets[song + 1] - begin;
    const auto len = static_cast<int>(std::min<std::uint64_t>(full, static_cast<std::uint64_t>(max_len)));
    LYRE_CHECK(len >= 1 && len <= steps, "song {} has {} tokens for a batch of {} steps", song,
               len, steps);
    for (int t = 0; t < len; ++t)
      tokens[static_cast<std::size_t>(t) * B + b] = static_cast<std::int32_t>(corpus.tokens[begin + static_cast<std::uint64_t>(t)]);
    lengths[b] = len;
    labels[b] = static_cast<std::int32_t>(corpus.labels[song]);
  }
}

}  // namespace lyre::cpu
