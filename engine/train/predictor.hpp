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
#include "engine/train/checkpoint.hpp"

namespace lyre {

// A finished run folder as predict and export read it: config.yaml, vocab.txt
// and genres.txt verified against checksums.json first, then each fold's
// checkpoint checked against them, so both commands refuse the same damage
// with the same messages.
class FinishedRun {
 public:
  // InputError when the folder is not a run (or is an ablation folder: pick
  // one of its variants) or one of its files is damaged.
  explicit FinishedRun(const std::filesystem::path& run_dir);

  const std::filesystem::path& dir() const { return dir_; }
  const ExperimentConfig& config() const { return config_; }
  const data::Vocab& vocab() const { return vocab_; }
  const std::vector<std::string>& genres() const { return genres_; }
  // Folds with a checkpoint: 0 .. fold_count() - 1.
  int fold_count() const { return fold_count_; }
  // `only`, or every fold with a checkpoint; InputError when `only` has none
  // or the run has no checkpoint at all.
  std::vector<int> select_folds(std::optional<int> only) const;
  std::filesystem::path checkpoint_path(int fold) const;
  // The finished model of one fold: InputError when the fold has no checkpoint
  // (naming --fold and the folds there are), or its checkpoint is damaged,
  // unfinished, or of another vocabulary or genre list.
  StoredModel fold_model(int fold) const;

 private:
  std::filesystem::path dir_;
  ExperimentConfig config_;
  data::Vocab vocab_;
  std::vector<std::string> genres_;
  int fold_count_ = 0;
};

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
  // What the models saw and said, for checking another implementation against
  // them (tests/reference/load_safetensors.py takes both from `--json`):
  std::vector<std::int32_t> token_ids;     // vocabulary ids scored, in song order
  std::vector<std::vector<float>> logits;  // one row of genres per model, in folds() order
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
  // The fold of each model, in the order of Prediction::logits.
  const std::vector<int>& folds() const { return folds_; }

 private:
  struct Model;
  std::vector<std::string> genres_;
  data::Vocab vocab_;
  ExperimentConfig config_;
  ModelSpec spec_;
  std::vector<int> folds_;
  std::vector<std::unique_ptr<Model>> models_;
  std::unordered_set<std::string> stopwords_;
};

}  // namespace lyre
