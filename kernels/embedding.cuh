// Embedding lookup and its gradient.
//
//   table, dtable: [V,D]    tokens: [T,B] int32    lengths: [B] int32
//   x, dx:         [T,B,D]  (time-major, the layout cuDNN's LSTM reads)
//
//   forward:  x[t,b,:] = table[tokens[t,b],:] for t < len[b], 0 otherwise
//             (float4 loads and stores when D % 4 == 0 and both pointers are
//             16-byte aligned, scalar otherwise)
//   backward: dtable[tokens[t,b],:] += dx[t,b,:] for t < len[b] and a token
//             other than PAD (0): row 0 never changes.
//
// The deterministic backward sorts (token, position) pairs by token with a
// stable radix sort, so each token's positions come out in increasing order;
// one block per run of equal tokens then sums that token's rows in that order
// and adds the sum to its table row once: no float atomics, the same bits on
// every run. The fast backward scatters with atomicAdd (order unspecified).
#pragma once

#include <cstddef>
#include <cstdint>

#include <cuda_runtime.h>

namespace lyre::kernels {

// Device buffers of the deterministic backward, for up to `capacity` = T*B
// positions (sized once, in reserve()).
struct EmbeddingSortBuffers {
  std::uint32_t* keys_in = nullptr;        // [capacity] token, or 0 for a skipped position
  std::uint32_t* keys_out = nullptr;       // [capacity] sorted tokens
  std::uint32_t* positions_in = nullptr;   // [capacity] t * B + b
  std::uint32_t* positions_out = nullptr;  // [capacity] positions in token order
  void* sort_temp = nullptr;               // CUB radix-sort temporary storage
  std::size_t sort_temp_bytes = 0;
  std::size_t capacity = 0;
};

// CUB temporary storage the sort of `items` pairs needs (no device work).
std::size_t embedding_sort_temp_bytes(std::size_t items);

void embedding_forward(const std::int32_t* tokens, const std::int32_t* lengths, int steps,
                       int batch, const float* table, int dim, float* x, cudaStream_t stream);

// Requires steps * batch <= buffers.capacity and a large enough sort_temp
// (the caller checks both).
void embedding_backward_deterministic(const std::int32_t* tokens, const std::int32_t* lengths,
                                      int steps, int batch, const float* dx, int dim,
                                      float* dtable, const EmbeddingSortBuffers& buffers,
                                      cudaStream_t stream);

void embedding_backward_atomic(const std::int32_t* tokens, const std::int32_t* lengths, int steps,
                               int batch, const float* dx, int dim, float* dtable,
                               cudaStream_t stream);

}  // namespace lyre::kernels
