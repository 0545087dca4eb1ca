// Every file of a prepared folder is verified before anything uses it: a
// flipped byte or a cut-off tail in embedding.bin or vocab.txt makes
// `lyre inspect`, `lyre train` and `lyre ablate` refuse the folder with exit 2
// and a message naming the file, before a run folder is created.
#include <gtest/gtest.h>

#include "tests/support/test_support.hpp"

namespace lyre {
namespace {

namespace fs = std::filesystem;
using test::contains;
using test::run_command;
using test::TempDir;

std::string lyre() { return test::lyre_binary().string(); }

std::string config_text(const fs::path& prepared) {
  const auto glove = test::source_dir() / "data/glove/glove.6B.100d.synth-subset.txt";
  return "name: integrity\ndata:\n  source: synthetic\n  synthetic: {songs: 1500, seed: 3}\n"
         "  top_genres: 4\n  per_genre: 40\n  prepared: " + prepared.string() +
         "\n  glove: {path: " + glove.string() + ", dim: 100}\n"
         "train: {backend: cpu, epochs: 1}\ncv: {folds: 2}\n"
         "ablation:\n  - {name: small, set: {model.hidden: 8}}\n";
}

// A small synthetic corpus prepared once, with the shipped GloVe subset so
// that the folder holds embedding.bin; each test damages its own copy.
class PreparedIntegrity : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir;
    const auto config = test::write_file(*dir_ / "c.yaml", config_text(*dir_ / "prepared"));
    const auto r = run_command(lyre() + " prepare --config " + config.string());
    ASSERT_EQ(r.exit_code, 0) << r.output;
    ASSERT_TRUE(fs::exists(*dir_ / "prepared" / "embedding.bin"));
  }
  static void TearDownTestSuite() { delete dir_; }

  void SetUp() override {
    fs::copy(dir_->path() / "prepared", work_ / "prepared", fs::copy_options::recursive);
    config_ = test::write_file(work_ / "c.yaml", config_text(work_ / "prepared"));
  }

  fs::path file(const char* name) const { return work_ / "prepared" / name; }

  // inspect, train and ablate all refuse with exit 2, name `damaged` and say
  // `what`; train and ablate create no run folder.
  void expect_refused(const fs::path& damaged, const std::string& what) {
    const auto inspect = run_command(lyre() + " inspect " + (work_ / "prepared").string());
    EXPECT_EQ(inspect.exit_code, 2) << inspect.output;
    EXPECT_TRUE(contains(inspect.output, damaged.string() + " " + what));
    EXPECT_FALSE(contains(inspect.output, ": valid"));
    for (const char* command : {"train", "ablate"}) {
      const auto run = work_ / (std::string(command) + "-run");
      const auto r = run_command(lyre() + " " + command + " --config " + config_.string() +
                                 " --out " + run.string());
      EXPECT_EQ(r.exit_code, 2) << command << ": " << r.output;
      EXPECT_TRUE(contains(r.output, damaged.string() + " " + what)) << command;
      EXPECT_FALSE(fs::exists(run)) << command << " created " << run;
    }
  }

  static TempDir* dir_;
  TempDir work_;
  fs::path config_;
};
TempDir* PreparedIntegrity::dir_ = nullptr;

TEST_F(PreparedIntegrity, IntactFolderIsValidAndTrains) {
  const auto inspect = run_command(lyre() + " inspect " + (work_ / "prepared").string());
  EXPECT_EQ(inspect.exit_code, 0) << inspect.output;
  EXPECT_TRUE(contains(inspect.output, "valid (2 file(s) and 1 shard(s), every checksum verified)"));
  const auto r = run_command(lyre() + " train --no-report --config " + config_.string() +
                             " --out " + (work_ / "run").string());
  EXPECT_EQ(r.exit_code, 0) << r.output;
}

TEST_F(PreparedIntegrity, FlippedByteInTheEmbeddingIsRefused) {
  test::flip_byte(file("embedding.bin"), fs::file_size(file("embedding.bin")) / 2);
  expect_refused(file("embedding.bin"), "is corrupt: checksum");
}

TEST_F(PreparedIntegrity, TruncatedEmbeddingIsRefused) {
  test::truncate_file(file("embedding.bin"), fs::file_size(file("embedding.bin")) - 1000);
  expect_refused(file("embedding.bin"), "is truncated or was changed");
}

TEST_F(PreparedIntegrity, FlippedByteInTheVocabularyIsRefused) {
  test::flip_byte(file("vocab.txt"), fs::file_size(file("vocab.txt")) / 2);
  expect_refused(file("vocab.txt"), "is corrupt: checksum");
}

TEST_F(PreparedIntegrity, TruncatedVocabularyIsRefused) {
  test::truncate_file(file("vocab.txt"), fs::file_size(file("vocab.txt")) - 30);
  expect_refused(file("vocab.txt"), "is truncated or was changed");
}

TEST_F(PreparedIntegrity, InspectJsonListsEveryVerifiedFile) {
  const auto r = run_command(lyre() + " inspect --json " + (work_ / "prepared").string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  for (const char* name : {"\"vocab.txt\"", "\"embedding.bin\"", "\"shard-00000.bin\"", "\"xxh3\""})
    EXPECT_TRUE(contains(r.output, name));
}

}  // namespace
}  // namespace lyre
