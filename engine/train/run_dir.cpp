#include "engine/train/run_dir.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>
#include <optional>

#include "engine/core/crash_point.hpp"
#include "engine/core/error.hpp"
#include "engine/core/files.hpp"
#include "engine/core/log.hpp"
#include "engine/core/system.hpp"

namespace lyre {
namespace fs = std::filesystem;

namespace {

constexpr const char* kIndexFile = "checksums.json";
constexpr const char* kIndexFormat = "lyre-run-checksums-1";

// flock on a file of its own: the cluster tasks sharing a run folder update
// one index, and RunLock (held around joins and merges) must not deadlock
// with it.
class IndexLock {
 public:
  explicit IndexLock(const fs::path& run_dir) {
    const auto path = run_dir / ".checksums.lock";
    fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ < 0) fail("cannot open {}: {}", path.string(), std::strerror(errno));
    while (::flock(fd_, LOCK_EX) != 0)
      if (errno != EINTR) {
        const int e = errno;
        ::close(fd_);
        fail("cannot lock {}: {}", path.string(), std::strerror(e));
      }
  }
  ~IndexLock() { ::close(fd_); }
  IndexLock(const IndexLock&) = delete;
  IndexLock& operator=(const IndexLock&) = delete;

 private:
  int fd_ = -1;
};

// name -> digest, as checksums.json stores it. nullopt: the folder has none.
std::optional<std::map<std::string, FileDigest>> read_index(const fs::path& run_dir) {
  const auto path = run_dir / kIndexFile;
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) return std::nullopt;
  std::map<std::string, FileDigest> index;
  try {
    const auto j = nlohmann::json::parse(read_text_file(path));
    if (j.at("format").get<std::string>() != kIndexFormat)
      fail_input("{}: format {} is not {}", path.string(), j.at("format").dump(), kIndexFormat);
    for (const auto& [name, entry] : j.at("files").items()) {
      FileDigest d;
      d.bytes = entry.at("bytes").get<std::uint64_t>();
      d.xxh3 = std::stoull(entry.at("xxh3").get<std::string>(), nullptr, 16);
      index.emplace(name, d);
    }
  } catch (const nlohmann::json::exception& e) {
    fail_input("{} is corrupt (not the index Lyre writes): {}", path.string(), e.what());
  } catch (const std::logic_error& e) {  // stoull
    fail_input("{} is corrupt: a checksum is not hexadecimal", path.string());
  }
  return index;
}

void update_index(const fs::path& run_dir, const std::string& name,
                  std::optional<FileDigest> digest) {
  const IndexLock lock(run_dir);
  std::map<std::string, FileDigest> index;
  try {
    index = read_index(run_dir).value_or(index);
  } catch (const InputError& e) {
    // Rebuilt from what is written from now on; the damaged copy is what a
    // reader would have refused anyway.
    log::warn("{}; starting a new index", e.what());
  }
  if (digest)
    index[name] = *digest;
  else
    index.erase(name);
  nlohmann::json files = nlohmann::json::object();
  for (const auto& [file, d] : index)
    files[file] = {{"bytes", d.bytes}, {"xxh3", fmt::format("{:016x}", d.xxh3)}};
  write_text_file(run_dir / kIndexFile,
                  nlohmann::json{{"format", kIndexFormat}, {"files", files}}.dump(1) + "\n");
}

// Whether checksums.json lists `name` with another digest than `digest`
// (a damaged index counts as listing nothing: update_index rebuilds it).
bool index_records_other(const fs::path& run_dir, const std::string& name,
                         const FileDigest& digest) {
  try {
    const auto index = read_index(run_dir);
    if (!index) return false;
    const auto it = index->find(name);
    return it != index->end() && it->second != digest;
  } catch (const InputError&) {
    return false;
  }
}

}  // namespace

RunDirectory::RunDirectory(fs::path root)
    : root_(std::move(root)), metrics_mutex_(std::make_shared<std::mutex>()) {}

RunDirectory RunDirectory::create(const ExperimentConfig& config, const fs::path& out) {
  fs::path root = out;
  if (root.empty()) {
    root = fs::path(config.output) / (config.name + "-" + compact_timestamp());
    for (int n = 2; fs::exists(root); ++n)  // two runs started in the same second
      root = fs::path(config.output) / fmt::format("{}-{}-{}", config.name, compact_timestamp(), n);
  }
  if (fs::exists(root) && (!fs::is_directory(root) || !fs::is_empty(root)))
    fail_input("run folder {} already exists and is not empty; choose another --out, or continue "
               "it with --resume {}",
               root.string(), root.string());
  ensure_directory(root);
  return RunDirectory(root);
}

RunDirectory RunDirectory::open(const fs::path& dir) {
  if (!fs::is_regular_file(dir / "config.yaml"))
    fail_input("{} is not a Lyre run folder (it holds no config.yaml)", dir.string());
  return RunDirectory(dir);
}

