#include "data/shard.hpp"

#include <algorithm>
#include <charconv>
#include <initializer_list>

#include <yaml-cpp/yaml.h>

#include "engine/core/error.hpp"

namespace lyre::data {
namespace {

constexpr std::uint64_t kTrailerBytes = 2 * sizeof(std::uint64_t);
// magic, version, num_classes, num_songs, num_tokens, num_marks, vocab_hash,
// vocab_size, shard_index
constexpr std::uint64_t kHeaderBytes = 8 + 4 + 4 + 8 + 8 + 8 + 8 + 4 + 4;
static_assert(kHeaderBytes % 8 == 0, "the first array must start 8-byte aligned");

constexpr std::uint64_t padded8(std::uint64_t bytes) { return (bytes + 7) / 8 * 8; }

template <typename T>
void put_vector(BinaryWriter& out, const std::vector<T>& values) {
  out.put_array(std::span<const T>(values));
}

// ---------------------------------------------------------------------------
// Shard validation. Each check scans its array once; messages name the file,
// the field and the song so a corrupt shard can be located by hand.
// ---------------------------------------------------------------------------

struct ShardHeader {
  std::uint64_t magic = 0;
  std::uint32_t version = 0;
  std::uint32_t num_classes = 0;
  std::uint64_t num_songs = 0;
  std::uint64_t num_tokens = 0;
  std::uint64_t num_marks = 0;
  std::uint64_t vocab_hash = 0;
  std::uint32_t vocab_size = 0;
  std::uint32_t shard_index = 0;
};

ShardHeader read_header(BinaryReader& in) {
  ShardHeader h;
  h.magic = in.get<std::uint64_t>("magic");
  h.version = in.get<std::uint32_t>("version");
  h.num_classes = in.get<std::uint32_t>("num_classes");
  h.num_songs = in.get<std::uint64_t>("num_songs");
  h.num_tokens = in.get<std::uint64_t>("num_tokens");
  h.num_marks = in.get<std::uint64_t>("num_marks");
  h.vocab_hash = in.get<std::uint64_t>("vocab_hash");
  h.vocab_size = in.get<std::uint32_t>("vocab_size");
  h.shard_index = in.get<std::uint32_t>("shard_index");
  return h;
}

void check_header(const std::string& file, const ShardHeader& h, const ShardExpectations& expect) {
  if (h.magic != kShardMagic)
    fail_input("{}: not a Lyre shard (magic {:016x}, expected {:016x} \"LYRESHRD\")", file, h.magic,
               kShardMagic);
  if (h.version != kShardVersion)
    fail_input("{}: shard format version {} is not supported (this build reads version {}): "
               "run `lyre prepare` again",
               file, h.version, kShardVersion);
  if (h.vocab_hash != expect.vocab_hash)
    fail_input("{} was written for vocabulary hash {:016x} but the vocabulary in use has hash "
               "{:016x}: the shard comes from another `lyre prepare` run",
               file, h.vocab_hash, expect.vocab_hash);
  if (h.vocab_size != expect.vocab_size)
    fail_input("{} was written for a vocabulary of {} words but the vocabulary in use has {}", file,
               h.vocab_size, expect.vocab_size);
  if (h.vocab_size < 2)
    fail_input("{}: vocab_size is {}, but a vocabulary holds at least <pad> and <unk>", file,
               h.vocab_size);
  if (h.num_classes != expect.num_classes)
    fail_input("{} was written for {} classes but the manifest lists {} genres", file,
               h.num_classes, expect.num_classes);
  if (h.num_classes == 0) fail_input("{}: num_classes is 0", file);
  if (h.shard_index != expect.shard_index)
    fail_input("{}: shard_index is {} but the manifest lists this file at position {}", file,
               h.shard_index, expect.shard_index);
}

// The counts fix the payload size exactly; checking it first turns a lying
// header into one clear message instead of a confusing field-level one.
void check_counts_fit(const std::string& file, const ShardHeader& h, std::uint64_t payload) {
  const bool plausible = h.num_songs < payload / 8 && h.num_tokens <= payload / 4 &&
                         h.num_marks <= payload / 4;
  const std::uint64_t expected =
      plausible ? kHeaderBytes + (h.num_songs + 1) * 8 + padded8(h.num_tokens * 4) +
                      padded8(h.num_songs * 4) + h.num_songs * 8 + (h.num_songs + 1) * 8 +
                      padded8(h.num_marks * 4)
                : 0;
  if (!plausible || expected != payload)
    fail_input("{}: the header's counts ({} songs, {} tokens, {} marks) disagree with the file "
               "size ({} payload bytes{})",
               file, h.num_songs, h.num_tokens, h.num_marks, payload,
               plausible ? fmt::format(", the counts need {}", expected) : std::string());
}

// offsets[0] = 0, non-decreasing, every entry within [0, total], last = total.
void check_offsets(const std::string& file, std::string_view field,
                   std::span<const std::uint64_t> offsets, std::uint64_t total,
                   std::string_view unit, bool every_song_nonempty) {
  if (offsets.front() != 0) fail_input("{}: {}[0] is {}, must be 0", file, field, offsets.front());
  for (std::uint64_t s = 0; s + 1 < offsets.size(); ++s) {
    const std::uint64_t begin = offsets[s], end = offsets[s + 1];
    if (end > total)
      fail_input("{}: {}[{}] is {}, past the end of the {} {}", file, field, s + 1, end, total,
                 unit);
    if (end < begin)
      fail_input("{}: {} decrease at song {}: {}[{}] = {} then {}[{}] = {}", file, field, s, field,
                 s, begin, field, s + 1, end);
    if (every_song_nonempty && end == begin)
      fail_input("{}: song {} has no tokens ({}[{}] = {}[{}] = {}); every song needs at least one",
                 file, s, field, s, field, s + 1, begin);
  }
  if (offsets.back() != total)
    fail_input("{}: {}[{}] is {}, but the shard holds {} {}", file, field, offsets.size() - 1,
               offsets.back(), total, unit);
}

std::uint64_t song_of(std::span<const std::uint64_t> offsets, std::uint64_t element) {
  const auto it = std::upper_bound(offsets.begin(), offsets.end(), element);
  return static_cast<std::uint64_t>(it - offsets.begin()) - 1;
}

void check_tokens(const std::string& file, std::span<const std::uint32_t> tokens,
                  std::span<const std::uint64_t> offsets, std::uint32_t vocab_size) {
  // Valid ids are [1, vocab_size): one unsigned compare per token, counted
  // without branching so the scan vectorizes; the slow search runs only on error.
  const std::uint32_t limit = vocab_size - 1;
  std::uint64_t bad = 0;
  for (const std::uint32_t t : tokens) bad += (t - 1u >= limit) ? 1 : 0;
  if (bad == 0) return;
  const auto it = std::find_if(tokens.begin(), tokens.end(),
                               [&](std::uint32_t t) { return t - 1u >= limit; });
  const auto index = static_cast<std::uint64_t>(it - tokens.begin());
  const std::uint64_t song = song_of(offsets, index);
  if (*it == Vocab::kPad)
    fail_input("{}: token {} of song {} is 0 (PAD), which never appears inside a song", file,
               index - offsets[song], song);
  fail_input("{}: token {} of song {} is {}, outside the vocabulary of {} words", file,
             index - offsets[song], song, *it, vocab_size);
}

void check_labels(const std::string& file, std::span<const std::uint32_t> labels,
                  std::uint32_t num_classes) {
  for (std::uint64_t s = 0; s < labels.size(); ++s)
    if (labels[s] >= num_classes)
      fail_input("{}: label of song {} is {}, but there are only {} classes", file, s, labels[s],
                 num_classes);
}

void check_song_ids(const std::string& file, std::span<const std::uint64_t> song_ids) {
  for (std::uint64_t s = 0; s < song_ids.size(); ++s)
    if (song_ids[s] == 0)
      fail_input("{}: song_id of song {} is 0, but song ids are 1-based CSV rows", file, s);
}

// Marks of each song point inside it, never at token 0, in order.
void check_marks(const std::string& file, std::span<const LineMark> marks,
                 std::span<const std::uint64_t> mark_offsets,
                 std::span<const std::uint64_t> token_offsets) {
  for (std::uint64_t s = 0; s + 1 < mark_offsets.size(); ++s) {
    const std::uint64_t length = token_offsets[s + 1] - token_offsets[s];
    std::uint32_t previous = 0;
    for (std::uint64_t m = mark_offsets[s]; m < mark_offsets[s + 1]; ++m) {
      const std::uint32_t token = mark_token(marks[m]);
      const std::uint64_t j = m - mark_offsets[s];
      if (token >= length)
        fail_input("{}: mark {} of song {} points at token {}, past the song's end ({} tokens)",
                   file, j, s, token, length);
      if (token == 0)
        fail_input("{}: mark {} of song {} points at token 0, which is never marked", file, j, s);
      if (token < previous)
        fail_input("{}: marks of song {} are out of order: mark {} points at token {} after "
                   "token {}",
                   file, s, j, token, previous);
      previous = token;
    }
  }
}

// ---------------------------------------------------------------------------
// manifest.yaml reading: every key checked for presence and type, messages
// "<file>:<line>: ... '<key path>' ...".
// ---------------------------------------------------------------------------

class ManifestParser {
 public:
  explicit ManifestParser(std::string file) : file_(std::move(file)) {}

