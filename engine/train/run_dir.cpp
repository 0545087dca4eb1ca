#include "engine/train/run_dir.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>

#include "engine/core/error.hpp"
#include "engine/core/files.hpp"
#include "engine/core/system.hpp"

namespace lyre {
namespace fs = std::filesystem;

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
  std::ofstream out(root_ / "metrics.jsonl", std::ios::app);
  out << line.dump() << '\n';
  out.flush();
  if (!out) fail("cannot append to {}", (root_ / "metrics.jsonl").string());
}

void RunDirectory::rewrite_metrics(const std::vector<nlohmann::json>& lines) {
  if (!writer_) return;
  const std::lock_guard lock(*metrics_mutex_);
  std::string text;
  for (const auto& l : lines) text += l.dump() + "\n";
  write_text_file(root_ / "metrics.jsonl", text);
}

void RunDirectory::write_json(const std::string& name, const nlohmann::json& j) const {
  if (!writer_) return;
  write_text_file(root_ / name, j.dump(2) + "\n");
}

void RunDirectory::write_text(const std::string& name, const std::string& text) const {
  if (!writer_) return;
  write_text_file(root_ / name, text);
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

std::vector<nlohmann::json> read_metrics(const fs::path& run_dir) {
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
