// The CUDA backend against the CPU reference, op by op (in the manner of
// ggml's test-backend-ops): each case makes its inputs once on the host from
// a seed, runs on both backends, and every output is compared. Float outputs
// must agree to a relative L2 error of 1e-4 (fp32); integer-valued outputs
// (tokens, counts, dropout masks) must agree exactly. Shapes are small and
// odd on purpose, batches mix lengths down to 1, and padded positions of
// inputs hold garbage that must not leak into any output.
//
// Every test skips where no CUDA device is present.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "engine/backend/cpu/cpu_ops.hpp"
#include "engine/backend/cuda/cuda_ops.hpp"
#include "engine/backend/cuda/cuda_raii.hpp"
#include "engine/backend/cuda/cudnn_lstm.hpp"
#include "engine/core/error.hpp"
#include "engine/core/rng.hpp"
#include "tests/support/host_batch.hpp"

namespace lyre {
namespace {

constexpr double kTolerance = 1e-4;

using Buffer = std::unique_ptr<BackendBuffer>;

// ---- comparison ------------------------------------------------------------------

// ||actual - expected|| / ||expected|| (the plain norm of actual when expected is 0).
double normalized_error(const std::vector<float>& expected, const std::vector<float>& actual) {
  double diff = 0, norm = 0;
  for (std::size_t i = 0; i < expected.size(); ++i) {
    const double e = expected[i], a = actual[i];
    diff += (a - e) * (a - e);
    norm += e * e;
  }
  return norm > 0 ? std::sqrt(diff / norm) : std::sqrt(diff);
}

struct Output {
  std::string name;
  std::vector<float> values;
  bool exact = false;  // integer-valued: must match bit for bit
};

void expect_close(const Output& expected, const Output& actual, double tolerance) {
  ASSERT_EQ(expected.name, actual.name);
  ASSERT_EQ(expected.values.size(), actual.values.size()) << expected.name;
  for (std::size_t i = 0; i < actual.values.size(); ++i)
    ASSERT_TRUE(std::isfinite(actual.values[i])) << expected.name << "[" << i << "]";
  if (expected.exact) {
    for (std::size_t i = 0; i < expected.values.size(); ++i)
      ASSERT_EQ(expected.values[i], actual.values[i]) << expected.name << "[" << i << "]";
    return;
  }
  const double error = normalized_error(expected.values, actual.values);
  EXPECT_LE(error, tolerance) << expected.name;
  ::testing::Test::RecordProperty(expected.name + "_error", std::to_string(error));
}

// ---- backend memory ------------------------------------------------------------------

template <typename T>
Buffer put(LayerOps<float>& ops, const std::vector<T>& host) {
  auto buffer = ops.allocate(std::max<std::size_t>(1, host.size()) * sizeof(T));
  ops.upload(buffer->data(), host.data(), host.size() * sizeof(T));
  return buffer;
}

Buffer zeros(LayerOps<float>& ops, std::size_t floats) {
  auto buffer = ops.allocate(std::max<std::size_t>(1, floats) * sizeof(float));
  ops.fill_zero(buffer->data(), buffer->bytes());
  return buffer;
}

template <typename T>
std::vector<T> get(LayerOps<float>& ops, BackendBuffer& buffer, std::size_t count) {
  std::vector<T> host(count);
  ops.download(host.data(), buffer.data(), count * sizeof(T));
  return host;
}

Output read(LayerOps<float>& ops, const std::string& name, BackendBuffer& buffer,
            std::size_t count) {
  return Output{name, get<float>(ops, buffer, count)};
}

template <typename T>
Output read_exact(LayerOps<float>& ops, const std::string& name, BackendBuffer& buffer,
                  std::size_t count) {
  const auto values = get<T>(ops, buffer, count);
  return Output{name, std::vector<float>(values.begin(), values.end()), true};
}

std::vector<float> random_floats(Rng& rng, std::size_t n, double scale = 1.0) {
  std::vector<float> v(n);
  for (auto& x : v) x = static_cast<float>(rng.uniform(-scale, scale));
  return v;
}

// ---- batches --------------------------------------------------------------------------

using test::HostBatch;
using test::random_batch;

// A [T,B,F] tensor as a layer upstream would hand it over: random where
// valid, 0 at padding (the LSTM's y and the embedding's x are).
std::vector<float> sequence_tensor(Rng& rng, const HostBatch& batch, int features) {
  auto v = random_floats(rng, batch.rows() * static_cast<std::size_t>(features));
  for (std::size_t row = 0; row < batch.rows(); ++row)
    if (batch.padded(row))
      std::fill_n(v.begin() + static_cast<std::ptrdiff_t>(row * static_cast<std::size_t>(features)),
                  features, 0.0f);
  return v;
}

// A batch placed on one backend.
class PlacedBatch {
 public:
  PlacedBatch(LayerOps<float>& ops, const HostBatch& host)
      : host_(host), tokens_(put(ops, host.tokens)), lengths_(put(ops, host.lengths)),
        labels_(put(ops, host.labels)) {}
  BatchInputs inputs() const {
    return BatchInputs{host_.steps, host_.batch(), tokens_->as<std::int32_t>(),
                       lengths_->as<std::int32_t>(), labels_->as<std::int32_t>(),
                       host_.lengths.data()};
  }