  int line(const YAML::Node& node) const { return node.Mark().is_null() ? 1 : node.Mark().line + 1; }

  const YAML::Node require(const YAML::Node& map, const char* key, const std::string& path) const {
    const YAML::Node value = map[key];
    if (!value) fail_input("{}:{}: missing key '{}'", file_, line(map), path);
    return value;
  }

  void expect_map(const YAML::Node& node, const std::string& path) const {
    if (!node.IsMap()) fail_input("{}:{}: '{}' must be a mapping", file_, line(node), path);
  }

  void expect_sequence(const YAML::Node& node, const std::string& path) const {
    if (!node.IsSequence()) fail_input("{}:{}: '{}' must be a list", file_, line(node), path);
  }

  // Rejects keys this version does not write: a typo or a newer writer.
  void expect_keys(const YAML::Node& map, const std::string& prefix,
                   std::initializer_list<std::string_view> keys) const {
    for (const auto& entry : map) {
      const std::string key = entry.first.Scalar();
      if (std::find(keys.begin(), keys.end(), key) == keys.end())
        fail_input("{}:{}: unknown key '{}{}'", file_, line(entry.first), prefix, key);
    }
  }

  std::string string_at(const YAML::Node& map, const char* key, const std::string& path) const {
    const YAML::Node value = require(map, key, path);
    if (!value.IsScalar()) fail_input("{}:{}: '{}' must be a string", file_, line(value), path);
    return value.Scalar();
  }

