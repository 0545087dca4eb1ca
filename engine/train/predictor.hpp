// Genre prediction for new lyrics from a finished run folder: the text is
// cleaned exactly as `prepare` cleaned the corpus, mapped through the run's
// vocabulary, and scored by every fold's model; probabilities are averaged
// over folds (an ensemble), or taken from one fold.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <unordered_set>
#include <vector>

#include "data/text_clean.hpp"
#include "data/vocab.hpp"
#include "engine/config/config.hpp"
#include "engine/model/model_spec.hpp"

namespace lyre {

struct GenreScore {
  std::string genre;
  double probability = 0;
};

struct WordWeight {
  std::string word;
  double weight = 0;  // attention weight (averaged over folds)
};

struct Prediction {
  bool empty = false;              // no word left after cleaning: no prediction
  std::size_t tokens = 0;          // tokens scored (after truncation to max_len)
  std::vector<GenreScore> top;     // best first
  std::vector<WordWeight> attention;  // most attended words, best first (attention models)
};

class Predictor {
 public:
  // InputError when the folder is not a finished run (or is an ablation
  // folder: pick one of its variants), when no fold finished, or when a
  // checkpoint does not match the run's vocabulary.
  explicit Predictor(const std::filesystem::path& run_dir, std::optional<int> fold = std::nullopt);
  ~Predictor();
  Predictor(const Predictor&) = delete;
  Predictor& operator=(const Predictor&) = delete;

  std::vector<Prediction> predict(const std::vector<std::string>& lyrics, int top_k,
                                  int top_words);

  const std::vector<std::string>& genres() const { return genres_; }
  std::size_t models() const { return models_.size(); }
  const ModelSpec& spec() const { return spec_; }

 private:
  struct Model;
  std::vector<std::string> genres_;
  data::Vocab vocab_;
  ExperimentConfig config_;
  ModelSpec spec_;
  std::vector<std::unique_ptr<Model>> models_;
  std::unordered_set<std::string> stopwords_;
};

}  // namespace lyre
