// A progress display: a redrawn bar with rate and ETA on a terminal, a plain log
// line every few seconds otherwise (batch jobs write logs, not terminals).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace lyre {

class Progress {
 public:
  // `unit` names what is counted ("songs", "rows", "batches").
  Progress(std::string label, std::uint64_t total, std::string unit);
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;
  ~Progress();

  // Sets the absolute count; cheap enough to call per item. `note` is shown
  // after the rate (for example the running loss).
  void update(std::uint64_t done, const std::string& note = {});
  void finish(const std::string& note = {});

 private:
  void draw(bool final_line, const std::string& note);

  std::string label_;
  std::string unit_;
  std::uint64_t total_;
  std::uint64_t done_ = 0;
  bool finished_ = false;
  bool terminal_;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_draw_;
};

}  // namespace lyre
