#include "data/vocab.hpp"

#include <algorithm>
#include <charconv>
#include <numeric>

#include "engine/core/error.hpp"
#include "engine/core/files.hpp"
#include "engine/core/hash.hpp"

namespace lyre::data {
namespace {

constexpr std::string_view kPadWord = "<pad>";
constexpr std::string_view kUnkWord = "<unk>";

// A word must survive the "word<TAB>count" line format and must not collide
// with the reserved entries.
bool storable_word(std::string_view word) {
  return !word.empty() && word.find_first_of("\t\n\r") == std::string_view::npos &&
         word != kPadWord && word != kUnkWord;
}

}  // namespace

Vocab Vocab::build(std::span<const std::string> words, std::span<const std::uint64_t> counts,
                   std::int64_t min_count, std::int64_t max_size) {
  LYRE_CHECK(words.size() == counts.size(), "{} words but {} counts", words.size(), counts.size());
  if (max_size != 0 && max_size < 2)
    fail_input("data.vocab.max_size = {} is too small: <pad> and <unk> alone take 2 entries "
               "(0 means unlimited)",
               max_size);

  std::vector<std::size_t> order(words.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    if (counts[a] != counts[b]) return counts[a] > counts[b];
    return words[a] < words[b];
  });

  const std::uint64_t room = max_size == 0 ? words.size() + 2 : static_cast<std::uint64_t>(max_size);
  Vocab vocab;
  vocab.words_ = {std::string(kPadWord), std::string(kUnkWord)};
  vocab.counts_ = {0, 0};
  for (const std::size_t i : order) {
    LYRE_CHECK(storable_word(words[i]), "word '{}' cannot be stored in a vocabulary", words[i]);
    const bool frequent = min_count <= 0 || counts[i] >= static_cast<std::uint64_t>(min_count);
    if (frequent && vocab.words_.size() < room) {
      vocab.words_.push_back(words[i]);
      vocab.counts_.push_back(counts[i]);
    } else {
      vocab.counts_[kUnk] += counts[i];
    }
  }
  vocab.index();
  LYRE_CHECK(vocab.ids_.size() == vocab.words_.size(), "the word list holds repeated words");
  return vocab;
}

std::uint32_t Vocab::lookup(std::string_view word) const {
  const auto it = ids_.find(word);
  return it == ids_.end() ? kUnk : it->second;
}

void Vocab::index() {
  ids_.clear();
  ids_.reserve(words_.size());
  Hasher hasher;
  for (std::uint32_t id = 0; id < words_.size(); ++id) {
    ids_.emplace(words_[id], id);
    hasher.update(words_[id].data(), words_[id].size());
    hasher.update("\n", 1);
  }
  hash_ = hasher.digest();
}

void Vocab::save(const std::filesystem::path& path) const {
  std::string text;
  for (std::uint32_t id = 0; id < words_.size(); ++id)
    text += fmt::format("{}\t{}\n", words_[id], counts_[id]);
  write_text_file(path, text);
}

Vocab Vocab::load(const std::filesystem::path& path) {
  const std::string text = read_text_file(path);
  const std::string file = path.string();
  Vocab vocab;
  std::size_t line_no = 0;
  for (std::size_t pos = 0; pos < text.size();) {
    ++line_no;
    const std::size_t end = std::min(text.find('\n', pos), text.size());
    std::string_view line(text.data() + pos, end - pos);
    pos = end + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);

    const std::size_t tab = line.find('\t');
    if (tab == std::string_view::npos)
      fail_input("{}:{}: expected \"word<TAB>count\", found no tab in '{}'", file, line_no, line);
    const std::string_view word = line.substr(0, tab);
    const std::string_view count_text = line.substr(tab + 1);
    std::uint64_t count = 0;
    const auto [ptr, ec] =
        std::from_chars(count_text.data(), count_text.data() + count_text.size(), count);
    if (count_text.empty() || ec != std::errc() || ptr != count_text.data() + count_text.size())
      fail_input("{}:{}: the count of '{}' is '{}', not a non-negative integer", file, line_no,
                 word, count_text);

    const std::size_t id = line_no - 1;
    if (id == kPad && (word != kPadWord || count != 0))
      fail_input("{}:{}: the first line must be \"{}\\t0\" (the padding id), found '{}'", file,
                 line_no, kPadWord, line);
    if (id == kUnk && word != kUnkWord)
      fail_input("{}:{}: the second line must be \"{}\\t<count>\" (the unknown-word id), "
                 "found '{}'",
                 file, line_no, kUnkWord, line);
    if (id > kUnk && word.empty()) fail_input("{}:{}: empty word", file, line_no);
    if (const auto it = vocab.ids_.find(word); it != vocab.ids_.end())
      fail_input("{}:{}: word '{}' repeats line {}", file, line_no, word, it->second + 1);

    vocab.ids_.emplace(std::string(word), static_cast<std::uint32_t>(id));
    vocab.words_.emplace_back(word);
    vocab.counts_.push_back(count);
  }
  if (vocab.words_.size() < 2)
    fail_input("{}:{}: a vocabulary starts with the lines \"<pad>\\t0\" and \"<unk>\\t<count>\"; "
               "the file ends after {} line(s)",
               file, line_no + 1, vocab.words_.size());
  vocab.index();
  return vocab;
}

}  // namespace lyre::data
