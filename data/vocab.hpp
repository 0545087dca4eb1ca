// The vocabulary: word <-> token id, built once by `prepare` over the selected
// corpus so that every fold and every backend share token ids.
//
// Ids: 0 = PAD ("<pad>", never a real token), 1 = UNK ("<unk>"), then words by
// descending count, ties by byte order of the word (deterministic).
// File format (vocab.txt): one entry per line, "word<TAB>count", line N holding
// id N-1; the first two lines are "<pad>\t0" and "<unk>\t<count of UNK tokens>".
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace lyre::data {

class Vocab {
 public:
  static constexpr std::uint32_t kPad = 0;
  static constexpr std::uint32_t kUnk = 1;

  // words[i] occurs counts[i] times. Words with count < min_count become UNK;
  // max_size (0 = unlimited) caps the size including PAD and UNK. The UNK
  // count is the total count of the words left out.
  static Vocab build(std::span<const std::string> words, std::span<const std::uint64_t> counts,
                     std::int64_t min_count, std::int64_t max_size);

  std::uint32_t size() const { return static_cast<std::uint32_t>(words_.size()); }
  std::uint32_t lookup(std::string_view word) const;  // kUnk when absent
  const std::string& word(std::uint32_t id) const { return words_.at(id); }
  std::uint64_t count(std::uint32_t id) const { return counts_.at(id); }
  // Identity of the id assignment (XXH3 over the words in id order); shards
  // and checkpoints record it so mismatched files are refused.
  std::uint64_t hash() const { return hash_; }

  void save(const std::filesystem::path& path) const;
  // InputError naming the file and line for: a missing tab, a non-numeric
  // count, a repeated word, or first lines other than <pad> and <unk>.
  static Vocab load(const std::filesystem::path& path);

 private:
  struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  void index();
  std::vector<std::string> words_;
  std::vector<std::uint64_t> counts_;
  std::unordered_map<std::string, std::uint32_t, Hash, std::equal_to<>> ids_;
  std::uint64_t hash_ = 0;
};

}  // namespace lyre::data
