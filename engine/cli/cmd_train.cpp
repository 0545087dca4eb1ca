// lyre train | ablate | report
#include <cstdio>

#include <fmt/format.h>

#include "engine/cli/commands.hpp"
#include "engine/config/config.hpp"
#include "engine/core/error.hpp"
#include "engine/core/log.hpp"
#include "engine/core/signals.hpp"
#include "engine/core/strings.hpp"
#include "engine/report/report.hpp"
#include "engine/train/run_dir.hpp"
#include "engine/train/trainer.hpp"

namespace lyre::cli {
namespace {

struct TrainOptions {
  ConfigOptions config;
  std::string resume;
  std::uint64_t stop_after_batches = 0;
  bool no_report = false;
  std::string folds;  // --folds 0,3: cv.folds_subset
};

int finish(const RunOutcome& outcome, bool ablation) {
  const int stopped = 128 + (outcome.stop_signal ? outcome.stop_signal : 2);
  if (!outcome.primary) return outcome.interrupted ? stopped : 0;  // rank 0 reports
  if (outcome.interrupted) {
    if (outcome.joined) {
      log::warn("interrupted: checkpoints saved; the same `lyre train --folds ... --out {}` "
                "command continues these folds",
                outcome.dir.string());
    } else {
      log::warn("interrupted: checkpoints saved; continue with `lyre {} --resume {}`",
                ablation ? "ablate" : "train", outcome.dir.string());
    }
    return stopped;
  }
  if (outcome.partial) {
    fmt::print("run folder: {}\nthis task's folds are done; still to train: {}\n",
               outcome.dir.string(), join(outcome.unfinished, "; "));
    return 0;
  }
  fmt::print("\n{}\n", ablation ? ablation_markdown(outcome.summary) : summary_markdown(outcome.summary));
  fmt::print("run folder: {}\nreport:     {}\n", outcome.dir.string(),
             (outcome.dir / "report" / "index.html").string());
  return 0;
}

int run(const TrainOptions& o, bool ablation) {
  const StopSignals signals;  // SIGINT/SIGTERM: checkpoint at the next batch, then exit
  const RunOptions options{o.resume.empty() ? o.config.out : std::string(), o.stop_after_batches,
                           !o.no_report};
  if (!o.resume.empty()) {
    if (!o.config.config.empty() || !o.config.overrides.empty() || !o.folds.empty())
      fail_input("--resume continues a run with its own saved config; drop --config and --set");
    return finish(resume_run(o.resume, options), ablation);
  }
  if (o.config.config.empty()) fail_input("give --config FILE (or --resume RUN_DIR)");
  auto overrides = o.config.overrides;
  if (!o.folds.empty()) overrides.push_back("cv.folds_subset=" + o.folds);
  const auto config = load_config(o.config.config, overrides);
  return finish(ablation ? run_ablation(config, options) : run_training(config, options), ablation);
}

void add_run_command(CLI::App& root, Commands& commands, const char* name, const char* help,
                     bool ablation) {
  auto o = std::make_shared<TrainOptions>();
  auto* app = root.add_subcommand(name, help);
  app->add_option("--config,-c", o->config.config, "experiment config (YAML)")
      ->check(CLI::ExistingFile);
  app->add_option("--out,-o", o->config.out,
                  "run folder to create (default: <output>/<name>-<timestamp>)");
  app->add_option("--set,-s", o->config.overrides, "override a config key (repeatable)")
      ->take_all();
  app->add_option("--resume", o->resume, "continue an interrupted run from its checkpoints")
      ->check(CLI::ExistingDirectory);
  app->add_flag("--no-report", o->no_report, "skip the HTML/SVG report");
  if (!ablation)
    app->add_option("--folds", o->folds,
                    "train only these folds (e.g. 0,3) into the run folder --out that the "
                    "other tasks share; the last to finish writes the summary");
  app->add_option("--stop-after-batches", o->stop_after_batches,
                  "stop as if interrupted after N training batches (for testing resume)")
      ->group("");  // hidden
  commands.push_back({app, [o, ablation] { return run(*o, ablation); }});
}

}  // namespace

void add_train_commands(CLI::App& root, Commands& commands) {
  add_run_command(root, commands, "train",
                  "train and evaluate: k-fold cross-validation (cv.folds) or one "
                  "train/validation/test run",
                  false);
  add_run_command(root, commands, "ablate",
                  "train every ablation variant of the config over the same folds and compare",
                  true);
  auto merged = std::make_shared<std::string>();
  auto* merge = root.add_subcommand(
      "merge", "write the summary and report of a run whose folds separate tasks trained (--folds)");
  merge->add_option("run", *merged, "run folder")->required()->check(CLI::ExistingDirectory);
  auto merge_no_report = std::make_shared<bool>(false);
  merge->add_flag("--no-report", *merge_no_report, "skip the HTML/SVG report");
  commands.push_back({merge, [merged, merge_no_report] {
                        RunOptions options;
                        options.write_report = !*merge_no_report;
                        return finish(merge_run(*merged, options), false);
                      }});
  auto dir = std::make_shared<std::string>();
  auto* app = root.add_subcommand("report", "(re)draw the HTML/SVG report of a run folder");
  app->add_option("run", *dir, "run folder")->required()->check(CLI::ExistingDirectory);
  commands.push_back({app, [dir] {
                        const std::filesystem::path run_dir(*dir);
                        const auto index = std::filesystem::exists(run_dir / "ablation.json")
                                               ? write_ablation_report(run_dir)
                                               : write_run_report(run_dir);
                        fmt::print("{}\n", index.string());
                        return 0;
                      }});
}

}  // namespace lyre::cli
