#include "engine/train/trainer.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <functional>
#include <csignal>
#include <exception>
#include <map>
#include <mutex>
#include <thread>
#include <unordered_map>

#include <fmt/ranges.h>

#include "data/vocab.hpp"
#include "engine/backend/backend.hpp"
#include "engine/backend/cpu/cpu_ops.hpp"
#include "engine/core/error.hpp"
#include "engine/core/files.hpp"
#include "engine/core/log.hpp"
#include "engine/core/nvtx.hpp"
#include "engine/core/progress.hpp"
#include "engine/core/rng.hpp"
#include "engine/core/signals.hpp"
#include "engine/core/strings.hpp"
#include "engine/core/system.hpp"
#include "engine/dist/communicator.hpp"
#include "engine/model/init.hpp"
#include "engine/report/report.hpp"
#include "engine/report/tensorboard.hpp"
#include "engine/train/checkpoint.hpp"
#include "engine/train/device_corpus.hpp"
#include "engine/train/replica.hpp"
#include "engine/train/run_dir.hpp"

namespace lyre {
namespace fs = std::filesystem;
using nlohmann::json;

// Named sub-streams of the run seed.
enum SeedStream : std::uint64_t {
  kSeedFolds = 1,
  kSeedValidation = 2,
  kSeedHoldout = 3,
  kSeedInit = 4,
  kSeedBatches = 5,
  kSeedDropout = 6,
};

TrainingData TrainingData::load(const ExperimentConfig& config) {
  const fs::path dir = config.data.prepared;
  if (dir.empty()) fail_input("config key 'data.prepared' is empty: name the prepared folder");
  if (!fs::exists(dir / data::Manifest::kFileName))
    fail_input("{} (config key 'data.prepared') holds no prepared corpus: run `lyre prepare "
               "--config {}` first",
               dir.string(), config.source_file.string());
  TrainingData d{data::PreparedCorpus::open(dir), {}, {}, {}, std::nullopt};
  d.labels = d.corpus.labels();
  d.lengths = d.corpus.lengths();
  d.song_ids.resize(d.corpus.num_songs());
  for (std::uint64_t s = 0; s < d.corpus.num_songs(); ++s) d.song_ids[s] = d.corpus.song_id(s);
  const auto& m = d.corpus.manifest();
  if (config.model.embedding.init == EmbeddingInit::glove) {
    if (!m.embedding) {
      log::warn("model.embedding.init = glove, but {} was prepared without GloVe "
                "(data.glove.path): initializing the embedding at random",
                dir.string());
    } else if (m.embedding->dim != config.model.embedding.dim) {
      fail_input("model.embedding.dim = {}, but the GloVe vectors prepared in {} have {} "
                 "dimensions (data.glove.dim)",
                 config.model.embedding.dim, dir.string(), m.embedding->dim);
    } else {
      d.embedding = d.corpus.embedding();  // validated by PreparedCorpus::open
    }
  }
  return d;
}

namespace {

// For every sample, the first sample of the same song (itself when unique).
std::vector<std::uint32_t> first_sample_of_song(const std::vector<std::uint64_t>& song_ids) {
  std::unordered_map<std::uint64_t, std::uint32_t> first;
  std::vector<std::uint32_t> out(song_ids.size());
  for (std::uint32_t i = 0; i < song_ids.size(); ++i)
    out[i] = first.try_emplace(song_ids[i], i).first->second;
  return out;
}

// Moves every sample into the part that its song's first sample is in.
void keep_songs_together(data::SplitIndices& split, const std::vector<std::uint32_t>& first) {
  std::vector<std::uint8_t> part(first.size(), 0);
  for (auto i : split.validation) part[i] = 1;
  for (auto i : split.test) part[i] = 2;
  split.train.clear();
  split.validation.clear();
  split.test.clear();
  for (std::uint32_t i = 0; i < first.size(); ++i) {
    auto& target = part[first[i]] == 0 ? split.train : part[first[i]] == 1 ? split.validation : split.test;
    target.push_back(i);
  }
}

}  // namespace

std::vector<FoldSplit> make_splits(const ExperimentConfig& config,
                                   const std::vector<std::uint32_t>& labels,
                                   const std::vector<std::uint64_t>& song_ids) {
  std::vector<FoldSplit> splits;
  const auto first = first_sample_of_song(song_ids);
  const bool shared_songs = std::any_of(first.begin(), first.end(), [i = 0u](std::uint32_t f) mutable {
    return f != i++;
  });
  if (config.cv.folds >= 2) {
    auto fold_of = data::assign_folds(labels, config.cv.folds, derive_seed(config.seed, kSeedFolds));
    for (std::size_t i = 0; i < fold_of.size(); ++i) fold_of[i] = fold_of[first[i]];
    for (int f = 0; f < config.cv.folds; ++f)
      splits.push_back({fmt::format("fold-{}", f),
                        data::fold_split(labels, fold_of, f, config.cv.validation,
                                         derive_seed(config.seed, kSeedValidation, static_cast<std::uint64_t>(f)))});
  } else {
    splits.push_back({"holdout", data::holdout_split(labels, config.train.split.validation,
                                                     config.train.split.test,
                                                     derive_seed(config.seed, kSeedHoldout))});
  }
  if (shared_songs)
    for (auto& s : splits) keep_songs_together(s.indices, first);
  for (const auto& s : splits)
    if (s.indices.train.empty() || s.indices.validation.empty() || s.indices.test.empty())
      fail_input("split {} leaves an empty train, validation or test set ({} / {} / {} songs): "
                 "the prepared corpus is too small for cv.folds / cv.validation / train.split",
                 s.name, s.indices.train.size(), s.indices.validation.size(), s.indices.test.size());
  return splits;
}

namespace {

// One progress display for all folds training at once.
class SharedProgress {
 public:
  SharedProgress(std::uint64_t total) : progress_("training", total, "songs") {}
  void add(std::uint64_t songs, const std::string& note) {
    const std::lock_guard lock(mutex_);
    done_ += songs;
    progress_.update(done_, note);
  }
  void finish() {
    const std::lock_guard lock(mutex_);
    progress_.finish();
  }

