// assemble_corpus on tests/data/kaggle_small/, a hand-written sample in the
// Kaggle format. Every expected number below is derived by hand from those
// files; the derivation is written out here once and referred to by the tests.
//
// artists-data.csv (10 data rows):
//   Alpha Band   Rock; Pop/Rock       /alpha/
//   Beta Singer  Pop                  /beta/
//   Gamma, ...   Rock                 /gamma/
//   NA           NA                   NA        -> no link (skipped)
//   Epsilon      Hip Hop; Rap; Pop    /epsilon/
//   Zeta         NA                   /zeta/    -> an artist without genre
//   Eta "..."    Romântico            /eta/
//   Alpha Copy   Sertanejo            /alpha/   -> repeated link (first wins)
//   Theta        Rap                  /theta/   -> no songs in the lyrics file
//   Iota         Rock                 (empty)   -> no link (skipped)
//   => artist_rows 10, artists_without_link 2, duplicate_links 1.
//
// lyrics-data.csv (25 data rows; row: artist, language, what is special):
//    1 alpha en            13 alpha en
//    2 alpha en            14 eta en
//    3 beta en             15 epsilon es
//    4 gamma en            16 gamma en   only stopwords and punctuation
//    5 /nobody/ en unjoined 17 beta en    Lyric identical to row 2's
//    6 alpha en  = row 1   18 alpha en
//    7 epsilon en          19 eta en
//    8 eta pt              20 eta pt
//    9 gamma en  empty     21 epsilon en
//   10 beta en             22 gamma en
//   11 zeta en             23 alpha pt (Idiom file: NA)
//   12 epsilon en          24 /ghost/ pt unjoined
//                          25 gamma en  = row 4
// Join: rows 5 and 24 find no artist -> unjoined 2, joined 23 rows by 6
//   artists (alpha, beta, gamma, epsilon, eta, zeta) listing 6 genres (Rock,
//   Pop/Rock, Pop, Hip Hop, Rap, Romântico; Zeta lists none, Theta has no song).
// Language en: rows 8, 15, 20, 23 go -> 19 rows, still all 6 artists/6 genres.
// Dedupe rows: 6 (= 1) and 25 (= 4) -> 2 dropped, 17 left (17 != 2: other
//   ALink and SName). Dedupe lyrics: also 17 -> 3 dropped. None: 0.
// Cleaning (stopwords on): rows 9 and 16 have no token left -> empty 2.
// No genre: row 11 (Zeta) -> 1.
// Kept under dedupe rows: 1,2,3,4,7,10,12,13,14,17,18,19,21,22 = 14 rows:
//   alpha 1,2,13,18 | beta 3,10,17 | gamma 4,22 | epsilon 7,12,21 | eta 14,19.
// Policy first: Rock 4+2 = 6, Hip Hop 3, Pop 3, Romântico 2 (usable 14);
//   ranked Rock, Hip Hop, Pop (tie with Hip Hop, by name), Romântico.
// Policy every: alpha -> Rock and Pop/Rock, epsilon -> Hip Hop, Rap, Pop:
//   Pop 3+3 = 6, Rock 6, Pop/Rock 4, Hip Hop 3, Rap 3, Romântico 2 (usable 24);
//   ranked Pop, Rock (tie, by name), Pop/Rock, Hip Hop, Rap, Romântico.
// Policy single: alpha (4 rows) and epsilon (3 rows) list several genres ->
//   multi_genre_dropped 7; Pop 3, Rock 2, Romântico 2 (usable 7).
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>

#include "data/corpus.hpp"
#include "engine/core/error.hpp"
#include "engine/core/hash.hpp"
#include "engine/core/rng.hpp"
#include "tests/support/test_support.hpp"

