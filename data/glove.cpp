#include "data/glove.hpp"

#include <algorithm>
#include <cfloat>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <optional>

#include "engine/core/binary_io.hpp"
#include "engine/core/error.hpp"
#include "engine/core/files.hpp"
#include "engine/core/hash.hpp"
#include "engine/core/log.hpp"

namespace lyre::data {
namespace {

// ---------------------------------------------------------------------------
// Text parsing
// ---------------------------------------------------------------------------

// One GloVe value. from_chars reports values below FLT_MIN as out of range;
// those are legitimate (they round to zero or a subnormal), values above
// FLT_MAX are not.
bool parse_value(const char* begin, const char* end, float& value) {
  const auto [ptr, ec] = std::from_chars(begin, end, value);
  if (ptr != end) return false;
  if (ec == std::errc::result_out_of_range) {
    double wide = 0;
    const auto [wide_ptr, wide_ec] = std::from_chars(begin, end, wide);
    if (wide_ec != std::errc() || wide_ptr != end || !(std::fabs(wide) < FLT_MIN)) return false;
    value = static_cast<float>(wide);
    return true;
  }
  return ec == std::errc() && std::isfinite(value);
}

class GloveTextParser {
 public:
  GloveTextParser(const std::filesystem::path& path, int expected_dim)
      : file_(path.string()), dim_(static_cast<std::size_t>(expected_dim)) {
    out_.dim = expected_dim;
  }

  GloveVectors parse(std::span<const std::byte> bytes) {
    const char* p = reinterpret_cast<const char*>(bytes.data());
    const char* const end = p + bytes.size();
    if (p == end) fail_input("{}: the file is empty", file_);
    reserve(static_cast<std::size_t>(std::count(p, end, '\n')) + 1, bytes.size());
    std::size_t line = 0;
    while (p < end) {
      const void* newline = std::memchr(p, '\n', static_cast<std::size_t>(end - p));
      const char* line_end = newline ? static_cast<const char*>(newline) : end;
      parse_line(++line, p, line_end);
      p = line_end + 1;
    }
    return std::move(out_);
  }

 private:
  // Every value takes at least two bytes ("0 "), which bounds the reservation
  // when a file of short lines meets a large expected dimension.
  void reserve(std::size_t lines, std::size_t bytes) {
    out_.words.reserve(lines);
    out_.values.reserve(std::min(lines * dim_, bytes / 2));
    out_.index.reserve(lines);
  }

  void parse_line(std::size_t line, const char* p, const char* end) {
    while (end > p && (end[-1] == '\r' || end[-1] == ' ')) --end;
    if (p == end) fail_input("{}:{}: blank line (every line is \"word v1 ... v{}\")", file_, line, dim_);
    const char* word_end = std::find(p, end, ' ');
    const std::string_view word(p, static_cast<std::size_t>(word_end - p));
    if (word.empty()) fail_input("{}:{}: the line starts with a space: empty word", file_, line);

    std::size_t count = 0;
    for (const char* q = word_end; q < end;) {
      while (q < end && *q == ' ') ++q;
      const char* value_end = std::find(q, end, ' ');
      float value = 0;
      if (!parse_value(q, value_end, value))
        fail_input("{}:{}: value {} of '{}' is '{}', not a finite number", file_, line, count + 1,
                   word, std::string_view(q, static_cast<std::size_t>(value_end - q)));
      if (count < dim_) out_.values.push_back(value);
      ++count;
      q = value_end;
    }
    if (count != dim_) {
      if (line == 1)
        fail_input("{}:1: vectors have {} values, the config says data.glove.dim = {}", file_,
                   count, dim_);
      fail_input("{}:{}: '{}' has {} values, expected {} like the lines before it", file_, line,
                 word, count, dim_);
    }

    const auto row = static_cast<std::uint32_t>(out_.words.size());
    const auto [it, inserted] = out_.index.try_emplace(std::string(word), row);
    if (!inserted)
      fail_input("{}:{}: word '{}' repeats line {}", file_, line, word, it->second + 1);
    out_.words.emplace_back(word);
  }

