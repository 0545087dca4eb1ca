// lyre: the command-line tool.
#include <cstdio>
#include <exception>

#include "engine/cli/commands.hpp"
#include "engine/core/error.hpp"
#include "engine/core/log.hpp"
#include "engine/core/signals.hpp"
#include "engine/dist/communicator.hpp"

namespace lyre::cli {

void add_config_options(CLI::App& app, ConfigOptions& options, const std::string& out_help) {
  app.add_option("--config,-c", options.config, "experiment config (YAML)")
      ->required()
      ->check(CLI::ExistingFile);
  app.add_option("--out,-o", options.out, out_help);
  app.add_option("--set,-s", options.overrides,
                 "override a config key, e.g. --set model.hidden=64 (repeatable)")
      ->take_all();
}

}  // namespace lyre::cli

namespace {

// An error on one rank of a data-parallel job ends the whole job: the others
// would otherwise wait for it in the next gradient exchange.
int fail_job(int exit_code) {
  lyre::dist::Session::abort_job(exit_code);
  return exit_code;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace lyre;
  const dist::Session mpi;  // MPI_Init when mpirun/srun started several ranks
  CLI::App app{"Lyre: genre classification from lyrics with LSTM + attention, CPU and CUDA"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "lyre 0.1.0");
  bool quiet = false, verbose = false;
  app.add_flag("--quiet,-q", quiet, "only warnings and errors on stderr");
  app.add_flag("--verbose,-v", verbose, "debug log lines");

  cli::Commands commands;
  cli::add_data_commands(app, commands);
  cli::add_config_command(app, commands);
  cli::add_train_commands(app, commands);
  cli::add_predict_command(app, commands);
  cli::add_bench_command(app, commands);
  cli::add_export_command(app, commands);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  log::set_level(quiet ? log::Level::warn : verbose ? log::Level::debug : log::Level::info);

  try {
    for (auto& command : commands)
      if (command.app->parsed()) return command.run();
    return 2;
  } catch (const InputError& e) {
    log::error("{}", e.what());
    return fail_job(2);
  } catch (const Error& e) {
    log::error("{}", e.what());
    return fail_job(1);
  } catch (const std::exception& e) {
    log::error("unexpected failure: {}", e.what());
    return fail_job(1);
  }
}
