// Data-parallel training as users start it: `mpirun -np 2 lyre train ...` on
// this machine (loopback), against one process computing the same two slices
// of every batch (train.micro_batches = 2). The CPU path sums the slices'
// gradients in rank order, so the two must agree bit for bit: weights,
// metrics, summary. Also: a rank killed mid-run ends the job with an error,
// leaves the run folder resumable, and the resumed run is the same run.
#include <gtest/gtest.h>

#include <sys/types.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <thread>

#include <nlohmann/json.hpp>

#include "engine/train/checkpoint.hpp"
#include "engine/train/run_dir.hpp"
#include "tests/support/run_compare.hpp"
#include "tests/support/test_support.hpp"

namespace lyre {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using test::run_command;
using test::TempDir;

using test::fold_params;

// The lyre processes (ranks) whose command line names `run`, from /proc.
std::vector<int> lyre_processes_writing(const fs::path& run) {
  std::vector<int> pids;
  for (const auto& entry : fs::directory_iterator("/proc")) {
    const auto name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::string cmdline;
    try {
      cmdline = test::read_file(entry.path() / "cmdline");
    } catch (...) {
      continue;  // gone meanwhile
    }
    const auto argv0 = cmdline.substr(0, cmdline.find('\0'));
    if (argv0 == test::lyre_binary().string() && cmdline.find(run.string()) != std::string::npos)
      pids.push_back(std::stoi(name));
  }
  std::sort(pids.begin(), pids.end());
  return pids;
}

// Root may run mpirun only when told so; oversubscribe: CI has 2 cores.
// LYRE_MPI_RANK_ENV: extra environment for the ranks (tests/CMakeLists.txt).
std::string mpirun(int ranks) {
  return fmt::format("env OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 {} {} -np {} "
                     "--oversubscribe --bind-to none",
                     LYRE_MPI_RANK_ENV, LYRE_MPIEXEC, ranks);
}

class MpiTrainTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir;
    config_ = test::write_file(*dir_ / "c.yaml", fmt::format(R"(name: mpi
seed: 13
data:
  source: synthetic
  synthetic: {{songs: 2000, seed: 9}}
  top_genres: 4
  per_genre: 50
  prepared: {}
model:
  embedding: {{dim: 16, init: random}}
  hidden: 16
  max_len: 40
train:
  backend: cpu
  batch_size: 15
  epochs: 4
  threads: 1
  optimizer: {{lr: 0.03}}
cv:
  folds: 2
)",
                                                             (*dir_ / "prepared").string()));
    const auto r = run_command(lyre() + " -q prepare --config " + config_.string());
    ASSERT_EQ(r.exit_code, 0) << r.output;
  }
  static void TearDownTestSuite() { delete dir_; }

  void SetUp() override {
    if (std::string(LYRE_MPIEXEC).empty() || !fs::exists(LYRE_MPIEXEC))
      GTEST_SKIP() << "no mpirun found at configure time (Debian: openmpi-bin)";
  }

  static std::string lyre() { return test::lyre_binary().string(); }
  static std::string train(const fs::path& out, const std::string& extra = "") {
    return fmt::format("{} train --config {} --out {} --no-report {}", lyre(), config_.string(),
                       out.string(), extra);
  }
  static TempDir* dir_;
  static fs::path config_;
};
TempDir* MpiTrainTest::dir_ = nullptr;
fs::path MpiTrainTest::config_;

TEST_F(MpiTrainTest, TwoRanksEqualOneProcessWithTwoMicroBatchesBitForBit) {
  TempDir out;
  const auto one = run_command(train(out / "one", "--set train.micro_batches=2"));
  ASSERT_EQ(one.exit_code, 0) << one.output;
  const auto two = run_command(mpirun(2) + " " + train(out / "two"));
  ASSERT_EQ(two.exit_code, 0) << two.output;
  EXPECT_TRUE(test::contains(two.output, "data-parallel over MPI, 2 ranks")) << two.output;
  for (int f = 0; f < 2; ++f) EXPECT_EQ(fold_params(out / "one", f), fold_params(out / "two", f));
  EXPECT_EQ(test::metrics_without_timing(out / "two"), test::metrics_without_timing(out / "one"));
  EXPECT_EQ(test::summary_without_timing(out / "two"), test::summary_without_timing(out / "one"));
  // It learned something (the comparison is not of two untrained models).
  const auto lines = read_metrics(out / "two");
  ASSERT_EQ(lines.size(), 8u);
  EXPECT_LT(lines[3].at("train").at("loss").get<double>(),
            lines[0].at("train").at("loss").get<double>() - 0.03);
}

TEST_F(MpiTrainTest, AKilledRankEndsTheJobAndTheRunResumesToTheSameWeights) {
  TempDir out;
  const std::string epochs = "--set train.epochs=40";
  const auto reference = run_command(train(out / "one", epochs + " --set train.micro_batches=2"));
  ASSERT_EQ(reference.exit_code, 0) << reference.output;

  const auto run = out / "cut";
  test::Background job({"/bin/sh", "-c", "exec " + mpirun(2) + " " + train(run, epochs)},
                       out / "cut.log");
  // Kill rank 1 once fold 0 has its first checkpoint (an epoch is done).
  const auto checkpoint = run / "folds" / "fold-0" / "checkpoint.bin";
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (!fs::exists(checkpoint) && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  ASSERT_TRUE(fs::exists(checkpoint)) << test::read_file(out / "cut.log");
  const auto pids = lyre_processes_writing(run);
  ASSERT_EQ(pids.size(), 2u) << "expected the two ranks";
  ASSERT_EQ(::kill(pids.back(), SIGKILL), 0);
  const int status = job.wait(60);
  const auto log = test::read_file(out / "cut.log");
  EXPECT_NE(status, 0) << log;
  EXPECT_NE(status, -1) << "mpirun still runs 60 s after a rank died:\n" << log;
  EXPECT_TRUE(test::contains(log, "rank 1")) << log;
  EXPECT_FALSE(fs::exists(run / "summary.json"));

  // The run folder was not corrupted: the checkpoints load, and resuming with
  // two ranks again reaches exactly the uninterrupted run.
  ASSERT_NO_THROW(load_stored_model(checkpoint));
  const auto resumed = run_command(mpirun(2) + " " + lyre() + " train --no-report --resume " +
                                   run.string());
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  for (int f = 0; f < 2; ++f) EXPECT_EQ(fold_params(run, f), fold_params(out / "one", f)) << f;
  EXPECT_EQ(test::summary_without_timing(run), test::summary_without_timing(out / "one"));
}

TEST_F(MpiTrainTest, MicroBatchesWithSeveralRanksAreRefusedOnEveryRank) {
  TempDir out;
  const auto r = run_command(mpirun(2) + " " + train(out / "x", "--set train.micro_batches=2"));
  EXPECT_NE(r.exit_code, 0) << r.output;
  EXPECT_TRUE(test::contains(r.output, "train.micro_batches = 2 in a job of 2 ranks")) << r.output;
}

}  // namespace
}  // namespace lyre
