// CsvReader: RFC 4180 parsing through a fixed buffer, and errors that name
// the file and line.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "data/csv_reader.hpp"
#include "engine/core/error.hpp"
#include "engine/core/rng.hpp"
#include "tests/support/test_support.hpp"

namespace lyre::data {
namespace {

using Rows = std::vector<std::vector<std::string>>;

Rows read_all(CsvReader& reader) {
  Rows rows;
  std::vector<std::string_view> fields;
  while (reader.next(fields)) rows.emplace_back(fields.begin(), fields.end());
  return rows;
}

Rows read_all(const std::filesystem::path& path) {
  CsvReader reader(path);
  return read_all(reader);
}

// The InputError message of reading `content` to the end.
std::string error_of(const test::TempDir& dir, std::string_view content) {
  const auto path = test::write_file(dir / "bad.csv", content);
  try {
    CsvReader reader(path);
    read_all(reader);
  } catch (const InputError& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(Csv, ReadsHeaderAndPlainRows) {
  test::TempDir dir;
  const auto path = test::write_file(dir / "a.csv", "a,b,c\n1,2,3\nx,y,z\n");
  CsvReader reader(path);
  EXPECT_EQ(reader.header(), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(reader.column("b"), 1u);
  EXPECT_EQ(reader.find_column("c"), std::optional<std::size_t>(2));
  EXPECT_EQ(reader.find_column("d"), std::nullopt);
  EXPECT_EQ(read_all(reader), (Rows{{"1", "2", "3"}, {"x", "y", "z"}}));
  EXPECT_EQ(reader.rows_read(), 2u);
  EXPECT_EQ(reader.bytes_consumed(), reader.file_size());
}

TEST(Csv, QuotedFieldsHoldNewlinesCommasAndDoubledQuotes) {
  test::TempDir dir;
  const auto path =
      test::write_file(dir / "q.csv",
                       "name,lyric\n"
                       "song,\"line one\nline two, with a comma\n\"\"quoted\"\" word\"\n"
                       "\"a \"\"b\"\"\",\"\"\n");
  CsvReader reader(path);
  std::vector<std::string_view> fields;
  ASSERT_TRUE(reader.next(fields));
  EXPECT_EQ(fields[0], "song");
  EXPECT_EQ(fields[1], "line one\nline two, with a comma\n\"quoted\" word");
  EXPECT_EQ(reader.record_line(), 2u);
  ASSERT_TRUE(reader.next(fields));
  EXPECT_EQ(fields[0], "a \"b\"");
  EXPECT_EQ(fields[1], "");
  EXPECT_EQ(reader.record_line(), 5u);  // the quoted field above spans lines 2-4
  EXPECT_FALSE(reader.next(fields));
}

TEST(Csv, CrlfLineEnds) {
  test::TempDir dir;
  const auto path = test::write_file(dir / "crlf.csv", "a,b\r\n1,\"two\r\nlines\"\r\n3,4\r\n");
  CsvReader reader(path);
  EXPECT_EQ(reader.header(), (std::vector<std::string>{"a", "b"}));
  std::vector<std::string_view> fields;
  ASSERT_TRUE(reader.next(fields));
  EXPECT_EQ(fields[1], "two\r\nlines");  // inside quotes the bytes are data
  ASSERT_TRUE(reader.next(fields));
  EXPECT_EQ(fields[0], "3");
  EXPECT_EQ(fields[1], "4");  // no stray '\r'
  EXPECT_EQ(reader.record_line(), 4u);
  EXPECT_FALSE(reader.next(fields));
}

TEST(Csv, LoneCarriageReturnInUnquotedFieldIsData) {
  test::TempDir dir;
  const auto path = test::write_file(dir / "cr.csv", "a,b\nx\ry,z\n");
  EXPECT_EQ(read_all(path), (Rows{{"x\ry", "z"}}));
}

TEST(Csv, ByteOrderMarkIsSkipped) {
  test::TempDir dir;
  const auto path = test::write_file(dir / "bom.csv",
                                     "\xEF\xBB\xBF"
                                     "ALink,Lyric\n/a/,hi\n");
  CsvReader reader(path);
  EXPECT_EQ(reader.header()[0], "ALink");
  EXPECT_EQ(reader.column("ALink"), 0u);
  EXPECT_EQ(read_all(reader), (Rows{{"/a/", "hi"}}));
}

TEST(Csv, EmptyFieldsAnywhere) {
  test::TempDir dir;
  const auto path = test::write_file(dir / "e.csv", "a,b,c\n,,\n,x,\n\"\",,\"\"\n");
  EXPECT_EQ(read_all(path), (Rows{{"", "", ""}, {"", "x", ""}, {"", "", ""}}));
}

TEST(Csv, LastLineWithoutNewline) {
  test::TempDir dir;
  EXPECT_EQ(read_all(test::write_file(dir / "1.csv", "a,b\n1,2")), (Rows{{"1", "2"}}));
  EXPECT_EQ(read_all(test::write_file(dir / "2.csv", "a,b\n1,\"2\"")), (Rows{{"1", "2"}}));
  EXPECT_EQ(read_all(test::write_file(dir / "3.csv", "a,b\n1,")), (Rows{{"1", ""}}));
  EXPECT_EQ(read_all(test::write_file(dir / "4.csv", "a,b\n1,2\r")), (Rows{{"1", "2"}}));
}

TEST(Csv, BlankLinesBetweenRecordsAreSkipped) {
  test::TempDir dir;
  const auto path = test::write_file(dir / "b.csv", "a,b\n\n1,2\n\r\n\n3,4\n\n");
  CsvReader reader(path);
  std::vector<std::string_view> fields;
  ASSERT_TRUE(reader.next(fields));
  EXPECT_EQ(reader.record_line(), 3u);
  ASSERT_TRUE(reader.next(fields));
  EXPECT_EQ(fields[0], "3");
  EXPECT_EQ(reader.record_line(), 6u);
  EXPECT_FALSE(reader.next(fields));
  EXPECT_EQ(reader.rows_read(), 2u);
}

TEST(Csv, FieldCountMismatchNamesTheRecordsFirstLine) {
  test::TempDir dir;
  const std::string message = error_of(dir, "a,b,c\n1,2,3\n\"multi\nline\",2\n4,5,6\n");
  EXPECT_NE(message.find("bad.csv:3: expected 3 fields, found 2"), std::string::npos) << message;
  EXPECT_NE(error_of(dir, "a,b\n1,2,3\n").find("bad.csv:2: expected 2 fields, found 3"),
            std::string::npos);
}

TEST(Csv, UnterminatedQuoteNamesTheLineWhereItStarts) {
  test::TempDir dir;
  const std::string message = error_of(dir, "a,b\n1,2\n3,\"never\nclosed\nat all\n");
  EXPECT_NE(message.find("bad.csv:3: unterminated quoted field (it starts here)"),
            std::string::npos)
      << message;
}

TEST(Csv, GarbageAfterClosingQuoteIsAnError) {
  test::TempDir dir;
  const std::string message = error_of(dir, "a,b\n1,2\n\"x\nmore\"y,2\n");
  EXPECT_NE(message.find("bad.csv:4: unexpected character 'y' after a closing quote"),
            std::string::npos)
      << message;
  // A space is as wrong as a letter: RFC 4180 has no padding around quotes.
  EXPECT_NE(error_of(dir, "a\n\"x\" \n").find("bad.csv:2: unexpected character ' '"),
            std::string::npos);
}

TEST(Csv, BareQuoteInsideUnquotedFieldIsAnError) {
  test::TempDir dir;
  const std::string message = error_of(dir, "a,b\n1,2\nsay \"hi\",2\n");
  EXPECT_NE(message.find("bad.csv:3: unexpected quote inside an unquoted field"), std::string::npos)
      << message;
}

TEST(Csv, MissingColumnListsTheColumns) {
  test::TempDir dir;
  const auto path = test::write_file(dir / "m.csv", "ALink,SName,Idiom\n");
  CsvReader reader(path);
  try {
    reader.column("Lyric");
    FAIL() << "expected an InputError";
  } catch (const InputError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("m.csv: missing column 'Lyric' (columns: ALink, SName, Idiom)"),
              std::string::npos)
        << message;
  }
}

TEST(Csv, BadHeadersAreRejected) {
  test::TempDir dir;
  EXPECT_NE(error_of(dir, "a,,c\n").find("bad.csv:1: empty column name"), std::string::npos);
  EXPECT_NE(error_of(dir, "a,b,a\n").find("bad.csv:1: column 'a' appears twice"),
            std::string::npos);
}

TEST(Csv, EmptyFileIsAnError) {
  test::TempDir dir;
  EXPECT_NE(error_of(dir, "").find("bad.csv: empty file"), std::string::npos);
  EXPECT_NE(error_of(dir, "\n\n").find("bad.csv: empty file"), std::string::npos);
  EXPECT_NE(error_of(dir, "\xEF\xBB\xBF").find("bad.csv: empty file"), std::string::npos);
}

TEST(Csv, HeaderOnlyFileHasNoRows) {
  test::TempDir dir;
  const auto path = test::write_file(dir / "h.csv", "a,b\n");
  EXPECT_TRUE(read_all(path).empty());
}

TEST(Csv, UnreadablePathIsAnInputError) {
  test::TempDir dir;
  EXPECT_THROW(CsvReader(dir / "absent.csv"), InputError);
  EXPECT_THROW(CsvReader(dir.path()), InputError);  // a directory
}

// A field far longer than the 1 MiB read buffer arrives whole, with the
// lines inside it counted.
TEST(Csv, FieldLongerThanTheBuffer) {
  test::TempDir dir;
  std::string big;
  for (int i = 0; big.size() < 3'500'000; ++i) big += "line " + std::to_string(i) + ", \"q\"\n";
  std::string escaped;
  for (const char c : big) {
    if (c == '"') escaped += '"';
    escaped += c;
  }
  const auto newlines = static_cast<std::size_t>(std::count(big.begin(), big.end(), '\n'));
  const auto path = test::write_file(dir / "big.csv", "a,b\nfirst,\"" + escaped + "\"\nlast,row\n");
  CsvReader reader(path);
  std::vector<std::string_view> fields;
  ASSERT_TRUE(reader.next(fields));
  EXPECT_EQ(fields[0], "first");
  EXPECT_EQ(fields[1], big);
  ASSERT_TRUE(reader.next(fields));
  EXPECT_EQ(fields[0], "last");
  EXPECT_EQ(reader.record_line(), 3 + newlines);
  EXPECT_FALSE(reader.next(fields));
}

// Round trip of many random records (quotes, commas, CR/LF, empty fields)
// through a file several buffers long, so that records, doubled quotes and
// CRLF pairs fall across buffer refills at many different offsets.
TEST(Csv, RandomRecordsSurviveBufferBoundaries) {
  constexpr std::string_view kAlphabet = "ab,\"\n\r x";
  Rng rng(99);
  Rows expected;
  std::string file = "c1,c2,c3\r\n";
  while (file.size() < 3'300'000) {
    std::vector<std::string> row;
    for (int c = 0; c < 3; ++c) {
      std::string field;
      const std::size_t length = rng.below(4) == 0 ? rng.below(3000) : rng.below(12);
      for (std::size_t i = 0; i < length; ++i) field += kAlphabet[rng.below(kAlphabet.size())];
      if (c) file += ',';
      const bool must_quote = field.find_first_of(",\"\n\r") != std::string::npos;
      if (must_quote || rng.below(3) == 0) {
        file += '"';
        for (const char ch : field) {
          if (ch == '"') file += '"';
          file += ch;
        }
        file += '"';
      } else {
        file += field;
      }
      row.push_back(std::move(field));
    }
    file += rng.below(2) ? "\r\n" : "\n";
    expected.push_back(std::move(row));
  }
  test::TempDir dir;
  const auto path = test::write_file(dir / "random.csv", file);
  CsvReader reader(path);
  const Rows rows = read_all(reader);
  ASSERT_EQ(rows.size(), expected.size());
  for (std::size_t i = 0; i < rows.size(); ++i) ASSERT_EQ(rows[i], expected[i]) << "row " << i;
  EXPECT_EQ(reader.bytes_consumed(), file.size());
}

}  // namespace
}  // namespace lyre::data
