// The model learns: on the synthetic corpus the context-vector variant
// (attention, no pooling) reaches validation accuracy far above chance within
// a few epochs, while the paper's primary model, whose pooled vector is the
// attention output averaged over the song's length and so starts near zero,
// learns much more slowly (issue 3: reproduce that faithfully).
//
// Measured with these settings over seeds 3-6: no pooling reaches 0.89-0.94
// validation accuracy and a loss of 0.18-0.29 at epoch 6; the primary model
// is at a loss of 1.15-1.23 (chance: ln 4 = 1.39).
#include <gtest/gtest.h>

#include "data/prepare.hpp"
#include "engine/train/trainer.hpp"
#include "tests/support/test_support.hpp"

namespace lyre {
namespace {

class LearningTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new test::TempDir;
    data::run_prepare(config(PoolKind::none), {});
  }
  static void TearDownTestSuite() { delete dir_; }

  static ExperimentConfig config(PoolKind pool) {
    auto c = parse_config(R"(
name: learn
seed: 3
data:
  source: synthetic
  synthetic: {songs: 6000, seed: 8}
  top_genres: 4
  per_genre: 300
model:
  embedding: {dim: 32, init: random}
  hidden: 32
  max_len: 100
train:
  backend: cpu
  batch_size: 16
  epochs: 6
  optimizer: {lr: 0.003}
cv:
  folds: 0
)",
                          "learn.yaml");
    c.model.pool = pool;
    c.data.prepared = (dir_->path() / "prepared").string();
    return c;
  }

  static nlohmann::json final_validation(PoolKind pool, const char* name) {
    RunOptions options;
    options.out = dir_->path() / name;
    options.write_report = false;
    const auto outcome = run_training(config(pool), options);
    return outcome.summary.at("folds")[0].at("validation");
  }

  static test::TempDir* dir_;
};
test::TempDir* LearningTest::dir_ = nullptr;

TEST_F(LearningTest, ContextVectorModelLearnsTheSyntheticCorpus) {
  const auto validation = final_validation(PoolKind::none, "no-pooling");
  EXPECT_GE(validation.at("accuracy").get<double>(), 0.80);  // chance: 0.25
  EXPECT_LT(validation.at("loss").get<double>(), 0.6);
}

TEST_F(LearningTest, PaperModelLearnsMoreSlowly) {
  const double primary = final_validation(PoolKind::mean, "primary").at("loss").get<double>();
  const double context = final_validation(PoolKind::none, "context").at("loss").get<double>();
  EXPECT_GT(primary, context + 0.5) << "primary " << primary << ", no pooling " << context;
}

}  // namespace
}  // namespace lyre
