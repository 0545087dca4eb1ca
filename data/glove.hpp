// GloVe vectors: the standard text format ("word v1 ... vD" per line), a
// binary cache so the 400k-word file is parsed once, and the embedding matrix
// for a vocabulary.
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "data/vocab.hpp"

namespace lyre::data {

struct GloveVectors {
  int dim = 0;
  std::vector<std::string> words;
  std::vector<float> values;  // [words.size(), dim], row-major
  std::unordered_map<std::string, std::uint32_t> index;  // word -> row

  std::span<const float> row(std::uint32_t i) const {
    return {values.data() + static_cast<std::size_t>(i) * dim, static_cast<std::size_t>(dim)};
  }
};

// Parses the text file. InputError naming file and line for: a line whose
// value count is not `expected_dim` (on line 1 worded as a file of the wrong
// dimension: "glove.txt:1: vectors have 50 values, the config says
// data.glove.dim = 100"), a value that is not a finite number, an empty
// word, a repeated word (the first is kept only if the file is otherwise
// valid: a repeat is an error). Blank lines are an error too.
GloveVectors parse_glove_text(const std::filesystem::path& path, int expected_dim);

// Like parse_glove_text, through a binary cache in `cache_dir` (created if
// missing; empty path = no cache). The cache entry is keyed by the text
// file's absolute path, size and modification time; a stale or corrupt entry
// is ignored (with a log line) and rewritten.
GloveVectors load_glove(const std::filesystem::path& path, int expected_dim,
                        const std::filesystem::path& cache_dir);

// The default cache folder: $LYRE_CACHE_DIR, else $XDG_CACHE_HOME/lyre, else
// $HOME/.cache/lyre.
std::filesystem::path default_glove_cache_dir();

// The embedding matrix for a vocabulary: row id = GloVe vector of the word if
// present (found[id] = 1), else zeros (found[id] = 0; training fills those
// rows with small random vectors from its seed). Row 0 (PAD) is always zero
// and not found; UNK (row 1) is never found.
struct EmbeddingMatrix {
  std::uint32_t vocab_size = 0;
  int dim = 0;
  std::uint64_t vocab_hash = 0;
  std::vector<float> values;     // [vocab_size, dim]
  std::vector<std::uint8_t> found;
  double vocab_coverage = 0;     // found words / (vocab_size - 2)
  double token_coverage = 0;     // tokens of found words / all tokens (Vocab counts)
};

EmbeddingMatrix build_embedding(const GloveVectors& glove, const Vocab& vocab);

// embedding.bin: BinaryWriter file; magic "CYREEMBD" (bytes as stored), version, vocab hash,
// vocab size, dim, coverage, found[vocab_size], values[vocab_size * dim].
void save_embedding(const std::filesystem::path& path, const EmbeddingMatrix& matrix);
// InputError when the file is corrupt or was built for another vocabulary.
EmbeddingMatrix load_embedding(const std::filesystem::path& path, std::uint64_t vocab_hash,
                               std::uint32_t vocab_size);

}  // namespace lyre::data
