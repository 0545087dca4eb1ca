// The CUDA training engine end to end: k folds on k streams at once give the
// same weights as the folds one after another; streaming batches through
// pinned staging gives the same weights as the device-resident corpus; two
// runs with one seed are bitwise identical; and CUDA training follows the CPU
// reference closely. Skipped without a CUDA device.
#include <gtest/gtest.h>

#include <cmath>

#include "data/prepare.hpp"
#include "engine/backend/backend.hpp"
#include "engine/train/checkpoint.hpp"
#include "engine/train/trainer.hpp"
#include "tests/support/run_compare.hpp"
#include "tests/support/test_support.hpp"

namespace lyre {
namespace {

using test::fold_params;

namespace fs = std::filesystem;

class GpuEngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (cuda_devices() == 0) GTEST_SKIP() << "no CUDA device";
    dir_ = std::make_unique<test::TempDir>();
    data::run_prepare(config(), {});
  }

  ExperimentConfig config() const {
    auto c = parse_config(R"(
name: gpu
seed: 11
data:
  source: synthetic
  synthetic: {songs: 3000, seed: 4}
  top_genres: 4
  per_genre: 80
model:
  embedding: {dim: 24, init: random}
  hidden: 24
  max_len: 64
train:
  backend: cuda
  batch_size: 16
  epochs: 2
cv:
  folds: 3
)",
                          "gpu.yaml");
    c.data.prepared = (dir_->path() / "prepared").string();
    return c;
  }

  fs::path train(ExperimentConfig c, const char* name, bool streaming = false) const {
    RunOptions options;
    options.out = dir_->path() / name;
    options.write_report = false;
    options.force_streaming = streaming;
    run_training(c, options);
    return options.out;
  }

  std::unique_ptr<test::TempDir> dir_;
};

TEST_F(GpuEngineTest, ConcurrentFoldsEqualFoldsOneByOne) {
  auto c = config();
  c.cv.concurrent = true;
  const auto together = train(c, "together");
  c.cv.concurrent = false;
  const auto one_by_one = train(c, "one-by-one");
  for (int f = 0; f < 3; ++f) EXPECT_EQ(fold_params(together, f), fold_params(one_by_one, f)) << "fold " << f;
}

TEST_F(GpuEngineTest, StreamingEqualsResidentCorpus) {
  const auto resident = train(config(), "resident");
  const auto streamed = train(config(), "streamed", true);
  for (int f = 0; f < 3; ++f) EXPECT_EQ(fold_params(resident, f), fold_params(streamed, f)) << "fold " << f;
}

TEST_F(GpuEngineTest, TwoRunsWithOneSeedAreIdentical) {
  const auto a = train(config(), "a");
  const auto b = train(config(), "b");
  for (int f = 0; f < 3; ++f) EXPECT_EQ(fold_params(a, f), fold_params(b, f)) << "fold " << f;
}

TEST_F(GpuEngineTest, CudaTrainingFollowsTheCpuReference) {
  auto c = config();
  c.train.epochs = 1;
  c.model.dropout = 0.0;
  const auto gpu = train(c, "cuda");
  c.train.backend = BackendKind::cpu;
  const auto cpu = train(c, "cpu");
  for (int f = 0; f < 3; ++f) {
    const auto g = fold_params(gpu, f), r = fold_params(cpu, f);
    ASSERT_EQ(g.size(), r.size());
    double diff = 0, norm = 0;
    for (std::size_t i = 0; i < g.size(); ++i) {
      diff += (static_cast<double>(g[i]) - r[i]) * (static_cast<double>(g[i]) - r[i]);
      norm += static_cast<double>(r[i]) * r[i];
    }
    // One epoch of Adam from identical weights: rounding differences only.
    EXPECT_LT(std::sqrt(diff / norm), 1e-3) << "fold " << f;
  }
}

}  // namespace
}  // namespace lyre
