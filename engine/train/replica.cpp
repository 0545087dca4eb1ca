#include "engine/train/replica.hpp"

#include "engine/core/error.hpp"
#include "engine/core/nvtx.hpp"

namespace lyre {

FoldReplica::FoldReplica(std::unique_ptr<LayerOps<float>> ops, const ModelSpec& spec,
                         const FeederFactory& feeder, const OptimizerConfig& optimizer,
                         int max_batch, std::uint64_t dropout_seed)
    : ops_(std::move(ops)),
      optimizer_(optimizer),
      dropout_seed_(dropout_seed),
      network_(spec, *ops_, spec.max_len, max_batch),
      feeder_(feeder(*ops_, spec.max_len, max_batch)) {
  const std::size_t n = network_.layout().total();
  adam_m_ = ops_->allocate(n * sizeof(float));
  adam_v_ = ops_->allocate(n * sizeof(float));
  ops_->fill_zero(adam_m_->data(), adam_m_->bytes());
  ops_->fill_zero(adam_v_->data(), adam_v_->bytes());
  counters_ = ops_->allocate(metric_slots(spec.num_classes) * sizeof(double));
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

void FoldReplica::train_batch(std::size_t index) {
  const NvtxRange range("batch");
  const auto batch = feeder_->batch(index);
  ++step_;
  // Each step's dropout mask gets its own counter range: offsets never overlap.
  const auto offset = static_cast<std::uint64_t>(step_) *
                      static_cast<std::uint64_t>(network_.max_batch()) *
                      static_cast<std::uint64_t>(spec().lstm_out());
  network_.forward(batch, true, dropout_seed_, offset);
  network_.loss(batch, counters_->as<double>(), true);
  network_.backward(batch);
  const NvtxRange opt("optimizer");
  const std::size_t first = layout().trainable_offset();
  AdamStep adam{optimizer_.lr,           optimizer_.beta1,     optimizer_.beta2, optimizer_.eps,
                optimizer_.weight_decay, optimizer_.clip_norm, step_};
  ops_->adam(adam, layout().total() - first, network_.params() + first, network_.grads() + first,
             adam_m_->as<float>() + first, adam_v_->as<float>() + first);
  feeder_->release(index);
}

void FoldReplica::eval_batch(std::size_t index) {
  const NvtxRange range("eval.batch");
  const auto batch = feeder_->batch(index);
  network_.forward(batch, false);
  network_.loss(batch, counters_->as<double>(), false);
  feeder_->release(index);
}

void FoldReplica::reset_counters() { ops_->fill_zero(counters_->data(), counters_->bytes()); }

void FoldReplica::set_counters(std::span<const double> counters) {
  LYRE_CHECK(counters.size_bytes() == counters_->bytes(), "counter sizes differ");
  ops_->upload(counters_->data(), counters.data(), counters.size_bytes());
}

std::vector<double> FoldReplica::counters() {
  std::vector<double> out(metric_slots(spec().num_classes));
  ops_->download(out.data(), counters_->data(), out.size() * sizeof(double));
  return out;
}

}  // namespace lyre
