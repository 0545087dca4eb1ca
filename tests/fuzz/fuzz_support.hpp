// Shared pieces of the libFuzzer harnesses (tests/fuzz/fuzz_*.cpp).
//
// A harness hands its input to one of Lyre's readers exactly as a user's file
// would reach it. The only outcome that is fine besides success is the error
// the project documents for bad input, lyre::InputError (exit code 2, a
// message naming the file). Anything else is a finding: a crash or sanitizer
// report (libFuzzer catches those itself), another exception (run_reader turns
// it into an abort with the message), a broken promise about what a reader
// hands out (require), a hang (-timeout) or a memory blow-up (-rss_limit_mb,
// -malloc_limit_mb).
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>

#include "engine/core/error.hpp"

namespace lyre::fuzz {

// A folder of this process's own under the temp directory, created on first
// use and removed at exit. Readers that take paths get their input through a
// fixed file in it, rewritten for every input, so a long run creates no files.
const std::filesystem::path& scratch_dir();

// Writes bytes exactly as given to scratch_dir() / name and returns the path.
std::filesystem::path write_scratch(std::string_view name, std::span<const std::uint8_t> bytes);
std::filesystem::path write_scratch(std::string_view name, std::string_view bytes);

// Checksummed binary inputs (shards, checkpoints, caches, embeddings) start
// with a mode byte so that the fuzzer gets past the checksum and exercises
// what the reader does with the fields:
//   bit 0 clear: the rest is a payload; the harness appends the XXH3-64
//                checksum and trailer that BinaryWriter would write;
//   bit 0 set:   the rest is the whole file, taken as it is (checksum and
//                trailer handling themselves get fuzzed).
// Other bits are the harness's own (documented there).
struct BinaryInput {
  std::uint8_t mode = 0;
  std::string file;  // the bytes to write
};
BinaryInput binary_input(const std::uint8_t* data, std::size_t size);
// `payload` followed by its XXH3-64 checksum and the trailer magic.
std::string with_trailer(std::string_view payload);

// The inverse for the seed generator: a writer's file as a mode-0 input
// (payload without checksum and trailer, behind `mode`).
std::string payload_seed(std::string_view file, std::uint8_t mode = 0);

// The GloVe text file whose cache entries fuzz_glove_cache reads, shared by
// every process and by the seed generator: a cache entry is used only when it
// carries its source's absolute path, size and modification time, so the
// path, content and time are fixed. `entry_name` is the file name load_glove
// gives the entry (learned by letting it write one, not by copying its rule).
inline constexpr int kGloveSourceDim = 3;
struct GloveCacheSource {
  std::filesystem::path text;
  std::string entry_name;
};
const GloveCacheSource& glove_cache_source();

// Quiets Lyre's log (a reader's warnings would flood the fuzzer's output).
void quiet_logging();

// A promise a reader made about what it returned was broken: a finding.
[[noreturn]] void broken(std::string_view what);
inline void require(bool ok, std::string_view what) {
  if (!ok) broken(what);
}

// With LYRE_FUZZ_VERBOSE=1 in the environment, run_reader prints each
// input's outcome ("accepted" or the InputError's message): what one wants
// when replaying a seed or an artifact by hand.
bool verbose();
void report_outcome(const char* outcome);

// Runs a reader: returns normally on success or InputError, aborts with the
// message on any other exception (libFuzzer then saves the input).
template <typename Fn>
void run_reader(Fn&& fn) {
  try {
    fn();
    if (verbose()) report_outcome("accepted");
  } catch (const InputError& e) {
    // Documented bad-input outcome: the CLI exits 2 with this message.
    if (verbose()) report_outcome(e.what());
  } catch (const std::exception& e) {
    broken(std::string("an exception other than InputError escaped: ") + e.what());
  } catch (...) {
    broken("a non-standard exception escaped");
  }
}

}  // namespace lyre::fuzz
