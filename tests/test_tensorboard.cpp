// TensorBoard event files: CRC-32C and TFRecord framing against known answers,
// the protobuf bytes of an Event, the one-file-per-fold rewrite, and real
// round trips through the `tensorboard` package's own reader
// (tests/reference/read_tensorboard.py) after a run, an ablation, a flipped
// byte and an interrupted then resumed run.
#include <gtest/gtest.h>

#include <cstring>
#include <map>
#include <optional>

#include "data/prepare.hpp"
#include "engine/core/signals.hpp"
#include "engine/report/tensorboard.hpp"
#include "engine/train/run_dir.hpp"
#include "engine/train/trainer.hpp"
#include "tests/support/test_support.hpp"

namespace lyre {
namespace {

namespace fs = std::filesystem;
namespace tb = tensorboard;
using nlohmann::json;
using test::contains;
using test::TempDir;

std::uint64_t little_endian(std::string_view bytes) {
  std::uint64_t v = 0;
  for (std::size_t i = bytes.size(); i-- > 0;) v = (v << 8) | static_cast<unsigned char>(bytes[i]);
  return v;
}

std::string hex(std::string_view bytes) {
  std::string out;
  for (const char c : bytes) out += fmt::format("{:02x}", static_cast<unsigned char>(c));
  return out;
}

// The records of an event file, each checked against its framing.
struct Record {
  std::size_t offset = 0;  // of the record's length field
  std::string data;
};
std::vector<Record> read_records(const std::string& file) {
  std::vector<Record> records;
  std::size_t at = 0;
  while (at < file.size()) {
    EXPECT_LE(at + 12, file.size()) << "torn header at " << at;
    if (at + 12 > file.size()) break;
    const auto length = little_endian(std::string_view(file).substr(at, 8));
    EXPECT_EQ(little_endian(std::string_view(file).substr(at + 8, 4)),
              tb::masked_crc32c(std::string_view(file).substr(at, 8)));
    EXPECT_LE(at + 12 + length + 4, file.size()) << "torn record at " << at;
    if (at + 12 + length + 4 > file.size()) break;
    Record r{at, file.substr(at + 12, length)};
    EXPECT_EQ(little_endian(std::string_view(file).substr(at + 12 + length, 4)), tb::masked_crc32c(r.data));
    records.push_back(std::move(r));
    at += 12 + length + 4;
  }
  return records;
}

std::vector<fs::path> event_files(const fs::path& dir) {
  std::vector<fs::path> files;
  if (!fs::is_directory(dir)) return files;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().filename().string().find("tfevents") != std::string::npos) files.push_back(e.path());
  return files;
}

// ---- format ----------------------------------------------------------------

TEST(TensorBoardFormat, Crc32cKnownAnswers) {
  EXPECT_EQ(tb::crc32c("123456789"), 0xE3069283u);  // the CRC catalogue's check value
  EXPECT_EQ(tb::crc32c(""), 0u);
  // RFC 3720 (iSCSI), B.4: 32 bytes of zeros, of ones.
  EXPECT_EQ(tb::crc32c(std::string(32, '\0')), 0x8A9136AAu);
  EXPECT_EQ(tb::crc32c(std::string(32, '\xff')), 0x62A8AB43u);
  // TFRecord's mask: rotate right by 15, add 0xa282ead8.
  EXPECT_EQ(tb::masked_crc32c(""), 0xa282ead8u);
  EXPECT_EQ(tb::masked_crc32c("123456789"), 0xc78ab0e5u);
}

TEST(TensorBoardFormat, RecordFraming) {
  std::string file;
  tb::append_record(file, "abc");
  ASSERT_EQ(file.size(), 8u + 4u + 3u + 4u);
  EXPECT_EQ(hex(file.substr(0, 8)), "0300000000000000");  // u64 length, little-endian
  EXPECT_EQ(little_endian(file.substr(8, 4)), tb::masked_crc32c(file.substr(0, 8)));
  EXPECT_EQ(file.substr(12, 3), "abc");
  EXPECT_EQ(little_endian(file.substr(15, 4)), tb::masked_crc32c("abc"));
  // Records follow one another without padding; an empty one is 16 bytes.
  tb::append_record(file, "");
  tb::append_record(file, std::string(300, 'x'));
  const auto records = read_records(file);
  ASSERT_EQ(records.size(), 3u);
  EXPECT_EQ(records[1].offset, 19u);
  EXPECT_EQ(records[1].data, "");
  EXPECT_EQ(records[2].offset, 35u);
  EXPECT_EQ(records[2].data, std::string(300, 'x'));
  EXPECT_EQ(file.size(), 35u + 16u + 300u);
}

TEST(TensorBoardFormat, EventProtobufBytes) {
  // wall_time (1, fixed64 1.5), file_version (3, "brain.Event:2")
  EXPECT_EQ(hex(tb::file_version_event(1.5)),
            "09" "000000000000f83f" "1a0d" + hex("brain.Event:2"));
  // wall_time 2.0, step (2, varint 300 = ac 02), summary (5) { value (1) {
  // tag (1) "a", simple_value (2, fixed32 1.0f) } }
  const std::vector<tb::Scalar> scalars = {{"a", 1.0f}};
  EXPECT_EQ(hex(tb::scalars_event(2.0, 300, scalars)),
            "09" "0000000000000040" "10ac02" "2a0a" "0a08" "0a0161" "150000803f");
}

TEST(TensorBoardFormat, EpochScalarsAreEveryMetricOfBothPartsAndTheLearningRate) {
  json metrics;
  for (std::size_t i = 0; i < tb::kEpochMetrics.size(); ++i)
    metrics[std::string(tb::kEpochMetrics[i])] = 0.25 * static_cast<double>(i);
  metrics["songs"] = 10;            // counts and per-class lists are not scalars
  metrics["class_recall"] = {0.5};
  const json line = {{"fold", 0}, {"epoch", 1}, {"train", metrics}, {"validation", metrics}};
  const auto scalars = tb::epoch_scalars(line, 0.002);
  ASSERT_EQ(scalars.size(), 2 * tb::kEpochMetrics.size() + 1);
  EXPECT_EQ(scalars[0].tag, "train/loss");
  EXPECT_EQ(scalars[1].tag, "train/accuracy");
  EXPECT_EQ(scalars[tb::kEpochMetrics.size() + 2].tag, "validation/macro_precision");
  EXPECT_EQ(scalars[tb::kEpochMetrics.size() + 2].value, 0.5f);
  EXPECT_EQ(scalars.back().tag, "learning_rate");
  EXPECT_EQ(scalars.back().value, 0.002f);
}

// ---- the fold's file -------------------------------------------------------

std::vector<json> fake_history(int epochs) {
  std::vector<json> lines;
  for (int e = 1; e <= epochs; ++e) {
    json m;
    for (const auto name : tb::kEpochMetrics) m[std::string(name)] = 1.0 / (e + 1);
    lines.push_back({{"fold", 0}, {"epoch", e}, {"train", m}, {"validation", m}, {"seconds", 2.0},
                     {"ended_unix_seconds", 1700000000.0 + 2.0 * e}});
  }
  return lines;
}

TEST(TensorBoardFiles, EachRewriteKeepsOneFileItsNameAndItsEarlierBytes) {
  TempDir dir;
  auto run = RunDirectory::shared(dir / "run");
  const auto fold_dir = dir / "run" / "tensorboard" / "fold-2";
  EXPECT_EQ(tb::fold_event_dir(run.root(), 2), fold_dir);
  tb::write_fold_events(run, 2, fake_history(1), 1e-3);
  auto files = event_files(fold_dir);
  ASSERT_EQ(files.size(), 1u);
  const auto name = files[0].filename().string();
  // Named from the fold's start (first epoch's end minus its seconds).
  EXPECT_TRUE(name.starts_with("events.out.tfevents.1700000000.")) << name;
  const auto one = test::read_file(files[0]);
  EXPECT_EQ(read_records(one).size(), 2u);  // file version + epoch 1

  // A stray event file (another host's, say) would show its records twice.
  test::write_file(fold_dir / "events.out.tfevents.1.elsewhere", one);
  tb::write_fold_events(run, 2, fake_history(2), 1e-3);
  files = event_files(fold_dir);
  ASSERT_EQ(files.size(), 1u);
  EXPECT_EQ(files[0].filename().string(), name);
  const auto two = test::read_file(files[0]);
  EXPECT_EQ(read_records(two).size(), 3u);
  EXPECT_EQ(two.substr(0, one.size()), one);  // a live reader sees the file grow
  for (const auto& e : fs::directory_iterator(fold_dir))
    EXPECT_EQ(e.path().filename().string().find(".tmp-"), std::string::npos) << e.path();

  // Resumed before any epoch ended: no record may remain.
  tb::write_fold_events(run, 2, {}, 1e-3);
  EXPECT_TRUE(event_files(fold_dir).empty());
}

TEST(TensorBoardFiles, RanksThatDoNotWriteTheRunFolderWriteNoEvents) {
  TempDir dir;
  fs::create_directories(dir / "run");
  const auto follower = RunDirectory::follow(dir / "run");
  tb::write_fold_events(follower, 0, fake_history(2), 1e-3);
  EXPECT_FALSE(fs::exists(dir / "run" / "tensorboard"));
}

TEST(TensorBoardFiles, AFailedWriteNamesThePath) {
  TempDir dir;
  auto run = RunDirectory::shared(dir / "run");
  test::write_file(dir / "run" / "tensorboard", "not a folder");
  try {
    tb::write_fold_events(run, 0, fake_history(1), 1e-3);
    ADD_FAILURE() << "expected an error";
  } catch (const Error& e) {
    EXPECT_TRUE(contains(e.what(), (dir / "run" / "tensorboard").string())) << e.what();
  }
}

// ---- runs, read back by the tensorboard package -----------------------------

class TensorBoardRunTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir;
    data::run_prepare(base_config(), {});
  }
  static void TearDownTestSuite() { delete dir_; }

  // 4 genres x 60 songs, a model small enough for CI (as test_training).
  static ExperimentConfig base_config() {
    auto c = parse_config(R"(
name: tb
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
  optimizer: {lr: 0.002}
cv:
  folds: 3
)",
                          "tb.yaml");
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

  // The scalars below `logdir` as read_tensorboard.py dumps them; nullopt
  // and the reason when the tensorboard package is not available.
  static std::optional<json> read_back(const fs::path& logdir, std::string& why_not) {
    const std::string python = LYRE_PYTHON3;
    if (python.empty() || python.ends_with("NOTFOUND")) {
      why_not = "no python3 was found when the build was configured";
      return std::nullopt;
    }
    const auto out = logdir.parent_path() / (logdir.filename().string() + ".scalars.json");
    const auto result = test::run_command(
        fmt::format("PYTHONPATH='{}' '{}' '{}' '{}' '{}'", LYRE_PYDEPS_DIR, python,
                    (test::source_dir() / "tests" / "reference" / "read_tensorboard.py").string(),
                    logdir.string(), out.string()));
    if (result.exit_code == 3) {
      why_not = fmt::format("the `tensorboard` package cannot be imported from {} (the ctest "
                            "fixture pydeps.tensorboard installs it with pip): {}",
                            LYRE_PYDEPS_DIR, result.output);
      return std::nullopt;
    }
    EXPECT_EQ(result.exit_code, 0) << result.output;
    if (result.exit_code != 0) return json::object();
    return json::parse(test::read_file(out));
  }

  // Every fold's run under `prefix` holds one file, one event per epoch of
  // metrics.jsonl (step = epoch, in order) and every metric of that line.
  static void expect_scalars_match_metrics(const json& dump, const std::string& prefix,
                                           const fs::path& run_dir, double lr) {
    std::map<int, std::vector<json>> by_fold;
    for (const auto& line : read_metrics(run_dir)) by_fold[line.at("fold").get<int>()].push_back(line);
    ASSERT_FALSE(by_fold.empty()) << run_dir;
    std::size_t runs_under_prefix = 0;
    for (const auto& [name, run] : dump.at("runs").items())
      if (name.starts_with(prefix)) ++runs_under_prefix;
    EXPECT_EQ(runs_under_prefix, by_fold.size()) << prefix << ": " << dump.dump(1);
    for (const auto& [fold, lines] : by_fold) {
      const auto name = fmt::format("{}fold-{}", prefix, fold);
      SCOPED_TRACE(name);
      ASSERT_TRUE(dump.at("runs").contains(name)) << dump.dump(1);
      const auto& run = dump.at("runs").at(name);
      EXPECT_EQ(run.at("files").size(), 1u);
      EXPECT_EQ(run.at("file_version"), "brain.Event:2");
      const auto& events = run.at("events");
      ASSERT_EQ(events.size(), lines.size());
      for (std::size_t i = 0; i < lines.size(); ++i) {
        const auto& line = lines[i];
        const auto& event = events[i];
        EXPECT_EQ(event.at("step").get<int>(), line.at("epoch").get<int>());
        EXPECT_EQ(event.at("wall_time").get<double>(), line.at("ended_unix_seconds").get<double>());
        const auto& scalars = event.at("scalars");
        EXPECT_EQ(scalars.size(), 2 * tb::kEpochMetrics.size() + 1) << scalars.dump();
        for (const char* part : {"train", "validation"})
          for (const auto metric : tb::kEpochMetrics) {
            const auto tag = fmt::format("{}/{}", part, metric);
            ASSERT_TRUE(scalars.contains(tag)) << tag;
            // simple_value is a float: exactly the metric rounded to float.
            EXPECT_EQ(scalars.at(tag).get<float>(),
                      static_cast<float>(line.at(part).at(std::string(metric)).get<double>()))
                << tag << " epoch " << line.at("epoch");
          }
        EXPECT_EQ(scalars.at("learning_rate").get<float>(), static_cast<float>(lr));
      }
    }
  }

  static TempDir* dir_;
};
TempDir* TensorBoardRunTest::dir_ = nullptr;

