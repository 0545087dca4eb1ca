// Batch assembly on the host: songs of the tokenized corpus -> a padded,
// time-major token matrix (layer_ops.hpp, LayerOps::gather_batch).
#pragma once

#include <cstdint>

#include "engine/backend/layer_ops.hpp"

namespace lyre::cpu {

// tokens [T, B] (PAD = 0 at t >= len[b]), lengths [B] = min(song length,
// max_len), labels [B] for the songs song_ids[0, B). Every length must fit in
// `steps` and be at least 1 (empty songs are dropped at prepare time).
void gather_batch(const CorpusView& corpus, const std::uint32_t* song_ids, int steps, int batch,
                  int max_len, std::int32_t* tokens, std::int32_t* lengths,
                  std::int32_t* labels);

}  // namespace lyre::cpu
