#include "tests/support/run_compare.hpp"

#include <fmt/format.h>

#include "engine/train/checkpoint.hpp"
#include "engine/train/run_dir.hpp"
#include "tests/support/test_support.hpp"

namespace lyre::test {

using nlohmann::json;

json without_timing(const json& j) {
  if (j.is_object()) {
    json out = json::object();
    for (const auto& [key, value] : j.items())
      if (key.find("second") == std::string::npos && key != "backend")
        out[key] = without_timing(value);
    return out;
  }
  if (j.is_array()) {
    json out = json::array();
    for (const auto& v : j) out.push_back(without_timing(v));
    return out;
  }
  return j;
}

json summary_without_timing(const std::filesystem::path& run) {
  return without_timing(json::parse(read_file(run / "summary.json")));
}

json metrics_without_timing(const std::filesystem::path& run) {
  json lines = json::array();
  for (const auto& l : read_metrics(run)) lines.push_back(without_timing(l));
  return lines;
}

std::vector<float> fold_params(const std::filesystem::path& run, int fold) {
  return load_stored_model(run / "folds" / fmt::format("fold-{}", fold) / "checkpoint.bin").params;
}

}  // namespace lyre::test
