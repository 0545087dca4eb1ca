// Lyric cleaning and tokenization.
//
// Rules (kept in this one place so that `prepare`, `predict` and the tests
// agree):
//  1. UTF-8 is decoded; an invalid byte sequence is counted and treated as a
//     word separator (the text is repaired, never rejected).
//  2. URLs are removed: any whitespace-delimited chunk that contains "://" or
//     starts with "www." (case-insensitive).
//  3. Text is lowercased. ASCII letters and digits are word characters; so are
//     Latin letters U+00C0..U+024F (lowercased where they have a simple
//     lowercase, e.g. 'É' -> 'é'), so "café" stays one word.
//  4. An apostrophe (ASCII ' or U+2019 ’, normalized to ') is kept only inside
//     a word: "don't" stays, "'cause" -> "cause", "rockin'" -> "rockin".
//  5. Everything else (punctuation, symbols, emoji, other scripts) separates
//     words.
//  6. With stopwords enabled, words in the stopword list are dropped.
//  7. Line structure is kept in a side table: a newline starts a new line, a
//     blank line (only whitespace between two newlines) starts a new stanza.
//     Marks are recorded against the token index of the first token of the new
//     line, so removing stopwords keeps them aligned; a mark with no token after
//     it is dropped.
#pragma once

#include <bitset>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

namespace lyre::data {

// Line-structure marks: (token_index << 1) | is_stanza_start. Token index 0 is
// never marked (every song starts a line and a stanza).
using LineMark = std::uint32_t;
inline constexpr LineMark make_mark(std::uint32_t token_index, bool stanza) {
  return (token_index << 1) | (stanza ? 1u : 0u);
}
inline constexpr std::uint32_t mark_token(LineMark m) { return m >> 1; }
inline constexpr bool mark_is_stanza(LineMark m) { return (m & 1u) != 0; }

struct CleanStats {
  std::uint64_t texts = 0;
  std::uint64_t invalid_utf8 = 0;       // invalid byte sequences repaired
  std::uint64_t urls_removed = 0;
  std::uint64_t words = 0;              // words before stopword removal
  std::uint64_t stopwords_removed = 0;
  std::uint64_t tokens = 0;             // words kept

  CleanStats& operator+=(const CleanStats& o);
};

// The English stopword list shipped in data/stopwords_en.txt (NLTK's list; see
// the file's header for the source). The file is compiled into the binary so
// that an installed `lyre` needs no data folder.
const std::unordered_set<std::string>& english_stopwords();

// Parses a stopword file: one word per line, '#' starts a comment.
std::unordered_set<std::string> parse_stopwords(std::string_view text);

class LyricsCleaner {
 public:
  // `stopwords` may be null (keep every word). It must outlive the cleaner.
  explicit LyricsCleaner(const std::unordered_set<std::string>* stopwords);

  // Cleans `text`, replacing the contents of `tokens` and `marks`.
  // Allocation-free in steady state: reuse the vectors across calls.
  void clean(std::string_view text, std::vector<std::string>& tokens,
             std::vector<LineMark>& marks, CleanStats& stats) const;

 private:
  const std::unordered_set<std::string>* stopwords_;
  // Shapes (length, first and last byte) of the stopwords: a word whose shape
  // is absent skips the hash lookup, which is most words.
  std::bitset<4096> stopword_shapes_;
};

}  // namespace lyre::data
