// The ablation comparison tables (markdown for people, CSV for scripts).
#include <fmt/format.h>

#include "engine/report/report.hpp"

namespace lyre {
namespace {

using nlohmann::json;

struct Column {
  const char* key;    // summary.json "mean" key
  const char* title;
  bool percent;
};

constexpr Column kColumns[] = {
    {"train_accuracy", "train acc %", true},
    {"validation_accuracy", "val acc %", true},
    {"test_accuracy", "test acc %", true},
    {"test_loss", "test loss", false},
    {"test_macro_f1", "test macro F1 %", true},
    {"test_threshold_precision", "test P@0.5 %", true},
    {"test_threshold_recall", "test R@0.5 %", true},
};

std::string mean_std_text(const json& mean, const Column& c) {
  const double scale = c.percent ? 100.0 : 1.0;
  const int digits = c.percent ? 1 : 3;
  return fmt::format("{:.{}f} ± {:.{}f}", scale * mean.at(c.key).at("mean").get<double>(), digits,
                     scale * mean.at(c.key).at("std").get<double>(), digits);
}

}  // namespace

std::string ablation_markdown(const json& ablation) {
  std::string out = fmt::format("# Ablation: {} ({} folds)\n\n", ablation.at("name").get<std::string>(),
                                ablation.at("folds").get<int>());
  out += "| variant | description |";
  for (const auto& c : kColumns) out += fmt::format(" {} |", c.title);
  out += "\n|---|---|";
  for (std::size_t i = 0; i < std::size(kColumns); ++i) out += "---|";
  out += "\n";
  for (const auto& v : ablation.at("variants")) {
    out += fmt::format("| {} | {} |", v.at("name").get<std::string>(),
                       v.at("description").get<std::string>());
    const auto& mean = v.at("summary").at("mean");
    for (const auto& c : kColumns) out += fmt::format(" {} |", mean_std_text(mean, c));
    out += "\n";
  }
  return out;
}

std::string ablation_csv(const json& ablation) {
  std::string out = "variant";
  for (const auto& c : kColumns) out += fmt::format(",{}_mean,{}_std", c.key, c.key);
  out += "\n";
  for (const auto& v : ablation.at("variants")) {
    out += v.at("name").get<std::string>();
    const auto& mean = v.at("summary").at("mean");
    for (const auto& c : kColumns)
      out += fmt::format(",{},{}", mean.at(c.key).at("mean").get<double>(),
                         mean.at(c.key).at("std").get<double>());
    out += "\n";
  }
  return out;
}

}  // namespace lyre
