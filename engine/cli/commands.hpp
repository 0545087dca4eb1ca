// The `lyre` subcommands. Each file in engine/cli/ registers its commands on
// the CLI11 app; main() runs the one the user chose and maps errors to exit
// codes (0 ok, 1 failure, 2 bad input or usage, 128+N stopped by signal N).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

namespace lyre::cli {

struct Command {
  CLI::App* app = nullptr;
  std::function<int()> run;
};

using Commands = std::vector<Command>;

void add_data_commands(CLI::App& root, Commands& commands);    // synth, prepare, inspect
void add_config_command(CLI::App& root, Commands& commands);   // config
void add_train_commands(CLI::App& root, Commands& commands);   // train, ablate, report
void add_predict_command(CLI::App& root, Commands& commands);  // predict
void add_bench_command(CLI::App& root, Commands& commands);    // bench
void add_export_command(CLI::App& root, Commands& commands);   // export

// The options every config-driven command shares: --config, --out, --set.
struct ConfigOptions {
  std::string config;
  std::string out;
  std::vector<std::string> overrides;
};
void add_config_options(CLI::App& app, ConfigOptions& options, const std::string& out_help);

}  // namespace lyre::cli
