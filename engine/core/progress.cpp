#include "engine/core/progress.hpp"

#include <cstdio>

#include <fmt/format.h>

#include "engine/core/log.hpp"

namespace lyre {
namespace {

using Clock = std::chrono::steady_clock;

std::string format_duration(double seconds) {
  if (seconds < 0 || seconds > 1e7) return "--:--";
  const auto s = static_cast<long>(seconds + 0.5);
  if (s >= 3600) return fmt::format("{}:{:02}:{:02}", s / 3600, (s / 60) % 60, s % 60);
  return fmt::format("{:02}:{:02}", s / 60, s % 60);
}

}  // namespace

Progress::Progress(std::string label, std::uint64_t total, std::string unit)
    : label_(std::move(label)),
      unit_(std::move(unit)),
      total_(total),
      terminal_(log::stderr_is_terminal() && log::level() <= log::Level::info),
      start_(Clock::now()),
      last_draw_(start_) {}

Progress::~Progress() {
  if (!finished_ && terminal_) std::fputc('\n', stderr);
}

void Progress::update(std::uint64_t done, const std::string& note) {
  done_ = done;
  const auto now = Clock::now();
  // Terminals redraw ~10 times a second; log files get a line every 10 s.
  const auto interval = terminal_ ? std::chrono::milliseconds(100) : std::chrono::seconds(10);
  if (now - last_draw_ < interval) return;
  last_draw_ = now;
  draw(false, note);
}

void Progress::finish(const std::string& note) {
  if (finished_) return;
  finished_ = true;
  draw(true, note);
}

void Progress::draw(bool final_line, const std::string& note) {
  const double elapsed = std::chrono::duration<double>(Clock::now() - start_).count();
  const double rate = elapsed > 0 ? static_cast<double>(done_) / elapsed : 0.0;
  const double eta = rate > 0 && total_ > done_ ? static_cast<double>(total_ - done_) / rate : 0.0;
  const double fraction = total_ ? static_cast<double>(done_) / static_cast<double>(total_) : 1.0;
  std::string text = fmt::format("{} {}/{} {} {:.0f} {}/s", label_, done_, total_, unit_, rate,
                                 unit_);
  text += final_line ? fmt::format(" in {}", format_duration(elapsed))
                     : fmt::format(" ETA {}", format_duration(eta));
  if (!note.empty()) text += "  " + note;
  if (terminal_) {
    constexpr int width = 24;
    const int filled = static_cast<int>(fraction * width);
    std::string bar(static_cast<std::size_t>(filled), '#');
    bar.resize(width, '.');
    std::fprintf(stderr, "\r\033[K[%s] %3.0f%% %s%s", bar.c_str(), 100.0 * fraction, text.c_str(),
                 final_line ? "\n" : "");
    std::fflush(stderr);
  } else {
    log::info("{}", text);
  }
}

}  // namespace lyre
