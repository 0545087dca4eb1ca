// Cluster-scale training on one machine: batches split into micro-batches
// (what data-parallel ranks compute), folds trained by separate tasks into a
// shared run folder and merged, and class balance for unbalanced corpora.
// The multi-process runs themselves (mpirun, Slurm) are in mpi_train.cpp and
// cluster/slurm_test.sh.
#include <gtest/gtest.h>

#include <cmath>

#include "data/prepare.hpp"
#include "engine/core/signals.hpp"
#include "engine/train/checkpoint.hpp"
#include "engine/train/run_dir.hpp"
#include "engine/train/trainer.hpp"
#include "tests/support/run_compare.hpp"
#include "tests/support/test_support.hpp"

namespace lyre {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using test::input_error;
using test::TempDir;

using test::fold_params;
using test::metrics_without_timing;
using test::without_timing;

class ClusterTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir;
    data::run_prepare(base_config(), {});
    auto unbalanced = base_config();
    unbalanced.data.per_genre = 0;  // every song: genres as uneven as the synthetic set makes them
    unbalanced.data.prepared = (dir_->path() / "unbalanced").string();
    data::run_prepare(unbalanced, {});
  }
  static void TearDownTestSuite() { delete dir_; }

  static ExperimentConfig base_config() {
    auto c = parse_config(R"(
name: cluster
seed: 11
data:
  source: synthetic
  synthetic: {songs: 2500, seed: 21}
  top_genres: 4
  per_genre: 50
model:
  embedding: {dim: 16, init: random}
  hidden: 16
  max_len: 40
train:
  backend: cpu
  batch_size: 15
  epochs: 2
  threads: 1
  optimizer: {lr: 0.01}
cv:
  folds: 3
)",
                          "cluster.yaml");
    c.data.prepared = (dir_->path() / "prepared").string();
    c.output = (dir_->path() / "runs").string();
    return c;
  }
  static RunOptions quiet(fs::path out) {
    RunOptions o;
    o.out = std::move(out);
    o.write_report = false;
    return o;
  }
  static TempDir* dir_;
};
TempDir* ClusterTest::dir_ = nullptr;

TEST_F(ClusterTest, MicroBatchesGiveTheWholeBatchGradientUpToRounding) {
  TempDir out;
  auto c = base_config();
  c.train.epochs = 1;
  c.cv.folds = 2;
  const auto whole = run_training(c, quiet(out / "whole"));
  c.train.micro_batches = 4;
  const auto split = run_training(c, quiet(out / "split"));
  // Same songs, same dropout masks, the loss of each slice divided by the
  // whole batch's size: only the order of float additions differs.
  for (int f = 0; f < 2; ++f) {
    const auto a = fold_params(out / "whole", f), b = fold_params(out / "split", f);
    ASSERT_EQ(a.size(), b.size());
    double max_rel = 0;
    bool identical = true;
    for (std::size_t i = 0; i < a.size(); ++i) {
      max_rel = std::max(max_rel, std::abs(static_cast<double>(a[i]) - b[i]) /
                                      std::max(1e-3, std::abs(static_cast<double>(a[i]))));
      identical &= a[i] == b[i];
    }
    EXPECT_LT(max_rel, 1e-3) << "fold " << f;
    EXPECT_FALSE(identical) << "fold " << f << ": 4 micro-batches should round differently";
  }
  const auto ta = whole.summary.at("folds")[0].at("train"), tb = split.summary.at("folds")[0].at("train");
  EXPECT_EQ(ta.at("songs"), tb.at("songs"));
  EXPECT_NEAR(ta.at("loss").get<double>(), tb.at("loss").get<double>(), 1e-5);
}