 private:
  std::mutex mutex_;
  std::uint64_t done_ = 0;
  Progress progress_;
};

// What every fold of one experiment shares (read-only while folds run, but
// for the atomics).
struct Experiment {
  Experiment(const ExperimentConfig& c, const TrainingData& d, const std::vector<FoldSplit>& s,
             RunDirectory& r, BackendKind b, const ModelSpec& m, dist::Communicator& k)
      : config(c), data(d), splits(s), run(r), backend(b), spec(m), comm(k) {}

  const ExperimentConfig& config;
  const TrainingData& data;
  const std::vector<FoldSplit>& splits;
  RunDirectory& run;  // writes only on rank 0
  BackendKind backend;
  ModelSpec spec;
  dist::Communicator& comm;
  BatchShare share;  // this process's slices of every training batch
  std::string backend_text;  // the summary's "backend"
  std::vector<float> initial_params;
  FlatCorpus flat;                       // host copy: streaming packs batches from it
  std::unique_ptr<DeviceCorpus> corpus;  // the backend copy, unless streaming
  std::size_t max_plan_songs = 0;
  SharedProgress* progress = nullptr;
  std::atomic<std::uint64_t>* batches_run = nullptr;
  std::uint64_t stop_after_batches = 0;
  std::atomic<bool> abort{false};  // another fold failed: stop at the next batch

