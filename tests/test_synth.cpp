// The synthetic Kaggle-format corpus: deterministic, in the real format, with
// the real data's defects, uneven genres, and a learnable genre signal.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <set>

#include "data/corpus.hpp"
#include "data/csv_reader.hpp"
#include "data/synth.hpp"
#include "engine/core/error.hpp"
#include "engine/core/rng.hpp"
#include "tests/support/test_support.hpp"

namespace lyre::data {
namespace {

CorpusOptions everything() {
  CorpusOptions options;
  options.top_genres = 0;
  options.per_genre = 0;
  return options;
}

// English lyric rows whose ALink is in no artist row, counted straight from the files.
std::uint64_t unjoined_english_rows(const SynthResult& result) {
  std::set<std::string> links;
  std::vector<std::string_view> f;
  CsvReader artists(result.artists_csv);
  while (artists.next(f)) links.emplace(f[4]);
  CsvReader lyrics(result.lyrics_csv);
  std::uint64_t count = 0;
  while (lyrics.next(f)) count += !links.contains(std::string(f[0])) && f[4] == "en" ? 1 : 0;
  return count;
}

// One synthetic corpus shared by the suite (writing it takes a moment).
class Synth : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new test::TempDir();
    result_ = write_synthetic_kaggle(dir_->path(), SynthOptions{});
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }
  static test::TempDir* dir_;
  static SynthResult result_;
};
test::TempDir* Synth::dir_ = nullptr;
SynthResult Synth::result_;

TEST_F(Synth, SameSeedSameBytesOtherSeedOtherBytes) {
  test::TempDir again;
  const SynthResult same = write_synthetic_kaggle(again.path(), SynthOptions{});
  EXPECT_EQ(test::read_file(same.lyrics_csv), test::read_file(result_.lyrics_csv));
  EXPECT_EQ(test::read_file(same.artists_csv), test::read_file(result_.artists_csv));

  test::TempDir other;
  SynthOptions options;
  options.seed = 8;
  const SynthResult different = write_synthetic_kaggle(other.path(), options);
  EXPECT_NE(test::read_file(different.lyrics_csv), test::read_file(result_.lyrics_csv));
}

TEST_F(Synth, WritesTheKaggleFormat) {
  EXPECT_EQ(result_.artists_csv.filename(), "artists-data.csv");
  EXPECT_EQ(result_.lyrics_csv.filename(), "lyrics-data.csv");
  EXPECT_EQ(result_.lyric_rows, 6000u);

  CsvReader artists(result_.artists_csv);
  EXPECT_EQ(artists.header(),
            (std::vector<std::string>{"Artist", "Genres", "Songs", "Popularity", "Link"}));
  CsvReader lyrics(result_.lyrics_csv);
  EXPECT_EQ(lyrics.header(),
            (std::vector<std::string>{"ALink", "SName", "SLink", "Lyric", "language"}));

  // Songs = the artist's lyric rows; links and song links look like vagalume's.
  std::map<std::string, std::uint64_t> rows_per_link;
  std::map<std::string, std::uint64_t> languages;
  std::vector<std::string_view> f;
  std::uint64_t multi_line = 0;
  std::uint64_t quotes = 0;
  while (lyrics.next(f)) {
    ++rows_per_link[std::string(f[0])];
    ++languages[std::string(f[4])];
    EXPECT_TRUE(f[0].starts_with("/") && f[0].ends_with("/")) << f[0];
    EXPECT_TRUE(f[2].starts_with(f[0]) && f[2].ends_with(".html")) << f[2];
    multi_line += f[3].find('\n') != std::string_view::npos ? 1 : 0;
    quotes += f[3].find('"') != std::string_view::npos ? 1 : 0;
  }
  EXPECT_EQ(lyrics.rows_read(), 6000u);
  EXPECT_EQ(languages.size(), 3u);
  EXPECT_EQ(languages["en"], result_.english_rows);
  EXPECT_NEAR(static_cast<double>(languages["pt"]) / 6000.0, 0.20, 0.03);
  EXPECT_NEAR(static_cast<double>(languages["es"]) / 6000.0, 0.05, 0.02);
  EXPECT_GT(multi_line, 5000u);
  EXPECT_GT(quotes, 50u);

  std::uint64_t na_rows = 0;
  std::uint64_t multi_genre = 0;
  while (artists.next(f)) {
    if (f[4] == "NA") {
      ++na_rows;
      EXPECT_EQ(f[0], "NA");
      EXPECT_EQ(f[1], "NA");
      continue;
    }
    EXPECT_EQ(std::to_string(rows_per_link[std::string(f[4])]), f[2]) << f[4];
    multi_genre += f[1].find("; ") != std::string_view::npos ? 1 : 0;
    EXPECT_NE(f[3].find('.'), std::string_view::npos) << f[3];  // "4.4"
  }
  EXPECT_EQ(na_rows, 1u);
  EXPECT_EQ(artists.rows_read(), result_.artists + 1);
  EXPECT_NEAR(static_cast<double>(multi_genre) / static_cast<double>(result_.artists), 0.4, 0.12);
}

