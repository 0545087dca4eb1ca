// Log lines for people and for batch-job log files.
//
// Everything goes to stderr so stdout stays clean for results (tables, JSON)
// that scripts pipe elsewhere. Lines carry the elapsed time since start, which
// is what one wants when reading a cluster job's log afterwards.
#pragma once

#include <string_view>

#include <fmt/format.h>

namespace lyre::log {

enum class Level { debug = 0, info = 1, warn = 2, error = 3, quiet = 4 };

void set_level(Level level);
Level level();
// True when stderr is a terminal: progress bars redraw in place there, and are
// replaced by periodic plain lines in batch jobs.
bool stderr_is_terminal();
void write(Level level, std::string_view message);
// Text put before every line ("rank 1: " in a data-parallel job, so the
// interleaved logs of several ranks read apart).
void set_prefix(std::string_view prefix);

template <typename... Args>
void debug(fmt::format_string<Args...> f, Args&&... args) {
  if (level() <= Level::debug) write(Level::debug, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void info(fmt::format_string<Args...> f, Args&&... args) {
  if (level() <= Level::info) write(Level::info, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void warn(fmt::format_string<Args...> f, Args&&... args) {
  if (level() <= Level::warn) write(Level::warn, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void error(fmt::format_string<Args...> f, Args&&... args) {
  write(Level::error, fmt::format(f, std::forward<Args>(args)...));
}

}  // namespace lyre::log
