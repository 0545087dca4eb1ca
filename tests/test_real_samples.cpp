// The data pipeline on the real-format samples in ../shared/real (skipped
// where that folder is absent). The expected numbers were measured with an
// independent parser (Python's csv module) on the same files:
//   lyrics sample: 999 rows, 958 of them joined (9 artists, 15 genres);
//   829 ENGLISH rows by 7 artists listing 12 genres, every one joined;
//   685 left after dropping identical rows, 682 after dropping identical lyrics;
//   first genre of those 685: Rock 513, Romântico 91, Hardcore 81.
//   artists table: 4,156 rows, one all-NA row, no repeated Link.
#include <gtest/gtest.h>

#include <set>

#include "data/corpus.hpp"
#include "data/csv_reader.hpp"
#include "tests/support/test_support.hpp"

namespace lyre::data {
namespace {

std::filesystem::path real(std::string_view name) { return test::shared_real_dir() / name; }

bool have_real_samples() {
  return std::filesystem::exists(real("artists-data.csv")) &&
         std::filesystem::exists(real("lyrics-data-sample999.csv"));
}

Corpus assemble_real(Dedupe dedupe, GenrePolicy policy = GenrePolicy::first) {
  CorpusOptions options;
  options.dedupe = dedupe;
  options.genre_policy = policy;
  options.top_genres = 0;
  options.per_genre = 0;
  return assemble_corpus(real("artists-data.csv"), real("lyrics-data-sample999.csv"), options);
}

TEST(RealSamples, LyricsSampleParses) {
  if (!have_real_samples()) GTEST_SKIP() << "no " << test::shared_real_dir();
  CsvReader reader(real("lyrics-data-sample999.csv"));
  EXPECT_EQ(reader.header(),
            (std::vector<std::string>{"ALink", "SName", "SLink", "Lyric", "Idiom"}));
  std::vector<std::string_view> fields;
  std::uint64_t english = 0;
  while (reader.next(fields)) english += language_matches(fields[4], "en") ? 1 : 0;
  EXPECT_EQ(reader.rows_read(), 999u);
  EXPECT_EQ(english, 829u);
  EXPECT_EQ(reader.bytes_consumed(), reader.file_size());
}

TEST(RealSamples, ArtistsTableParses) {
  if (!have_real_samples()) GTEST_SKIP() << "no " << test::shared_real_dir();
  const Corpus corpus = assemble_real(Dedupe::rows);
  EXPECT_EQ(corpus.counts.artist_rows, 4156u);
  EXPECT_EQ(corpus.counts.artists_without_link, 1u);
  EXPECT_EQ(corpus.counts.duplicate_links, 0u);
}

TEST(RealSamples, StageCountsWithRowDedupe) {
  if (!have_real_samples()) GTEST_SKIP() << "no " << test::shared_real_dir();
  const Corpus corpus = assemble_real(Dedupe::rows);
  const CorpusCounts& c = corpus.counts;
  EXPECT_EQ(c.lyric_rows, 999u);
  EXPECT_EQ(c.unjoined, 41u);
  EXPECT_EQ(c.joined.songs, 958u);
  EXPECT_EQ(c.joined.artists, 9u);
  EXPECT_EQ(c.joined.genres, 15u);
  // Every English row joins: the language stage holds all 829.
  EXPECT_EQ(c.language.songs, 829u);
  EXPECT_EQ(c.language.artists, 7u);
  EXPECT_EQ(c.language.genres, 12u);
  EXPECT_EQ(c.duplicates_dropped, 829u - 685u);
  EXPECT_EQ(c.empty_dropped, 0u);
  EXPECT_EQ(c.no_genre_dropped, 0u);
  EXPECT_EQ(c.usable_songs, 685u);
  EXPECT_EQ(c.clean.invalid_utf8, 0u);
}

TEST(RealSamples, FirstGenreSplitIsRockRomanticoHardcore) {
  if (!have_real_samples()) GTEST_SKIP() << "no " << test::shared_real_dir();
  const Corpus corpus = assemble_real(Dedupe::rows);
  EXPECT_EQ(corpus.genres, (std::vector<std::string>{"Rock", "Romântico", "Hardcore"}));
  ASSERT_EQ(corpus.counts.genres.size(), 3u);
  EXPECT_EQ(corpus.counts.genres[0].available, 513u);
  EXPECT_EQ(corpus.counts.genres[1].available, 91u);
  EXPECT_EQ(corpus.counts.genres[2].available, 81u);
  EXPECT_EQ(corpus.songs.size(), 685u);
}

TEST(RealSamples, LyricsDedupe) {
  if (!have_real_samples()) GTEST_SKIP() << "no " << test::shared_real_dir();
  const Corpus corpus = assemble_real(Dedupe::lyrics);
  EXPECT_EQ(corpus.counts.duplicates_dropped, 829u - 682u);
  EXPECT_EQ(corpus.counts.usable_songs, 682u);
}

TEST(RealSamples, NoDedupeKeepsEveryEnglishRow) {
  if (!have_real_samples()) GTEST_SKIP() << "no " << test::shared_real_dir();
  const Corpus corpus = assemble_real(Dedupe::none);
  EXPECT_EQ(corpus.counts.usable_songs, 829u);
  EXPECT_EQ(corpus.counts.genres[0].available, 607u);  // Rock: 607 of 829
}

TEST(RealSamples, EveryAndSinglePolicies) {
  if (!have_real_samples()) GTEST_SKIP() << "no " << test::shared_real_dir();
  // Five of the 7 English artists list 3 genres, one lists 2, one (Rock) 1.
  const Corpus every = assemble_real(Dedupe::rows, GenrePolicy::every);
  EXPECT_EQ(every.counts.genres.size(), 12u);
  EXPECT_EQ(every.counts.genres[0].genre, "Rock");
  EXPECT_EQ(every.counts.genres[0].available, 685u);  // every English artist lists Rock

  const Corpus single = assemble_real(Dedupe::rows, GenrePolicy::single);
  EXPECT_EQ(single.counts.multi_genre_dropped, 670u);
  EXPECT_EQ(single.genres, (std::vector<std::string>{"Rock"}));
  EXPECT_EQ(single.counts.usable_songs, 15u);
}

}  // namespace
}  // namespace lyre::data