 private:
  const HostBatch& host_;
  Buffer tokens_, lengths_, labels_;
};

const std::vector<std::int32_t> kMixedLengths = {9, 7, 7, 4, 2, 1, 1};

// ---- the harness ----------------------------------------------------------------------

// One op under test: runs on any backend from the inputs it holds.
class OpCase {
 public:
  virtual ~OpCase() = default;
  virtual std::vector<Output> run(LayerOps<float>& ops) const = 0;
};

std::vector<Output> run_on_cuda(const OpCase& op, const cuda::CudaOptions& options = {}) {
  auto gpu = cuda::make_cuda_ops(options);
  return op.run(*gpu);
}

void expect_backends_agree(const OpCase& op, const cuda::CudaOptions& options = {},
                           double tolerance = kTolerance) {
  auto cpu = make_cpu_ops();
  const auto expected = op.run(*cpu);
  const auto actual = run_on_cuda(op, options);
  ASSERT_EQ(expected.size(), actual.size());
  for (std::size_t i = 0; i < expected.size(); ++i) expect_close(expected[i], actual[i], tolerance);
}

// ---- gather -----------------------------------------------------------------------------

class GatherCase final : public OpCase {
 public:
  explicit GatherCase(std::uint64_t seed) {
    Rng rng(seed);
    std::vector<std::uint64_t> song_lengths;
    offsets_.push_back(0);
    for (int s = 0; s < 40; ++s) {
      const auto len = 1 + rng.below(30);  // some longer than max_len
      song_lengths.push_back(len);
      for (std::uint64_t i = 0; i < len; ++i)
        tokens_.push_back(static_cast<std::uint32_t>(1 + rng.below(500)));
      offsets_.push_back(tokens_.size());
      labels_.push_back(static_cast<std::uint32_t>(rng.below(10)));
    }
    for (int b = 0; b < 11; ++b) ids_.push_back(static_cast<std::uint32_t>(rng.below(40)));
    auto clipped = [&](std::uint32_t id) {
      return std::min<std::uint64_t>(song_lengths[id], static_cast<std::uint64_t>(kMaxLen));
    };
    std::stable_sort(ids_.begin(), ids_.end(),
                     [&](std::uint32_t a, std::uint32_t b) { return clipped(a) > clipped(b); });
    steps_ = static_cast<int>(clipped(ids_.front()));
  }

  std::vector<Output> run(LayerOps<float>& ops) const override {
    auto tokens = put(ops, tokens_), offsets = put(ops, offsets_), labels = put(ops, labels_);
    auto ids = put(ops, ids_);
    const int B = static_cast<int>(ids_.size());
    const auto rows = static_cast<std::size_t>(steps_) * ids_.size();
    auto out_tokens = ops.allocate(rows * sizeof(std::int32_t));
    auto out_lengths = ops.allocate(ids_.size() * sizeof(std::int32_t));
    auto out_labels = ops.allocate(ids_.size() * sizeof(std::int32_t));
    const CorpusView corpus{tokens->as<std::uint32_t>(), offsets->as<std::uint64_t>(),
                            labels->as<std::uint32_t>(), labels_.size()};
    ops.gather_batch(corpus, ids->as<std::uint32_t>(), steps_, B, kMaxLen,
                     out_tokens->as<std::int32_t>(), out_lengths->as<std::int32_t>(),
                     out_labels->as<std::int32_t>());
    return {read_exact<std::int32_t>(ops, "tokens", *out_tokens, rows),
            read_exact<std::int32_t>(ops, "lengths", *out_lengths, ids_.size()),
            read_exact<std::int32_t>(ops, "labels", *out_labels, ids_.size())};
  }