  std::string file_;
  std::size_t dim_;
  GloveVectors out_;
};

// ---------------------------------------------------------------------------
// Binary cache
// ---------------------------------------------------------------------------

constexpr std::uint64_t kCacheMagic = 0x43564C4745525943ull;  // bytes "CYREGLVC" (a typo for LYRE..., kept: existing caches carry it)
constexpr std::uint32_t kCacheVersion = 1;

// What a cache entry must match to stand in for the text file.
struct SourceStamp {
  std::string path;  // absolute
  std::uint64_t size = 0;
  std::int64_t mtime_ns = 0;
};

SourceStamp stamp_of(const std::filesystem::path& path) {
  SourceStamp stamp;
  stamp.path = std::filesystem::absolute(path).lexically_normal().string();
  stamp.size = std::filesystem::file_size(path);
  stamp.mtime_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                       std::filesystem::last_write_time(path).time_since_epoch())
                       .count();
  return stamp;
}

std::filesystem::path cache_file(const std::filesystem::path& cache_dir, const SourceStamp& stamp) {
  return cache_dir / fmt::format("glove-{:016x}.bin", hash_string(stamp.path));
}

void write_cache(const std::filesystem::path& file, const SourceStamp& stamp,
                 const GloveVectors& glove) {
  std::string blob;
  std::vector<std::uint64_t> offsets{0};
  offsets.reserve(glove.words.size() + 1);
  for (const std::string& word : glove.words) {
    blob += word;
    offsets.push_back(blob.size());
  }
  BinaryWriter out(file);
  out.put(kCacheMagic);
  out.put(kCacheVersion);
  out.put<std::uint32_t>(static_cast<std::uint32_t>(glove.dim));
  out.put(stamp.size);
  out.put(stamp.mtime_ns);
  out.put<std::uint64_t>(glove.words.size());
  out.put_string(stamp.path);
  out.put_string(blob);
  out.put_array(std::span<const std::uint64_t>(offsets));
  out.put_array(std::span<const float>(glove.values));
  out.commit();
}

// The cached vectors, or nothing when the entry is stale or was written for
// another dimension (the text parse then reports the real problem). Throws
// InputError when the entry is corrupt.
std::optional<GloveVectors> read_cache_entry(const std::filesystem::path& file,
                                             const SourceStamp& stamp, int expected_dim) {
  const MappedFile mapped(file);
  BinaryReader in(mapped, "GloVe cache");
  const auto magic = in.get<std::uint64_t>("magic");
  const auto version = in.get<std::uint32_t>("version");
  if (magic != kCacheMagic || version != kCacheVersion)
    fail_input("GloVe cache {} is not a version-{} cache file", file.string(), kCacheVersion);
  const auto dim = in.get<std::uint32_t>("dim");
  const auto size = in.get<std::uint64_t>("source_size");
  const auto mtime_ns = in.get<std::int64_t>("source_mtime_ns");
  const auto count = in.get<std::uint64_t>("count");
  const std::string source = in.get_string("source_path");
  if (source != stamp.path || size != stamp.size || mtime_ns != stamp.mtime_ns) {
    log::info("GloVe cache {} is stale ({} changed since it was written); rebuilding it",
              file.string(), stamp.path);
    return std::nullopt;
  }
  if (dim != static_cast<std::uint32_t>(expected_dim)) return std::nullopt;

  if (count == 0 || count > UINT32_MAX || dim == 0)
    fail_input("GloVe cache {}: it claims {} words of dimension {}", file.string(), count, dim);
  const std::string blob = in.get_string("words");
  const auto offsets = in.get_array<std::uint64_t>(count + 1, "word_offsets");
  const auto values = in.get_array<float>(count * dim, "values");
  in.expect_end();
  if (offsets.front() != 0 || offsets.back() != blob.size() ||
      !std::is_sorted(offsets.begin(), offsets.end()))
    fail_input("GloVe cache {}: its word table is inconsistent", file.string());

  // The cache stands in for the text file, so it holds only what the text
  // parser accepts: finite values, non-empty words without separators.
  if (!std::all_of(values.begin(), values.end(), [](float v) { return std::isfinite(v); }))
    fail_input("GloVe cache {}: it holds a value that is not finite", file.string());

  GloveVectors glove;
  glove.dim = expected_dim;
  glove.values.assign(values.begin(), values.end());
  glove.words.reserve(count);
  glove.index.reserve(count);
  for (std::uint64_t i = 0; i < count; ++i) {
    glove.words.emplace_back(blob, offsets[i], offsets[i + 1] - offsets[i]);
    const std::string& word = glove.words.back();
    if (word.empty() || word.find_first_of(" \n") != std::string::npos)
      fail_input("GloVe cache {}: word {} is empty or holds a space or newline", file.string(),
                 i + 1);
    glove.index.emplace(word, static_cast<std::uint32_t>(i));
  }
  if (glove.index.size() != count)
    fail_input("GloVe cache {}: its word table repeats words", file.string());
  return glove;
}

std::optional<GloveVectors> read_cache(const std::filesystem::path& file, const SourceStamp& stamp,
                                       int expected_dim) {
  std::error_code ec;
  if (!std::filesystem::exists(file, ec)) return std::nullopt;
  try {
    return read_cache_entry(file, stamp, expected_dim);
  } catch (const InputError& e) {
    log::warn("{}; rebuilding the GloVe cache entry", e.what());
    return std::nullopt;
  }
}

// Caching is an optimization: failing to write the cache costs time, not the run.
void try_write_cache(const std::filesystem::path& cache_dir, const std::filesystem::path& file,
                     const SourceStamp& stamp, const GloveVectors& glove) {
  try {
    ensure_directory(cache_dir);
    write_cache(file, stamp, glove);
    log::info("cached {} GloVe vectors in {}", glove.words.size(), file.string());
  } catch (const Error& e) {
    log::warn("cannot cache GloVe vectors in {}: {}; continuing without a cache",
              cache_dir.string(), e.what());
  }
}

std::filesystem::path env_path(const char* name) {
  const char* value = std::getenv(name);
  return value && *value ? std::filesystem::path(value) : std::filesystem::path();
}

}  // namespace

