#include "data/folds.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "engine/core/error.hpp"
#include "tests/support/test_support.hpp"

namespace lyre::data {
namespace {

using test::input_error;
using test::contains;

// 103 songs in three uneven, interleaved classes (50 / 33 / 20), plus a sparse
// label value to show labels need not be dense.
std::vector<std::uint32_t> uneven_labels() {
  std::vector<std::uint32_t> labels;
  for (int i = 0; i < 50; ++i) labels.push_back(0);
  for (int i = 0; i < 33; ++i) labels.push_back(7);
  for (int i = 0; i < 20; ++i) labels.push_back(2);
  // Interleave deterministically so groups are not contiguous.
  std::vector<std::uint32_t> mixed(labels.size());
  for (std::size_t i = 0; i < labels.size(); ++i) mixed[(i * 37) % labels.size()] = labels[i];
  return mixed;
}

std::map<std::uint32_t, std::size_t> per_label(std::span<const std::uint32_t> labels,
                                               std::span<const std::uint32_t> songs) {
  std::map<std::uint32_t, std::size_t> counts;
  for (const std::uint32_t s : songs) ++counts[labels[s]];
  return counts;
}

std::vector<std::uint32_t> songs_in_fold(std::span<const std::uint32_t> fold_of, std::uint32_t fold) {
  std::vector<std::uint32_t> songs;
  for (std::uint32_t s = 0; s < fold_of.size(); ++s)
    if (fold_of[s] == fold) songs.push_back(s);
  return songs;
}

TEST(Folds, EverySongLandsInExactlyOneFold) {
  const auto labels = uneven_labels();
  const auto fold_of = assign_folds(labels, 5, 42);
  ASSERT_EQ(fold_of.size(), labels.size());
  std::set<std::uint32_t> seen;
  std::size_t total = 0;
  for (std::uint32_t f = 0; f < 5; ++f) {
    const auto songs = songs_in_fold(fold_of, f);
    EXPECT_FALSE(songs.empty());
    total += songs.size();
    seen.insert(songs.begin(), songs.end());
  }
  EXPECT_EQ(total, labels.size());  // disjoint
  EXPECT_EQ(seen.size(), labels.size());  // covering
  for (const std::uint32_t f : fold_of) EXPECT_LT(f, 5u);
}

TEST(Folds, StratifiedWithinOnePerLabelAndOverall) {
  const auto labels = uneven_labels();
  for (const int k : {2, 3, 5, 7, 10}) {
    const auto fold_of = assign_folds(labels, k, 9);
    std::map<std::uint32_t, std::vector<std::size_t>> sizes;  // label -> per-fold count
    std::vector<std::size_t> totals(static_cast<std::size_t>(k));
    for (std::uint32_t f = 0; f < static_cast<std::uint32_t>(k); ++f) {
      const auto songs = songs_in_fold(fold_of, f);
      totals[f] = songs.size();
      for (const auto& [label, n] : per_label(labels, songs)) {
        sizes[label].resize(static_cast<std::size_t>(k));
        sizes[label][f] = n;
      }
    }
    for (auto& [label, counts] : sizes) {
      counts.resize(static_cast<std::size_t>(k));
      const auto [lo, hi] = std::minmax_element(counts.begin(), counts.end());
      EXPECT_LE(*hi - *lo, 1u) << "k=" << k << " label " << label;
    }
    const auto [lo, hi] = std::minmax_element(totals.begin(), totals.end());
    EXPECT_LE(*hi - *lo, 1u) << "k=" << k;
  }
}

TEST(Folds, DeterministicForASeedAndSensitiveToIt) {
  const auto labels = uneven_labels();
  EXPECT_EQ(assign_folds(labels, 5, 42), assign_folds(labels, 5, 42));
  EXPECT_NE(assign_folds(labels, 5, 42), assign_folds(labels, 5, 43));
}

TEST(Folds, ShufflesWithinALabel) {
  // One label, 40 songs, k = 4: dealt round-robin without a shuffle this would be 0,1,2,3,...
  const std::vector<std::uint32_t> labels(40, 0);
  const auto fold_of = assign_folds(labels, 4, 1);
  std::vector<std::uint32_t> unshuffled(40);
  for (std::uint32_t i = 0; i < 40; ++i) unshuffled[i] = i % 4;
  EXPECT_NE(fold_of, unshuffled);
}

TEST(Folds, KMustBeAtLeastTwoAndAtMostTheSongCount) {
  const std::vector<std::uint32_t> labels = {0, 1, 0};
  EXPECT_TRUE(contains(input_error([&] { assign_folds(labels, 1, 0); }), "needs at least 2 folds"));
  EXPECT_TRUE(contains(input_error([&] { assign_folds(labels, 0, 0); }), "cv.folds = 0"));
  EXPECT_TRUE(contains(input_error([&] { assign_folds(labels, 4, 0); }), "cv.folds = 4 is more than the 3 songs"));
  EXPECT_EQ(assign_folds(labels, 3, 0).size(), 3u);
}

void expect_partition(const SplitIndices& split, std::size_t n) {
  std::vector<std::uint32_t> all;
  for (const auto* part : {&split.train, &split.validation, &split.test}) {
    EXPECT_TRUE(std::is_sorted(part->begin(), part->end()));
    all.insert(all.end(), part->begin(), part->end());
  }
  std::sort(all.begin(), all.end());
  std::vector<std::uint32_t> expected(n);
  for (std::uint32_t i = 0; i < n; ++i) expected[i] = i;
  EXPECT_EQ(all, expected);  // disjoint and covering
}

TEST(FoldSplit, TestIsTheFoldAndPartsCoverEverySong) {
  const auto labels = uneven_labels();
  const auto fold_of = assign_folds(labels, 5, 3);
  for (int fold = 0; fold < 5; ++fold) {
    const SplitIndices split = fold_split(labels, fold_of, fold, 0.1, 3);
    EXPECT_EQ(split.test, songs_in_fold(fold_of, static_cast<std::uint32_t>(fold)));
    expect_partition(split, labels.size());
    for (const std::uint32_t s : split.train) EXPECT_NE(fold_of[s], static_cast<std::uint32_t>(fold));
  }
}

TEST(FoldSplit, ValidationIsAStratifiedShareOfTheRest) {
  const auto labels = uneven_labels();
  const auto fold_of = assign_folds(labels, 5, 3);
  const SplitIndices split = fold_split(labels, fold_of, 2, 0.25, 3);
  std::vector<std::uint32_t> rest = split.train;
  rest.insert(rest.end(), split.validation.begin(), split.validation.end());
  const auto rest_counts = per_label(labels, rest);
  const auto validation_counts = per_label(labels, split.validation);
  for (const auto& [label, n] : rest_counts) {
    const auto it = validation_counts.find(label);
    const std::size_t got = it == validation_counts.end() ? 0 : it->second;
    EXPECT_EQ(got, static_cast<std::size_t>(std::llround(static_cast<double>(n) * 0.25))) << label;
  }
}

TEST(FoldSplit, DeterministicAndSeedSensitive) {
  const auto labels = uneven_labels();
  const auto fold_of = assign_folds(labels, 5, 3);
  const auto a = fold_split(labels, fold_of, 1, 0.2, 3);
  const auto b = fold_split(labels, fold_of, 1, 0.2, 3);
  const auto c = fold_split(labels, fold_of, 1, 0.2, 4);
  EXPECT_EQ(a.validation, b.validation);
  EXPECT_EQ(a.train, b.train);
  EXPECT_NE(a.validation, c.validation);
  EXPECT_EQ(a.test, c.test);  // the fold itself does not depend on this seed
}

TEST(FoldSplit, ZeroValidationLeavesEverythingToTrain) {
  const auto labels = uneven_labels();
  const auto fold_of = assign_folds(labels, 4, 3);
  const auto split = fold_split(labels, fold_of, 0, 0.0, 3);
  EXPECT_TRUE(split.validation.empty());
  EXPECT_EQ(split.train.size() + split.test.size(), labels.size());
}

TEST(FoldSplit, BadFoldOrFractionIsRefused) {
  const auto labels = uneven_labels();
  const auto fold_of = assign_folds(labels, 5, 3);
  EXPECT_TRUE(contains(input_error([&] { fold_split(labels, fold_of, 5, 0.1, 3); }),
                       "fold 5 does not exist: the songs are split into 5 folds"));
  EXPECT_TRUE(contains(input_error([&] { fold_split(labels, fold_of, -1, 0.1, 3); }), "fold -1"));
  EXPECT_TRUE(contains(input_error([&] { fold_split(labels, fold_of, 0, 1.0, 3); }), "cv.validation = 1"));
  EXPECT_TRUE(contains(input_error([&] { fold_split(labels, fold_of, 0, -0.1, 3); }), "cv.validation"));
}

TEST(Holdout, SizesPerLabelAreRoundedShares) {
  const auto labels = uneven_labels();
  const SplitIndices split = holdout_split(labels, 0.15, 0.2, 11);
  expect_partition(split, labels.size());
  const auto all = per_label(labels, [&] {
    std::vector<std::uint32_t> v(labels.size());
    for (std::uint32_t i = 0; i < v.size(); ++i) v[i] = i;
    return v;
  }());
  const auto test_counts = per_label(labels, split.test);
  const auto validation_counts = per_label(labels, split.validation);
  for (const auto& [label, n] : all) {
    EXPECT_EQ(test_counts.at(label), static_cast<std::size_t>(std::llround(static_cast<double>(n) * 0.2))) << label;
    EXPECT_EQ(validation_counts.at(label), static_cast<std::size_t>(std::llround(static_cast<double>(n) * 0.15))) << label;
  }
  // 50 -> 10 test, 8 validation (7.5 rounds up); 33 -> 7 and 5; 20 -> 4 and 3.
  EXPECT_EQ(split.test.size(), 21u);
  EXPECT_EQ(split.validation.size(), 16u);
}

TEST(Holdout, DeterministicAndSeedSensitive) {
  const auto labels = uneven_labels();
  EXPECT_EQ(holdout_split(labels, 0.1, 0.1, 5).test, holdout_split(labels, 0.1, 0.1, 5).test);
  EXPECT_NE(holdout_split(labels, 0.1, 0.1, 5).test, holdout_split(labels, 0.1, 0.1, 6).test);
}

TEST(Holdout, TinyGroupsNeverOvershoot) {
  const std::vector<std::uint32_t> labels = {0, 1, 1};
  const SplitIndices split = holdout_split(labels, 0.45, 0.5, 1);
  expect_partition(split, labels.size());
}

TEST(Holdout, FractionsMustLeaveTrainingSongs) {
  const auto labels = uneven_labels();
  EXPECT_TRUE(contains(input_error([&] { holdout_split(labels, 0.5, 0.5, 1); }), "train.split"));
  EXPECT_TRUE(contains(input_error([&] { holdout_split(labels, -0.1, 0.1, 1); }), "train.split"));
}

}  // namespace
}  // namespace lyre::data
