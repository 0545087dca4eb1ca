// The tokenized corpus in backend memory: one read-only copy that every fold
// replica gathers its batches from (design.md: "all folds train at once ...
// over one read-only copy of the tokenized corpus on the device").
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "data/shard.hpp"
#include "engine/backend/layer_ops.hpp"
#include "engine/train/feeder.hpp"

namespace lyre {

// The prepared shards as flat host arrays (one copy).
FlatCorpus flatten(const data::PreparedCorpus& corpus);

class DeviceCorpus {
 public:
  // Uploads the corpus through `ops`, which the DeviceCorpus keeps (it must
  // outlive every replica that reads the view).
  DeviceCorpus(const FlatCorpus& corpus, std::unique_ptr<LayerOps<float>> ops);

  const CorpusView& view() const { return view_; }

 private:
  std::unique_ptr<LayerOps<float>> ops_;
  std::unique_ptr<BackendBuffer> tokens_, offsets_, labels_;
  CorpusView view_;
};

}  // namespace lyre
