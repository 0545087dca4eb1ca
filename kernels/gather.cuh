// Batch assembly from the device-resident corpus, and the padding mask.
//
//   corpus_tokens:  [total tokens]  uint32, every song's token ids back to back
//   corpus_offsets: [num_songs + 1] uint64
//   corpus_labels:  [num_songs]     uint32
//   song_ids:       [B]             uint32, the batch's songs
//   tokens:         [T,B] int32     song b's first len[b] tokens, PAD (0) after
//   lengths:        [B]   int32     len[b] = min(song length, max_len)
//   labels:         [B]   int32
//   x:              [T,B,F] float   zero_padding sets x[t,b,:] = 0 for t >= len[b]
//
// The kernel cannot throw, so a song id outside the corpus or a song longer
// than T steps sets a bit of `fault` (device memory) instead, and the host
// raises the error at its next synchronization (cuda_ops.cpp). Such a song is
// given length 0 and PAD tokens, never an out-of-bounds read.
#pragma once

#include <cstdint>

#include <cuda_runtime.h>

namespace lyre::kernels {

// Bits of the device fault word.
inline constexpr int kFaultSongId = 1;        // song id >= num_songs
inline constexpr int kFaultSongTooLong = 2;   // min(length, max_len) > T
inline constexpr int kFaultEmptySong = 4;     // a song without tokens
inline constexpr int kFaultLabel = 8;         // label outside [0, C) (softmax_xent)

void gather_batch(const std::uint32_t* corpus_tokens, const std::uint64_t* corpus_offsets,
                  const std::uint32_t* corpus_labels, std::uint64_t num_songs,
                  const std::uint32_t* song_ids, int steps, int batch, int max_len,
                  std::int32_t* tokens, std::int32_t* lengths, std::int32_t* labels, int* fault,
                  cudaStream_t stream);

void zero_padding(const std::int32_t* lengths, int steps, int batch, int features, float* x,
                  cudaStream_t stream);

}  // namespace lyre::kernels