  bool should_stop() const { return stop_requested() || abort.load(); }
};

struct FoldOutcome {
  bool interrupted = false;
  FoldCheckpoint state;
  json record;  // the fold's entry in summary.json
};

std::vector<BatchPlan> eval_plan(const Experiment& ex, const std::vector<std::uint32_t>& songs) {
  return make_eval_batches(songs, ex.data.lengths, ex.spec.max_len, ex.config.train.batch_size);
}

// Evaluation runs whole batches on every rank: no gradient to share, and the
// counters come out the same everywhere without an exchange.
EpochMetrics evaluate(FoldReplica& replica, const std::vector<BatchPlan>& plan) {
  const NvtxRange range("eval");
  replica.load_eval_plan(plan);
  replica.reset_counters();
  for (std::size_t i = 0; i < plan.size(); ++i) replica.eval_batch(i);
  return replica.eval_metrics();
}

// train.balance: class_weights. w_c = N / (C n_c) over the fold's training
// songs (sklearn's "balanced"), so a rare genre's errors cost as much in
// total as a common one's; 0 for a class with no training song.
std::vector<float> class_weights(const std::vector<std::uint32_t>& labels,
                                 const std::vector<std::uint32_t>& train, int classes) {
  std::vector<std::uint64_t> count(static_cast<std::size_t>(classes), 0);
  for (const auto s : train) ++count[labels[s]];
  std::vector<float> w(count.size(), 0.0f);
  for (std::size_t c = 0; c < count.size(); ++c)
    if (count[c] > 0)
      w[c] = static_cast<float>(static_cast<double>(train.size()) /
                                (static_cast<double>(classes) * static_cast<double>(count[c])));
  return w;
}

// train.balance: resample. Every epoch draws floor(N / C) training songs of
// each class: without repeats from a class that has that many, cycling
// through a fresh permutation of a smaller class. A new draw every epoch, so
// over the run a large class's songs are all seen.
std::vector<std::uint32_t> balanced_draw(const std::vector<std::uint32_t>& labels,
                                         const std::vector<std::uint32_t>& train, int classes,
                                         Rng& rng) {
  std::vector<std::vector<std::uint32_t>> by_class(static_cast<std::size_t>(classes));
  for (const auto s : train) by_class[labels[s]].push_back(s);
  const std::size_t per_class = train.size() / static_cast<std::size_t>(classes);
  std::vector<std::uint32_t> out;
  out.reserve(per_class * by_class.size());
  for (auto& songs : by_class) {
    if (songs.empty()) continue;
    rng.shuffle(std::span(songs));
    for (std::size_t i = 0; i < per_class; ++i) out.push_back(songs[i % songs.size()]);
  }
  return out;
}

// One epoch's training batches, with each batch's loss denominator when the
// loss is class-weighted (the whole batch's sum of weights).
std::vector<BatchPlan> training_plan(const Experiment& ex, const FoldSplit& split,
                                     const std::vector<float>& weights, Rng& rng) {
  const auto& config = ex.config;
  const auto songs = config.train.balance == ClassBalance::resample
                         ? balanced_draw(ex.data.labels, split.indices.train, ex.spec.num_classes, rng)
                         : split.indices.train;
  auto plan = make_training_batches(songs, ex.data.lengths, ex.spec.max_len,
                                    config.train.batch_size, config.train.bucket_window, rng);
  if (!weights.empty())
    for (auto& batch : plan) {
      double sum = 0;
      for (const auto s : batch.songs) sum += static_cast<double>(weights[ex.data.labels[s]]);
      batch.loss_denominator = sum;
    }
  return plan;
}

// This process's share of every training batch: micro-batches in one
// process, or its rank's slice in a data-parallel job.
BatchShare batch_share(const ExperimentConfig& config, const dist::Communicator& comm) {
  const int micro = config.train.micro_batches;
  if (comm.size() == 1) return {micro, 0, micro};
  if (micro > 1)
    fail_input("train.micro_batches = {} in a job of {} ranks: each rank already computes one "
               "slice of every batch; set train.micro_batches = 1",
               micro, comm.size());
  if (config.train.batch_size < comm.size())
    fail_input("train.batch_size = {} is smaller than the {} ranks: every rank needs a song of "
               "each batch",
               config.train.batch_size, comm.size());
  return {comm.size(), comm.rank(), 1};
}

std::string confusion_csv(const EpochMetrics& m, const std::vector<std::string>& genres) {
  std::string out = "label\\predicted";
  for (const auto& g : genres) out += fmt::format(",{}", csv_field(g));
  out += "\n";
  const auto C = static_cast<std::size_t>(m.num_classes);
  for (std::size_t r = 0; r < C; ++r) {
    out += csv_field(genres[r]);
    for (std::size_t c = 0; c < C; ++c) out += fmt::format(",{}", m.confusion[r * C + c]);
    out += "\n";
  }
  return out;
}

FoldCheckpoint fresh_state(int fold, const std::vector<float>& initial) {
  FoldCheckpoint c;
  c.fold = fold;
  c.optimizer.params = initial;
  return c;
}

json fold_record(const FoldSplit& split, int fold, const FoldCheckpoint& c) {
  json r = {{"fold", fold},
            {"split", split.name},
            {"songs", {{"train", split.indices.train.size()},
                       {"validation", split.indices.validation.size()},
                       {"test", split.indices.test.size()}}},
            {"epochs", c.epochs_done},
            {"best_epoch", c.best_epoch},
            {"seconds", c.seconds},
            {"test", c.test}};
  if (!c.history.empty()) {
    r["train"] = c.history.back().at("train");
    r["validation"] = c.history.back().at("validation");
  }
  std::uint64_t songs = 0;
  for (const auto& h : c.history) songs += h.at("train").at("songs").get<std::uint64_t>();
  r["train_songs_per_second"] = c.seconds > 0 ? static_cast<double>(songs) / c.seconds : 0.0;
  return r;
}

FeederFactory feeder_factory(const Experiment& ex) {
  if (ex.corpus) {
    const CorpusView view = ex.corpus->view();
    const std::size_t max_songs = ex.max_plan_songs;
    const int max_len = ex.spec.max_len;
    return [view, max_songs, max_len](LayerOps<float>& ops, int steps, int batch) {
      return std::make_unique<ResidentFeeder>(ops, view, steps, batch, max_songs, max_len);
    };
  }
  const FlatCorpus* flat = &ex.flat;
  const BackendKind backend = ex.backend;
  const int max_len = ex.spec.max_len;
  return [flat, backend, max_len](LayerOps<float>& ops, int steps, int batch) {
    return std::make_unique<StreamingFeeder>(
        *flat, make_staging_channel(backend, ops, StreamingFeeder::slot_bytes(steps, batch)), steps,
        batch, max_len);
  };
}

// A fold's test confusion table, relative to the run folder.
std::string confusion_file(int fold) {
  return fmt::format("folds/fold-{}/confusion_test.csv", fold);
}

// Trains one fold from `state` (fresh or from a checkpoint) to its end, or to
// a stop request, leaving its checkpoint and confusion matrix in the run folder.
FoldOutcome run_fold(Experiment& ex, int fold, FoldCheckpoint state) {
  const auto& config = ex.config;
  const auto& split = ex.splits[static_cast<std::size_t>(fold)];
  nvtx_name_thread(fmt::format("fold {}", fold));
  const NvtxRange fold_range(fmt::format("fold {}", fold));
  const auto vocab_hash = ex.data.corpus.manifest().vocab_hash;
  const auto checkpoint_path = ex.run.checkpoint_path(fold);
  FoldOutcome outcome;
  if (state.finished) {
    outcome.state = std::move(state);
    outcome.record = fold_record(split, fold, outcome.state);
    return outcome;
  }

  const auto weights = config.train.balance == ClassBalance::class_weights
                           ? class_weights(ex.data.labels, split.indices.train, ex.spec.num_classes)
                           : std::vector<float>{};
  FoldReplica replica(make_layer_ops(ex.backend, config.cuda), ex.spec, feeder_factory(ex),
                      config.train.optimizer, config.train.batch_size,
                      derive_seed(config.seed, kSeedDropout, static_cast<std::uint64_t>(fold)),
                      ex.share, &ex.comm, ex.backend, weights.empty() ? nullptr : weights.data());
  if (state.optimizer.m.empty()) {
    replica.set_parameters(state.optimizer.params);
  } else {
    replica.restore(state.optimizer);
  }
  const int patience = config.train.early_stopping.patience;
  // Validation batches never change within a fold: sorted once, not every epoch.
  const auto validation_plan = eval_plan(ex, split.indices.validation);

  auto save = [&](FoldCheckpoint& c) {
    c.optimizer = replica.state();
    if (ex.run.writes()) save_checkpoint(checkpoint_path, ex.spec, vocab_hash, c);
  };
  const std::size_t counter_count =
      static_cast<std::size_t>(ex.share.parts) * metric_slots(ex.spec.num_classes);
  if (state.next_batch > 0 && state.epoch_counters.size() != counter_count)
    fail_input("checkpoint {} stopped mid-epoch in a run whose batches were split in {} parts "
               "(train.micro_batches, or ranks); this one splits them in {}: resume with the "
               "same split",
               checkpoint_path.string(), state.epoch_counters.size() / metric_slots(ex.spec.num_classes),
               ex.share.parts);

  for (int epoch = state.epochs_done + 1; epoch <= config.train.epochs; ++epoch) {
    const NvtxRange epoch_range(fmt::format("epoch {}", epoch));
    const auto epoch_start = monotonic_ns();
    Rng rng(derive_seed(config.seed, kSeedBatches,
                        (static_cast<std::uint64_t>(fold) << 32) | static_cast<std::uint64_t>(epoch)));
    const auto plan = training_plan(ex, split, weights, rng);
    replica.load_training_plan(plan);
    if (state.next_batch > 0) {
      replica.set_training_counters(state.epoch_counters);
    } else {
      replica.reset_counters();
    }
    // Stops before batch `next`, keeping the epoch's position and counters.
    auto interrupt = [&](std::size_t next) {
      state.epoch_counters = replica.training_counters();
      state.next_batch = next;
      state.seconds += seconds_since(epoch_start);
      save(state);
      log::info("fold {}: stopped in epoch {} at batch {}/{}; checkpoint {}", fold, epoch, next,
                plan.size(), checkpoint_path.string());
      outcome.interrupted = true;
      outcome.state = std::move(state);
    };
    // One process stops before the next batch; data-parallel ranks carry the
    // wish with the batch's gradient exchange and stop together after it.
    const bool distributed = replica.distributed();
    for (std::size_t i = state.next_batch; i < plan.size(); ++i) {
      if (!distributed && ex.should_stop()) {
        interrupt(i);
        return outcome;
      }
      const bool agreed_stop = replica.train_batch(i, distributed && ex.should_stop());
      if (ex.stop_after_batches && ++*ex.batches_run >= ex.stop_after_batches) request_stop(SIGINT);
      ex.progress->add(plan[i].songs.size(), fmt::format("fold {} epoch {}/{}", fold, epoch,
                                                         config.train.epochs));
      if (distributed && agreed_stop) {
        interrupt(i + 1);
        return outcome;
      }
    }
    state.next_batch = 0;
    state.epoch_counters.clear();
    const auto train = replica.training_metrics();
    const auto validation = evaluate(replica, validation_plan);
    const double seconds = seconds_since(epoch_start);
    state.seconds += seconds;
    state.epochs_done = epoch;
    const bool improved = state.best_epoch == 0 ||
                          validation.loss < state.best_validation_loss - config.train.early_stopping.min_delta;
    if (improved) {
      state.best_validation_loss = validation.loss;
      state.best_epoch = epoch;
      state.epochs_without_gain = 0;
      if (patience > 0) state.best_params = replica.parameters();
    } else {
      ++state.epochs_without_gain;
    }
    const std::uint64_t tokens = count_tokens(plan);
    json record = {{"fold", fold},
                   {"split", split.name},
                   {"epoch", epoch},
                   {"train", train.to_json()},
                   {"validation", validation.to_json()},
                   {"seconds", seconds},
                   {"train_songs_per_second", static_cast<double>(train.songs) / seconds},
                   {"train_tokens_per_second", static_cast<double>(tokens) / seconds},
                   // TensorBoard's wall time, kept so its event files can be rewritten
                   {"ended_unix_seconds", unix_seconds()}};
    state.history.push_back(record);
    ex.run.append_metrics(record);
    tensorboard::write_fold_events(ex.run, fold, state.history, config.train.optimizer.lr);
    log::info("fold {} epoch {}/{}: train loss {:.4f} acc {:.3f} | validation loss {:.4f} acc "
              "{:.3f} P {:.3f} R {:.3f} F1 {:.3f} | {:.0f} songs/s",
              fold, epoch, config.train.epochs, train.loss, train.accuracy, validation.loss,
              validation.accuracy, validation.macro_precision, validation.macro_recall,
              validation.macro_f1, static_cast<double>(train.songs) / seconds);
    const bool stop_early = patience > 0 && state.epochs_without_gain >= patience;
    if (config.train.checkpoints && epoch < config.train.epochs && !stop_early) save(state);
    if (stop_early) {
      log::info("fold {}: validation loss has not improved for {} epochs; stopping early, "
                "keeping epoch {}",
                fold, patience, state.best_epoch);
      break;
    }
  }

  if (!state.best_params.empty()) replica.set_parameters(state.best_params);
  const auto test = evaluate(replica, eval_plan(ex, split.indices.test));
  state.test = test.to_json(true);
  state.finished = true;
  // The confusion table first: a checkpoint that says "finished" is only
  // written once everything the fold leaves is there, so a process killed in
  // between redoes the last epoch on --resume instead of leaving a gap.
  if (ex.run.writes()) {
    ex.run.fold_dir(fold);
    ex.run.write_text(confusion_file(fold), confusion_csv(test, ex.data.corpus.genres()));
  }
  save(state);
  log::info("fold {}: test loss {:.4f} accuracy {:.3f} macro F1 {:.3f}", fold, test.loss,
            test.accuracy, test.macro_f1);
  outcome.state = std::move(state);
  outcome.record = fold_record(split, fold, outcome.state);
  return outcome;
}

// Runs fn(0..n-1) on up to `concurrency` threads; the first exception stops
// the others at their next batch and is rethrown.
template <typename Fn>
void run_folds(std::size_t n, std::size_t concurrency, Experiment& ex, Fn fn) {
  std::exception_ptr first_error;
  std::mutex error_mutex;
  std::atomic<std::size_t> next{0};
  auto worker = [&] {
    for (std::size_t i = next++; i < n; i = next++) {
      try {
        fn(i);
      } catch (...) {
        const std::lock_guard lock(error_mutex);
        if (!first_error) first_error = std::current_exception();
        ex.abort = true;
      }
    }
  };
  std::vector<std::thread> threads;
  for (std::size_t t = 1; t < std::min(n, concurrency); ++t) threads.emplace_back(worker);
  worker();
  for (auto& t : threads) t.join();
  if (first_error) std::rethrow_exception(first_error);
}

json summarize(const Experiment& ex, const std::vector<FoldOutcome>& folds, double wall_seconds) {
  json summary = {{"name", ex.config.name},
                  {"backend", ex.backend_text},
                  {"model", ex.spec.describe()},
                  {"parameters", ParamLayout(ex.spec).total()},
                  {"genres", ex.data.corpus.genres()},
                  {"wall_seconds", wall_seconds}};
  json fold_records = json::array();
  std::vector<std::uint64_t> total_confusion;
  std::map<std::string, std::vector<double>> columns;
  std::uint64_t songs = 0;
  double train_seconds = 0;
  for (const auto& f : folds) {
    fold_records.push_back(f.record);
    const auto test = EpochMetrics::from_json(f.state.test);
    if (total_confusion.empty()) total_confusion.assign(test.confusion.size(), 0);
    for (std::size_t i = 0; i < test.confusion.size(); ++i) total_confusion[i] += test.confusion[i];
    const auto& r = f.record;
    columns["train_accuracy"].push_back(r.at("train").at("accuracy").get<double>());
    columns["validation_accuracy"].push_back(r.at("validation").at("accuracy").get<double>());
    columns["validation_loss"].push_back(r.at("validation").at("loss").get<double>());
    for (const char* key : {"loss", "accuracy", "macro_precision", "macro_recall", "macro_f1",
                            "threshold_precision", "threshold_recall"})
      columns[std::string("test_") + key].push_back(f.state.test.at(key).get<double>());
    for (const auto& h : f.state.history) songs += h.at("train").at("songs").get<std::uint64_t>();
    train_seconds += f.state.seconds;
  }
  json mean;
  for (const auto& [key, values] : columns) {
    const auto ms = mean_std(values);
    mean[key] = {{"mean", ms.mean}, {"std", ms.std}};
  }
  // Per genre: recall on the test songs, mean and std over folds.
  json class_recall = json::array();
  const auto& genres = ex.data.corpus.genres();
  for (std::size_t c = 0; c < genres.size(); ++c) {
    std::vector<double> values;
    for (const auto& f : folds) {
      const auto recall = EpochMetrics::from_json(f.state.test).class_recall;
      if (c < recall.size()) values.push_back(recall[c]);
    }
    const auto ms = mean_std(values);
    class_recall.push_back({{"genre", genres[c]}, {"mean", ms.mean}, {"std", ms.std}});
  }
  summary["folds"] = fold_records;
  summary["mean"] = mean;
  summary["test_class_recall"] = class_recall;
  summary["test_confusion_total"] = total_confusion;
  // Songs trained per second of wall time, all folds together.
  summary["train_songs_per_second_wall"] = wall_seconds > 0 ? static_cast<double>(songs) / wall_seconds : 0.0;
  summary["train_seconds_sum"] = train_seconds;
  return summary;
}

// What write_run_files writes, run.json last: a folder holding run.json has
// started training and holds the others.
constexpr std::array<const char*, 4> kRunStartFiles = {"config.yaml", "vocab.txt", "genres.txt",
                                                       "run.json"};

void write_run_files(const ExperimentConfig& config, const TrainingData& data, RunDirectory& run,
                     BackendKind backend, const ModelSpec& spec, const std::string& kind) {
  run.write_text("config.yaml", to_yaml(config));
  if (run.writes()) {
    data.corpus.vocab().save(run.root() / "vocab.txt");
    run.record("vocab.txt");
  }
  run.write_text("genres.txt", join(data.corpus.genres(), "\n") + "\n");
  run.write_json("run.json",
                 {{"kind", kind},
                  {"name", config.name},
                  {"started", utc_timestamp()},
                  {"started_unix", unix_seconds()},
                  {"host", host_name()},
                  {"backend", describe_backend(backend, config)},
                  {"model", spec.describe()},
                  {"parameters", ParamLayout(spec).total()},
                  {"prepared", config.data.prepared},
                  {"songs", data.corpus.num_songs()},
                  {"vocab_hash", fmt::format("{:016x}", data.corpus.manifest().vocab_hash)}});
}

json read_run_info(const fs::path& run_dir) {
  verify_run_files(run_dir, {"run.json"});
  try {
    return json::parse(read_text_file(run_dir / "run.json"));
  } catch (const json::exception& e) {
    fail_input("{}: not valid JSON: {}", (run_dir / "run.json").string(), e.what());
  }
}

// Wall time of a run that several tasks shared: from its first task's start.
double seconds_since_run_start(const fs::path& run_dir) {
  const auto info = read_run_info(run_dir);
  if (!info.contains("started_unix")) return 0.0;
  return std::max(0.0, unix_seconds() - info.at("started_unix").get<double>());
}

enum class RunMode {
  fresh,   // a new run folder
  resume,  // --resume: every fold continues from its checkpoint
  join,    // --folds: some folds, into a folder other tasks share
};

// The folds this process trains: cv.folds_subset, or all of them.
std::vector<int> selected_folds(const ExperimentConfig& config, std::size_t splits) {
  std::vector<int> folds;
  for (const int f : config.cv.folds_subset)
    if (std::find(folds.begin(), folds.end(), f) == folds.end()) folds.push_back(f);
  if (folds.empty())
    for (int f = 0; f < static_cast<int>(splits); ++f) folds.push_back(f);
  for (const int f : folds)
    LYRE_CHECK(f < static_cast<int>(splits), "fold {} of {}", f, splits);
  return folds;
}

// Fills `outcomes` with the finished folds found in the run folder among
// those this process did not train; returns one line per fold still missing.
std::vector<std::string> collect_finished_folds(const Experiment& ex, const std::vector<int>& trained,
                                                std::vector<FoldOutcome>& outcomes) {
  std::vector<std::string> missing;
  const auto vocab_hash = ex.data.corpus.manifest().vocab_hash;
  for (int f = 0; f < static_cast<int>(ex.splits.size()); ++f) {
    if (std::find(trained.begin(), trained.end(), f) != trained.end()) continue;
    const auto path = ex.run.checkpoint_path(f);
    if (!fs::exists(path)) {
      missing.push_back(fmt::format("fold {}: not started", f));
      continue;
    }
    auto state = load_checkpoint(path, ex.spec, vocab_hash);
    if (!state.finished) {
      missing.push_back(fmt::format("fold {}: {} of {} epochs done", f, state.epochs_done,
                                    ex.config.train.epochs));
      continue;
    }
    auto& o = outcomes[static_cast<std::size_t>(f)];
    o.state = std::move(state);
    o.record = fold_record(ex.splits[static_cast<std::size_t>(f)], f, o.state);
  }
  return missing;
}

// The summary, the metrics in canonical order (fold, then epoch: the same
// file however the folds were scheduled) and the report, from every fold's
// final state.
json finish_run(const Experiment& ex, const std::vector<FoldOutcome>& folds, double wall_seconds,
                const RunOptions& options) {
  std::vector<json> history;
  for (const auto& f : folds)
    for (const auto& h : f.state.history) history.push_back(h);
  // What a process killed before recording it left unlisted (the fold tables
  // of folds that were finished when the run was resumed, say).
  std::vector<std::string> written(kRunStartFiles.begin(), kRunStartFiles.end());
  for (std::size_t f = 0; f < folds.size(); ++f)
    written.push_back(confusion_file(static_cast<int>(f)));
  ex.run.record_unlisted(written);
  ex.run.rewrite_metrics(history);
  auto summary = summarize(ex, folds, wall_seconds);
  ex.run.write_json("summary.json", summary);
  ex.run.write_text("summary.md", summary_markdown(summary));
  if (options.write_report && ex.run.writes()) write_run_report(ex.run.root());
  return summary;
}

// Trains this process's folds of one configuration into `run` (all of them,
// or cv.folds_subset), resuming from the checkpoints it finds there. The
// summary is written once every fold of the run has finished.
RunOutcome run_experiment(const ExperimentConfig& config, const TrainingData& data,
                          const std::vector<FoldSplit>& splits, RunDirectory& run,
                          const RunOptions& options, RunMode mode, dist::Communicator& comm) {
  const auto start = monotonic_ns();
  const auto backend = resolve_backend(config.train.backend, config.cuda);
  if (backend == BackendKind::cpu) configure_cpu_threads(config.train.threads);
  const auto spec = ModelSpec::from(config.model, data.corpus.vocab().size(),
                                    static_cast<int>(data.corpus.num_classes()));
  if (mode == RunMode::fresh) write_run_files(config, data, run, backend, spec, "train");
  log::info("{}: {} on {}{}", config.name, spec.describe(), describe_backend(backend, config),
            comm.size() > 1 ? fmt::format(", data-parallel over {}", comm.describe()) : "");

  std::optional<PretrainedEmbedding> pretrained;
  if (data.embedding) pretrained = PretrainedEmbedding{data.embedding->values, data.embedding->found};
  Experiment ex{config, data, splits, run, backend, spec, comm};
  ex.share = batch_share(config, comm);
  ex.backend_text = describe_backend(backend, config);
  ex.initial_params = initial_parameters(spec, ParamLayout(spec), derive_seed(config.seed, kSeedInit),
                                         pretrained ? &*pretrained : nullptr);
  for (const auto& s : splits)
    ex.max_plan_songs = std::max({ex.max_plan_songs, s.indices.train.size(),
                                  s.indices.validation.size(), s.indices.test.size()});

  // Each fold's starting point: its checkpoint when resuming or joining, else fresh.
  const auto folds = selected_folds(config, splits.size());
  std::vector<FoldCheckpoint> states(splits.size());
  std::vector<json> history;
  std::uint64_t remaining_songs = 0;
  for (const int f : folds) {
    const auto path = run.checkpoint_path(f);
    auto& state = states[static_cast<std::size_t>(f)];
    state = mode != RunMode::fresh && fs::exists(path)
                ? load_checkpoint(path, spec, data.corpus.manifest().vocab_hash)
                : fresh_state(f, ex.initial_params);
    for (const auto& h : state.history) history.push_back(h);
    if (!state.finished)
      remaining_songs += static_cast<std::uint64_t>(config.train.epochs - state.epochs_done) *
                         splits[static_cast<std::size_t>(f)].indices.train.size();
  }
  // Drops the lines of epochs after the last checkpoint (a shared folder's
  // metrics.jsonl is put in order when its summary is written).
  if (mode == RunMode::resume) run.rewrite_metrics(history);
  // Event files hold exactly their checkpoint's epochs too; a fold task
  // rewrites only its own folds' files.
  if (mode != RunMode::fresh)
    for (const int f : folds)
      tensorboard::write_fold_events(run, f, states[static_cast<std::size_t>(f)].history,
                                     config.train.optimizer.lr);

  ex.flat = flatten(data.corpus);
  const auto budget = static_cast<std::uint64_t>(config.cuda.memory_budget_mb) << 20;
  const bool streaming = options.force_streaming ||
                         (backend == BackendKind::cuda && budget > 0 && ex.flat.bytes() > budget);
  if (streaming) {
    log::info("streaming batches from host memory: the corpus ({} MB) {}", ex.flat.bytes() >> 20,
              options.force_streaming ? "(forced)" : "exceeds cuda.memory_budget_mb");
  } else {
    ex.corpus = std::make_unique<DeviceCorpus>(ex.flat, make_layer_ops(backend, config.cuda));
  }
  SharedProgress progress(remaining_songs);
  std::atomic<std::uint64_t> batches_run{0};
  ex.progress = &progress;
  ex.batches_run = &batches_run;
  ex.stop_after_batches = options.stop_after_batches;

  // CUDA: every fold at once, one stream each. CPU, and data-parallel jobs
  // (whose ranks step through the folds together): one after another.
  const std::size_t concurrency =
      backend == BackendKind::cuda && config.cv.concurrent && comm.size() == 1 ? folds.size() : 1;
  std::vector<FoldOutcome> outcomes(splits.size());
  run_folds(folds.size(), concurrency, ex, [&](std::size_t i) {
    const auto f = static_cast<std::size_t>(folds[i]);
    outcomes[f] = run_fold(ex, folds[i], std::move(states[f]));
  });
  progress.finish();

  RunOutcome outcome;
  outcome.dir = run.root();
  outcome.primary = run.writes();
  outcome.joined = mode == RunMode::join;
  for (const int f : folds) outcome.interrupted |= outcomes[static_cast<std::size_t>(f)].interrupted;
  if (outcome.interrupted) {
    outcome.stop_signal = stop_signal();
    return outcome;
  }
  double wall_seconds = seconds_since(start);
  std::optional<RunLock> lock;
  if (folds.size() < splits.size()) {
    // Tasks share the folder: the one that finishes last (as the lock
    // orders them) finds every fold done and writes the summary.
    if (run.writes()) lock.emplace(run.root());
    outcome.unfinished = collect_finished_folds(ex, folds, outcomes);
    if (!outcome.unfinished.empty()) {
      outcome.partial = true;
      log::info("{}: trained fold(s) {}; the run waits for {} — the task that finishes last "
                "writes the summary (or run `lyre merge {}`)",
                run.root().string(), fmt::format("{}", fmt::join(folds, ", ")), join(outcome.unfinished, "; "),
                run.root().string());
      return outcome;
    }
    wall_seconds = seconds_since_run_start(run.root());
  }
  outcome.summary = finish_run(ex, outcomes, wall_seconds, options);
  return outcome;
}

RunOutcome run_variants(const ExperimentConfig& config, const TrainingData& data,
                        RunDirectory& root, const RunOptions& options, bool resume,
                        dist::Communicator& comm) {
  const auto start = monotonic_ns();
  const auto splits = make_splits(config, data.labels, data.song_ids);  // one set of folds for every variant
  if (!resume) {
    root.write_text("config.yaml", to_yaml(config));
    root.write_json("run.json", {{"kind", "ablation"}, {"name", config.name},
                                 {"started", utc_timestamp()}, {"host", host_name()}});
  }
  json variants = json::array();
  for (const auto& variant : config.ablation) {
    ExperimentConfig vc = config;
    vc.ablation.clear();
    vc.name = config.name + "-" + variant.name;
    apply_overrides(vc, variant.overrides, fmt::format("ablation variant '{}'", variant.name));
    auto dir = root.child(variant.name);
    const bool started = fs::exists(dir.root() / "config.yaml");
    log::info("ablation variant '{}' ({})", variant.name,
              variant.description.empty() ? "no description" : variant.description);
    auto outcome = run_experiment(vc, data, splits, dir, options,
                                  resume && started ? RunMode::resume : RunMode::fresh, comm);
    if (outcome.interrupted) {
      outcome.dir = root.root();
      return outcome;
    }
    variants.push_back({{"name", variant.name},
                        {"description", variant.description},
                        {"overrides", variant.overrides},
                        {"dir", fs::relative(dir.root(), root.root()).string()},
                        {"summary", outcome.summary}});
  }
  json ablation = {{"name", config.name}, {"genres", data.corpus.genres()},
                   {"folds", splits.size()}, {"variants", variants},
                   {"wall_seconds", seconds_since(start)}};
  root.write_json("ablation.json", ablation);
  root.write_text("ablation.md", ablation_markdown(ablation));
  root.write_text("ablation.csv", ablation_csv(ablation));
  if (options.write_report && root.writes()) write_ablation_report(root.root());
  RunOutcome outcome;
  outcome.dir = root.root();
  outcome.summary = ablation;
  outcome.primary = root.writes();
  return outcome;
}

// The job's communicator: one process, or the ranks mpirun/srun started.
// Ranks other than 0 log warnings only, each line marked with its rank.
std::unique_ptr<dist::Communicator> open_job(const ExperimentConfig& config) {
  auto comm = dist::open_communicator(config.dist, resolve_backend(config.train.backend, config.cuda));
  batch_share(config, *comm);  // refuses a split the ranks cannot do before any file is written
  if (comm->size() > 1) {
    log::set_prefix(fmt::format("rank {}/{}: ", comm->rank(), comm->size()));
    if (!comm->is_root() && log::level() < log::Level::warn) log::set_level(log::Level::warn);
  }
  return comm;
}

// Rank 0 opens (or creates) the run folder, and the others follow it there;
// rank 0's refusal stops every rank with the same message.
RunDirectory open_on_root(dist::Communicator& comm, const std::function<RunDirectory()>& open) {
  std::optional<RunDirectory> mine;
  const auto path = comm.share_from_root([&] {
    mine.emplace(open());
    return mine->root().string();
  });
  return comm.is_root() ? std::move(*mine) : RunDirectory::follow(path);
}

std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> lines;
  std::size_t begin = 0;
  while (begin < text.size()) {
    const auto end = std::min(text.find('\n', begin), text.size());
    lines.push_back(text.substr(begin, end - begin));
    begin = end + 1;
  }
  return lines;
}

// "line 12: `model.hidden: 64` in the folder, `model.hidden: 128` here".
std::string first_difference(const std::string& stored, const std::string& mine) {
  const auto a = split_lines(stored), b = split_lines(mine);
  for (std::size_t i = 0; i < std::max(a.size(), b.size()); ++i) {
    const std::string x = i < a.size() ? a[i] : "(end)", y = i < b.size() ? b[i] : "(end)";
    if (x != y) return fmt::format("line {}: `{}` in the folder, `{}` in this task", i + 1, x, y);
  }
  return "no line differs";
}

// `--folds` tasks share one run folder: the first creates it, the others
// check that they train the same run (every config key but cv.folds_subset).
RunDirectory join_run_folder(const ExperimentConfig& config, const TrainingData& data,
                             const fs::path& out) {
  if (out.empty())
    fail_input("cv.folds_subset (--folds) trains part of a run: name the run folder its tasks "
               "share with --out");
  auto run = RunDirectory::shared(out);
  const RunLock lock(out);
  ExperimentConfig whole = config;
  whole.cv.folds_subset.clear();
  const auto config_path = out / "config.yaml";
  if (fs::exists(config_path)) {
    verify_run_files(out, {"config.yaml"});
    const auto stored = read_text_file(config_path), mine = to_yaml(whole);
    if (stored != mine)
      fail_input("{} belongs to another run: {}; every task of a run needs the same config and "
                 "--set options",
                 config_path.string(), first_difference(stored, mine));
    return run;
  }
  for (const auto& entry : fs::directory_iterator(out))
    if (entry.path().filename() != ".lock" && entry.path().filename() != ".checksums.lock")
      fail_input("{} holds files but no config.yaml: not a Lyre run folder; choose another --out",
                 out.string());
  const auto backend = resolve_backend(config.train.backend, config.cuda);
  const auto spec = ModelSpec::from(config.model, data.corpus.vocab().size(),
                                    static_cast<int>(data.corpus.num_classes()));
  write_run_files(whole, data, run, backend, spec, "train");
  return run;
}

}  // namespace

