// Finite-difference gradient checks of the CPU backend in double precision:
// every layer op (each input and parameter gradient, odd shapes, songs of
// mixed lengths down to 1) and the whole model through Network<double> in
// each variant. Each op's scalar objective is sum(output * R) for a fixed
// random R, so its gradient is the op's backward applied to R; central
// differences with eps = 1e-6 leave errors near 1e-10, far below the
// tolerances.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "engine/backend/cpu/cpu_ops.hpp"
#include "engine/core/rng.hpp"
#include "engine/model/network.hpp"
#include "tests/support/host_batch.hpp"

namespace lyre {
namespace {

using Vec = std::vector<double>;

constexpr double kEps = 1e-6;
constexpr double kRelTol = 1e-6;
constexpr double kAbsTol = 1e-8;

Vec random_vec(Rng& rng, std::size_t n, double scale = 1.0) {
  Vec v(n);
  for (auto& x : v) x = rng.uniform(-scale, scale);
  return v;
}

double dot(const Vec& a, const Vec& b) {
  double s = 0;
  for (std::size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}

// A batch in host memory (the CPU backend's memory), lengths sorted longest first.
using test::HostBatch;
using test::random_batch;

// Compares `analytic` with central differences of `objective` in every element of `x`.
void expect_gradient(const std::string& name, Vec& x, const std::function<double()>& objective,
                     const Vec& analytic) {
  ASSERT_EQ(x.size(), analytic.size()) << name;
  double worst = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double saved = x[i];
    x[i] = saved + kEps;
    const double plus = objective();
    x[i] = saved - kEps;
    const double minus = objective();
    x[i] = saved;
    const double numeric = (plus - minus) / (2 * kEps);
    const double error = std::abs(numeric - analytic[i]);
    const double allowed = kRelTol * std::max(std::abs(numeric), std::abs(analytic[i])) + kAbsTol;
    worst = std::max(worst, error / allowed);
    EXPECT_LE(error, allowed) << name << "[" << i << "]: numeric " << numeric << " analytic "
                              << analytic[i];
  }
  ::testing::Test::RecordProperty(name + "_worst_error_over_tolerance", std::to_string(worst));
}

const std::vector<std::int32_t> kMixedLengths = {7, 6, 6, 3, 2, 1};

// ---- per-op checks ------------------------------------------------------------------

TEST(GradCheck, Embedding) {
  Rng rng(1);
  CpuOps<double> ops;
  const int V = 9, D = 5;
  const HostBatch batch = random_batch(rng, kMixedLengths, V, 3);
  const auto rows = static_cast<std::size_t>(batch.steps) * batch.lengths.size();
  Vec table = random_vec(rng, static_cast<std::size_t>(V * D));
  const Vec R = random_vec(rng, rows * D);
  Vec x(rows * D);
  auto objective = [&] {
    ops.embedding_forward(batch.view(), table.data(), D, x.data());
    return dot(x, R);
  };
  Vec dtable(table.size(), 0.0);
  ops.embedding_backward(batch.view(), R.data(), D, dtable.data());
  expect_gradient("embedding.table", table, objective, dtable);
}

struct LstmCase {
  int layers;
  bool bidirectional;
};

class LstmGradCheck : public ::testing::TestWithParam<LstmCase> {};

TEST_P(LstmGradCheck, InputsAndWeights) {
  const auto [layers, bidirectional] = GetParam();
  Rng rng(static_cast<std::uint64_t>(10 + layers * 2 + bidirectional));
  CpuOps<double> ops;
  const HostBatch batch = random_batch(rng, kMixedLengths, 5, 2);
  const LstmShape shape{3, 5, layers, bidirectional, 9, 8};
  auto lstm = ops.make_lstm(shape);
  const auto rows = static_cast<std::size_t>(batch.steps) * batch.lengths.size();
  const auto Hout = static_cast<std::size_t>(shape.output());
  Vec x = random_vec(rng, rows * 3);
  Vec weights = random_vec(rng, lstm_param_count(shape), 0.6);
  const Vec R = random_vec(rng, rows * Hout);  // nonzero at padding too: backward must ignore it
  Vec y(rows * Hout);
  auto objective = [&] {
    lstm->forward(batch.view(), x.data(), weights.data(), y.data(), false);
    return dot(y, R);
  };
  lstm->forward(batch.view(), x.data(), weights.data(), y.data(), true);
  Vec dx(x.size(), 7.0), dweights(weights.size(), 0.0);
  lstm->backward(batch.view(), x.data(), weights.data(), y.data(), R.data(), dx.data(),
                 dweights.data());
  expect_gradient("lstm.x", x, objective, dx);
  expect_gradient("lstm.weights", weights, objective, dweights);
}

INSTANTIATE_TEST_SUITE_P(Shapes, LstmGradCheck,
                         ::testing::Values(LstmCase{1, false}, LstmCase{1, true},
                                           LstmCase{2, false}, LstmCase{2, true},
                                           LstmCase{3, true}),
                         [](const auto& p) {
                           return std::to_string(p.param.layers) + "layers" +
                                  (p.param.bidirectional ? "Bidirectional" : "Forward");
                         });

class AttentionGradCheck : public ::testing::TestWithParam<PoolKind> {};

TEST_P(AttentionGradCheck, InputsAndParameters) {
  Rng rng(20 + static_cast<std::uint64_t>(GetParam()));
  CpuOps<double> ops;
  const HostBatch batch = random_batch(rng, kMixedLengths, 5, 2);
  const AttentionShape shape{5, 3, GetParam()};
  const int Hout = shape.hidden_out, A = shape.attention;
  const auto rows = static_cast<std::size_t>(batch.steps) * batch.lengths.size();
  const auto B = batch.lengths.size();
  Vec y = random_vec(rng, rows * Hout), w = random_vec(rng, static_cast<std::size_t>(A * Hout));
  Vec b = random_vec(rng, static_cast<std::size_t>(A)), v = random_vec(rng, static_cast<std::size_t>(A));
  const Vec R = random_vec(rng, B * Hout);
  Vec u(rows * A), alpha(rows), pooled(B * Hout);
  auto objective = [&] {
    ops.attention_forward(batch.view(), shape, y.data(), w.data(), b.data(), v.data(), u.data(),
                          alpha.data(), pooled.data());
    return dot(pooled, R);
  };
  objective();
  Vec dy(y.size(), 7.0), dw(w.size(), 0.0), db(b.size(), 0.0), dv(v.size(), 0.0);
  ops.attention_backward(batch.view(), shape, y.data(), w.data(), v.data(), u.data(),
                         alpha.data(), R.data(), dy.data(), dw.data(), db.data(), dv.data());
  expect_gradient("attention.y", y, objective, dy);
  expect_gradient("attention.w", w, objective, dw);
  expect_gradient("attention.b", b, objective, db);
  expect_gradient("attention.v", v, objective, dv);
}

INSTANTIATE_TEST_SUITE_P(Pools, AttentionGradCheck,
                         ::testing::Values(PoolKind::mean, PoolKind::none),
                         [](const auto& p) { return std::string(to_string(p.param)); });

struct PoolCase {
  PoolKind pool;
  bool bidirectional;
};

class PoolGradCheck : public ::testing::TestWithParam<PoolCase> {};

TEST_P(PoolGradCheck, Input) {
  // Plain variables, not a structured binding: lambdas may capture those only
  // from C++20 on, which clang 14 (the sanitize build) does not implement.
  const PoolKind pool = GetParam().pool;
  const bool bidirectional = GetParam().bidirectional;
  Rng rng(30);
  CpuOps<double> ops;
  const HostBatch batch = random_batch(rng, kMixedLengths, 5, 2);
  const int H = 3, Hout = H * (bidirectional ? 2 : 1);
  const auto rows = static_cast<std::size_t>(batch.steps) * batch.lengths.size();
  const auto B = batch.lengths.size();
  Vec y = random_vec(rng, rows * Hout);
  const Vec R = random_vec(rng, B * Hout);
  Vec pooled(B * Hout);
  auto objective = [&] {
    ops.pool_forward(batch.view(), pool, H, bidirectional, y.data(), pooled.data());
    return dot(pooled, R);
  };
  Vec dy(y.size(), 7.0);
  ops.pool_backward(batch.view(), pool, H, bidirectional, R.data(), dy.data());
  expect_gradient("pool.y", y, objective, dy);
}

INSTANTIATE_TEST_SUITE_P(Pools, PoolGradCheck,
                         ::testing::Values(PoolCase{PoolKind::mean, false},
                                           PoolCase{PoolKind::mean, true},
                                           PoolCase{PoolKind::none, false},
                                           PoolCase{PoolKind::none, true}),
                         [](const auto& p) {
                           return std::string(to_string(p.param.pool)) +
                                  (p.param.bidirectional ? "Bidirectional" : "Forward");
                         });

TEST(GradCheck, Dropout) {
  Rng rng(40);
  CpuOps<double> ops;
  const std::size_t n = 37;
  Vec in = random_vec(rng, n), out(n);
  const Vec R = random_vec(rng, n);
  auto objective = [&] {
    ops.dropout_forward(n, 0.4f, 99, 1000, in.data(), out.data());
    return dot(out, R);
  };
  Vec din(n, 7.0);
  ops.dropout_backward(n, 0.4f, 99, 1000, R.data(), din.data());
  expect_gradient("dropout.in", in, objective, din);
}

TEST(GradCheck, Linear) {
  Rng rng(50);
  CpuOps<double> ops;
  const int B = 5, K = 7, C = 3;
  Vec in = random_vec(rng, B * K), w = random_vec(rng, C * K), b = random_vec(rng, C);
  const Vec R = random_vec(rng, B * C);
  Vec out(B * C);
  auto objective = [&] {
    ops.linear_forward(B, K, C, in.data(), w.data(), b.data(), out.data());
    return dot(out, R);
  };
  Vec din(in.size(), 7.0), dw(w.size(), 0.0), db(b.size(), 0.0);
  ops.linear_backward(B, K, C, in.data(), w.data(), R.data(), din.data(), dw.data(), db.data());
  expect_gradient("linear.in", in, objective, din);
  expect_gradient("linear.w", w, objective, dw);
  expect_gradient("linear.b", b, objective, db);
}

TEST(GradCheck, SoftmaxCrossEntropy) {
  Rng rng(60);
  CpuOps<double> ops;
  const int B = 6, C = 4;
  Vec logits = random_vec(rng, B * C, 3.0);
  const std::vector<std::int32_t> labels = {0, 3, 1, 1, 2, 3};
  Vec probs(logits.size()), counters(metric_slots(C));
  auto objective = [&] {
    std::fill(counters.begin(), counters.end(), 0.0);
    ops.softmax_xent(B, C, logits.data(), labels.data(), {}, probs.data(), nullptr, counters.data());
    return counters[kLossSum] / B;
  };
  Vec dlogits(logits.size(), 7.0);
  ops.softmax_xent(B, C, logits.data(), labels.data(), {}, probs.data(), dlogits.data(),
                   counters.data());
  expect_gradient("softmax_xent.logits", logits, objective, dlogits);
}

// PyTorch's weighted mean: sum_b w[y_b] l_b / sum_b w[y_b].
TEST(GradCheck, WeightedSoftmaxXent) {
  Rng rng(12);
  CpuOps<double> ops;
  const int B = 6, C = 4;
  Vec logits = random_vec(rng, B * C, 3.0);
  const std::vector<std::int32_t> labels = {0, 3, 1, 1, 2, 3};
  const std::vector<float> weights = {0.5f, 1.25f, 3.0f, 0.75f};
  double weight_sum = 0;
  for (const auto label : labels) weight_sum += weights[static_cast<std::size_t>(label)];
  Vec probs(logits.size()), counters(metric_slots(C));
  auto objective = [&] {
    double loss = 0;
    for (int b = 0; b < B; ++b) {
      std::fill(counters.begin(), counters.end(), 0.0);
      ops.softmax_xent(1, C, logits.data() + b * C, labels.data() + b, {}, probs.data(), nullptr,
                       counters.data());
      loss += weights[static_cast<std::size_t>(labels[static_cast<std::size_t>(b)])] * counters[kLossSum];
    }
    return loss / weight_sum;
  };
  Vec dlogits(logits.size(), 7.0);
  ops.softmax_xent(B, C, logits.data(), labels.data(), {weights.data(), weight_sum}, probs.data(),
                   dlogits.data(), counters.data());
  expect_gradient("softmax_xent.weighted", logits, objective, dlogits);
}

// ---- the whole model ---------------------------------------------------------------

struct ModelCase {
  const char* name;
  AttentionKind attention;
  PoolKind pool;
  int layers;
  bool bidirectional;
  bool freeze;
  float dropout;
};

class NetworkGradCheck : public ::testing::TestWithParam<ModelCase> {};

TEST_P(NetworkGradCheck, EveryParameter) {
  const ModelCase& c = GetParam();
  ModelSpec spec;
  spec.vocab_size = 11;
  spec.embed_dim = 3;
  spec.hidden = 5;
  spec.layers = c.layers;
  spec.bidirectional = c.bidirectional;
  spec.attention = c.attention;
  spec.attention_dim = 5;
  spec.pool = c.pool;
  spec.dropout = c.dropout;
  spec.num_classes = 3;
  spec.freeze_embedding = c.freeze;

  Rng rng(70);
  CpuOps<double> ops;
  const HostBatch batch = random_batch(rng, kMixedLengths, static_cast<int>(spec.vocab_size), 3);
  const int B = static_cast<int>(batch.lengths.size());
  Network<double> net(spec, ops, 8, 7);
  const std::size_t total = net.layout().total();
  Vec params = random_vec(rng, total, 0.5);
  std::fill(params.begin(), params.begin() + spec.embed_dim, 0.0);  // PAD row
  Vec counters(metric_slots(spec.num_classes));
  constexpr std::uint64_t kSeed = 1234, kOffset = 77;

  auto run_forward = [&](bool with_gradient) {
    std::copy(params.begin(), params.end(), net.params());
    std::fill(counters.begin(), counters.end(), 0.0);
    net.forward(batch.view(), true, kSeed, kOffset);
    net.loss(batch.view(), counters.data(), with_gradient);
    return counters[kLossSum] / B;
  };
  run_forward(true);
  net.backward(batch.view());
  const Vec grads(net.grads(), net.grads() + total);

  const std::size_t trainable = net.layout().trainable_offset();
  for (std::size_t i = 0; i < trainable; ++i)
    ASSERT_EQ(grads[i], 0.0) << "frozen embedding gradient at " << i;
  for (const auto& tensor : net.layout().tensors()) {
    if (tensor.offset < trainable) continue;
    Vec slice(params.begin() + static_cast<std::ptrdiff_t>(tensor.offset),
              params.begin() + static_cast<std::ptrdiff_t>(tensor.offset + tensor.size()));
    const Vec analytic(grads.begin() + static_cast<std::ptrdiff_t>(tensor.offset),
                       grads.begin() + static_cast<std::ptrdiff_t>(tensor.offset + tensor.size()));
    auto objective = [&] {
      std::copy(slice.begin(), slice.end(),
                params.begin() + static_cast<std::ptrdiff_t>(tensor.offset));
      return run_forward(false);
    };
    expect_gradient(tensor.name, slice, objective, analytic);
    std::copy(slice.begin(), slice.end(), params.begin() + static_cast<std::ptrdiff_t>(tensor.offset));
  }
}

INSTANTIATE_TEST_SUITE_P(
    Variants, NetworkGradCheck,
    ::testing::Values(
        ModelCase{"AttentionMean", AttentionKind::additive, PoolKind::mean, 1, false, false, 0.0f},
        ModelCase{"AttentionMeanDropout", AttentionKind::additive, PoolKind::mean, 1, false, false,
                  0.3f},
        ModelCase{"AttentionNone", AttentionKind::additive, PoolKind::none, 1, false, false, 0.0f},
        ModelCase{"NoAttentionMean", AttentionKind::none, PoolKind::mean, 1, false, false, 0.0f},
        ModelCase{"NoAttentionNone", AttentionKind::none, PoolKind::none, 1, false, false, 0.0f},
        ModelCase{"Bidirectional", AttentionKind::additive, PoolKind::mean, 1, true, false, 0.2f},
        ModelCase{"BidirectionalFinalStates", AttentionKind::none, PoolKind::none, 1, true, false,
                  0.0f},
        ModelCase{"TwoLayers", AttentionKind::additive, PoolKind::mean, 2, false, false, 0.0f},
        ModelCase{"TwoLayersBidirectional", AttentionKind::additive, PoolKind::none, 2, true,
                  false, 0.25f},
        ModelCase{"FrozenEmbedding", AttentionKind::additive, PoolKind::mean, 1, false, true,
                  0.2f}),
    [](const auto& p) { return std::string(p.param.name); });

}  // namespace
}  // namespace lyre
