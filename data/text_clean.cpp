#include "data/text_clean.hpp"

#include <array>

#include "engine/core/strings.hpp"

namespace lyre::data {
namespace {

constexpr std::string_view kStopwordsText =
#include "stopwords_en.inc"
    ;

// ---------------------------------------------------------------------------
// Latin letters U+00C0..U+024F and their simple lowercase mappings
// (UnicodeData.txt, field 13). Runs of capitals with a common step and offset;
// every other code point of the range is already lowercase (or caseless),
// except U+00D7 and U+00F7 (x and /), which are symbols, not letters.
// ---------------------------------------------------------------------------
constexpr char32_t kLatinFirst = 0x00C0;
constexpr char32_t kLatinLast = 0x024F;

struct CaseRun {
  char32_t first;
  char32_t last;
  char32_t step;  // 1: every code point; 2: every other one (capital/small pairs)
  int offset;     // lowercase = capital + offset
};

constexpr CaseRun kCaseRuns[] = {
    {0x00C0, 0x00D6, 1, 32},   {0x00D8, 0x00DE, 1, 32},   {0x0100, 0x012E, 2, 1},
    {0x0130, 0x0130, 1, -199}, {0x0132, 0x0136, 2, 1},    {0x0139, 0x0147, 2, 1},
    {0x014A, 0x0176, 2, 1},    {0x0178, 0x0178, 1, -121}, {0x0179, 0x017D, 2, 1},
    {0x0181, 0x0181, 1, 210},  {0x0182, 0x0184, 2, 1},    {0x0186, 0x0186, 1, 206},
    {0x0187, 0x0187, 1, 1},    {0x0189, 0x018A, 1, 205},  {0x018B, 0x018B, 1, 1},
    {0x018E, 0x018E, 1, 79},   {0x018F, 0x018F, 1, 202},  {0x0190, 0x0190, 1, 203},
    {0x0191, 0x0191, 1, 1},    {0x0193, 0x0193, 1, 205},  {0x0194, 0x0194, 1, 207},
    {0x0196, 0x0196, 1, 211},  {0x0197, 0x0197, 1, 209},  {0x0198, 0x0198, 1, 1},
    {0x019C, 0x019C, 1, 211},  {0x019D, 0x019D, 1, 213},  {0x019F, 0x019F, 1, 214},
    {0x01A0, 0x01A4, 2, 1},    {0x01A6, 0x01A6, 1, 218},  {0x01A7, 0x01A7, 1, 1},
    {0x01A9, 0x01A9, 1, 218},  {0x01AC, 0x01AC, 1, 1},    {0x01AE, 0x01AE, 1, 218},
    {0x01AF, 0x01AF, 1, 1},    {0x01B1, 0x01B2, 1, 217},  {0x01B3, 0x01B5, 2, 1},
    {0x01B7, 0x01B7, 1, 219},  {0x01B8, 0x01B8, 1, 1},    {0x01BC, 0x01BC, 1, 1},
    {0x01C4, 0x01C4, 1, 2},    {0x01C5, 0x01C5, 1, 1},    {0x01C7, 0x01C7, 1, 2},
    {0x01C8, 0x01C8, 1, 1},    {0x01CA, 0x01CA, 1, 2},    {0x01CB, 0x01DB, 2, 1},
    {0x01DE, 0x01EE, 2, 1},    {0x01F1, 0x01F1, 1, 2},    {0x01F2, 0x01F4, 2, 1},
    {0x01F6, 0x01F6, 1, -97},  {0x01F7, 0x01F7, 1, -56},  {0x01F8, 0x021E, 2, 1},
    {0x0220, 0x0220, 1, -130}, {0x0222, 0x0232, 2, 1},    {0x023A, 0x023A, 1, 10795},
    {0x023B, 0x023B, 1, 1},    {0x023D, 0x023D, 1, -163}, {0x023E, 0x023E, 1, 10792},
    {0x0241, 0x0241, 1, 1},    {0x0243, 0x0243, 1, -195}, {0x0244, 0x0244, 1, 69},
    {0x0245, 0x0245, 1, 71},   {0x0246, 0x024E, 2, 1},
};

// Lowercase of every code point in the Latin range; 0 marks a non-letter.
constexpr auto kLatinLower = [] {
  std::array<char32_t, kLatinLast - kLatinFirst + 1> table{};
  for (char32_t c = kLatinFirst; c <= kLatinLast; ++c) table[c - kLatinFirst] = c;
  table[0x00D7 - kLatinFirst] = 0;
  table[0x00F7 - kLatinFirst] = 0;
  for (const CaseRun& run : kCaseRuns)
    for (char32_t c = run.first; c <= run.last; c += run.step)
      table[c - kLatinFirst] = static_cast<char32_t>(static_cast<int>(c) + run.offset);
  return table;
}();

// ASCII bytes: their lowercase when they are word characters, 0 otherwise.
constexpr auto kAsciiWord = [] {
  std::array<char, 128> table{};
  for (char c = '0'; c <= '9'; ++c) table[static_cast<std::size_t>(c)] = c;
  for (char c = 'a'; c <= 'z'; ++c) table[static_cast<std::size_t>(c)] = c;
  for (char c = 'A'; c <= 'Z'; ++c)
    table[static_cast<std::size_t>(c)] = static_cast<char>(c - 'A' + 'a');
  return table;
}();

constexpr bool is_space(char c) {
  return c == ' ' || c == '\n' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

// ---------------------------------------------------------------------------
// UTF-8 decoding. An invalid sequence is its maximal subpart (Unicode's
// "substitution of maximal subparts", as in W3C/WHATWG decoders): the lead
// byte plus the continuation bytes that were valid so far, at least one byte.
// ---------------------------------------------------------------------------
constexpr char32_t kInvalid = 0xFFFFFFFF;

struct Decoded {
  char32_t code;       // kInvalid for an invalid sequence
  std::size_t length;  // bytes consumed, >= 1
};

Decoded decode_utf8(std::string_view text, std::size_t pos) {
  const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(text[i]); };
  const unsigned char lead = byte(pos);
  if (lead < 0x80) return {lead, 1};

  std::size_t length = 0;
  unsigned char low = 0x80;   // allowed range of the second byte (rules out
  unsigned char high = 0xBF;  // overlongs, surrogates and values past U+10FFFF)
  char32_t code = 0;
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
    code = lead & 0x1Fu;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    code = lead & 0x0Fu;
    if (lead == 0xE0) low = 0xA0;
    if (lead == 0xED) high = 0x9F;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    code = lead & 0x07u;
    if (lead == 0xF0) low = 0x90;
    if (lead == 0xF4) high = 0x8F;
  } else {
    return {kInvalid, 1};
  }