RunDirectory RunDirectory::shared(const fs::path& dir) {
  if (fs::exists(dir) && !fs::is_directory(dir))
    fail_input("run folder {} exists and is not a folder", dir.string());
  ensure_directory(dir);
  return RunDirectory(dir);
}

RunDirectory RunDirectory::follow(const fs::path& dir) {
  RunDirectory r(dir);
  r.writer_ = false;
  return r;
}

RunDirectory RunDirectory::child(const std::string& name) const {
  const auto dir = root_ / "variants" / name;
  if (writer_) ensure_directory(dir);
  RunDirectory r(dir);
  r.writer_ = writer_;
  return r;
}

fs::path RunDirectory::fold_dir(int fold) const {
  const auto dir = root_ / "folds" / fmt::format("fold-{}", fold);
  if (writer_) ensure_directory(dir);
  return dir;
}

fs::path RunDirectory::checkpoint_path(int fold) const { return fold_dir(fold) / "checkpoint.bin"; }

void RunDirectory::append_metrics(const nlohmann::json& line) {
  if (!writer_) return;
  const std::lock_guard lock(*metrics_mutex_);
  // A growing file is not indexed: finish_run rewrites it whole and records it.
  update_index(root_, "metrics.jsonl", std::nullopt);
  std::ofstream out(root_ / "metrics.jsonl", std::ios::app);
  out << line.dump() << '\n';
  out.flush();
  if (!out) fail("cannot append to {}", (root_ / "metrics.jsonl").string());
  // Killed here or mid-line, the file may end in a torn line: a resume
  // rewrites metrics.jsonl from the checkpoints, which are what counts.
  crash_point("append", root_ / "metrics.jsonl");
}

void RunDirectory::rewrite_metrics(const std::vector<nlohmann::json>& lines) {
  if (!writer_) return;
  const std::lock_guard lock(*metrics_mutex_);
  std::string text;
  for (const auto& l : lines) text += l.dump() + "\n";
  write_text_file(root_ / "metrics.jsonl", text);
  update_index(root_, "metrics.jsonl", digest_bytes(text));
}

void RunDirectory::write_json(const std::string& name, const nlohmann::json& j) const {
  write_text(name, j.dump(2) + "\n");
}

void RunDirectory::write_text(const std::string& name, const std::string& text) const {
  if (!writer_) return;
  const auto digest = digest_bytes(text);
  // Replacing a recorded file with other content (a resumed run's summary):
  // its old entry goes first, so a process killed between the file and the
  // index leaves an unlisted file, not one its own index calls corrupt.
  if (index_records_other(root_, name, digest)) update_index(root_, name, std::nullopt);
  write_text_file(root_ / name, text);
  update_index(root_, name, digest);
}

void RunDirectory::record(const std::string& name) const {
  if (!writer_) return;
  update_index(root_, name, digest_file(root_ / name));
}

void RunDirectory::record_unlisted(const std::vector<std::string>& names) const {
  if (!writer_) return;
  std::optional<std::map<std::string, FileDigest>> index;
  try {
    index = read_index(root_);
  } catch (const InputError&) {
    // update_index rebuilds a damaged index; everything gets recorded anew.
  }
  for (const auto& name : names)
    if ((!index || !index->contains(name)) && fs::is_regular_file(root_ / name)) record(name);
}

RunLock::RunLock(const fs::path& run_dir) {
  const auto path = run_dir / ".lock";
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0) fail("cannot open {}: {}", path.string(), std::strerror(errno));
  while (::flock(fd_, LOCK_EX) != 0) {
    if (errno == EINTR) continue;
    const int e = errno;
    ::close(fd_);
    fail("cannot lock {}: {}", path.string(), std::strerror(e));
  }
}

RunLock::~RunLock() {
  if (fd_ >= 0) ::close(fd_);  // closing releases the lock
}

void verify_run_files(const fs::path& run_dir, std::initializer_list<std::string_view> names) {
  const auto index = read_index(run_dir);
  if (!index) {
    log::warn("{} has no {} (written by an older Lyre, or killed as it started): its files are "
              "read unverified",
              run_dir.string(), kIndexFile);
    return;
  }
  const auto index_path = (run_dir / kIndexFile).string();
  for (const auto name : names)
    if (const auto it = index->find(std::string(name)); it != index->end())
      verify_file(run_dir / name, it->second, index_path);
}

std::vector<nlohmann::json> read_metrics(const fs::path& run_dir) {
  verify_run_files(run_dir, {"metrics.jsonl"});
  std::vector<nlohmann::json> lines;
  std::ifstream in(run_dir / "metrics.jsonl");
  std::string line;
  std::size_t number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (line.empty()) continue;
    try {
      lines.push_back(nlohmann::json::parse(line));
    } catch (const nlohmann::json::exception& e) {
      fail_input("{}: invalid JSON line: {}", where(run_dir / "metrics.jsonl", number), e.what());
    }
  }
  return lines;
}

}  // namespace lyre
