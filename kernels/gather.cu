#include "kernels/gather.cuh"

#include "kernels/cuda_check.hpp"
#include "kernels/launch.cuh"

namespace lyre::kernels {
namespace {

constexpr int kGatherThreads = 128;

// One block per song: the song's tokens are read contiguously.
__global__ void gather_batch_kernel(const std::uint32_t* corpus_tokens,
                                    const std::uint64_t* corpus_offsets,
                                    const std::uint32_t* corpus_labels, std::uint64_t num_songs,
                                    const std::uint32_t* song_ids, int steps, int batch,
                                    int max_len, std::int32_t* tokens, std::int32_t* lengths,
                                    std::int32_t* labels, int* fault) {
  const int b = static_cast<int>(blockIdx.x);
  const std::uint32_t song = song_ids[b];
  int len = 0;
  std::uint64_t begin = 0;
  std::int32_t label = 0;
  int problem = 0;
  if (song >= num_songs) {
    problem = kFaultSongId;
  } else {
    begin = corpus_offsets[song];
    const std::uint64_t count = corpus_offsets[song + 1] - begin;
    const std::uint64_t limit = static_cast<std::uint64_t>(max_len);
    len = static_cast<int>(count < limit ? count : limit);
    label = static_cast<std::int32_t>(corpus_labels[song]);
    if (len == 0) problem = kFaultEmptySong;
    if (len > steps) {
      problem = kFaultSongTooLong;
      len = 0;
    }
  }
  if (threadIdx.x == 0) {
    lengths[b] = len;
    labels[b] = label;
    if (problem != 0) atomicOr(fault, problem);
  }
  for (int t = static_cast<int>(threadIdx.x); t < steps; t += static_cast<int>(blockDim.x)) {
    const std::size_t at = static_cast<std::size_t>(t) * static_cast<std::size_t>(batch) +
                           static_cast<std::size_t>(b);
    tokens[at] = t < len ? static_cast<std::int32_t>(corpus_tokens[begin + static_cast<std::uint64_t>(t)])
                         : 0;
  }
}

__global__ void zero_padding_kernel(const std::int32_t* lengths, int steps, int batch,
                                    int features, float* x) {
  const std::size_t row_width = static_cast<std::size_t>(features);
  const std::size_t total =
      static_cast<std::size_t>(steps) * static_cast<std::size_t>(batch) * row_width;
  LYRE_GRID_STRIDE_LOOP(i, total) {
    const std::size_t row = i / row_width;
    const int t = static_cast<int>(row / static_cast<std::size_t>(batch));
    const int b = static_cast<int>(row % static_cast<std::size_t>(batch));
    if (t >= lengths[b]) x[i] = 0.0f;
  }
}

}  // namespace

// ---------------------------------------------------------------------------
// Host launchers
// ---------------------------------------------------------------------------

void gather_batch(const std::uint32_t* corpus_tokens, const std::uint64_t* corpus_offsets,
                  const std::uint32_t* corpus_labels, std::uint64_t num_songs,
                  const std::uint32_t* song_ids, int steps, int batch, int max_len,
                  std::int32_t* tokens, std::int32_t* lengths, std::int32_t* labels, int* fault,
                  cudaStream_t stream) {
  gather_batch_kernel<<<static_cast<unsigned>(batch), kGatherThreads, 0, stream>>>(
      corpus_tokens, corpus_offsets, corpus_labels, num_songs, song_ids, steps, batch, max_len,
      tokens, lengths, labels, fault);
  LYRE_CUDA_LAUNCHED("gather_batch_kernel");
}

void zero_padding(const std::int32_t* lengths, int steps, int batch, int features, float* x,
                  cudaStream_t stream) {
  const std::size_t total = static_cast<std::size_t>(steps) * static_cast<std::size_t>(batch) *
                            static_cast<std::size_t>(features);
  zero_padding_kernel<<<grid_for(total, kElementwiseThreads), kElementwiseThreads, 0, stream>>>(
      lengths, steps, batch, features, x);
  LYRE_CUDA_LAUNCHED("zero_padding_kernel");
}

}  // namespace lyre::kernels