 private:
  static constexpr int kMaxLen = 17;
  std::vector<std::uint32_t> tokens_, labels_, ids_;
  std::vector<std::uint64_t> offsets_;
  int steps_ = 0;
};

TEST(GpuOps, GatherBatch) {
  if (!lyre::cuda::device_available()) GTEST_SKIP() << "no CUDA device";
  expect_backends_agree(GatherCase(1));
  expect_backends_agree(GatherCase(2));
}

TEST(GpuOps, GatherRejectsSongIdOutsideCorpusAtNextSynchronize) {
  if (!lyre::cuda::device_available()) GTEST_SKIP() << "no CUDA device";
  auto gpu = cuda::make_cuda_ops({});
  const std::vector<std::uint32_t> tokens = {5, 6, 7}, labels = {1};
  const std::vector<std::uint64_t> offsets = {0, 3};
  const std::vector<std::uint32_t> ids = {3};  // the corpus has one song
  auto t = put(*gpu, tokens), o = put(*gpu, offsets), l = put(*gpu, labels), i = put(*gpu, ids);
  auto out = gpu->allocate(64);
  gpu->gather_batch(CorpusView{t->as<std::uint32_t>(), o->as<std::uint64_t>(),
                               l->as<std::uint32_t>(), 1},
                    i->as<std::uint32_t>(), 3, 1, 10, out->as<std::int32_t>(),
                    out->as<std::int32_t>() + 4, out->as<std::int32_t>() + 8);
  EXPECT_THROW(gpu->synchronize(), Error);
  EXPECT_NO_THROW(gpu->synchronize());  // reported once, then cleared
}

// ---- embedding ---------------------------------------------------------------------------

class EmbeddingCase final : public OpCase {
 public:
  EmbeddingCase(std::uint64_t seed, int vocab, int dim, std::vector<std::int32_t> lengths)
      : dim_(dim) {
    Rng rng(seed);
    batch_ = random_batch(rng, std::move(lengths), vocab, 3);
    // A few PAD tokens inside songs: their rows must not be touched either.
    batch_.tokens[0] = 0;
    table_ = random_floats(rng, static_cast<std::size_t>(vocab * dim));
    dx_ = random_floats(rng, batch_.rows() * static_cast<std::size_t>(dim));  // garbage at padding
    dtable_ = random_floats(rng, table_.size());                              // backward adds
  }

  std::vector<Output> run(LayerOps<float>& ops) const override {
    ops.reserve(WorkspaceShape{batch_.steps, batch_.batch(), dim_, 0});
    PlacedBatch batch(ops, batch_);
    auto table = put(ops, table_), dx = put(ops, dx_), dtable = put(ops, dtable_);
    const std::size_t x_size = batch_.rows() * static_cast<std::size_t>(dim_);
    auto x = put(ops, std::vector<float>(x_size, 7.0f));  // forward must overwrite padding too
    ops.embedding_forward(batch.inputs(), table->as<float>(), dim_, x->as<float>());
    ops.embedding_backward(batch.inputs(), dx->as<float>(), dim_, dtable->as<float>());
    return {read(ops, "x", *x, x_size), read(ops, "dtable", *dtable, dtable_.size())};
  }

 private:
  int dim_;
  HostBatch batch_;
  std::vector<float> table_, dx_, dtable_;
};

TEST(GpuOps, EmbeddingVectorizedWidth) {
  if (!lyre::cuda::device_available()) GTEST_SKIP() << "no CUDA device";
  expect_backends_agree(EmbeddingCase(3, 13, 8, kMixedLengths));
}

TEST(GpuOps, EmbeddingOddWidth) {
  if (!lyre::cuda::device_available()) GTEST_SKIP() << "no CUDA device";
  expect_backends_agree(EmbeddingCase(4, 13, 7, kMixedLengths));
}

TEST(GpuOps, EmbeddingSingleStepSongs) {
  if (!lyre::cuda::device_available()) GTEST_SKIP() << "no CUDA device";
  expect_backends_agree(EmbeddingCase(5, 6, 5, {1, 1, 1}));
}

TEST(GpuOps, EmbeddingAtomicBackward) {
  if (!lyre::cuda::device_available()) GTEST_SKIP() << "no CUDA device";
  cuda::CudaOptions fast;
  fast.deterministic = false;
  expect_backends_agree(EmbeddingCase(6, 11, 12, kMixedLengths), fast);
}

TEST(GpuOps, EmbeddingDeterministicBackwardIsBitwiseRepeatable) {
  if (!lyre::cuda::device_available()) GTEST_SKIP() << "no CUDA device";
  // Many positions sharing few tokens: any order dependence would show.
  std::vector<std::int32_t> lengths(64, 0);
  for (std::size_t b = 0; b < lengths.size(); ++b)
    lengths[b] = static_cast<std::int32_t>(200 - 3 * b);
  const EmbeddingCase op(7, 5, 33, lengths);
  const auto first = run_on_cuda(op);
  const auto second = run_on_cuda(op);
  ASSERT_EQ(first.size(), second.size());
  for (std::size_t i = 0; i < first.size(); ++i) {
    ASSERT_EQ(first[i].values.size(), second[i].values.size());
    EXPECT_EQ(0, std::memcmp(first[i].values.data(), second[i].values.data(),
                             first[i].values.size() * sizeof(float)))
        << first[i].name;
  }
}

// ---- LSTM -----------------------------------------------------------------------------------

struct LstmConfig {
  int input, hidden, layers;
  bool bidirectional;
  std::vector<std::int32_t> lengths;
  bool input_gradient = true;  // false: dx is null (frozen embedding)
};

class LstmCase final : public OpCase {
 public:
  LstmCase(std::uint64_t seed, LstmConfig config) : config_(std::move(config)) {
    Rng rng(seed);
    batch_ = random_batch(rng, config_.lengths, 5, 2);
    shape_ = LstmShape{config_.input, config_.hidden, config_.layers, config_.bidirectional,
                       batch_.steps + 2, batch_.batch() + 1};
    x_ = sequence_tensor(rng, batch_, config_.input);
    weights_ = random_floats(rng, lstm_param_count(shape_), 0.5);
    // dy is garbage at padding: the backward must ignore it there.
    dy_ = random_floats(rng, batch_.rows() * static_cast<std::size_t>(shape_.output()));
    dweights_ = random_floats(rng, weights_.size(), 0.1);  // backward adds
  }

