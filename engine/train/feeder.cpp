#include "engine/train/feeder.hpp"

#include <algorithm>
#include <cstring>

#include "engine/core/error.hpp"
#include "engine/core/nvtx.hpp"

namespace lyre {

ResidentFeeder::ResidentFeeder(LayerOps<float>& ops, const CorpusView& corpus, int max_steps,
                               int max_batch, std::size_t max_plan_songs, int max_len)
    : ops_(ops), corpus_(corpus), max_len_(max_len) {
  plan_ids_ = ops_.allocate(std::max<std::size_t>(1, max_plan_songs) * sizeof(std::uint32_t));
  tokens_ = ops_.allocate(static_cast<std::size_t>(max_steps) * static_cast<std::size_t>(max_batch) *
                          sizeof(std::int32_t));
  lengths_ = ops_.allocate(static_cast<std::size_t>(max_batch) * sizeof(std::int32_t));
  labels_ = ops_.allocate(static_cast<std::size_t>(max_batch) * sizeof(std::int32_t));
}

void ResidentFeeder::load_plan(std::span<const BatchPlan> plan) {
  const NvtxRange range("copy.plan");
  plan_ = plan;
  offsets_.clear();
  host_ids_.clear();
  for (const auto& b : plan) {
    offsets_.push_back(host_ids_.size());
    host_ids_.insert(host_ids_.end(), b.songs.begin(), b.songs.end());
  }
  LYRE_CHECK(host_ids_.size() * sizeof(std::uint32_t) <= plan_ids_->bytes(),
             "plan of {} songs exceeds the staging buffer", host_ids_.size());
  ops_.upload(plan_ids_->data(), host_ids_.data(), host_ids_.size() * sizeof(std::uint32_t));
}

BatchInputs ResidentFeeder::batch(std::size_t index) {
  const auto& b = plan_[index];
  const int B = static_cast<int>(b.songs.size());
  ops_.gather_batch(corpus_, plan_ids_->as<std::uint32_t>() + offsets_[index], b.steps, B, max_len_,
                    tokens_->as<std::int32_t>(), lengths_->as<std::int32_t>(),
                    labels_->as<std::int32_t>());
  return BatchInputs{b.steps, B, tokens_->as<std::int32_t>(), lengths_->as<std::int32_t>(),
                     labels_->as<std::int32_t>(), b.lengths.data()};
}

namespace {

class HostStagingChannel final : public StagingChannel {
 public:
  explicit HostStagingChannel(std::size_t slot_bytes) {
    for (auto& s : slots_) s.resize(slot_bytes);
  }
  std::byte* host_slot(int slot) override { return slots_[static_cast<std::size_t>(slot)].data(); }
  std::byte* device_slot(int slot) override { return host_slot(slot); }
  void acquire(int) override {}
  void transfer(int, std::size_t) override {}
  void release(int) override {}

 private:
  std::vector<std::byte> slots_[2];
};

// Slot layout: tokens [T, B] | lengths [B] | labels [B], all int32, packed
// for the batch's own T and B so one copy moves exactly what is needed.
struct SlotLayout {
  std::size_t tokens, lengths, labels, bytes;
  SlotLayout(int steps, int batch) {
    const auto TB = static_cast<std::size_t>(steps) * static_cast<std::size_t>(batch);
    tokens = 0;
    lengths = TB * sizeof(std::int32_t);
    labels = lengths + static_cast<std::size_t>(batch) * sizeof(std::int32_t);
    bytes = labels + static_cast<std::size_t>(batch) * sizeof(std::int32_t);
  }
};

}  // namespace

std::unique_ptr<StagingChannel> make_host_staging_channel(std::size_t slot_bytes) {
  return std::make_unique<HostStagingChannel>(slot_bytes);
}

StreamingFeeder::StreamingFeeder(const FlatCorpus& corpus, std::unique_ptr<StagingChannel> channel,
                                 int max_steps, int max_batch, int max_len)
    : corpus_(corpus),
      channel_(std::move(channel)),
      max_steps_(max_steps),
      max_batch_(max_batch),
      max_len_(max_len) {}

std::size_t StreamingFeeder::slot_bytes(int max_steps, int max_batch) {
  return SlotLayout(max_steps, max_batch).bytes;
}

BatchInputs StreamingFeeder::batch(std::size_t index) {
  const NvtxRange range("copy.h2d");
  const auto& b = plan_[index];
  const int B = static_cast<int>(b.songs.size());
  LYRE_CHECK(b.steps <= max_steps_ && B <= max_batch_, "batch {}x{} exceeds the staging slots",
             b.steps, B);
  const int slot = static_cast<int>(index % 2);
  const SlotLayout layout(b.steps, B);
  channel_->acquire(slot);
  std::byte* host = channel_->host_slot(slot);
  auto* tokens = reinterpret_cast<std::int32_t*>(host + layout.tokens);
  auto* lengths = reinterpret_cast<std::int32_t*>(host + layout.lengths);
  auto* labels = reinterpret_cast<std::int32_t*>(host + layout.labels);
  std::fill(tokens, tokens + static_cast<std::ptrdiff_t>(b.steps) * B, 0);
  for (int col = 0; col < B; ++col) {
    const auto song = b.songs[static_cast<std::size_t>(col)];
    const auto first = corpus_.offsets[song];
    const auto length = std::min<std::uint64_t>(corpus_.offsets[song + 1] - first,
                                                static_cast<std::uint64_t>(max_len_));
    for (std::uint64_t t = 0; t < length; ++t)
      tokens[t * static_cast<std::uint64_t>(B) + static_cast<std::uint64_t>(col)] =
          static_cast<std::int32_t>(corpus_.tokens[first + t]);
    lengths[col] = static_cast<std::int32_t>(length);
    labels[col] = static_cast<std::int32_t>(corpus_.labels[song]);
  }
  channel_->transfer(slot, layout.bytes);
  std::byte* device = channel_->device_slot(slot);
  return BatchInputs{b.steps,
                     B,
                     reinterpret_cast<const std::int32_t*>(device + layout.tokens),
                     reinterpret_cast<const std::int32_t*>(device + layout.lengths),
                     reinterpret_cast<const std::int32_t*>(device + layout.labels),
                     b.lengths.data()};
}

void StreamingFeeder::release(std::size_t index) { channel_->release(static_cast<int>(index % 2)); }

}  // namespace lyre