  std::uint64_t u64_at(const YAML::Node& map, const char* key, const std::string& path,
                       int base = 10, std::string_view what = "a non-negative integer") const {
    const YAML::Node value = require(map, key, path);
    const std::string text = value.IsScalar() ? value.Scalar() : std::string();
    std::uint64_t number = 0;
    const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), number, base);
    if (!value.IsScalar() || text.empty() || ec != std::errc() ||
        ptr != text.data() + text.size())
      fail_input("{}:{}: '{}' must be {}, found '{}'", file_, line(value), path, what,
                 value.IsScalar() ? text : YAML::Dump(value));
    return number;
  }

  std::uint32_t u32_at(const YAML::Node& map, const char* key, const std::string& path) const {
    const std::uint64_t number = u64_at(map, key, path);
    if (number > UINT32_MAX)
      fail_input("{}:{}: '{}' is {}, larger than {}", file_, line(map[key]), path, number,
                 UINT32_MAX);
    return static_cast<std::uint32_t>(number);
  }

  double fraction_at(const YAML::Node& map, const char* key, const std::string& path) const {
    const YAML::Node value = require(map, key, path);
    const std::string text = value.IsScalar() ? value.Scalar() : std::string();
    double number = 0;
    const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), number);
    if (!value.IsScalar() || text.empty() || ec != std::errc() ||
        ptr != text.data() + text.size() || !(number >= 0.0 && number <= 1.0))
      fail_input("{}:{}: '{}' must be a number in [0, 1], found '{}'", file_, line(value), path,
                 value.IsScalar() ? text : YAML::Dump(value));
    return number;
  }

  // "bytes" and "xxh3" (16 hex digits) of a file entry under `prefix`.
  FileDigest digest_at(const YAML::Node& map, const std::string& prefix) const {
    const std::string hash_text = string_at(map, "xxh3", prefix + "xxh3");
    if (hash_text.size() != 16)
      fail_input("{}:{}: '{}xxh3' must be 16 hex digits, found '{}'", file_, line(map["xxh3"]),
                 prefix, hash_text);
    return {u64_at(map, "bytes", prefix + "bytes"),
            u64_at(map, "xxh3", prefix + "xxh3", 16, "16 hex digits")};
  }

  const std::string& file() const { return file_; }

 private:
  std::string file_;
};