  std::vector<Output> run(LayerOps<float>& ops) const override {
    PlacedBatch batch(ops, batch_);
    auto lstm = ops.make_lstm(shape_);
    auto x = put(ops, x_), weights = put(ops, weights_), dy = put(ops, dy_);
    auto dweights = put(ops, dweights_);
    const std::size_t y_size = batch_.rows() * static_cast<std::size_t>(shape_.output());
    const std::size_t x_size = x_.size();
    auto y_eval = zeros(ops, y_size), y = zeros(ops, y_size);
    auto dx = put(ops, std::vector<float>(x_size, 7.0f));  // written, padding included
    lstm->forward(batch.inputs(), x->as<float>(), weights->as<float>(), y_eval->as<float>(),
                  false);
    lstm->forward(batch.inputs(), x->as<float>(), weights->as<float>(), y->as<float>(), true);
    lstm->backward(batch.inputs(), x->as<float>(), weights->as<float>(), y->as<float>(),
                   dy->as<float>(), config_.input_gradient ? dx->as<float>() : nullptr,
                   dweights->as<float>());
    std::vector<Output> outputs{read(ops, "y_inference", *y_eval, y_size),
                                read(ops, "y", *y, y_size),
                                read(ops, "dweights", *dweights, dweights_.size())};
    if (config_.input_gradient) outputs.push_back(read(ops, "dx", *dx, x_size));
    return outputs;
  }

 private:
  LstmConfig config_;
  HostBatch batch_;
  LstmShape shape_;
  std::vector<float> x_, weights_, dy_, dweights_;
};

TEST(GpuOps, LstmOneLayer) {
  if (!lyre::cuda::device_available()) GTEST_SKIP() << "no CUDA device";
  expect_backends_agree(LstmCase(8, {7, 5, 1, false, kMixedLengths}));
}

TEST(GpuOps, LstmBidirectional) {
  if (!lyre::cuda::device_available()) GTEST_SKIP() << "no CUDA device";
  expect_backends_agree(LstmCase(9, {6, 8, 1, true, kMixedLengths}));
}

TEST(GpuOps, LstmTwoLayers) {
  if (!lyre::cuda::device_available()) GTEST_SKIP() << "no CUDA device";
  expect_backends_agree(LstmCase(10, {5, 6, 2, false, kMixedLengths}));
}

TEST(GpuOps, LstmTwoLayersBidirectional) {
  if (!lyre::cuda::device_available()) GTEST_SKIP() << "no CUDA device";
  expect_backends_agree(LstmCase(11, {9, 4, 2, true, {5, 5, 3, 1}}));
}

TEST(GpuOps, LstmWithoutInputGradient) {
  if (!lyre::cuda::device_available()) GTEST_SKIP() << "no CUDA device";
  expect_backends_agree(LstmCase(12, {4, 3, 1, true, kMixedLengths, false}));
}

TEST(GpuOps, LstmSingleStepBatch) {
  if (!lyre::cuda::device_available()) GTEST_SKIP() << "no CUDA device";
  expect_backends_agree(LstmCase(13, {3, 4, 1, true, {1, 1}}));
}

TEST(GpuOps, LstmPersistentAlgorithmOnEqualLengths) {
  if (!lyre::cuda::device_available()) GTEST_SKIP() << "no CUDA device";
  cuda::CudaOptions persistent;
  persistent.rnn_algo = RnnAlgo::persistent_static;
  expect_backends_agree(LstmCase(14, {8, 16, 1, false, {6, 6, 6, 6}}), persistent);
  // Mixed lengths take the standard descriptor.
  expect_backends_agree(LstmCase(15, {8, 16, 1, true, kMixedLengths}), persistent);
}

TEST(GpuOps, LstmUsesParameterBufferAsWeightSpace) {
  if (!lyre::cuda::device_available()) GTEST_SKIP() << "no CUDA device";
  auto gpu = cuda::make_cuda_ops({});
  auto lstm = gpu->make_lstm(LstmShape{100, 128, 1, false, 300, 100});
  const auto* cudnn = dynamic_cast<const cuda::CudnnLstm*>(lstm.get());
  ASSERT_NE(cudnn, nullptr);
  // Not a correctness requirement (the copy fallback is correct too), but the
  // canonical layout was chosen to be cuDNN's: a copy here means it drifted.
  EXPECT_TRUE(cudnn->zero_copy());
}

// ---- attention -----------------------------------------------------------------------------

class AttentionCase final : public OpCase {
 public:
  AttentionCase(std::uint64_t seed, int hidden_out, int attention, PoolKind pool,
                std::vector<std::int32_t> lengths)
      : shape_{hidden_out, attention, pool} {
    Rng rng(seed);
    batch_ = random_batch(rng, std::move(lengths), 5, 2);
    const auto A = static_cast<std::size_t>(attention), H = static_cast<std::size_t>(hidden_out);
    y_ = sequence_tensor(rng, batch_, hidden_out);
    w_ = random_floats(rng, A * H);
    b_ = random_floats(rng, A);
    v_ = random_floats(rng, A);
    dpooled_ = random_floats(rng, static_cast<std::size_t>(batch_.batch()) * H);
    dw_ = random_floats(rng, A * H, 0.1);  // parameter gradients are added to
    db_ = random_floats(rng, A, 0.1);
    dv_ = random_floats(rng, A, 0.1);
  }

