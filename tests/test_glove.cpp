#include "data/glove.hpp"

#include <gtest/gtest.h>

#include <cstdlib>

#include "engine/core/error.hpp"
#include "tests/support/test_support.hpp"

namespace lyre::data {
namespace {

using test::input_error;
using test::contains;

namespace fs = std::filesystem;
using test::TempDir;
using test::write_file;

std::vector<float> row_of(const GloveVectors& g, std::string_view word) {
  const auto it = g.index.find(std::string(word));
  if (it == g.index.end()) return {};
  const auto row = g.row(it->second);
  return {row.begin(), row.end()};
}

constexpr std::string_view kSmall =
    "the 0.1 -0.2 0.3\n"
    "love 1.5 2.5e-1 -3\n"
    "café 0 0 1e-3\n";

std::string parse_error(std::string_view content, int dim = 3) {
  TempDir dir;
  const auto path = write_file(dir / "glove.txt", content);
  return input_error([&] { parse_glove_text(path, dim); });
}

TEST(GloveText, ParsesWordsAndValues) {
  TempDir dir;
  const GloveVectors g = parse_glove_text(write_file(dir / "glove.txt", kSmall), 3);
  EXPECT_EQ(g.dim, 3);
  EXPECT_EQ(g.words, (std::vector<std::string>{"the", "love", "café"}));
  ASSERT_EQ(g.values.size(), 9u);
  EXPECT_EQ(row_of(g, "the"), (std::vector<float>{0.1f, -0.2f, 0.3f}));
  EXPECT_EQ(row_of(g, "love"), (std::vector<float>{1.5f, 0.25f, -3.0f}));
  EXPECT_EQ(row_of(g, "café"), (std::vector<float>{0.0f, 0.0f, 0.001f}));
  EXPECT_EQ(g.index.size(), 3u);
  EXPECT_EQ(g.index.at("love"), 1u);
}

TEST(GloveText, AcceptsCrlfTrailingSpacesAndAMissingFinalNewline) {
  TempDir dir;
  const auto path = write_file(dir / "glove.txt", "a 1 2 3\r\nb 4 5 6 \nc 7 8 9");
  const GloveVectors g = parse_glove_text(path, 3);
  EXPECT_EQ(g.words, (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(row_of(g, "c"), (std::vector<float>{7, 8, 9}));
}

TEST(GloveText, TinyValuesUnderflowToZeroInsteadOfFailing) {
  TempDir dir;
  const GloveVectors g = parse_glove_text(write_file(dir / "glove.txt", "a 1e-50 -1e-60 2\n"), 3);
  EXPECT_EQ(row_of(g, "a"), (std::vector<float>{0, 0, 2}));
}

TEST(GloveText, WrongDimensionOnLineOneNamesBothDimsAndTheKey) {
  const std::string message = parse_error(kSmall, 4);
  EXPECT_TRUE(contains(message, "glove.txt:1: vectors have 3 values, the config says data.glove.dim = 4"));
}

TEST(GloveText, TooFewOrTooManyValuesLaterAreNamedByLine) {
  std::string message = parse_error("the 0.1 -0.2 0.3\nlove 1 2 3\nnight 1 2\n");
  EXPECT_TRUE(contains(message, "glove.txt:3: 'night' has 2 values, expected 3"));
  message = parse_error("the 0.1 -0.2 0.3\nlove 1 2 3 4\n");
  EXPECT_TRUE(contains(message, "glove.txt:2: 'love' has 4 values, expected 3"));
  message = parse_error("the 0.1 -0.2 0.3\nlonely\n");
  EXPECT_TRUE(contains(message, "glove.txt:2: 'lonely' has 0 values"));
}

TEST(GloveText, NonNumbersAreNamedByLine) {
  for (const char* bad : {"abc", "0.5x", "--1", "0,5", "+"}) {
    const std::string message = parse_error(fmt::format("the 0.1 -0.2 0.3\nlove 1 {} 3\n", bad));
    EXPECT_TRUE(contains(message, fmt::format("glove.txt:2: value 2 of 'love' is '{}', not a finite number", bad)));
  }
}

TEST(GloveText, NonFiniteValuesAreErrors) {
  for (const char* bad : {"nan", "inf", "-inf", "NaN", "1e39"}) {
    const std::string message = parse_error(fmt::format("the 0.1 -0.2 0.3\nlove 1 2 {}\n", bad));
    EXPECT_TRUE(contains(message, fmt::format("glove.txt:2: value 3 of 'love' is '{}', not a finite number", bad)));
  }
}

TEST(GloveText, BlankLineIsAnError) {
  std::string message = parse_error("the 0.1 -0.2 0.3\n\nlove 1 2 3\n");
  EXPECT_TRUE(contains(message, "glove.txt:2: blank line"));
  message = parse_error("the 0.1 -0.2 0.3\n   \r\n");
  EXPECT_TRUE(contains(message, "glove.txt:2: blank line"));
}

TEST(GloveText, EmptyWordIsAnError) {
  const std::string message = parse_error("the 0.1 -0.2 0.3\n 1 2 3\n");
  EXPECT_TRUE(contains(message, "glove.txt:2:"));
  EXPECT_TRUE(contains(message, "empty word"));
}

TEST(GloveText, RepeatedWordIsAnError) {
  const std::string message = parse_error("the 0.1 -0.2 0.3\nlove 1 2 3\nthe 4 5 6\n");
  EXPECT_TRUE(contains(message, "glove.txt:3: word 'the' repeats line 1"));
}

TEST(GloveText, EmptyAndMissingFilesAreErrors) {
  EXPECT_TRUE(contains(parse_error(""), "glove.txt: the file is empty"));
  TempDir dir;
  EXPECT_TRUE(contains(input_error([&] { parse_glove_text(dir / "none.txt", 3); }), "none.txt"));
  EXPECT_TRUE(contains(input_error([&] { load_glove(dir / "none.txt", 3, dir / "cache"); }), "none.txt"));
}

TEST(GloveText, ShippedSubsetLoads) {
  const fs::path path = test::source_dir() / "data/glove/glove.6B.100d.synth-subset.txt";
  const GloveVectors g = parse_glove_text(path, 100);
  EXPECT_EQ(g.dim, 100);
  EXPECT_EQ(g.words.size(), 1350u);
  EXPECT_EQ(g.values.size(), 1350u * 100u);
  EXPECT_EQ(g.index.size(), 1350u);
  EXPECT_EQ(g.words.front(), "said");
  EXPECT_FLOAT_EQ(g.values[0], -0.13128f);  // the file's first value
  EXPECT_TRUE(contains(input_error([&] { parse_glove_text(path, 50); }),
                       "glove.6B.100d.synth-subset.txt:1: vectors have 100 values, the config says "
                       "data.glove.dim = 50"));
}

TEST(GloveText, RealSampleLoads) {
  const fs::path path = test::shared_real_dir() / "glove.6B.100d.first2717.txt";
  if (!fs::exists(path)) GTEST_SKIP() << path << " is not present";
  const GloveVectors g = parse_glove_text(path, 100);
  EXPECT_EQ(g.words.size(), 2717u);
  EXPECT_EQ(g.words.front(), "the");
}

// --- cache ---------------------------------------------------------------------

class GloveCache : public ::testing::Test {
 protected:
  void SetUp() override {
    text_ = write_file(dir_ / "glove.txt", kSmall);
    cache_ = dir_ / "cache";
  }

  std::vector<fs::path> cache_files() const {
    std::vector<fs::path> files;
    if (fs::exists(cache_))
      for (const auto& entry : fs::directory_iterator(cache_)) files.push_back(entry.path());
    return files;
  }

  // Rewrites the text file with content of the same size and restores its
  // modification time, so only a re-parse could see the new values.
  void swap_content_keeping_stamp(std::string_view same_size_content) {
    const auto mtime = fs::last_write_time(text_);
    ASSERT_EQ(same_size_content.size(), fs::file_size(text_));
    write_file(text_, same_size_content);
    fs::last_write_time(text_, mtime);
  }

  static constexpr std::string_view kSameSize =
      "the 0.9 -0.2 0.3\n"
      "love 1.5 2.5e-1 -3\n"
      "café 0 0 1e-3\n";

  TempDir dir_;
  fs::path text_, cache_;
};

TEST_F(GloveCache, FirstLoadWritesOneCacheFile) {
  const GloveVectors g = load_glove(text_, 3, cache_);
  EXPECT_EQ(g.words.size(), 3u);
  ASSERT_EQ(cache_files().size(), 1u);
  EXPECT_EQ(cache_files()[0].extension(), ".bin");
}

TEST_F(GloveCache, SecondLoadUsesTheCacheWithoutReparsing) {
  const GloveVectors first = load_glove(text_, 3, cache_);
  swap_content_keeping_stamp(kSameSize);
  ASSERT_EQ(row_of(parse_glove_text(text_, 3), "the")[0], 0.9f);  // the text did change

  const GloveVectors cached = load_glove(text_, 3, cache_);
  EXPECT_EQ(cached.words, first.words);
  EXPECT_EQ(cached.values, first.values);
  EXPECT_EQ(row_of(cached, "the")[0], 0.1f);  // the cached value, not the text's
  EXPECT_EQ(cached.index, first.index);
  EXPECT_EQ(cached.dim, 3);
}

TEST_F(GloveCache, StaleEntryIsRebuiltWhenTheFileChanges) {
  load_glove(text_, 3, cache_);
  write_file(text_, std::string(kSmall) + "night 7 8 9\n");
  const GloveVectors rebuilt = load_glove(text_, 3, cache_);
  EXPECT_EQ(rebuilt.words.size(), 4u);
  EXPECT_EQ(row_of(rebuilt, "night"), (std::vector<float>{7, 8, 9}));
  ASSERT_EQ(cache_files().size(), 1u);  // the same entry, rewritten

  // The rewritten entry is used from now on.
  const auto mtime = fs::last_write_time(text_);
  write_file(text_, std::string(kSmall) + "night 1 1 1\n");
  fs::last_write_time(text_, mtime);
  EXPECT_EQ(row_of(load_glove(text_, 3, cache_), "night"), (std::vector<float>{7, 8, 9}));
}

TEST_F(GloveCache, CorruptEntryIsRebuilt) {
  load_glove(text_, 3, cache_);
  const fs::path entry = cache_files().at(0);
  const std::string good = test::read_file(entry);
  for (const std::size_t offset : {std::size_t{0}, good.size() / 2, good.size() - 1}) {
    test::flip_byte(entry, offset);
    const GloveVectors g = load_glove(text_, 3, cache_);
    EXPECT_EQ(row_of(g, "love"), (std::vector<float>{1.5f, 0.25f, -3.0f})) << offset;
    EXPECT_EQ(test::read_file(entry), good) << offset;  // rewritten, byte for byte
  }
  test::truncate_file(entry, good.size() / 3);
  EXPECT_EQ(load_glove(text_, 3, cache_).words.size(), 3u);
  EXPECT_EQ(test::read_file(entry), good);
}

// Found by tests/fuzz/fuzz_glove_cache: entries with a valid checksum but
// content the text parser never accepts (a NaN value, a word with a space)
// were handed out as GloVe vectors. They are corrupt entries: ignored and
// rewritten from the text.
TEST_F(GloveCache, EntryWithANonFiniteValueIsRebuilt) {
  load_glove(text_, 3, cache_);
  const fs::path entry = cache_files().at(0);
  const std::string good = test::read_file(entry);
  const float value = 1.5f;  // love's first value
  const auto at = good.rfind(std::string_view(reinterpret_cast<const char*>(&value), 4));
  ASSERT_NE(at, std::string::npos);
  const std::uint32_t nan_bits = 0xFFFFFFFF;  // what the fuzzer wrote there
  test::patch_checksummed(entry, at, std::string_view(reinterpret_cast<const char*>(&nan_bits), 4));

  const GloveVectors g = load_glove(text_, 3, cache_);
  EXPECT_EQ(row_of(g, "love"), (std::vector<float>{1.5f, 0.25f, -3.0f}));
  EXPECT_EQ(test::read_file(entry), good);  // rewritten
}

TEST_F(GloveCache, EntryWithASeparatorInAWordIsRebuilt) {
  load_glove(text_, 3, cache_);
  const fs::path entry = cache_files().at(0);
  const std::string good = test::read_file(entry);
  const auto at = good.find("thelovecaf");  // the word blob
  ASSERT_NE(at, std::string::npos);
  for (const std::string_view patch : {"the ovecaf", "the\novecaf"}) {
    test::patch_checksummed(entry, at, patch);
    const GloveVectors g = load_glove(text_, 3, cache_);
    EXPECT_EQ(g.words, (std::vector<std::string>{"the", "love", "café"})) << patch;
    EXPECT_EQ(test::read_file(entry), good) << patch;
  }
}

TEST_F(GloveCache, WrongDimensionIsReportedEvenWithACacheEntry) {
  load_glove(text_, 3, cache_);
  EXPECT_TRUE(contains(input_error([&] { load_glove(text_, 5, cache_); }),
                       "glove.txt:1: vectors have 3 values, the config says data.glove.dim = 5"));
}

TEST_F(GloveCache, UncreatableCacheFolderOnlyWarns) {
  const fs::path blocker = write_file(dir_ / "not-a-folder", "x");
  const GloveVectors g = load_glove(text_, 3, blocker / "cache");
  EXPECT_EQ(g.words.size(), 3u);
  EXPECT_TRUE(fs::is_regular_file(blocker));
}

TEST_F(GloveCache, EmptyCachePathMeansNoCache) {
  const GloveVectors g = load_glove(text_, 3, {});
  EXPECT_EQ(g.words.size(), 3u);
  EXPECT_TRUE(cache_files().empty());
}

TEST(GloveCacheDir, FollowsTheEnvironment) {
  struct SavedEnv {
    std::string name;
    std::optional<std::string> value;
  };
  std::vector<SavedEnv> saved;
  for (const char* name : {"LYRE_CACHE_DIR", "XDG_CACHE_HOME", "HOME"}) {
    const char* v = std::getenv(name);
    saved.push_back({name, v ? std::optional<std::string>(v) : std::nullopt});
  }
  ::setenv("LYRE_CACHE_DIR", "/x/lyre-cache", 1);
  ::setenv("XDG_CACHE_HOME", "/x/xdg", 1);
  ::setenv("HOME", "/x/home", 1);
  EXPECT_EQ(default_glove_cache_dir(), fs::path("/x/lyre-cache"));
  ::unsetenv("LYRE_CACHE_DIR");
  EXPECT_EQ(default_glove_cache_dir(), fs::path("/x/xdg/lyre"));
  ::setenv("XDG_CACHE_HOME", "", 1);
  EXPECT_EQ(default_glove_cache_dir(), fs::path("/x/home/.cache/lyre"));
  for (const SavedEnv& s : saved) {
    if (s.value)
      ::setenv(s.name.c_str(), s.value->c_str(), 1);
    else
      ::unsetenv(s.name.c_str());
  }
}

// --- embedding matrix ------------------------------------------------------------

Vocab small_vocab() {
  // a 10, b 6, c 3, d 1 with min_count 2: ids pad, unk (count 1), a, b, c.
  const std::vector<std::string> words = {"a", "b", "c", "d"};
  const std::vector<std::uint64_t> counts = {10, 6, 3, 1};
  return Vocab::build(words, counts, 2, 0);
}

GloveVectors small_glove() {
  TempDir dir;
  return parse_glove_text(
      write_file(dir / "g.txt", "c 1 2\nz 9 9\n<unk> 5 5\na -1 0.5\n"), 2);
}

TEST(Embedding, RowsFoundFlagsAndCoverage) {
  const Vocab vocab = small_vocab();
  const EmbeddingMatrix m = build_embedding(small_glove(), vocab);
  EXPECT_EQ(m.vocab_size, 5u);
  EXPECT_EQ(m.dim, 2);
  EXPECT_EQ(m.vocab_hash, vocab.hash());
  EXPECT_EQ(m.found, (std::vector<std::uint8_t>{0, 0, 1, 0, 1}));
  EXPECT_EQ(m.values, (std::vector<float>{0, 0,  // PAD
                                          0, 0,  // UNK: never taken from GloVe's "<unk>"
                                          -1, 0.5f,  // a
                                          0, 0,      // b: missing
                                          1, 2}));   // c
  EXPECT_DOUBLE_EQ(m.vocab_coverage, 2.0 / 3.0);      // a and c of a, b, c
  EXPECT_DOUBLE_EQ(m.token_coverage, 13.0 / 20.0);    // (10 + 3) / (10 + 6 + 3 + UNK 1)
}

TEST(Embedding, SaveLoadRoundTrip) {
  TempDir dir;
  const Vocab vocab = small_vocab();
  const EmbeddingMatrix m = build_embedding(small_glove(), vocab);
  save_embedding(dir / "embedding.bin", m);
  const EmbeddingMatrix back = load_embedding(dir / "embedding.bin", vocab.hash(), vocab.size());
  EXPECT_EQ(back.vocab_size, m.vocab_size);
  EXPECT_EQ(back.dim, m.dim);
  EXPECT_EQ(back.vocab_hash, m.vocab_hash);
  EXPECT_EQ(back.values, m.values);
  EXPECT_EQ(back.found, m.found);
  EXPECT_EQ(back.vocab_coverage, m.vocab_coverage);
  EXPECT_EQ(back.token_coverage, m.token_coverage);
}

TEST(Embedding, OtherVocabularyIsRefused) {
  TempDir dir;
  const Vocab vocab = small_vocab();
  save_embedding(dir / "embedding.bin", build_embedding(small_glove(), vocab));
  std::string message =
      input_error([&] { load_embedding(dir / "embedding.bin", vocab.hash() ^ 1, vocab.size()); });
  EXPECT_TRUE(contains(message, (dir / "embedding.bin").string() + " was built for vocabulary"));
  EXPECT_TRUE(contains(message, "run `lyre prepare` again"));
  message = input_error([&] { load_embedding(dir / "embedding.bin", vocab.hash(), vocab.size() + 1); });
  EXPECT_TRUE(contains(message, "(5 words) but the vocabulary in use is"));
}

TEST(Embedding, CorruptFileIsRefused) {
  TempDir dir;
  const Vocab vocab = small_vocab();
  save_embedding(dir / "embedding.bin", build_embedding(small_glove(), vocab));
  test::flip_byte(dir / "embedding.bin", 20);
  const std::string message =
      input_error([&] { load_embedding(dir / "embedding.bin", vocab.hash(), vocab.size()); });
  EXPECT_TRUE(contains(message, "embedding " + (dir / "embedding.bin").string() + " is corrupt"));
}

TEST(Embedding, EmptyFileIsRefused) {
  TempDir dir;
  const auto path = write_file(dir / "embedding.bin", "");
  EXPECT_TRUE(contains(input_error([&] { load_embedding(path, 1, 5); }), "truncated"));
}

}  // namespace
}  // namespace lyre::data
