// libFuzzer harness: the CSV reader (data/csv_reader.*) and the Kaggle join
// built on it (data/corpus.*).
//
// Each input is a CSV file. It is read record by record with CsvReader, then
// given to assemble_corpus twice: as lyrics-data.csv beside the shipped
// artists sample, and as artists-data.csv beside the shipped lyrics sample,
// so the column lookup, genre splitting, language filter, cleaning and the
// join all see it.
#include <cstddef>
#include <cstdint>

#include "data/corpus.hpp"
#include "data/csv_reader.hpp"
#include "tests/fuzz/fuzz_support.hpp"

namespace {

using namespace lyre;
using fuzz::require;

void read_all_records(const std::filesystem::path& path) {
  data::CsvReader reader(path);
  const std::size_t columns = reader.header().size();
  require(columns > 0, "a header with no columns was accepted");
  std::vector<std::string_view> fields;
  std::size_t previous_line = 0;
  std::uint64_t rows = 0;
  while (reader.next(fields)) {
    ++rows;
    require(fields.size() == columns, "next() returned a record of the wrong width");
    require(reader.record_line() > previous_line, "record lines do not increase");
    previous_line = reader.record_line();
  }
  require(reader.rows_read() == rows, "rows_read() disagrees with the records returned");
}

void check_corpus(const data::Corpus& corpus) {
  for (const auto& song : corpus.songs) {
    require(song.token_count >= 1, "the corpus holds a song with no token");
    require(song.label < corpus.genres.size(), "a song's label is not a selected genre");
    require(song.token_begin + song.token_count <= corpus.tokens.size(), "a song's tokens overrun");
    require(song.mark_begin + song.mark_count <= corpus.marks.size(), "a song's marks overrun");
  }
  for (const std::uint32_t t : corpus.tokens)
    require(t < corpus.words.size(), "a token is not in the word table");
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  fuzz::quiet_logging();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto input = fuzz::write_scratch("input.csv", {data, size});
  fuzz::run_reader([&] { read_all_records(input); });

  data::CorpusOptions options;
  options.top_genres = 0;  // keep every genre and song: nothing to refuse for size
  options.per_genre = 0;
  const std::filesystem::path samples = LYRE_FUZZ_SAMPLES_DIR;
  fuzz::run_reader([&] {
    check_corpus(data::assemble_corpus(samples / "artists-data.csv", input, options));
  });
  fuzz::run_reader([&] {
    check_corpus(data::assemble_corpus(input, samples / "lyrics-data.csv", options));
  });
  return 0;
}