  std::vector<Output> run(LayerOps<float>& ops) const override {
    ops.reserve(WorkspaceShape{batch_.steps, batch_.batch(), 4, shape_.attention});
    PlacedBatch batch(ops, batch_);
    auto y = put(ops, y_), w = put(ops, w_), b = put(ops, b_), v = put(ops, v_);
    auto dpooled = put(ops, dpooled_), dw = put(ops, dw_), db = put(ops, db_), dv = put(ops, dv_);
    const std::size_t rows = batch_.rows();
    const auto A = static_cast<std::size_t>(shape_.attention);
    const auto H = static_cast<std::size_t>(shape_.hidden_out);
    const auto B = static_cast<std::size_t>(batch_.batch());
    auto u = put(ops, std::vector<float>(rows * A, 7.0f));
    auto alpha = put(ops, std::vector<float>(rows, 7.0f));
    auto pooled = zeros(ops, B * H);
    auto dy = put(ops, std::vector<float>(rows * H, 7.0f));
    ops.attention_forward(batch.inputs(), shape_, y->as<float>(), w->as<float>(),
                          b->as<float>(), v->as<float>(), u->as<float>(), alpha->as<float>(),
                          pooled->as<float>());
    ops.attention_backward(batch.inputs(), shape_, y->as<float>(), w->as<float>(),
                           v->as<float>(), u->as<float>(), alpha->as<float>(),
                           dpooled->as<float>(), dy->as<float>(), dw->as<float>(),
                           db->as<float>(), dv->as<float>());
    return {read(ops, "u", *u, rows * A),         read(ops, "alpha", *alpha, rows),
            read(ops, "pooled", *pooled, B * H),  read(ops, "dy", *dy, rows * H),
            read(ops, "dw", *dw, dw_.size()),     read(ops, "db", *db, A),
            read(ops, "dv", *dv, A)};
  }

 private:
  AttentionShape shape_;
  HostBatch batch_;
  std::vector<float> y_, w_, b_, v_, dpooled_, dw_, db_, dv_;
};

TEST(GpuOps, AttentionMeanPool) {
  if (!lyre::cuda::device_available()) GTEST_SKIP() << "no CUDA device";
  expect_backends_agree(AttentionCase(16, 16, 12, PoolKind::mean, kMixedLengths));
}

TEST(GpuOps, AttentionContextVector) {
  if (!lyre::cuda::device_available()) GTEST_SKIP() << "no CUDA device";
  expect_backends_agree(AttentionCase(17, 16, 12, PoolKind::none, kMixedLengths));
}

TEST(GpuOps, AttentionOddWidths) {
  if (!lyre::cuda::device_available()) GTEST_SKIP() << "no CUDA device";
  expect_backends_agree(AttentionCase(18, 7, 5, PoolKind::mean, {3, 2, 1}));
  expect_backends_agree(AttentionCase(19, 37, 33, PoolKind::none, {40, 39, 1}));
}

// ---- pooling without attention ---------------------------------------------------------------

class PoolCase final : public OpCase {
 public:
  PoolCase(std::uint64_t seed, PoolKind pool, int hidden, bool bidirectional)
      : pool_(pool), hidden_(hidden), bidirectional_(bidirectional) {
    Rng rng(seed);
    batch_ = random_batch(rng, kMixedLengths, 5, 2);
    width_ = hidden * (bidirectional ? 2 : 1);
    y_ = sequence_tensor(rng, batch_, width_);
    dpooled_ = random_floats(rng, static_cast<std::size_t>(batch_.batch() * width_));
  }