TEST_F(TensorBoardRunTest, TensorBoardReadsEveryFoldEpochAndMetricOfARunAndAnAblation) {
  TempDir out;
  const auto c = base_config();
  run_training(c, quiet(out / "cv"));
  auto a = base_config();
  a.cv.folds = 2;
  a.train.epochs = 1;
  a.ablation = {{"primary", "", {}}, {"no_pooling", "context vector", {{"model.pool", "none"}}}};
  run_ablation(a, quiet(out / "abl"));

  std::string why_not;
  const auto dump = read_back(out.path(), why_not);
  if (!dump) GTEST_SKIP() << why_not;
  // "stub" without TensorFlow: the package's own reader, which checks every
  // CRC as TensorFlow's does (the flipped-byte test shows it).
  RecordProperty("reader", dump->at("tensorflow").get<std::string>());
  expect_scalars_match_metrics(*dump, "cv/tensorboard/", out / "cv", 0.002);
  // Each variant has a run folder, so event files of its own.
  for (const char* variant : {"primary", "no_pooling"})
    expect_scalars_match_metrics(*dump, fmt::format("abl/variants/{}/tensorboard/", variant),
                                 out / "abl" / "variants" / variant, 0.002);
  EXPECT_EQ(dump->at("runs").size(), 3u + 2u + 2u) << dump->dump(1);
}

