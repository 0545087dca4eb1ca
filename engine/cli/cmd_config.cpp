// lyre config: print a config with every key resolved, or the list of keys.
#include <cstdio>

#include <fmt/format.h>

#include "engine/cli/commands.hpp"
#include "engine/config/config.hpp"

namespace lyre::cli {

void add_config_command(CLI::App& root, Commands& commands) {
  struct Options {
    std::string config;
    std::vector<std::string> overrides;
    bool keys = false;
  };
  auto options = std::make_shared<Options>();
  auto* app = root.add_subcommand(
      "config", "validate a config and print it with every key resolved (or --keys: list all keys)");
  app->add_option("--config,-c", options->config, "experiment config (YAML)")
      ->check(CLI::ExistingFile);
  app->add_option("--set,-s", options->overrides, "override a config key (repeatable)")->take_all();
  app->add_flag("--keys", options->keys, "list every key with its type and meaning");
  commands.push_back({app, [options] {
                        if (options->keys) {
                          fmt::print("{}", describe_keys());
                          return 0;
                        }
                        if (options->config.empty()) {
                          fmt::print(stderr, "lyre config: give --config FILE or --keys\n");
                          return 2;
                        }
                        fmt::print("{}", to_yaml(load_config(options->config, options->overrides)));
                        return 0;
                      }});
}

}  // namespace lyre::cli