  std::vector<Output> run(LayerOps<float>& ops) const override {
    PlacedBatch batch(ops, batch_);
    auto y = put(ops, y_), dpooled = put(ops, dpooled_);
    const std::size_t y_size = y_.size(), pooled_size = dpooled_.size();
    auto pooled = zeros(ops, pooled_size);
    auto dy = put(ops, std::vector<float>(y_size, 7.0f));
    ops.pool_forward(batch.inputs(), pool_, hidden_, bidirectional_, y->as<float>(),
                     pooled->as<float>());
    ops.pool_backward(batch.inputs(), pool_, hidden_, bidirectional_, dpooled->as<float>(),
                      dy->as<float>());
    return {read(ops, "pooled", *pooled, pooled_size), read(ops, "dy", *dy, y_size)};
  }

 private:
  PoolKind pool_;
  int hidden_, width_ = 0;
  bool bidirectional_;
  HostBatch batch_;
  std::vector<float> y_, dpooled_;
};

TEST(GpuOps, PoolMean) {
  if (!lyre::cuda::device_available()) GTEST_SKIP() << "no CUDA device";
  expect_backends_agree(PoolCase(20, PoolKind::mean, 9, false));
  expect_backends_agree(PoolCase(21, PoolKind::mean, 9, true));
}

TEST(GpuOps, PoolFinalStates) {
  if (!lyre::cuda::device_available()) GTEST_SKIP() << "no CUDA device";
  expect_backends_agree(PoolCase(22, PoolKind::none, 9, false));
  expect_backends_agree(PoolCase(23, PoolKind::none, 9, true));
}

// ---- dropout ----------------------------------------------------------------------------------

class DropoutCase final : public OpCase {
 public:
  DropoutCase(std::uint64_t seed, std::size_t n, float p, std::uint64_t offset)
      : n_(n), p_(p), seed_(seed), offset_(offset) {
    Rng rng(seed);
    in_ = random_floats(rng, n);
    dout_ = random_floats(rng, n);
  }

  std::vector<Output> run(LayerOps<float>& ops) const override {
    auto in = put(ops, in_), dout = put(ops, dout_);
    auto out = zeros(ops, n_), din = zeros(ops, n_);
    ops.dropout_forward(n_, p_, seed_, offset_, in->as<float>(), out->as<float>());
    ops.dropout_backward(n_, p_, seed_, offset_, dout->as<float>(), din->as<float>());
    // Same mask, same float product: identical bits on both backends.
    auto out_values = read(ops, "out", *out, n_);
    auto din_values = read(ops, "din", *din, n_);
    out_values.exact = din_values.exact = true;
    return {out_values, din_values};
  }

 private:
  std::size_t n_;
  float p_;
  std::uint64_t seed_, offset_;
  std::vector<float> in_, dout_;
};

TEST(GpuOps, DropoutMatchesTheCpuMaskExactly) {
  if (!lyre::cuda::device_available()) GTEST_SKIP() << "no CUDA device";
  expect_backends_agree(DropoutCase(24, 1001, 0.2f, 13));
  expect_backends_agree(DropoutCase(25, 7, 0.5f, (std::uint64_t{1} << 33) + 3));
}

// ---- linear ------------------------------------------------------------------------------------

class LinearCase final : public OpCase {
 public:
  LinearCase(std::uint64_t seed, int batch, int in, int out, bool input_gradient)
      : batch_(batch), in_(in), out_(out), input_gradient_(input_gradient) {
    Rng rng(seed);
    const auto B = static_cast<std::size_t>(batch), K = static_cast<std::size_t>(in),
               C = static_cast<std::size_t>(out);
    x_ = random_floats(rng, B * K);
    w_ = random_floats(rng, C * K);
    b_ = random_floats(rng, C);
    dout_ = random_floats(rng, B * C);
    dw_ = random_floats(rng, C * K, 0.1);
    db_ = random_floats(rng, C, 0.1);
  }

  std::vector<Output> run(LayerOps<float>& ops) const override {
    ops.reserve(WorkspaceShape{1, batch_, 1, 0});
    auto x = put(ops, x_), w = put(ops, w_), b = put(ops, b_), dout = put(ops, dout_);
    auto dw = put(ops, dw_), db = put(ops, db_);
    auto y = zeros(ops, dout_.size());
    auto dx = put(ops, std::vector<float>(x_.size(), 7.0f));
    ops.linear_forward(batch_, in_, out_, x->as<float>(), w->as<float>(), b->as<float>(),
                       y->as<float>());
    ops.linear_backward(batch_, in_, out_, x->as<float>(), w->as<float>(), dout->as<float>(),
                        input_gradient_ ? dx->as<float>() : nullptr, dw->as<float>(),
                        db->as<float>());
    std::vector<Output> outputs{read(ops, "out", *y, dout_.size()),
                                read(ops, "dw", *dw, dw_.size()), read(ops, "db", *db, b_.size())};
    if (input_gradient_) outputs.push_back(read(ops, "din", *dx, x_.size()));
    return outputs;
  }

