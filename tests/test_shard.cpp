#include "data/shard.hpp"

#include <gtest/gtest.h>

#include <numeric>

#include "engine/core/binary_io.hpp"
#include "engine/core/error.hpp"
#include "tests/support/test_support.hpp"

namespace lyre::data {
namespace {

using test::input_error;
using test::contains;

namespace fs = std::filesystem;
using test::TempDir;

constexpr std::uint64_t kVocabHash = 0x00c0ffee12345678ull;
constexpr std::uint32_t kVocabSize = 50;
constexpr std::uint32_t kClasses = 3;

ShardExpectations expectations(std::uint32_t index = 0) {
  return {kVocabHash, kVocabSize, kClasses, index};
}

struct Song {
  std::uint64_t id;
  std::uint32_t label;
  std::vector<std::uint32_t> tokens;
  std::vector<LineMark> marks;
};

std::vector<Song> sample_songs() {
  return {
      {11, 0, {2, 3, 4, 5, 6}, {make_mark(2, false), make_mark(4, true)}},
      {12, 2, {7}, {}},
      {40, 1, {1, 49, 1, 8}, {make_mark(1, false), make_mark(3, false)}},
      {7, 2, {9, 10, 11}, {}},
  };
}

std::uint64_t write_shard(const fs::path& path, const std::vector<Song>& songs,
                          std::uint32_t index = 0) {
  ShardWriter writer(path, index, kVocabHash, kVocabSize, kClasses);
  for (const Song& s : songs) writer.add(s.id, s.label, s.tokens, s.marks);
  EXPECT_EQ(writer.num_songs(), songs.size());
  return writer.finish();
}

template <typename T>
std::vector<T> to_vector(std::span<const T> s) {
  return {s.begin(), s.end()};
}

TEST(Shard, RoundTripsTokensLabelsIdsAndMarks) {
  TempDir dir;
  const auto songs = sample_songs();
  const std::uint64_t bytes = write_shard(dir / "shard-00000.bin", songs);
  EXPECT_EQ(bytes, fs::file_size(dir / "shard-00000.bin"));

  const ShardReader reader(dir / "shard-00000.bin", expectations());
  ASSERT_EQ(reader.num_songs(), songs.size());
  EXPECT_EQ(reader.num_tokens(), 13u);
  for (std::size_t s = 0; s < songs.size(); ++s) {
    EXPECT_EQ(to_vector(reader.tokens(s)), songs[s].tokens) << s;
    EXPECT_EQ(to_vector(reader.marks(s)), songs[s].marks) << s;
    EXPECT_EQ(reader.label(s), songs[s].label) << s;
    EXPECT_EQ(reader.song_id(s), songs[s].id) << s;
  }
  EXPECT_EQ(to_vector(reader.token_offsets()), (std::vector<std::uint64_t>{0, 5, 6, 10, 13}));
  EXPECT_EQ(to_vector(reader.labels()), (std::vector<std::uint32_t>{0, 2, 1, 2}));
  EXPECT_EQ(reader.all_tokens().size(), 13u);
  EXPECT_EQ(reader.path(), dir / "shard-00000.bin");
}

TEST(Shard, SongsWithoutMarksAndAnEmptyShardRoundTrip) {
  TempDir dir;
  const std::vector<Song> songs = {{1, 0, {5}, {}}, {2, 1, {6, 7}, {}}};
  write_shard(dir / "a.bin", songs);
  const ShardReader reader(dir / "a.bin", expectations());
  EXPECT_TRUE(reader.marks(0).empty());
  EXPECT_TRUE(reader.marks(1).empty());
  EXPECT_EQ(to_vector(reader.tokens(1)), (std::vector<std::uint32_t>{6, 7}));

  write_shard(dir / "empty.bin", {});
  const ShardReader empty(dir / "empty.bin", expectations());
  EXPECT_EQ(empty.num_songs(), 0u);
  EXPECT_EQ(empty.num_tokens(), 0u);
}

TEST(Shard, WriterRefusesInvalidSongs) {
  TempDir dir;
  ShardWriter writer(dir / "x.bin", 0, kVocabHash, kVocabSize, kClasses);
  const std::vector<std::uint32_t> none;
  const std::vector<std::uint32_t> pad = {0};
  const std::vector<std::uint32_t> too_big = {kVocabSize};
  const std::vector<std::uint32_t> ok = {3, 4};
  const std::vector<LineMark> past_end = {make_mark(2, false)};
  EXPECT_THROW(writer.add(1, 0, none, {}), Error);
  EXPECT_THROW(writer.add(1, 0, pad, {}), Error);
  EXPECT_THROW(writer.add(1, 0, too_big, {}), Error);
  EXPECT_THROW(writer.add(1, kClasses, ok, {}), Error);
  EXPECT_THROW(writer.add(1, 0, ok, past_end), Error);
  EXPECT_EQ(writer.num_songs(), 0u);
}

// --- corruption -------------------------------------------------------------

class ShardCorruption : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = dir_ / "shard-00000.bin";
    size_ = write_shard(path_, sample_songs());
  }
  std::string open_error() const {
    return input_error([&] { ShardReader(path_, expectations()); });
  }
  TempDir dir_;
  fs::path path_;
  std::uint64_t size_ = 0;
};

