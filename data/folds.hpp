// Splits: stratified k-fold for cross-validation, stratified hold-out for
// single runs. Deterministic for a seed; every index lands in exactly one part.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace lyre::data {

// Fold (0..k-1) of each song. Within each label the songs are shuffled with
// the seed and dealt round-robin, so every fold holds each label's songs to
// within one. InputError if k < 2 or k exceeds the number of songs.
std::vector<std::uint32_t> assign_folds(std::span<const std::uint32_t> labels, int k,
                                        std::uint64_t seed);

struct SplitIndices {
  std::vector<std::uint32_t> train;
  std::vector<std::uint32_t> validation;
  std::vector<std::uint32_t> test;
};

// Fold `fold` as test; the other folds' songs split into train and a
// stratified `validation_fraction` for per-epoch validation. Each part sorted
// ascending.
SplitIndices fold_split(std::span<const std::uint32_t> labels,
                        std::span<const std::uint32_t> fold_of, int fold,
                        double validation_fraction, std::uint64_t seed);

// Stratified train / validation / test split for single runs: per label,
// round(n * test) songs go to test, round(n * validation) to validation, the
// rest to train. Each part sorted ascending.
SplitIndices holdout_split(std::span<const std::uint32_t> labels, double validation, double test,
                           std::uint64_t seed);

}  // namespace lyre::data