  for (std::size_t i = 1; i < length; ++i) {
    if (pos + i >= text.size()) return {kInvalid, i};
    const unsigned char next = byte(pos + i);
    const bool in_range = i == 1 ? (next >= low && next <= high) : (next >= 0x80 && next <= 0xBF);
    if (!in_range) return {kInvalid, i};
    code = (code << 6) | (next & 0x3Fu);
  }
  return {code, length};
}

void append_utf8(std::string& out, char32_t c) {
  if (c < 0x80) {
    out.push_back(static_cast<char>(c));
  } else if (c < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (c >> 6)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xE0 | (c >> 12)));
    out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  }
}

// The lowercase form of a word character, or 0 when `c` separates words.
char32_t word_char(char32_t c) {
  if (c < 0x80) return static_cast<unsigned char>(kAsciiWord[c]);
  if (c >= kLatinFirst && c <= kLatinLast) return kLatinLower[c - kLatinFirst];
  return 0;
}

constexpr char32_t kRightSingleQuote = 0x2019;

bool is_apostrophe(char32_t c) { return c == '\'' || c == kRightSingleQuote; }

// Rule 2: a whitespace-delimited chunk that is (or holds) a URL.
// `has_colon` spares the search in the many chunks without one.
bool is_url(std::string_view chunk, bool has_colon) {
  if ((chunk[0] == 'w' || chunk[0] == 'W') && starts_with_ci(chunk, "www.")) return true;
  return has_colon && chunk.find("://") != std::string_view::npos;
}

std::size_t word_shape(std::string_view word) {
  const auto first = static_cast<unsigned char>(word.front());
  const auto last = static_cast<unsigned char>(word.back());
  return (first * 67u + last * 13u + word.size()) % 4096u;
}

using StopwordShapes = std::bitset<4096>;

enum class Pending { none, line, stanza };

// Builds one text's tokens and marks; the cleaner's state for one call.
class TextCleaner {
 public:
  TextCleaner(const std::unordered_set<std::string>* stopwords, const StopwordShapes& shapes,
              std::vector<std::string>& tokens, std::vector<LineMark>& marks, CleanStats& stats)
      : stopwords_(stopwords), shapes_(shapes), tokens_(tokens), marks_(marks), stats_(stats) {}

  void run(std::string_view text) {
    marks_.clear();
    std::size_t pos = 0;
    while (pos < text.size()) {
      pos = skip_space(text, pos);
      std::size_t end = pos;
      bool has_colon = false;
      while (end < text.size() && !is_space(text[end])) has_colon |= text[end++] == ':';
      const std::string_view chunk = text.substr(pos, end - pos);
      if (chunk.empty()) break;
      if (is_url(chunk, has_colon)) {
        ++stats_.urls_removed;
      } else {
        split_words(chunk);
      }
      pos = end;
    }
    tokens_.resize(count_);
    ++stats_.texts;
    stats_.tokens += count_;
  }