TEST_F(ShardCorruption, AnyFlippedByteIsCaught) {
  for (std::size_t offset = 0; offset < size_; ++offset) {
    test::flip_byte(path_, offset);
    const std::string message = open_error();
    EXPECT_TRUE(contains(message, path_.string())) << offset;
    const bool payload = offset + 16 < size_, checksum = !payload && offset + 8 < size_;
    if (payload || checksum)
      EXPECT_TRUE(contains(message, "is corrupt: checksum")) << offset;
    else
      EXPECT_TRUE(contains(message, "trailer")) << offset;
    test::flip_byte(path_, offset);  // restore
  }
  EXPECT_NO_THROW(ShardReader(path_, expectations()));
}

TEST_F(ShardCorruption, TruncationIsCaught) {
  const std::string original = test::read_file(path_);
  for (const std::size_t size : {std::size_t{0}, std::size_t{8}, std::size_t(size_ / 2),
                                 std::size_t(size_ - 1)}) {
    test::write_file(path_, original);
    test::truncate_file(path_, size);
    const std::string message = open_error();
    EXPECT_TRUE(contains(message, path_.string())) << size;
    EXPECT_TRUE(contains(message, "truncated")) << size;
  }
}

TEST_F(ShardCorruption, WrongVocabularyHashIsRefused) {
  ShardExpectations expect = expectations();
  expect.vocab_hash = 0x1111222233334444ull;
  const std::string message = input_error([&] { ShardReader(path_, expect); });
  EXPECT_TRUE(contains(message, path_.string() + " was written for vocabulary hash 00c0ffee12345678"));
  EXPECT_TRUE(contains(message, "has hash 1111222233334444"));
}

TEST_F(ShardCorruption, WrongVocabularySizeIsRefused) {
  ShardExpectations expect = expectations();
  expect.vocab_size = 51;
  const std::string message = input_error([&] { ShardReader(path_, expect); });
  EXPECT_TRUE(contains(message, "vocabulary of 50 words but the vocabulary in use has 51"));
}

TEST_F(ShardCorruption, WrongClassCountIsRefused) {
  ShardExpectations expect = expectations();
  expect.num_classes = 10;
  const std::string message = input_error([&] { ShardReader(path_, expect); });
  EXPECT_TRUE(contains(message, "written for 3 classes but the manifest lists 10 genres"));
}

TEST_F(ShardCorruption, WrongShardIndexIsRefused) {
  const std::string message = input_error([&] { ShardReader(path_, expectations(2)); });
  EXPECT_TRUE(contains(message, "shard_index is 0 but the manifest lists this file at position 2"));
}

TEST_F(ShardCorruption, MissingFileIsNamed) {
  const std::string message =
      input_error([&] { ShardReader(dir_ / "shard-00009.bin", expectations()); });
  EXPECT_TRUE(contains(message, "shard-00009.bin"));
}

// --- structurally wrong shards with a valid checksum --------------------------
// Written field by field with BinaryWriter, so every field can be made to lie.

struct RawShard {
  std::uint64_t magic = kShardMagic;
  std::uint32_t version = kShardVersion;
  std::uint32_t num_classes = kClasses;
  std::uint64_t vocab_hash = kVocabHash;
  std::uint32_t vocab_size = kVocabSize;
  std::uint32_t shard_index = 0;
  std::vector<std::uint64_t> token_offsets = {0, 3, 5, 6};
  std::vector<std::uint32_t> tokens = {2, 3, 4, 5, 6, 7};
  std::vector<std::uint32_t> labels = {0, 1, 2};
  std::vector<std::uint64_t> song_ids = {1, 2, 3};
  std::vector<std::uint64_t> mark_offsets = {0, 1, 1, 1};
  std::vector<LineMark> marks = {make_mark(2, true)};
  // Header counts; by default derived from the arrays.
  std::optional<std::uint64_t> num_songs, num_tokens, num_marks;

  void write(const fs::path& path) const {
    BinaryWriter out(path);
    out.put(magic);
    out.put(version);
    out.put(num_classes);
    out.put<std::uint64_t>(num_songs.value_or(labels.size()));
    out.put<std::uint64_t>(num_tokens.value_or(tokens.size()));
    out.put<std::uint64_t>(num_marks.value_or(marks.size()));
    out.put(vocab_hash);
    out.put(vocab_size);
    out.put(shard_index);
    out.put_array(std::span<const std::uint64_t>(token_offsets));
    out.put_array(std::span<const std::uint32_t>(tokens));
    out.put_array(std::span<const std::uint32_t>(labels));
    out.put_array(std::span<const std::uint64_t>(song_ids));
    out.put_array(std::span<const std::uint64_t>(mark_offsets));
    out.put_array(std::span<const LineMark>(marks));
    out.commit();
  }
};