void emit_number(YAML::Emitter& out, double value) {
  // fmt's shortest round-trip form: 0.91, not 0.91000000000000003.
  out << fmt::format("{}", value);
}

void emit_digest(YAML::Emitter& out, const FileDigest& digest) {
  out << YAML::Key << "bytes" << YAML::Value << digest.bytes;
  out << YAML::Key << "xxh3" << YAML::Value << YAML::DoubleQuoted
      << fmt::format("{:016x}", digest.xxh3);
}

}  // namespace

// ===========================================================================
// ShardWriter
// ===========================================================================

ShardWriter::ShardWriter(std::filesystem::path path, std::uint32_t shard_index,
                         std::uint64_t vocab_hash, std::uint32_t vocab_size,
                         std::uint32_t num_classes)
    : path_(std::move(path)),
      shard_index_(shard_index),
      vocab_size_(vocab_size),
      num_classes_(num_classes),
      vocab_hash_(vocab_hash) {
  LYRE_CHECK(vocab_size >= 2, "vocabulary of {} words", vocab_size);
  LYRE_CHECK(num_classes >= 1, "no classes");
}

void ShardWriter::add(std::uint64_t song_id, std::uint32_t label,
                      std::span<const std::uint32_t> tokens, std::span<const LineMark> marks) {
  LYRE_CHECK(song_id >= 1, "song ids are 1-based rows");
  LYRE_CHECK(!tokens.empty(), "song {} has no tokens", song_id);
  LYRE_CHECK(label < num_classes_, "label {} of song {} with {} classes", label, song_id,
             num_classes_);
  for (const std::uint32_t t : tokens)
    LYRE_CHECK(t >= 1 && t < vocab_size_, "token {} of song {} with {} words", t, song_id,
               vocab_size_);
  std::uint32_t previous = 0;
  for (const LineMark m : marks) {
    LYRE_CHECK(mark_token(m) >= 1 && mark_token(m) < tokens.size() && mark_token(m) >= previous,
               "mark at token {} of song {} ({} tokens)", mark_token(m), song_id, tokens.size());
    previous = mark_token(m);
  }
  tokens_.insert(tokens_.end(), tokens.begin(), tokens.end());
  token_offsets_.push_back(tokens_.size());
  marks_.insert(marks_.end(), marks.begin(), marks.end());
  mark_offsets_.push_back(marks_.size());
  labels_.push_back(label);
  song_ids_.push_back(song_id);
}