TEST_F(TensorBoardRunTest, TheReaderStopsAtARecordWithAFlippedByte) {
  TempDir out;
  auto intact = RunDirectory::shared(out / "logs" / "intact");
  auto flipped = RunDirectory::shared(out / "logs" / "flipped");
  tb::write_fold_events(intact, 0, fake_history(3), 1e-3);
  tb::write_fold_events(flipped, 0, fake_history(3), 1e-3);
  const auto file = event_files(tb::fold_event_dir(flipped.root(), 0)).at(0);
  const auto records = read_records(test::read_file(file));
  ASSERT_EQ(records.size(), 4u);
  // The last byte of epoch 2's data: the top byte of its learning_rate float.
  // Still a valid protobuf with another number in it, so only the CRC shows
  // the change.
  const auto& epoch2 = records[2];
  test::flip_byte(file, epoch2.offset + 12 + epoch2.data.size() - 1);

  std::string why_not;
  const auto dump = read_back(out / "logs", why_not);
  if (!dump) GTEST_SKIP() << why_not;
  EXPECT_EQ(dump->at("runs").at("intact/tensorboard/fold-0").at("events").size(), 3u);
  const auto& events = dump->at("runs").at("flipped/tensorboard/fold-0").at("events");
  ASSERT_EQ(events.size(), 1u) << dump->dump(1);
  EXPECT_EQ(events[0].at("step"), 1);
}