class MalformedShard : public ::testing::Test {
 protected:
  std::string error_of(const RawShard& raw) {
    raw.write(path_);
    const std::string message = input_error([&] { ShardReader(path_, expectations()); });
    EXPECT_TRUE(contains(message, path_.string()));
    return message;
  }
  TempDir dir_;
  fs::path path_ = dir_ / "shard-00001.bin";
};

TEST_F(MalformedShard, TheUnmodifiedRawShardIsValid) {
  RawShard().write(path_);
  const ShardReader reader(path_, expectations());
  EXPECT_EQ(reader.num_songs(), 3u);
  EXPECT_EQ(to_vector(reader.marks(0)), (std::vector<LineMark>{make_mark(2, true)}));
}

TEST_F(MalformedShard, TokenOutsideVocabulary) {
  RawShard raw;
  raw.tokens[4] = 9000;
  EXPECT_TRUE(contains(error_of(raw), "token 1 of song 1 is 9000, outside the vocabulary of 50 words"));
  raw.tokens[4] = kVocabSize;  // one past the last id
  EXPECT_TRUE(contains(error_of(raw), "token 1 of song 1 is 50, outside the vocabulary"));
}

TEST_F(MalformedShard, PadToken) {
  RawShard raw;
  raw.tokens[5] = 0;
  EXPECT_TRUE(contains(error_of(raw), "token 0 of song 2 is 0 (PAD)"));
}

TEST_F(MalformedShard, SongWithZeroTokens) {
  RawShard raw;
  raw.token_offsets = {0, 3, 3, 6};
  EXPECT_TRUE(contains(error_of(raw), "song 1 has no tokens"));
}

TEST_F(MalformedShard, DecreasingOffsets) {
  RawShard raw;
  raw.token_offsets = {0, 4, 2, 6};
  EXPECT_TRUE(contains(error_of(raw), "token_offsets decrease at song 1"));
}

TEST_F(MalformedShard, OffsetsPastTheEnd) {
  RawShard raw;
  raw.token_offsets = {0, 3, 9, 6};
  EXPECT_TRUE(contains(error_of(raw), "token_offsets[2] is 9, past the end of the 6 tokens"));
  raw.token_offsets = {0, 3, 4, 5};
  EXPECT_TRUE(contains(error_of(raw), "token_offsets[3] is 5, but the shard holds 6 tokens"));
  raw.token_offsets = {1, 3, 5, 6};
  EXPECT_TRUE(contains(error_of(raw), "token_offsets[0] is 1, must be 0"));
}

TEST_F(MalformedShard, LabelOutOfRange) {
  RawShard raw;
  raw.labels[2] = kClasses;
  EXPECT_TRUE(contains(error_of(raw), "label of song 2 is 3, but there are only 3 classes"));
}

TEST_F(MalformedShard, ZeroSongId) {
  RawShard raw;
  raw.song_ids[1] = 0;
  EXPECT_TRUE(contains(error_of(raw), "song_id of song 1 is 0"));
}

TEST_F(MalformedShard, MarkPastTheSongsEnd) {
  RawShard raw;
  raw.marks = {make_mark(3, false)};
  EXPECT_TRUE(contains(error_of(raw), "mark 0 of song 0 points at token 3, past the song's end (3 tokens)"));
}

TEST_F(MalformedShard, MarkAtTokenZeroOrOutOfOrder) {
  RawShard raw;
  raw.marks = {make_mark(0, true)};
  EXPECT_TRUE(contains(error_of(raw), "mark 0 of song 0 points at token 0"));
  raw.marks = {make_mark(2, false), make_mark(1, false)};
  raw.mark_offsets = {0, 2, 2, 2};
  EXPECT_TRUE(contains(error_of(raw), "marks of song 0 are out of order"));
}

TEST_F(MalformedShard, BadMarkOffsets) {
  RawShard raw;
  raw.mark_offsets = {0, 1, 0, 1};
  EXPECT_TRUE(contains(error_of(raw), "mark_offsets decrease at song 1"));
  raw.mark_offsets = {0, 0, 0, 0};
  EXPECT_TRUE(contains(error_of(raw), "mark_offsets[3] is 0, but the shard holds 1 marks"));
}

