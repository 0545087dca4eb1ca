#include "data/vocab.hpp"

#include <gtest/gtest.h>

#include "engine/core/error.hpp"
#include "engine/core/hash.hpp"
#include "tests/support/test_support.hpp"

namespace lyre::data {
namespace {

using test::input_error;
using test::contains;

using test::TempDir;
using test::write_file;

Vocab build(std::vector<std::string> words, std::vector<std::uint64_t> counts,
            std::int64_t min_count = 1, std::int64_t max_size = 0) {
  return Vocab::build(words, counts, min_count, max_size);
}

std::vector<std::string> words_of(const Vocab& v) {
  std::vector<std::string> out;
  for (std::uint32_t id = 0; id < v.size(); ++id) out.push_back(v.word(id));
  return out;
}

TEST(Vocab, OrdersByCountThenWordAfterPadAndUnk) {
  const Vocab v = build({"b", "a", "c", "d", "e"}, {5, 5, 9, 1, 2});
  EXPECT_EQ(words_of(v), (std::vector<std::string>{"<pad>", "<unk>", "c", "a", "b", "e", "d"}));
  EXPECT_EQ(v.count(2), 9u);
  EXPECT_EQ(v.count(Vocab::kPad), 0u);
  EXPECT_EQ(v.count(Vocab::kUnk), 0u);
  EXPECT_EQ(v.word(Vocab::kPad), "<pad>");
  EXPECT_EQ(v.word(Vocab::kUnk), "<unk>");
}

TEST(Vocab, TiesAreBrokenByByteOrder) {
  // 'Z' (0x5A) < 'a' (0x61) < 'é' (0xC3 0xA9): byte order, not locale order.
  const Vocab v = build({"é", "a", "Z"}, {3, 3, 3});
  EXPECT_EQ(words_of(v), (std::vector<std::string>{"<pad>", "<unk>", "Z", "a", "é"}));
}

TEST(Vocab, MinCountSendsRareWordsToUnk) {
  const Vocab v = build({"b", "a", "c", "d", "e"}, {5, 5, 9, 1, 2}, 3);
  EXPECT_EQ(words_of(v), (std::vector<std::string>{"<pad>", "<unk>", "c", "a", "b"}));
  EXPECT_EQ(v.count(Vocab::kUnk), 3u);  // d (1) + e (2)
  EXPECT_EQ(v.lookup("e"), Vocab::kUnk);
}

TEST(Vocab, MaxSizeCountsPadAndUnk) {
  const Vocab v = build({"b", "a", "c", "d", "e"}, {5, 5, 9, 1, 2}, 1, 4);
  EXPECT_EQ(words_of(v), (std::vector<std::string>{"<pad>", "<unk>", "c", "a"}));
  EXPECT_EQ(v.count(Vocab::kUnk), 8u);  // b (5) + e (2) + d (1)
}

TEST(Vocab, MaxSizeOfTwoKeepsOnlyReservedIds) {
  const Vocab v = build({"a", "b"}, {4, 3}, 1, 2);
  EXPECT_EQ(v.size(), 2u);
  EXPECT_EQ(v.count(Vocab::kUnk), 7u);
}

TEST(Vocab, MaxSizeBelowTwoIsRefused) {
  const std::string message = input_error([] { build({"a"}, {1}, 1, 1); });
  EXPECT_TRUE(contains(message, "data.vocab.max_size = 1"));
}

TEST(Vocab, LookupFindsWordsAndMapsUnknownToUnk) {
  const Vocab v = build({"love", "night"}, {7, 3});
  EXPECT_EQ(v.lookup("love"), 2u);
  EXPECT_EQ(v.lookup("night"), 3u);
  EXPECT_EQ(v.lookup("never-seen"), Vocab::kUnk);
  EXPECT_EQ(v.lookup(""), Vocab::kUnk);
}

TEST(Vocab, HashIsXxh3OverNewlineTerminatedWordsInIdOrder) {
  const Vocab v = build({"ab", "c"}, {2, 1});
  EXPECT_EQ(v.hash(), hash_string("<pad>\n<unk>\nab\nc\n"));
}

TEST(Vocab, HashSeparatesWordBoundaries) {
  const Vocab joined_left = build({"ab", "c"}, {2, 1});
  const Vocab joined_right = build({"a", "bc"}, {2, 1});
  EXPECT_NE(joined_left.hash(), joined_right.hash());
}

TEST(Vocab, HashDependsOnOrderNotCounts) {
  const Vocab a = build({"x", "y"}, {5, 3});
  const Vocab same_order = build({"x", "y"}, {50, 30});
  const Vocab swapped = build({"x", "y"}, {3, 5});
  EXPECT_EQ(a.hash(), same_order.hash());
  EXPECT_NE(a.hash(), swapped.hash());
}

TEST(Vocab, SaveWritesOneTabSeparatedLinePerId) {
  TempDir dir;
  build({"b", "a", "c"}, {5, 5, 1}, 2).save(dir / "vocab.txt");
  EXPECT_EQ(test::read_file(dir / "vocab.txt"), "<pad>\t0\n<unk>\t1\na\t5\nb\t5\n");
}

TEST(Vocab, SaveLoadRoundTrip) {
  TempDir dir;
  const Vocab v = build({"café", "don't", "rock", "roll", "x"}, {9, 4, 4, 2, 1}, 2);
  v.save(dir / "vocab.txt");
  const Vocab back = Vocab::load(dir / "vocab.txt");
  EXPECT_EQ(words_of(back), words_of(v));
  for (std::uint32_t id = 0; id < v.size(); ++id) EXPECT_EQ(back.count(id), v.count(id));
  EXPECT_EQ(back.hash(), v.hash());
  EXPECT_EQ(back.lookup("café"), v.lookup("café"));
  EXPECT_EQ(back.lookup("x"), Vocab::kUnk);
}

std::string load_error(std::string_view content) {
  TempDir dir;
  const auto path = write_file(dir / "vocab.txt", content);
  return input_error([&] { Vocab::load(path); });
}

TEST(Vocab, LoadRefusesMissingTab) {
  const std::string message = load_error("<pad>\t0\n<unk>\t3\nlove 4\n");
  EXPECT_TRUE(contains(message, "vocab.txt:3:"));
  EXPECT_TRUE(contains(message, "no tab"));
}

TEST(Vocab, LoadRefusesNonNumericCount) {
  for (const char* bad : {"four", "-1", "", "4x", "1.5"}) {
    const std::string message = load_error(fmt::format("<pad>\t0\n<unk>\t3\nlove\t4\nnight\t{}\n", bad));
    EXPECT_TRUE(contains(message, "vocab.txt:4:")) << bad;
    EXPECT_TRUE(contains(message, "not a non-negative integer")) << bad;
  }
}

TEST(Vocab, LoadRefusesRepeatedWord) {
  const std::string message = load_error("<pad>\t0\n<unk>\t3\nlove\t4\nnight\t2\nlove\t1\n");
  EXPECT_TRUE(contains(message, "vocab.txt:5:"));
  EXPECT_TRUE(contains(message, "'love' repeats line 3"));
}

TEST(Vocab, LoadRefusesWrongFirstLines) {
  std::string message = load_error("<unk>\t3\n<pad>\t0\nlove\t4\n");
  EXPECT_TRUE(contains(message, "vocab.txt:1:"));
  EXPECT_TRUE(contains(message, "<pad>"));

  message = load_error("<pad>\t5\n<unk>\t3\n");
  EXPECT_TRUE(contains(message, "vocab.txt:1:"));

  message = load_error("<pad>\t0\nlove\t4\n<unk>\t3\n");
  EXPECT_TRUE(contains(message, "vocab.txt:2:"));
  EXPECT_TRUE(contains(message, "<unk>"));
}

TEST(Vocab, LoadRefusesEmptyOrShortFile) {
  EXPECT_TRUE(contains(load_error(""), "vocab.txt:1:"));
  EXPECT_TRUE(contains(load_error("<pad>\t0\n"), "vocab.txt:2:"));
}

TEST(Vocab, LoadRefusesEmptyWord) {
  const std::string message = load_error("<pad>\t0\n<unk>\t3\n\t4\n");
  EXPECT_TRUE(contains(message, "vocab.txt:3: empty word"));
}

TEST(Vocab, LoadOfMissingFileNamesIt) {
  TempDir dir;
  const std::string message = input_error([&] { Vocab::load(dir / "nope.txt"); });
  EXPECT_TRUE(contains(message, "nope.txt"));
}

}  // namespace
}  // namespace lyre::data