TEST_F(Synth, HasTheRealDatasDefects) {
  const Corpus corpus = assemble_corpus(result_.artists_csv, result_.lyrics_csv, everything());
  const CorpusCounts& c = corpus.counts;
  EXPECT_EQ(c.lyric_rows, 6000u);
  EXPECT_EQ(c.artists_without_link, 1u);                     // the NA row
  EXPECT_NEAR(static_cast<double>(c.unjoined), 60.0, 30.0);  // ~1%
  EXPECT_GT(unjoined_english_rows(result_), 0u);
  // English rows whose artist is missing never reach the language stage.
  EXPECT_EQ(c.language.songs, result_.english_rows - unjoined_english_rows(result_));
  const auto share = [&](std::uint64_t n) {
    return static_cast<double>(n) / static_cast<double>(c.language.songs);
  };
  EXPECT_NEAR(share(c.duplicates_dropped), 0.03, 0.015);
  // ~1% empty lyrics and ~0.5% lyrics of stopwords and punctuation only.
  EXPECT_NEAR(share(c.empty_dropped), 0.015, 0.008);
  EXPECT_GT(c.clean.urls_removed, 100u);
  EXPECT_EQ(c.clean.invalid_utf8, 0u);
  EXPECT_EQ(c.joined.genres, 12u);
}

TEST_F(Synth, TopTenDropsTheTwoSmallestGenres) {
  const Corpus all = assemble_corpus(result_.artists_csv, result_.lyrics_csv, everything());
  ASSERT_EQ(all.genres.size(), 12u);
  EXPECT_EQ(all.genres[0], "Rock");
  const std::set<std::string> smallest{all.genres[10], all.genres[11]};
  EXPECT_EQ(smallest, (std::set<std::string>{"Reggae", "Axé"}));
  // A clear gap, so that the cut does not depend on the seed.
  EXPECT_GT(all.counts.genres[9].available, all.counts.genres[10].available * 3 / 2);

  CorpusOptions top10 = everything();
  top10.top_genres = 10;
  const Corpus corpus = assemble_corpus(result_.artists_csv, result_.lyrics_csv, top10);
  EXPECT_EQ(corpus.genres, std::vector<std::string>(all.genres.begin(), all.genres.begin() + 10));
}

TEST_F(Synth, BalancedSelectionIsPossible) {
  CorpusOptions options;
  options.per_genre = 200;
  const Corpus corpus = assemble_corpus(result_.artists_csv, result_.lyrics_csv, options);
  EXPECT_EQ(corpus.songs.size(), 2000u);
  // Songs of 4..40 lines: lengths spread widely.
  std::uint32_t shortest = UINT32_MAX;
  std::uint32_t longest = 0;
  for (const CorpusSong& s : corpus.songs) {
    shortest = std::min(shortest, s.token_count);
    longest = std::max(longest, s.token_count);
  }
  EXPECT_LT(shortest, 20u);
  EXPECT_GT(longest, 150u);
}

// The genre signal: multinomial naive Bayes on bags of words, trained on 80%
// of a balanced top-10 selection, classifies the rest well; yet no frequent
// word belongs to one genre almost always.
TEST_F(Synth, GenreIsLearnableButNoSingleWordDecides) {
  CorpusOptions options;
  options.per_genre = 200;
  const Corpus corpus = assemble_corpus(result_.artists_csv, result_.lyrics_csv, options);
  const std::size_t classes = corpus.genres.size();
  const std::size_t words = corpus.words.size();
  const std::size_t train = corpus.songs.size() * 4 / 5;

  std::vector<std::vector<double>> counts(classes, std::vector<double>(words, 0.0));
  std::vector<double> totals(classes, 0.0);
  for (std::size_t i = 0; i < train; ++i) {
    const CorpusSong& s = corpus.songs[i];
    for (const std::uint32_t id : corpus.song_tokens(s)) {
      counts[s.label][id] += 1.0;
      totals[s.label] += 1.0;
    }
  }
  std::size_t correct = 0;
  for (std::size_t i = train; i < corpus.songs.size(); ++i) {
    const CorpusSong& s = corpus.songs[i];
    std::size_t best = 0;
    double best_score = -INFINITY;
    for (std::size_t c = 0; c < classes; ++c) {
      double score = 0.0;
      for (const std::uint32_t id : corpus.song_tokens(s))
        score += std::log((counts[c][id] + 1.0) / (totals[c] + static_cast<double>(words)));
      if (score > best_score) {
        best_score = score;
        best = c;
      }
    }
    correct += best == s.label ? 1 : 0;
  }
  const double accuracy =
      static_cast<double>(correct) / static_cast<double>(corpus.songs.size() - train);
  EXPECT_GT(accuracy, 0.8);

  double strongest = 0.0;
  for (std::size_t w = 0; w < words; ++w) {
    double total = 0.0;
    double top = 0.0;
    for (std::size_t c = 0; c < classes; ++c) {
      total += counts[c][w];
      top = std::max(top, counts[c][w]);
    }
    if (total >= 100.0) strongest = std::max(strongest, top / total);
  }
  EXPECT_LT(strongest, 0.95);
}

TEST(SynthOptionsCheck, TinyAndInvalidSizes) {
  test::TempDir dir;
  SynthOptions options;
  options.songs = 1;
  const SynthResult one = write_synthetic_kaggle(dir.path(), options);
  CsvReader lyrics(one.lyrics_csv);
  std::vector<std::string_view> f;
  EXPECT_TRUE(lyrics.next(f));
  EXPECT_FALSE(lyrics.next(f));

  options.songs = 0;
  EXPECT_THROW(write_synthetic_kaggle(dir.path(), options), InputError);
}

}  // namespace
}  // namespace lyre::data