TEST_F(MalformedShard, CountsThatDisagreeWithTheFileSize) {
  RawShard raw;
  raw.num_tokens = 8;  // the tokens array still holds 6 (plus padding)
  EXPECT_TRUE(contains(error_of(raw), "counts (3 songs, 8 tokens, 1 marks) disagree with the file size"));
  raw.num_tokens.reset();
  raw.num_songs = ~std::uint64_t{0};  // would overflow any size arithmetic
  EXPECT_TRUE(contains(error_of(raw), "disagree with the file size"));
  raw.num_songs.reset();
  raw.num_marks = 1ull << 40;
  EXPECT_TRUE(contains(error_of(raw), "disagree with the file size"));
}

TEST_F(MalformedShard, WrongMagicOrVersion) {
  RawShard raw;
  raw.magic = 0x1234;
  EXPECT_TRUE(contains(error_of(raw), "not a Lyre shard"));
  raw.magic = kShardMagic;
  raw.version = kShardVersion + 1;
  EXPECT_TRUE(contains(error_of(raw), "shard format version 2 is not supported"));
}

// --- manifest -----------------------------------------------------------------

Manifest sample_manifest() {
  Manifest m;
  m.name = "demo: the \"small\" one";
  m.vocab_size = 1234;
  m.vocab_hash = 0x00c0ffee12345678ull;
  m.genres = {"Rock", "Romântico", "Axé", "Pop/Rock", "Hip Hop", "yes", "[odd], {name}"};
  m.songs = 300;
  m.tokens = 4500;
  m.vocab_digest = {52'001, 0x0123456789abcdefull};
  m.shards = {{"shard-00000.bin", 200, 3000, 40000}, {"shard-00001.bin", 100, 1500, 20000}};
  return m;
}

void expect_same(const Manifest& a, const Manifest& b) {
  EXPECT_EQ(a.name, b.name);
  EXPECT_EQ(a.vocab_file, b.vocab_file);
  EXPECT_EQ(a.vocab_size, b.vocab_size);
  EXPECT_EQ(a.vocab_hash, b.vocab_hash);
  EXPECT_EQ(a.vocab_digest, b.vocab_digest);
  EXPECT_EQ(a.genres, b.genres);
  EXPECT_EQ(a.songs, b.songs);
  EXPECT_EQ(a.tokens, b.tokens);
  ASSERT_EQ(a.shards.size(), b.shards.size());
  for (std::size_t i = 0; i < a.shards.size(); ++i) {
    EXPECT_EQ(a.shards[i].file, b.shards[i].file);
    EXPECT_EQ(a.shards[i].songs, b.shards[i].songs);
    EXPECT_EQ(a.shards[i].tokens, b.shards[i].tokens);
    EXPECT_EQ(a.shards[i].bytes, b.shards[i].bytes);
  }
  ASSERT_EQ(a.embedding.has_value(), b.embedding.has_value());
  if (a.embedding) {
    EXPECT_EQ(a.embedding->file, b.embedding->file);
    EXPECT_EQ(a.embedding->dim, b.embedding->dim);
    EXPECT_EQ(a.embedding->source, b.embedding->source);
    EXPECT_EQ(a.embedding->vocab_coverage, b.embedding->vocab_coverage);
    EXPECT_EQ(a.embedding->token_coverage, b.embedding->token_coverage);
    EXPECT_EQ(a.embedding->digest, b.embedding->digest);
  }
}

TEST(Manifest, RoundTripsWithoutEmbedding) {
  TempDir dir;
  const Manifest m = sample_manifest();
  m.save(dir.path());
  const Manifest back = Manifest::load(dir.path());
  expect_same(m, back);
  EXPECT_FALSE(back.embedding.has_value());
}

TEST(Manifest, RoundTripsWithEmbeddingAndUtf8Genres) {
  TempDir dir;
  Manifest m = sample_manifest();
  m.embedding = EmbeddingEntry{"embedding.bin", 100, "/data/glove/glove.6B.100d.txt", 0.91,
                               1.0 / 3.0, {4'000'072, 0xfedcba9876543210ull}};
  m.save(dir.path());
  expect_same(m, Manifest::load(dir.path()));

  const std::string text = test::read_file(dir / "manifest.yaml");
  EXPECT_TRUE(contains(text, "format: lyre-prepared\nversion: 2\n"));
  EXPECT_TRUE(contains(text, "Romântico"));  // written as UTF-8, not escaped
  EXPECT_TRUE(contains(text, "hash: \"00c0ffee12345678\""));
  EXPECT_TRUE(contains(text, "vocab_coverage: 0.91,"));
  EXPECT_TRUE(contains(text, "bytes: 52001, xxh3: \"0123456789abcdef\""));
  EXPECT_TRUE(contains(text, "bytes: 4000072, xxh3: \"fedcba9876543210\""));
}

TEST(Manifest, EmptyShardListRoundTrips) {
  TempDir dir;
  Manifest m = sample_manifest();
  m.shards.clear();
  m.save(dir.path());
  EXPECT_TRUE(Manifest::load(dir.path()).shards.empty());
}

// A hand-written manifest, so the line numbers in messages are known.
constexpr std::string_view kManifestText =
    "format: lyre-prepared\n"                                         // 1
    "version: 2\n"                                                    // 2
    "name: demo\n"                                                    // 3
    "vocab: {file: vocab.txt, size: 1234, hash: \"00c0ffee12345678\", bytes: 9000, "
    "xxh3: \"00000000000000aa\"}\n"                                     // 4
    "genres: [Rock, Pop, Romântico]\n"                                // 5
    "songs: 3\n"                                                      // 6
    "tokens: 30\n"                                                    // 7
    "shards:\n"                                                       // 8
    "  - {file: shard-00000.bin, songs: 2, tokens: 20, bytes: 400}\n" // 9
    "  - {file: shard-00001.bin, songs: 1, tokens: 10, bytes: 300}\n" // 10
    "embedding: {file: embedding.bin, dim: 100, source: g.txt, vocab_coverage: 0.5, "
    "token_coverage: 0.75, bytes: 500, xxh3: \"00000000000000bb\"}\n";  // 11

std::string replaced(std::string_view from, std::string_view to) {
  std::string text(kManifestText);
  const auto at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  return text.replace(at, from.size(), to);
}

std::string manifest_error(const std::string& text) {
  TempDir dir;
  test::write_file(dir / "manifest.yaml", text);
  return input_error([&] { Manifest::load(dir.path()); });
}

TEST(Manifest, HandWrittenManifestLoads) {
  TempDir dir;
  test::write_file(dir / "manifest.yaml", kManifestText);
  const Manifest m = Manifest::load(dir.path());
  EXPECT_EQ(m.genres, (std::vector<std::string>{"Rock", "Pop", "Romântico"}));
  EXPECT_EQ(m.vocab_hash, 0x00c0ffee12345678ull);
  EXPECT_EQ(m.shards[1].bytes, 300u);
  EXPECT_EQ(m.vocab_digest, (FileDigest{9000, 0xaa}));
  ASSERT_TRUE(m.embedding);
  EXPECT_EQ(m.embedding->token_coverage, 0.75);
  EXPECT_EQ(m.embedding->digest, (FileDigest{500, 0xbb}));
}

TEST(Manifest, MissingKeyIsNamedWithItsLine) {
  std::string message = manifest_error(replaced("songs: 3\n", ""));
  EXPECT_TRUE(contains(message, "manifest.yaml:1: missing key 'songs'"));
  message = manifest_error(replaced("songs: 1, tokens: 10, ", "songs: 1, "));
  EXPECT_TRUE(contains(message, "manifest.yaml:10: missing key 'shards[1].tokens'"));
  message = manifest_error(replaced("size: 1234, ", ""));
  EXPECT_TRUE(contains(message, "manifest.yaml:4: missing key 'vocab.size'"));
  // A file without a checksum of its own must be listed with one.
  message = manifest_error(replaced(", xxh3: \"00000000000000aa\"", ""));
  EXPECT_TRUE(contains(message, "manifest.yaml:4: missing key 'vocab.xxh3'"));
  message = manifest_error(replaced(", bytes: 500", ""));
  EXPECT_TRUE(contains(message, "manifest.yaml:11: missing key 'embedding.bytes'"));
}

TEST(Manifest, WrongTypeIsNamedWithItsLine) {
  std::string message = manifest_error(replaced("songs: 1,", "songs: one,"));
  EXPECT_TRUE(contains(message, "manifest.yaml:10: 'shards[1].songs' must be a non-negative integer, found 'one'"));
  message = manifest_error(replaced("tokens: 30", "tokens: [30]"));
  EXPECT_TRUE(contains(message, "manifest.yaml:7: 'tokens' must be a non-negative integer"));
  message = manifest_error(replaced("songs: 3", "songs: -3"));
  EXPECT_TRUE(contains(message, "manifest.yaml:6: 'songs'"));
  message = manifest_error(replaced("genres: [Rock, Pop, Romântico]", "genres: Rock"));
  EXPECT_TRUE(contains(message, "manifest.yaml:5: 'genres' must be a list"));
  message = manifest_error(replaced("hash: \"00c0ffee12345678\"", "hash: \"00c0ffee1234567z\""));
  EXPECT_TRUE(contains(message, "manifest.yaml:4: 'vocab.hash' must be 16 hex digits"));
  message = manifest_error(replaced("hash: \"00c0ffee12345678\"", "hash: \"c0ffee\""));
  EXPECT_TRUE(contains(message, "'vocab.hash' must be 16 hex digits"));
  message = manifest_error(replaced("xxh3: \"00000000000000bb\"", "xxh3: \"bb\""));
  EXPECT_TRUE(contains(message, "manifest.yaml:11: 'embedding.xxh3' must be 16 hex digits"));
  message = manifest_error(replaced("token_coverage: 0.75", "token_coverage: 1.5"));
  EXPECT_TRUE(contains(message, "manifest.yaml:11: 'embedding.token_coverage' must be a number in [0, 1]"));
  message = manifest_error(replaced("  - {file: shard-00000.bin, songs: 2, tokens: 20, bytes: 400}",
                                    "  - shard-00000.bin"));
  EXPECT_TRUE(contains(message, "manifest.yaml:9: 'shards[0]' must be a mapping"));
}

TEST(Manifest, WrongVersionOrFormatIsRefused) {
  std::string message = manifest_error(replaced("version: 2", "version: 3"));
  EXPECT_TRUE(contains(message, "manifest.yaml:2: manifest version 3 is not supported"));
  // Version 1 folders list vocab.txt and embedding.bin without checksums.
  message = manifest_error(replaced("version: 2", "version: 1"));
  EXPECT_TRUE(contains(message, "manifest version 1 is not supported (this build reads version 2): "
                                "run `lyre prepare` again"));
  message = manifest_error(replaced("version: 2", "version: v1"));
  EXPECT_TRUE(contains(message, "manifest.yaml:2: 'version' must be a non-negative integer"));
  message = manifest_error(replaced("format: lyre-prepared", "format: other"));
  EXPECT_TRUE(contains(message, "manifest.yaml:1: format is 'other'"));
}

TEST(Manifest, UnknownKeysAndRepeatedGenresAreRefused) {
  std::string message = manifest_error(replaced("name: demo\n", "name: demo\nnmae: x\n"));
  EXPECT_TRUE(contains(message, "manifest.yaml:4: unknown key 'nmae'"));
  message = manifest_error(replaced("bytes: 300", "bytes: 300, extra: 1"));
  EXPECT_TRUE(contains(message, "unknown key 'shards[1].extra'"));
  message = manifest_error(replaced("[Rock, Pop, Romântico]", "[Rock, Pop, Rock]"));
  EXPECT_TRUE(contains(message, "manifest.yaml:5: 'genres[2]' repeats genre 'Rock'"));
}

TEST(Manifest, InvalidYamlIsNamedWithItsLine) {
  const std::string message = manifest_error(replaced("tokens: 30\n", "tokens: [30\n"));
  EXPECT_TRUE(contains(message, "manifest.yaml:"));
  EXPECT_TRUE(contains(message, "not valid YAML"));
}

TEST(Manifest, FolderWithoutManifestSaysRunPrepare) {
  TempDir dir;
  const std::string message = input_error([&] { Manifest::load(dir.path()); });
  EXPECT_EQ(message, dir.path().string() + " holds no manifest.yaml: run `lyre prepare` first");
}

// --- PreparedCorpus -----------------------------------------------------------

// A prepared folder of three shards over a real Vocab; songs are numbered
// globally 0..8 across the shards.
class PreparedFolder : public ::testing::Test {
 protected:
  void SetUp() override {
    std::vector<std::string> words;
    std::vector<std::uint64_t> counts;
    for (int i = 0; i < 20; ++i) {
      words.push_back(fmt::format("w{:02}", i));
      counts.push_back(static_cast<std::uint64_t>(100 - i));
    }
    vocab_ = Vocab::build(words, counts, 1, 0);
    vocab_.save(dir_ / "vocab.txt");
    manifest_.vocab_digest = digest_file(dir_ / "vocab.txt");

    manifest_.name = "three";
    manifest_.vocab_size = vocab_.size();
    manifest_.vocab_hash = vocab_.hash();
    manifest_.genres = {"Rock", "Pop", "Romântico"};
    const std::vector<std::size_t> per_shard = {4, 2, 3};
    std::uint32_t song = 0;
    for (std::uint32_t shard = 0; shard < per_shard.size(); ++shard) {
      const std::string file = fmt::format("shard-{:05}.bin", shard);
      ShardWriter writer(dir_ / file, shard, vocab_.hash(), vocab_.size(), 3);
      for (std::size_t i = 0; i < per_shard[shard]; ++i, ++song) {
        std::vector<std::uint32_t> tokens(song % 4 + 1);
        std::iota(tokens.begin(), tokens.end(), song + 1);
        std::vector<LineMark> marks;
        if (tokens.size() > 2) marks.push_back(make_mark(2, song % 2 == 0));
        writer.add(1000 + song, song % 3, tokens, marks);
        songs_.push_back({1000 + song, song % 3, tokens, marks});
      }
      const std::uint64_t bytes = writer.finish();
      manifest_.shards.push_back({file, writer.num_songs(), writer.num_tokens(), bytes});
      manifest_.songs += writer.num_songs();
      manifest_.tokens += writer.num_tokens();
    }
    manifest_.save(dir_.path());
  }

  std::string open_error() {
    return input_error([&] { PreparedCorpus::open(dir_.path()); });
  }

  TempDir dir_;
  Vocab vocab_;
  Manifest manifest_;
  std::vector<Song> songs_;
};

TEST_F(PreparedFolder, NumbersSongsGloballyAcrossShards) {
  const PreparedCorpus corpus = PreparedCorpus::open(dir_.path());
  ASSERT_EQ(corpus.num_songs(), songs_.size());
  EXPECT_EQ(corpus.num_classes(), 3u);
  EXPECT_EQ(corpus.genres()[2], "Romântico");
  EXPECT_EQ(corpus.vocab().hash(), vocab_.hash());
  EXPECT_EQ(corpus.dir(), dir_.path());
  EXPECT_EQ(corpus.manifest().shards.size(), 3u);
  std::uint64_t tokens = 0;
  for (std::uint64_t s = 0; s < songs_.size(); ++s) {
    EXPECT_EQ(to_vector(corpus.tokens(s)), songs_[s].tokens) << s;
    EXPECT_EQ(to_vector(corpus.marks(s)), songs_[s].marks) << s;
    EXPECT_EQ(corpus.label(s), songs_[s].label) << s;
    EXPECT_EQ(corpus.song_id(s), songs_[s].id) << s;
    tokens += songs_[s].tokens.size();
  }
  EXPECT_EQ(corpus.num_tokens(), tokens);
  EXPECT_THROW(corpus.tokens(songs_.size()), Error);
}

TEST_F(PreparedFolder, LabelsAndLengthsAreInSongOrder) {
  const PreparedCorpus corpus = PreparedCorpus::open(dir_.path());
  std::vector<std::uint32_t> labels, lengths;
  for (const Song& s : songs_) {
    labels.push_back(s.label);
    lengths.push_back(static_cast<std::uint32_t>(s.tokens.size()));
  }
  EXPECT_EQ(corpus.labels(), labels);
  EXPECT_EQ(corpus.lengths(), lengths);
}

TEST_F(PreparedFolder, MismatchedVocabularyIsRefused) {
  std::vector<std::string> words = {"other", "words"};
  std::vector<std::uint64_t> counts = {5, 4};
  Vocab::build(words, counts, 1, 0).save(dir_ / "vocab.txt");
  // A manifest that lists this file's checksum but another vocabulary's size
  // and hash: only a folder assembled from two runs by hand gets here.
  manifest_.vocab_digest = digest_file(dir_ / "vocab.txt");
  manifest_.save(dir_.path());
  const std::string message = open_error();
  EXPECT_TRUE(contains(message, (dir_ / "vocab.txt").string()));
  EXPECT_TRUE(contains(message, "mixes files from different `lyre prepare` runs"));
}

TEST_F(PreparedFolder, SameSizeDifferentVocabularyIsRefusedByHash) {
  std::string text = test::read_file(dir_ / "vocab.txt");
  text.replace(text.find("w05"), 3, "zzz");
  test::write_file(dir_ / "vocab.txt", text);
  manifest_.vocab_digest = digest_file(dir_ / "vocab.txt");
  manifest_.save(dir_.path());
  const std::string message = open_error();
  EXPECT_TRUE(contains(message, fmt::format("says vocab.hash = {:016x}", vocab_.hash())));
}

TEST_F(PreparedFolder, MissingShardFileIsNamed) {
  fs::remove(dir_ / "shard-00001.bin");
  const std::string message = open_error();
  EXPECT_TRUE(contains(message, "manifest.yaml: shards[1] names"));
  EXPECT_TRUE(contains(message, "shard-00001.bin, which is missing"));
}

TEST_F(PreparedFolder, MissingVocabularyIsNamed) {
  fs::remove(dir_ / "vocab.txt");
  const std::string message = open_error();
  EXPECT_TRUE(contains(message, (dir_ / "vocab.txt").string() + " is missing"));
  EXPECT_TRUE(contains(message, "manifest.yaml lists it"));
}

// Word counts are outside the vocabulary hash (which covers the id
// assignment): only the manifest's checksum catches a changed digit.
TEST_F(PreparedFolder, ChangedVocabularyCountIsCorrupt) {
  std::string text = test::read_file(dir_ / "vocab.txt");
  const auto tab = text.find("w03\t");
  ASSERT_NE(tab, std::string::npos);
  text[tab + 4] = text[tab + 4] == '9' ? '8' : '9';
  test::write_file(dir_ / "vocab.txt", text);
  const std::string message = open_error();
  EXPECT_TRUE(contains(message, (dir_ / "vocab.txt").string() + " is corrupt: checksum"));
  EXPECT_TRUE(contains(message, "recorded in " + (dir_ / "manifest.yaml").string()));
}

TEST_F(PreparedFolder, TruncatedVocabularyIsNamed) {
  test::truncate_file(dir_ / "vocab.txt", fs::file_size(dir_ / "vocab.txt") - 7);
  EXPECT_TRUE(contains(open_error(), (dir_ / "vocab.txt").string() + " is truncated or was changed"));
}

class PreparedFolderWithEmbedding : public PreparedFolder {
 protected:
  void SetUp() override {
    PreparedFolder::SetUp();
    EmbeddingMatrix m;
    m.vocab_size = vocab_.size();
    m.dim = 4;
    m.vocab_hash = vocab_.hash();
    m.values.resize(static_cast<std::size_t>(m.vocab_size) * 4);
    for (std::size_t i = 8; i < m.values.size(); ++i) m.values[i] = 0.25f * static_cast<float>(i % 7);
    m.found.assign(m.vocab_size, 1);
    m.found[0] = m.found[1] = 0;
    save_embedding(dir_ / "embedding.bin", m);
    manifest_.embedding =
        EmbeddingEntry{"embedding.bin", 4, "glove.txt", 0.5, 0.5, digest_file(dir_ / "embedding.bin")};
    manifest_.save(dir_.path());
  }
};

TEST_F(PreparedFolderWithEmbedding, OpensWithTheValidatedMatrix) {
  const PreparedCorpus corpus = PreparedCorpus::open(dir_.path());
  ASSERT_TRUE(corpus.embedding().has_value());
  EXPECT_EQ(corpus.embedding()->dim, 4);
  EXPECT_EQ(corpus.embedding()->values[9], 0.5f);
}

TEST_F(PreparedFolderWithEmbedding, MissingFileIsNamed) {
  fs::remove(dir_ / "embedding.bin");
  EXPECT_TRUE(contains(open_error(), (dir_ / "embedding.bin").string() + " is missing"));
}

TEST_F(PreparedFolderWithEmbedding, FlippedByteIsCorrupt) {
  test::flip_byte(dir_ / "embedding.bin", fs::file_size(dir_ / "embedding.bin") / 2);
  EXPECT_TRUE(contains(open_error(), (dir_ / "embedding.bin").string() + " is corrupt: checksum"));
}

TEST_F(PreparedFolderWithEmbedding, TruncationIsNamed) {
  test::truncate_file(dir_ / "embedding.bin", 100);
  EXPECT_TRUE(contains(open_error(), (dir_ / "embedding.bin").string() + " is truncated or was changed"));
}

// Listed with the right checksum but of another dimension than the manifest says.
TEST_F(PreparedFolderWithEmbedding, DimensionDisagreeingWithTheManifestIsRefused) {
  manifest_.embedding->dim = 8;
  manifest_.save(dir_.path());
  EXPECT_TRUE(contains(open_error(), "holds 4-dimensional vectors but"));
}

TEST_F(PreparedFolder, ManifestTotalsMismatchIsRefused) {
  manifest_.songs += 1;
  manifest_.save(dir_.path());
  EXPECT_TRUE(contains(open_error(), "manifest.yaml: songs = 10 but the shards list 9 songs in all"));
  manifest_.songs -= 1;
  manifest_.tokens -= 1;
  manifest_.save(dir_.path());
  EXPECT_TRUE(contains(open_error(), "but the shards list"));
}

TEST_F(PreparedFolder, ShardEntryMismatchIsRefused) {
  manifest_.shards[2].songs += 1;
  manifest_.songs += 1;
  manifest_.save(dir_.path());
  EXPECT_TRUE(contains(open_error(), "shards[2].songs = 4 but"));
  manifest_.shards[2].songs -= 1;
  manifest_.songs -= 1;
  manifest_.shards[0].bytes += 8;
  manifest_.save(dir_.path());
  EXPECT_TRUE(contains(open_error(), "shards[0].bytes"));
}

TEST_F(PreparedFolder, ShardsInTheWrongOrderAreRefused) {
  std::swap(manifest_.shards[0], manifest_.shards[1]);
  manifest_.save(dir_.path());
  EXPECT_TRUE(contains(open_error(), "shard_index is 1 but the manifest lists this file at position 0"));
}

TEST_F(PreparedFolder, CorruptShardIsRefusedOnOpen) {
  test::flip_byte(dir_ / "shard-00002.bin", 100);
  const std::string message = open_error();
  EXPECT_TRUE(contains(message, "shard-00002.bin is corrupt"));
}

TEST_F(PreparedFolder, EmptyFolderSaysRunPrepare) {
  TempDir empty;
  const std::string message = input_error([&] { PreparedCorpus::open(empty.path()); });
  EXPECT_TRUE(contains(message, "holds no manifest.yaml: run `lyre prepare` first"));
}

}  // namespace
}  // namespace lyre::data
