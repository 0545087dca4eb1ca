// The CPU backend's layer ops on small cases whose answers are worked out by
// hand (or by a plain formula written out here), plus the properties the
// engine relies on: padding never matters, the PAD row never changes, a
// batch equals its songs run one by one, dropout masks are Philox's, and
// float agrees with double.
#include <gtest/gtest.h>

#include <cmath>
#include <numeric>
#include <vector>

#include "engine/backend/cpu/activations.hpp"
#include "engine/backend/cpu/cpu_ops.hpp"
#include "engine/core/error.hpp"
#include "engine/core/philox.hpp"
#include "engine/core/rng.hpp"
#include "engine/model/network.hpp"
#include "tests/support/host_batch.hpp"

namespace lyre {
namespace {

using Vec = std::vector<double>;

double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

Vec random_vec(Rng& rng, std::size_t n, double scale = 1.0) {
  Vec v(n);
  for (auto& x : v) x = rng.uniform(-scale, scale);
  return v;
}

// A batch in host memory (the CPU backend's memory).
using test::HostBatch;

HostBatch make_batch(Rng& rng, std::vector<std::int32_t> lengths, int vocab, int classes = 3) {
  return test::random_batch(rng, std::move(lengths), vocab, classes);
}

// Overwrites every padded row (width `width`) of a [T, B, width] tensor with junk.
void scramble_padding(const HostBatch& batch, Vec& tensor, std::size_t width, Rng& rng) {
  for (std::size_t r = 0; r < batch.rows(); ++r)
    if (batch.padded(r))
      for (std::size_t k = 0; k < width; ++k) tensor[r * width + k] = rng.uniform(-50, 50);
}

double relative_error(const Vec& got, const Vec& want) {
  double diff = 0, norm = 0;
  for (std::size_t i = 0; i < want.size(); ++i) {
    diff += (got[i] - want[i]) * (got[i] - want[i]);
    norm += want[i] * want[i];
  }
  return std::sqrt(diff / norm);
}

// ---- activations --------------------------------------------------------------------

TEST(Activations, FloatVersionsTrackDoubleWithinAFewUlps) {
  double worst_sigmoid = 0, worst_tanh = 0;
  for (double x = -40; x <= 40; x += 0.000731) {
    const auto xf = static_cast<float>(x);
    const double s = sigmoid(xf), t = std::tanh(static_cast<double>(xf));
    worst_sigmoid = std::max(worst_sigmoid, std::abs(cpu::sigmoid(xf) - s) / s);
    if (t != 0) worst_tanh = std::max(worst_tanh, std::abs(cpu::tanh_act(xf) - t) / std::abs(t));
  }
  for (double x = -1e-3; x <= 1e-3; x += 1.7e-7) {  // tanh's small-argument branch
    const auto xf = static_cast<float>(x);
    const double t = std::tanh(static_cast<double>(xf));
    if (t != 0) worst_tanh = std::max(worst_tanh, std::abs(cpu::tanh_act(xf) - t) / std::abs(t));
  }
  constexpr double kUlp = 5.96e-8;
  EXPECT_LT(worst_sigmoid, 4 * kUlp);
  EXPECT_LT(worst_tanh, 4 * kUlp);
  EXPECT_EQ(cpu::tanh_act(100.0f), 1.0f);
  EXPECT_EQ(cpu::tanh_act(-100.0f), -1.0f);
  EXPECT_EQ(cpu::sigmoid(200.0f), 1.0f);
  EXPECT_LT(cpu::sigmoid(-200.0f), 1e-37f);
  EXPECT_GE(cpu::sigmoid(-200.0f), 0.0f);
}

// ---- batch assembly -----------------------------------------------------------------

TEST(GatherBatch, TruncatesToMaxLenAndFillsPad) {
  // Songs: 0 = [5 tokens], 1 = [2 tokens], 2 = [8 tokens].
  const std::vector<std::uint32_t> tokens = {11, 12, 13, 14, 15, 21, 22, 31, 32, 33, 34, 35, 36, 37, 38};
  const std::vector<std::uint64_t> offsets = {0, 5, 7, 15};
  const std::vector<std::uint32_t> labels = {4, 1, 7};
  const CorpusView corpus{tokens.data(), offsets.data(), labels.data(), 3};
  const std::vector<std::uint32_t> songs = {2, 0, 1};
  CpuOps<float> ops;
  std::vector<std::int32_t> out_tokens(4 * 3, -1), out_lengths(3), out_labels(3);
  ops.gather_batch(corpus, songs.data(), 4, 3, 4, out_tokens.data(), out_lengths.data(),
                   out_labels.data());
  EXPECT_EQ(out_lengths, (std::vector<std::int32_t>{4, 4, 2}));
  EXPECT_EQ(out_labels, (std::vector<std::int32_t>{7, 4, 1}));
  // [T, B]: row t holds token t of songs 2, 0, 1.
  EXPECT_EQ(out_tokens, (std::vector<std::int32_t>{31, 11, 21,  //
                                                   32, 12, 22,  //
                                                   33, 13, 0,   //
                                                   34, 14, 0}));
}

TEST(GatherBatch, RefusesASongLongerThanTheBatch) {
  const std::vector<std::uint32_t> tokens = {1, 2, 3};
  const std::vector<std::uint64_t> offsets = {0, 3};
  const std::vector<std::uint32_t> labels = {0};
  const CorpusView corpus{tokens.data(), offsets.data(), labels.data(), 1};
  const std::uint32_t song = 0;
  CpuOps<float> ops;
  std::vector<std::int32_t> t(3), l(1), y(1);
  EXPECT_THROW(ops.gather_batch(corpus, &song, 2, 1, 10, t.data(), l.data(), y.data()), Error);
  const std::uint32_t missing = 1;
  EXPECT_THROW(ops.gather_batch(corpus, &missing, 3, 1, 10, t.data(), l.data(), y.data()), Error);
}

// ---- embedding ----------------------------------------------------------------------

TEST(Embedding, LooksUpRowsAndZeroesPadding) {
  HostBatch batch;
  batch.steps = 2;
  batch.lengths = {2, 1};
  batch.tokens = {3, 1,   // t = 0
                  2, 3};  // t = 1: song 1 is padding here (token 3 must be ignored)
  const Vec table = {0, 0, 1, 2, 3, 4, 5, 6};  // V = 4, D = 2
  CpuOps<double> ops;
  Vec x(8, -1.0);
  ops.embedding_forward(batch.view(), table.data(), 2, x.data());
  EXPECT_EQ(x, (Vec{5, 6, 1, 2, 3, 4, 0, 0}));
}

TEST(Embedding, BackwardAccumulatesAndNeverTouchesPadRow) {
  HostBatch batch;
  batch.steps = 2;
  batch.lengths = {2, 1};
  batch.tokens = {3, 3,   // both songs use token 3 at t = 0
                  0, 1};  // a PAD id inside song 0, and token 1 at song 1's padding
  const Vec dx = {1, 2, 10, 20, 100, 200, 1000, 2000};
  Vec dtable(8, 0.5);
  CpuOps<double> ops;
  ops.embedding_backward(batch.view(), dx.data(), 2, dtable.data());
  EXPECT_EQ(dtable, (Vec{0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 11.5, 22.5}));
}

// ---- LSTM ---------------------------------------------------------------------------

TEST(Lstm, OneUnitMatchesTheEquations) {
  // In = 1, H = 1: weights w_ih [4,1], w_hh [4,1], b_ih [4], b_hh [4] (gates i, f, g, o).
  const Vec w = {0.5, -0.3, 0.8, 0.2,     // w_ih
                 0.1, 0.4, -0.6, 0.3,     // w_hh
                 0.05, 0.1, -0.1, 0.2,    // b_ih
                 0.01, -0.02, 0.03, 0.0}; // b_hh
  HostBatch batch;
  batch.steps = 2;
  batch.lengths = {2};
  batch.tokens = {1, 1};
  const Vec x = {1.5, -0.7};
  CpuOps<double> ops;
  auto lstm = ops.make_lstm(LstmShape{1, 1, 1, false, 2, 1});
  Vec y(2);
  lstm->forward(batch.view(), x.data(), w.data(), y.data(), false);

  double h = 0, c = 0;
  for (int t = 0; t < 2; ++t) {
    const auto gate = [&](int k) { return w[k] * x[t] + w[4 + k] * h + w[8 + k] + w[12 + k]; };
    const double i = sigmoid(gate(0)), f = sigmoid(gate(1)), g = std::tanh(gate(2)),
                 o = sigmoid(gate(3));
    c = f * c + i * g;
    h = o * std::tanh(c);
    EXPECT_NEAR(y[t], h, 1e-15) << "t = " << t;
  }
}

// Runs the LSTM forward and backward over a batch.
struct LstmRun {
  Vec y, dx, dweights;
};

LstmRun run_lstm(const LstmShape& shape, const HostBatch& batch, const Vec& x, const Vec& w,
                 const Vec& dy) {
  CpuOps<double> ops;
  auto lstm = ops.make_lstm(shape);
  LstmRun r;
  r.y.assign(batch.rows() * static_cast<std::size_t>(shape.output()), -9.0);
  r.dx.assign(batch.rows() * static_cast<std::size_t>(shape.input), -9.0);
  r.dweights.assign(w.size(), 0.0);
  lstm->forward(batch.view(), x.data(), w.data(), r.y.data(), true);
  lstm->backward(batch.view(), x.data(), w.data(), r.y.data(), dy.data(), r.dx.data(),
                 r.dweights.data());
  return r;
}

TEST(Lstm, BatchEqualsItsSongsRunAlone) {
  Rng rng(3);
  const LstmShape shape{3, 4, 2, true, 6, 5};
  const HostBatch batch = make_batch(rng, {6, 4, 4, 2, 1}, 5);
  const auto In = static_cast<std::size_t>(shape.input), Hout = static_cast<std::size_t>(shape.output());
  const auto B = static_cast<std::size_t>(batch.batch());
  const Vec w = random_vec(rng, lstm_param_count(shape), 0.7);
  const Vec x = random_vec(rng, batch.rows() * In), dy = random_vec(rng, batch.rows() * Hout);
  const LstmRun all = run_lstm(shape, batch, x, w, dy);

  Vec summed_dweights(w.size(), 0.0);
  for (std::size_t b = 0; b < B; ++b) {
    HostBatch one;
    one.steps = batch.lengths[b];
    one.lengths = {batch.lengths[b]};
    one.tokens.assign(static_cast<std::size_t>(one.steps), 1);
    Vec x1, dy1;
    for (int t = 0; t < one.steps; ++t) {
      const std::size_t row = static_cast<std::size_t>(t) * B + b;
      x1.insert(x1.end(), x.begin() + static_cast<std::ptrdiff_t>(row * In),
                x.begin() + static_cast<std::ptrdiff_t>((row + 1) * In));
      dy1.insert(dy1.end(), dy.begin() + static_cast<std::ptrdiff_t>(row * Hout),
                 dy.begin() + static_cast<std::ptrdiff_t>((row + 1) * Hout));
    }
    const LstmRun alone = run_lstm(shape, one, x1, w, dy1);
    for (int t = 0; t < one.steps; ++t) {
      const std::size_t row = static_cast<std::size_t>(t) * B + b;
      for (std::size_t k = 0; k < Hout; ++k)
        EXPECT_NEAR(all.y[row * Hout + k], alone.y[static_cast<std::size_t>(t) * Hout + k], 1e-13);
      for (std::size_t k = 0; k < In; ++k)
        EXPECT_NEAR(all.dx[row * In + k], alone.dx[static_cast<std::size_t>(t) * In + k], 1e-13);
    }
    for (std::size_t i = 0; i < w.size(); ++i) summed_dweights[i] += alone.dweights[i];
  }
  for (std::size_t i = 0; i < w.size(); ++i)
    EXPECT_NEAR(all.dweights[i], summed_dweights[i], 1e-12) << "weight " << i;
}

TEST(Lstm, PaddingChangesNoOutputAndNoGradient) {
  Rng rng(4);
  const LstmShape shape{3, 5, 2, true, 7, 4};
  const HostBatch batch = make_batch(rng, {7, 5, 3, 1}, 5);
  const auto In = static_cast<std::size_t>(shape.input), Hout = static_cast<std::size_t>(shape.output());
  const Vec w = random_vec(rng, lstm_param_count(shape), 0.7);
  Vec x = random_vec(rng, batch.rows() * In), dy = random_vec(rng, batch.rows() * Hout);
  const LstmRun clean = run_lstm(shape, batch, x, w, dy);
  scramble_padding(batch, x, In, rng);
  scramble_padding(batch, dy, Hout, rng);
  const LstmRun scrambled = run_lstm(shape, batch, x, w, dy);
  EXPECT_EQ(clean.y, scrambled.y);
  EXPECT_EQ(clean.dx, scrambled.dx);
  EXPECT_EQ(clean.dweights, scrambled.dweights);
  for (std::size_t r = 0; r < batch.rows(); ++r) {
    if (!batch.padded(r)) continue;
    for (std::size_t k = 0; k < Hout; ++k) ASSERT_EQ(clean.y[r * Hout + k], 0.0) << "row " << r;
    for (std::size_t k = 0; k < In; ++k) ASSERT_EQ(clean.dx[r * In + k], 0.0) << "row " << r;
  }
}

TEST(Lstm, RefusesBackwardWithoutTrainingForwardAndUnsortedBatches) {
  Rng rng(5);
  const LstmShape shape{2, 3, 1, false, 4, 3};
  CpuOps<double> ops;
  auto lstm = ops.make_lstm(shape);
  HostBatch batch = make_batch(rng, {4, 2, 1}, 5);
  const Vec w = random_vec(rng, lstm_param_count(shape));
  Vec x(batch.rows() * 2, 0.1), y(batch.rows() * 3), dx(x.size());
  lstm->forward(batch.view(), x.data(), w.data(), y.data(), false);
  EXPECT_THROW(lstm->backward(batch.view(), x.data(), w.data(), y.data(), y.data(), dx.data(),
                              Vec(w.size()).data()),
               Error);
  batch.lengths = {2, 4, 1};
  EXPECT_THROW(lstm->forward(batch.view(), x.data(), w.data(), y.data(), true), Error);
}

// ---- attention and pooling ------------------------------------------------------------

TEST(Attention, TwoStepsByHand) {
  // T = 2, B = 1, Hout = 2, A = 1: u_t = tanh(w . y_t + b), s_t = v u_t.
  HostBatch batch;
  batch.steps = 2;
  batch.lengths = {2};
  batch.tokens = {1, 1};
  const Vec y = {1.0, 2.0, -1.0, 0.5}, w = {0.3, -0.2}, b = {0.1}, v = {2.0};
  const double u0 = std::tanh(0.3 - 0.4 + 0.1), u1 = std::tanh(-0.3 - 0.1 + 0.1);
  const double e0 = std::exp(2.0 * u0), e1 = std::exp(2.0 * u1);
  const double a0 = e0 / (e0 + e1), a1 = e1 / (e0 + e1);
  for (const PoolKind pool : {PoolKind::mean, PoolKind::none}) {
    const double scale = pool == PoolKind::mean ? 0.5 : 1.0;
    CpuOps<double> ops;
    Vec u(2), alpha(2), pooled(2);
    ops.attention_forward(batch.view(), AttentionShape{2, 1, pool}, y.data(), w.data(), b.data(),
                          v.data(), u.data(), alpha.data(), pooled.data());
    EXPECT_NEAR(u[0], u0, 1e-15);
    EXPECT_NEAR(u[1], u1, 1e-15);
    EXPECT_NEAR(alpha[0], a0, 1e-15);
    EXPECT_NEAR(alpha[1], a1, 1e-15);
    EXPECT_NEAR(pooled[0], scale * (a0 * 1.0 + a1 * -1.0), 1e-15);
    EXPECT_NEAR(pooled[1], scale * (a0 * 2.0 + a1 * 0.5), 1e-15);
  }
}

TEST(Attention, SoftmaxIsStableForHugeScores) {
  HostBatch batch;
  batch.steps = 3;
  batch.lengths = {3};
  batch.tokens = {1, 1, 1};
  const Vec y = {1.0, 2.0, 3.0}, w = {1.0}, b = {0.0}, v = {5000.0};
  CpuOps<double> ops;
  Vec u(3), alpha(3), pooled(1);
  ops.attention_forward(batch.view(), AttentionShape{1, 1, PoolKind::none}, y.data(), w.data(),
                        b.data(), v.data(), u.data(), alpha.data(), pooled.data());
  for (double a : alpha) EXPECT_TRUE(std::isfinite(a));
  EXPECT_NEAR(alpha[0] + alpha[1] + alpha[2], 1.0, 1e-15);
  EXPECT_GT(alpha[2], alpha[1]);
}

TEST(Attention, PaddingChangesNoOutputAndNoGradient) {
  Rng rng(6);
  const HostBatch batch = make_batch(rng, {6, 4, 1}, 5);
  const AttentionShape shape{5, 3, PoolKind::mean};
  const auto rows = batch.rows(), Hout = std::size_t{5}, A = std::size_t{3};
  Vec y = random_vec(rng, rows * Hout);
  const Vec w = random_vec(rng, A * Hout), b = random_vec(rng, A), v = random_vec(rng, A);
  const Vec dpooled = random_vec(rng, 3 * Hout);
  auto run = [&](const Vec& y_in) {
    CpuOps<double> ops;
    Vec u(rows * A), alpha(rows), pooled(3 * Hout), dy(rows * Hout, -9.0), dw(A * Hout, 0.0),
        db(A, 0.0), dv(A, 0.0);
    ops.attention_forward(batch.view(), shape, y_in.data(), w.data(), b.data(), v.data(),
                          u.data(), alpha.data(), pooled.data());
    ops.attention_backward(batch.view(), shape, y_in.data(), w.data(), v.data(), u.data(),
                           alpha.data(), dpooled.data(), dy.data(), dw.data(), db.data(),
                           dv.data());
    return std::vector<Vec>{u, alpha, pooled, dy, dw, db, dv};
  };
  const auto clean = run(y);
  scramble_padding(batch, y, Hout, rng);
  const auto scrambled = run(y);
  for (std::size_t i = 0; i < clean.size(); ++i) EXPECT_EQ(clean[i], scrambled[i]) << "output " << i;
  for (std::size_t r = 0; r < rows; ++r) {
    if (!batch.padded(r)) continue;
    EXPECT_EQ(clean[1][r], 0.0) << "alpha at padded row " << r;
    for (std::size_t k = 0; k < Hout; ++k) EXPECT_EQ(clean[3][r * Hout + k], 0.0);
  }
}

TEST(Pool, MeanAndFinalStatesByHand) {
  // T = 3, B = 2 (lengths 3, 2), H = 1, bidirectional: y [T, B, 2].
  HostBatch batch;
  batch.steps = 3;
  batch.lengths = {3, 2};
  batch.tokens = {1, 1, 1, 1, 1, 0};
  const Vec y = {1, 10, 2, 20,     // t = 0
                 3, 30, 4, 40,     // t = 1
                 5, 50, 99, 99};   // t = 2 (song 1 padded: junk)
  CpuOps<double> ops;
  Vec pooled(4);
  ops.pool_forward(batch.view(), PoolKind::mean, 1, true, y.data(), pooled.data());
  EXPECT_EQ(pooled, (Vec{3, 30, 3, 30}));
  ops.pool_forward(batch.view(), PoolKind::none, 1, true, y.data(), pooled.data());
  EXPECT_EQ(pooled, (Vec{5, 10, 4, 20}));  // forward half at len-1, backward half at 0

  const Vec dpooled = {1, 2, 3, 4};
  Vec dy(12, -9.0);
  ops.pool_backward(batch.view(), PoolKind::none, 1, true, dpooled.data(), dy.data());
  EXPECT_EQ(dy, (Vec{0, 2, 0, 4, 0, 0, 3, 0, 1, 0, 0, 0}));
  ops.pool_backward(batch.view(), PoolKind::mean, 1, false, dpooled.data(), dy.data());
  const double third = 1.0 / 3.0;
  EXPECT_EQ(std::vector<double>(dy.begin(), dy.begin() + 6), (Vec{third, 1, third, 1, third, 0}));
}

// ---- dropout, linear, loss ------------------------------------------------------------

TEST(Dropout, MaskIsPhiloxAndBackwardRegeneratesIt) {
  constexpr std::size_t n = 4000;
  constexpr float p = 0.25f;
  constexpr std::uint64_t seed = 42, offset = 12345;
  Vec in(n), out(n), dout(n, 1.0), din(n);
  std::iota(in.begin(), in.end(), 1.0);
  CpuOps<double> ops;
  ops.dropout_forward(n, p, seed, offset, in.data(), out.data());
  ops.dropout_backward(n, p, seed, offset, dout.data(), din.data());
  std::size_t dropped = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const bool keep = dropout_keep(seed, offset + i, p);
    ASSERT_DOUBLE_EQ(out[i], keep ? in[i] / 0.75 : 0.0) << i;
    ASSERT_DOUBLE_EQ(din[i], keep ? 1.0 / 0.75 : 0.0) << i;
    dropped += keep ? 0 : 1;
  }
  EXPECT_NEAR(static_cast<double>(dropped) / n, p, 0.03);
}

TEST(Linear, ByHand) {
  const Vec in = {1, 2, 3, 4}, w = {1, 0, 2, -1, 0.5, 1}, b = {0.5, -1, 2};  // B = 2, K = 2, C = 3
  CpuOps<double> ops;
  Vec out(6);
  ops.linear_forward(2, 2, 3, in.data(), w.data(), b.data(), out.data());
  EXPECT_EQ(out, (Vec{1.5, -1, 4.5, 3.5, 1, 7.5}));
  const Vec dout = {1, 0, 1, 0, 2, 0};
  Vec din(4, -9.0), dw(6, 1.0), db(3, 1.0);
  ops.linear_backward(2, 2, 3, in.data(), w.data(), dout.data(), din.data(), dw.data(), db.data());
  EXPECT_EQ(din, (Vec{1.5, 1, 4, -2}));
  EXPECT_EQ(dw, (Vec{2, 3, 7, 9, 2, 3}));  // 1 + dout^T in
  EXPECT_EQ(db, (Vec{2, 3, 2}));
}

TEST(SoftmaxXent, LossGradientAndCountersByHand) {
  // Song 0: confident and right. Song 1: a tie between classes 0 and 1
  // (argmax takes 0), label 1, no probability above 0.5. Song 2: confident
  // in class 1, label 2.
  const Vec logits = {2, 0, 0, 1, 1, 0, 0, 3, 0};
  const std::vector<std::int32_t> labels = {0, 1, 2};
  CpuOps<double> ops;
  Vec probs(9), dlogits(9), counters(metric_slots(3), 0.0);
  ops.softmax_xent(3, 3, logits.data(), labels.data(), {}, probs.data(), dlogits.data(),
                   counters.data());
  const double e = std::exp(1.0);
  const Vec expected_probs = {e * e / (e * e + 2), 1 / (e * e + 2), 1 / (e * e + 2),
                              e / (2 * e + 1),     e / (2 * e + 1), 1 / (2 * e + 1),
                              1 / (e * e * e + 2), e * e * e / (e * e * e + 2), 1 / (e * e * e + 2)};
  for (int i = 0; i < 9; ++i) {
    EXPECT_NEAR(probs[i], expected_probs[i], 1e-15) << i;
    const double onehot = (i % 3) == labels[i / 3] ? 1.0 : 0.0;
    EXPECT_NEAR(dlogits[i], (expected_probs[i] - onehot) / 3, 1e-15) << i;
  }
  const double loss = std::log(e * e + 2) - 2 + std::log(2 * e + 1) - 1 + std::log(e * e * e + 2);
  EXPECT_NEAR(counters[kLossSum], loss, 1e-14);
  EXPECT_EQ(counters[kSongs], 3);
  EXPECT_EQ(counters[kCorrect], 1);
  EXPECT_EQ(counters[kThresholdTp], 1);
  EXPECT_EQ(counters[kThresholdFp], 1);
  EXPECT_EQ(counters[kThresholdFn], 2);
  const Vec confusion(counters.begin() + kConfusion, counters.end());
  EXPECT_EQ(confusion, (Vec{1, 0, 0, 1, 0, 0, 0, 1, 0}));  // [label][predicted]

  // Counters accumulate; evaluation passes no gradient buffer.
  ops.softmax_xent(3, 3, logits.data(), labels.data(), {}, probs.data(), nullptr, counters.data());
  EXPECT_EQ(counters[kSongs], 6);
  EXPECT_EQ(counters[kConfusion + 3], 2);
}

// Class weights and a whole-batch denominator scale only the gradient; the
// counters keep the plain per-song cross-entropy.
TEST(SoftmaxXent, WeightsAndDenominatorScaleTheGradientOnly) {
  const Vec logits = {2, 0, 0, 1, 1, 0, 0, 3, 0};
  const std::vector<std::int32_t> labels = {0, 1, 2};
  const std::vector<float> class_weights = {0.5f, 2.0f, 4.0f};
  CpuOps<double> ops;
  Vec probs(9), plain(9), weighted(9), plain_counters(metric_slots(3), 0.0),
      weighted_counters(metric_slots(3), 0.0);
  ops.softmax_xent(3, 3, logits.data(), labels.data(), {}, probs.data(), plain.data(),
                   plain_counters.data());
  const double denominator = 0.5 + 2.0 + 4.0 + 10.0;  // part of a larger batch
  ops.softmax_xent(3, 3, logits.data(), labels.data(), {class_weights.data(), denominator},
                   probs.data(), weighted.data(), weighted_counters.data());
  for (int i = 0; i < 9; ++i)
    EXPECT_NEAR(weighted[i], plain[i] * 3 * class_weights[labels[i / 3]] / denominator, 1e-15) << i;
  EXPECT_EQ(weighted_counters, plain_counters);
}

TEST(Accumulate, AddsInPlaceOnBothPrecisions) {
  CpuOps<float> ops;
  std::vector<float> dst(100'000, 1.5f), src(100'000);
  for (std::size_t i = 0; i < src.size(); ++i) src[i] = static_cast<float>(i % 17) - 8.0f;
  ops.accumulate(src.size(), src.data(), dst.data());
  for (std::size_t i = 0; i < src.size(); ++i) ASSERT_EQ(dst[i], 1.5f + src[i]) << i;
  CpuOps<double> d;
  Vec a = {1, 2}, b = {0.25, -2};
  d.accumulate(2, b.data(), a.data());
  EXPECT_EQ(a, (Vec{1.25, 0}));
}

TEST(SoftmaxXent, StableForHugeLogits) {
  const std::vector<float> logits = {1000.0f, -1000.0f};
  const std::vector<std::int32_t> labels = {1};
  CpuOps<float> ops;
  std::vector<float> probs(2), dlogits(2);
  std::vector<double> counters(metric_slots(2), 0.0);
  ops.softmax_xent(1, 2, logits.data(), labels.data(), {}, probs.data(), dlogits.data(),
                   counters.data());
  EXPECT_EQ(probs[0], 1.0f);
  EXPECT_EQ(probs[1], 0.0f);
  EXPECT_NEAR(counters[kLossSum], 2000.0, 1e-9);
}

// ---- Adam -----------------------------------------------------------------------------

// torch.optim.Adam's update written out for one element (weight decay folded into g).
struct AdamElement {
  double param, m = 0, v = 0;
  void step(double grad, const AdamStep& s) {
    const double g = grad + s.weight_decay * param;
    m = s.beta1 * m + (1 - s.beta1) * g;
    v = s.beta2 * v + (1 - s.beta2) * g * g;
    const double t = static_cast<double>(s.step);
    const double bias1 = 1 - std::pow(s.beta1, t), bias2 = 1 - std::pow(s.beta2, t);
    param -= s.lr / bias1 * m / (std::sqrt(v) / std::sqrt(bias2) + s.eps);
  }
};

TEST(Adam, FirstStepMovesEachParameterByLrAlongTheGradientSign) {
  Vec params = {1.0, -2.0, 0.5}, grads = {0.1, -0.2, 0.0}, m(3, 0.0), v(3, 0.0);
  CpuOps<double> ops;
  AdamStep step;  // lr 1e-3
  ops.adam(step, 3, params.data(), grads.data(), m.data(), v.data());
  // Step 1: m_hat = g, v_hat = g^2, so the update is lr * g / (|g| + eps).
  EXPECT_NEAR(params[0], 1.0 - 1e-3 * 0.1 / (0.1 + 1e-8), 1e-15);
  EXPECT_NEAR(params[1], -2.0 + 1e-3 * 0.2 / (0.2 + 1e-8), 1e-15);
  EXPECT_EQ(params[2], 0.5);
  EXPECT_NEAR(m[1], -0.02, 1e-17);
  EXPECT_NEAR(v[1], 0.001 * 0.04, 1e-18);
}

TEST(Adam, ThreeStepsWithWeightDecayMatchTheFormula) {
  const Vec start = {1.0, -2.0, 0.5, 0.0};
  const std::vector<Vec> grads = {{0.1, -0.2, 0.0, 0.3}, {0.05, 0.1, -0.3, 0.3}, {0.2, -0.1, 0.1, -0.3}};
  AdamStep step;
  step.lr = 0.01;
  step.weight_decay = 0.1;
  Vec params = start, m(4, 0.0), v(4, 0.0);
  std::vector<AdamElement> expected;
  for (double p : start) expected.push_back({p});
  CpuOps<double> ops;
  for (int s = 1; s <= 3; ++s) {
    step.step = s;
    Vec g = grads[static_cast<std::size_t>(s - 1)];
    ops.adam(step, 4, params.data(), g.data(), m.data(), v.data());
    EXPECT_EQ(g, grads[static_cast<std::size_t>(s - 1)]) << "weight decay must not touch grads";
    for (std::size_t i = 0; i < 4; ++i) {
      expected[i].step(grads[static_cast<std::size_t>(s - 1)][i], step);
      EXPECT_NEAR(params[i], expected[i].param, 1e-15) << "step " << s << " element " << i;
      EXPECT_NEAR(m[i], expected[i].m, 1e-16);
      EXPECT_NEAR(v[i], expected[i].v, 1e-17);
    }
  }
}

TEST(Adam, ClipsTheGlobalNormInPlaceOnlyWhenAbove) {
  CpuOps<double> ops;
  AdamStep step;
  step.clip_norm = 1.5;
  Vec params = {1.0, 1.0}, grads = {3.0, 4.0}, m(2, 0.0), v(2, 0.0);  // norm 5
  ops.adam(step, 2, params.data(), grads.data(), m.data(), v.data());
  const double coef = 1.5 / (5.0 + 1e-6);
  EXPECT_NEAR(grads[0], 3.0 * coef, 1e-15);
  EXPECT_NEAR(grads[1], 4.0 * coef, 1e-15);
  EXPECT_NEAR(m[0], 0.1 * 3.0 * coef, 1e-15);

  step.clip_norm = 10.0;
  Vec small = {3.0, 4.0};
  m.assign(2, 0.0);
  v.assign(2, 0.0);
  ops.adam(step, 2, params.data(), small.data(), m.data(), v.data());
  EXPECT_EQ(small, (Vec{3.0, 4.0}));
}

// ---- float against double -------------------------------------------------------------

struct StepResult {
  Vec logits, grads;
  double loss = 0;
};

template <typename S>
StepResult train_step(const ModelSpec& spec, const HostBatch& batch, const Vec& params) {
  CpuOps<S> ops;
  Network<S> net(spec, ops, batch.steps, batch.batch());
  std::copy(params.begin(), params.end(), net.params());
  std::vector<double> counters(metric_slots(spec.num_classes), 0.0);
  net.forward(batch.view(), true, 7, 0);
  net.loss(batch.view(), counters.data(), true);
  net.backward(batch.view());
  StepResult r;
  r.logits.assign(net.logits(), net.logits() + batch.batch() * spec.num_classes);
  r.grads.assign(net.grads(), net.grads() + net.layout().total());
  r.loss = counters[kLossSum];
  return r;
}

TEST(FloatVsDouble, WholeStepAgrees) {
  ModelSpec spec;
  spec.vocab_size = 50;
  spec.embed_dim = 16;
  spec.hidden = 24;
  spec.attention_dim = 12;
  spec.num_classes = 5;
  spec.bidirectional = true;
  Rng rng(8);
  std::vector<std::int32_t> lengths;
  for (int len = 40; len >= 1; len -= 3) lengths.push_back(len);
  const HostBatch batch = make_batch(rng, lengths, 50, 5);
  const ParamLayout layout(spec);
  Vec params = random_vec(rng, layout.total(), 0.3);
  std::fill(params.begin(), params.begin() + spec.embed_dim, 0.0);
  const auto single = train_step<float>(spec, batch, params);
  const auto precise = train_step<double>(spec, batch, params);
  EXPECT_LT(relative_error(single.logits, precise.logits), 1e-5);
  EXPECT_NEAR(single.loss, precise.loss, 1e-5 * precise.loss);
  for (const auto& t : layout.tensors()) {
    const Vec a(single.grads.begin() + static_cast<std::ptrdiff_t>(t.offset),
                single.grads.begin() + static_cast<std::ptrdiff_t>(t.offset + t.size()));
    const Vec b(precise.grads.begin() + static_cast<std::ptrdiff_t>(t.offset),
                precise.grads.begin() + static_cast<std::ptrdiff_t>(t.offset + t.size()));
    // attention.b's gradient is a sum whose terms cancel across the softmax,
    // so float's error relative to its (small) norm depends on the BLAS
    // kernel's summation order: 1.3e-4 with OpenBLAS's Zen kernels (AMD EPYC,
    // 1 thread), under 1e-4 on others. Every other tensor stays at 1e-4.
    const double bound = t.name == "attention.b" ? 3e-4 : 1e-4;
    EXPECT_LT(relative_error(a, b), bound) << t.name;
  }
}


// Bitwise repeatable for a given thread count; across thread counts the
// matrix products split into different shapes, so only to rounding.
TEST(Determinism, RepeatableAndThreadCountOnlyRounds) {
  ModelSpec spec;
  spec.vocab_size = 60;
  spec.embed_dim = 20;
  spec.hidden = 32;
  spec.attention_dim = 16;
  spec.num_classes = 4;
  spec.bidirectional = true;
  spec.layers = 2;
  Rng rng(9);
  std::vector<std::int32_t> lengths;
  for (int len = 50; len >= 1; len -= 2) lengths.push_back(len);
  const HostBatch batch = make_batch(rng, lengths, 60, 4);
  Vec params = random_vec(rng, ParamLayout(spec).total(), 0.3);
  std::fill(params.begin(), params.begin() + spec.embed_dim, 0.0);
  configure_cpu_threads(1);
  const auto one = train_step<float>(spec, batch, params);
  configure_cpu_threads(3);
  const auto three = train_step<float>(spec, batch, params);
  const auto again = train_step<float>(spec, batch, params);
  configure_cpu_threads(0);
  EXPECT_EQ(three.logits, again.logits);
  EXPECT_EQ(three.grads, again.grads);
  EXPECT_LT(relative_error(one.logits, three.logits), 1e-6);
  EXPECT_LT(relative_error(one.grads, three.grads), 1e-6);
}

}  // namespace
}  // namespace lyre
