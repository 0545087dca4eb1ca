#include "engine/train/batching.hpp"

#include <algorithm>

#include "engine/core/error.hpp"

namespace lyre {
namespace {

std::int32_t truncated(std::uint32_t length, int max_len) {
  return static_cast<std::int32_t>(std::min<std::uint32_t>(length, static_cast<std::uint32_t>(max_len)));
}

// Sorts longest first; ties by song index so the order is fully determined.
void sort_by_length(std::span<std::uint32_t> songs, std::span<const std::uint32_t> lengths,
                    int max_len) {
  std::sort(songs.begin(), songs.end(), [&](std::uint32_t a, std::uint32_t b) {
    const auto la = truncated(lengths[a], max_len), lb = truncated(lengths[b], max_len);
    return la != lb ? la > lb : a < b;
  });
}

void cut_into_batches(std::span<const std::uint32_t> sorted, std::span<const std::uint32_t> lengths,
                      int max_len, int batch_size, std::vector<BatchPlan>& out) {
  for (std::size_t first = 0; first < sorted.size(); first += static_cast<std::size_t>(batch_size)) {
    const std::size_t last = std::min(sorted.size(), first + static_cast<std::size_t>(batch_size));
    BatchPlan batch;
    batch.songs.assign(sorted.begin() + static_cast<std::ptrdiff_t>(first),
                       sorted.begin() + static_cast<std::ptrdiff_t>(last));
    for (const auto s : batch.songs) batch.lengths.push_back(truncated(lengths[s], max_len));
    batch.steps = batch.lengths.front();
    LYRE_CHECK(batch.steps >= 1, "song {} has no token", batch.songs.front());
    out.push_back(std::move(batch));
  }
}

}  // namespace

std::vector<BatchPlan> make_training_batches(std::span<const std::uint32_t> songs,
                                             std::span<const std::uint32_t> lengths, int max_len,
                                             int batch_size, int bucket_window, Rng& rng) {
  std::vector<std::uint32_t> order(songs.begin(), songs.end());
  rng.shuffle(std::span(order));
  const std::size_t window = static_cast<std::size_t>(batch_size) * static_cast<std::size_t>(bucket_window);
  std::vector<BatchPlan> batches;
  for (std::size_t first = 0; first < order.size(); first += window) {
    const std::size_t last = std::min(order.size(), first + window);
    auto slice = std::span(order).subspan(first, last - first);
    sort_by_length(slice, lengths, max_len);
    cut_into_batches(slice, lengths, max_len, batch_size, batches);
  }
  rng.shuffle(std::span(batches));
  return batches;
}

std::vector<BatchPlan> make_eval_batches(std::span<const std::uint32_t> songs,
                                         std::span<const std::uint32_t> lengths, int max_len,
                                         int batch_size) {
  std::vector<std::uint32_t> order(songs.begin(), songs.end());
  sort_by_length(std::span(order), lengths, max_len);
  std::vector<BatchPlan> batches;
  cut_into_batches(order, lengths, max_len, batch_size, batches);
  return batches;
}

std::uint64_t count_tokens(std::span<const BatchPlan> plan) {
  std::uint64_t tokens = 0;
  for (const auto& b : plan)
    for (const auto l : b.lengths) tokens += static_cast<std::uint64_t>(l);
  return tokens;
}

std::vector<BatchPlan> split_batches(std::span<const BatchPlan> plan, int parts, int first,
                                     int count) {
  LYRE_CHECK(parts >= 1 && first >= 0 && count >= 1 && first + count <= parts,
             "slices {}..{} of {}", first, first + count - 1, parts);
  if (parts == 1) return {plan.begin(), plan.end()};
  std::vector<BatchPlan> out;
  out.reserve(plan.size() * static_cast<std::size_t>(count));
  for (const BatchPlan& whole : plan) {
    const std::size_t B = whole.songs.size();
    const double denominator = whole.loss_denominator > 0 ? whole.loss_denominator
                                                          : static_cast<double>(B);
    for (int k = first; k < first + count; ++k) {
      const auto begin = static_cast<std::ptrdiff_t>(B * static_cast<std::size_t>(k) /
                                                     static_cast<std::size_t>(parts));
      const auto end = static_cast<std::ptrdiff_t>(B * static_cast<std::size_t>(k + 1) /
                                                   static_cast<std::size_t>(parts));
      BatchPlan slice;
      slice.songs.assign(whole.songs.begin() + begin, whole.songs.begin() + end);
      slice.lengths.assign(whole.lengths.begin() + begin, whole.lengths.begin() + end);
      slice.steps = slice.lengths.empty() ? 0 : slice.lengths.front();
      slice.loss_denominator = denominator;
      slice.first_song = whole.first_song + static_cast<int>(begin);
      out.push_back(std::move(slice));
    }
  }
  return out;
}

}  // namespace lyre