 private:
  // Skips whitespace, noting line and stanza breaks for the next token.
  std::size_t skip_space(std::string_view text, std::size_t pos) {
    int newlines = 0;
    while (pos < text.size() && is_space(text[pos])) {
      if (text[pos] == '\n') ++newlines;
      ++pos;
    }
    if (newlines >= 2) {
      pending_ = Pending::stanza;
    } else if (newlines == 1 && pending_ == Pending::none) {
      pending_ = Pending::line;
    }
    return pos;
  }

  void split_words(std::string_view chunk) {
    std::size_t pos = 0;
    while (pos < chunk.size()) {
      if (const std::size_t run = ascii_word_run(chunk, pos); run > 0) {
        append_ascii(chunk.substr(pos, run));
        pos += run;
        continue;
      }
      const Decoded d = decode_utf8(chunk, pos);
      pos += d.length;
      if (d.code == kInvalid) {
        ++stats_.invalid_utf8;
        end_word();
      } else if (const char32_t lower = word_char(d.code); lower != 0) {
        append_utf8(word(), lower);
      } else if (is_apostrophe(d.code) && in_word_ && pos < chunk.size() &&
                 word_char(decode_utf8(chunk, pos).code) != 0) {
        word().push_back('\'');
      } else {
        end_word();
      }
    }
    end_word();
  }

  // Length of the run of ASCII word characters at `pos` (the common case,
  // handled without decoding).
  static std::size_t ascii_word_run(std::string_view chunk, std::size_t pos) {
    std::size_t end = pos;
    while (end < chunk.size()) {
      const auto byte = static_cast<unsigned char>(chunk[end]);
      if (byte >= 0x80 || kAsciiWord[byte] == 0) break;
      ++end;
    }
    return end - pos;
  }

  void append_ascii(std::string_view run) {
    std::string& w = word();
    const std::size_t old = w.size();
    w.append(run);
    for (std::size_t i = old; i < w.size(); ++i)
      w[i] = kAsciiWord[static_cast<unsigned char>(w[i])];
  }

  bool is_stopword(const std::string& word) const {
    return stopwords_ && shapes_.test(word_shape(word)) && stopwords_->count(word) != 0;
  }

  // The token being built, in place in the output vector so that its storage
  // is reused from call to call.
  std::string& word() {
    if (!in_word_) {
      if (count_ == tokens_.size()) tokens_.emplace_back();
      tokens_[count_].clear();
      in_word_ = true;
    }
    return tokens_[count_];
  }

  void end_word() {
    if (!in_word_) return;
    in_word_ = false;
    ++stats_.words;
    if (is_stopword(tokens_[count_])) {
      ++stats_.stopwords_removed;
      return;
    }
    if (pending_ != Pending::none && count_ > 0)
      marks_.push_back(make_mark(static_cast<std::uint32_t>(count_), pending_ == Pending::stanza));
    pending_ = Pending::none;
    ++count_;
  }

  const std::unordered_set<std::string>* stopwords_;
  const StopwordShapes& shapes_;
  std::vector<std::string>& tokens_;
  std::vector<LineMark>& marks_;
  CleanStats& stats_;
  std::size_t count_ = 0;  // tokens kept so far
  bool in_word_ = false;   // tokens_[count_] holds a word in progress
  Pending pending_ = Pending::none;
};

}  // namespace

CleanStats& CleanStats::operator+=(const CleanStats& o) {
  texts += o.texts;
  invalid_utf8 += o.invalid_utf8;
  urls_removed += o.urls_removed;
  words += o.words;
  stopwords_removed += o.stopwords_removed;
  tokens += o.tokens;
  return *this;
}

std::unordered_set<std::string> parse_stopwords(std::string_view text) {
  std::unordered_set<std::string> words;
  for (const std::string& line : split(text, '\n')) {
    std::string_view word = line;
    if (const auto hash = word.find('#'); hash != std::string_view::npos)
      word = word.substr(0, hash);
    word = trim(word);
    if (!word.empty()) words.emplace(word);
  }
  return words;
}

const std::unordered_set<std::string>& english_stopwords() {
  static const std::unordered_set<std::string> words = parse_stopwords(kStopwordsText);
  return words;
}

LyricsCleaner::LyricsCleaner(const std::unordered_set<std::string>* stopwords)
    : stopwords_(stopwords) {
  if (!stopwords_) return;
  for (const std::string& word : *stopwords_)
    if (!word.empty()) stopword_shapes_.set(word_shape(word));
}

void LyricsCleaner::clean(std::string_view text, std::vector<std::string>& tokens,
                          std::vector<LineMark>& marks, CleanStats& stats) const {
  TextCleaner(stopwords_, stopword_shapes_, tokens, marks, stats).run(text);
}

}  // namespace lyre::data