namespace lyre::data {
namespace {

std::filesystem::path sample(std::string_view name) {
  return test::test_data_dir() / "kaggle_small" / name;
}

CorpusOptions all_songs() {
  CorpusOptions options;
  options.top_genres = 0;
  options.per_genre = 0;
  return options;
}

Corpus assemble(const CorpusOptions& options, std::string_view lyrics = "lyrics-data.csv") {
  return assemble_corpus(sample("artists-data.csv"), sample(lyrics), options);
}

std::vector<std::string> words_of(const Corpus& corpus, const CorpusSong& song) {
  std::vector<std::string> words;
  for (const std::uint32_t id : corpus.song_tokens(song)) words.push_back(corpus.words.word(id));
  return words;
}

const CorpusSong& song_at_row(const Corpus& corpus, std::uint64_t row) {
  const auto it = std::find_if(corpus.songs.begin(), corpus.songs.end(),
                               [&](const CorpusSong& s) { return s.row == row; });
  if (it == corpus.songs.end()) throw std::runtime_error("row not selected");
  return *it;
}

// Lyric rows selected per genre name.
std::map<std::string, std::set<std::uint64_t>> rows_by_genre(const Corpus& corpus) {
  std::map<std::string, std::set<std::uint64_t>> rows;
  for (const CorpusSong& s : corpus.songs) rows[corpus.genres.at(s.label)].insert(s.row);
  return rows;
}

std::string error_of(const std::function<void()>& action) {
  try {
    action();
  } catch (const InputError& e) {
    return e.what();
  }
  return "(no error)";
}

void expect_stage(const StageCount& stage, std::uint64_t artists, std::uint64_t genres,
                  std::uint64_t songs) {
  EXPECT_EQ(stage.artists, artists);
  EXPECT_EQ(stage.genres, genres);
  EXPECT_EQ(stage.songs, songs);
}

TEST(Corpus, StageCountsWithFirstGenre) {
  const Corpus corpus = assemble(all_songs());
  const CorpusCounts& c = corpus.counts;
  EXPECT_EQ(c.artist_rows, 10u);
  EXPECT_EQ(c.artists_without_link, 2u);
  EXPECT_EQ(c.duplicate_links, 1u);
  EXPECT_EQ(c.lyric_rows, 25u);
  EXPECT_EQ(c.unjoined, 2u);
  expect_stage(c.joined, 6, 6, 23);
  expect_stage(c.language, 6, 6, 19);
  EXPECT_EQ(c.duplicates_dropped, 2u);
  EXPECT_EQ(c.empty_dropped, 2u);
  EXPECT_EQ(c.no_genre_dropped, 1u);
  EXPECT_EQ(c.multi_genre_dropped, 0u);
  EXPECT_EQ(c.usable_songs, 14u);
  EXPECT_EQ(c.selected_songs, 14u);
  EXPECT_EQ(c.clean.texts, 17u);  // language-kept rows after dedupe

  EXPECT_EQ(corpus.genres, (std::vector<std::string>{"Rock", "Hip Hop", "Pop", "Romântico"}));
  ASSERT_EQ(c.genres.size(), 4u);
  const std::uint64_t available[] = {6, 3, 3, 2};
  for (std::size_t g = 0; g < 4; ++g) {
    EXPECT_EQ(c.genres[g].genre, corpus.genres[g]);
    EXPECT_EQ(c.genres[g].available, available[g]);
    EXPECT_EQ(c.genres[g].selected, available[g]);
  }
  const auto by_genre = rows_by_genre(corpus);
  EXPECT_EQ(by_genre.at("Rock"), (std::set<std::uint64_t>{1, 2, 4, 13, 18, 22}));
  EXPECT_EQ(by_genre.at("Hip Hop"), (std::set<std::uint64_t>{7, 12, 21}));
  EXPECT_EQ(by_genre.at("Pop"), (std::set<std::uint64_t>{3, 10, 17}));
  EXPECT_EQ(by_genre.at("Romântico"), (std::set<std::uint64_t>{14, 19}));
}

TEST(Corpus, IdiomColumnGivesTheSameCorpus) {
  const Corpus a = assemble(all_songs(), "lyrics-data.csv");
  const Corpus b = assemble(all_songs(), "lyrics-data-idiom.csv");
  expect_stage(b.counts.language, 6, 6, 19);
  EXPECT_EQ(b.counts.usable_songs, a.counts.usable_songs);
  EXPECT_EQ(b.genres, a.genres);
  ASSERT_EQ(b.songs.size(), a.songs.size());
  for (std::size_t i = 0; i < a.songs.size(); ++i) {
    EXPECT_EQ(b.songs[i].row, a.songs[i].row);
    EXPECT_EQ(b.songs[i].label, a.songs[i].label);
    EXPECT_EQ(words_of(b, b.songs[i]), words_of(a, a.songs[i]));
  }
}

TEST(Corpus, SongsHoldCleanedTokensAndLineMarks) {
  const Corpus corpus = assemble(all_songs());
  // Row 1: "Rock and roll all night,\nburning ""fire"" in the sky\n\nRock on"
  const CorpusSong& night_fire = song_at_row(corpus, 1);
  EXPECT_EQ(words_of(corpus, night_fire),
            (std::vector<std::string>{"rock", "roll", "night", "burning", "fire", "sky", "rock"}));
  EXPECT_EQ(std::vector<LineMark>(corpus.song_marks(night_fire).begin(),
                                  corpus.song_marks(night_fire).end()),
            (std::vector<LineMark>{make_mark(3, false), make_mark(6, true)}));
  // Row 2: the URL goes.
  EXPECT_EQ(words_of(corpus, song_at_row(corpus, 2)),
            (std::vector<std::string>{"highway", "nowhere", "drive", "fast", "visit"}));
  // Row 3: accents stay, the star separates.
  EXPECT_EQ(words_of(corpus, song_at_row(corpus, 3)),
            (std::vector<std::string>{"sweet", "café", "dancing", "rain"}));
  EXPECT_EQ(corpus.counts.clean.urls_removed, 2u);  // rows 2 and 17
  for (const CorpusSong& s : corpus.songs) EXPECT_GE(s.token_count, 1u);
}

TEST(Corpus, DedupeLyricsAlsoDropsSameTextByAnotherArtist) {
  CorpusOptions options = all_songs();
  options.dedupe = Dedupe::lyrics;
  const Corpus corpus = assemble(options);
  EXPECT_EQ(corpus.counts.duplicates_dropped, 3u);
  EXPECT_EQ(corpus.counts.usable_songs, 13u);
  EXPECT_EQ(rows_by_genre(corpus).at("Pop"), (std::set<std::uint64_t>{3, 10}));
  // Pop (2) and Romântico (2) tie: by name.
  EXPECT_EQ(corpus.genres, (std::vector<std::string>{"Rock", "Hip Hop", "Pop", "Romântico"}));
}

TEST(Corpus, DedupeNoneKeepsRepeatedRows) {
  CorpusOptions options = all_songs();
  options.dedupe = Dedupe::none;
  const Corpus corpus = assemble(options);
  EXPECT_EQ(corpus.counts.duplicates_dropped, 0u);
  EXPECT_EQ(corpus.counts.usable_songs, 16u);
  EXPECT_EQ(corpus.counts.genres.at(0).available, 8u);  // Rock with rows 6 and 25
  EXPECT_EQ(rows_by_genre(corpus).at("Rock"),
            (std::set<std::uint64_t>{1, 2, 4, 6, 13, 18, 22, 25}));
}

TEST(Corpus, EveryGenrePolicyMakesOneSamplePerListedGenre) {
  CorpusOptions options = all_songs();
  options.genre_policy = GenrePolicy::every;
  const Corpus corpus = assemble(options);
  EXPECT_EQ(corpus.counts.usable_songs, 24u);
  EXPECT_EQ(corpus.counts.selected_songs, 24u);
  EXPECT_EQ(corpus.genres,
            (std::vector<std::string>{"Pop", "Rock", "Pop/Rock", "Hip Hop", "Rap", "Romântico"}));
  const auto by_genre = rows_by_genre(corpus);
  EXPECT_EQ(by_genre.at("Pop"), (std::set<std::uint64_t>{3, 7, 10, 12, 17, 21}));
  EXPECT_EQ(by_genre.at("Pop/Rock"), (std::set<std::uint64_t>{1, 2, 13, 18}));
  EXPECT_EQ(by_genre.at("Rap"), (std::set<std::uint64_t>{7, 12, 21}));

  // Samples of one row share its tokens: the arrays hold the 14 rows once.
  std::map<std::uint64_t, std::uint64_t> begin_of_row;
  std::uint64_t distinct_tokens = 0;
  for (const CorpusSong& s : corpus.songs) {
    const auto [it, added] = begin_of_row.emplace(s.row, s.token_begin);
    if (added) {
      distinct_tokens += s.token_count;
    } else {
      EXPECT_EQ(it->second, s.token_begin) << "row " << s.row;
    }
  }
  EXPECT_EQ(begin_of_row.size(), 14u);
  EXPECT_EQ(corpus.tokens.size(), distinct_tokens);
}

TEST(Corpus, SingleGenrePolicyDropsMultiGenreArtists) {
  CorpusOptions options = all_songs();
  options.genre_policy = GenrePolicy::single;
  const Corpus corpus = assemble(options);
  EXPECT_EQ(corpus.counts.multi_genre_dropped, 7u);
  EXPECT_EQ(corpus.counts.no_genre_dropped, 1u);
  EXPECT_EQ(corpus.counts.usable_songs, 7u);
  EXPECT_EQ(corpus.genres, (std::vector<std::string>{"Pop", "Rock", "Romântico"}));
  EXPECT_EQ(rows_by_genre(corpus).at("Rock"), (std::set<std::uint64_t>{4, 22}));
}

TEST(Corpus, KeepingStopwordsSavesTheStopwordOnlySong) {
  CorpusOptions options = all_songs();
  options.remove_stopwords = false;
  const Corpus corpus = assemble(options);
  EXPECT_EQ(corpus.counts.empty_dropped, 1u);  // row 9 only; row 16 keeps "and i you we the"
  EXPECT_EQ(corpus.counts.genres.at(0).available, 7u);
  EXPECT_EQ(words_of(corpus, song_at_row(corpus, 16)),
            (std::vector<std::string>{"and", "i", "you", "we", "the"}));
}

TEST(Corpus, TopGenresKeepsTheLargest) {
  CorpusOptions options = all_songs();
  options.top_genres = 3;
  const Corpus corpus = assemble(options);
  EXPECT_EQ(corpus.genres, (std::vector<std::string>{"Rock", "Hip Hop", "Pop"}));
  EXPECT_EQ(corpus.counts.selected_songs, 12u);  // 6 + 3 + 3
  EXPECT_EQ(corpus.counts.usable_songs, 14u);    // counted before the cut
  for (const CorpusSong& s : corpus.songs) EXPECT_LT(s.label, 3u);
}

// The sample per genre follows the documented contract: candidates in row
// order, shuffled by Rng(derive_seed(seed, hash_string(genre))), first N kept.
std::set<std::uint64_t> contract_sample(std::vector<std::uint64_t> candidates,
                                        std::string_view genre, std::uint64_t seed, std::size_t n) {
  Rng rng(derive_seed(seed, hash_string(genre)));
  rng.shuffle(std::span<std::uint64_t>(candidates));
  return {candidates.begin(), candidates.begin() + static_cast<std::ptrdiff_t>(n)};
}

TEST(Corpus, BalancedSamplingPerGenre) {
  CorpusOptions options;
  options.top_genres = 3;
  options.per_genre = 2;
  options.seed = 77;
  const Corpus corpus = assemble(options);
  EXPECT_EQ(corpus.counts.selected_songs, 6u);
  ASSERT_EQ(corpus.counts.genres.size(), 3u);
  for (const GenreCount& g : corpus.counts.genres) EXPECT_EQ(g.selected, 2u);
  EXPECT_EQ(corpus.counts.genres[0].available, 6u);

  const auto by_genre = rows_by_genre(corpus);
  EXPECT_EQ(by_genre.at("Rock"), contract_sample({1, 2, 4, 13, 18, 22}, "Rock", 77, 2));
  EXPECT_EQ(by_genre.at("Hip Hop"), contract_sample({7, 12, 21}, "Hip Hop", 77, 2));
  EXPECT_EQ(by_genre.at("Pop"), contract_sample({3, 10, 17}, "Pop", 77, 2));

  // Only the selected songs' tokens are kept.
  std::uint64_t tokens = 0;
  for (const CorpusSong& s : corpus.songs) tokens += s.token_count;
  EXPECT_EQ(corpus.tokens.size(), tokens);
  for (const std::uint32_t id : corpus.tokens) EXPECT_LT(id, corpus.words.size());
}

TEST(Corpus, FewerSongsThanPerGenreIsAnError) {
  CorpusOptions options;
  options.top_genres = 4;
  options.per_genre = 3;  // Romântico has 2
  const std::string message = error_of([&] { assemble(options); });
  EXPECT_NE(message.find("Romântico"), std::string::npos) << message;
  EXPECT_NE(message.find("only 2 usable songs"), std::string::npos) << message;
  EXPECT_NE(message.find("data.per_genre"), std::string::npos) << message;
  EXPECT_NE(message.find("`all`"), std::string::npos) << message;
  options.top_genres = 3;  // without Romântico, 3 each is possible
  EXPECT_EQ(assemble(options).counts.selected_songs, 9u);
}

TEST(Corpus, SameSeedSameCorpusOtherSeedOtherSample) {
  CorpusOptions options;
  options.top_genres = 3;
  options.per_genre = 2;
  const auto fingerprint = [&](std::uint64_t seed) {
    options.seed = seed;
    const Corpus corpus = assemble(options);
    std::vector<std::pair<std::uint64_t, std::uint32_t>> order;
    for (const CorpusSong& s : corpus.songs) order.emplace_back(s.row, s.label);
    return order;
  };
  EXPECT_EQ(fingerprint(5), fingerprint(5));
  std::set<std::vector<std::pair<std::uint64_t, std::uint32_t>>> seen;
  for (std::uint64_t seed = 1; seed <= 6; ++seed) seen.insert(fingerprint(seed));
  EXPECT_GT(seen.size(), 1u);

  // The final order is shuffled, not grouped by genre.
  options.per_genre = 0;
  options.top_genres = 0;
  std::set<std::vector<std::uint32_t>> label_orders;
  for (std::uint64_t seed = 1; seed <= 6; ++seed) {
    options.seed = seed;
    std::vector<std::uint32_t> labels;
    for (const CorpusSong& s : assemble(options).songs) labels.push_back(s.label);
    label_orders.insert(labels);
  }
  EXPECT_GT(label_orders.size(), 1u);
}

TEST(Corpus, MissingColumnsAreNamed) {
  test::TempDir dir;
  const auto no_language =
      test::write_file(dir / "lyrics.csv", "ALink,SName,SLink,Lyric\n/alpha/,a,b,c\n");
  std::string message =
      error_of([&] { assemble_corpus(sample("artists-data.csv"), no_language, all_songs()); });
  EXPECT_NE(message.find("lyrics.csv: missing column 'language' (or 'Idiom') (columns: ALink, "
                         "SName, SLink, Lyric)"),
            std::string::npos)
      << message;

  const auto no_genres = test::write_file(dir / "artists.csv", "Artist,Link\nA,/alpha/\n");
  message = error_of([&] { assemble_corpus(no_genres, sample("lyrics-data.csv"), all_songs()); });
  EXPECT_NE(message.find("artists.csv: missing column 'Genres' (columns: Artist, Link)"),
            std::string::npos)
      << message;
}

TEST(Corpus, MalformedLyricsFileNamesTheLine) {
  test::TempDir dir;
  const auto bad = test::write_file(
      dir / "lyrics.csv", "ALink,SName,SLink,Lyric,language\n/alpha/,a,b,\"open\nstill open\n");
  const std::string message =
      error_of([&] { assemble_corpus(sample("artists-data.csv"), bad, all_songs()); });
  EXPECT_NE(message.find("lyrics.csv:2: unterminated quoted field"), std::string::npos) << message;
}

TEST(Corpus, NoSongInTheLanguageIsAnError) {
  CorpusOptions options = all_songs();
  options.language = "fr";
  const std::string message = error_of([&] { assemble(options); });
  EXPECT_NE(message.find("no usable songs"), std::string::npos) << message;
  EXPECT_NE(message.find("'fr'"), std::string::npos) << message;
}

TEST(Corpus, OtherLanguagesCanBeSelected) {
  CorpusOptions options = all_songs();
  options.language = "pt";
  // pt rows 8, 20 (eta, Romântico) and 23 (alpha, Rock); row 24 is unjoined.
  const Corpus corpus = assemble(options);
  expect_stage(corpus.counts.language, 2, 3, 3);
  EXPECT_EQ(corpus.genres, (std::vector<std::string>{"Romântico", "Rock"}));
  // The Idiom file marks row 23 NA: two songs remain.
  EXPECT_EQ(assemble(options, "lyrics-data-idiom.csv").counts.usable_songs, 2u);
}

TEST(Corpus, ProgressReportsTheWholeFile) {
  std::uint64_t last_done = 0;
  std::uint64_t last_total = 0;
  int calls = 0;
  assemble_corpus(sample("artists-data.csv"), sample("lyrics-data.csv"), all_songs(),
                  [&](std::uint64_t done, std::uint64_t total) {
                    ++calls;
                    last_done = done;
                    last_total = total;
                  });
  EXPECT_GE(calls, 1);
  EXPECT_EQ(last_total, std::filesystem::file_size(sample("lyrics-data.csv")));
  EXPECT_EQ(last_done, last_total);
}

TEST(Corpus, NegativeCountsAreRejected) {
  CorpusOptions options;
  options.per_genre = -1;
  EXPECT_NE(error_of([&] { assemble(options); }).find("data.per_genre"), std::string::npos);
}

TEST(Corpus, OptionsFromConfig) {
  DataConfig config;
  config.language = "pt";
  config.genre_policy = GenrePolicy::every;
  config.dedupe = Dedupe::lyrics;
  config.top_genres = 5;
  config.per_genre = 0;
  config.remove_stopwords = false;
  config.seed = 99;
  const CorpusOptions options = CorpusOptions::from(config);
  EXPECT_EQ(options.language, "pt");
  EXPECT_EQ(options.genre_policy, GenrePolicy::every);
  EXPECT_EQ(options.dedupe, Dedupe::lyrics);
  EXPECT_EQ(options.top_genres, 5);
  EXPECT_EQ(options.per_genre, 0);
  EXPECT_FALSE(options.remove_stopwords);
  EXPECT_EQ(options.seed, 99u);
}

TEST(Corpus, LanguageMatching) {
  EXPECT_TRUE(language_matches("en", "en"));
  EXPECT_TRUE(language_matches("EN", "en"));
  EXPECT_TRUE(language_matches("ENGLISH", "en"));
  EXPECT_TRUE(language_matches(" English ", "en"));
  EXPECT_FALSE(language_matches("PORTUGUESE", "en"));
  EXPECT_FALSE(language_matches("NA", "en"));
  EXPECT_FALSE(language_matches("", "en"));
  EXPECT_TRUE(language_matches("PORTUGUESE", "pt"));
  EXPECT_TRUE(language_matches("es", "SPANISH"));
  EXPECT_TRUE(language_matches("GERMAN", "de"));
  EXPECT_FALSE(language_matches("pt", "es"));
  EXPECT_TRUE(language_matches("ru", "ru"));  // unknown codes compare as they are
}

TEST(Corpus, SplitGenres) {
  EXPECT_EQ(split_genres("Pop; Axé; Romântico"),
            (std::vector<std::string>{"Pop", "Axé", "Romântico"}));
  EXPECT_EQ(split_genres(" Rock "), (std::vector<std::string>{"Rock"}));
  EXPECT_EQ(split_genres("Rock;Pop/Rock"), (std::vector<std::string>{"Rock", "Pop/Rock"}));
  EXPECT_TRUE(split_genres("").empty());
  EXPECT_TRUE(split_genres("NA").empty());
  EXPECT_TRUE(split_genres(" ; ").empty());
}

TEST(Corpus, WordTableInternsInFirstSeenOrder) {
  WordTable table;
  EXPECT_EQ(table.intern("fire"), 0u);
  EXPECT_EQ(table.intern("rain"), 1u);
  EXPECT_EQ(table.intern("fire"), 0u);
  EXPECT_EQ(table.size(), 2u);
  EXPECT_EQ(table.word(1), "rain");
}

}  // namespace
}  // namespace lyre::data
