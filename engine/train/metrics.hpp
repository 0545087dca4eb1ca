// Epoch metrics, computed from the counters the loss op accumulates in
// backend memory (layer_ops.hpp, MetricSlot) and read back once per epoch.
//
// Two kinds of precision and recall, because the paper reports Keras's:
//  - macro: per class from the confusion matrix (argmax prediction), averaged;
//  - threshold: Keras's Precision()/Recall() on softmax outputs and one-hot
//    labels: every (song, class) pair with probability > 0.5 counts as a
//    positive prediction, pooled over classes.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include <nlohmann/json.hpp>

namespace lyre {

struct EpochMetrics {
  std::uint64_t songs = 0;
  double loss = 0;
  double accuracy = 0;
  double macro_precision = 0;
  double macro_recall = 0;
  double macro_f1 = 0;
  double threshold_precision = 0;
  double threshold_recall = 0;
  int num_classes = 0;
  std::vector<std::uint64_t> confusion;  // [label * C + predicted]
  // Recall of each class (genre order): what an unbalanced corpus's macro
  // figures average away, so the full set reports it.
  std::vector<double> class_recall;

  // Songs of each class (the confusion matrix's rows).
  std::vector<std::uint64_t> class_songs() const;

  static EpochMetrics from_counters(std::span<const double> counters, int num_classes);
  nlohmann::json to_json(bool with_confusion = false) const;
  static EpochMetrics from_json(const nlohmann::json& j);
};

// Mean and sample standard deviation over folds.
struct MeanStd {
  double mean = 0;
  double std = 0;
};
MeanStd mean_std(std::span<const double> values);

}  // namespace lyre
