// Training runs: a single train/validation/test run or k-fold cross-validation
// (`lyre train`), and the ablation study over shared folds (`lyre ablate`).
//
// Each fold is an independent FoldReplica driven by its own host thread; on
// the CUDA backend all k train at once on their own streams, on the CPU
// backend they run one after another with every core on the matrix products.
// Everything is deterministic for a seed and backend: folds, batch order,
// dropout masks and initial weights derive from `seed` alone, so concurrent
// folds give the same results as folds run one by one, and an interrupted run
// resumed from its checkpoints reaches the same final weights.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "data/folds.hpp"
#include "data/glove.hpp"
#include "data/shard.hpp"
#include "engine/config/config.hpp"

namespace lyre {

// The prepared corpus and what training derives from it once.
struct TrainingData {
  data::PreparedCorpus corpus;
  std::vector<std::uint32_t> labels;
  std::vector<std::uint32_t> lengths;
  std::vector<std::uint64_t> song_ids;  // lyrics row of each sample
  std::optional<data::EmbeddingMatrix> embedding;

  // Opens and validates config.data.prepared; InputError naming the key when
  // it is missing ("run `lyre prepare --config ...` first").
  static TrainingData load(const ExperimentConfig& config);
};

struct FoldSplit {
  std::string name;  // "fold-0" ... or "holdout"
  data::SplitIndices indices;
};

// Stratified folds from config.seed (cv.folds >= 2), or one hold-out split.
// Samples of one song (genre_policy: every gives a song one sample per listed
// genre) always land in the same part, so no lyrics are both trained on and
// tested.
std::vector<FoldSplit> make_splits(const ExperimentConfig& config,
                                   const std::vector<std::uint32_t>& labels,
                                   const std::vector<std::uint64_t>& song_ids);

struct RunOutcome {
  std::filesystem::path dir;
  bool interrupted = false;
  int stop_signal = 0;
  nlohmann::json summary;  // summary.json (or ablation.json)
  // `--folds`: this task's folds are done, the run's summary waits for these
  // ("fold 3: not started"); written by the task that finishes last.
  bool partial = false;
  bool joined = false;  // trained cv.folds_subset into a shared folder
  std::vector<std::string> unfinished;
  bool primary = true;  // false on data-parallel ranks other than 0: they print nothing
};

struct RunOptions {
  std::filesystem::path out;  // run folder; empty = <output>/<name>-<timestamp>
  // Test hook (and `--stop-after-batches`): request a stop after this many
  // training batches in total, as SIGINT would. 0 = never.
  std::uint64_t stop_after_batches = 0;
  bool write_report = true;
  // Stream batches from the host even when the corpus fits the memory budget
  // (tests compare both paths; cuda.memory_budget_mb decides otherwise).
  bool force_streaming = false;
};

RunOutcome run_training(const ExperimentConfig& config, const RunOptions& options);
RunOutcome run_ablation(const ExperimentConfig& config, const RunOptions& options);
// Continues a run (or an ablation) from its folder's config and checkpoints.
RunOutcome resume_run(const std::filesystem::path& run_dir, const RunOptions& options);
// Writes the summary, metrics and report of a run whose folds were trained by
// separate tasks (`--folds`); InputError listing the folds not yet finished.
RunOutcome merge_run(const std::filesystem::path& run_dir, const RunOptions& options);

// The summary table (markdown) of a finished run, as printed at its end.
std::string summary_markdown(const nlohmann::json& summary);

}  // namespace lyre
