// Reports a person looks at, written from the files of a run folder (so
// `lyre report DIR` can redraw them at any time, and they need no network):
//   report/index.html         links everything; tables of the summary
//   report/curves-*.svg       loss, accuracy, precision, recall per epoch:
//                             train vs validation, one line per fold
//   report/confusion-*.svg    test confusion-matrix heat maps (per fold, total)
// An ablation folder gets a comparison page linking each variant's report.
#pragma once

#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

namespace lyre {

// Returns the path of report/index.html.
std::filesystem::path write_run_report(const std::filesystem::path& run_dir);
std::filesystem::path write_ablation_report(const std::filesystem::path& ablation_dir);

// The ablation comparison (one row per variant: mean ± std over folds), as
// the paper's ablation table. Input: ablation.json's content.
std::string ablation_markdown(const nlohmann::json& ablation);
std::string ablation_csv(const nlohmann::json& ablation);

}  // namespace lyre