std::string summary_markdown(const json& s) {
  const auto pct = [](const json& v) { return fmt::format("{:.1f}", 100.0 * v.get<double>()); };
  std::string out = fmt::format("# {}\n\n{}\n\nbackend: {}\n\n", s.at("name").get<std::string>(),
                                s.at("model").get<std::string>(), s.at("backend").get<std::string>());
  out += "| fold | epochs | best epoch | train acc % | val acc % | test acc % | test loss | macro P % | "
         "macro R % | macro F1 % | P@0.5 % | R@0.5 % |\n";
  out += "|---|---|---|---|---|---|---|---|---|---|---|---|\n";
  for (const auto& f : s.at("folds")) {
    const auto& t = f.at("test");
    out += fmt::format("| {} | {} | {} | {} | {} | {} | {:.3f} | {} | {} | {} | {} | {} |\n",
                       f.at("split").get<std::string>(), f.at("epochs").get<int>(),
                       f.at("best_epoch").get<int>(), pct(f.at("train").at("accuracy")),
                       pct(f.at("validation").at("accuracy")), pct(t.at("accuracy")),
                       t.at("loss").get<double>(), pct(t.at("macro_precision")),
                       pct(t.at("macro_recall")), pct(t.at("macro_f1")),
                       pct(t.at("threshold_precision")), pct(t.at("threshold_recall")));
  }
  const auto& m = s.at("mean");
  const auto ms = [&](const char* key, double scale) {
    return fmt::format("{:.{}f} ± {:.{}f}", scale * m.at(key).at("mean").get<double>(),
                       scale == 1 ? 3 : 1, scale * m.at(key).at("std").get<double>(),
                       scale == 1 ? 3 : 1);
  };
  out += fmt::format("| **mean ± std** | | | {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
                     ms("train_accuracy", 100), ms("validation_accuracy", 100),
                     ms("test_accuracy", 100), ms("test_loss", 1), ms("test_macro_precision", 100),
                     ms("test_macro_recall", 100), ms("test_macro_f1", 100),
                     ms("test_threshold_precision", 100), ms("test_threshold_recall", 100));
  if (s.contains("test_class_recall")) {
    out += "\n| genre | test recall % (mean ± std over folds) |\n|---|---|\n";
    for (const auto& g : s.at("test_class_recall"))
      out += fmt::format("| {} | {:.1f} ± {:.1f} |\n", g.at("genre").get<std::string>(),
                         100.0 * g.at("mean").get<double>(), 100.0 * g.at("std").get<double>());
  }
  out += fmt::format("\nwall time {:.1f} s, {:.0f} training songs/s\n",
                     s.at("wall_seconds").get<double>(),
                     s.at("train_songs_per_second_wall").get<double>());
  return out;
}

