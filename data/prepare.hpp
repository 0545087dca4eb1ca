// `lyre prepare`: config -> prepared folder (shards, manifest, vocabulary,
// embedding, report). The one entry point that reads CSV.
#pragma once

#include <filesystem>

#include <nlohmann/json.hpp>

#include "engine/config/config.hpp"

namespace lyre::data {

struct PrepareResult {
  std::filesystem::path dir;
  nlohmann::json report;  // also written to <dir>/prepare-report.json
};

// Runs the whole pipeline and prints the stage counts. `out_dir` overrides
// data.prepared when non-empty. Nothing in an existing prepared folder is
// replaced until the new one is complete: files are written atomically and
// the manifest last.
PrepareResult run_prepare(const ExperimentConfig& config, const std::filesystem::path& out_dir);

}  // namespace lyre::data
