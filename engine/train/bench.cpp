#include "engine/train/bench.hpp"

#include <unistd.h>

#include <algorithm>
#include <barrier>
#include <cmath>
#include <thread>

#include "data/prepare.hpp"
#include "engine/backend/backend.hpp"
#include "engine/backend/cpu/cpu_ops.hpp"
#include "engine/core/log.hpp"
#include "engine/core/rng.hpp"
#include "engine/core/system.hpp"
#include "engine/model/init.hpp"
#include "engine/train/device_corpus.hpp"
#include "engine/train/replica.hpp"
#include "engine/train/trainer.hpp"

namespace lyre {
namespace {
using nlohmann::json;

constexpr std::uint32_t kBenchVocab = 30000;
constexpr int kBenchClasses = 10;

struct SyntheticCorpus : FlatCorpus {
  std::vector<std::uint32_t> lengths;
};

// Lengths log-normal around 120 tokens (lyrics after stopword removal);
// token ids Zipf-like so the embedding gradient hits few rows often.
SyntheticCorpus make_corpus(std::size_t songs, std::uint64_t seed) {
  SyntheticCorpus c;
  Rng rng(seed);
  for (std::size_t s = 0; s < songs; ++s) {
    const double length = std::exp(std::log(120.0) + 0.6 * rng.normal());
    const auto n = static_cast<std::uint32_t>(std::clamp(length, 5.0, 1000.0));
    for (std::uint32_t t = 0; t < n; ++t) {
      const double u = rng.uniform();
      c.tokens.push_back(2 + static_cast<std::uint32_t>(std::pow(u, 3.0) * (kBenchVocab - 2)));
    }
    c.offsets.push_back(c.tokens.size());
    c.labels.push_back(static_cast<std::uint32_t>(rng.below(kBenchClasses)));
    c.lengths.push_back(n);
  }
  return c;
}

ModelSpec bench_spec(const BenchOptions& o) {
  ModelConfig m;  // the paper's primary model
  m.hidden = o.hidden;
  m.max_len = o.max_len;
  auto spec = ModelSpec::from(m, kBenchVocab, kBenchClasses);
  return spec;
}

struct Throughput {
  double seconds = 0;
  std::uint64_t songs = 0;
  std::uint64_t tokens = 0;
  std::uint64_t start_ns = 0, end_ns = 0;
};

// One epoch over `songs` on a fresh replica; the first two batches warm up
// (allocations in libraries, cuDNN plans) and are not timed. With a barrier,
// concurrent replicas start timing together after all have warmed up.
Throughput time_epoch(const BenchOptions& o, BackendKind backend, const ModelSpec& spec,
                      const DeviceCorpus& corpus, const SyntheticCorpus& host,
                      const std::vector<float>& params, std::uint64_t seed,
                      std::barrier<>* ready = nullptr) {
  const CorpusView view = corpus.view();
  const std::size_t songs_in_plan = host.labels.size();
  FoldReplica replica(
      make_layer_ops(backend, o.cuda), spec,
      [&](LayerOps<float>& ops, int steps, int batch) {
        return std::make_unique<ResidentFeeder>(ops, view, steps, batch, songs_in_plan, spec.max_len);
      },
      OptimizerConfig{}, o.batch_size, seed);
  replica.set_parameters(params);
  std::vector<std::uint32_t> songs(host.labels.size());
  for (std::uint32_t i = 0; i < songs.size(); ++i) songs[i] = i;
  Rng rng(seed);
  const auto plan = make_training_batches(songs, host.lengths, spec.max_len, o.batch_size, 20, rng);
  replica.load_training_plan(plan);
  const std::size_t warmup = std::min<std::size_t>(2, plan.size() - 1);
  for (std::size_t i = 0; i < warmup; ++i) replica.train_batch(i);
  replica.training_counters();  // waits for the warm-up
  if (ready) ready->arrive_and_wait();
  Throughput t;
  t.start_ns = monotonic_ns();
  for (std::size_t i = warmup; i < plan.size(); ++i) {
    replica.train_batch(i);
    t.songs += plan[i].songs.size();
    for (const auto l : plan[i].lengths) t.tokens += static_cast<std::uint64_t>(l);
  }
  replica.training_counters();  // waits for the last batch
  t.end_ns = monotonic_ns();
  t.seconds = static_cast<double>(t.end_ns - t.start_ns) * 1e-9;
  return t;
}

json throughput_json(const Throughput& t) {
  return {{"seconds", t.seconds},
          {"songs", t.songs},
          {"tokens", t.tokens},
          {"songs_per_second", static_cast<double>(t.songs) / t.seconds},
          {"tokens_per_second", static_cast<double>(t.tokens) / t.seconds}};
}

json run_study(const BenchOptions& o, BackendKind backend) {
  namespace fs = std::filesystem;
  const fs::path dir = o.work_dir.empty()
                           ? fs::temp_directory_path() / fmt::format("lyre-bench-{}", ::getpid())
                           : o.work_dir;
  ExperimentConfig config;
  config.name = "bench-study";
  config.seed = o.seed;
  config.output = (dir / "runs").string();
  config.data.source = DataSource::synthetic;
  config.data.synthetic.songs = 48000;  // enough English songs for 10 genres x 2,000
  config.data.per_genre = 2000;
  config.data.top_genres = 10;
  config.data.prepared = (dir / "prepared").string();
  config.model.embedding.init = EmbeddingInit::random;
  config.model.hidden = o.hidden;
  config.model.max_len = o.max_len;
  config.train.backend = backend;
  config.train.batch_size = o.batch_size;
  config.train.epochs = o.study_epochs;
  config.train.threads = o.threads;
  config.train.checkpoints = false;
  config.cuda = o.cuda;
  config.cv.folds = 5;
  const auto prepare_start = monotonic_ns();
  data::run_prepare(config, {});
  const double prepare_seconds = seconds_since(prepare_start);
  RunOptions run_options;
  run_options.write_report = false;
  const auto outcome = run_training(config, run_options);
  const auto& s = outcome.summary;
  json out = {{"songs", 20000},
              {"folds", 5},
              {"epochs", o.study_epochs},
              {"prepare_seconds", prepare_seconds},
              {"wall_seconds", s.at("wall_seconds")},
              {"train_songs_per_second_wall", s.at("train_songs_per_second_wall")},
              {"test_accuracy", s.at("mean").at("test_accuracy")}};
  if (o.work_dir.empty()) {
    fs::remove_all(dir);
  } else {
    out["run_dir"] = outcome.dir.string();  // kept for inspection
  }
  return out;
}

}  // namespace

json run_benchmark(const BenchOptions& o) {
  const auto backend = resolve_backend(o.backend, o.cuda);
  if (backend == BackendKind::cpu) configure_cpu_threads(o.threads);
  ExperimentConfig described;
  described.cuda = o.cuda;
  const auto spec = bench_spec(o);
  const auto host = make_corpus(static_cast<std::size_t>(o.songs), o.seed);
  const auto params = initial_parameters(spec, ParamLayout(spec), o.seed);
  const DeviceCorpus corpus(host, make_layer_ops(backend, o.cuda));
  json result = {{"backend", describe_backend(backend, described)},
                 {"host", host_name()},
                 {"model", spec.describe()},
                 {"batch_size", o.batch_size},
                 {"songs_per_fold", o.songs}};

  log::info("bench: one fold, {} songs ({})", o.songs, describe_backend(backend, described));
  result["one_fold"] = throughput_json(time_epoch(o, backend, spec, corpus, host, params, o.seed));

  if (backend == BackendKind::cuda && o.folds > 1) {
    log::info("bench: {} folds concurrently, one stream each", o.folds);
    std::vector<Throughput> each(static_cast<std::size_t>(o.folds));
    std::barrier ready(o.folds);
    std::vector<std::thread> threads;
    for (int f = 0; f < o.folds; ++f)
      threads.emplace_back([&, f] {
        each[static_cast<std::size_t>(f)] = time_epoch(
            o, backend, spec, corpus, host, params, o.seed + static_cast<std::uint64_t>(f), &ready);
      });
    for (auto& t : threads) t.join();
    Throughput total;
    total.start_ns = each.front().start_ns;
    for (const auto& t : each) {
      total.songs += t.songs;
      total.tokens += t.tokens;
      total.start_ns = std::min(total.start_ns, t.start_ns);
      total.end_ns = std::max(total.end_ns, t.end_ns);
    }
    total.seconds = static_cast<double>(total.end_ns - total.start_ns) * 1e-9;
    result["folds_concurrent"] = throughput_json(total);
    result["folds_concurrent"]["folds"] = o.folds;
  }
  if (o.study) {
    log::info("bench: the primary study, 5 folds x {} epochs on 20,000 synthetic songs", o.study_epochs);
    result["study"] = run_study(o, backend);
  }
  result["peak_rss_bytes"] = peak_rss_bytes();
  return result;
}

}  // namespace lyre
