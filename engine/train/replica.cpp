#include "engine/train/replica.hpp"

#include "engine/core/error.hpp"
#include "engine/core/nvtx.hpp"

namespace lyre {

FoldReplica::FoldReplica(std::unique_ptr<LayerOps<float>> ops, const ModelSpec& spec,
                         const FeederFactory& feeder, const OptimizerConfig& optimizer,
                         int max_batch, std::uint64_t dropout_seed, BatchShare share,
                         dist::Communicator* comm, BackendKind backend,
                         const float* host_class_weights)
    : ops_(std::move(ops)),
      optimizer_(optimizer),
      dropout_seed_(dropout_seed),
      network_(spec, *ops_, spec.max_len, max_batch),
      feeder_(feeder(*ops_, spec.max_len, max_batch)),
      share_(share) {
  LYRE_CHECK(share.parts >= 1 && share.count >= 1 && share.first >= 0 &&
                 share.first + share.count <= share.parts,
             "batch share {}+{} of {}", share.first, share.count, share.parts);
  const std::size_t n = network_.layout().total();
  adam_m_ = ops_->allocate(n * sizeof(float));
  adam_v_ = ops_->allocate(n * sizeof(float));
  ops_->fill_zero(adam_m_->data(), adam_m_->bytes());
  ops_->fill_zero(adam_v_->data(), adam_v_->bytes());
  counters_ = ops_->allocate(static_cast<std::size_t>(share.count) * slots() * sizeof(double));
  if (share.count > 1) grad_sum_ = ops_->allocate(n * sizeof(float));
  if (host_class_weights) {
    const auto bytes = static_cast<std::size_t>(spec.num_classes) * sizeof(float);
    class_weights_ = ops_->allocate(bytes);
    ops_->upload(class_weights_->data(), host_class_weights, bytes);
  }
  if (comm != nullptr && comm->size() > 1) {
    LYRE_CHECK(share.count == 1 && share.parts == comm->size() && share.first == comm->rank(),
               "rank {} of {} given slices {}+{} of {}", comm->rank(), comm->size(), share.first,
               share.count, share.parts);
    comm_ = comm;
    exchange_ = comm->gradient_exchange(*ops_, backend, n);
  }
  reset_counters();
}

void FoldReplica::set_parameters(std::span<const float> params) {
  LYRE_CHECK(params.size() == layout().total(), "{} parameters given, the model has {}",
             params.size(), layout().total());
  ops_->upload(network_.params(), params.data(), params.size_bytes());
}

std::vector<float> FoldReplica::parameters() {
  std::vector<float> out(layout().total());
  ops_->download(out.data(), network_.params(), out.size() * sizeof(float));
  return out;
}

OptimizerState FoldReplica::state() {
  OptimizerState s;
  s.params = parameters();
  s.m.resize(s.params.size());
  s.v.resize(s.params.size());
  ops_->download(s.m.data(), adam_m_->data(), s.m.size() * sizeof(float));
  ops_->download(s.v.data(), adam_v_->data(), s.v.size() * sizeof(float));
  s.step = step_;
  return s;
}

void FoldReplica::restore(const OptimizerState& s) {
  set_parameters(s.params);
  LYRE_CHECK(s.m.size() == s.params.size() && s.v.size() == s.params.size(),
             "optimizer state sizes differ");
  ops_->upload(adam_m_->data(), s.m.data(), s.m.size() * sizeof(float));
  ops_->upload(adam_v_->data(), s.v.data(), s.v.size() * sizeof(float));
  step_ = s.step;
}

void FoldReplica::load_training_plan(std::span<const BatchPlan> plan) {
  const auto parts = split_batches(plan, share_.parts, share_.first, share_.count);
  feed_plan_.clear();
  slices_.assign(plan.size(), {});
  part_denominators_.clear();
  part_first_song_.clear();
  for (std::size_t i = 0; i < plan.size(); ++i)
    for (int k = 0; k < share_.count; ++k) {
      const auto& part = parts[i * static_cast<std::size_t>(share_.count) + static_cast<std::size_t>(k)];
      if (part.songs.empty()) {
        slices_[i].push_back(-1);
        continue;
      }
      slices_[i].push_back(static_cast<long>(feed_plan_.size()));
      part_denominators_.push_back(part.loss_denominator);
      part_first_song_.push_back(part.first_song);
      feed_plan_.push_back(part);
    }
  feeder_->load_plan(feed_plan_);
}

void FoldReplica::load_eval_plan(std::span<const BatchPlan> plan) {
  slices_.clear();
  feeder_->load_plan(plan);
}

bool FoldReplica::train_batch(std::size_t index, bool stop_wish) {
  const NvtxRange range("batch");
  LYRE_CHECK(index < slices_.size(), "training batch {} of a plan of {}", index, slices_.size());
  ++step_;
  // Each step's dropout masks get their own counter range (offsets never
  // overlap), and a slice uses the masks its songs get in the whole batch.
  const auto step_offset = static_cast<std::uint64_t>(step_) *
                           static_cast<std::uint64_t>(network_.max_batch()) *
                           static_cast<std::uint64_t>(spec().lstm_out());
  const std::size_t n = layout().total();
  float* grads = network_.grads();
  if (grad_sum_) ops_->fill_zero(grad_sum_->data(), grad_sum_->bytes());
  for (int k = 0; k < share_.count; ++k) {
    const long feed = slices_[index][static_cast<std::size_t>(k)];
    if (feed < 0) {  // no song in this slice: it adds a zero gradient
      if (!grad_sum_) ops_->fill_zero(grads, n * sizeof(float));
      continue;
    }
    const auto f = static_cast<std::size_t>(feed);
    const auto batch = feeder_->batch(f);
    const auto offset = step_offset + static_cast<std::uint64_t>(part_first_song_[f]) *
                                          static_cast<std::uint64_t>(spec().lstm_out());
    network_.forward(batch, true, dropout_seed_, offset);
    const LossWeights weights{class_weights_ ? class_weights_->as<float>() : nullptr,
                              part_denominators_[f]};
    network_.loss(batch, counter_block(k), true, weights);
    network_.backward(batch);
    if (grad_sum_) ops_->accumulate(n, grads, grad_sum_->as<float>());
    feeder_->release(f);
  }
  float* total = grad_sum_ ? grad_sum_->as<float>() : grads;
  bool stop = stop_wish;
  if (exchange_) {
    const NvtxRange r("gradient.exchange");
    stop = exchange_->sum(total, stop_wish);
  }
  const NvtxRange opt("optimizer");
  const std::size_t first = layout().trainable_offset();
  AdamStep adam{optimizer_.lr,           optimizer_.beta1,     optimizer_.beta2, optimizer_.eps,
                optimizer_.weight_decay, optimizer_.clip_norm, step_};
  ops_->adam(adam, n - first, network_.params() + first, total + first,
             adam_m_->as<float>() + first, adam_v_->as<float>() + first);
  return stop;
}

void FoldReplica::eval_batch(std::size_t index) {
  const NvtxRange range("eval.batch");
  const auto batch = feeder_->batch(index);
  network_.forward(batch, false);
  network_.loss(batch, counter_block(0), false);
  feeder_->release(index);
}

void FoldReplica::reset_counters() { ops_->fill_zero(counters_->data(), counters_->bytes()); }

std::vector<double> FoldReplica::local_counters() {
  std::vector<double> out(static_cast<std::size_t>(share_.count) * slots());
  ops_->download(out.data(), counters_->data(), out.size() * sizeof(double));
  return out;
}

std::vector<double> FoldReplica::training_counters() {
  auto local = local_counters();
  return comm_ ? comm_->all_gather(local) : local;
}

void FoldReplica::set_training_counters(std::span<const double> all_parts) {
  LYRE_CHECK(all_parts.size() == static_cast<std::size_t>(share_.parts) * slots(),
             "{} training counters for {} parts of {} slots", all_parts.size(), share_.parts,
             slots());
  const auto mine = all_parts.subspan(static_cast<std::size_t>(share_.first) * slots(),
                                      static_cast<std::size_t>(share_.count) * slots());
  ops_->upload(counters_->data(), mine.data(), mine.size_bytes());
}

EpochMetrics FoldReplica::training_metrics() {
  const auto all = training_counters();
  // Parts summed in order from zero: the same additions in every process.
  std::vector<double> sum(slots(), 0.0);
  for (std::size_t k = 0; k < static_cast<std::size_t>(share_.parts); ++k)
    for (std::size_t j = 0; j < slots(); ++j) sum[j] += all[k * slots() + j];
  return EpochMetrics::from_counters(sum, spec().num_classes);
}

EpochMetrics FoldReplica::eval_metrics() {
  std::vector<double> block(slots());
  ops_->download(block.data(), counters_->data(), block.size() * sizeof(double));
  return EpochMetrics::from_counters(block, spec().num_classes);
}

}  // namespace lyre
