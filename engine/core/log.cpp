#include "engine/core/log.hpp"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <string>

namespace lyre::log {
namespace {

struct LogState {
  std::atomic<Level> level{Level::info};
  std::mutex write_mutex;  // folds train on threads; keep their lines whole
  std::string prefix;      // guarded by write_mutex
  std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();
};

LogState& state() {
  static LogState s;
  return s;
}

}  // namespace

void set_level(Level level) { state().level = level; }

void set_prefix(std::string_view prefix) {
  auto& s = state();
  std::lock_guard lock(s.write_mutex);
  s.prefix = prefix;
}
Level level() { return state().level; }

bool stderr_is_terminal() {
  static const bool tty = ::isatty(STDERR_FILENO) == 1;
  return tty;
}

void write(Level lvl, std::string_view message) {
  auto& s = state();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - s.start).count();
  const char* tag = lvl == Level::warn ? "warning: " : lvl == Level::error ? "error: " : "";
  std::lock_guard lock(s.write_mutex);
  std::fprintf(stderr, "[%8.2fs] %s%s%.*s\n", seconds, s.prefix.c_str(), tag,
               static_cast<int>(message.size()), message.data());
  std::fflush(stderr);
}

}  // namespace lyre::log
