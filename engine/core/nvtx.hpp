// NVTX ranges, so an Nsight Systems timeline reads like the training loop.
//
// Naming convention (see profiling/NVTX.md): "fold 2", "epoch 3", "batch",
// "<layer>.forward" / "<layer>.backward" ("lstm.forward", "attention.backward"),
// "optimizer", "copy.h2d", "eval". NVTX 3 is header-only; without CUDA the
// ranges compile to nothing.
#pragma once

#include <string>

#if defined(LYRE_HAVE_CUDA)
#include <nvtx3/nvToolsExt.h>
#include <unistd.h>
#endif

namespace lyre {

class NvtxRange {
 public:
  explicit NvtxRange(const char* name) {
#if defined(LYRE_HAVE_CUDA)
    nvtxRangePushA(name);
#else
    (void)name;
#endif
  }
  explicit NvtxRange(const std::string& name) : NvtxRange(name.c_str()) {}
  ~NvtxRange() {
#if defined(LYRE_HAVE_CUDA)
    nvtxRangePop();
#endif
  }
  NvtxRange(const NvtxRange&) = delete;
  NvtxRange& operator=(const NvtxRange&) = delete;
};

// Names the calling OS thread in the timeline ("fold 3").
inline void nvtx_name_thread(const std::string& name) {
#if defined(LYRE_HAVE_CUDA)
  nvtxNameOsThreadA(static_cast<uint32_t>(::gettid()), name.c_str());
#else
  (void)name;
#endif
}

}  // namespace lyre