 private:
  int batch_, in_, out_;
  bool input_gradient_;
  std::vector<float> x_, w_, b_, dout_, dw_, db_;
};

TEST(GpuOps, Linear) {
  if (!lyre::cuda::device_available()) GTEST_SKIP() << "no CUDA device";
  expect_backends_agree(LinearCase(26, 5, 7, 3, true));
  expect_backends_agree(LinearCase(27, 1, 1, 1, false));
  expect_backends_agree(LinearCase(28, 100, 128, 10, true));
}

TEST(GpuOps, LinearReducedPrecisionStaysClose) {
  if (!lyre::cuda::device_available()) GTEST_SKIP() << "no CUDA device";
  cuda::CudaOptions tf32, bf16;
  tf32.precision = Precision::tf32;
  bf16.precision = Precision::bf16;
  // TF32 keeps 10 mantissa bits, bf16 7: errors near 1e-3 and 1e-2.
  expect_backends_agree(LinearCase(29, 100, 128, 10, true), tf32, 5e-3);
  expect_backends_agree(LinearCase(29, 100, 128, 10, true), bf16, 3e-2);
}

// ---- softmax cross-entropy ------------------------------------------------------------------

class SoftmaxCase final : public OpCase {
 public:
  // weighted: class weights and a denominator of a larger whole batch.
  SoftmaxCase(std::uint64_t seed, int batch, int classes, bool with_gradient,
              bool weighted = false)
      : batch_(batch), classes_(classes), with_gradient_(with_gradient) {
    Rng rng(seed);
    logits_ = random_floats(rng, static_cast<std::size_t>(batch * classes), 3.0);
    // A row of equal logits: the prediction must go to class 0 on both.
    std::fill_n(logits_.begin(), classes, 0.25f);
    for (int b = 0; b < batch; ++b)
      labels_.push_back(static_cast<std::int32_t>(rng.below(static_cast<std::uint64_t>(classes))));
    counters_.assign(metric_slots(classes), 0.0);
    counters_[kSongs] = 5;  // counters accumulate
    counters_[kLossSum] = 1.5;
    if (weighted) {
      for (int c = 0; c < classes; ++c) class_weights_.push_back(0.5f + 0.25f * static_cast<float>(c));
      denominator_ = 3.0 * batch;
    }
  }

  std::vector<Output> run(LayerOps<float>& ops) const override {
    auto logits = put(ops, logits_), labels = put(ops, labels_), counters = put(ops, counters_);
    const std::size_t size = logits_.size();
    auto probs = zeros(ops, size), dlogits = zeros(ops, size);
    auto weights = class_weights_.empty() ? nullptr : put(ops, class_weights_);
    const LossWeights loss_weights{weights ? weights->as<float>() : nullptr, denominator_};
    for (int repeat = 0; repeat < 2; ++repeat)
      ops.softmax_xent(batch_, classes_, logits->as<float>(), labels->as<std::int32_t>(),
                       loss_weights, probs->as<float>(), with_gradient_ ? dlogits->as<float>() : nullptr,
                       counters->as<double>());
    const auto sums = get<double>(ops, *counters, counters_.size());
    Output loss{"loss_sum", {static_cast<float>(sums[kLossSum])}};
    Output counts{"counts", {}, true};
    for (std::size_t i = kSongs; i < sums.size(); ++i)
      counts.values.push_back(static_cast<float>(sums[i]));
    std::vector<Output> outputs{read(ops, "probs", *probs, size), loss, counts};
    if (with_gradient_) outputs.push_back(read(ops, "dlogits", *dlogits, size));
    return outputs;
  }

 private:
  int batch_, classes_;
  bool with_gradient_;
  std::vector<float> logits_;
  std::vector<std::int32_t> labels_;
  std::vector<double> counters_;
  std::vector<float> class_weights_;
  double denominator_ = 0;
};

TEST(GpuOps, SoftmaxCrossEntropy) {
  if (!lyre::cuda::device_available()) GTEST_SKIP() << "no CUDA device";
  expect_backends_agree(SoftmaxCase(30, 9, 4, true));
  expect_backends_agree(SoftmaxCase(31, 300, 10, true));  // more songs than threads
  expect_backends_agree(SoftmaxCase(32, 3, 2, false));
  expect_backends_agree(SoftmaxCase(33, 50, 10, true, /*weighted=*/true));
}

class AccumulateCase final : public OpCase {
 public:
  explicit AccumulateCase(std::uint64_t seed, std::size_t n) {
    Rng rng(seed);
    src_ = random_floats(rng, n, 1.0);
    dst_ = random_floats(rng, n, 1.0);
  }
  std::vector<Output> run(LayerOps<float>& ops) const override {
    auto src = put(ops, src_), dst = put(ops, dst_);
    ops.accumulate(src_.size(), src->as<float>(), dst->as<float>());
    return {read_exact<float>(ops, "dst", *dst, dst_.size())};  // one rounding, as on the CPU
  }

