#include "engine/report/tensorboard.hpp"

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>

#include <boost/crc.hpp>
#include <fmt/format.h>

#include "engine/core/error.hpp"
#include "engine/core/files.hpp"
#include "engine/core/system.hpp"
#include "engine/train/run_dir.hpp"

namespace lyre::tensorboard {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr std::string_view kEventFilePrefix = "events.out.tfevents.";
// The name the new content is written under before it is renamed over the
// event file. TensorBoard reads every file whose name contains "tfevents" as
// an event file, and AtomicFile's temporary is "<name>.tmp-<pid>": written
// straight to the event file's name, a process killed mid-write would leave a
// second copy of the fold's records for TensorBoard to plot.
constexpr std::string_view kStagingName = ".events.staging";

// The protobuf wire format, only as much of it as Event and Summary need.
namespace wire {

enum Type : std::uint32_t { kVarint = 0, kFixed64 = 1, kLengthDelimited = 2, kFixed32 = 5 };

void varint(std::string& out, std::uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

void key(std::string& out, std::uint32_t field, Type type) { varint(out, (field << 3) | type); }

void little_endian(std::string& out, std::uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

void fixed64(std::string& out, std::uint32_t field, double v) {
  key(out, field, kFixed64);
  little_endian(out, std::bit_cast<std::uint64_t>(v), 8);
}

void fixed32(std::string& out, std::uint32_t field, float v) {
  key(out, field, kFixed32);
  little_endian(out, std::bit_cast<std::uint32_t>(v), 4);
}

void int64(std::string& out, std::uint32_t field, std::int64_t v) {
  key(out, field, kVarint);
  varint(out, static_cast<std::uint64_t>(v));  // two's complement, as protobuf encodes int64
}

void bytes(std::string& out, std::uint32_t field, std::string_view v) {
  key(out, field, kLengthDelimited);
  varint(out, v.size());
  out.append(v);
}

}  // namespace wire

// tensorflow.Event field numbers (tensorflow/core/util/event.proto).
constexpr std::uint32_t kEventWallTime = 1, kEventStep = 2, kEventFileVersion = 3,
                        kEventSummary = 5;
// tensorflow.Summary and Summary.Value (tensorflow/core/framework/summary.proto).
constexpr std::uint32_t kSummaryValue = 1, kValueTag = 1, kValueSimpleValue = 2;

// When the line's epoch ended; lines from before Lyre recorded it get the
// time of writing.
double ended_at(const json& line) {
  const auto it = line.find("ended_unix_seconds");
  return it != line.end() && it->is_number() ? it->get<double>() : unix_seconds();
}

// When the fold's first epoch started: what TensorBoard's relative time axis
// counts from.
double fold_started_at(const json& first_line) {
  const auto it = first_line.find("seconds");
  const double seconds = it != first_line.end() && it->is_number() ? it->get<double>() : 0.0;
  return ended_at(first_line) - std::max(0.0, seconds);
}

// The event files in `dir`, sorted by name (the order TensorBoard reads them in).
std::vector<fs::path> event_files(const fs::path& dir) {
  std::vector<fs::path> files;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
    if (it->path().filename().string().starts_with(kEventFilePrefix)) files.push_back(it->path());
  if (ec) fail("cannot list {}: {}", dir.string(), ec.message());
  std::sort(files.begin(), files.end());
  return files;
}

void remove_file(const fs::path& path) {
  std::error_code ec;
  fs::remove(path, ec);
  if (ec) fail("cannot remove {}: {}", path.string(), ec.message());
}

// A host name as a file name part: nothing that would make it a path.
std::string file_name_part(std::string text) {
  for (auto& c : text)
    if (c == '/' || c == '\\' || static_cast<unsigned char>(c) < 0x20) c = '_';
  return text.empty() ? "unknown" : text;
}

}  // namespace

std::uint32_t crc32c(std::string_view bytes) {
  boost::crc_optimal<32, 0x1EDC6F41, 0xFFFFFFFF, 0xFFFFFFFF, true, true> crc;
  crc.process_bytes(bytes.data(), bytes.size());
  return crc.checksum();
}

std::uint32_t masked_crc32c(std::string_view bytes) {
  const std::uint32_t crc = crc32c(bytes);
  return ((crc >> 15) | (crc << 17)) + 0xa282ead8u;
}

void append_record(std::string& out, std::string_view data) {
  std::string length;
  wire::little_endian(length, data.size(), 8);
  out += length;
  wire::little_endian(out, masked_crc32c(length), 4);
  out.append(data);
  wire::little_endian(out, masked_crc32c(data), 4);
}

std::string file_version_event(double wall_time) {
  std::string event;
  wire::fixed64(event, kEventWallTime, wall_time);
  wire::bytes(event, kEventFileVersion, "brain.Event:2");
  return event;
}

std::string scalars_event(double wall_time, std::int64_t step, std::span<const Scalar> scalars) {
  std::string summary;
  for (const auto& s : scalars) {
    std::string value;
    wire::bytes(value, kValueTag, s.tag);
    wire::fixed32(value, kValueSimpleValue, s.value);
    wire::bytes(summary, kSummaryValue, value);
  }
  std::string event;
  wire::fixed64(event, kEventWallTime, wall_time);
  wire::int64(event, kEventStep, step);
  wire::bytes(event, kEventSummary, summary);
  return event;
}

std::vector<Scalar> epoch_scalars(const json& line, double learning_rate) {
  std::vector<Scalar> scalars;
  for (const char* part : {"train", "validation"}) {
    const auto metrics = line.find(part);
    if (metrics == line.end()) continue;
    for (const auto name : kEpochMetrics) {
      const auto v = metrics->find(std::string(name));
      if (v != metrics->end() && v->is_number())
        scalars.push_back({fmt::format("{}/{}", part, name), static_cast<float>(v->get<double>())});
    }
  }
  scalars.push_back({"learning_rate", static_cast<float>(learning_rate)});
  return scalars;
}

std::string fold_event_file(const std::vector<json>& history, double learning_rate) {
  std::string file;
  if (history.empty()) return file;
  append_record(file, file_version_event(fold_started_at(history.front())));
  for (const auto& line : history) {
    const auto scalars = epoch_scalars(line, learning_rate);
    append_record(file, scalars_event(ended_at(line), line.at("epoch").get<std::int64_t>(), scalars));
  }
  return file;
}

fs::path fold_event_dir(const fs::path& run_root, int fold) {
  return run_root / "tensorboard" / fmt::format("fold-{}", fold);
}

void write_fold_events(const RunDirectory& run, int fold, const std::vector<json>& history,
                       double learning_rate) {
  if (!run.writes()) return;
  const auto dir = fold_event_dir(run.root(), fold);
  std::error_code ec;
  const auto existing = fs::is_directory(dir, ec) ? event_files(dir) : std::vector<fs::path>{};
  if (history.empty()) {  // resumed before the first epoch ended: no record may remain
    for (const auto& f : existing) remove_file(f);
    return;
  }
  ensure_directory(dir);
  // The name this fold's file gets on this host; a file already there under
  // another name (written on another host before a resume) keeps its name.
  const auto own_name =
      dir / fmt::format("{}{}.{}", kEventFilePrefix,
                        static_cast<std::int64_t>(std::floor(fold_started_at(history.front()))),
                        file_name_part(host_name()));
  const fs::path target =
      existing.empty() || std::find(existing.begin(), existing.end(), own_name) != existing.end()
          ? own_name
          : existing.front();
  const auto staging = dir / kStagingName;
  write_text_file(staging, fold_event_file(history, learning_rate));  // complete and flushed
  // rename(2) replaces the event file in one step: a reader sees the old file
  // or the new one. Not synced: after a power cut the older complete file is
  // as consistent, and the next epoch or --resume writes it again.
  if (std::rename(staging.c_str(), target.c_str()) != 0)
    fail("cannot move {} to {}: {}", staging.string(), target.string(), std::strerror(errno));
  // Any other event file would show its records a second time.
  for (const auto& f : existing)
    if (f != target) remove_file(f);
}

}  // namespace lyre::tensorboard
