// The CPU backend against an independent PyTorch implementation of the model:
// tests/reference/make_golden.py wrote, per variant, fixed inputs and
// parameters with PyTorch's logits, loss, every parameter gradient and the
// parameters after a few Adam steps (tests/data/golden/*.json; regenerate
// with that script). Network<float> and Network<double> over CpuOps must
// reproduce them: norm-wise relative error per tensor (||ours - torch|| /
// ||torch||) below 1e-5 in float and far below in double.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <type_traits>
#include <vector>

#include "engine/backend/cpu/cpu_ops.hpp"
#include "engine/model/network.hpp"
#include "tests/support/test_support.hpp"

namespace lyre {
namespace {

using nlohmann::json;
using Values = std::vector<double>;

constexpr double kFloatTolerance = 1e-5;
constexpr double kDoubleTolerance = 1e-12;
// Adam moves a parameter by about lr per step; in double its update itself is
// compared, to a bound that leaves room for the parameters' own rounding.
constexpr double kDoubleUpdateTolerance = 1e-10;

json load_golden(const std::string& variant) {
  const auto path = test::test_data_dir() / "golden" / (variant + ".json");
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot open " + path.string());
  return json::parse(in);
}

ModelSpec spec_from(const json& config) {
  ModelSpec spec;
  spec.vocab_size = config.at("vocab_size").get<std::uint32_t>();
  spec.embed_dim = config.at("embed_dim").get<int>();
  spec.hidden = config.at("hidden").get<int>();
  spec.layers = config.at("layers").get<int>();
  spec.bidirectional = config.at("bidirectional").get<bool>();
  spec.attention = config.at("attention").get<std::string>() == "additive"
                       ? AttentionKind::additive
                       : AttentionKind::none;
  spec.attention_dim = config.at("attention_dim").get<int>();
  spec.pool = config.at("pool").get<std::string>() == "mean" ? PoolKind::mean : PoolKind::none;
  spec.dropout = config.at("dropout").get<float>();
  spec.num_classes = config.at("num_classes").get<int>();
  return spec;
}

// ||got - want|| / ||want|| (absolute when want is all zero).
double relative_error(const Values& got, const Values& want) {
  EXPECT_EQ(got.size(), want.size());
  double diff = 0, norm = 0;
  for (std::size_t i = 0; i < want.size() && i < got.size(); ++i) {
    diff += (got[i] - want[i]) * (got[i] - want[i]);
    norm += want[i] * want[i];
  }
  return norm > 0 ? std::sqrt(diff / norm) : std::sqrt(diff);
}

// The values of tensor `name` in the golden section `section` ("params", "grads", ...).
Values tensor_of(const json& golden, const char* section, const std::string& name) {
  return golden.at(section).at(name).get<Values>();
}

template <typename S>
Values to_values(const S* data, std::size_t n) {
  return Values(data, data + n);
}

Values difference(const Values& a, const Values& b) {
  Values d(a.size());
  for (std::size_t i = 0; i < a.size(); ++i) d[i] = a[i] - b[i];
  return d;
}

struct GoldenBatch {
  std::vector<std::int32_t> tokens, lengths, labels;
  BatchInputs view(int steps) const {
    BatchInputs b;
    b.steps = steps;
    b.batch = static_cast<int>(lengths.size());
    b.tokens = tokens.data();
    b.lengths = lengths.data();
    b.labels = labels.data();
    b.host_lengths = lengths.data();
    return b;
  }
};

GoldenBatch batch_from(const json& g) {
  GoldenBatch batch;
  batch.lengths = g.at("lengths").get<std::vector<std::int32_t>>();
  batch.labels = g.at("labels").get<std::vector<std::int32_t>>();
  for (const auto& row : g.at("tokens"))
    for (const auto& token : row) batch.tokens.push_back(token.get<std::int32_t>());
  return batch;
}

template <typename S>
void check_against_pytorch(const std::string& variant, double tolerance) {
  const json golden = load_golden(variant);
  const ModelSpec spec = spec_from(golden.at("config"));
  const GoldenBatch batch = batch_from(golden);
  const int steps = golden.at("steps").get<int>();
  const int B = static_cast<int>(batch.lengths.size());
  ASSERT_EQ(batch.tokens.size(), static_cast<std::size_t>(steps) * batch.lengths.size());

  CpuOps<S> ops;
  Network<S> net(spec, ops, steps, B);
  const auto& tensors = net.layout().tensors();
  ASSERT_EQ(golden.at("params").size(), tensors.size()) << "parameter names differ";
  for (const auto& t : tensors) {
    const Values values = tensor_of(golden, "params", t.name);
    ASSERT_EQ(values.size(), t.size()) << t.name;
    for (std::size_t i = 0; i < values.size(); ++i)
      net.param(t.name)[i] = static_cast<S>(values[i]);
  }
  const Values initial = to_values(net.params(), net.layout().total());

  std::vector<double> counters(metric_slots(spec.num_classes), 0.0);
  net.forward(batch.view(steps), true, golden.at("dropout_seed").get<std::uint64_t>(),
              golden.at("dropout_offset").get<std::uint64_t>());
  net.loss(batch.view(steps), counters.data(), true);
  net.backward(batch.view(steps));

  const auto logits = to_values(net.logits(), static_cast<std::size_t>(B * spec.num_classes));
  EXPECT_LT(relative_error(logits, golden.at("logits").get<Values>()), tolerance);
  const double loss = golden.at("loss").get<double>();
  EXPECT_LT(std::abs(counters[kLossSum] / B - loss), tolerance * loss);
  for (const auto& t : tensors) {
    const auto grad = to_values(net.grad(t.name), t.size());
    const double error = relative_error(grad, tensor_of(golden, "grads", t.name));
    EXPECT_LT(error, tolerance) << "gradient of " << t.name;
  }

  const json& adam = golden.at("adam");
  AdamStep step;
  step.lr = adam.at("lr").get<double>();
  step.beta1 = adam.at("beta1").get<double>();
  step.beta2 = adam.at("beta2").get<double>();
  step.eps = adam.at("eps").get<double>();
  step.weight_decay = adam.at("weight_decay").get<double>();
  step.clip_norm = adam.at("clip_norm").get<double>();
  const std::size_t total = net.layout().total();
  std::vector<S> m(total, S(0)), v(total, S(0));
  for (int s = 1; s <= adam.at("steps").get<int>(); ++s) {
    step.step = s;
    ops.adam(step, total, net.params(), net.grads(), m.data(), v.data());
  }
  for (const auto& t : tensors) {
    const Values want = tensor_of(golden, "adam_params", t.name);
    const auto got = to_values(net.param(t.name), t.size());
    EXPECT_LT(relative_error(got, want), tolerance) << "Adam update of " << t.name;
    if constexpr (std::is_same_v<S, double>) {
      const Values before(initial.begin() + static_cast<std::ptrdiff_t>(t.offset),
                          initial.begin() + static_cast<std::ptrdiff_t>(t.offset + t.size()));
      const Values golden_before = tensor_of(golden, "params", t.name);
      EXPECT_LT(relative_error(difference(got, before), difference(want, golden_before)),
                kDoubleUpdateTolerance)
          << "Adam step of " << t.name;
    }
  }
}

class ReferenceParity : public ::testing::TestWithParam<const char*> {};

TEST_P(ReferenceParity, Float) { check_against_pytorch<float>(GetParam(), kFloatTolerance); }

TEST_P(ReferenceParity, Double) { check_against_pytorch<double>(GetParam(), kDoubleTolerance); }

INSTANTIATE_TEST_SUITE_P(Golden, ReferenceParity,
                         ::testing::Values("primary", "pool_none", "no_attention_mean",
                                           "no_attention_none", "bidirectional_2layers"),
                         [](const auto& p) { return std::string(p.param); });

}  // namespace
}  // namespace lyre