GloveVectors parse_glove_text(const std::filesystem::path& path, int expected_dim) {
  if (expected_dim < 1)
    fail_input("data.glove.dim = {} must be at least 1", expected_dim);
  const MappedFile file(path);
  return GloveTextParser(path, expected_dim).parse(file.bytes());
}

GloveVectors load_glove(const std::filesystem::path& path, int expected_dim,
                        const std::filesystem::path& cache_dir) {
  if (cache_dir.empty()) return parse_glove_text(path, expected_dim);
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec))
    fail_input("GloVe file {} does not exist or is not a regular file", path.string());
  const SourceStamp stamp = stamp_of(path);
  const std::filesystem::path file = cache_file(cache_dir, stamp);
  if (auto cached = read_cache(file, stamp, expected_dim)) return std::move(*cached);
  GloveVectors glove = parse_glove_text(path, expected_dim);
  try_write_cache(cache_dir, file, stamp, glove);
  return glove;
}

std::filesystem::path default_glove_cache_dir() {
  if (auto dir = env_path("LYRE_CACHE_DIR"); !dir.empty()) return dir;
  if (auto dir = env_path("XDG_CACHE_HOME"); !dir.empty()) return dir / "lyre";
  if (auto dir = env_path("HOME"); !dir.empty()) return dir / ".cache" / "lyre";
  return {};
}

// ---------------------------------------------------------------------------
// Embedding matrix
// ---------------------------------------------------------------------------

EmbeddingMatrix build_embedding(const GloveVectors& glove, const Vocab& vocab) {
  LYRE_CHECK(glove.dim > 0, "GloVe dimension {}", glove.dim);
  EmbeddingMatrix m;
  m.vocab_size = vocab.size();
  m.dim = glove.dim;
  m.vocab_hash = vocab.hash();
  const auto dim = static_cast<std::size_t>(glove.dim);
  m.values.assign(static_cast<std::size_t>(m.vocab_size) * dim, 0.0f);
  m.found.assign(m.vocab_size, 0);

  std::uint64_t found_words = 0, found_tokens = 0, all_tokens = 0;
  for (std::uint32_t id = 0; id < m.vocab_size; ++id) {
    all_tokens += vocab.count(id);
    if (id == Vocab::kPad || id == Vocab::kUnk) continue;
    const auto it = glove.index.find(vocab.word(id));
    if (it == glove.index.end()) continue;
    const auto row = glove.row(it->second);
    std::copy(row.begin(), row.end(), m.values.begin() + static_cast<std::ptrdiff_t>(id * dim));
    m.found[id] = 1;
    ++found_words;
    found_tokens += vocab.count(id);
  }
  const std::uint32_t words = m.vocab_size > 2 ? m.vocab_size - 2 : 0;
  m.vocab_coverage = words ? static_cast<double>(found_words) / words : 0.0;
  m.token_coverage = all_tokens ? static_cast<double>(found_tokens) / static_cast<double>(all_tokens) : 0.0;
  return m;
}

