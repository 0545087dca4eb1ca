// Benchmark (not a test) of `lyre prepare` on a synthetic corpus the size of
// the real lyrics file: 380,000 rows in the exact Kaggle format, read as
// Kaggle files (the synthetic CSVs are written first and not timed).
//
//   build/release/profiling/bench_prepare [--rows=N] [--benchmark_repetitions=3]
//
// Counters: lyric rows per second, selected songs, and the process's peak
// resident memory (prepare is what dominates it: the synthesis streams).
#include <benchmark/benchmark.h>

#include <filesystem>
#include <string>

#include <unistd.h>

#include "data/prepare.hpp"
#include "data/synth.hpp"
#include "engine/core/log.hpp"
#include "engine/core/system.hpp"

namespace {

std::int64_t g_rows = 380'000;

void BM_Prepare(benchmark::State& state) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("lyre-bench-prepare-" + std::to_string(::getpid()));
  const auto raw = lyre::data::write_synthetic_kaggle(dir / "raw", {g_rows, 7});
  lyre::ExperimentConfig config;
  config.data.source = lyre::DataSource::kaggle;
  config.data.artists_csv = raw.artists_csv.string();
  config.data.lyrics_csv = raw.lyrics_csv.string();
  config.data.per_genre = 0;  // every English song of the top 10 genres
  config.data.prepared = (dir / "prepared").string();
  std::uint64_t selected = 0;
  for (auto _ : state) {
    const auto result = lyre::data::run_prepare(config, {});
    selected = result.report.at("songs").get<std::uint64_t>();
  }
  const double rows = static_cast<double>(raw.lyric_rows);
  state.counters["rows_per_second"] =
      benchmark::Counter(rows * static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
  state.counters["lyric_rows"] = rows;
  state.counters["selected_songs"] = static_cast<double>(selected);
  state.counters["peak_rss_MB"] = static_cast<double>(lyre::peak_rss_bytes()) / (1 << 20);
  state.counters["csv_MB"] = static_cast<double>(fs::file_size(raw.lyrics_csv)) / (1 << 20);
  fs::remove_all(dir);
}
BENCHMARK(BM_Prepare)->Unit(benchmark::kSecond)->Iterations(1)->UseRealTime();

}  // namespace

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg.rfind("--rows=", 0) == 0) g_rows = std::stoll(arg.substr(7));
  }
  lyre::log::set_level(lyre::log::Level::warn);
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
