// Small string helpers shared by the config parser, the CLI and the reports.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace lyre {

std::string join(std::span<const std::string> items, std::string_view separator);
std::vector<std::string> split(std::string_view text, char separator);
std::string_view trim(std::string_view text);
bool starts_with_ci(std::string_view text, std::string_view prefix);  // ASCII case-insensitive
bool equals_ci(std::string_view a, std::string_view b);

// Levenshtein distance, for "unknown key 'hiden' (did you mean 'hidden'?)".
std::size_t edit_distance(std::string_view a, std::string_view b);
// The closest candidate within a small distance, or "" if none is close.
std::string closest_match(std::string_view word, std::span<const std::string> candidates);

// One CSV field as RFC 4180 wants it: quoted (quotes doubled) when it holds a
// comma, quote or line break.
std::string csv_field(std::string_view text);

// "1,234,567": counts in logs and reports are read by people.
std::string with_thousands(unsigned long long value);

}  // namespace lyre