TEST_F(TensorBoardRunTest, AResumedRunHasOneRecordPerFoldAndEpoch) {
  TempDir out;
  auto c = base_config();
  c.cv.folds = 2;
  c.train.epochs = 3;
  // Ahead: a run that got further (fold 0 finished, fold 1 in epoch 2).
  auto ahead = quiet(out / "ahead");
  ahead.stop_after_batches = 30;
  ASSERT_TRUE(run_training(c, ahead).interrupted);
  clear_stop_request();
  // Cut: stopped in fold 0's second epoch; its event files hold what its
  // checkpoints hold.
  auto cut = quiet(out / "cut");
  cut.stop_after_batches = 13;
  ASSERT_TRUE(run_training(c, cut).interrupted);
  clear_stop_request();
  auto files = event_files(out / "cut" / "tensorboard" / "fold-0");
  ASSERT_EQ(files.size(), 1u);
  EXPECT_EQ(read_records(test::read_file(files[0])).size(), 1u + 1u);  // version + epoch 1
  EXPECT_FALSE(fs::exists(out / "cut" / "tensorboard" / "fold-1"));

  // As a process killed after writing events but before its checkpoint would
  // leave them (and worse): events ahead of the checkpoints, for both folds,
  // plus a stray second file.
  fs::remove_all(out / "cut" / "tensorboard");
  fs::copy(out / "ahead" / "tensorboard", out / "cut" / "tensorboard", fs::copy_options::recursive);
  fs::copy_file(event_files(out / "cut" / "tensorboard" / "fold-0").at(0),
                out / "cut" / "tensorboard" / "fold-0" / "events.out.tfevents.1.elsewhere");
  const auto resumed = resume_run(out / "cut", quiet({}));
  ASSERT_FALSE(resumed.interrupted);

  std::string why_not;
  const auto dump = read_back(out / "cut" / "tensorboard", why_not);
  if (!dump) GTEST_SKIP() << why_not;
  ASSERT_EQ(read_metrics(out / "cut").size(), 2u * 3u);
  expect_scalars_match_metrics(*dump, "", out / "cut", 0.002);
}

TEST_F(TensorBoardRunTest, FoldTasksWriteOnlyTheirFoldsFiles) {
  TempDir out;
  auto c = base_config();
  c.train.epochs = 1;
  const auto shared = out / "shared";
  auto task = [&](std::vector<int> folds) {
    auto t = c;
    t.cv.folds_subset = std::move(folds);
    return run_training(t, quiet(shared));
  };
  task({1});
  EXPECT_FALSE(fs::exists(shared / "tensorboard" / "fold-0"));
  EXPECT_FALSE(fs::exists(shared / "tensorboard" / "fold-2"));
  const auto fold1 = event_files(shared / "tensorboard" / "fold-1");
  ASSERT_EQ(fold1.size(), 1u);
  const auto before = test::read_file(fold1[0]);
  task({0, 2});
  for (int f = 0; f < 3; ++f) {
    const auto files = event_files(shared / "tensorboard" / fmt::format("fold-{}", f));
    ASSERT_EQ(files.size(), 1u) << f;
    EXPECT_EQ(read_records(test::read_file(files[0])).size(), 2u) << f;
  }
  // The other task left fold 1's file as it was.
  EXPECT_EQ(test::read_file(fold1[0]), before);
}

}  // namespace
}  // namespace lyre