RunOutcome run_training(const ExperimentConfig& config, const RunOptions& options) {
  const auto data = TrainingData::load(config);
  const auto splits = make_splits(config, data.labels, data.song_ids);
  auto comm = open_job(config);
  const bool joining = !config.cv.folds_subset.empty();
  auto run = open_on_root(*comm, [&] {
    return joining ? join_run_folder(config, data, options.out)
                   : RunDirectory::create(config, options.out);
  });
  return run_experiment(config, data, splits, run, options,
                        joining ? RunMode::join : RunMode::fresh, *comm);
}

namespace {
void require_ablation_list(const ExperimentConfig& config) {
  if (config.ablation.empty())
    fail_input("{}: `lyre ablate` needs an 'ablation' list of variants in the config",
               config.source_file.string());
  if (!config.cv.folds_subset.empty())
    fail_input("{}: cv.folds_subset (--folds) applies to `lyre train`; an ablation trains every "
               "fold of every variant",
               config.source_file.string());
}
}  // namespace

RunOutcome run_ablation(const ExperimentConfig& config, const RunOptions& options) {
  require_ablation_list(config);
  // The data is validated before the run folder exists: a refused corpus
  // leaves nothing behind.
  const auto data = TrainingData::load(config);
  auto comm = open_job(config);
  auto root = open_on_root(*comm, [&] { return RunDirectory::create(config, options.out); });
  return run_variants(config, data, root, options, false, *comm);
}

