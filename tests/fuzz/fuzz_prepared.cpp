// libFuzzer harness: the prepared folder's index files (data/shard.*,
// data/vocab.*, data/glove.*): manifest.yaml, vocab.txt and embedding.bin.
//
// Input: a selector byte, then the file. Selector % 3 == 0: manifest.yaml
// (Manifest::load); 1: vocab.txt (Vocab::load); 2: embedding.bin
// (load_embedding, told to expect the vocabulary the file claims, so the
// fuzzer reaches the matrix; when bit 2 of the selector is clear the harness
// appends the checksum and trailer, as fuzz_support.hpp describes). Accepted
// files must be self-consistent: every vocabulary word looks up to its own
// id, and a saved vocabulary or manifest loads back to the same one; an
// embedding holds vocab_size x dim finite values.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "data/glove.hpp"
#include "data/shard.hpp"
#include "data/vocab.hpp"
#include "engine/core/files.hpp"
#include "tests/fuzz/fuzz_support.hpp"

namespace {

using namespace lyre;
using fuzz::require;

void check_vocab(const data::Vocab& vocab) {
  require(vocab.size() >= 2, "a vocabulary without <pad> and <unk>");
  for (std::uint32_t id = 0; id < vocab.size(); ++id)
    require(vocab.lookup(vocab.word(id)) == id || id == data::Vocab::kUnk,
            "a word does not look up to its own id");
  const auto copy = fuzz::scratch_dir() / "vocab-copy.txt";
  vocab.save(copy);
  const data::Vocab again = data::Vocab::load(copy);
  require(again.hash() == vocab.hash() && again.size() == vocab.size(),
          "a saved vocabulary loads back to another one");
}

void check_embedding(const data::EmbeddingMatrix& m, std::uint32_t vocab_size) {
  require(m.vocab_size == vocab_size, "the matrix is for another vocabulary size");
  require(m.dim >= 1, "a matrix of dim < 1");
  require(m.values.size() == static_cast<std::size_t>(m.vocab_size) * m.dim,
          "values are not vocab_size x dim");
  require(m.found.size() == m.vocab_size, "found[] is not vocab_size long");
  for (const float v : m.values) require(std::isfinite(v), "a value that is not finite");
}

data::Manifest save_and_load(const data::Manifest& manifest, const char* folder) {
  const auto dir = fuzz::scratch_dir() / folder;
  std::filesystem::create_directories(dir);
  manifest.save(dir);
  try {
    return data::Manifest::load(dir);
  } catch (const InputError& e) {
    fuzz::broken(std::string("a manifest Lyre wrote does not load: ") + e.what());
  }
}

bool same(const data::Manifest& a, const data::Manifest& b) {
  if (a.name != b.name || a.vocab_file != b.vocab_file || a.vocab_digest != b.vocab_digest ||
      a.vocab_size != b.vocab_size || a.vocab_hash != b.vocab_hash || a.genres != b.genres ||
      a.songs != b.songs || a.tokens != b.tokens || a.shards.size() != b.shards.size() ||
      a.embedding.has_value() != b.embedding.has_value())
    return false;
  for (std::size_t i = 0; i < a.shards.size(); ++i)
    if (a.shards[i].file != b.shards[i].file || a.shards[i].songs != b.shards[i].songs ||
        a.shards[i].tokens != b.shards[i].tokens || a.shards[i].bytes != b.shards[i].bytes)
      return false;
  if (a.embedding) {
    const auto &x = *a.embedding, &y = *b.embedding;
    if (x.file != y.file || x.dim != y.dim || x.source != y.source || x.digest != y.digest ||
        x.vocab_coverage != y.vocab_coverage || x.token_coverage != y.token_coverage)
      return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  fuzz::quiet_logging();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::uint8_t selector = data[0];
  const std::string_view file(reinterpret_cast<const char*>(data + 1), size - 1);
  switch (selector % 3) {
    case 0: {
      const auto dir = fuzz::scratch_dir() / "prepared";
      std::filesystem::create_directories(dir);
      fuzz::write_scratch("prepared/manifest.yaml", file);
      fuzz::run_reader([&] {
        // The writer normalizes what it emits (YAML escapes, invalid UTF-8
        // as U+FFFD), so the first save may change a hand-made file; from
        // then on save and load must agree.
        const data::Manifest first = data::Manifest::load(dir);
        const data::Manifest second = save_and_load(first, "prepared-copy-1");
        const data::Manifest third = save_and_load(second, "prepared-copy-2");
        require(same(second, third), "a saved manifest loads back to another one");
      });
      break;
    }
    case 1: {
      const auto path = fuzz::write_scratch("vocab.txt", file);
      fuzz::run_reader([&] { check_vocab(data::Vocab::load(path)); });
      break;
    }
    default: {
      const std::string bytes = (selector & 4) ? std::string(file) : fuzz::with_trailer(file);
      // Layout (data/glove.hpp): magic u64, version u32, vocab_hash u64 @12, vocab_size u32 @20.
      std::uint64_t vocab_hash = 0;
      std::uint32_t vocab_size = 0;
      if (bytes.size() >= 24) {
        std::memcpy(&vocab_hash, bytes.data() + 12, 8);
        std::memcpy(&vocab_size, bytes.data() + 20, 4);
      }
      const auto path = fuzz::write_scratch("embedding.bin", bytes);
      fuzz::run_reader([&] {
        check_embedding(data::load_embedding(path, vocab_hash, vocab_size), vocab_size);
      });
      break;
    }
  }
  return 0;
}
