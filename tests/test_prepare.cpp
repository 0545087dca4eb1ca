// `lyre prepare` as a library call: synthetic and Kaggle-format inputs, the
// prepared folder it leaves, and what it refuses.
#include <gtest/gtest.h>

#include "data/prepare.hpp"
#include "data/shard.hpp"
#include "engine/config/config.hpp"
#include "engine/core/error.hpp"
#include "tests/support/test_support.hpp"

namespace lyre {
namespace {

using test::input_error;

namespace fs = std::filesystem;
using test::TempDir;

ExperimentConfig synthetic_config(const TempDir& dir) {
  auto c = parse_config(R"(
name: t
data:
  source: synthetic
  synthetic: {songs: 3000, seed: 11}
  top_genres: 5
  per_genre: 100
  shard_songs: 128
)",
                        "inline.yaml");
  c.data.prepared = (dir / "prepared").string();
  return c;
}

TEST(Prepare, SyntheticCorpusEndToEnd) {
  TempDir dir;
  const auto config = synthetic_config(dir);
  const auto result = data::run_prepare(config, {});
  const auto corpus = data::PreparedCorpus::open(result.dir);
  EXPECT_EQ(corpus.num_classes(), 5u);
  EXPECT_EQ(corpus.num_songs(), 500u);            // 5 genres x 100, balanced
  EXPECT_EQ(corpus.manifest().shards.size(), 4u);  // 128 + 128 + 128 + 116 songs
  std::vector<int> per_genre(5, 0);
  for (auto label : corpus.labels()) ++per_genre[label];
  for (int n : per_genre) EXPECT_EQ(n, 100);
  // The report carries the stage counts as the paper reports them.
  const auto& counts = result.report.at("counts");
  EXPECT_EQ(counts.at("lyric_rows").get<int>(), 3000);
  EXPECT_GT(counts.at("joined").at("songs").get<int>(), counts.at("language").at("songs").get<int>());
  EXPECT_EQ(counts.at("selected_songs").get<int>(), 500);
  EXPECT_TRUE(fs::exists(result.dir / "prepare-report.json"));
  EXPECT_TRUE(fs::exists(result.dir / "raw" / "lyrics-data.csv"));
}

TEST(Prepare, DeterministicForASeed) {
  TempDir a, b;
  const auto ra = data::run_prepare(synthetic_config(a), {});
  const auto rb = data::run_prepare(synthetic_config(b), {});
  const auto ca = data::PreparedCorpus::open(ra.dir), cb = data::PreparedCorpus::open(rb.dir);
  EXPECT_EQ(ca.manifest().vocab_hash, cb.manifest().vocab_hash);
  ASSERT_EQ(ca.num_songs(), cb.num_songs());
  for (std::uint64_t s = 0; s < ca.num_songs(); ++s) {
    ASSERT_EQ(ca.song_id(s), cb.song_id(s));
    ASSERT_EQ(ca.label(s), cb.label(s));
  }
}

TEST(Prepare, ReplacesAPreviousPreparedFolderWhole) {
  TempDir dir;
  auto config = synthetic_config(dir);
  data::run_prepare(config, {});
  config.data.per_genre = 50;
  config.data.shard_songs = 1000;
  data::run_prepare(config, {});
  const auto corpus = data::PreparedCorpus::open(config.data.prepared);
  EXPECT_EQ(corpus.num_songs(), 250u);
  EXPECT_EQ(corpus.manifest().shards.size(), 1u);
  // No staging or previous folder is left beside it.
  for (const auto& entry : fs::directory_iterator(dir.path()))
    EXPECT_EQ(entry.path().filename(), "prepared") << entry.path();
}

TEST(Prepare, RefusesToReplaceAFolderThatIsNotPrepared) {
  TempDir dir;
  auto config = synthetic_config(dir);
  test::write_file(dir / "prepared" / "precious.txt", "keep me");
  const auto msg = input_error([&] { data::run_prepare(config, {}); });
  EXPECT_NE(msg.find("not a prepared folder"), std::string::npos) << msg;
  EXPECT_EQ(test::read_file(dir / "prepared" / "precious.txt"), "keep me");
}

TEST(Prepare, KaggleFilesMustBeNamed) {
  TempDir dir;
  auto config = synthetic_config(dir);
  config.data.source = DataSource::kaggle;
  config.data.artists_csv = "";
  auto msg = input_error([&] { data::run_prepare(config, {}); });
  EXPECT_NE(msg.find("data.artists_csv"), std::string::npos) << msg;
  config.data.artists_csv = (dir / "missing.csv").string();
  msg = input_error([&] { data::run_prepare(config, {}); });
  EXPECT_NE(msg.find("missing.csv"), std::string::npos) << msg;
}

TEST(Prepare, MissingGloveFailsBeforeReadingLyrics) {
  TempDir dir;
  auto config = synthetic_config(dir);
  config.data.glove.path = (dir / "nope.txt").string();
  const auto msg = input_error([&] { data::run_prepare(config, {}); });
  EXPECT_NE(msg.find("data.glove.path"), std::string::npos) << msg;
  EXPECT_FALSE(fs::exists(dir / "prepared"));
}

TEST(Prepare, ShippedGloveSubsetCoversTheSyntheticVocabulary) {
  TempDir dir;
  auto config = synthetic_config(dir);
  config.data.glove.path = (test::source_dir() / "data/glove/glove.6B.100d.synth-subset.txt").string();
  config.data.glove.cache_dir = (dir / "cache").string();
  const auto result = data::run_prepare(config, {});
  const auto corpus = data::PreparedCorpus::open(result.dir);
  ASSERT_TRUE(corpus.manifest().embedding.has_value());
  // The subset leaves out every tenth synthetic word on purpose.
  EXPECT_GT(corpus.manifest().embedding->vocab_coverage, 0.75);
  EXPECT_LT(corpus.manifest().embedding->vocab_coverage, 0.99);
}

TEST(Prepare, KaggleFormatSample) {
  TempDir dir;
  auto config = synthetic_config(dir);
  config.data.source = DataSource::kaggle;
  config.data.artists_csv = (test::test_data_dir() / "kaggle_small/artists-data.csv").string();
  config.data.lyrics_csv = (test::test_data_dir() / "kaggle_small/lyrics-data.csv").string();
  config.data.per_genre = 0;
  config.data.top_genres = 0;
  config.data.vocab.min_count = 1;
  const auto result = data::run_prepare(config, {});
  const auto corpus = data::PreparedCorpus::open(result.dir);
  EXPECT_EQ(corpus.num_songs(), result.report.at("counts").at("selected_songs").get<std::uint64_t>());
  EXPECT_GE(corpus.num_classes(), 2u);
}

TEST(Prepare, RealSamplesAgreeWithAnIndependentParser) {
  const auto real = test::shared_real_dir();
  if (!fs::exists(real / "lyrics-data-sample999.csv")) GTEST_SKIP() << "no ../shared/real";
  TempDir dir;
  auto config = synthetic_config(dir);
  config.data.source = DataSource::kaggle;
  config.data.artists_csv = (real / "artists-data.csv").string();
  config.data.lyrics_csv = (real / "lyrics-data-sample999.csv").string();
  config.data.per_genre = 0;
  config.data.top_genres = 0;
  const auto result = data::run_prepare(config, {});
  const auto& counts = result.report.at("counts");
  // Counted with Python's csv module on the same files (see ../shared/real/README.md).
  EXPECT_EQ(counts.at("lyric_rows").get<int>(), 999);
  EXPECT_EQ(counts.at("language").at("songs").get<int>(), 829);
  EXPECT_EQ(counts.at("usable_songs").get<int>() + counts.at("empty_dropped").get<int>(), 685);
  std::vector<std::string> genres;
  for (const auto& g : counts.at("genres")) genres.push_back(g.at("genre").get<std::string>());
  EXPECT_EQ(genres, (std::vector<std::string>{"Rock", "Romântico", "Hardcore"}));
}

}  // namespace
}  // namespace lyre
