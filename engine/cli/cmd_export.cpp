// lyre export: a fold's trained weights for another framework (PyTorch, via safetensors).
#include <fmt/format.h>

#include "engine/cli/commands.hpp"
#include "engine/core/log.hpp"
#include "engine/train/export_safetensors.hpp"

namespace lyre::cli {
namespace {

struct ExportArgs {
  std::string run;
  int fold = 0;
  std::string format = "safetensors";
  std::string out;
};

int run_export(const ExportArgs& a) {
  const auto result = export_fold({a.run, a.fold, a.format, a.out});
  log::info("wrote {}: {} tensors, {} parameters, {} bytes", result.path.string(), result.tensors,
            result.parameters, result.bytes);
  fmt::print("{}\n", result.path.string());  // stdout: the path alone, for scripts
  return 0;
}

}  // namespace

void add_export_command(CLI::App& root, Commands& commands) {
  auto a = std::make_shared<ExportArgs>();
  auto* app = root.add_subcommand(
      "export", "write one fold's trained weights as safetensors, loadable in PyTorch "
                "(tests/reference/load_safetensors.py)");
  // No CLI11 checks on the run, fold or format: export_fold refuses a wrong
  // one with an InputError naming it, like every other bad input.
  app->add_option("run", a->run, "finished run folder")->required();
  app->add_option("--fold", a->fold, "the fold whose weights to write")->required();
  app->add_option("--format", a->format, "export format (default and only one: safetensors)");
  app->add_option("--out,-o", a->out, "file to write (default: RUN/export/fold-K.safetensors)");
  commands.push_back({app, [a] { return run_export(*a); }});
}

}  // namespace lyre::cli
