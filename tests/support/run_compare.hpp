// Comparing run folders: what two runs of one config must agree on, without
// what depends on the clock or the machine (wall times, songs per second, the
// backend's description).
#pragma once

#include <filesystem>
#include <vector>

#include <nlohmann/json.hpp>

namespace lyre::test {

// `j` without any key naming seconds, and without "backend".
nlohmann::json without_timing(const nlohmann::json& j);
// A run's summary.json and metrics.jsonl (read and verified as `lyre` reads
// them), without timing.
nlohmann::json summary_without_timing(const std::filesystem::path& run);
nlohmann::json metrics_without_timing(const std::filesystem::path& run);
// A fold's trained parameters, from folds/fold-K/checkpoint.bin.
std::vector<float> fold_params(const std::filesystem::path& run, int fold);

}  // namespace lyre::test
