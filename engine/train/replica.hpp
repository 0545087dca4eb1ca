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
#include "engine/dist/communicator.hpp"
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

// Which slices of every training batch this replica computes: the batch is
// cut into `parts` contiguous slices (split_batches) and this replica runs
// slices first .. first + count - 1, summing their gradients in order.
//  - one process, train.micro_batches = M: {M, 0, M}
//  - rank r of R data-parallel ranks:     {R, r, 1}
// Each part keeps its own metric counters, summed in part order at the end of
// an epoch, so an R-rank run and one process with M = R count identically.
struct BatchShare {
  int parts = 1;
  int first = 0;
  int count = 1;
};

class FoldReplica {
 public:
  // `comm` (ranks > 1) sums gradients and counters over the ranks; it must
  // outlive the replica. Its gradient exchange is created here: collective.
  FoldReplica(std::unique_ptr<LayerOps<float>> ops, const ModelSpec& spec,
              const FeederFactory& feeder, const OptimizerConfig& optimizer, int max_batch,
              std::uint64_t dropout_seed, BatchShare share = {},
              dist::Communicator* comm = nullptr, BackendKind backend = BackendKind::cpu,
              const float* host_class_weights = nullptr);

  const ModelSpec& spec() const { return network_.spec(); }
  const ParamLayout& layout() const { return network_.layout(); }
  LayerOps<float>& ops() { return *ops_; }
  Network<float>& network() { return network_; }

  void set_parameters(std::span<const float> params);
  std::vector<float> parameters();
  OptimizerState state();
  void restore(const OptimizerState& state);
  std::int64_t step() const { return step_; }

  const BatchShare& share() const { return share_; }
  bool distributed() const { return exchange_ != nullptr; }

  // An epoch's training batches (whole batches: the replica takes its slices).
  void load_training_plan(std::span<const BatchPlan> plan);
  // Evaluation batches, run whole on every rank (no gradient to share).
  void load_eval_plan(std::span<const BatchPlan> plan);
  // Training batch `index` of the plan: forward, loss, backward of this
  // replica's slices, the gradient sum over slices and ranks, Adam.
  // `stop_wish` is this process's wish to stop; the result is whether the
  // ranks agreed to stop after this batch (always `stop_wish` in a single
  // process). Asynchronous on CUDA; counters accumulate on the backend.
  bool train_batch(std::size_t index, bool stop_wish = false);
  // Evaluation batch `index`: forward and loss into the evaluation counters.
  void eval_batch(std::size_t index);

  void reset_counters();
  // Training counters of every part of every rank, parts in order (what a
  // checkpoint stores mid-epoch); collective when distributed.
  std::vector<double> training_counters();
  void set_training_counters(std::span<const double> all_parts);
  // The epoch's training metrics, parts summed in order; collective.
  EpochMetrics training_metrics();
  // Metrics of the evaluation since reset_counters().
  EpochMetrics eval_metrics();

 private:
  std::unique_ptr<LayerOps<float>> ops_;
  OptimizerConfig optimizer_;
  std::uint64_t dropout_seed_;
  Network<float> network_;
  std::unique_ptr<BatchFeeder> feeder_;
  BatchShare share_;
  dist::Communicator* comm_ = nullptr;
  std::unique_ptr<dist::GradientExchange> exchange_;
  // counters_: share_.count blocks of metric_slots doubles (block 0 also
  // serves evaluation). grad_sum_: the sum of several slices' gradients.
  std::unique_ptr<BackendBuffer> adam_m_, adam_v_, counters_, grad_sum_, class_weights_;
  // For each plan batch, the feeder index of each of this replica's slices
  // (-1: an empty slice, when a batch has fewer songs than parts).
  std::vector<std::vector<long>> slices_;
  std::vector<BatchPlan> feed_plan_;  // the feeder keeps a view of it
  std::vector<double> part_denominators_;  // per feeder index
  std::vector<int> part_first_song_;       // per feeder index
  std::int64_t step_ = 0;

  std::size_t slots() const { return metric_slots(spec().num_classes); }
  double* counter_block(int k) { return counters_->as<double>() + static_cast<std::size_t>(k) * slots(); }
  std::vector<double> local_counters();
};

}  // namespace lyre
