// Length-bucketed batches: padding costs little, order stays random.
//
// An epoch's songs are shuffled, cut into windows of `bucket_window` batches,
// each window sorted by length (longest first) and cut into batches, and the
// batches shuffled. Every batch is sorted longest first, as the layer ops
// require. All randomness comes from the Rng passed in.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "engine/core/rng.hpp"

namespace lyre {

struct BatchPlan {
  std::vector<std::uint32_t> songs;    // corpus song indices, longest first
  std::vector<std::int32_t> lengths;   // their truncated lengths (host copy)
  int steps = 0;                       // lengths[0]: the padded length T (0 when empty)
  // The loss is a sum over these songs divided by this (LossWeights): the
  // whole batch's song count for a slice of it, its sum of class weights
  // with train.balance: class_weights; 0 = this batch's own song count.
  double loss_denominator = 0;
  // Position of songs[0] in the whole batch, for a slice: its dropout masks
  // are the ones those songs get in the whole batch.
  int first_song = 0;
};

// `lengths[s]` is song s's full token count; batches use min(length, max_len).
std::vector<BatchPlan> make_training_batches(std::span<const std::uint32_t> songs,
                                             std::span<const std::uint32_t> lengths, int max_len,
                                             int batch_size, int bucket_window, Rng& rng);

// Evaluation: no shuffling, all songs sorted by length so padding is minimal.
std::vector<BatchPlan> make_eval_batches(std::span<const std::uint32_t> songs,
                                         std::span<const std::uint32_t> lengths, int max_len,
                                         int batch_size);

// Slices `first` .. first + count - 1 of every batch cut into `parts`
// contiguous slices of near-equal size (song b of B goes to slice b * parts /
// B ...): entry i * count + k is slice first + k of batch i. A slice may be
// empty when a batch has fewer songs than parts. parts = 1 returns the plan.
std::vector<BatchPlan> split_batches(std::span<const BatchPlan> plan, int parts, int first,
                                     int count);

// Tokens in the plan (real, not padding), for songs/s and tokens/s figures.
std::uint64_t count_tokens(std::span<const BatchPlan> plan);

}  // namespace lyre
