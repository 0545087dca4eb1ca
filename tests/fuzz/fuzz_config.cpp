// libFuzzer harness: the YAML experiment config loader (engine/config/config.*).
//
// Input: a config file, optionally followed by a line "#--set" and one
// key=value override a line (what `--set` passes). It is written as
// configs/input.yaml in the scratch folder beside copies of the shipped
// primary.yaml and ablation.yaml, so `extends:` has real files to follow.
// A config that loads must survive the round trip the run folder relies on:
// to_yaml() of it reads back (parse_config) to the same to_yaml().
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "engine/config/config.hpp"
#include "engine/core/files.hpp"
#include "tests/fuzz/fuzz_support.hpp"

namespace {

using namespace lyre;
using fuzz::require;

constexpr std::string_view kSetMarker = "\n#--set\n";

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  fuzz::quiet_logging();
  const std::filesystem::path shipped = LYRE_FUZZ_CONFIGS_DIR;
  std::filesystem::create_directories(fuzz::scratch_dir() / "configs");
  for (const char* name : {"primary.yaml", "ablation.yaml"})
    fuzz::write_scratch(std::string("configs/") + name, read_text_file(shipped / name));
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const std::size_t marker = text.find(kSetMarker);
  std::vector<std::string> overrides;
  if (marker != std::string_view::npos) {
    std::string_view rest = text.substr(marker + kSetMarker.size());
    while (!rest.empty()) {
      const std::size_t end = std::min(rest.find('\n'), rest.size());
      overrides.emplace_back(rest.substr(0, end));
      rest.remove_prefix(std::min(end + 1, rest.size()));
    }
  }
  const auto path = fuzz::write_scratch("configs/input.yaml", text.substr(0, marker));
  fuzz::run_reader([&] {
    const ExperimentConfig config = load_config(path, overrides);
    const std::string resolved = to_yaml(config);
    std::string again;
    try {
      again = to_yaml(parse_config(resolved, "resolved.yaml"));
    } catch (const InputError& e) {
      fuzz::broken(std::string("the resolved config does not read back: ") + e.what() +
                   "\n--- resolved ---\n" + resolved);
    }
    require(again == resolved, "the resolved config reads back to another config");
  });
  return 0;
}
