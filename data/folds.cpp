#include "data/folds.hpp"

#include <algorithm>
#include <cmath>
#include <map>

#include "engine/core/error.hpp"
#include "engine/core/rng.hpp"

namespace lyre::data {
namespace {

// Independent streams per purpose, so the validation carve-out of a fold is
// not correlated with the fold assignment itself.
constexpr std::uint64_t kValidationStream = 0x76616C6964617465ull;  // "validate"
constexpr std::uint64_t kHoldoutStream = 0x686F6C646F7574ull;       // "holdout"

// Song indices grouped by label, in ascending label order, each group in
// ascending index order (a std::map keeps this deterministic for any labels).
std::map<std::uint32_t, std::vector<std::uint32_t>> group_by_label(
    std::span<const std::uint32_t> labels, std::span<const std::uint32_t> subset) {
  std::map<std::uint32_t, std::vector<std::uint32_t>> groups;
  for (const std::uint32_t song : subset) groups[labels[song]].push_back(song);
  return groups;
}

std::vector<std::uint32_t> all_songs(std::size_t n) {
  std::vector<std::uint32_t> songs(n);
  for (std::size_t i = 0; i < n; ++i) songs[i] = static_cast<std::uint32_t>(i);
  return songs;
}

void shuffle_group(std::vector<std::uint32_t>& group, std::uint64_t seed, std::uint32_t label,
                   std::uint64_t stream) {
  Rng rng(derive_seed(seed, label, stream));
  rng.shuffle(std::span<std::uint32_t>(group));
}

std::size_t rounded_share(std::size_t n, double fraction) {
  return static_cast<std::size_t>(std::llround(static_cast<double>(n) * fraction));
}

void sort_parts(SplitIndices& split) {
  std::sort(split.train.begin(), split.train.end());
  std::sort(split.validation.begin(), split.validation.end());
  std::sort(split.test.begin(), split.test.end());
}

void check_song_count(std::size_t n) {
  if (n > UINT32_MAX) fail_input("{} songs are more than a split can index", n);
}

}  // namespace

std::vector<std::uint32_t> assign_folds(std::span<const std::uint32_t> labels, int k,
                                        std::uint64_t seed) {
  check_song_count(labels.size());
  if (k < 2) fail_input("cv.folds = {}: k-fold cross-validation needs at least 2 folds", k);
  if (static_cast<std::size_t>(k) > labels.size())
    fail_input("cv.folds = {} is more than the {} songs: some folds would be empty", k,
               labels.size());

  std::vector<std::uint32_t> fold_of(labels.size());
  // Dealing continues across labels where the previous label stopped, so the
  // folds' total sizes also stay within one of each other.
  std::uint64_t next = 0;
  for (auto& [label, group] : group_by_label(labels, all_songs(labels.size()))) {
    shuffle_group(group, seed, label, 0);
    for (const std::uint32_t song : group)
      fold_of[song] = static_cast<std::uint32_t>(next++ % static_cast<std::uint64_t>(k));
  }
  return fold_of;
}

SplitIndices fold_split(std::span<const std::uint32_t> labels,
                        std::span<const std::uint32_t> fold_of, int fold,
                        double validation_fraction, std::uint64_t seed) {
  LYRE_CHECK(labels.size() == fold_of.size(), "{} labels but {} fold numbers", labels.size(),
             fold_of.size());
  check_song_count(labels.size());
  const std::uint32_t folds =
      fold_of.empty() ? 0 : *std::max_element(fold_of.begin(), fold_of.end()) + 1;
  if (fold < 0 || static_cast<std::uint32_t>(fold) >= folds)
    fail_input("fold {} does not exist: the songs are split into {} folds", fold, folds);
  if (!(validation_fraction >= 0.0 && validation_fraction < 1.0))
    fail_input("cv.validation = {} must be in [0, 1)", validation_fraction);

  SplitIndices split;
  std::vector<std::uint32_t> rest;
  for (std::uint32_t song = 0; song < fold_of.size(); ++song)
    (fold_of[song] == static_cast<std::uint32_t>(fold) ? split.test : rest).push_back(song);

  const std::uint64_t stream = kValidationStream + static_cast<std::uint64_t>(fold);
  for (auto& [label, group] : group_by_label(labels, rest)) {
    shuffle_group(group, seed, label, stream);
    const std::size_t validation = rounded_share(group.size(), validation_fraction);
    split.validation.insert(split.validation.end(), group.begin(),
                            group.begin() + static_cast<std::ptrdiff_t>(validation));
    split.train.insert(split.train.end(), group.begin() + static_cast<std::ptrdiff_t>(validation),
                       group.end());
  }
  sort_parts(split);
  return split;
}

SplitIndices holdout_split(std::span<const std::uint32_t> labels, double validation, double test,
                           std::uint64_t seed) {
  check_song_count(labels.size());
  if (!(validation >= 0.0 && test >= 0.0 && validation + test < 1.0))
    fail_input("train.split: validation = {} and test = {} must be non-negative and leave songs "
               "for training (sum below 1)",
               validation, test);

  SplitIndices split;
  for (auto& [label, group] : group_by_label(labels, all_songs(labels.size()))) {
    shuffle_group(group, seed, label, kHoldoutStream);
    const std::size_t n_test = rounded_share(group.size(), test);
    // Rounding both shares up can overshoot a tiny group; test wins.
    const std::size_t n_validation =
        std::min(rounded_share(group.size(), validation), group.size() - n_test);
    const auto test_end = group.begin() + static_cast<std::ptrdiff_t>(n_test);
    const auto validation_end = test_end + static_cast<std::ptrdiff_t>(n_validation);
    split.test.insert(split.test.end(), group.begin(), test_end);
    split.validation.insert(split.validation.end(), test_end, validation_end);
    split.train.insert(split.train.end(), validation_end, group.end());
  }
  sort_parts(split);
  return split;
}

}  // namespace lyre::data
