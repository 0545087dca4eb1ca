// File helpers: read-only memory maps, and writes that never leave a torn file.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <span>
#include <string>
#include <string_view>

namespace lyre {

// A read-only memory map of a whole file (RAII). An empty file maps to an
// empty span. Throws InputError naming the file if it cannot be opened.
class MappedFile {
 public:
  explicit MappedFile(const std::filesystem::path& path);
  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  ~MappedFile();

  std::span<const std::byte> bytes() const { return {data_, size_}; }
  std::size_t size() const { return size_; }
  const std::filesystem::path& path() const { return path_; }

 private:
  void release() noexcept;
  std::filesystem::path path_;
  const std::byte* data_ = nullptr;
  std::size_t size_ = 0;
};

// Writes a file atomically: the content goes to "<path>.tmp-<pid>", is flushed
// and fsync'ed, then renamed over `path`, and the folder is synced. A crash or
// a full disk leaves the old file intact, so an interrupted run never destroys
// a checkpoint or a report.
// `write` receives a stream-like sink; throws Error naming the file on failure.
class AtomicFile {
 public:
  explicit AtomicFile(std::filesystem::path path);
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;
  ~AtomicFile();  // discards the temporary file unless commit() ran

  void write(const void* data, std::size_t size);
  void write(std::string_view text) { write(text.data(), text.size()); }
  template <typename T>
  void write_span(std::span<const T> values) {
    write(values.data(), values.size_bytes());
  }
  std::uint64_t bytes_written() const { return written_; }
  void commit();

 private:
  std::filesystem::path path_;
  std::filesystem::path tmp_path_;
  std::FILE* file_ = nullptr;
  std::uint64_t written_ = 0;
  bool committed_ = false;
};

void write_text_file(const std::filesystem::path& path, std::string_view text);
// fsync of a folder, so that renames and new entries in it survive a power cut.
void sync_directory(const std::filesystem::path& dir);
std::string read_text_file(const std::filesystem::path& path);

// Size and XXH3-64 of a whole file: what a folder's index (manifest.yaml,
// checksums.json) records for every file it lists that carries no checksum of
// its own, so a flipped byte or a cut-off tail is caught before it is used.
struct FileDigest {
  std::uint64_t bytes = 0;
  std::uint64_t xxh3 = 0;
  bool operator==(const FileDigest&) const = default;
};
FileDigest digest_bytes(std::string_view content);
FileDigest digest_file(const std::filesystem::path& path);
// InputError naming the file and the index that recorded `expected` when the
// file is missing, has another size ("truncated or changed") or another
// checksum ("corrupt").
void verify_file(const std::filesystem::path& path, const FileDigest& expected,
                 std::string_view recorded_in);

// Creates a directory (and parents); InputError naming it if that fails.
void ensure_directory(const std::filesystem::path& dir);

}  // namespace lyre
