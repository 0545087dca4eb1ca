#include "engine/train/predictor.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "engine/backend/cpu/cpu_ops.hpp"
#include "engine/core/error.hpp"
#include "engine/core/files.hpp"
#include "engine/core/strings.hpp"
#include "engine/model/network.hpp"
#include "engine/train/checkpoint.hpp"
#include "engine/train/run_dir.hpp"

namespace lyre {
namespace fs = std::filesystem;

namespace {
constexpr int kPredictBatch = 64;

std::vector<std::string> read_genres(const fs::path& file) {
  std::vector<std::string> genres;
  for (auto& line : split(read_text_file(file), '\n'))
    if (!line.empty()) genres.push_back(line);
  return genres;
}
}  // namespace

// One fold's model on the CPU backend (predict runs anywhere).
struct Predictor::Model {
  std::unique_ptr<LayerOps<float>> ops;
  std::unique_ptr<Network<float>> network;
};

FinishedRun::FinishedRun(const fs::path& run_dir) : dir_(run_dir) {
  if (fs::exists(run_dir / "ablation.json"))
    fail_input("{} is an ablation folder: use one of its variants, e.g. {}", run_dir.string(),
               (run_dir / "variants" / "<name>").string());
  if (!fs::is_regular_file(run_dir / "config.yaml"))
    fail_input("{} is not a Lyre run folder (no config.yaml)", run_dir.string());
  verify_run_files(run_dir, {"config.yaml", "vocab.txt", "genres.txt"});
  config_ = load_config(run_dir / "config.yaml");
  vocab_ = data::Vocab::load(run_dir / "vocab.txt");
  genres_ = read_genres(run_dir / "genres.txt");
  while (fs::exists(checkpoint_path(fold_count_))) ++fold_count_;
}

fs::path FinishedRun::checkpoint_path(int fold) const {
  return dir_ / "folds" / fmt::format("fold-{}", fold) / "checkpoint.bin";
}

std::vector<int> FinishedRun::select_folds(std::optional<int> only) const {
  if (fold_count_ == 0)
    fail_input("{}: no fold checkpoint found (folds/fold-K/checkpoint.bin)", dir_.string());
  if (only && (*only < 0 || *only >= fold_count_))
    fail_input("{}: no checkpoint for fold {} (--fold: the run has folds 0..{})", dir_.string(),
               *only, fold_count_ - 1);
  if (only) return {*only};
  std::vector<int> folds(static_cast<std::size_t>(fold_count_));
  std::iota(folds.begin(), folds.end(), 0);
  return folds;
}

StoredModel FinishedRun::fold_model(int fold) const {
  select_folds(fold);  // refuses a fold without a checkpoint
  const auto path = checkpoint_path(fold);
  auto stored = load_stored_model(path);
  if (!stored.finished)
    fail_input("{} is from an unfinished fold: finish the run (lyre train --resume {}) first",
               path.string(), dir_.string());
  if (stored.vocab_hash != vocab_.hash())
    fail_input("{} was trained with another vocabulary than {}", path.string(),
               (dir_ / "vocab.txt").string());
  if (stored.spec.num_classes != static_cast<int>(genres_.size()))
    fail_input("{} predicts {} genres, {} lists {}", path.string(), stored.spec.num_classes,
               (dir_ / "genres.txt").string(), genres_.size());
  return stored;
}

Predictor::Predictor(const fs::path& run_dir, std::optional<int> fold) {
  const FinishedRun run(run_dir);
  config_ = run.config();
  vocab_ = run.vocab();
  genres_ = run.genres();
  if (config_.data.remove_stopwords) stopwords_ = data::english_stopwords();
  folds_ = run.select_folds(fold);
  for (const int f : folds_) {
    auto stored = run.fold_model(f);
    spec_ = stored.spec;
    auto model = std::make_unique<Model>();
    model->ops = make_cpu_ops();
    model->network = std::make_unique<Network<float>>(stored.spec, *model->ops, stored.spec.max_len,
                                                      kPredictBatch);
    model->ops->upload(model->network->params(), stored.params.data(),
                       stored.params.size() * sizeof(float));
    models_.push_back(std::move(model));
  }
}

Predictor::~Predictor() = default;

std::vector<Prediction> Predictor::predict(const std::vector<std::string>& lyrics, int top_k,
                                           int top_words) {
  const data::LyricsCleaner cleaner(stopwords_.empty() ? nullptr : &stopwords_);
  const int C = spec_.num_classes;
  const auto max_len = static_cast<std::size_t>(spec_.max_len);

  // Clean and map every song; remember the words for the attention report.
  struct Song {
    std::vector<std::int32_t> ids;
    std::vector<std::string> words;
  };
  std::vector<Song> songs(lyrics.size());
  std::vector<std::string> tokens;
  std::vector<data::LineMark> marks;
  data::CleanStats stats;
  for (std::size_t i = 0; i < lyrics.size(); ++i) {
    cleaner.clean(lyrics[i], tokens, marks, stats);
    if (tokens.size() > max_len) tokens.resize(max_len);
    for (const auto& w : tokens) songs[i].ids.push_back(static_cast<std::int32_t>(vocab_.lookup(w)));
    songs[i].words = tokens;
  }

  std::vector<Prediction> out(lyrics.size());
  std::vector<std::vector<double>> probs(lyrics.size(), std::vector<double>(static_cast<std::size_t>(C), 0.0));
  std::vector<std::vector<double>> alpha(lyrics.size());
  // Longest first, as the layer ops require; empty songs are not scored.
  std::vector<std::size_t> order;
  for (std::size_t i = 0; i < songs.size(); ++i) {
    if (songs[i].ids.empty()) {
      out[i].empty = true;
    } else {
      order.push_back(i);
      alpha[i].assign(songs[i].ids.size(), 0.0);
    }
  }
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return songs[a].ids.size() > songs[b].ids.size(); });

  std::vector<std::int32_t> token_matrix, lengths, labels;
  std::vector<float> logits, weights;
  for (std::size_t first = 0; first < order.size(); first += kPredictBatch) {
    const std::size_t B = std::min<std::size_t>(kPredictBatch, order.size() - first);
    const std::size_t T = songs[order[first]].ids.size();
    token_matrix.assign(T * B, 0);
    lengths.assign(B, 0);
    labels.assign(B, 0);
    for (std::size_t b = 0; b < B; ++b) {
      const auto& ids = songs[order[first + b]].ids;
      lengths[b] = static_cast<std::int32_t>(ids.size());
      for (std::size_t t = 0; t < ids.size(); ++t) token_matrix[t * B + b] = ids[t];
    }
    // CPU backend memory is host memory: the batch needs no copy.
    const BatchInputs batch{static_cast<int>(T), static_cast<int>(B), token_matrix.data(),
                            lengths.data(), labels.data(), lengths.data()};
    for (auto& model : models_) {
      model->network->forward(batch, false);
      logits.resize(B * static_cast<std::size_t>(C));
      model->ops->download(logits.data(), model->network->logits(), logits.size() * sizeof(float));
      if (spec_.has_attention()) {
        weights.resize(T * B);
        model->ops->download(weights.data(), model->network->alpha(), weights.size() * sizeof(float));
      }
      for (std::size_t b = 0; b < B; ++b) {
        const auto song = order[first + b];
        const float* row = logits.data() + b * static_cast<std::size_t>(C);
        out[song].logits.emplace_back(row, row + C);
        const double top = *std::max_element(row, row + C);
        double sum = 0;
        for (int c = 0; c < C; ++c) sum += std::exp(row[c] - top);
        for (int c = 0; c < C; ++c)
          probs[song][static_cast<std::size_t>(c)] += std::exp(row[c] - top) / sum / static_cast<double>(models_.size());
        if (spec_.has_attention())
          for (std::size_t t = 0; t < alpha[song].size(); ++t)
            alpha[song][t] += weights[t * B + b] / static_cast<double>(models_.size());
      }
    }
  }

  for (std::size_t i = 0; i < songs.size(); ++i) {
    if (out[i].empty) continue;
    out[i].tokens = songs[i].ids.size();
    out[i].token_ids = songs[i].ids;
    std::vector<int> classes(static_cast<std::size_t>(C));
    std::iota(classes.begin(), classes.end(), 0);
    std::stable_sort(classes.begin(), classes.end(), [&](int a, int b) {
      return probs[i][static_cast<std::size_t>(a)] > probs[i][static_cast<std::size_t>(b)];
    });
    for (int k = 0; k < std::min(top_k, C); ++k) {
      const auto c = static_cast<std::size_t>(classes[static_cast<std::size_t>(k)]);
      out[i].top.push_back({genres_[c], probs[i][c]});
    }
    if (!spec_.has_attention()) continue;
    // A word repeated in a song collects the attention of all its positions.
    std::vector<WordWeight> words;
    for (std::size_t t = 0; t < alpha[i].size(); ++t) {
      auto it = std::find_if(words.begin(), words.end(),
                             [&](const WordWeight& w) { return w.word == songs[i].words[t]; });
      if (it == words.end()) {
        words.push_back({songs[i].words[t], alpha[i][t]});
      } else {
        it->weight += alpha[i][t];
      }
    }
    std::stable_sort(words.begin(), words.end(),
                     [](const WordWeight& a, const WordWeight& b) { return a.weight > b.weight; });
    if (words.size() > static_cast<std::size_t>(top_words)) words.resize(static_cast<std::size_t>(top_words));
    out[i].attention = std::move(words);
  }
  return out;
}

}  // namespace lyre
