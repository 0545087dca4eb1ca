#include "engine/core/crash_point.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdint>
#include <cstdlib>
#include <string>

#include <fmt/format.h>

namespace lyre {
namespace {

// Read once from the environment: the hooks are a property of the process,
// like its signal handlers, so one instance for the process is the point.
struct CrashPoints {
  std::uint64_t kill_at = 0;  // 0: never
  int trace_fd = -1;
  std::atomic<std::uint64_t> reached{0};

  CrashPoints() {
    if (const char* n = std::getenv("LYRE_TEST_KILL_AT")) kill_at = std::strtoull(n, nullptr, 10);
    if (const char* f = std::getenv("LYRE_TEST_CRASH_TRACE"); f && *f)
      trace_fd = ::open(f, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  }
  bool active() const { return kill_at != 0 || trace_fd >= 0; }
};

CrashPoints& crash_points() {
  static CrashPoints points;
  return points;
}

}  // namespace

void crash_point(std::string_view label, const std::filesystem::path& file) {
  auto& points = crash_points();
  if (!points.active()) return;
  const auto n = points.reached.fetch_add(1, std::memory_order_relaxed) + 1;
  if (points.trace_fd >= 0) {
    const auto line = fmt::format("{} {} {}\n", n, label, file.string());
    [[maybe_unused]] const auto written = ::write(points.trace_fd, line.data(), line.size());
  }
  if (n == points.kill_at) ::kill(::getpid(), SIGKILL);
}

}  // namespace lyre
