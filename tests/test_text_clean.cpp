// LyricsCleaner: every rule of data/text_clean.hpp, broken UTF-8, and the
// line/stanza marks.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "data/text_clean.hpp"

namespace lyre::data {
namespace {

struct Cleaned {
  std::vector<std::string> tokens;
  std::vector<LineMark> marks;
  CleanStats stats;
};

Cleaned clean(std::string_view text, bool stopwords = false) {
  const LyricsCleaner cleaner(stopwords ? &english_stopwords() : nullptr);
  Cleaned out;
  cleaner.clean(text, out.tokens, out.marks, out.stats);
  return out;
}

using Words = std::vector<std::string>;

Words words(std::string_view text, bool stopwords = false) { return clean(text, stopwords).tokens; }

TEST(TextClean, LowercasesAndSplitsOnPunctuation) {
  EXPECT_EQ(words("Hello, WORLD! It's 2Pac-time... (x2)"),
            (Words{"hello", "world", "it's", "2pac", "time", "x2"}));
}

TEST(TextClean, DigitsAreWordCharacters) {
  EXPECT_EQ(words("1999 24/7 4ever"), (Words{"1999", "24", "7", "4ever"}));
}

TEST(TextClean, LatinLettersStayInTheWordAndAreLowercased) {
  EXPECT_EQ(words("CAFÉ café Ação coração"), (Words{"café", "café", "ação", "coração"}));
  // Latin Extended-A and -B: Ł -> ł, Ő -> ő, Ǆ -> ǆ; U+0130 (İ) -> i.
  EXPECT_EQ(words("ŁÓDŹ ŐRÜLT ǄA İSTANBUL"), (Words{"łódź", "őrült", "ǆa", "istanbul"}));
  // Already-lowercase letters without a capital stay: ß, ĸ, ſ.
  EXPECT_EQ(words("Straße ĸ ſ"), (Words{"straße", "ĸ", "ſ"}));
}

TEST(TextClean, MultiplicationAndDivisionSignsSeparate) {
  // U+00D7 and U+00F7 sit inside the Latin range but are symbols.
  EXPECT_EQ(words("2×3 a÷b"), (Words{"2", "3", "a", "b"}));
}

TEST(TextClean, OtherScriptsSymbolsAndEmojiSeparate) {
  EXPECT_EQ(words("love♪you ★star★ 🎸rock🎸 любовь 愛 mix—match"),
            (Words{"love", "you", "star", "rock", "mix", "match"}));
}

TEST(TextClean, ApostropheKeptOnlyInsideAWord) {
  EXPECT_EQ(words("don't 'cause rockin' ''tis' o'clock"),
            (Words{"don't", "cause", "rockin", "tis", "o'clock"}));
  // The typographic apostrophe U+2019 is normalized to '.
  EXPECT_EQ(words("don’t ’cause rockin’"), (Words{"don't", "cause", "rockin"}));
  // Two apostrophes in a row are not inside one word: they separate.
  EXPECT_EQ(words("a''b"), (Words{"a", "b"}));
}

TEST(TextClean, UrlsAreRemovedAsWholeChunks) {
  const Cleaned c = clean(
      "visit http://www.vagalume.com.br/x?y=1 now, WWW.Site.com or "
      "(https://youtu.be/abc) and ftp://files\nend");
  EXPECT_EQ(c.tokens, (Words{"visit", "now", "or", "and", "end"}));
  EXPECT_EQ(c.stats.urls_removed, 4u);
  // "www" alone, or inside a word, is not a URL.
  EXPECT_EQ(words("www wwwx.com"), (Words{"www", "wwwx", "com"}));
}

TEST(TextClean, StopwordsAreDroppedWhenEnabled) {
  const Cleaned c = clean("I don't want YOU to go, the night is young", true);
  EXPECT_EQ(c.tokens, (Words{"want", "go", "night", "young"}));
  EXPECT_EQ(c.stats.words, 10u);
  EXPECT_EQ(c.stats.stopwords_removed, 6u);
  EXPECT_EQ(c.stats.tokens, 4u);
  EXPECT_EQ(words("I don't want", false), (Words{"i", "don't", "want"}));
}

TEST(TextClean, OnlyStopwordsAndPunctuationLeavesNothing) {
  const Cleaned c = clean("Oh... and I, you -- we!!!\n\nthe", true);
  EXPECT_EQ(c.tokens, (Words{"oh"}));  // "oh" is not an NLTK stopword
  EXPECT_TRUE(clean("and I, you -- we!!!\n\nthe ♪", true).tokens.empty());
  EXPECT_TRUE(clean("", true).tokens.empty());
  EXPECT_TRUE(clean(" \n\n\t ", true).marks.empty());
}

TEST(TextClean, EnglishStopwordListIsNltks) {
  const auto& stopwords = english_stopwords();
  EXPECT_EQ(stopwords.size(), 179u);
  for (const char* w : {"i", "me", "the", "don't", "wouldn't", "y", "ain"})
    EXPECT_TRUE(stopwords.contains(w)) << w;
  EXPECT_FALSE(stopwords.contains("love"));
  EXPECT_FALSE(stopwords.contains(""));
}

TEST(TextClean, ParseStopwordsSkipsCommentsAndBlankLines) {
  const auto words = parse_stopwords("# header\nthe\n  a  \n\nand # trailing\n#x\n");
  EXPECT_EQ(words, (std::unordered_set<std::string>{"the", "a", "and"}));
}

TEST(TextClean, LineAndStanzaMarks) {
  const Cleaned c = clean("one two\nthree\n\nfour five\r\nsix\n \t\nseven");
  EXPECT_EQ(c.tokens, (Words{"one", "two", "three", "four", "five", "six", "seven"}));
  EXPECT_EQ(c.marks, (std::vector<LineMark>{make_mark(2, false), make_mark(3, true),
                                            make_mark(5, false), make_mark(6, true)}));
}

TEST(TextClean, MarksStayAlignedAfterStopwordRemoval) {
  // Line 2 starts with stopwords: its mark moves to its first kept token.
  // Line 3 holds only stopwords: its mark merges into line 4's.
  // The stanza break survives a stopword-only line after it.
  const Cleaned c = clean("love me\nand the night\nto the\nfire\n\nI am\nrain", true);
  EXPECT_EQ(c.tokens, (Words{"love", "night", "fire", "rain"}));
  EXPECT_EQ(c.marks,
            (std::vector<LineMark>{make_mark(1, false), make_mark(2, false), make_mark(3, true)}));
  for (const LineMark m : c.marks) EXPECT_LT(mark_token(m), c.tokens.size());
}

TEST(TextClean, MarkWithoutTokenAfterItIsDropped) {
  const Cleaned c = clean("a b\nc\n\nthe and\n", true);
  EXPECT_EQ(c.tokens, (Words{"b", "c"}));
  EXPECT_EQ(c.marks, (std::vector<LineMark>{make_mark(1, false)}));
}

TEST(TextClean, LeadingBreaksNeverMarkTokenZero) {
  const Cleaned c = clean("\n\n\nfirst\nsecond");
  EXPECT_EQ(c.marks, (std::vector<LineMark>{make_mark(1, false)}));
}

TEST(TextClean, JunkOnlyLineIsALineNotAStanza) {
  // "♪ ♪" is not whitespace, so the line holding it is not blank.
  const Cleaned c = clean("one\n♪ ♪\ntwo\n  \nthree");
  EXPECT_EQ(c.marks, (std::vector<LineMark>{make_mark(1, false), make_mark(2, true)}));
}

TEST(TextClean, UrlOnlyLineKeepsTheLineStructure) {
  const Cleaned c = clean("one\nhttp://x.y/z\n\ntwo");
  EXPECT_EQ(c.tokens, (Words{"one", "two"}));
  EXPECT_EQ(c.marks, (std::vector<LineMark>{make_mark(1, true)}));
}

TEST(TextClean, InvalidUtf8IsCountedAndSeparatesWords) {
  // Two stray bytes: two invalid sequences.
  Cleaned c = clean(
      "ab\xff\xfe"
      "cd");
  EXPECT_EQ(c.tokens, (Words{"ab", "cd"}));
  EXPECT_EQ(c.stats.invalid_utf8, 2u);

  // A truncated 3-byte sequence (E2 82 of the euro sign) is one invalid
  // sequence; the letter after it survives.
  c = clean("x\xe2\x82y");
  EXPECT_EQ(c.tokens, (Words{"x", "y"}));
  EXPECT_EQ(c.stats.invalid_utf8, 1u);

  // Truncated at the very end of the text.
  c = clean("caf\xc3");
  EXPECT_EQ(c.tokens, (Words{"caf"}));
  EXPECT_EQ(c.stats.invalid_utf8, 1u);

  // Overlong encodings: C0 AF ("/") is two invalid bytes; E0 80 AF is three.
  c = clean(
      "a\xc0\xaf"
      "b\xe0\x80\xaf"
      "c");
  EXPECT_EQ(c.tokens, (Words{"a", "b", "c"}));
  EXPECT_EQ(c.stats.invalid_utf8, 5u);

  // An encoded UTF-16 surrogate (ED A0 80) and a code point past U+10FFFF (F4 90 80 80).
  c = clean(
      "a\xed\xa0\x80"
      "b\xf4\x90\x80\x80"
      "c");
  EXPECT_EQ(c.tokens, (Words{"a", "b", "c"}));
  EXPECT_EQ(c.stats.invalid_utf8, 7u);

  // A lone continuation byte inside a word splits it.
  c = clean("caf\xa9");
  EXPECT_EQ(c.tokens, (Words{"caf"}));
  EXPECT_EQ(c.stats.invalid_utf8, 1u);
}

TEST(TextClean, ValidFourByteSequencesAreNotCountedAsInvalid) {
  const Cleaned c = clean("rock 🎸 roll 𝄞 end");
  EXPECT_EQ(c.tokens, (Words{"rock", "roll", "end"}));
  EXPECT_EQ(c.stats.invalid_utf8, 0u);
}

TEST(TextClean, EveryByteValueIsSafe) {
  std::string text;
  for (int i = 0; i < 256; ++i) {
    text += static_cast<char>(i);
    text += "w";
  }
  const Cleaned c = clean(text);
  EXPECT_GT(c.stats.invalid_utf8, 0u);
  for (const std::string& token : c.tokens) EXPECT_FALSE(token.empty());
}

TEST(TextClean, StatsAccumulateAcrossTexts) {
  const LyricsCleaner cleaner(&english_stopwords());
  std::vector<std::string> tokens;
  std::vector<LineMark> marks;
  CleanStats stats;
  cleaner.clean("the fire www.x.com", tokens, marks, stats);
  cleaner.clean("burn \xff it", tokens, marks, stats);
  EXPECT_EQ(tokens, (Words{"burn"}));  // the second call replaced the first's tokens
  EXPECT_EQ(stats.texts, 2u);
  EXPECT_EQ(stats.urls_removed, 1u);
  EXPECT_EQ(stats.invalid_utf8, 1u);
  EXPECT_EQ(stats.words, 4u);
  EXPECT_EQ(stats.stopwords_removed, 2u);
  EXPECT_EQ(stats.tokens, 2u);

  CleanStats total;
  total += stats;
  total += stats;
  EXPECT_EQ(total.texts, 4u);
  EXPECT_EQ(total.tokens, 4u);
  EXPECT_EQ(total.invalid_utf8, 2u);
}

TEST(TextClean, ReusedVectorsGetFreshMarks) {
  const LyricsCleaner cleaner(nullptr);
  std::vector<std::string> tokens;
  std::vector<LineMark> marks;
  CleanStats stats;
  cleaner.clean("a\nb\n\nc", tokens, marks, stats);
  EXPECT_EQ(marks.size(), 2u);
  cleaner.clean("a longer line without breaks", tokens, marks, stats);
  EXPECT_TRUE(marks.empty());
  EXPECT_EQ(tokens.size(), 5u);
}

}  // namespace
}  // namespace lyre::data