namespace {
constexpr std::uint64_t kEmbeddingMagic = 0x44424D4545525943ull;  // bytes "CYREEMBD" (a typo for LYRE..., kept: prepared folders carry it)
constexpr std::uint32_t kEmbeddingVersion = 1;
}  // namespace

void save_embedding(const std::filesystem::path& path, const EmbeddingMatrix& matrix) {
  LYRE_CHECK(matrix.values.size() == static_cast<std::size_t>(matrix.vocab_size) * matrix.dim &&
                 matrix.found.size() == matrix.vocab_size,
             "embedding matrix of {} words x {} with {} values", matrix.vocab_size, matrix.dim,
             matrix.values.size());
  BinaryWriter out(path);
  out.put(kEmbeddingMagic);
  out.put(kEmbeddingVersion);
  out.put(matrix.vocab_hash);
  out.put(matrix.vocab_size);
  out.put<std::uint32_t>(static_cast<std::uint32_t>(matrix.dim));
  out.put(matrix.vocab_coverage);
  out.put(matrix.token_coverage);
  out.put_array(std::span<const std::uint8_t>(matrix.found));
  out.put_array(std::span<const float>(matrix.values));
  out.commit();
}

EmbeddingMatrix load_embedding(const std::filesystem::path& path, std::uint64_t vocab_hash,
                               std::uint32_t vocab_size) {
  const std::string file = path.string();
  const MappedFile mapped(path);
  BinaryReader in(mapped, "embedding");
  const auto magic = in.get<std::uint64_t>("magic");
  const auto version = in.get<std::uint32_t>("version");
  if (magic != kEmbeddingMagic)
    fail_input("{}: not a Lyre embedding file (magic {:016x})", file, magic);
  if (version != kEmbeddingVersion)
    fail_input("{}: embedding format version {} is not supported (this build reads version {})",
               file, version, kEmbeddingVersion);
  EmbeddingMatrix m;
  m.vocab_hash = in.get<std::uint64_t>("vocab_hash");
  m.vocab_size = in.get<std::uint32_t>("vocab_size");
  const auto dim = in.get<std::uint32_t>("dim");
  if (m.vocab_hash != vocab_hash || m.vocab_size != vocab_size)
    fail_input("{} was built for vocabulary {:016x} ({} words) but the vocabulary in use is "
               "{:016x} ({} words): run `lyre prepare` again",
               file, m.vocab_hash, m.vocab_size, vocab_hash, vocab_size);
  if (dim == 0 || dim > 1'000'000) fail_input("{}: dim is {}, not a plausible vector size", file, dim);
  m.dim = static_cast<int>(dim);
  m.vocab_coverage = in.get<double>("vocab_coverage");
  m.token_coverage = in.get<double>("token_coverage");
  const auto found = in.get_array<std::uint8_t>(m.vocab_size, "found");
  const auto values = in.get_array<float>(static_cast<std::uint64_t>(m.vocab_size) * dim, "values");
  in.expect_end();

  if (!(m.vocab_coverage >= 0 && m.vocab_coverage <= 1 && m.token_coverage >= 0 &&
        m.token_coverage <= 1))
    fail_input("{}: coverage {} / {} is not a share in [0, 1]", file, m.vocab_coverage,
               m.token_coverage);
  for (std::uint32_t id = 0; id < m.vocab_size; ++id)
    if (found[id] > 1 || (id <= Vocab::kUnk && found[id] != 0))
      fail_input("{}: found[{}] is {}, but PAD and UNK are never found and flags are 0 or 1", file,
                 id, found[id]);
  if (!std::all_of(values.begin(), values.end(), [](float v) { return std::isfinite(v); }))
    fail_input("{}: the matrix holds a value that is not finite", file);
  m.found.assign(found.begin(), found.end());
  m.values.assign(values.begin(), values.end());
  return m;
}

}  // namespace lyre::data