RunOutcome resume_run(const fs::path& run_dir, const RunOptions& options) {
  RunDirectory::open(run_dir);
  verify_run_files(run_dir, {"config.yaml"});
  const auto config = load_config(run_dir / "config.yaml");
  const json info = read_run_info(run_dir);
  log::info("resuming {} from {}", config.name, run_dir.string());
  const auto data = TrainingData::load(config);
  auto comm = open_job(config);
  auto run = open_on_root(*comm, [&] { return RunDirectory::open(run_dir); });
  if (info.value("kind", "train") == "ablation") {
    require_ablation_list(config);
    return run_variants(config, data, run, options, true, *comm);
  }
  const auto splits = make_splits(config, data.labels, data.song_ids);
  return run_experiment(config, data, splits, run, options, RunMode::resume, *comm);
}

RunOutcome merge_run(const fs::path& run_dir, const RunOptions& options) {
  auto run = RunDirectory::open(run_dir);
  verify_run_files(run_dir, {"config.yaml"});
  const auto config = load_config(run_dir / "config.yaml");
  const json info = read_run_info(run_dir);
  if (info.value("kind", "train") != "train")
    fail_input("{}: `lyre merge` assembles a `lyre train` run; this folder holds an {}",
               run_dir.string(), info.value("kind", "?"));
  const auto data = TrainingData::load(config);
  const auto splits = make_splits(config, data.labels, data.song_ids);
  const auto spec = ModelSpec::from(config.model, data.corpus.vocab().size(),
                                    static_cast<int>(data.corpus.num_classes()));
  auto comm = dist::make_single_process();
  Experiment ex{config, data, splits, run, BackendKind::cpu, spec, *comm};
  ex.backend_text = info.value("backend", std::string("unknown"));
  const RunLock lock(run_dir);
  std::vector<FoldOutcome> outcomes(splits.size());
  const auto missing = collect_finished_folds(ex, {}, outcomes);
  if (!missing.empty())
    fail_input("{} is not finished ({} of {} folds missing): {}. Train them (for example `lyre "
               "train --config {} --folds N --out {}`), then merge again",
               run_dir.string(), missing.size(), splits.size(), join(missing, "; "),
               (run_dir / "config.yaml").string(), run_dir.string());
  RunOutcome outcome;
  outcome.dir = run.root();
  outcome.summary = finish_run(ex, outcomes, seconds_since_run_start(run_dir), options);
  return outcome;
}

}  // namespace lyre
