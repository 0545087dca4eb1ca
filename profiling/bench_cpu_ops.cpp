// CPU backend throughput at the paper's shape (D=100, H=128, A=128, C=10,
// batch 100, up to 300 steps): the LSTM's forward + backward alone, and a whole
// training step of Network<float> (forward, loss, backward, Adam).
//
// Arguments: /lengths/threads, lengths 0 = mixed like real lyrics (a random
// batch of songs: median ~110 tokens, a long tail cut at 300), 1 = every song
// 300 tokens. Counters: tokens/s (real, unpadded tokens) and songs/s.
//
//   cmake -S . -B build/hcpu-rel -G Ninja -DCMAKE_BUILD_TYPE=Release
//         -DLYRE_WITH_CUDA=OFF -DLYRE_BUILD_BENCHMARKS=ON
//   ninja -C build/hcpu-rel bench_cpu_ops && build/hcpu-rel/profiling/bench_cpu_ops
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <numeric>
#include <vector>

#include "engine/backend/cpu/cpu_ops.hpp"
#include "engine/core/rng.hpp"
#include "engine/model/network.hpp"

namespace lyre {
namespace {

constexpr int kSteps = 300, kBatch = 100, kEmbed = 100, kHidden = 128, kAttention = 128;
constexpr int kClasses = 10;
constexpr std::uint32_t kVocab = 20000;

// Song lengths, longest first as the batcher delivers them.
std::vector<std::int32_t> song_lengths(bool mixed, Rng& rng) {
  std::vector<std::int32_t> lengths(kBatch, kSteps);
  if (mixed) {
    for (auto& len : lengths) {
      const double tokens = std::exp(std::log(110.0) + 0.6 * rng.normal());
      len = std::clamp(static_cast<std::int32_t>(tokens), 1, kSteps);
    }
    std::sort(lengths.begin(), lengths.end(), std::greater<>());
    lengths.front() = kSteps;  // the batch spans the full 300 steps
  }
  return lengths;
}

struct Batch {
  std::vector<std::int32_t> tokens, lengths, labels;
  BatchInputs view() const {
    BatchInputs b;
    b.steps = kSteps;
    b.batch = kBatch;
    b.tokens = tokens.data();
    b.lengths = lengths.data();
    b.labels = labels.data();
    b.host_lengths = lengths.data();
    return b;
  }
  double token_count() const { return std::accumulate(lengths.begin(), lengths.end(), 0.0); }
};

Batch make_batch(bool mixed, Rng& rng) {
  Batch b;
  b.lengths = song_lengths(mixed, rng);
  b.tokens.assign(static_cast<std::size_t>(kSteps) * kBatch, 0);
  for (int s = 0; s < kBatch; ++s) {
    for (int t = 0; t < b.lengths[static_cast<std::size_t>(s)]; ++t)
      b.tokens[static_cast<std::size_t>(t) * kBatch + static_cast<std::size_t>(s)] =
          static_cast<std::int32_t>(1 + rng.below(kVocab - 1));
    b.labels.push_back(static_cast<std::int32_t>(rng.below(kClasses)));
  }
  return b;
}

void fill_uniform(Rng& rng, float* data, std::size_t n, double scale) {
  for (std::size_t i = 0; i < n; ++i) data[i] = static_cast<float>(rng.uniform(-scale, scale));
}

void report(benchmark::State& state, const Batch& batch) {
  const auto iterations = static_cast<double>(state.iterations());
  state.counters["tokens/s"] =
      benchmark::Counter(batch.token_count() * iterations, benchmark::Counter::kIsRate);
  state.counters["songs/s"] = benchmark::Counter(kBatch * iterations, benchmark::Counter::kIsRate);
  state.counters["fill"] = batch.token_count() / (kSteps * kBatch);
}

void BM_LstmForwardBackward(benchmark::State& state) {
  configure_cpu_threads(static_cast<int>(state.range(1)));
  Rng rng(1);
  const Batch batch = make_batch(state.range(0) == 0, rng);
  CpuOps<float> ops;
  const LstmShape shape{kEmbed, kHidden, 1, false, kSteps, kBatch};
  auto lstm = ops.make_lstm(shape);
  const std::size_t rows = static_cast<std::size_t>(kSteps) * kBatch;
  std::vector<float> x(rows * kEmbed), y(rows * kHidden), dy(rows * kHidden), dx(x.size());
  std::vector<float> weights(lstm_param_count(shape)), dweights(weights.size());
  fill_uniform(rng, x.data(), x.size(), 1.0);
  fill_uniform(rng, dy.data(), dy.size(), 1e-3);
  fill_uniform(rng, weights.data(), weights.size(), 1.0 / std::sqrt(double{kHidden}));
  for (auto _ : state) {
    lstm->forward(batch.view(), x.data(), weights.data(), y.data(), true);
    lstm->backward(batch.view(), x.data(), weights.data(), y.data(), dy.data(), dx.data(),
                   dweights.data());
    benchmark::DoNotOptimize(dweights.data());
  }
  report(state, batch);
}

void BM_NetworkTrainingStep(benchmark::State& state) {
  configure_cpu_threads(static_cast<int>(state.range(1)));
  Rng rng(2);
  const Batch batch = make_batch(state.range(0) == 0, rng);
  ModelSpec spec;
  spec.vocab_size = kVocab;
  spec.embed_dim = kEmbed;
  spec.hidden = kHidden;
  spec.attention_dim = kAttention;
  spec.num_classes = kClasses;
  CpuOps<float> ops;
  Network<float> net(spec, ops, kSteps, kBatch);
  const std::size_t total = net.layout().total();
  fill_uniform(rng, net.params(), total, 0.1);
  std::fill(net.params(), net.params() + kEmbed, 0.0f);
  std::vector<float> m(total, 0.0f), v(total, 0.0f);
  std::vector<double> counters(metric_slots(kClasses));
  AdamStep step;
  for (auto _ : state) {
    std::fill(counters.begin(), counters.end(), 0.0);
    net.forward(batch.view(), true, 99, static_cast<std::uint64_t>(step.step) * kBatch * kHidden);
    net.loss(batch.view(), counters.data(), true);
    net.backward(batch.view());
    ops.adam(step, total, net.params(), net.grads(), m.data(), v.data());
    ++step.step;
  }
  report(state, batch);
}

BENCHMARK(BM_LstmForwardBackward)
    ->ArgNames({"full", "threads"})
    ->ArgsProduct({{0, 1}, {1, 2}})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_NetworkTrainingStep)
    ->ArgNames({"full", "threads"})
    ->ArgsProduct({{0, 1}, {1, 2}})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace
}  // namespace lyre

BENCHMARK_MAIN();