TEST_F(ClusterTest, MicroBatchRunResumedMidEpochEqualsAnUninterruptedOne) {
  TempDir out;
  auto c = base_config();
  c.cv.folds = 2;
  c.train.micro_batches = 3;
  run_training(c, quiet(out / "whole"));
  auto options = quiet(out / "cut");
  options.stop_after_batches = 5;  // mid-epoch: the checkpoint holds 3 parts' counters
  ASSERT_TRUE(run_training(c, options).interrupted);
  clear_stop_request();
  const auto resumed = resume_run(out / "cut", quiet({}));
  ASSERT_FALSE(resumed.interrupted);
  for (int f = 0; f < 2; ++f) EXPECT_EQ(fold_params(out / "whole", f), fold_params(out / "cut", f));
  EXPECT_EQ(metrics_without_timing(out / "cut"), metrics_without_timing(out / "whole"));
}

TEST_F(ClusterTest, ResumingMidEpochWithAnotherSplitIsRefused) {
  TempDir out;
  auto c = base_config();
  c.train.micro_batches = 2;
  auto options = quiet(out / "cut");
  options.stop_after_batches = 4;
  ASSERT_TRUE(run_training(c, options).interrupted);
  clear_stop_request();
  // The saved config says 2; edit it as a user might before resuming.
  const auto path = out / "cut" / "config.yaml";
  auto text = test::read_file(path);
  const auto at = text.find("micro_batches: 2");
  ASSERT_NE(at, std::string::npos);
  text.replace(at, 16, "micro_batches: 1");
  test::write_file(path, text);
  const auto checkpoint_before = test::read_file(out / "cut" / "folds" / "fold-0" / "checkpoint.bin");
  // checksums.json catches the edit first; without the index (a folder
  // from before it existed) the checkpoint's own record still refuses it.
  EXPECT_TRUE(test::contains(input_error([&] { resume_run(out / "cut", quiet({})); }),
                             "config.yaml is corrupt: checksum"));
  fs::remove(out / "cut" / "checksums.json");
  const auto message = input_error([&] { resume_run(out / "cut", quiet({})); });
  EXPECT_TRUE(test::contains(message, "split in 2 parts")) << message;
  EXPECT_EQ(test::read_file(out / "cut" / "folds" / "fold-0" / "checkpoint.bin"), checkpoint_before);
}

TEST_F(ClusterTest, MoreMicroBatchesThanSongsPerBatchIsAConfigError) {
  const auto message = input_error([] {
    parse_config("train: {batch_size: 4, micro_batches: 5}\n", "mb.yaml");
  });
  EXPECT_TRUE(test::contains(message, "train.micro_batches = 5 exceeds train.batch_size = 4"))
      << message;
}

TEST_F(ClusterTest, FoldTasksIntoASharedFolderMergeToTheSingleProcessRun) {
  TempDir out;
  auto c = base_config();
  const auto single = run_training(c, quiet(out / "single"));
  const auto shared = out / "shared";
  auto task = [&](std::vector<int> folds) {
    auto t = c;
    t.cv.folds_subset = std::move(folds);
    return run_training(t, quiet(shared));
  };
  const auto first = task({2});
  EXPECT_TRUE(first.partial);
  ASSERT_EQ(first.unfinished.size(), 2u);
  EXPECT_EQ(first.unfinished[0], "fold 0: not started");
  EXPECT_FALSE(fs::exists(shared / "summary.json"));
  // Merging now names what is missing and writes nothing.
  const auto message = input_error([&] { merge_run(shared, quiet({})); });
  EXPECT_TRUE(test::contains(message, "2 of 3 folds missing")) << message;
  EXPECT_TRUE(test::contains(message, "fold 1: not started")) << message;
  EXPECT_FALSE(fs::exists(shared / "summary.json"));

  const auto last = task({0, 1});  // the last task writes the summary
  ASSERT_FALSE(last.partial);
  EXPECT_EQ(without_timing(last.summary), without_timing(single.summary));
  EXPECT_EQ(metrics_without_timing(shared), metrics_without_timing(out / "single"));
  for (int f = 0; f < 3; ++f) EXPECT_EQ(fold_params(shared, f), fold_params(out / "single", f));
  // merge is idempotent: the same summary again.
  const auto merged = merge_run(shared, quiet({}));
  EXPECT_EQ(without_timing(merged.summary), without_timing(single.summary));
}

