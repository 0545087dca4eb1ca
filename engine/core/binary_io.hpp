// Little-endian binary files with a trailing checksum: the shared mechanism
// behind shards, the embedding matrix, the GloVe cache and checkpoints.
//
// Every such file is
//   [payload bytes ...][u64 XXH3-64 of the payload][u64 kTrailerMagic]
// and the payload is written as a sequence of fields and arrays, each array
// padded to 8-byte alignment so that a memory-mapped reader can hand out
// aligned spans without copying. Readers check the trailer before reading any
// field, then every read is bounds-checked: a truncated or corrupted file is an
// InputError naming the file and byte offset, never a crash.
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>

#include "engine/core/error.hpp"
#include "engine/core/files.hpp"
#include "engine/core/hash.hpp"

static_assert(std::endian::native == std::endian::little,
              "Lyre's binary formats are little-endian and read by mapping");

namespace lyre {

inline constexpr std::uint64_t kTrailerMagic = 0x4C59524554524C52ull;  // "RLRTERYL"

class BinaryWriter {
 public:
  explicit BinaryWriter(std::filesystem::path path) : file_(std::move(path)) {}

  template <typename T>
  void put(const T& value) {
    static_assert(std::is_trivially_copyable_v<T>);
    bytes(&value, sizeof(T));
  }
  template <typename T>
  void put_array(std::span<const T> values) {
    static_assert(std::is_trivially_copyable_v<T>);
    bytes(values.data(), values.size_bytes());
    align8();
  }
  void put_string(std::string_view s) {
    put<std::uint64_t>(s.size());
    bytes(s.data(), s.size());
    align8();
  }
  void align8() {
    static constexpr char zeros[8] = {};
    const auto pad = (8 - offset_ % 8) % 8;
    bytes(zeros, pad);
  }
  std::uint64_t offset() const { return offset_; }

  // Appends checksum and trailer magic, then atomically renames into place.
  void commit() {
    const std::uint64_t checksum = hasher_.digest();
    file_.write(&checksum, sizeof checksum);
    file_.write(&kTrailerMagic, sizeof kTrailerMagic);
    file_.commit();
  }

 private:
  void bytes(const void* data, std::size_t size) {
    file_.write(data, size);
    hasher_.update(data, size);
    offset_ += size;
  }
  AtomicFile file_;
  Hasher hasher_;
  std::uint64_t offset_ = 0;
};

// Reads the payload of a mapped file written by BinaryWriter.
class BinaryReader {
 public:
  // Validates trailer magic and checksum over the whole payload.
  // `what` names the kind of file in messages ("shard", "checkpoint").
  BinaryReader(const MappedFile& file, std::string_view what) : path_(file.path()), what_(what) {
    const auto all = file.bytes();
    constexpr std::size_t trailer = 2 * sizeof(std::uint64_t);
    if (all.size() < trailer)
      fail_input("{} {} is truncated: {} bytes, too short to hold its trailer", what_,
                 path_.string(), all.size());
    std::uint64_t checksum = 0, magic = 0;
    std::memcpy(&checksum, all.data() + all.size() - trailer, 8);
    std::memcpy(&magic, all.data() + all.size() - 8, 8);
    if (magic != kTrailerMagic)
      fail_input("{} {} is truncated or not a Lyre file: its trailer is missing", what_,
                 path_.string());
    payload_ = all.first(all.size() - trailer);
    const std::uint64_t actual = hash_bytes(payload_.data(), payload_.size());
    if (actual != checksum)
      fail_input("{} {} is corrupt: checksum {:016x} does not match the stored {:016x}", what_,
                 path_.string(), actual, checksum);
  }

  template <typename T>
  T get(std::string_view field) {
    static_assert(std::is_trivially_copyable_v<T>);
    need(sizeof(T), field);
    T value;
    std::memcpy(&value, payload_.data() + offset_, sizeof(T));
    offset_ += sizeof(T);
    return value;
  }

  // A span into the mapping; valid while the MappedFile lives.
  template <typename T>
  std::span<const T> get_array(std::uint64_t count, std::string_view field) {
    static_assert(std::is_trivially_copyable_v<T>);
    if (count > payload_.size() / sizeof(T))
      fail_input("{} {}: field '{}' claims {} elements, more than the file holds", what_,
                 path_.string(), field, count);
    const std::size_t size = count * sizeof(T);
    need(size, field);
    if (offset_ % alignof(T) != 0)
      fail_input("{} {}: field '{}' is misaligned at byte {}", what_, path_.string(), field,
                 offset_);
    std::span<const T> out(reinterpret_cast<const T*>(payload_.data() + offset_), count);
    offset_ += size;
    skip_padding(field);
    return out;
  }

  std::string get_string(std::string_view field) {
    const auto size = get<std::uint64_t>(field);
    if (size > payload_.size())
      fail_input("{} {}: string '{}' claims {} bytes, more than the file holds", what_,
                 path_.string(), field, size);
    need(size, field);
    std::string s(reinterpret_cast<const char*>(payload_.data() + offset_), size);
    offset_ += size;
    skip_padding(field);
    return s;
  }

  // Mirrors BinaryWriter::align8().
  void align8() { skip_padding("alignment"); }

  // Every reader calls this last: trailing garbage means a writer/reader mismatch.
  void expect_end() const {
    if (offset_ != payload_.size())
      fail_input("{} {}: {} unexpected bytes after the last field", what_, path_.string(),
                 payload_.size() - offset_);
  }

  std::uint64_t offset() const { return offset_; }
  const std::filesystem::path& path() const { return path_; }
  std::string_view what() const { return what_; }

 private:
  void need(std::size_t size, std::string_view field) const {
    if (size > payload_.size() - offset_)
      fail_input("{} {} is truncated: field '{}' needs {} bytes at offset {}, {} remain", what_,
                 path_.string(), field, size, offset_, payload_.size() - offset_);
  }
  void skip_padding(std::string_view field) {
    const auto pad = (8 - offset_ % 8) % 8;
    need(pad, field);
    offset_ += pad;
  }

  std::filesystem::path path_;
  std::string what_;
  std::span<const std::byte> payload_;
  std::size_t offset_ = 0;
};

}  // namespace lyre