std::uint64_t ShardWriter::finish() {
  BinaryWriter out(path_);
  out.put(kShardMagic);
  out.put(kShardVersion);
  out.put(num_classes_);
  out.put<std::uint64_t>(labels_.size());
  out.put<std::uint64_t>(tokens_.size());
  out.put<std::uint64_t>(marks_.size());
  out.put(vocab_hash_);
  out.put(vocab_size_);
  out.put(shard_index_);
  LYRE_CHECK(out.offset() == kHeaderBytes, "header of {} bytes", out.offset());
  put_vector(out, token_offsets_);
  put_vector(out, tokens_);
  put_vector(out, labels_);
  put_vector(out, song_ids_);
  put_vector(out, mark_offsets_);
  put_vector(out, marks_);
  const std::uint64_t size = out.offset() + kTrailerBytes;
  out.commit();
  return size;
}

// ===========================================================================
// ShardReader
// ===========================================================================

ShardReader::ShardReader(const std::filesystem::path& path, const ShardExpectations& expect)
    : file_(path) {
  const std::string file = path.string();
  BinaryReader in(file_, "shard");
  const ShardHeader h = read_header(in);
  check_header(file, h, expect);
  check_counts_fit(file, h, file_.size() - kTrailerBytes);

  const auto token_offsets = in.get_array<std::uint64_t>(h.num_songs + 1, "token_offsets");
  const auto tokens = in.get_array<std::uint32_t>(h.num_tokens, "tokens");
  const auto labels = in.get_array<std::uint32_t>(h.num_songs, "labels");
  const auto song_ids = in.get_array<std::uint64_t>(h.num_songs, "song_ids");
  const auto mark_offsets = in.get_array<std::uint64_t>(h.num_songs + 1, "mark_offsets");
  const auto marks = in.get_array<LineMark>(h.num_marks, "marks");
  in.expect_end();

  check_offsets(file, "token_offsets", token_offsets, h.num_tokens, "tokens", true);
  check_tokens(file, tokens, token_offsets, h.vocab_size);
  check_labels(file, labels, h.num_classes);
  check_song_ids(file, song_ids);
  check_offsets(file, "mark_offsets", mark_offsets, h.num_marks, "marks", false);
  check_marks(file, marks, mark_offsets, token_offsets);

  token_offsets_ = token_offsets;
  tokens_ = tokens;
  labels_ = labels;
  song_ids_ = song_ids;
  mark_offsets_ = mark_offsets;
  marks_ = marks;
}

// ===========================================================================
// Manifest
// ===========================================================================

void Manifest::save(const std::filesystem::path& dir) const {
  YAML::Emitter out;
  out << YAML::BeginMap;
  out << YAML::Key << "format" << YAML::Value << "lyre-prepared";
  out << YAML::Key << "version" << YAML::Value << kVersion;
  out << YAML::Key << "name" << YAML::Value << name;
  out << YAML::Key << "vocab" << YAML::Value << YAML::Flow << YAML::BeginMap;
  out << YAML::Key << "file" << YAML::Value << vocab_file;
  out << YAML::Key << "size" << YAML::Value << vocab_size;
  out << YAML::Key << "hash" << YAML::Value << YAML::DoubleQuoted
      << fmt::format("{:016x}", vocab_hash);
  emit_digest(out, vocab_digest);
  out << YAML::EndMap;
  out << YAML::Key << "genres" << YAML::Value << YAML::Flow << genres;
  out << YAML::Key << "songs" << YAML::Value << songs;
  out << YAML::Key << "tokens" << YAML::Value << tokens;
  out << YAML::Key << "shards" << YAML::Value << YAML::BeginSeq;
  for (const ShardEntry& shard : shards) {
    out << YAML::Flow << YAML::BeginMap;
    out << YAML::Key << "file" << YAML::Value << shard.file;
    out << YAML::Key << "songs" << YAML::Value << shard.songs;
    out << YAML::Key << "tokens" << YAML::Value << shard.tokens;
    out << YAML::Key << "bytes" << YAML::Value << shard.bytes;
    out << YAML::EndMap;
  }
  out << YAML::EndSeq;
  if (embedding) {
    out << YAML::Key << "embedding" << YAML::Value << YAML::Flow << YAML::BeginMap;
    out << YAML::Key << "file" << YAML::Value << embedding->file;
    out << YAML::Key << "dim" << YAML::Value << embedding->dim;
    out << YAML::Key << "source" << YAML::Value << embedding->source;
    out << YAML::Key << "vocab_coverage" << YAML::Value;
    emit_number(out, embedding->vocab_coverage);
    out << YAML::Key << "token_coverage" << YAML::Value;
    emit_number(out, embedding->token_coverage);
    emit_digest(out, embedding->digest);
    out << YAML::EndMap;
  }
  out << YAML::EndMap;
  LYRE_CHECK(out.good(), "YAML emitter: {}", out.GetLastError());
  write_text_file(dir / kFileName, std::string(out.c_str()) + "\n");
}

