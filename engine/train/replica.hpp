// A fold replica: one model with its optimizer state, metric counters and
// execution context (CPU scratch, or a CUDA stream with its own cuBLAS/cuDNN
// handles and workspace). Replicas share nothing mutable, so k of them train
// at once, each driven by its own host thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "engine/backend/layer_ops.hpp"
#include "engine/config/config.hpp"
#include "engine/model/network.hpp"
#include "engine/train/batching.hpp"
#include "engine/train/feeder.hpp"
#include "engine/train/metrics.hpp"

namespace lyre {

// What a checkpoint needs from the replica to continue exactly.
struct OptimizerState {
  std::vector<float> params, m, v;
  std::int64_t step = 0;
};

// Builds the replica's batch feeder on the replica's own execution context,
// for batches up to max_steps x max_batch.
using FeederFactory =
    std::function<std::unique_ptr<BatchFeeder>(LayerOps<float>& ops, int max_steps, int max_batch)>;

class FoldReplica {
 public:
  FoldReplica(std::unique_ptr<LayerOps<float>> ops, const ModelSpec& spec,
              const FeederFactory& feeder, const OptimizerConfig& optimizer, int max_batch,
              std::uint64_t dropout_seed);

  const ModelSpec& spec() const { return network_.spec(); }
  const ParamLayout& layout() const { return network_.layout(); }
  LayerOps<float>& ops() { return *ops_; }
  Network<float>& network() { return network_; }

  void set_parameters(std::span<const float> params);
  std::vector<float> parameters();
  OptimizerState state();
  void restore(const OptimizerState& state);
  std::int64_t step() const { return step_; }

  // The batches to run next (an epoch, or an evaluation); see feeder.hpp.
  void load_plan(std::span<const BatchPlan> plan) { feeder_->load_plan(plan); }
  // Plan batch `index`: forward, loss, backward, Adam (training) or forward
  // and loss only. Asynchronous on CUDA; counters accumulate on the backend.
  void train_batch(std::size_t index);
  void eval_batch(std::size_t index);

  void reset_counters();
  void set_counters(std::span<const double> counters);
  std::vector<double> counters();  // waits for the backend
  EpochMetrics metrics() { return EpochMetrics::from_counters(counters(), spec().num_classes); }

 private:
  std::unique_ptr<LayerOps<float>> ops_;
  OptimizerConfig optimizer_;
  std::uint64_t dropout_seed_;
  Network<float> network_;
  std::unique_ptr<BatchFeeder> feeder_;
  std::unique_ptr<BackendBuffer> adam_m_, adam_v_, counters_;
  std::int64_t step_ = 0;
};

}  // namespace lyre
