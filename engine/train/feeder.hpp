// Where a replica's batches come from.
//
//  - ResidentFeeder: the corpus lives in backend memory (one copy shared by
//    all folds); a plan's song ids go up once, each batch is gathered there.
//  - StreamingFeeder: the corpus stays on the host (it exceeds
//    cuda.memory_budget_mb); each batch is packed on the host into one of two
//    staging slots and handed to the backend through a StagingChannel (CUDA:
//    pinned memory, a copy stream, events), so packing and copying batch i+1
//    overlap the training of batch i.
// Either way the replica sees the same BatchInputs and trains identically.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "engine/backend/layer_ops.hpp"
#include "engine/train/batching.hpp"

namespace lyre {

class BatchFeeder {
 public:
  virtual ~BatchFeeder() = default;
  // The plan must outlive its batches.
  virtual void load_plan(std::span<const BatchPlan> plan) = 0;
  // Batch `index` of the plan, ready for ops enqueued after this call.
  virtual BatchInputs batch(std::size_t index) = 0;
  // Everything that reads batch `index` has been enqueued.
  virtual void release(std::size_t index) = 0;
};

// The flat corpus on the host: what DeviceCorpus uploads and what the
// streaming feeder packs batches from.
struct FlatCorpus {
  std::vector<std::uint64_t> offsets{0};  // [songs + 1]
  std::vector<std::uint32_t> tokens;
  std::vector<std::uint32_t> labels;
  std::uint64_t bytes() const {
    return offsets.size() * sizeof(std::uint64_t) + tokens.size() * sizeof(std::uint32_t) +
           labels.size() * sizeof(std::uint32_t);
  }
};

class ResidentFeeder final : public BatchFeeder {
 public:
  ResidentFeeder(LayerOps<float>& ops, const CorpusView& corpus, int max_steps, int max_batch,
                 std::size_t max_plan_songs, int max_len);
  void load_plan(std::span<const BatchPlan> plan) override;
  BatchInputs batch(std::size_t index) override;
  void release(std::size_t) override {}

 private:
  LayerOps<float>& ops_;
  CorpusView corpus_;
  int max_len_;
  std::span<const BatchPlan> plan_;
  std::vector<std::size_t> offsets_;
  std::vector<std::uint32_t> host_ids_;
  std::unique_ptr<BackendBuffer> plan_ids_, tokens_, lengths_, labels_;
};

// Moves packed batches from host to backend. Slots are double-buffered; a
// slot is reused only after the work that read it was released.
class StagingChannel {
 public:
  virtual ~StagingChannel() = default;
  virtual std::byte* host_slot(int slot) = 0;
  virtual std::byte* device_slot(int slot) = 0;
  // Blocks the host until the slot's previous batch has been consumed.
  virtual void acquire(int slot) = 0;
  // Copies `bytes` of the slot to the backend, ordered before any work the
  // replica enqueues afterwards.
  virtual void transfer(int slot, std::size_t bytes) = 0;
  // Work enqueued so far is the slot's last use for this batch.
  virtual void release(int slot) = 0;
};

// The CPU backend's channel: host memory is backend memory; nothing to copy.
std::unique_ptr<StagingChannel> make_host_staging_channel(std::size_t slot_bytes);

class StreamingFeeder final : public BatchFeeder {
 public:
  StreamingFeeder(const FlatCorpus& corpus, std::unique_ptr<StagingChannel> channel,
                  int max_steps, int max_batch, int max_len);
  // Bytes one staging slot needs for batches up to max_steps x max_batch.
  static std::size_t slot_bytes(int max_steps, int max_batch);

  void load_plan(std::span<const BatchPlan> plan) override { plan_ = plan; }
  BatchInputs batch(std::size_t index) override;
  void release(std::size_t index) override;

 private:
  const FlatCorpus& corpus_;
  std::unique_ptr<StagingChannel> channel_;
  int max_steps_, max_batch_, max_len_;
  std::span<const BatchPlan> plan_;
};

}  // namespace lyre