Manifest Manifest::load(const std::filesystem::path& dir) {
  const std::filesystem::path path = dir / kFileName;
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec))
    fail_input("{} holds no {}: run `lyre prepare` first", dir.string(), kFileName);
  const ManifestParser p(path.string());

  YAML::Node root;
  try {
    root = YAML::LoadFile(path.string());
  } catch (const YAML::ParserException& e) {
    fail_input("{}:{}: not valid YAML: {}", p.file(), e.mark.line + 1, e.msg);
  } catch (const YAML::Exception& e) {
    fail_input("{}: cannot read: {}", p.file(), e.what());
  }
  if (!root.IsMap()) fail_input("{}:1: a manifest is a YAML mapping", p.file());
  p.expect_keys(root, "",
                {"format", "version", "name", "vocab", "genres", "songs", "tokens", "shards",
                 "embedding"});

  const std::string format = p.string_at(root, "format", "format");
  if (format != "lyre-prepared")
    fail_input("{}:{}: format is '{}', not 'lyre-prepared': this is not a Lyre manifest",
               p.file(), p.line(root["format"]), format);
  const std::uint64_t version = p.u64_at(root, "version", "version");
  if (version != static_cast<std::uint64_t>(kVersion))
    fail_input("{}:{}: manifest version {} is not supported (this build reads version {}): run "
               "`lyre prepare` again",
               p.file(), p.line(root["version"]), version, kVersion);

  Manifest m;
  m.name = p.string_at(root, "name", "name");

  const YAML::Node vocab = p.require(root, "vocab", "vocab");
  p.expect_map(vocab, "vocab");
  p.expect_keys(vocab, "vocab.", {"file", "size", "hash", "bytes", "xxh3"});
  m.vocab_file = p.string_at(vocab, "file", "vocab.file");
  m.vocab_size = p.u32_at(vocab, "size", "vocab.size");
  const std::string hash_text = p.string_at(vocab, "hash", "vocab.hash");
  if (hash_text.size() != 16)
    fail_input("{}:{}: 'vocab.hash' must be 16 hex digits, found '{}'", p.file(),
               p.line(vocab["hash"]), hash_text);
  m.vocab_hash = p.u64_at(vocab, "hash", "vocab.hash", 16, "16 hex digits");
  m.vocab_digest = p.digest_at(vocab, "vocab.");

  const YAML::Node genres = p.require(root, "genres", "genres");
  p.expect_sequence(genres, "genres");
  for (std::size_t i = 0; i < genres.size(); ++i) {
    const std::string key = fmt::format("genres[{}]", i);
    if (!genres[i].IsScalar() || genres[i].Scalar().empty())
      fail_input("{}:{}: '{}' must be a genre name", p.file(), p.line(genres[i]), key);
    if (std::find(m.genres.begin(), m.genres.end(), genres[i].Scalar()) != m.genres.end())
      fail_input("{}:{}: '{}' repeats genre '{}'", p.file(), p.line(genres[i]), key,
                 genres[i].Scalar());
    m.genres.push_back(genres[i].Scalar());
  }
  if (m.genres.empty()) fail_input("{}:{}: 'genres' is empty", p.file(), p.line(genres));

  m.songs = p.u64_at(root, "songs", "songs");
  m.tokens = p.u64_at(root, "tokens", "tokens");

  const YAML::Node shards = p.require(root, "shards", "shards");
  p.expect_sequence(shards, "shards");
  for (std::size_t i = 0; i < shards.size(); ++i) {
    const std::string key = fmt::format("shards[{}]", i);
    const YAML::Node entry = shards[i];
    p.expect_map(entry, key);
    p.expect_keys(entry, key + ".", {"file", "songs", "tokens", "bytes"});
    ShardEntry shard;
    shard.file = p.string_at(entry, "file", key + ".file");
    if (shard.file.empty() || std::filesystem::path(shard.file).is_absolute())
      fail_input("{}:{}: '{}.file' must name a file inside the folder, found '{}'", p.file(),
                 p.line(entry["file"]), key, shard.file);
    shard.songs = p.u64_at(entry, "songs", key + ".songs");
    shard.tokens = p.u64_at(entry, "tokens", key + ".tokens");
    shard.bytes = p.u64_at(entry, "bytes", key + ".bytes");
    m.shards.push_back(std::move(shard));
  }

  if (const YAML::Node embedding = root["embedding"]) {
    p.expect_map(embedding, "embedding");
    p.expect_keys(embedding, "embedding.",
                  {"file", "dim", "source", "vocab_coverage", "token_coverage", "bytes", "xxh3"});
    EmbeddingEntry e;
    e.file = p.string_at(embedding, "file", "embedding.file");
    const std::uint64_t dim = p.u64_at(embedding, "dim", "embedding.dim");
    if (dim == 0 || dim > 1'000'000)
      fail_input("{}:{}: 'embedding.dim' is {}, not a plausible vector size", p.file(),
                 p.line(embedding["dim"]), dim);
    e.dim = static_cast<int>(dim);
    e.source = p.string_at(embedding, "source", "embedding.source");
    e.vocab_coverage = p.fraction_at(embedding, "vocab_coverage", "embedding.vocab_coverage");
    e.token_coverage = p.fraction_at(embedding, "token_coverage", "embedding.token_coverage");
    e.digest = p.digest_at(embedding, "embedding.");
    m.embedding = std::move(e);
  }
  return m;
}

