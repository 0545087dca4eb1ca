// Helpers shared by the test suites.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "engine/core/error.hpp"

namespace lyre::test {

// A fresh temporary directory, removed with everything in it on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(std::string_view name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

// Writes bytes exactly as given (no newline translation); returns the path.
std::filesystem::path write_file(const std::filesystem::path& path, std::string_view content);
std::string read_file(const std::filesystem::path& path);

inline std::filesystem::path source_dir() { return LYRE_SOURCE_DIR; }
inline std::filesystem::path test_data_dir() { return LYRE_TEST_DATA_DIR; }
inline std::filesystem::path shared_real_dir() { return LYRE_SHARED_REAL_DIR; }
inline std::filesystem::path lyre_binary() { return LYRE_BINARY; }

// Runs a shell command; returns its exit status and captured stdout+stderr.
struct CommandResult {
  int exit_code = -1;
  std::string output;
};
CommandResult run_command(const std::string& command);

// A child process started in the background (for signal tests): stdout and
// stderr go to `log`.
class Background {
 public:
  Background(const std::vector<std::string>& argv, const std::filesystem::path& log);
  ~Background();  // kills the child if it still runs
  Background(const Background&) = delete;
  Background& operator=(const Background&) = delete;
  void signal(int signal_number) const;
  // Waits up to `seconds`: the exit status of a child that exited, 1000 + N
  // for one killed by signal N, or -1 if it is still running.
  int wait(double seconds);

 private:
  int pid_ = -1;
  bool reaped_ = false;
};

// The message of the InputError `fn` throws ("" and a test failure if it
// throws none): bad-input tests then check what the message names.
template <typename Fn>
std::string input_error(Fn&& fn) {
  try {
    fn();
  } catch (const InputError& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected an InputError";
  return {};
}

// EXPECT_TRUE(contains(message, "file.csv:3")) prints both on failure.
inline ::testing::AssertionResult contains(const std::string& text, std::string_view part) {
  if (text.find(part) != std::string::npos) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "'" << text << "' does not contain '" << part << "'";
}

// Flips one byte of a file in place (for corruption tests).
void flip_byte(const std::filesystem::path& path, std::size_t offset);
// Cuts a file to `size` bytes.
void truncate_file(const std::filesystem::path& path, std::size_t size);
// Overwrites bytes at `offset` of a BinaryWriter file (engine/core/binary_io.hpp)
// and stores the payload's new checksum: a structurally wrong file that no
// checksum check catches, as the fuzzers make them.
void patch_checksummed(const std::filesystem::path& path, std::size_t offset,
                       std::string_view bytes);

}  // namespace lyre::test
