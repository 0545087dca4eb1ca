// The synthetic Kaggle-format corpus: the embedded default data of the demo
// and the tests, and the stand-in for the real set in benchmarks.
//
// `lyre synth` writes artists-data.csv (Artist,Genres,Songs,Popularity,Link)
// and lyrics-data.csv (ALink,SName,SLink,Lyric,language) exactly as the Kaggle
// set has them, with the things real data has: multi-genre artists ("Rock;
// Pop/Rock"), accented genre names, non-English songs (pt, es), multi-line
// quoted lyrics with commas and doubled quotes, URLs, junk symbols and emoji,
// exact duplicate rows, empty lyrics, rows whose artist is missing from the
// artists file, and uneven genre sizes (so "top 10 genres" matters).
//
// Songs are learnable but not trivially: each genre has a signature
// vocabulary (overlapping with related genres) mixed into common words and
// stopwords at a modest rate. Deterministic for (songs, seed).
#pragma once

#include <cstdint>
#include <filesystem>

namespace lyre::data {

struct SynthOptions {
  std::int64_t songs = 6000;  // lyric rows, every language and defect included
  std::uint64_t seed = 7;
};

struct SynthResult {
  std::filesystem::path artists_csv;
  std::filesystem::path lyrics_csv;
  std::uint64_t artists = 0;
  std::uint64_t lyric_rows = 0;
  std::uint64_t english_rows = 0;
};

SynthResult write_synthetic_kaggle(const std::filesystem::path& out_dir, const SynthOptions& options);

}  // namespace lyre::data
