// Training runs on the CPU backend: the run folder, determinism, resume after
// an interruption, early stopping, refusals, prediction and ablation.
#include <gtest/gtest.h>

#include <fstream>

#include "data/prepare.hpp"
#include "engine/core/error.hpp"
#include "engine/core/signals.hpp"
#include "engine/model/param_layout.hpp"
#include "engine/train/checkpoint.hpp"
#include "engine/train/predictor.hpp"
#include "engine/train/run_dir.hpp"
#include "engine/train/trainer.hpp"
#include "tests/support/run_compare.hpp"
#include "tests/support/test_support.hpp"

namespace lyre {
namespace {

using test::fold_params;
using test::input_error;

namespace fs = std::filesystem;
using test::TempDir;

class TrainingTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir;
    auto c = base_config();
    data::run_prepare(c, {});
  }
  static void TearDownTestSuite() { delete dir_; }

  // 4 genres x 60 songs, a model small enough for CI.
  static ExperimentConfig base_config() {
    auto c = parse_config(R"(
name: t
seed: 5
data:
  source: synthetic
  synthetic: {songs: 2500, seed: 21}
  top_genres: 4
  per_genre: 60
model:
  embedding: {dim: 16, init: random}
  hidden: 16
  max_len: 48
train:
  backend: cpu
  batch_size: 16
  epochs: 2
  threads: 1
cv:
  folds: 3
)",
                          "test.yaml");
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
TempDir* TrainingTest::dir_ = nullptr;

TEST_F(TrainingTest, CrossValidationWritesTheRunFolder) {
  TempDir out;
  const auto outcome = run_training(base_config(), quiet(out / "run"));
  ASSERT_FALSE(outcome.interrupted);
  const auto run = out / "run";
  for (const char* f : {"config.yaml", "run.json", "metrics.jsonl", "summary.json", "summary.md",
                        "vocab.txt", "genres.txt"})
    EXPECT_TRUE(fs::exists(run / f)) << f;
  EXPECT_EQ(read_metrics(run).size(), 3u * 2u);  // folds x epochs
  const auto& summary = outcome.summary;
  ASSERT_EQ(summary.at("folds").size(), 3u);
  // Every song is tested exactly once across the folds.
  std::uint64_t tested = 0;
  for (auto n : summary.at("test_confusion_total").get<std::vector<std::uint64_t>>()) tested += n;
  EXPECT_EQ(tested, 240u);
  for (int f = 0; f < 3; ++f) {
    EXPECT_TRUE(fs::exists(run / "folds" / fmt::format("fold-{}", f) / "confusion_test.csv"));
    EXPECT_TRUE(fs::exists(run / "folds" / fmt::format("fold-{}", f) / "checkpoint.bin"));
  }
  const auto acc = summary.at("mean").at("test_accuracy").at("mean").get<double>();
  EXPECT_GE(acc, 0.0);
  EXPECT_LE(acc, 1.0);
}

TEST_F(TrainingTest, SameSeedGivesIdenticalWeights) {
  TempDir out;
  auto c = base_config();
  c.cv.folds = 2;
  run_training(c, quiet(out / "a"));
  run_training(c, quiet(out / "b"));
  for (int f = 0; f < 2; ++f) EXPECT_EQ(fold_params(out / "a", f), fold_params(out / "b", f));
  c.seed = 6;
  run_training(c, quiet(out / "c"));
  EXPECT_NE(fold_params(out / "a", 0), fold_params(out / "c", 0));
}

TEST_F(TrainingTest, ResumeReachesTheWeightsOfAnUninterruptedRun) {
  TempDir out;
  auto c = base_config();
  c.cv.folds = 2;
  c.train.epochs = 3;
  run_training(c, quiet(out / "whole"));

  auto options = quiet(out / "cut");
  options.stop_after_batches = 13;  // mid-epoch in the first fold
  const auto first = run_training(c, options);
  clear_stop_request();
  ASSERT_TRUE(first.interrupted);
  EXPECT_FALSE(fs::exists(out / "cut" / "summary.json"));
  const auto resumed = resume_run(out / "cut", quiet({}));
  ASSERT_FALSE(resumed.interrupted);
  for (int f = 0; f < 2; ++f) EXPECT_EQ(fold_params(out / "whole", f), fold_params(out / "cut", f)) << "fold " << f;
  EXPECT_EQ(read_metrics(out / "cut").size(), read_metrics(out / "whole").size());
  EXPECT_EQ(resumed.summary.at("mean").at("test_accuracy"),
            run_training(c, quiet(out / "again")).summary.at("mean").at("test_accuracy"));
}

TEST_F(TrainingTest, StreamingFromHostTrainsLikeTheResidentCorpus) {
  TempDir out;
  auto c = base_config();
  c.cv.folds = 2;
  run_training(c, quiet(out / "resident"));
  auto streaming = quiet(out / "streaming");
  streaming.force_streaming = true;
  run_training(c, streaming);
  for (int f = 0; f < 2; ++f)
    EXPECT_EQ(fold_params(out / "resident", f), fold_params(out / "streaming", f)) << "fold " << f;
}

TEST_F(TrainingTest, CheckpointOfAnotherModelIsRefusedAndKept) {
  TempDir out;
  auto c = base_config();
  c.cv.folds = 2;
  auto options = quiet(out / "run");
  options.stop_after_batches = 3;
  ASSERT_TRUE(run_training(c, options).interrupted);
  clear_stop_request();
  const auto checkpoint = out / "run" / "folds" / "fold-0" / "checkpoint.bin";
  const auto before = test::read_file(checkpoint);
  // Someone edits the run's config to another model shape.
  auto edited = c;
  edited.model.hidden = 24;
  test::write_file(out / "run" / "config.yaml", to_yaml(edited));
  // checksums.json catches the edit first; without the index (a folder from
  // before it existed) the checkpoint's own model record still refuses it.
  EXPECT_NE(input_error([&] { resume_run(out / "run", quiet({})); }).find("config.yaml is"),
            std::string::npos);
  fs::remove(out / "run" / "checksums.json");
  const auto msg = input_error([&] { resume_run(out / "run", quiet({})); });
  EXPECT_NE(msg.find("another model"), std::string::npos) << msg;
  EXPECT_NE(msg.find("checkpoint.bin"), std::string::npos) << msg;
  EXPECT_EQ(test::read_file(checkpoint), before);
}

// Found by tests/fuzz/fuzz_checkpoint: a checkpoint (valid checksum) whose
// stored model claimed 2,359,297 LSTM layers made load_stored_model lay out
// every one of them, taking minutes and gigabytes before failing. The stored
// shape is now held to the ranges a config allows, before anything is laid out.
TEST(CheckpointFile, ImplausibleStoredShapeIsRefusedByName) {
  TempDir dir;
  ModelSpec spec;
  spec.vocab_size = 9;
  spec.embed_dim = 3;
  spec.hidden = 4;
  spec.attention_dim = 2;
  spec.num_classes = 2;
  FoldCheckpoint c;
  const std::size_t n = ParamLayout(spec).total();
  c.optimizer.params.assign(n, 0.5f);
  c.optimizer.m.assign(n, 0.0f);
  c.optimizer.v.assign(n, 0.0f);
  const fs::path file = dir / "checkpoint.bin";
  save_checkpoint(file, spec, 42, c);
  ASSERT_EQ(load_stored_model(file).params.size(), n);
  const std::string good = test::read_file(file);

  // The spec follows magic (8 bytes), version and a reserved word (4 + 4):
  // vocab_size @16, embed_dim @20, hidden @24, layers @28, ... dropout @48.
  struct Lie {
    std::size_t offset;
    std::int32_t value;
    const char* message;
  };
  for (const Lie& lie : {Lie{28, 2'359'297, "layers is 2359297, expected 1..8"},
                         Lie{24, 1 << 30, "hidden is 1073741824, expected 1..4096"},
                         Lie{20, -3, "embed_dim is -3, expected 1..4096"},
                         Lie{16, -1, "vocab_size is 4294967295, expected 2..2147483647"}}) {
    test::write_file(file, good);
    test::patch_checksummed(file, lie.offset,
                            std::string_view(reinterpret_cast<const char*>(&lie.value), 4));
    const std::string message = input_error([&] { load_stored_model(file); });
    EXPECT_TRUE(test::contains(message, "checkpoint.bin")) << message;
    EXPECT_TRUE(test::contains(message, lie.message)) << message;
  }
}

TEST_F(TrainingTest, EarlyStoppingKeepsTheBestEpoch) {
  TempDir out;
  auto c = base_config();
  c.cv.folds = 2;
  c.train.epochs = 6;
  c.train.early_stopping.patience = 2;
  c.train.early_stopping.min_delta = 1e6;  // nothing after epoch 1 counts as a gain
  const auto outcome = run_training(c, quiet(out / "run"));
  for (const auto& f : outcome.summary.at("folds")) {
    EXPECT_EQ(f.at("epochs").get<int>(), 3);  // epoch 1, then 2 without gain
    EXPECT_EQ(f.at("best_epoch").get<int>(), 1);
  }
}

TEST_F(TrainingTest, HoldoutRunWhenFoldsAreOff) {
  TempDir out;
  auto c = base_config();
  c.cv.folds = 0;
  const auto outcome = run_training(c, quiet(out / "run"));
  ASSERT_EQ(outcome.summary.at("folds").size(), 1u);
  EXPECT_EQ(outcome.summary.at("folds")[0].at("split").get<std::string>(), "holdout");
}

TEST_F(TrainingTest, MissingPreparedFolderSaysPrepareFirst) {
  auto c = base_config();
  c.data.prepared = (dir_->path() / "nothing-here").string();
  const auto msg = input_error([&] { run_training(c, quiet({})); });
  EXPECT_NE(msg.find("lyre prepare"), std::string::npos) << msg;
  EXPECT_NE(msg.find("data.prepared"), std::string::npos) << msg;
}

TEST_F(TrainingTest, ExistingRunFolderIsNeverOverwritten) {
  TempDir out;
  test::write_file(out / "run" / "notes.txt", "mine");
  const auto msg = input_error([&] { run_training(base_config(), quiet(out / "run")); });
  EXPECT_NE(msg.find("--resume"), std::string::npos) << msg;
  EXPECT_EQ(test::read_file(out / "run" / "notes.txt"), "mine");
}

TEST_F(TrainingTest, PredictScoresNewLyrics) {
  TempDir out;
  auto c = base_config();
  c.cv.folds = 2;
  run_training(c, quiet(out / "run"));
  Predictor predictor(out / "run");
  EXPECT_EQ(predictor.models(), 2u);
  const auto predictions = predictor.predict(
      {"world people government time", "", "the and of to"}, 4, 3);
  ASSERT_EQ(predictions.size(), 3u);
  double total = 0;
  for (const auto& g : predictions[0].top) total += g.probability;
  EXPECT_NEAR(total, 1.0, 1e-5);  // top_k = every genre
  EXPECT_GE(predictions[0].top[0].probability, predictions[0].top[1].probability);
  EXPECT_FALSE(predictions[0].attention.empty());
  EXPECT_LE(predictions[0].attention.size(), 3u);
  EXPECT_TRUE(predictions[1].empty);  // nothing at all
  EXPECT_TRUE(predictions[2].empty);  // stopwords only
  // One fold alone differs from the two-fold average.
  Predictor one(out / "run", 1);
  EXPECT_EQ(one.models(), 1u);
  EXPECT_NE(one.predict({"world people government time"}, 4, 3)[0].top[0].probability,
            predictions[0].top[0].probability);
}

TEST_F(TrainingTest, PredictRefusesAVocabularyThatDoesNotMatch) {
  TempDir out;
  auto c = base_config();
  c.cv.folds = 2;
  c.train.epochs = 1;
  run_training(c, quiet(out / "run"));
  std::ofstream(out / "run" / "vocab.txt", std::ios::app) << "zzzextra\t2\n";
  // checksums.json catches the edit first; without the index the vocabulary
  // hash each checkpoint records still refuses it.
  EXPECT_NE(input_error([&] { Predictor p(out / "run"); }).find("vocab.txt is truncated or was changed"),
            std::string::npos);
  fs::remove(out / "run" / "checksums.json");
  const auto msg = input_error([&] { Predictor p(out / "run"); });
  EXPECT_NE(msg.find("another vocabulary"), std::string::npos) << msg;
}

TEST_F(TrainingTest, AblationComparesVariantsOnTheSameFolds) {
  TempDir out;
  auto c = base_config();
  c.cv.folds = 2;
  c.train.epochs = 1;
  c.ablation = {{"primary", "", {}}, {"no_pooling", "context vector", {{"model.pool", "none"}}}};
  const auto outcome = run_ablation(c, quiet(out / "abl"));
  const auto& variants = outcome.summary.at("variants");
  ASSERT_EQ(variants.size(), 2u);
  for (int f = 0; f < 2; ++f)
    EXPECT_EQ(variants[0].at("summary").at("folds")[f].at("songs"),
              variants[1].at("summary").at("folds")[f].at("songs"));
  const auto md = test::read_file(out / "abl" / "ablation.md");
  EXPECT_NE(md.find("no_pooling"), std::string::npos);
  EXPECT_TRUE(fs::exists(out / "abl" / "ablation.csv"));
  EXPECT_TRUE(fs::exists(out / "abl" / "variants" / "no_pooling" / "summary.json"));
}

}  // namespace
}  // namespace lyre
