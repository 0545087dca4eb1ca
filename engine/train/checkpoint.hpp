// Fold checkpoints: everything needed to continue training exactly where it
// stopped, so `lyre train --resume` reaches the same final weights as an
// uninterrupted run.
//
// File: BinaryWriter format (engine/core/binary_io.hpp: payload, XXH3-64
// checksum, trailer) holding magic "YYRECKPT" (bytes as stored), kCheckpointVersion, the model
// spec (refused if it differs from the run's), the vocabulary hash, the
// training position (epoch, batch, step), the partial epoch counters, the
// parameters, Adam's m and v, the early-stopping state (with the best
// parameters) and the fold's history as JSON.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/model/model_spec.hpp"
#include "engine/train/replica.hpp"

namespace lyre {

inline constexpr std::uint32_t kCheckpointVersion = 1;

struct FoldCheckpoint {
  int fold = 0;
  int epochs_done = 0;          // completed epochs
  std::uint64_t next_batch = 0; // batches of epoch epochs_done + 1 already trained
  bool finished = false;        // the fold's training and test evaluation are done
  std::vector<double> epoch_counters;  // training counters of the unfinished epoch
  OptimizerState optimizer;
  // Early stopping.
  double best_validation_loss = 0;
  int best_epoch = 0;
  int epochs_without_gain = 0;
  std::vector<float> best_params;  // empty until the first validation
  double seconds = 0;              // training time spent so far
  nlohmann::json history = nlohmann::json::array();  // one record per completed epoch
  nlohmann::json test;             // test metrics once finished
};

void save_checkpoint(const std::filesystem::path& path, const ModelSpec& spec,
                     std::uint64_t vocab_hash, const FoldCheckpoint& checkpoint);

// InputError naming the file when it is corrupt, of another version, or of
// another model ("... was written for hidden 64, this run has hidden 128") or
// vocabulary.
FoldCheckpoint load_checkpoint(const std::filesystem::path& path, const ModelSpec& spec,
                               std::uint64_t vocab_hash);

// Reads only the parameters and the spec stored in a checkpoint (for predict).
struct StoredModel {
  ModelSpec spec;
  std::uint64_t vocab_hash = 0;
  std::vector<float> params;  // the best parameters when early stopping kept some
  bool finished = false;
};
StoredModel load_stored_model(const std::filesystem::path& path);

}  // namespace lyre