// ===========================================================================
// PreparedCorpus
// ===========================================================================

PreparedCorpus PreparedCorpus::open(const std::filesystem::path& dir) {
  PreparedCorpus corpus;
  corpus.dir_ = dir;
  corpus.manifest_ = Manifest::load(dir);
  const Manifest& m = corpus.manifest_;
  const std::string manifest_file = (dir / Manifest::kFileName).string();

  // Checksum before structure: a corrupt file is named as corrupt, not as one
  // whose content happens to disagree with the manifest.
  const std::filesystem::path vocab_path = dir / m.vocab_file;
  verify_file(vocab_path, m.vocab_digest, manifest_file);
  corpus.vocab_ = Vocab::load(vocab_path);
  if (corpus.vocab_.size() != m.vocab_size)
    fail_input("{} holds {} words but {} says vocab.size = {}: the folder mixes files from "
               "different `lyre prepare` runs",
               vocab_path.string(), corpus.vocab_.size(), manifest_file, m.vocab_size);
  if (corpus.vocab_.hash() != m.vocab_hash)
    fail_input("{} has hash {:016x} but {} says vocab.hash = {:016x}: the folder mixes files "
               "from different `lyre prepare` runs",
               vocab_path.string(), corpus.vocab_.hash(), manifest_file, m.vocab_hash);

  if (m.embedding) {
    const std::filesystem::path embedding_path = dir / m.embedding->file;
    verify_file(embedding_path, m.embedding->digest, manifest_file);
    corpus.embedding_ = load_embedding(embedding_path, m.vocab_hash, m.vocab_size);
    if (corpus.embedding_->dim != m.embedding->dim)
      fail_input("{} holds {}-dimensional vectors but {} says embedding.dim = {}",
                 embedding_path.string(), corpus.embedding_->dim, manifest_file, m.embedding->dim);
  }

  std::uint64_t listed_songs = 0, listed_tokens = 0;
  for (const ShardEntry& entry : m.shards) {
    listed_songs += entry.songs;
    listed_tokens += entry.tokens;
  }
  if (listed_songs != m.songs)
    fail_input("{}: songs = {} but the shards list {} songs in all", manifest_file, m.songs,
               listed_songs);
  if (listed_tokens != m.tokens)
    fail_input("{}: tokens = {} but the shards list {} tokens in all", manifest_file, m.tokens,
               listed_tokens);

  std::uint64_t first_song = 0;
  for (std::uint32_t i = 0; i < m.shards.size(); ++i) {
    const ShardEntry& entry = m.shards[i];
    const std::filesystem::path path = dir / entry.file;
    std::error_code ec;
    if (!std::filesystem::is_regular_file(path, ec))
      fail_input("{}: shards[{}] names {}, which is missing", manifest_file, i, path.string());
    const ShardExpectations expect{m.vocab_hash, m.vocab_size, corpus.num_classes(), i};
    auto reader = std::make_unique<ShardReader>(path, expect);
    if (reader->num_songs() != entry.songs)
      fail_input("{}: shards[{}].songs = {} but {} holds {} songs", manifest_file, i, entry.songs,
                 path.string(), reader->num_songs());
    if (reader->num_tokens() != entry.tokens)
      fail_input("{}: shards[{}].tokens = {} but {} holds {} tokens", manifest_file, i,
                 entry.tokens, path.string(), reader->num_tokens());
    const std::uint64_t bytes = std::filesystem::file_size(path);
    if (bytes != entry.bytes)
      fail_input("{}: shards[{}].bytes = {} but {} has {} bytes", manifest_file, i, entry.bytes,
                 path.string(), bytes);
    corpus.first_song_.push_back(first_song);
    first_song += reader->num_songs();
    corpus.shards_.push_back(std::move(reader));
  }
  return corpus;
}

