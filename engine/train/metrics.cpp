#include "engine/train/metrics.hpp"

#include <cmath>

#include "engine/backend/layer_ops.hpp"
#include "engine/core/error.hpp"

namespace lyre {
namespace {

double ratio(double num, double den) { return den > 0 ? num / den : 0.0; }

}  // namespace

EpochMetrics EpochMetrics::from_counters(std::span<const double> counters, int num_classes) {
  LYRE_CHECK(counters.size() == metric_slots(num_classes), "counter buffer has {} slots, want {}",
             counters.size(), metric_slots(num_classes));
  EpochMetrics m;
  m.num_classes = num_classes;
  m.songs = static_cast<std::uint64_t>(counters[kSongs]);
  m.loss = ratio(counters[kLossSum], counters[kSongs]);
  m.accuracy = ratio(counters[kCorrect], counters[kSongs]);
  m.threshold_precision =
      ratio(counters[kThresholdTp], counters[kThresholdTp] + counters[kThresholdFp]);
  m.threshold_recall = ratio(counters[kThresholdTp], counters[kThresholdTp] + counters[kThresholdFn]);
  const auto C = static_cast<std::size_t>(num_classes);
  m.confusion.resize(C * C);
  for (std::size_t i = 0; i < C * C; ++i)
    m.confusion[i] = static_cast<std::uint64_t>(std::llround(counters[kConfusion + i]));
  double precision = 0, recall = 0, f1 = 0;
  for (std::size_t c = 0; c < C; ++c) {
    double tp = static_cast<double>(m.confusion[c * C + c]), predicted = 0, actual = 0;
    for (std::size_t k = 0; k < C; ++k) {
      predicted += static_cast<double>(m.confusion[k * C + c]);
      actual += static_cast<double>(m.confusion[c * C + k]);
    }
    const double p = ratio(tp, predicted), r = ratio(tp, actual);
    m.class_recall.push_back(r);
    precision += p;
    recall += r;
    f1 += ratio(2 * p * r, p + r);
  }
  m.macro_precision = precision / static_cast<double>(C);
  m.macro_recall = recall / static_cast<double>(C);
  m.macro_f1 = f1 / static_cast<double>(C);
  return m;
}

nlohmann::json EpochMetrics::to_json(bool with_confusion) const {
  nlohmann::json j = {{"songs", songs},
                      {"loss", loss},
                      {"accuracy", accuracy},
                      {"macro_precision", macro_precision},
                      {"macro_recall", macro_recall},
                      {"macro_f1", macro_f1},
                      {"threshold_precision", threshold_precision},
                      {"threshold_recall", threshold_recall},
                      {"class_recall", class_recall},
                      {"class_songs", class_songs()}};
  if (with_confusion) {
    j["num_classes"] = num_classes;
    j["confusion"] = confusion;
  }
  return j;
}

EpochMetrics EpochMetrics::from_json(const nlohmann::json& j) {
  EpochMetrics m;
  m.songs = j.at("songs").get<std::uint64_t>();
  m.loss = j.at("loss").get<double>();
  m.accuracy = j.at("accuracy").get<double>();
  m.macro_precision = j.at("macro_precision").get<double>();
  m.macro_recall = j.at("macro_recall").get<double>();
  m.macro_f1 = j.at("macro_f1").get<double>();
  m.threshold_precision = j.at("threshold_precision").get<double>();
  m.threshold_recall = j.at("threshold_recall").get<double>();
  if (j.contains("class_recall")) m.class_recall = j.at("class_recall").get<std::vector<double>>();
  if (j.contains("confusion")) {
    m.num_classes = j.at("num_classes").get<int>();
    m.confusion = j.at("confusion").get<std::vector<std::uint64_t>>();
  }
  return m;
}

std::vector<std::uint64_t> EpochMetrics::class_songs() const {
  const auto C = static_cast<std::size_t>(num_classes);
  std::vector<std::uint64_t> rows(C, 0);
  for (std::size_t r = 0; r < C && (r + 1) * C <= confusion.size(); ++r)
    for (std::size_t c = 0; c < C; ++c) rows[r] += confusion[r * C + c];
  return rows;
}

MeanStd mean_std(std::span<const double> values) {
  MeanStd r;
  if (values.empty()) return r;
  for (double v : values) r.mean += v;
  r.mean /= static_cast<double>(values.size());
  if (values.size() > 1) {
    double ss = 0;
    for (double v : values) ss += (v - r.mean) * (v - r.mean);
    r.std = std::sqrt(ss / static_cast<double>(values.size() - 1));
  }
  return r;
}

}  // namespace lyre
