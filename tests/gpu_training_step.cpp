// Whole training steps on the CUDA backend against the CPU reference: the
// trainer's loop (gather from a corpus in backend memory, forward with
// dropout, loss and metrics, backward, Adam) through Network<float>, from
// identical parameters, for each model variant. After every step each
// parameter tensor, gradient tensor and Adam moment must agree to a relative
// L2 error of 1e-4, and the metric counters must agree (counts exactly).
// Then two CUDA runs from one seed must agree bit for bit.
//
// Every test skips where no CUDA device is present.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "engine/backend/cpu/cpu_ops.hpp"
#include "engine/backend/cuda/cuda_ops.hpp"
#include "engine/backend/cuda/cuda_raii.hpp"
#include "engine/core/rng.hpp"
#include "engine/model/init.hpp"
#include "engine/model/network.hpp"

namespace lyre {
namespace {

constexpr double kTolerance = 1e-4;
constexpr int kMaxBatch = 8;
constexpr int kSteps = 3;
constexpr std::uint64_t kDropoutSeed = 77;

using Buffer = std::unique_ptr<BackendBuffer>;

double normalized_error(const float* expected, const float* actual, std::size_t n) {
  double diff = 0, norm = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const double e = expected[i], a = actual[i];
    diff += (a - e) * (a - e);
    norm += e * e;
  }
  return norm > 0 ? std::sqrt(diff / norm) : std::sqrt(diff);
}

template <typename T>
Buffer put(LayerOps<float>& ops, const std::vector<T>& host) {
  auto buffer = ops.allocate(std::max<std::size_t>(1, host.size()) * sizeof(T));
  ops.upload(buffer->data(), host.data(), host.size() * sizeof(T));
  return buffer;
}

template <typename T>
std::vector<T> get(LayerOps<float>& ops, const void* src, std::size_t count) {
  std::vector<T> host(count);
  ops.download(host.data(), src, count * sizeof(T));
  return host;
}

// ---- the data ------------------------------------------------------------------------

struct HostCorpus {
  std::vector<std::uint32_t> tokens, labels;
  std::vector<std::uint64_t> offsets{0};
  std::size_t songs() const { return labels.size(); }
  int clipped_length(std::uint32_t song, int max_len) const {
    return static_cast<int>(
        std::min<std::uint64_t>(offsets[song + 1] - offsets[song], static_cast<std::uint64_t>(max_len)));
  }
};

HostCorpus random_corpus(Rng& rng, const ModelSpec& spec) {
  HostCorpus c;
  for (int s = 0; s < 40; ++s) {
    const auto len = 1 + rng.below(static_cast<std::uint64_t>(spec.max_len + 8));
    for (std::uint64_t i = 0; i < len; ++i)
      c.tokens.push_back(static_cast<std::uint32_t>(1 + rng.below(spec.vocab_size - 1)));
    c.offsets.push_back(c.tokens.size());
    c.labels.push_back(static_cast<std::uint32_t>(rng.below(static_cast<std::uint64_t>(spec.num_classes))));
  }
  return c;
}

// One batch as the batcher plans it: songs longest first, T = the longest.
struct BatchPlan {
  std::vector<std::uint32_t> songs;
  std::vector<std::int32_t> lengths;
  int steps = 0;
};

std::vector<BatchPlan> random_plans(Rng& rng, const HostCorpus& corpus, int max_len) {
  std::vector<BatchPlan> plans;
  for (int p = 0; p < kSteps; ++p) {
    BatchPlan plan;
    const auto size = 1 + rng.below(kMaxBatch);  // a batch of one song included sometimes
    for (std::uint64_t i = 0; i < size; ++i)
      plan.songs.push_back(static_cast<std::uint32_t>(rng.below(corpus.songs())));
    std::stable_sort(plan.songs.begin(), plan.songs.end(), [&](std::uint32_t a, std::uint32_t b) {
      return corpus.clipped_length(a, max_len) > corpus.clipped_length(b, max_len);
    });
    for (auto s : plan.songs) plan.lengths.push_back(corpus.clipped_length(s, max_len));
    plan.steps = plan.lengths.front();
    plans.push_back(std::move(plan));
  }
  return plans;
}

// ---- the trainer's loop on one backend ------------------------------------------------------

struct StepResult {
  std::vector<float> params, grads, m, v, logits;
  std::vector<double> counters;
};

class Trainer {
 public:
  Trainer(LayerOps<float>& ops, const ModelSpec& spec, const HostCorpus& corpus,
          const std::vector<float>& params, const AdamStep& adam)
      : ops_(ops), network_(spec, ops, spec.max_len, kMaxBatch), adam_(adam),
        corpus_tokens_(put(ops, corpus.tokens)), corpus_offsets_(put(ops, corpus.offsets)),
        corpus_labels_(put(ops, corpus.labels)),
        corpus_{corpus_tokens_->as<std::uint32_t>(), corpus_offsets_->as<std::uint64_t>(),
                corpus_labels_->as<std::uint32_t>(), corpus.songs()} {
    const std::size_t n = network_.layout().total();
    ops.upload(network_.params(), params.data(), n * sizeof(float));
    m_ = put(ops, std::vector<float>(n, 0.0f));
    v_ = put(ops, std::vector<float>(n, 0.0f));
    counters_ = put(ops, std::vector<double>(metric_slots(spec.num_classes), 0.0));
    ids_ = ops.allocate(kMaxBatch * sizeof(std::uint32_t));
    tokens_ = ops.allocate(static_cast<std::size_t>(spec.max_len) * kMaxBatch * sizeof(std::int32_t));
    lengths_ = ops.allocate(kMaxBatch * sizeof(std::int32_t));
    labels_ = ops.allocate(kMaxBatch * sizeof(std::int32_t));
  }

