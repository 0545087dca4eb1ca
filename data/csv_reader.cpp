#include "data/csv_reader.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <unordered_set>

#include "engine/core/error.hpp"
#include "engine/core/strings.hpp"

namespace lyre::data {
namespace {

// Large enough that refills are rare, small enough that a reader costs little.
constexpr std::size_t kBufferBytes = std::size_t{1} << 20;

// A byte as a person can read it in an error message.
std::string describe_byte(char c) {
  const auto u = static_cast<unsigned char>(c);
  if (u >= 0x20 && u < 0x7f) return std::string(1, c);
  return fmt::format("\\x{:02x}", u);
}

// Bytes that end the fast scan of an unquoted field.
constexpr bool is_unquoted_stop(char c) { return c == ',' || c == '\n' || c == '\r' || c == '"'; }

}  // namespace

CsvReader::CsvReader(std::filesystem::path path) : path_(std::move(path)) {
  file_ = std::fopen(path_.c_str(), "rb");
  if (!file_) fail_input("cannot open {}: {}", path_.string(), std::strerror(errno));
  std::error_code ec;
  file_size_ = std::filesystem::file_size(path_, ec);
  if (ec) file_size_ = 0;
  buffer_.resize(kBufferBytes);

  if (!fill()) fail_input("{}: empty file (expected a header row)", path_.string());
  constexpr char kBom[] = {'\xEF', '\xBB', '\xBF'};
  if (end_ >= 3 && std::equal(kBom, kBom + 3, buffer_.begin())) {
    pos_ = 3;
    consumed_ = 3;
  }

  std::vector<std::string_view> fields;
  if (!read_record(fields)) fail_input("{}: empty file (expected a header row)", path_.string());
  std::unordered_set<std::string_view> seen;
  for (const auto field : fields) {
    if (field.empty())
      fail_input("{}: empty column name in the header (column {})", where(path_, record_line_),
                 header_.size() + 1);
    if (!seen.insert(field).second)
      fail_input("{}: column '{}' appears twice in the header", where(path_, record_line_), field);
    header_.emplace_back(field);
  }
}

CsvReader::~CsvReader() {
  if (file_) std::fclose(file_);
}

std::size_t CsvReader::column(std::string_view name) const {
  if (const auto index = find_column(name)) return *index;
  fail_input("{}: missing column '{}' (columns: {})", path_.string(), name, join(header_, ", "));
}

std::optional<std::size_t> CsvReader::find_column(std::string_view name) const {
  const auto it = std::find(header_.begin(), header_.end(), name);
  if (it == header_.end()) return std::nullopt;
  return static_cast<std::size_t>(it - header_.begin());
}

bool CsvReader::next(std::vector<std::string_view>& fields) {
  if (!read_record(fields)) return false;
  if (fields.size() != header_.size())
    fail_input("{}: expected {} fields, found {}", where(path_, record_line_), header_.size(),
               fields.size());
  ++rows_;
  return true;
}

// Refills the buffer once every byte in it has been consumed. Everything a
// record needs has been copied into record_ by then, so the whole buffer is
// free and a record may span any number of refills.
bool CsvReader::fill() {
  if (pos_ < end_) return true;
  if (eof_) return false;
  buffer_offset_ += end_;
  pos_ = 0;
  end_ = std::fread(buffer_.data(), 1, buffer_.size(), file_);
  if (end_ < buffer_.size()) {
    if (std::ferror(file_)) fail_input("cannot read {}: {}", path_.string(), std::strerror(errno));
    eof_ = true;
  }
  return end_ > 0;
}

// Parses one record into record_/field_ends_ and points `fields` at it.
// Returns false at the end of the file. Does not check the field count.
bool CsvReader::read_record(std::vector<std::string_view>& fields) {
  record_.clear();
  field_ends_.clear();

  // Skip blank lines: a record starts at the first byte that is not a line end.
  for (;;) {
    if (!fill()) return false;
    const char c = buffer_[pos_];
    if (c == '\n') {
      ++pos_;
      ++line_;
    } else if (c == '\r') {
      ++pos_;
      if (fill() && buffer_[pos_] == '\n') ++pos_;
      ++line_;
    } else {
      break;
    }
  }
  record_line_ = line_;

  bool record_done = false;
  while (!record_done) {
    if (fill() && buffer_[pos_] == '"') {
      ++pos_;
      read_quoted_field();
      record_done = finish_quoted_field();
    } else {
      record_done = read_unquoted_field();
    }
  }

  consumed_ = buffer_offset_ + pos_;
  fields.resize(field_ends_.size());
  std::size_t begin = 0;
  for (std::size_t i = 0; i < field_ends_.size(); ++i) {
    fields[i] = std::string_view(record_.data() + begin, field_ends_[i] - begin);
    begin = field_ends_[i];
  }
  return true;
}

// Reads an unquoted field up to its separator. Returns true when the field
// ends the record (line end or end of file).
bool CsvReader::read_unquoted_field() {
  for (;;) {
    if (!fill()) {
      field_ends_.push_back(record_.size());
      return true;
    }
    const char* const begin = buffer_.data() + pos_;
    const char* const stop = buffer_.data() + end_;
    const char* p = begin;
    while (p < stop && !is_unquoted_stop(*p)) ++p;
    record_.append(begin, static_cast<std::size_t>(p - begin));
    pos_ = static_cast<std::size_t>(p - buffer_.data());
    if (p == stop) continue;

    const char c = *p;
    ++pos_;
    if (c == ',') {
      field_ends_.push_back(record_.size());
      return false;
    }
    if (c == '\n') {
      field_ends_.push_back(record_.size());
      ++line_;
      return true;
    }
    if (c == '"')
      fail_input(
          "{}: unexpected quote inside an unquoted field (a field holding quotes must "
          "be quoted, with each quote doubled)",
          where(path_, line_));
    // '\r': a line end when a '\n' (or the end of the file) follows, data otherwise.
    if (!fill()) {
      field_ends_.push_back(record_.size());
      return true;
    }
    if (buffer_[pos_] == '\n') {
      ++pos_;
      field_ends_.push_back(record_.size());
      ++line_;
      return true;
    }
    record_.push_back('\r');
  }
}

// Reads the contents of a quoted field (the opening quote is consumed) up to
// and including its closing quote; doubled quotes become one.
void CsvReader::read_quoted_field() {
  const std::size_t start_line = line_;
  for (;;) {
    if (!fill())
      fail_input("{}: unterminated quoted field (it starts here)", where(path_, start_line));
    const char* const begin = buffer_.data() + pos_;
    const std::size_t available = end_ - pos_;
    const auto* quote = static_cast<const char*>(std::memchr(begin, '"', available));
    const std::size_t length = quote ? static_cast<std::size_t>(quote - begin) : available;
    line_ += static_cast<std::size_t>(std::count(begin, begin + length, '\n'));
    record_.append(begin, length);
    pos_ += length;
    if (!quote) continue;

    ++pos_;  // the quote
    if (fill() && buffer_[pos_] == '"') {
      record_.push_back('"');
      ++pos_;
      continue;
    }
    return;
  }
}

// After a closing quote only a separator, a line end or the end of the file
// may follow. Returns true when the field ends the record.
bool CsvReader::finish_quoted_field() {
  field_ends_.push_back(record_.size());
  if (!fill()) return true;
  const char c = buffer_[pos_];
  if (c == ',') {
    ++pos_;
    return false;
  }
  if (c == '\n') {
    ++pos_;
    ++line_;
    return true;
  }
  if (c == '\r') {
    ++pos_;
    if (!fill()) return true;
    if (buffer_[pos_] == '\n') {
      ++pos_;
      ++line_;
      return true;
    }
  }
  fail_input("{}: unexpected character '{}' after a closing quote", where(path_, line_),
             describe_byte(c));
}

}  // namespace lyre::data
