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
        const data::Manifest manifest = data::Manifest::load(dir);
        require(manifest.vocab_size >= 2, "a manifest with a vocabulary of < 2 words");
        require(!manifest.genres.empty(), "a manifest without genres");
        // save() writes what load() reads: a second round trip changes nothing.
        const auto copy = fuzz::scratch_dir() / "prepared-copy";
        std::filesystem::create_directories(copy);
        manifest.save(copy);
        const data::Manifest again = data::Manifest::load(copy);
        require(again.genres == manifest.genres && again.songs == manifest.songs &&
                    again.tokens == manifest.tokens && again.shards.size() == manifest.shards.size() &&
                    again.vocab_hash == manifest.vocab_hash &&
                    again.vocab_digest == manifest.vocab_digest &&
                    again.embedding.has_value() == manifest.embedding.has_value(),
                "a saved manifest loads back to another one");
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
