#include "engine/core/files.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

#include "engine/core/crash_point.hpp"
#include "engine/core/error.hpp"
#include "engine/core/hash.hpp"

namespace lyre {

MappedFile::MappedFile(const std::filesystem::path& path) : path_(path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail_input("cannot open {}: {}", path.string(), std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    fail_input("cannot stat {}: {}", path.string(), std::strerror(err));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    fail_input("{} is not a regular file", path.string());
  }
  size_ = static_cast<std::size_t>(st.st_size);
  if (size_ > 0) {
    void* p = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
      const int err = errno;
      ::close(fd);
      fail_input("cannot map {}: {}", path.string(), std::strerror(err));
    }
    data_ = static_cast<const std::byte*>(p);
  }
  ::close(fd);  // the mapping keeps the file alive
}

MappedFile::MappedFile(MappedFile&& other) noexcept
    : path_(std::move(other.path_)), data_(other.data_), size_(other.size_) {
  other.data_ = nullptr;
  other.size_ = 0;
}

MappedFile& MappedFile::operator=(MappedFile&& other) noexcept {
  if (this != &other) {
    release();
    path_ = std::move(other.path_);
    data_ = other.data_;
    size_ = other.size_;
    other.data_ = nullptr;
    other.size_ = 0;
  }
  return *this;
}

MappedFile::~MappedFile() { release(); }

void MappedFile::release() noexcept {
  if (data_) ::munmap(const_cast<std::byte*>(data_), size_);
  data_ = nullptr;
  size_ = 0;
}

AtomicFile::AtomicFile(std::filesystem::path path) : path_(std::move(path)) {
  tmp_path_ = path_;
  tmp_path_ += ".tmp-" + std::to_string(::getpid());
  if (path_.has_parent_path()) ensure_directory(path_.parent_path());
  file_ = std::fopen(tmp_path_.c_str(), "wb");
  if (!file_) fail("cannot create {}: {}", tmp_path_.string(), std::strerror(errno));
}

AtomicFile::~AtomicFile() {
  if (file_) std::fclose(file_);
  if (!committed_) {
    std::error_code ec;
    std::filesystem::remove(tmp_path_, ec);
  }
}

void AtomicFile::write(const void* data, std::size_t size) {
  // Counted even when empty (an alignment pad of 0 bytes): the number of
  // crash points a run reaches must not depend on its numbers' lengths.
  crash_point("write", tmp_path_);
  if (size == 0) return;
  if (std::fwrite(data, 1, size, file_) != size)
    fail("cannot write {}: {}", tmp_path_.string(), std::strerror(errno));
  written_ += size;
}

void AtomicFile::commit() {
  LYRE_CHECK(!committed_, "{} committed twice", path_.string());
  if (std::fflush(file_) != 0 || ::fsync(::fileno(file_)) != 0)
    fail("cannot flush {}: {}", tmp_path_.string(), std::strerror(errno));
  if (std::fclose(file_) != 0) {
    file_ = nullptr;
    fail("cannot close {}: {}", tmp_path_.string(), std::strerror(errno));
  }
  file_ = nullptr;
  crash_point("flushed", path_);
  if (std::rename(tmp_path_.c_str(), path_.c_str()) != 0)
    fail("cannot move {} to {}: {}", tmp_path_.string(), path_.string(), std::strerror(errno));
  committed_ = true;
  crash_point("renamed", path_);
  sync_directory(path_.has_parent_path() ? path_.parent_path() : std::filesystem::path("."));
}

void sync_directory(const std::filesystem::path& dir) {
  // The rename is durable once the folder's entry is on disk; without this a
  // power cut right after a checkpoint could bring back the old one (or none).
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) fail("cannot open folder {} to sync it: {}", dir.string(), std::strerror(errno));
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  // Some file systems (and some FUSE mounts of cluster storage) cannot fsync
  // a folder; the rename itself has still happened.
  if (rc != 0 && err != EINVAL && err != ENOTSUP)
    fail("cannot sync folder {}: {}", dir.string(), std::strerror(err));
}

void write_text_file(const std::filesystem::path& path, std::string_view text) {
  AtomicFile file(path);
  file.write(text);
  file.commit();
}

std::string read_text_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail_input("cannot open {}: {}", path.string(), std::strerror(errno));
  std::ostringstream content;
  content << in.rdbuf();
  return content.str();
}

FileDigest digest_bytes(std::string_view content) {
  return {content.size(), hash_bytes(content.data(), content.size())};
}

FileDigest digest_file(const std::filesystem::path& path) {
  const MappedFile file(path);
  return {file.size(), hash_bytes(file.bytes().data(), file.size())};
}

void verify_file(const std::filesystem::path& path, const FileDigest& expected,
                 std::string_view recorded_in) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec))
    fail_input("{} is missing: {} lists it", path.string(), recorded_in);
  const FileDigest actual = digest_file(path);
  if (actual.bytes != expected.bytes)
    fail_input("{} is truncated or was changed: it has {} bytes, {} records {}", path.string(),
               actual.bytes, recorded_in, expected.bytes);
  if (actual.xxh3 != expected.xxh3)
    fail_input("{} is corrupt: checksum {:016x} does not match the {:016x} recorded in {}",
               path.string(), actual.xxh3, expected.xxh3, recorded_in);
}

void ensure_directory(const std::filesystem::path& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) fail_input("cannot create directory {}: {}", dir.string(), ec.message());
}

}  // namespace lyre
