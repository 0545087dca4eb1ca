// libFuzzer harness: the checkpoint reader (engine/train/checkpoint.*).
//
// Input: a mode byte, then a checkpoint file (fuzz_support.hpp; bit 0 clear =
// payload, the harness appends checksum and trailer). It is read the way
// `lyre predict` reads it (load_stored_model: the spec comes from the file)
// and then the way `--resume` does (load_checkpoint against that spec and
// vocabulary hash, which must then accept it too). What is accepted must fit
// the model it describes: as many parameters as its layout has, Adam moments
// of the same size.
#include <cstddef>
#include <cstdint>

#include "engine/model/param_layout.hpp"
#include "engine/train/checkpoint.hpp"
#include "tests/fuzz/fuzz_support.hpp"

namespace {

using namespace lyre;
using fuzz::require;

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  fuzz::quiet_logging();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const fuzz::BinaryInput input = fuzz::binary_input(data, size);
  const auto path = fuzz::write_scratch("checkpoint.bin", input.file);
  fuzz::run_reader([&] {
    const StoredModel stored = load_stored_model(path);
    const std::size_t params = ParamLayout(stored.spec).total();
    require(stored.params.size() == params, "stored parameters do not fit the stored model");
    FoldCheckpoint resumed;
    try {
      resumed = load_checkpoint(path, stored.spec, stored.vocab_hash);
    } catch (const InputError& e) {
      fuzz::broken(std::string("load_stored_model accepted what load_checkpoint refuses: ") +
                   e.what());
    }
    require(resumed.optimizer.params.size() == params &&
                resumed.optimizer.m.size() == params && resumed.optimizer.v.size() == params,
            "parameters or Adam moments do not fit the model");
    require(resumed.best_params.empty() || resumed.best_params.size() == params,
            "best parameters do not fit the model");
    require(resumed.finished == stored.finished, "the two readers disagree on 'finished'");
  });
  return 0;
}
