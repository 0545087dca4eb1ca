// Every file of a run folder that a later command reads is verified first:
// checksums.json records the size and XXH3 of config.yaml, vocab.txt,
// genres.txt, run.json, the summaries, metrics.jsonl (once final) and the
// per-fold confusion tables, and checkpoints carry their own checksum. A
// flipped byte or a cut-off tail makes `predict`, `report`, `train --resume`
// and `merge` refuse with exit 2 and the file named, and change nothing.
#include <gtest/gtest.h>

#include <map>

#include <nlohmann/json.hpp>

#include "engine/core/files.hpp"
#include "tests/support/test_support.hpp"

namespace lyre {
namespace {

namespace fs = std::filesystem;
using test::contains;
using test::run_command;
using test::TempDir;

std::string lyre() { return test::lyre_binary().string(); }

std::string config_text(const fs::path& prepared) {
  return "name: run-integrity\nseed: 3\ndata:\n  source: synthetic\n"
         "  synthetic: {songs: 1500, seed: 3}\n  top_genres: 3\n  per_genre: 30\n"
         "  prepared: " + prepared.string() + "\n"
         "model: {embedding: {dim: 8, init: random}, hidden: 8, max_len: 32}\n"
         "train: {backend: cpu, epochs: 1, batch_size: 16, threads: 1}\ncv: {folds: 2}\n";
}

// Every file below `dir` but the lock files, by relative path.
std::map<std::string, std::string> snapshot(const fs::path& dir) {
  std::map<std::string, std::string> files;
  for (const auto& entry : fs::recursive_directory_iterator(dir))
    if (entry.is_regular_file() && entry.path().filename().string().find(".lock") == std::string::npos)
      files[fs::relative(entry.path(), dir).string()] = test::read_file(entry.path());
  return files;
}

// One finished 2-fold run, trained once; each test damages its own copy.
class RunIntegrity : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir;
    const auto config = test::write_file(*dir_ / "c.yaml", config_text(*dir_ / "prepared"));
    auto r = run_command(lyre() + " prepare --config " + config.string());
    ASSERT_EQ(r.exit_code, 0) << r.output;
    r = run_command(lyre() + " train --config " + config.string() + " --out " +
                    (*dir_ / "run").string());
    ASSERT_EQ(r.exit_code, 0) << r.output;
  }
  static void TearDownTestSuite() { delete dir_; }

  void SetUp() override {
    fs::copy(dir_->path() / "run", run_, fs::copy_options::recursive);
    test::write_file(work_ / "c.yaml", config_text(dir_->path() / "prepared"));
  }

  // `command` (given the run folder) exits 2 naming `damaged` with `what`,
  // and leaves every file of the run folder as it was.
  void expect_refused(const std::string& command, const fs::path& damaged, const std::string& what) {
    const auto before = snapshot(run_);
    const auto r = run_command(lyre() + " " + command);
    EXPECT_EQ(r.exit_code, 2) << command << ": " << r.output;
    EXPECT_TRUE(contains(r.output, damaged.string() + " " + what)) << command;
    EXPECT_TRUE(snapshot(run_) == before) << command << " changed the run folder";
  }

  std::string predict() const { return "predict --run " + run_.string() + " --text 'love me baby'"; }
  std::string report() const { return "report " + run_.string(); }
  std::string resume() const { return "train --no-report --resume " + run_.string(); }

  static TempDir* dir_;
  TempDir work_;
  fs::path run_ = work_ / "run";
};
TempDir* RunIntegrity::dir_ = nullptr;

TEST_F(RunIntegrity, IndexListsEveryFileLaterCommandsReadWithItsDigest) {
  const auto index = nlohmann::json::parse(test::read_file(run_ / "checksums.json"));
  EXPECT_EQ(index.at("format"), "lyre-run-checksums-1");
  const auto& files = index.at("files");
  for (const char* name : {"config.yaml", "vocab.txt", "genres.txt", "run.json", "summary.json",
                           "summary.md", "metrics.jsonl", "folds/fold-0/confusion_test.csv",
                           "folds/fold-1/confusion_test.csv"}) {
    ASSERT_TRUE(files.contains(name)) << name;
    const auto digest = digest_file(run_ / name);
    EXPECT_EQ(files[name].at("bytes").get<std::uint64_t>(), digest.bytes) << name;
    EXPECT_EQ(files[name].at("xxh3").get<std::string>(), fmt::format("{:016x}", digest.xxh3)) << name;
  }
}

TEST_F(RunIntegrity, IntactRunPredictsReportsAndResumes) {
  for (const auto& command : {predict(), report(), resume()}) {
    const auto r = run_command(lyre() + " " + command);
    EXPECT_EQ(r.exit_code, 0) << command << ": " << r.output;
  }
}

TEST_F(RunIntegrity, FlippedByteInGenresIsRefusedByPredict) {
  test::flip_byte(run_ / "genres.txt", 2);
  expect_refused(predict(), run_ / "genres.txt", "is corrupt: checksum");
}

TEST_F(RunIntegrity, TruncatedVocabularyIsRefusedByPredict) {
  test::truncate_file(run_ / "vocab.txt", fs::file_size(run_ / "vocab.txt") - 20);
  expect_refused(predict(), run_ / "vocab.txt", "is truncated or was changed");
}

TEST_F(RunIntegrity, FlippedByteInConfigIsRefusedByPredictAndResume) {
  test::flip_byte(run_ / "config.yaml", fs::file_size(run_ / "config.yaml") / 2);
  expect_refused(predict(), run_ / "config.yaml", "is corrupt: checksum");
  expect_refused(resume(), run_ / "config.yaml", "is corrupt: checksum");
}

TEST_F(RunIntegrity, FlippedByteInACheckpointIsRefusedByPredict) {
  const auto checkpoint = run_ / "folds/fold-1/checkpoint.bin";
  test::flip_byte(checkpoint, fs::file_size(checkpoint) / 2);
  expect_refused(predict(), checkpoint, "is corrupt: checksum");
}

TEST_F(RunIntegrity, DamagedSummaryMetricsOrRunInfoIsRefusedByReport) {
  test::flip_byte(run_ / "summary.json", fs::file_size(run_ / "summary.json") / 2);
  expect_refused(report(), run_ / "summary.json", "is corrupt: checksum");
  fs::copy_file(dir_->path() / "run/summary.json", run_ / "summary.json",
                fs::copy_options::overwrite_existing);
  test::truncate_file(run_ / "metrics.jsonl", fs::file_size(run_ / "metrics.jsonl") - 1);
  expect_refused(report(), run_ / "metrics.jsonl", "is truncated or was changed");
  fs::copy_file(dir_->path() / "run/metrics.jsonl", run_ / "metrics.jsonl",
                fs::copy_options::overwrite_existing);
  test::flip_byte(run_ / "run.json", 10);
  expect_refused(report(), run_ / "run.json", "is corrupt: checksum");
}

TEST_F(RunIntegrity, DamagedIndexIsRefusedNotIgnored) {
  test::write_file(run_ / "checksums.json", "{\"format\": \"lyre-run-checksums-1\", \"files\": ");
  expect_refused(predict(), run_ / "checksums.json", "is corrupt");
}

TEST_F(RunIntegrity, FolderWithoutAnIndexIsReadWithAWarning) {
  fs::remove(run_ / "checksums.json");
  const auto r = run_command(lyre() + " " + predict());
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "has no checksums.json"));
}

}  // namespace
}  // namespace lyre
