// lyre bench: training throughput as JSON (stdout, or --json FILE).
#include <cstdio>

#include <fmt/format.h>

#include "engine/cli/commands.hpp"
#include "engine/core/files.hpp"
#include "engine/train/bench.hpp"

namespace lyre::cli {

void add_bench_command(CLI::App& root, Commands& commands) {
  auto o = std::make_shared<BenchOptions>();
  auto backend = std::make_shared<std::string>("auto");
  auto precision = std::make_shared<std::string>("fp32");
  auto json_file = std::make_shared<std::string>();
  auto* app = root.add_subcommand(
      "bench", "training throughput of the primary model (songs/s, tokens/s) as JSON");
  app->add_option("--backend,-b", *backend, "auto | cpu | cuda")
      ->check(CLI::IsMember({"auto", "cpu", "cuda"}));
  app->add_option("--json", *json_file, "also write the JSON to this file");
  app->add_option("--songs", o->songs, "songs per fold per timed epoch")->check(CLI::Range(200, 10'000'000));
  app->add_option("--folds", o->folds, "replicas in the concurrent run (CUDA)")->check(CLI::Range(1, 64));
  app->add_option("--threads", o->threads, "CPU threads (0 = all)")->check(CLI::Range(0, 4096));
  app->add_option("--hidden", o->hidden, "LSTM hidden size")->check(CLI::Range(1, 4096));
  app->add_option("--max-len", o->max_len, "tokens kept per song")->check(CLI::Range(1, 100000));
  app->add_option("--batch-size", o->batch_size, "songs per batch")->check(CLI::Range(1, 65536));
  app->add_option("--precision", *precision, "CUDA: fp32 | tf32 | bf16")
      ->check(CLI::IsMember({"fp32", "tf32", "bf16"}));
  app->add_flag("--study", o->study,
                "also time the whole primary study: 5 folds x 15 epochs on 20,000 songs");
  app->add_option("--study-epochs", o->study_epochs, "epochs of the timed study")->check(CLI::Range(1, 1000));
  app->add_option("--work-dir", o->work_dir, "keep the study's corpus and run here");
  commands.push_back({app, [=] {
                        o->backend = *backend == "cpu"    ? BackendKind::cpu
                                     : *backend == "cuda" ? BackendKind::cuda
                                                          : BackendKind::automatic;
                        o->cuda.precision = *precision == "tf32"   ? Precision::tf32
                                            : *precision == "bf16" ? Precision::bf16
                                                                   : Precision::fp32;
                        const auto result = run_benchmark(*o).dump(2) + "\n";
                        if (!json_file->empty()) write_text_file(*json_file, result);
                        fmt::print("{}", result);
                        return 0;
                      }});
}

}  // namespace lyre::cli