  StepResult step(const BatchPlan& plan, std::int64_t number) {
    const ModelSpec& spec = network_.spec();
    const int B = static_cast<int>(plan.songs.size());
    ops_.upload(ids_->data(), plan.songs.data(), plan.songs.size() * sizeof(std::uint32_t));
    ops_.gather_batch(corpus_, ids_->as<std::uint32_t>(), plan.steps, B, spec.max_len,
                      tokens_->as<std::int32_t>(), lengths_->as<std::int32_t>(),
                      labels_->as<std::int32_t>());
    const BatchInputs batch{plan.steps,
                            B,
                            tokens_->as<std::int32_t>(),
                            lengths_->as<std::int32_t>(),
                            labels_->as<std::int32_t>(),
                            plan.lengths.data()};
    const auto offset = static_cast<std::uint64_t>(number) * kMaxBatch *
                        static_cast<std::uint64_t>(spec.lstm_out());
    network_.forward(batch, true, kDropoutSeed, offset);
    network_.loss(batch, counters_->as<double>(), true);
    network_.backward(batch);
    const std::size_t first = network_.layout().trainable_offset();
    const std::size_t n = network_.layout().total();
    AdamStep adam = adam_;
    adam.step = number;
    ops_.adam(adam, n - first, network_.params() + first, network_.grads() + first,
              m_->as<float>() + first, v_->as<float>() + first);

    StepResult r;
    r.params = get<float>(ops_, network_.params(), n);
    r.grads = get<float>(ops_, network_.grads(), n);
    r.m = get<float>(ops_, m_->data(), n);
    r.v = get<float>(ops_, v_->data(), n);
    r.logits = get<float>(ops_, network_.logits(),
                          static_cast<std::size_t>(B) * static_cast<std::size_t>(spec.num_classes));
    r.counters = get<double>(ops_, counters_->data(), metric_slots(spec.num_classes));
    return r;
  }

  const ParamLayout& layout() const { return network_.layout(); }

