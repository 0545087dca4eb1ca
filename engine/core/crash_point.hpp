// Crash points: the places where a process killed without warning (SIGKILL,
// the OOM killer, a node lost under a cluster job) could leave a file half
// done. Every durable write passes through one, so the crash-consistency
// tests (tests/test_crash_consistency.cpp) can list them all and kill the
// real `lyre` binary at each one, then check that what is left is either
// usable as if nothing had happened or refused with a clear error.
//
// Two environment variables drive them; unset (every real run), a crash
// point costs one relaxed atomic increment:
//   LYRE_TEST_KILL_AT=N        the process sends itself SIGKILL at the N-th
//                              crash point it reaches (counting from 1)
//   LYRE_TEST_CRASH_TRACE=F    appends "N <label> <file>" to F for each point
//                              reached (one write(2) a line, O_APPEND)
#pragma once

#include <filesystem>
#include <string_view>

namespace lyre {

// `label` says where in the write the process is ("write", "flushed",
// "renamed", ...); `file` is the file (or folder) being written.
void crash_point(std::string_view label, const std::filesystem::path& file);

}  // namespace lyre
