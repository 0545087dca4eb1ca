// Corpus assembly: Kaggle CSVs -> cleaned, tokenized, balanced songs.
//
// Pipeline (one pass over the lyrics file, streaming):
//   artists-data.csv -> map Link -> genres
//   each lyrics row: join ALink = Link -> language filter -> de-duplicate ->
//   clean + tokenize (text_clean.hpp) -> drop songs left with no token ->
//   genre by policy
// then: count songs per genre -> keep the top K -> balanced sample of N songs
// per genre (seeded) -> shuffle the selection (seeded) into its final order.
// Counts are kept at every stage, as the paper reports them.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "data/text_clean.hpp"
#include "engine/config/config.hpp"

namespace lyre::data {

// Interns cleaned words: every distinct word gets a dense id in first-seen
// order. The vocabulary is built later from the selected songs' counts.
class WordTable {
 public:
  std::uint32_t intern(std::string_view word);
  const std::string& word(std::uint32_t id) const { return words_[id]; }
  std::size_t size() const { return words_.size(); }

 private:
  struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  std::vector<std::string> words_;
  std::unordered_map<std::string, std::uint32_t, Hash, std::equal_to<>> ids_;
};

struct CorpusOptions {
  std::string language = "en";
  GenrePolicy genre_policy = GenrePolicy::first;
  Dedupe dedupe = Dedupe::rows;
  std::int64_t top_genres = 10;  // 0 = all
  std::int64_t per_genre = 2000; // 0 = all
  bool remove_stopwords = true;
  std::uint64_t seed = 1234;

  static CorpusOptions from(const DataConfig& config);
};

// Artists, genres and songs at one stage of the pipeline.
struct StageCount {
  std::uint64_t artists = 0;  // distinct artists with at least one song
  std::uint64_t genres = 0;   // distinct genres listed by those artists
  std::uint64_t songs = 0;
};

struct GenreCount {
  std::string genre;
  std::uint64_t available = 0;  // usable songs of this genre
  std::uint64_t selected = 0;   // after balanced sampling
};

struct CorpusCounts {
  std::uint64_t artist_rows = 0;          // data rows in artists-data.csv
  std::uint64_t artists_without_link = 0; // rows with an empty or NA Link (skipped)
  std::uint64_t duplicate_links = 0;      // later rows repeating a Link (first wins)
  std::uint64_t lyric_rows = 0;           // data rows in lyrics-data.csv
  std::uint64_t unjoined = 0;             // lyric rows whose ALink matches no artist
  StageCount joined;                      // after the join
  StageCount language;                    // after the language filter
  std::uint64_t duplicates_dropped = 0;
  std::uint64_t empty_dropped = 0;        // no token left after cleaning
  std::uint64_t no_genre_dropped = 0;     // artist lists no genre
  std::uint64_t multi_genre_dropped = 0;  // genre_policy: single
  std::uint64_t usable_songs = 0;         // samples that enter genre selection
  std::vector<GenreCount> genres;         // the selected genres, most songs first
  std::uint64_t selected_songs = 0;
  CleanStats clean;                       // over every cleaned (language-kept) song
};

struct CorpusSong {
  std::uint64_t row = 0;          // 1-based data row in the lyrics CSV (stable id)
  std::uint32_t label = 0;        // index into Corpus::genres
  std::uint64_t token_begin = 0;  // into Corpus::tokens
  std::uint32_t token_count = 0;  // >= 1
  std::uint64_t mark_begin = 0;   // into Corpus::marks
  std::uint32_t mark_count = 0;
};

struct Corpus {
  std::vector<std::string> genres;   // selected genres, most songs first (label order)
  std::vector<CorpusSong> songs;     // the selection, in its final shuffled order
  WordTable words;                   // ids used by `tokens`
  std::vector<std::uint32_t> tokens; // word ids of every selected song, back to back
  std::vector<LineMark> marks;       // line-structure marks (text_clean.hpp)
  CorpusCounts counts;

  std::span<const std::uint32_t> song_tokens(const CorpusSong& s) const {
    return {tokens.data() + s.token_begin, s.token_count};
  }
  std::span<const LineMark> song_marks(const CorpusSong& s) const {
    return {marks.data() + s.mark_begin, s.mark_count};
  }
};

// Progress callback: (bytes of the lyrics file consumed, its size).
using ProgressFn = std::function<void(std::uint64_t, std::uint64_t)>;

// Assembles the corpus. InputError on malformed files, missing columns (the
// lyrics file needs ALink, Lyric and a `language` or `Idiom` column; the
// artists file needs Link and Genres), or when a selected genre has fewer
// songs than per_genre (the message names the genre and its count).
Corpus assemble_corpus(const std::filesystem::path& artists_csv,
                       const std::filesystem::path& lyrics_csv, const CorpusOptions& options,
                       const ProgressFn& progress = {});

// True when a lyrics row's language value means the wanted language:
// "en"/"EN" (language column) or "ENGLISH" (Idiom column) for "en"; likewise
// pt/PORTUGUESE, es/SPANISH, fr/FRENCH, de/GERMAN, it/ITALIAN.
bool language_matches(std::string_view value, std::string_view wanted);

// Splits a Genres cell ("Pop; Axé; Romântico") into trimmed names; "" and
// "NA" give an empty list.
std::vector<std::string> split_genres(std::string_view cell);

}  // namespace lyre::data