 private:
  LayerOps<float>& ops_;
  Network<float> network_;
  AdamStep adam_;
  Buffer corpus_tokens_, corpus_offsets_, corpus_labels_;
  CorpusView corpus_;
  Buffer m_, v_, counters_, ids_, tokens_, lengths_, labels_;
};

// ---- the variants ------------------------------------------------------------------------------

struct Variant {
  std::string name;
  ModelSpec spec;
  AdamStep adam;
};

Variant variant(std::string name, int embed_dim, int layers, bool bidirectional,
                AttentionKind attention, PoolKind pool, bool freeze = false, double clip = 0.0,
                double weight_decay = 0.0) {
  ModelSpec s;
  s.vocab_size = 60;
  s.embed_dim = embed_dim;
  s.hidden = 8;
  s.layers = layers;
  s.bidirectional = bidirectional;
  s.attention = attention;
  s.attention_dim = 6;
  s.pool = pool;
  s.dropout = 0.2f;
  s.num_classes = 4;
  s.max_len = 20;
  s.freeze_embedding = freeze;
  AdamStep adam;
  adam.clip_norm = clip;
  adam.weight_decay = weight_decay;
  return Variant{std::move(name), s, adam};
}

// gtest prints parameters in test names and failures: the name, not the bytes.
void PrintTo(const Variant& v, std::ostream* os) { *os << v.name; }

std::vector<Variant> variants() {
  return {
      variant("PaperAttentionMeanPool", 12, 1, false, AttentionKind::additive, PoolKind::mean),
      variant("ContextVectorBidirectional", 10, 1, true, AttentionKind::additive,
              PoolKind::none),
      variant("MeanPoolTwoLayersBidirectional", 12, 2, true, AttentionKind::none,
              PoolKind::mean),
      variant("FinalStateFrozenEmbedding", 7, 1, true, AttentionKind::none, PoolKind::none,
              true),
      variant("ClippingAndWeightDecay", 12, 1, false, AttentionKind::additive, PoolKind::mean,
              false, 0.05, 0.01),
  };
}

struct TrainingRun {
  std::vector<StepResult> steps;
};

TrainingRun train(LayerOps<float>& ops, const Variant& v, std::uint64_t seed) {
  Rng rng(seed);
  const HostCorpus corpus = random_corpus(rng, v.spec);
  const auto plans = random_plans(rng, corpus, v.spec.max_len);
  const ParamLayout layout(v.spec);
  Trainer trainer(ops, v.spec, corpus, initial_parameters(v.spec, layout, seed), v.adam);
  TrainingRun run;
  for (int s = 0; s < kSteps; ++s)
    run.steps.push_back(trainer.step(plans[static_cast<std::size_t>(s)], s + 1));
  return run;
}

void expect_tensors_close(const ParamLayout& layout, const std::vector<float>& expected,
                          const std::vector<float>& actual, const std::string& what, int step) {
  ASSERT_EQ(expected.size(), actual.size());
  for (const auto& t : layout.tensors()) {
    const double error =
        normalized_error(expected.data() + t.offset, actual.data() + t.offset, t.size());
    EXPECT_LE(error, kTolerance) << what << " " << t.name << " after step " << step;
  }
}

class TrainingStep : public ::testing::TestWithParam<Variant> {};

TEST_P(TrainingStep, CudaMatchesCpu) {
  if (!lyre::cuda::device_available()) GTEST_SKIP() << "no CUDA device";
  const Variant& v = GetParam();
  auto cpu_ops = make_cpu_ops();
  auto gpu_ops = cuda::make_cuda_ops({});
  const TrainingRun cpu = train(*cpu_ops, v, 5);
  const TrainingRun gpu = train(*gpu_ops, v, 5);
  const ParamLayout layout(v.spec);
  for (int s = 0; s < kSteps; ++s) {
    const auto& e = cpu.steps[static_cast<std::size_t>(s)];
    const auto& a = gpu.steps[static_cast<std::size_t>(s)];
    const int step = s + 1;
    EXPECT_LE(normalized_error(e.logits.data(), a.logits.data(), e.logits.size()), kTolerance)
        << "logits after step " << step;
    expect_tensors_close(layout, e.grads, a.grads, "gradient", step);
    expect_tensors_close(layout, e.params, a.params, "parameter", step);
    expect_tensors_close(layout, e.m, a.m, "Adam m", step);
    expect_tensors_close(layout, e.v, a.v, "Adam v", step);
    ASSERT_EQ(e.counters.size(), a.counters.size());
    EXPECT_NEAR(a.counters[kLossSum], e.counters[kLossSum],
                kTolerance * std::abs(e.counters[kLossSum]))
        << "loss after step " << step;
    for (std::size_t i = kSongs; i < e.counters.size(); ++i)
      EXPECT_EQ(a.counters[i], e.counters[i]) << "counter " << i << " after step " << step;
  }
}

TEST_P(TrainingStep, TwoCudaRunsAreBitwiseIdentical) {
  if (!lyre::cuda::device_available()) GTEST_SKIP() << "no CUDA device";
  const Variant& v = GetParam();
  auto first_ops = cuda::make_cuda_ops({});
  const TrainingRun first = train(*first_ops, v, 9);
  first_ops.reset();
  auto second_ops = cuda::make_cuda_ops({});
  const TrainingRun second = train(*second_ops, v, 9);
  for (int s = 0; s < kSteps; ++s) {
    const auto& a = first.steps[static_cast<std::size_t>(s)];
    const auto& b = second.steps[static_cast<std::size_t>(s)];
    auto same = [](const auto& x, const auto& y) {
      return x.size() == y.size() &&
             std::memcmp(x.data(), y.data(), x.size() * sizeof(x.front())) == 0;
    };
    EXPECT_TRUE(same(a.params, b.params)) << "parameters after step " << s + 1;
    EXPECT_TRUE(same(a.grads, b.grads)) << "gradients after step " << s + 1;
    EXPECT_TRUE(same(a.m, b.m) && same(a.v, b.v)) << "Adam moments after step " << s + 1;
    EXPECT_TRUE(same(a.counters, b.counters)) << "counters after step " << s + 1;
  }
}

INSTANTIATE_TEST_SUITE_P(Variants, TrainingStep, ::testing::ValuesIn(variants()),
                         [](const auto& p) { return p.param.name; });

TEST(TrainingStepPrecision, ReducedPrecisionStaysNearTheCpuLoss) {
  if (!lyre::cuda::device_available()) GTEST_SKIP() << "no CUDA device";
  const Variant v = variants().front();
  auto cpu_ops = make_cpu_ops();
  const TrainingRun cpu = train(*cpu_ops, v, 11);
  for (const Precision precision : {Precision::tf32, Precision::bf16}) {
    cuda::CudaOptions options;
    options.precision = precision;
    auto gpu_ops = cuda::make_cuda_ops(options);
    const TrainingRun gpu = train(*gpu_ops, v, 11);
    const double expected = cpu.steps.back().counters[kLossSum];
    EXPECT_NEAR(gpu.steps.back().counters[kLossSum], expected, 2e-2 * std::abs(expected))
        << to_string(precision);
  }
}

}  // namespace
}  // namespace lyre
