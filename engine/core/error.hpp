// Errors as exceptions that carry their context.
//
// Two kinds, because the CLI maps them to different exit codes and users act on
// them differently:
//   InputError  - something the user handed us is wrong (a file, a line in it,
//                 a config key, a flag). Exit code 2. The message names where.
//   Error       - everything else that stops a run (a failed CUDA call, a full
//                 disk). Exit code 1.
#pragma once

#include <filesystem>
#include <stdexcept>
#include <string>

#include <fmt/format.h>
#include <fmt/std.h>

namespace lyre {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class InputError : public Error {
 public:
  using Error::Error;
};

// "path:line" as compilers print it, so terminals and editors can jump to it.
inline std::string where(const std::filesystem::path& file, std::size_t line) {
  return fmt::format("{}:{}", file.string(), line);
}

template <typename... Args>
[[noreturn]] void fail(fmt::format_string<Args...> format, Args&&... args) {
  throw Error(fmt::format(format, std::forward<Args>(args)...));
}

template <typename... Args>
[[noreturn]] void fail_input(fmt::format_string<Args...> format, Args&&... args) {
  throw InputError(fmt::format(format, std::forward<Args>(args)...));
}

// Internal invariant; a failure is a bug in Lyre, never the user's fault.
#define LYRE_CHECK(cond, ...)                                                        \
  do {                                                                               \
    if (!(cond))                                                                     \
      ::lyre::fail("internal check failed at {}:{}: {} ({})", __FILE__, __LINE__,   \
                   #cond, ::fmt::format(__VA_ARGS__));                               \
  } while (0)

}  // namespace lyre
