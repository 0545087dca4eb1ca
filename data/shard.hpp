// Pre-tokenized shards and the prepared folder that holds them.
//
// A shard is a BinaryWriter file (engine/core/binary_io.hpp: payload, then
// XXH3-64 checksum and trailer magic). Payload layout, little-endian, every
// array starting 8-byte aligned:
//
//   u64  magic            the bytes "LYRESHRD"
//   u32  version          kShardVersion
//   u32  num_classes      genres in the manifest
//   u64  num_songs        S
//   u64  num_tokens       N
//   u64  num_marks        M
//   u64  vocab_hash       Vocab::hash() of the vocabulary used
//   u32  vocab_size
//   u32  shard_index      position in the manifest
//   u64  token_offsets[S + 1]   song s is tokens[offsets[s], offsets[s+1])
//   u32  tokens[N]              token ids in [1, vocab_size): UNK (1) or a word; never PAD (0)
//   u32  labels[S]              genre index < num_classes
//   u64  song_ids[S]            1-based row of the song in lyrics-data.csv
//   u64  mark_offsets[S + 1]    song s's marks are marks[mark_offsets[s], ...)
//   u32  marks[M]               line marks (data/text_clean.hpp), token index < song length
//
// The reader maps the file and validates, before handing out anything: the
// checksum, magic, version, counts against the file size, every offset array
// (starts at 0, non-decreasing, ends at the count; each song has >= 1 token),
// every token id (1 <= id < vocab_size), every label, every mark, and the
// vocabulary hash / size / class count against what the caller expects.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "data/glove.hpp"
#include "data/text_clean.hpp"
#include "data/vocab.hpp"
#include "engine/core/binary_io.hpp"
#include "engine/core/files.hpp"

namespace lyre::data {

inline constexpr std::uint64_t kShardMagic = 0x445248534552594Cull;  // bytes "LYRESHRD"
inline constexpr std::uint32_t kShardVersion = 1;

class ShardWriter {
 public:
  ShardWriter(std::filesystem::path path, std::uint32_t shard_index, std::uint64_t vocab_hash,
              std::uint32_t vocab_size, std::uint32_t num_classes);

  // tokens must be non-empty with ids in [1, vocab_size); label < num_classes;
  // marks as produced by LyricsCleaner for these tokens. Checked (LYRE_CHECK).
  void add(std::uint64_t song_id, std::uint32_t label, std::span<const std::uint32_t> tokens,
           std::span<const LineMark> marks);

  // Writes the file atomically; returns its checksum-bearing size in bytes.
  std::uint64_t finish();
  std::uint64_t num_songs() const { return labels_.size(); }
  std::uint64_t num_tokens() const { return tokens_.size(); }

 private:
  std::filesystem::path path_;
  std::uint32_t shard_index_, vocab_size_, num_classes_;
  std::uint64_t vocab_hash_;
  std::vector<std::uint64_t> token_offsets_{0};
  std::vector<std::uint32_t> tokens_;
  std::vector<std::uint32_t> labels_;
  std::vector<std::uint64_t> song_ids_;
  std::vector<std::uint64_t> mark_offsets_{0};
  std::vector<LineMark> marks_;
};

struct ShardExpectations {
  std::uint64_t vocab_hash = 0;
  std::uint32_t vocab_size = 0;
  std::uint32_t num_classes = 0;
  std::uint32_t shard_index = 0;
};

// A validated, memory-mapped shard. Spans stay valid while the reader lives.
class ShardReader {
 public:
  ShardReader(const std::filesystem::path& path, const ShardExpectations& expect);

  std::uint64_t num_songs() const { return labels_.size(); }
  std::uint64_t num_tokens() const { return tokens_.size(); }
  std::span<const std::uint32_t> tokens(std::uint64_t song) const {
    return tokens_.subspan(token_offsets_[song], token_offsets_[song + 1] - token_offsets_[song]);
  }
  std::span<const LineMark> marks(std::uint64_t song) const {
    return marks_.subspan(mark_offsets_[song], mark_offsets_[song + 1] - mark_offsets_[song]);
  }
  std::uint32_t label(std::uint64_t song) const { return labels_[song]; }
  std::uint64_t song_id(std::uint64_t song) const { return song_ids_[song]; }
  std::span<const std::uint32_t> all_tokens() const { return tokens_; }
  std::span<const std::uint64_t> token_offsets() const { return token_offsets_; }
  std::span<const std::uint32_t> labels() const { return labels_; }
  const std::filesystem::path& path() const { return file_.path(); }

