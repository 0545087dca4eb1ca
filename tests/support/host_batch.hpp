// A batch in host memory, shaped as the layer ops see it: tokens [T, B] with
// PAD (0) beyond each song's length, lengths longest first, labels. For the
// CPU backend host memory is backend memory, so view() can be passed to the
// ops directly; the GPU suites upload the vectors first.
#pragma once

#include <cstdint>
#include <vector>

#include "engine/backend/layer_ops.hpp"
#include "engine/core/rng.hpp"

namespace lyre::test {

struct HostBatch {
  int steps = 0;
  std::vector<std::int32_t> tokens, lengths, labels;

  int batch() const { return static_cast<int>(lengths.size()); }
  std::size_t rows() const { return static_cast<std::size_t>(steps) * lengths.size(); }
  // Row t * B + b of a [T, B, ...] tensor lies past song b's end.
  bool padded(std::size_t row) const {
    return static_cast<std::int32_t>(row / lengths.size()) >= lengths[row % lengths.size()];
  }
  BatchInputs view() const {
    return BatchInputs{steps, batch(), tokens.data(), lengths.data(), labels.data(), lengths.data()};
  }
};

// Random tokens in [1, vocab) and labels in [0, classes) for songs of the
// given lengths (longest first, as the batcher sorts them).
inline HostBatch random_batch(Rng& rng, std::vector<std::int32_t> lengths, int vocab, int classes) {
  HostBatch h;
  h.lengths = std::move(lengths);
  h.steps = h.lengths.front();
  const std::size_t B = h.lengths.size();
  h.tokens.assign(h.rows(), 0);
  for (std::size_t b = 0; b < B; ++b) {
    for (int t = 0; t < h.lengths[b]; ++t)
      h.tokens[static_cast<std::size_t>(t) * B + b] =
          static_cast<std::int32_t>(1 + rng.below(static_cast<std::uint64_t>(vocab - 1)));
    h.labels.push_back(static_cast<std::int32_t>(rng.below(static_cast<std::uint64_t>(classes))));
  }
  return h;
}

}  // namespace lyre::test
