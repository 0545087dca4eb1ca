// `lyre bench`: training throughput of the paper's primary model (hidden 128,
// max length 300, batch 100, GloVe-sized embedding) on synthetic data whose
// song lengths follow real lyrics after cleaning (log-normal, median 120
// tokens, truncated at 300), and, optionally, the wall time of the whole
// primary study (5 folds x 15 epochs on 20,000 songs) run through the real
// synth -> prepare -> train pipeline.
#pragma once

#include <cstdint>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "engine/config/config.hpp"

namespace lyre {

struct BenchOptions {
  BackendKind backend = BackendKind::automatic;
  CudaConfig cuda;
  int threads = 0;            // CPU threads (0 = all)
  int songs = 2000;           // songs per fold in the throughput runs
  int folds = 5;              // replicas in the concurrent run (CUDA)
  int hidden = 128;
  int max_len = 300;
  int batch_size = 100;
  std::uint64_t seed = 42;
  bool study = false;         // also time the whole primary study
  int study_epochs = 15;
  std::filesystem::path work_dir;  // study scratch (default: a temp folder)
};

nlohmann::json run_benchmark(const BenchOptions& options);

}  // namespace lyre
