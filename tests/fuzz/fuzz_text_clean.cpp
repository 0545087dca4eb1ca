// libFuzzer harness: lyric cleaning and UTF-8 repair (data/text_clean.*).
//
// The input is a lyric as it comes out of the CSV: any bytes. Cleaning never
// rejects text (rule 1 repairs invalid UTF-8), so there is no error to
// accept; the findings are crashes, sanitizer reports and broken promises
// about the output: tokens are non-empty, valid UTF-8 and free of separators,
// marks point strictly forward inside the song and never at token 0, the
// counters add up, and a cleaned text cleaned again gives the same tokens.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "data/text_clean.hpp"
#include "tests/fuzz/fuzz_support.hpp"

namespace {

using namespace lyre;
using fuzz::require;

// Strict UTF-8 (no overlongs, surrogates or values past U+10FFFF); returns
// the largest code point, or -1 when the bytes are not UTF-8.
long max_code_point(std::string_view s) {
  long highest = 0;
  for (std::size_t i = 0; i < s.size();) {
    const auto b = static_cast<unsigned char>(s[i]);
    std::size_t n = b < 0x80 ? 1 : (b >> 5) == 6 ? 2 : (b >> 4) == 14 ? 3 : (b >> 3) == 30 ? 4 : 0;
    if (n == 0 || i + n > s.size()) return -1;
    long c = n == 1 ? b : n == 2 ? (b & 0x1F) : n == 3 ? (b & 0x0F) : (b & 0x07);
    for (std::size_t k = 1; k < n; ++k) {
      const auto cb = static_cast<unsigned char>(s[i + k]);
      if ((cb & 0xC0) != 0x80) return -1;
      c = (c << 6) | (cb & 0x3F);
    }
    static constexpr long kMin[] = {0, 0, 0x80, 0x800, 0x10000};
    if (c < kMin[n] || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) return -1;
    highest = std::max(highest, c);
    i += n;
  }
  return highest;
}

void check_output(const std::vector<std::string>& tokens, const std::vector<data::LineMark>& marks,
                  const data::CleanStats& stats) {
  require(stats.texts == 1, "stats.texts is not 1 after one text");
  require(stats.tokens == tokens.size(), "stats.tokens disagrees with the tokens returned");
  require(stats.words == stats.tokens + stats.stopwords_removed,
          "words != tokens + stopwords removed");
  for (const std::string& t : tokens) {
    require(!t.empty(), "an empty token");
    require(max_code_point(t) >= 0, "a token that is not valid UTF-8");
    require(t.find_first_of(" \t\r\n\f\v") == std::string::npos, "a token holding whitespace");
    require(t.front() != '\'' && t.back() != '\'', "an apostrophe at a token's edge");
  }
  std::uint32_t previous = 0;
  for (const data::LineMark m : marks) {
    const std::uint32_t token = data::mark_token(m);
    require(token > 0, "a mark on token 0");
    require(token < tokens.size(), "a mark past the last token");
    require(token > previous, "marks not strictly increasing");
    previous = token;
  }
}

// Lowercase forms of some Latin capitals lie past U+024F (U+0181 -> U+0253);
// those are not word characters when met again, so only tokens within the
// word range are expected to survive a second cleaning unchanged.
bool in_word_range(const std::vector<std::string>& tokens) {
  for (const std::string& t : tokens)
    if (max_code_point(t) > 0x024F) return false;
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  static const data::LyricsCleaner with_stopwords(&data::english_stopwords());
  static const data::LyricsCleaner without_stopwords(nullptr);

  std::vector<std::string> tokens, again;
  std::vector<data::LineMark> marks, again_marks;
  for (const data::LyricsCleaner* cleaner : {&with_stopwords, &without_stopwords}) {
    data::CleanStats stats;
    cleaner->clean(text, tokens, marks, stats);
    check_output(tokens, marks, stats);
    if (!in_word_range(tokens)) continue;
    std::string joined;
    for (const std::string& t : tokens) (joined += t) += ' ';
    data::CleanStats again_stats;
    cleaner->clean(joined, again, again_marks, again_stats);
    require(again == tokens, "cleaning a cleaned text changed its tokens");
    require(again_stats.invalid_utf8 == 0, "cleaned tokens hold invalid UTF-8");
  }

  // The stopword file parser (its own list is compiled in; a user's may follow).
  for (const std::string& word : data::parse_stopwords(text)) {
    require(!word.empty(), "an empty stopword");
    require(word.find('#') == std::string::npos, "a stopword holding a comment");
  }
  return 0;
}