TEST_F(ClusterTest, ATaskWithAnotherConfigCannotJoinTheRun) {
  TempDir out;
  auto c = base_config();
  c.train.epochs = 1;
  c.cv.folds_subset = {0};
  run_training(c, quiet(out / "shared"));
  auto other = c;
  other.cv.folds_subset = {1};
  other.model.hidden = 8;
  const auto message = input_error([&] { run_training(other, quiet(out / "shared")); });
  EXPECT_TRUE(test::contains(message, "belongs to another run")) << message;
  EXPECT_TRUE(test::contains(message, "hidden: 16")) << message;
  EXPECT_FALSE(fs::exists(out / "shared" / "folds" / "fold-1" / "checkpoint.bin"));
}

TEST_F(ClusterTest, FoldSubsetNeedsANamedRunFolder) {
  auto c = base_config();
  c.cv.folds_subset = {1};
  const auto message = input_error([&] { run_training(c, quiet({})); });
  EXPECT_TRUE(test::contains(message, "--out")) << message;
}

TEST_F(ClusterTest, FoldSubsetOutsideTheFoldsIsAConfigError) {
  const auto message = input_error([] {
    parse_config("cv: {folds: 3, folds_subset: [0, 3]}\n", "subset.yaml");
  });
  EXPECT_TRUE(test::contains(message, "cv.folds_subset names fold 3")) << message;
}

TEST_F(ClusterTest, ResampleDrawsAnEvenShareOfEveryGenreEachEpoch) {
  TempDir out;
  auto c = base_config();
  c.data.prepared = (dir_->path() / "unbalanced").string();
  c.cv.folds = 2;
  c.train.balance = ClassBalance::resample;
  const auto outcome = run_training(c, quiet(out / "r"));
  for (const auto& fold : outcome.summary.at("folds")) {
    const auto train_songs = fold.at("songs").at("train").get<std::uint64_t>();
    const auto drawn = fold.at("train").at("songs").get<std::uint64_t>();
    EXPECT_EQ(drawn, train_songs / 4 * 4) << fold.dump();
    for (const auto& n : fold.at("train").at("class_songs"))
      EXPECT_EQ(n.get<std::uint64_t>(), train_songs / 4) << fold.dump();
  }
  ASSERT_EQ(outcome.summary.at("test_class_recall").size(), 4u);
  for (const auto& g : outcome.summary.at("test_class_recall")) {
    EXPECT_GE(g.at("mean").get<double>(), 0.0);
    EXPECT_LE(g.at("mean").get<double>(), 1.0);
  }
}

TEST_F(ClusterTest, ClassWeightsChangeTheTrainingOfAnUnbalancedCorpus) {
  TempDir out;
  auto c = base_config();
  c.cv.folds = 2;
  c.train.epochs = 1;
  c.data.prepared = (dir_->path() / "unbalanced").string();
  run_training(c, quiet(out / "plain"));
  c.train.balance = ClassBalance::class_weights;
  const auto weighted = run_training(c, quiet(out / "weighted"));
  EXPECT_NE(fold_params(out / "plain", 0), fold_params(out / "weighted", 0));
  const auto loss = weighted.summary.at("folds")[0].at("train").at("loss").get<double>();
  EXPECT_TRUE(std::isfinite(loss));
  // Per-genre recall is reported, and per epoch in metrics.jsonl as well.
  const auto lines = read_metrics(out / "weighted");
  ASSERT_FALSE(lines.empty());
  EXPECT_EQ(lines[0].at("validation").at("class_recall").size(), 4u);
}

}  // namespace
}  // namespace lyre
