// Streaming RFC 4180 CSV reader.
//
// Handles quoted fields with embedded newlines, commas and doubled quotes,
// CRLF or LF line ends, and a UTF-8 byte-order mark. Reads the file through a
// fixed-size buffer (the real lyrics file is a few hundred MB; we never hold it
// whole). Columns are found by header name. Every error is an InputError that
// names the file and the line:
//   "lyrics-data.csv:1042: expected 5 fields, found 4"
//   "lyrics-data.csv:77: unterminated quoted field (it starts here)"
//   "lyrics-data.csv:90: unexpected character 'x' after a closing quote"
#pragma once

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace lyre::data {

class CsvReader {
 public:
  // Opens the file and reads the header row. InputError if the file cannot be
  // opened, is empty, or its header has an empty or repeated column name.
  explicit CsvReader(std::filesystem::path path);
  ~CsvReader();
  CsvReader(const CsvReader&) = delete;
  CsvReader& operator=(const CsvReader&) = delete;

  const std::vector<std::string>& header() const { return header_; }
  // Index of a column; InputError "file: missing column 'Lyric' (columns: ...)".
  std::size_t column(std::string_view name) const;
  std::optional<std::size_t> find_column(std::string_view name) const;

  // Reads the next record into `fields` (one string_view per column, valid
  // until the next call). Returns false at the end of the file. A record
  // whose field count differs from the header's is an InputError. A blank
  // line (no characters at all) between records is skipped.
  bool next(std::vector<std::string_view>& fields);

  // 1-based physical line on which the last record returned by next() starts.
  std::size_t record_line() const { return record_line_; }
  // Data rows returned so far (the header is not counted).
  std::uint64_t rows_read() const { return rows_; }
  std::uint64_t bytes_consumed() const { return consumed_; }
  std::uint64_t file_size() const { return file_size_; }
  const std::filesystem::path& path() const { return path_; }

 private:
  bool read_record(std::vector<std::string_view>& fields);
  bool read_unquoted_field();
  void read_quoted_field();
  bool finish_quoted_field();
  bool fill();

  std::filesystem::path path_;
  std::FILE* file_ = nullptr;
  std::uint64_t file_size_ = 0;
  std::vector<char> buffer_;   // raw bytes read from the file
  std::size_t pos_ = 0;        // next unread byte in buffer_
  std::size_t end_ = 0;        // bytes valid in buffer_
  std::uint64_t buffer_offset_ = 0;  // file offset of buffer_[0]
  bool eof_ = false;
  std::string record_;         // unescaped field bytes of the current record
  std::vector<std::size_t> field_ends_;
  std::vector<std::string> header_;
  std::size_t line_ = 1;       // current physical line
  std::size_t record_line_ = 0;
  std::uint64_t rows_ = 0;
  std::uint64_t consumed_ = 0;
};

}  // namespace lyre::data