 private:
  std::vector<float> src_, dst_;
};

// Micro-batch gradients are summed with it: the GPU must add exactly as the CPU.
TEST(GpuOps, AccumulateIsExact) {
  if (!lyre::cuda::device_available()) GTEST_SKIP() << "no CUDA device";
  expect_backends_agree(AccumulateCase(34, 1));
  expect_backends_agree(AccumulateCase(35, 1'000'003));
}

TEST(GpuOps, SoftmaxRejectsLabelOutsideClasses) {
  if (!lyre::cuda::device_available()) GTEST_SKIP() << "no CUDA device";
  auto gpu = cuda::make_cuda_ops({});
  auto logits = put(*gpu, std::vector<float>{1, 2, 3});
  auto labels = put(*gpu, std::vector<std::int32_t>{3});
  auto counters = gpu->allocate(metric_slots(3) * sizeof(double));
  gpu->fill_zero(counters->data(), counters->bytes());
  auto probs = zeros(*gpu, 3);
  gpu->softmax_xent(1, 3, logits->as<float>(), labels->as<std::int32_t>(), {},
                    probs->as<float>(), nullptr, counters->as<double>());
  EXPECT_THROW(gpu->synchronize(), Error);
}

// ---- Adam ---------------------------------------------------------------------------------------

class AdamCase final : public OpCase {
 public:
  AdamCase(std::uint64_t seed, std::size_t n, std::size_t misalign, AdamStep step)
      : n_(n), misalign_(misalign), step_(step) {
    Rng rng(seed);
    params_ = random_floats(rng, n + misalign);
    grads_ = random_floats(rng, n + misalign, 0.5);
    m_ = random_floats(rng, n + misalign, 0.1);
    v_ = random_floats(rng, n + misalign, 0.1);
    for (auto& x : v_) x = std::abs(x);
  }

  std::vector<Output> run(LayerOps<float>& ops) const override {
    auto params = put(ops, params_), grads = put(ops, grads_), m = put(ops, m_), v = put(ops, v_);
    for (int repeat = 0; repeat < 2; ++repeat) {
      AdamStep step = step_;
      step.step += repeat;
      ops.adam(step, n_, params->as<float>() + misalign_, grads->as<float>() + misalign_,
               m->as<float>() + misalign_, v->as<float>() + misalign_);
    }
    const std::size_t size = params_.size();
    return {read(ops, "params", *params, size), read(ops, "grads", *grads, size),
            read(ops, "m", *m, size), read(ops, "v", *v, size)};
  }

 private:
  std::size_t n_, misalign_;
  AdamStep step_;
  std::vector<float> params_, grads_, m_, v_;
};

TEST(GpuOps, AdamVectorizedAndTail) {
  if (!lyre::cuda::device_available()) GTEST_SKIP() << "no CUDA device";
  AdamStep step;
  step.step = 1;
  expect_backends_agree(AdamCase(33, 1003, 0, step));
  step.step = 7;
  step.weight_decay = 0.01;
  expect_backends_agree(AdamCase(34, 4096, 0, step));
}

TEST(GpuOps, AdamUnalignedBuffers) {
  if (!lyre::cuda::device_available()) GTEST_SKIP() << "no CUDA device";
  AdamStep step;
  step.step = 3;
  expect_backends_agree(AdamCase(35, 517, 1, step));
}

TEST(GpuOps, AdamWithGlobalNormClipping) {
  if (!lyre::cuda::device_available()) GTEST_SKIP() << "no CUDA device";
  AdamStep step;
  step.step = 2;
  step.clip_norm = 0.5;  // well below the gradient norm: clips
  expect_backends_agree(AdamCase(36, 200003, 0, step));
  step.clip_norm = 1e6;  // above it: leaves the gradient alone
  expect_backends_agree(AdamCase(37, 1001, 0, step));
}

// ---- construction ---------------------------------------------------------------------------------

TEST(GpuOps, UnknownDeviceIsAnInputError) {
  if (!lyre::cuda::device_available()) GTEST_SKIP() << "no CUDA device";
  cuda::CudaOptions options;
  options.device = cuda::device_count();
  EXPECT_THROW(cuda::make_cuda_ops(options), InputError);
}

}  // namespace
}  // namespace lyre
