// Facts about the process and machine that reports and benchmarks record.
#pragma once

#include <cstdint>
#include <string>

namespace lyre {

std::uint64_t peak_rss_bytes();     // high-water mark of resident memory
std::string host_name();
std::string utc_timestamp();        // "2026-11-25T04:05:06Z"
std::string compact_timestamp();    // "20261125-040506", for folder names
double seconds_since(std::uint64_t start_ns);
double unix_seconds();               // wall-clock seconds since 1970 (run.json, TensorBoard)
std::uint64_t monotonic_ns();

}  // namespace lyre
