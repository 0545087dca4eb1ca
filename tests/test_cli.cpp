// The `lyre` binary as batch jobs use it: exit codes (0 ok, 2 bad input) and
// messages that name the file, line or key.
#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <thread>

#include "tests/support/test_support.hpp"

namespace lyre {
namespace {

namespace fs = std::filesystem;
using test::run_command;
using test::TempDir;

std::string lyre() { return test::lyre_binary().string(); }

// A small synthetic corpus prepared once for the suite.
class CliTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir;
    config_ = test::write_file(*dir_ / "c.yaml", fmt_config(*dir_ / "prepared"));
    const auto r = run_command(lyre() + " prepare --config " + config_.string());
    ASSERT_EQ(r.exit_code, 0) << r.output;
  }
  static void TearDownTestSuite() { delete dir_; }
  static std::string fmt_config(const fs::path& prepared) {
    return "name: cli\ndata:\n  source: synthetic\n  synthetic: {songs: 1500, seed: 3}\n"
           "  top_genres: 4\n  per_genre: 40\n  prepared: " +
           prepared.string() + "\n";
  }
  static TempDir* dir_;
  static fs::path config_;
};
TempDir* CliTest::dir_ = nullptr;
fs::path CliTest::config_;

TEST_F(CliTest, HelpListsEveryCommand) {
  const auto r = run_command(lyre() + " --help");
  EXPECT_EQ(r.exit_code, 0);
  for (const char* command : {"synth", "prepare", "inspect", "train", "ablate", "predict", "bench",
                              "config", "report", "merge", "export"})
    EXPECT_NE(r.output.find(command), std::string::npos) << command;
}

TEST_F(CliTest, PreparePrintsStageCounts) {
  TempDir out;
  const auto r = run_command(lyre() + " prepare --config " + config_.string() + " --out " +
                             (out / "p").string());
  EXPECT_EQ(r.exit_code, 0) << r.output;
  for (const char* stage : {"after the join", "language = en", "selected"})
    EXPECT_NE(r.output.find(stage), std::string::npos) << stage;
}

TEST_F(CliTest, InspectValidatesAndPrintsCounts) {
  const auto r = run_command(lyre() + " inspect " + (dir_->path() / "prepared").string());
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("valid"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("160"), std::string::npos) << r.output;  // 4 genres x 40 songs
}

TEST_F(CliTest, InspectNamesACorruptShard) {
  TempDir copy;
  fs::copy(dir_->path() / "prepared", copy / "p", fs::copy_options::recursive);
  test::flip_byte(copy / "p" / "shard-00000.bin", 100);
  const auto r = run_command(lyre() + " inspect " + (copy / "p").string());
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("shard-00000.bin"), std::string::npos) << r.output;
}

TEST_F(CliTest, InspectOfAnEmptyFolderSaysPrepareFirst) {
  TempDir empty;
  const auto r = run_command(lyre() + " inspect " + empty.path().string());
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("lyre prepare"), std::string::npos) << r.output;
}

TEST_F(CliTest, UnknownConfigKeyIsNamedWithItsLine) {
  TempDir d;
  const auto bad = test::write_file(d / "bad.yaml", "name: x\nmodel:\n  hiden: 3\n");
  const auto r = run_command(lyre() + " config --config " + bad.string());
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("bad.yaml:3"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("model.hidden"), std::string::npos) << r.output;
}

TEST_F(CliTest, BadSetIsRefused) {
  const auto r = run_command(lyre() + " config --config " + config_.string() + " --set model.hidden=-1");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("model.hidden"), std::string::npos) << r.output;
}

TEST_F(CliTest, MissingConfigFileIsAUsageError) {
  const auto r = run_command(lyre() + " prepare --config /nonexistent.yaml");
  EXPECT_EQ(r.exit_code, 2) << r.output;
}

TEST_F(CliTest, TrainWithoutPreparedDataSaysWhatToRun) {
  TempDir d;
  const auto c = test::write_file(d / "c.yaml", fmt_config(d / "never-prepared"));
  const auto r = run_command(lyre() + " train --config " + c.string() + " --set train.backend=cpu");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("lyre prepare"), std::string::npos) << r.output;
}

TEST_F(CliTest, CudaWithoutADeviceIsAClearError) {
  if (fs::exists("/dev/nvidia0")) GTEST_SKIP() << "this machine has a GPU";
  const auto r = run_command(lyre() + " train --config " + config_.string() +
                             " --set train.backend=cuda --out " + (dir_->path() / "cuda-run").string());
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("train.backend = cuda"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(dir_->path() / "cuda-run" / "summary.json"));
}

// A real signal to the real binary: the run stops at the next batch, saves
// every fold's checkpoint, writes no summary and exits with 128 + signal.
void expect_clean_stop(const fs::path& config, int signal_number) {
  TempDir d;
  const auto run = d / "run";
  test::Background train({lyre(), "train", "--config", config.string(), "--out", run.string(),
                          "--no-report", "--set", "train.epochs=500", "--set", "cv.folds=2",
                          "--set", "train.backend=cpu"},
                         d / "log.txt");
  // Wait until the first epoch has finished: training is surely under way.
  for (int i = 0; i < 3000 && !fs::exists(run / "metrics.jsonl"); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  ASSERT_TRUE(fs::exists(run / "metrics.jsonl")) << test::read_file(d / "log.txt");
  train.signal(signal_number);
  // It exits by itself with 128 + N (a process the signal killed would read 1000 + N).
  EXPECT_EQ(train.wait(120), 128 + signal_number) << test::read_file(d / "log.txt");
  const auto log = test::read_file(d / "log.txt");
  EXPECT_NE(log.find("fold 0: stopped in epoch"), std::string::npos) << log;
  EXPECT_NE(log.find("--resume"), std::string::npos) << log;
  EXPECT_TRUE(fs::exists(run / "folds" / "fold-0" / "checkpoint.bin"));
  EXPECT_TRUE(fs::exists(run / "folds" / "fold-1" / "checkpoint.bin"));
  EXPECT_FALSE(fs::exists(run / "summary.json"));
}

TEST_F(CliTest, SigintCheckpointsAndExitsCleanly) { expect_clean_stop(config_, SIGINT); }
TEST_F(CliTest, SigtermCheckpointsAndExitsCleanly) { expect_clean_stop(config_, SIGTERM); }

TEST_F(CliTest, SynthWritesBothKaggleFiles) {
  TempDir d;
  const auto r = run_command(lyre() + " synth --out " + (d / "raw").string() + " --songs 200 --seed 5");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(fs::exists(d / "raw" / "artists-data.csv"));
  EXPECT_TRUE(fs::exists(d / "raw" / "lyrics-data.csv"));
}

}  // namespace
}  // namespace lyre