 private:
  MappedFile file_;
  std::span<const std::uint64_t> token_offsets_;
  std::span<const std::uint32_t> tokens_;
  std::span<const std::uint32_t> labels_;
  std::span<const std::uint64_t> song_ids_;
  std::span<const std::uint64_t> mark_offsets_;
  std::span<const LineMark> marks_;
};

// manifest.yaml of a prepared folder.
struct ShardEntry {
  std::string file;  // relative to the folder
  std::uint64_t songs = 0;
  std::uint64_t tokens = 0;
  std::uint64_t bytes = 0;
};

struct EmbeddingEntry {  // present when prepare had a GloVe file
  std::string file;      // "embedding.bin"
  int dim = 0;
  std::string source;    // the GloVe text file it came from
  double vocab_coverage = 0;  // share of vocabulary words found in GloVe
  double token_coverage = 0;  // share of corpus tokens whose word was found
  FileDigest digest;          // size and XXH3-64 of the whole file
};

struct Manifest {
  static constexpr const char* kFileName = "manifest.yaml";
  // 2: vocab.txt and embedding.bin are listed with their size and checksum.
  static constexpr int kVersion = 2;

  std::string name;
  std::string vocab_file = "vocab.txt";
  FileDigest vocab_digest;  // vocab.txt has no checksum of its own
  std::uint32_t vocab_size = 0;
  std::uint64_t vocab_hash = 0;
  std::vector<std::string> genres;
  std::uint64_t songs = 0;
  std::uint64_t tokens = 0;
  std::vector<ShardEntry> shards;
  std::optional<EmbeddingEntry> embedding;

  void save(const std::filesystem::path& dir) const;
  // InputError naming the file and the key for anything missing or mistyped;
  // a folder without manifest.yaml gets "run `lyre prepare` first".
  static Manifest load(const std::filesystem::path& dir);
};

// A whole prepared folder, opened and validated: manifest, vocabulary (size
// and checksum from the manifest, then its structure), every shard (checksums
// included), the GloVe matrix when there is one (the manifest's checksum, its
// own, its structure), totals against the manifest. This is what training and
// `inspect` read, so a folder `inspect` calls valid is one training accepts;
// nothing downstream re-reads CSV.
class PreparedCorpus {
 public:
  static PreparedCorpus open(const std::filesystem::path& dir);

  const std::filesystem::path& dir() const { return dir_; }
  const Manifest& manifest() const { return manifest_; }
  const Vocab& vocab() const { return vocab_; }
  const std::vector<std::string>& genres() const { return manifest_.genres; }
  // The validated GloVe matrix, when the folder was prepared with one.
  const std::optional<EmbeddingMatrix>& embedding() const { return embedding_; }
  std::uint32_t num_classes() const { return static_cast<std::uint32_t>(manifest_.genres.size()); }
  std::uint64_t num_songs() const { return manifest_.songs; }
  std::uint64_t num_tokens() const { return manifest_.tokens; }

  // Songs are numbered 0..num_songs()-1 across shards in manifest order.
  std::span<const std::uint32_t> tokens(std::uint64_t song) const;
  std::span<const LineMark> marks(std::uint64_t song) const;
  std::uint32_t label(std::uint64_t song) const;
  std::uint64_t song_id(std::uint64_t song) const;
  // Every song's label, in song order (for stratified folds).
  std::vector<std::uint32_t> labels() const;
  // Every song's token count, in song order (for length bucketing).
  std::vector<std::uint32_t> lengths() const;

 private:
  std::pair<const ShardReader*, std::uint64_t> locate(std::uint64_t song) const;

  std::filesystem::path dir_;
  Manifest manifest_;
  Vocab vocab_;
  std::optional<EmbeddingMatrix> embedding_;
  std::vector<std::unique_ptr<ShardReader>> shards_;
  std::vector<std::uint64_t> first_song_;  // global index of each shard's first song
};

}  // namespace lyre::data
