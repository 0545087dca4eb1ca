#include "tests/fuzz/fuzz_support.hpp"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <chrono>
#include <fstream>

#include <fmt/format.h>

#include "data/glove.hpp"
#include "engine/core/binary_io.hpp"
#include "engine/core/hash.hpp"
#include "engine/core/log.hpp"

namespace lyre::fuzz {
namespace {

// Owns the scratch folder; the destructor runs at exit (libFuzzer leaves
// through exit() when -max_total_time or -runs is reached).
class ScratchDir {
 public:
  ScratchDir()
      : path_(std::filesystem::temp_directory_path() /
              fmt::format("lyre-fuzz-{}", static_cast<long>(::getpid()))) {
    std::filesystem::create_directories(path_);
  }
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

constexpr std::size_t kTrailerBytes = 2 * sizeof(std::uint64_t);

}  // namespace

const std::filesystem::path& scratch_dir() {
  static const ScratchDir dir;
  return dir.path();
}

std::filesystem::path write_scratch(std::string_view name, std::string_view bytes) {
  const std::filesystem::path path = scratch_dir() / name;
  // std::ofstream truncates: the same path serves every input.
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  out.close();
  if (!out) {
    std::fprintf(stderr, "fuzz harness: cannot write %s\n", path.c_str());
    std::abort();
  }
  return path;
}

std::filesystem::path write_scratch(std::string_view name, std::span<const std::uint8_t> bytes) {
  return write_scratch(name, std::string_view(reinterpret_cast<const char*>(bytes.data()),
                                              bytes.size()));
}

BinaryInput binary_input(const std::uint8_t* data, std::size_t size) {
  BinaryInput input;
  if (size == 0) return input;
  input.mode = data[0];
  input.file.assign(reinterpret_cast<const char*>(data + 1), size - 1);
  if ((input.mode & 1) == 0) input.file = with_trailer(input.file);
  return input;
}

std::string with_trailer(std::string_view payload) {
  std::string file(payload);
  const std::uint64_t checksum = hash_bytes(payload.data(), payload.size());
  file.append(reinterpret_cast<const char*>(&checksum), sizeof checksum);
  file.append(reinterpret_cast<const char*>(&kTrailerMagic), sizeof kTrailerMagic);
  return file;
}

std::string payload_seed(std::string_view file, std::uint8_t mode) {
  std::string seed(1, static_cast<char>(mode));
  if ((mode & 1) == 0 && file.size() >= kTrailerBytes)
    seed.append(file.substr(0, file.size() - kTrailerBytes));
  else
    seed.append(file);
  return seed;
}

const GloveCacheSource& glove_cache_source() {
  static const GloveCacheSource source = [] {
    GloveCacheSource s;
    const auto dir = std::filesystem::temp_directory_path() / "lyre-fuzz-glove-source";
    std::filesystem::create_directories(dir);
    s.text = dir / "glove.txt";
    // Written to a private name, then renamed: processes starting together
    // never see a half-written source.
    const auto tmp = scratch_dir() / "glove-source.tmp";
    {
      std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
      out << "the 0.418 0.24968 -0.41242\n"
             "love -0.13886 1.1401 -0.85212\n"
             "night 0.5 -1e-3 2.5e+1\n";
    }
    // A fixed time (2020-01-01 UTC) so every source carries the same stamp.
    const auto fixed = std::filesystem::file_time_type::clock::from_sys(
        std::chrono::sys_seconds(std::chrono::seconds(1577836800)));
    std::filesystem::last_write_time(tmp, fixed);
    std::filesystem::rename(tmp, s.text);
    const auto probe = scratch_dir() / "glove-cache-probe";
    std::filesystem::remove_all(probe);
    data::load_glove(s.text, kGloveSourceDim, probe);
    for (const auto& entry : std::filesystem::directory_iterator(probe))
      s.entry_name = entry.path().filename().string();
    if (s.entry_name.empty()) broken("load_glove wrote no cache entry for the source");
    return s;
  }();
  return source;
}

bool verbose() {
  static const bool on = [] {
    const char* value = std::getenv("LYRE_FUZZ_VERBOSE");
    return value && *value && std::strcmp(value, "0") != 0;
  }();
  return on;
}

void report_outcome(const char* outcome) { std::fprintf(stderr, "lyre-fuzz: %s\n", outcome); }

void quiet_logging() { log::set_level(log::Level::quiet); }

void broken(std::string_view what) {
  std::fprintf(stderr, "\n==lyre-fuzz== FINDING: %.*s\n", static_cast<int>(what.size()),
               what.data());
  std::abort();
}

}  // namespace lyre::fuzz
