// libFuzzer harness: the GloVe text loader (data/glove.*), and its binary
// cache written from what the loader parsed.
//
// Input: a GloVe text file ("word v1 ... vD" a line). It is parsed with the
// dimension its first line has (so the fuzzer reaches the later lines) and
// with one more (the wrong-dimension message). What the parser accepts must
// be consistent (a row of `dim` finite values per word, an index that finds
// every word's row), and must come back unchanged through the cache:
// load_glove writes the cache on the first call and reads it on the second.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "data/glove.hpp"
#include "tests/fuzz/fuzz_support.hpp"

namespace {

using namespace lyre;
using fuzz::require;

// Values on the first line, the way the parser counts them (space separated).
int first_line_dim(std::string_view text) {
  const std::string_view line = text.substr(0, text.find('\n'));
  int values = 0;
  bool in_value = false, past_word = false;
  for (const char c : line) {
    if (c == ' ') {
      past_word = true;
      in_value = false;
    } else if (past_word && !in_value && c != '\r') {
      in_value = true;
      ++values;
    }
  }
  return std::clamp(values, 1, 1000);
}

void check_vectors(const data::GloveVectors& g, int dim) {
  require(g.dim == dim, "the vectors' dim is not the expected one");
  require(g.values.size() == g.words.size() * static_cast<std::size_t>(dim),
          "values are not words x dim");
  require(g.index.size() == g.words.size(), "the index does not hold every word once");
  for (std::size_t i = 0; i < g.words.size(); ++i) {
    require(!g.words[i].empty(), "an empty word was accepted");
    const auto it = g.index.find(g.words[i]);
    require(it != g.index.end() && it->second == i, "the index does not find a word's row");
  }
  for (const float v : g.values) require(std::isfinite(v), "a value that is not finite");
}

bool same(const data::GloveVectors& a, const data::GloveVectors& b) {
  return a.dim == b.dim && a.words == b.words && a.values.size() == b.values.size() &&
         std::memcmp(a.values.data(), b.values.data(), a.values.size() * sizeof(float)) == 0;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  fuzz::quiet_logging();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto path = fuzz::write_scratch("glove.txt", text);
  const int dim = first_line_dim(text);
  fuzz::run_reader([&] { data::parse_glove_text(path, dim + 1); });
  fuzz::run_reader([&] {
    const data::GloveVectors parsed = data::parse_glove_text(path, dim);
    check_vectors(parsed, dim);
    // A fresh cache: file times are coarse (a few ms), so an entry left by the
    // previous input of the same size could pass for this one's.
    const auto cache_dir = fuzz::scratch_dir() / "cache";
    std::filesystem::remove_all(cache_dir);
    const data::GloveVectors written = data::load_glove(path, dim, cache_dir);  // writes the entry
    const data::GloveVectors cached = data::load_glove(path, dim, cache_dir);   // reads it
    require(same(parsed, written), "load_glove without a cache entry differs from the parse");
    require(same(parsed, cached), "the vectors read back from the cache differ from the parse");
  });
  return 0;
}
