// Crash consistency (issue 8): `lyre prepare` and `lyre train` run as real
// processes and are killed with SIGKILL at the crash points every durable
// write passes (engine/core/crash_point.hpp): mid-write of a temporary file,
// after its fsync, after its rename, between metrics lines, around the swap of
// a prepared folder. After each kill, what is left must either be usable as if
// nothing had happened (`lyre inspect` accepts the same prepared folder, `lyre
// train --resume` reaches the same weights, metrics and summary as an
// uninterrupted run) or be refused with a clear error; never a folder that
// looks valid but is not. A few kills at arbitrary moments (not at a crash
// point) and kills of the resuming process itself complete the picture.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "engine/core/files.hpp"
#include "tests/support/run_compare.hpp"
#include "tests/support/test_support.hpp"

namespace lyre {
namespace {

namespace fs = std::filesystem;
using test::contains;
using test::run_command;

std::string lyre() { return test::lyre_binary().string(); }

// A crash point a reference run reached: its number, label and file.
struct CrashPoint {
  std::uint64_t n = 0;
  std::string label;
  fs::path file;
};

std::vector<CrashPoint> read_trace(const fs::path& trace) {
  std::vector<CrashPoint> points;
  std::ifstream in(trace);
  CrashPoint p;
  while (in >> p.n >> p.label >> p.file) points.push_back(p);
  return points;
}

// "checkpoint.bin" for ".../fold-0/checkpoint.bin.tmp-123": the file a point writes.
std::string file_kind(const CrashPoint& p) {
  auto name = p.file.filename().string();
  if (const auto tmp = name.find(".tmp-"); tmp != std::string::npos) name.resize(tmp);
  return name;
}

// The points to kill at: for every kind of file, the first and the last time
// each step of writing it is reached ("flushed", "renamed", ...; for plain writes,
// the middle one of its first and of its last writing), plus `spread` points
// evenly over the whole run. Deterministic, so a failure names a point that
// reproduces: LYRE_TEST_KILL_AT=<n> lyre ...
std::vector<CrashPoint> choose_points(const std::vector<CrashPoint>& all, std::size_t spread) {
  std::map<std::uint64_t, CrashPoint> chosen;
  std::map<std::pair<std::string, std::string>, std::vector<std::vector<CrashPoint>>> runs;
  for (std::size_t i = 0; i < all.size(); ++i) {
    auto& seen = runs[{all[i].label, file_kind(all[i])}];
    // Consecutive points of one label and file are one writing of it.
    if (i == 0 || all[i - 1].label != all[i].label || all[i - 1].file != all[i].file)
      seen.emplace_back();
    seen.back().push_back(all[i]);
  }
  for (const auto& [key, writings] : runs)
    for (const auto* w : {&writings.front(), &writings.back()}) {
      const auto& p = (*w)[w->size() / 2];
      chosen[p.n] = p;
    }
  for (std::size_t k = 0; k < spread; ++k) {
    const auto& p = all[(2 * k + 1) * all.size() / (2 * spread)];
    chosen[p.n] = p;
  }
  std::vector<CrashPoint> out;
  for (const auto& [n, p] : chosen) out.push_back(p);
  std::cout << "killing at " << out.size() << " of " << all.size() << " crash points\n";
  return out;
}

std::string describe(const CrashPoint& p) {
  return "killed at crash point " + std::to_string(p.n) + " (" + p.label + " " + p.file.string() +
         ")";
}

// Every file below `dir` by relative path and content, but for what differs
// between two identical runs (prepare-report.json's clock and memory
// figures) and locks.
std::map<std::string, std::string> contents(const fs::path& dir) {
  std::map<std::string, std::string> files;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    const auto name = e.path().filename().string();
    if (!e.is_regular_file() || name == "prepare-report.json" || name.ends_with(".lock")) continue;
    files[fs::relative(e.path(), dir).string()] = test::read_file(e.path());
  }
  return files;
}

std::vector<std::string> names_in(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

// Fast scratch space: fsync costs nothing on tmpfs, and a SIGKILL (unlike a
// power cut) leaves the page cache as it was, so what these tests check does
// not depend on the disk.
fs::path scratch_parent() {
  std::error_code ec;
  // A container's /dev/shm may be as small as 64 MB: use it only with room to spare.
  if (fs::is_directory("/dev/shm", ec) && ::access("/dev/shm", W_OK) == 0 &&
      fs::space("/dev/shm", ec).available > (512ull << 20))
    return "/dev/shm";
  return fs::temp_directory_path();
}

class ScratchDir {
 public:
  ScratchDir() {
    std::string pattern = (scratch_parent() / "lyre-crash-XXXXXX").string();
    if (!::mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~ScratchDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  fs::path operator/(std::string_view name) const { return path_ / name; }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

std::string config_text(const fs::path& prepared, const fs::path& cache, int per_genre) {
  return "name: crash\nseed: 5\ndata:\n  source: synthetic\n"
         "  synthetic: {songs: 600, seed: 4}\n  top_genres: 3\n  per_genre: " +
         std::to_string(per_genre) + "\n  prepared: " + prepared.string() +
         "\n  glove: {path: " + (test::source_dir() / "data/glove/glove.6B.100d.synth-subset.txt").string() +
         ", dim: 100, cache_dir: " + cache.string() + "}\n"
         "model: {embedding: {dim: 100, init: glove}, hidden: 8, max_len: 24}\n"
         "train: {backend: cpu, epochs: 3, batch_size: 16, threads: 1}\ncv: {folds: 2}\n";
}

// ---- prepare ---------------------------------------------------------------------------------

class PrepareKill : public ::testing::Test {
 protected:
  // The reference: an uninterrupted prepare, traced, and the same config
  // with more songs a genre prepared over it (a re-prepare), traced too.
  static void SetUpTestSuite() {
    dir_ = new ScratchDir;
    ASSERT_EQ(prepare(*dir_ / "ref", "", *dir_ / "fresh.trace"), 0);
    fresh_ = contents(*dir_ / "ref" / "prepared");
    ASSERT_EQ(prepare(*dir_ / "re", "", {}), 0);
    ASSERT_EQ(prepare(*dir_ / "re", "", *dir_ / "replace.trace", 35), 0);
    replaced_ = contents(*dir_ / "re" / "prepared");
    ASSERT_NE(fresh_, replaced_);
  }
  static void TearDownTestSuite() { delete dir_; }

  // `lyre prepare` in `work` (prepared/ and cache/ below it); exit status.
  static int prepare(const fs::path& work, const std::string& env, const fs::path& trace,
                     int per_genre = 25) {
    fs::create_directories(work);
    const auto config = test::write_file(
        work / "c.yaml", config_text(work / "prepared", work / "cache", per_genre));
    std::string command = env;
    if (!trace.empty()) command += " LYRE_TEST_CRASH_TRACE=" + trace.string();
    return run_command(command + " " + lyre() + " -q prepare --config " + config.string())
        .exit_code;
  }
  static test::CommandResult inspect(const fs::path& work) {
    return run_command(lyre() + " inspect " + (work / "prepared").string());
  }

  static ScratchDir* dir_;
  static std::map<std::string, std::string> fresh_, replaced_;
};
ScratchDir* PrepareKill::dir_ = nullptr;
std::map<std::string, std::string> PrepareKill::fresh_, PrepareKill::replaced_;

TEST_F(PrepareKill, FreshFolderIsCompleteOrAbsentAndThePrepareCanBeRun) {
  const auto points = choose_points(read_trace(*dir_ / "fresh.trace"), 8);
  ASSERT_GE(points.size(), 20u);
  std::set<std::string> kinds;
  for (const auto& p : points) {
    SCOPED_TRACE(describe(p));
    kinds.insert(file_kind(p));
    ScratchDir work;
    ASSERT_EQ(prepare(work.path(), "LYRE_TEST_KILL_AT=" + std::to_string(p.n), {}), 128 + SIGKILL);
    const auto r = inspect(work.path());
    if (r.exit_code == 0) {
      EXPECT_EQ(contents(work / "prepared"), fresh_) << r.output;
    } else {
      // Only a folder that never got swapped in is refused: it is not there.
      EXPECT_EQ(r.exit_code, 2) << r.output;
      EXPECT_FALSE(fs::exists(work / "prepared"));
      EXPECT_TRUE(contains(r.output, (work / "prepared").string())) << r.output;
    }
    // Running it again gives the reference folder and sweeps the killed one's staging.
    ASSERT_EQ(prepare(work.path(), "", {}), 0);
    EXPECT_EQ(contents(work / "prepared"), fresh_);
    EXPECT_EQ(names_in(work.path()), (std::vector<std::string>{"c.yaml", "cache", "prepared"}));
  }
  // The points covered every file prepare writes, the swap included.
  for (const auto* kind : {"manifest.yaml", "shard-00000.bin", "embedding.bin", "vocab.txt",
                           "prepared", "lyrics-data.csv"})
    EXPECT_TRUE(kinds.contains(kind)) << kind;
  EXPECT_TRUE(std::any_of(kinds.begin(), kinds.end(),
                          [](const auto& k) { return k.starts_with("glove-"); }));
}

TEST_F(PrepareKill, ReplacedFolderIsTheOldOneOrTheNewOneNeverAMix) {
  const auto points = choose_points(read_trace(*dir_ / "replace.trace"), 6);
  ASSERT_GE(points.size(), 20u);
  for (const auto& p : points) {
    SCOPED_TRACE(describe(p));
    ScratchDir work;
    ASSERT_EQ(prepare(work.path(), "", {}), 0);
    ASSERT_EQ(prepare(work.path(), "LYRE_TEST_KILL_AT=" + std::to_string(p.n), {}, 35),
              128 + SIGKILL);
    const auto r = inspect(work.path());
    ASSERT_EQ(r.exit_code, 0) << r.output;
    const auto now = contents(work / "prepared");
    EXPECT_TRUE(now == fresh_ || now == replaced_);
    ASSERT_EQ(prepare(work.path(), "", {}, 35), 0);
    EXPECT_EQ(contents(work / "prepared"), replaced_);
    EXPECT_EQ(names_in(work.path()), (std::vector<std::string>{"c.yaml", "cache", "prepared"}));
  }
}

// ---- train -----------------------------------------------------------------------------------

class TrainKill : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new ScratchDir;
    config_ = test::write_file(*dir_ / "c.yaml",
                               config_text(*dir_ / "prepared", *dir_ / "cache", 25));
    ASSERT_EQ(run_command(lyre() + " -q prepare --config " + config_.string()).exit_code, 0);
    const auto r = run_command("LYRE_TEST_CRASH_TRACE=" + (*dir_ / "train.trace").string() + " " +
                               train_command(*dir_ / "ref"));
    ASSERT_EQ(r.exit_code, 0) << r.output;
  }
  static void TearDownTestSuite() { delete dir_; }

  static std::string train_command(const fs::path& run) {
    return lyre() + " -q train --config " + config_.string() + " --out " + run.string();
  }
  static std::string resume_command(const fs::path& run) {
    return lyre() + " -q train --resume " + run.string();
  }

  // `run`, resumed after a kill, equals the uninterrupted reference: every
  // fold's weights bit for bit, metrics, summary and test confusion matrices,
  // and every file its checksums.json lists has the recorded size and digest
  // (what predict, report, merge and --resume check before reading).
  static void expect_same_as_reference(const fs::path& run) {
    const auto ref = *dir_ / "ref";
    for (int f = 0; f < 2; ++f) {
      EXPECT_EQ(test::fold_params(run, f), test::fold_params(ref, f)) << "fold " << f;
      const auto confusion = fs::path("folds") / ("fold-" + std::to_string(f)) / "confusion_test.csv";
      EXPECT_EQ(test::read_file(run / confusion), test::read_file(ref / confusion));
    }
    EXPECT_EQ(test::metrics_without_timing(run), test::metrics_without_timing(ref));
    EXPECT_EQ(test::summary_without_timing(run), test::summary_without_timing(ref));
    const auto index = nlohmann::json::parse(test::read_file(run / "checksums.json"));
    EXPECT_EQ(index.at("files").size(),
              nlohmann::json::parse(test::read_file(ref / "checksums.json")).at("files").size());
    for (const auto& [name, entry] : index.at("files").items()) {
      const FileDigest recorded{entry.at("bytes").get<std::uint64_t>(),
                                std::stoull(entry.at("xxh3").get<std::string>(), nullptr, 16)};
      EXPECT_NO_THROW(verify_file(run / name, recorded, "checksums.json")) << name;
    }
  }
  // The same, and the commands that read a finished run accept it.
  static void expect_usable_as_reference(const fs::path& run) {
    expect_same_as_reference(run);
    auto r = run_command(lyre() + " -q predict --run " + run.string() + " --text 'love me baby'");
    EXPECT_EQ(r.exit_code, 0) << r.output;
    r = run_command(lyre() + " -q report " + run.string());
    EXPECT_EQ(r.exit_code, 0) << r.output;
  }

  static ScratchDir* dir_;
  static fs::path config_;
};
ScratchDir* TrainKill::dir_ = nullptr;
fs::path TrainKill::config_;

TEST_F(TrainKill, ResumeReachesTheUninterruptedRunOrRefusesARunThatNeverStarted) {
  const auto all = read_trace(*dir_ / "train.trace");
  // Before run.json exists the run has not started: refusing it is allowed.
  const auto started = std::find_if(all.begin(), all.end(), [](const CrashPoint& p) {
                         return p.label == "renamed" && file_kind(p) == "run.json";
                       })->n;
  const auto points = choose_points(all, 8);
  ASSERT_GE(points.size(), 20u);
  std::set<std::string> kinds;
  for (const auto& p : points) {
    SCOPED_TRACE(describe(p));
    kinds.insert(file_kind(p));
    ScratchDir work;
    const auto run = work / "run";
    ASSERT_EQ(run_command("LYRE_TEST_KILL_AT=" + std::to_string(p.n) + " " + train_command(run))
                  .exit_code,
              128 + SIGKILL);
    const auto r = run_command(resume_command(run));
    if (r.exit_code == 0) {
      expect_same_as_reference(run);
    } else {
      EXPECT_EQ(r.exit_code, 2) << r.output;
      EXPECT_LT(p.n, started) << "a run that had started training was refused: " << r.output;
      EXPECT_TRUE(contains(r.output, run.string())) << r.output;
      EXPECT_FALSE(fs::exists(run / "summary.json"));
    }
  }
  for (const auto* kind : {"checkpoint.bin", "metrics.jsonl", "checksums.json", "summary.json",
                           "confusion_test.csv", "config.yaml", "run.json"})
    EXPECT_TRUE(kinds.contains(kind)) << kind;
}

TEST_F(TrainKill, KillingTheResumeItselfStillEndsAtTheSameWeights) {
  const auto all = read_trace(*dir_ / "train.trace");
  // Points in the second and third quarters of the run: mid-training.
  for (const double at : {0.3, 0.5, 0.7}) {
    const auto& first = all[static_cast<std::size_t>(at * static_cast<double>(all.size()))];
    SCOPED_TRACE(describe(first));
    ScratchDir work;
    const auto run = work / "run";
    ASSERT_EQ(run_command("LYRE_TEST_KILL_AT=" + std::to_string(first.n) + " " +
                          train_command(run)).exit_code,
              128 + SIGKILL);
    // The resume dies too, a few points in (its first checkpoint or index write).
    for (const int second : {5, 40}) {
      const auto r = run_command("LYRE_TEST_KILL_AT=" + std::to_string(second) + " " +
                                 resume_command(run));
      ASSERT_TRUE(r.exit_code == 128 + SIGKILL || r.exit_code == 0) << second << ": " << r.output;
    }
    const auto r = run_command(resume_command(run));
    ASSERT_EQ(r.exit_code, 0) << r.output;
    expect_usable_as_reference(run);
  }
}

TEST_F(TrainKill, KillsAtArbitraryMomentsResumeToTheSameWeights) {
  // A kill from outside at moments that are no crash point: while computing,
  // while reading, while the kernel writes. The delays spread over the time
  // an uninterrupted run takes, measured again whenever a run outlives its
  // kill (a loaded machine is slower, never faster, than the estimate).
  const auto timed = [&](const fs::path& run) {
    const auto start = std::chrono::steady_clock::now();
    EXPECT_EQ(run_command(train_command(run)).exit_code, 0);
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };
  double seconds = timed(*dir_ / "timed");
  int killed = 0;
  for (int k = 0; k < 16 && killed < 8; ++k) {
    ScratchDir work;
    const auto run = work / "run";
    test::Background child({lyre(), "-q", "train", "--config", config_.string(), "--out", run.string()},
                           work / "train.log");
    const double delay = seconds * ((k % 8) + 1) / 9.0;
    SCOPED_TRACE("SIGKILL after " + std::to_string(delay) + " s");
    std::this_thread::sleep_for(std::chrono::duration<double>(delay));
    child.signal(SIGKILL);
    const int status = child.wait(60);
    ASSERT_TRUE(status == 0 || status == 1000 + SIGKILL) << status;
    if (status == 0) seconds /= 2;  // it finished first: the machine is faster now
    if (status != 0) ++killed;
    const auto r = run_command(resume_command(run));
    if (r.exit_code == 0) {
      expect_usable_as_reference(run);
    } else {
      // Killed before the run folder was complete enough to resume.
      EXPECT_EQ(r.exit_code, 2) << r.output;
      EXPECT_TRUE(contains(r.output, run.string())) << r.output;
      EXPECT_FALSE(fs::exists(run / "summary.json"));
    }
  }
  EXPECT_EQ(killed, 8) << "the kills should land while the run is going on";
}

// ---- a full disk ----------------------------------------------------------------------------

// A small tmpfs mounted on a fresh folder for one test (needs root, or
// CAP_SYS_ADMIN: CI has it; elsewhere the tests say why they skip).
class TmpfsMount {
 public:
  TmpfsMount(fs::path dir, std::uint64_t bytes) : dir_(std::move(dir)) {
    fs::create_directories(dir_);
    const auto r = run_command("mount -t tmpfs -o size=" + std::to_string(bytes) + " tmpfs " +
                               dir_.string());
    mounted_ = r.exit_code == 0;
    why_ = r.output;
  }
  ~TmpfsMount() {
    if (mounted_) run_command("umount " + dir_.string());
  }
  TmpfsMount(const TmpfsMount&) = delete;
  TmpfsMount& operator=(const TmpfsMount&) = delete;
  bool mounted() const { return mounted_; }
  const std::string& why_not() const { return why_; }

 private:
  fs::path dir_;
  bool mounted_ = false;
  std::string why_;
};

std::uint64_t bytes_below(const fs::path& dir) {
  std::uint64_t total = 0;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.is_regular_file()) total += e.file_size();
  return total;
}

// Fills `dir` (a tmpfs) so that only about `keep` bytes stay free.
void fill_leaving(const fs::path& dir, std::uint64_t keep) {
  const auto space = fs::space(dir);
  ASSERT_GT(space.available, keep);
  std::ofstream filler(dir / "filler", std::ios::binary);
  const std::string block(1 << 16, 'x');
  for (auto left = space.available - keep; left > 0;) {
    const auto n = std::min<std::uint64_t>(left, block.size());
    filler.write(block.data(), static_cast<std::streamsize>(n));
    left -= n;
  }
  filler.close();
  ASSERT_TRUE(filler.good());
}

TEST(FullDisk, PrepareFailsClearlyAndKeepsTheEarlierFolder) {
  test::TempDir work;
  const auto disk = work / "disk";
  const auto cache = work / "cache";  // the GloVe cache lives elsewhere
  // Room for one prepared folder and a half: the re-prepare's staging copy
  // runs out of space while the old folder is still there.
  test::TempDir probe;
  test::write_file(probe / "c.yaml", config_text(probe / "prepared", cache, 35));
  ASSERT_EQ(run_command(lyre() + " -q prepare --config " + (probe / "c.yaml").string()).exit_code, 0);
  const auto folder = bytes_below(probe / "prepared");
  const TmpfsMount mount(disk, folder * 3 / 2 + (64 << 10));
  if (!mount.mounted()) GTEST_SKIP() << "cannot mount a tmpfs here: " << mount.why_not();

  const auto config = test::write_file(work / "c.yaml", config_text(disk / "prepared", cache, 35));
  ASSERT_EQ(run_command(lyre() + " -q prepare --config " + config.string()).exit_code, 0);
  const auto before = contents(disk / "prepared");
  const auto r = run_command(lyre() + " -q prepare --config " + config.string() +
                             " --set data.per_genre=40");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_TRUE(contains(r.output, "No space left on device")) << r.output;
  EXPECT_TRUE(contains(r.output, (disk / "prepared.staging-").string())) << r.output;
  // The earlier folder is whole and valid, and nothing is left beside it.
  EXPECT_EQ(contents(disk / "prepared"), before);
  EXPECT_EQ(run_command(lyre() + " inspect " + (disk / "prepared").string()).exit_code, 0);
  EXPECT_EQ(names_in(disk), std::vector<std::string>{"prepared"});
}

TEST(FullDisk, CheckpointFailsClearlyKeepsTheLastOneAndResumes) {
  test::TempDir work;
  const auto config = test::write_file(work / "c.yaml",
                                       config_text(work / "prepared", work / "cache", 25));
  ASSERT_EQ(run_command(lyre() + " -q prepare --config " + config.string()).exit_code, 0);
  const auto train = [&](const fs::path& run) {
    return run_command(lyre() + " -q train --no-report --config " + config.string() + " --out " +
                       run.string());
  };
  ASSERT_EQ(train(work / "ref").exit_code, 0);
  const auto checkpoint = fs::file_size(work / "ref" / "folds" / "fold-0" / "checkpoint.bin");

  const auto disk = work / "disk";
  const TmpfsMount mount(disk, 16 << 20);
  if (!mount.mounted()) GTEST_SKIP() << "cannot mount a tmpfs here: " << mount.why_not();
  // Room for the run's small files and one checkpoint and a half: epoch 1's
  // checkpoint fits, epoch 2's temporary copy beside it does not.
  fill_leaving(disk, checkpoint * 3 / 2 + (128 << 10));
  const auto run = disk / "run";
  const auto r = train(run);
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_TRUE(contains(r.output, "No space left on device")) << r.output;
  EXPECT_TRUE(contains(r.output, (run / "folds" / "fold-0" / "checkpoint.bin").string())) << r.output;
  // Epoch 1's checkpoint is intact, and no temporary file is left.
  const auto fold0 = run / "folds" / "fold-0";
  EXPECT_EQ(names_in(fold0), std::vector<std::string>{"checkpoint.bin"});
  EXPECT_NO_THROW(test::fold_params(run, 0));
  // Space freed, the run resumes to the weights of the uninterrupted one.
  fs::remove(disk / "filler");
  const auto resumed = run_command(lyre() + " -q train --no-report --resume " + run.string());
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  for (int f = 0; f < 2; ++f)
    EXPECT_EQ(test::fold_params(run, f), test::fold_params(work / "ref", f)) << "fold " << f;
  EXPECT_EQ(test::summary_without_timing(run), test::summary_without_timing(work / "ref"));
}

}  // namespace
}  // namespace lyre
