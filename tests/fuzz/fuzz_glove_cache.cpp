// libFuzzer harness: the GloVe binary cache reader (data/glove.*,
// read_cache_entry through load_glove).
//
// Input: a mode byte, then a cache entry (fuzz_support.hpp; bit 0 clear =
// payload, the harness appends checksum and trailer). A cache entry is only
// read when its stamp (source path, size, modification time) matches the
// text file, so the harness keeps one fixed source file (glove_cache_source(),
// shared with the seed generator, whose seeds carry its stamp) and writes the
// input where load_glove looks for that file's entry. A corrupt entry must be
// ignored and the text parsed instead; an accepted one must be consistent
// (words x dim finite values, non-empty words without separators, an index
// that finds each word's row).
#include <cmath>
#include <cstddef>
#include <cstdint>

#include "data/glove.hpp"
#include "tests/fuzz/fuzz_support.hpp"

namespace {

using namespace lyre;
using fuzz::require;

void check_vectors(const data::GloveVectors& g) {
  require(g.dim == fuzz::kGloveSourceDim, "the vectors' dim is not the expected one");
  require(g.values.size() == g.words.size() * static_cast<std::size_t>(g.dim),
          "values are not words x dim");
  require(!g.words.empty(), "no words");
  require(g.index.size() == g.words.size(), "the index does not hold every word once");
  for (std::size_t i = 0; i < g.words.size(); ++i) {
    const std::string& w = g.words[i];
    require(!w.empty(), "an empty word was accepted from the cache");
    require(w.find_first_of(" \n") == std::string::npos,
            "a word holding a separator was accepted from the cache");
    const auto it = g.index.find(w);
    require(it != g.index.end() && it->second == i, "the index does not find a word's row");
  }
  for (const float v : g.values)
    require(std::isfinite(v), "a value that is not finite was accepted from the cache");
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  fuzz::quiet_logging();
  fuzz::glove_cache_source();  // creates the shared source file once
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const fuzz::BinaryInput input = fuzz::binary_input(data, size);
  const auto cache_dir = fuzz::scratch_dir() / "cache";
  const auto& source = fuzz::glove_cache_source();
  std::filesystem::create_directories(cache_dir);
  fuzz::write_scratch("cache/" + source.entry_name, input.file);
  fuzz::run_reader(
      [&] { check_vectors(data::load_glove(source.text, fuzz::kGloveSourceDim, cache_dir)); });
  return 0;
}