std::pair<const ShardReader*, std::uint64_t> PreparedCorpus::locate(std::uint64_t song) const {
  LYRE_CHECK(song < num_songs(), "song {} of {}", song, num_songs());
  const auto it = std::upper_bound(first_song_.begin(), first_song_.end(), song);
  const auto shard = static_cast<std::size_t>(it - first_song_.begin()) - 1;
  return {shards_[shard].get(), song - first_song_[shard]};
}

std::span<const std::uint32_t> PreparedCorpus::tokens(std::uint64_t song) const {
  const auto [shard, local] = locate(song);
  return shard->tokens(local);
}

std::span<const LineMark> PreparedCorpus::marks(std::uint64_t song) const {
  const auto [shard, local] = locate(song);
  return shard->marks(local);
}

std::uint32_t PreparedCorpus::label(std::uint64_t song) const {
  const auto [shard, local] = locate(song);
  return shard->label(local);
}

std::uint64_t PreparedCorpus::song_id(std::uint64_t song) const {
  const auto [shard, local] = locate(song);
  return shard->song_id(local);
}

std::vector<std::uint32_t> PreparedCorpus::labels() const {
  std::vector<std::uint32_t> out;
  out.reserve(num_songs());
  for (const auto& shard : shards_) out.insert(out.end(), shard->labels().begin(), shard->labels().end());
  return out;
}

std::vector<std::uint32_t> PreparedCorpus::lengths() const {
  std::vector<std::uint32_t> out;
  out.reserve(num_songs());
  for (const auto& shard : shards_) {
    const auto offsets = shard->token_offsets();
    for (std::size_t s = 0; s + 1 < offsets.size(); ++s)
      out.push_back(static_cast<std::uint32_t>(offsets[s + 1] - offsets[s]));
  }
  return out;
}

}  // namespace lyre::data
