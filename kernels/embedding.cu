#include "kernels/embedding.cuh"

#include <cub/device/device_radix_sort.cuh>

#include "kernels/cuda_check.hpp"
#include "kernels/launch.cuh"

namespace lyre::kernels {
namespace {

constexpr int kSegmentThreads = 128;

// V is float or float4; `width` is the row width in V units (D or D / 4).
template <typename V>
__global__ void embedding_forward_kernel(const std::int32_t* tokens, const std::int32_t* lengths,
                                         int steps, int batch, const V* table, int width, V* x) {
  const std::size_t w = static_cast<std::size_t>(width);
  const std::size_t total =
      static_cast<std::size_t>(steps) * static_cast<std::size_t>(batch) * w;
  LYRE_GRID_STRIDE_LOOP(i, total) {
    const std::size_t row = i / w;
    const std::size_t column = i % w;
    const int t = static_cast<int>(row / static_cast<std::size_t>(batch));
    const int b = static_cast<int>(row % static_cast<std::size_t>(batch));
    V value{};
    if (t < lengths[b]) value = table[static_cast<std::size_t>(tokens[row]) * w + column];
    x[i] = value;
  }
}

// Key 0 marks a position that contributes nothing (padding or PAD): those
// sort first and form a run the sum kernel skips.
__global__ void embedding_pairs_kernel(const std::int32_t* tokens, const std::int32_t* lengths,
                                       int steps, int batch, std::uint32_t* keys,
                                       std::uint32_t* positions) {
  const std::size_t total = static_cast<std::size_t>(steps) * static_cast<std::size_t>(batch);
  LYRE_GRID_STRIDE_LOOP(i, total) {
    const int t = static_cast<int>(i / static_cast<std::size_t>(batch));
    const int b = static_cast<int>(i % static_cast<std::size_t>(batch));
    const std::int32_t token = tokens[i];
    keys[i] = t < lengths[b] && token > 0 ? static_cast<std::uint32_t>(token) : 0u;
    positions[i] = static_cast<std::uint32_t>(i);
  }
}

// One block per sorted entry; only the first entry of each run of a real
// token works: it sums the run's dx rows in position order, then adds the
// sum to the token's row.
__global__ void embedding_segment_sum_kernel(const std::uint32_t* keys,
                                             const std::uint32_t* positions, int count,
                                             const float* dx, int dim, float* dtable) {
  const int first = static_cast<int>(blockIdx.x);
  const std::uint32_t token = keys[first];
  if (token == 0u || (first > 0 && keys[first - 1] == token)) return;
  const std::size_t D = static_cast<std::size_t>(dim);
  for (int d = static_cast<int>(threadIdx.x); d < dim; d += static_cast<int>(blockDim.x)) {
    float sum = 0.0f;
    for (int j = first; j < count && keys[j] == token; ++j)
      sum += dx[static_cast<std::size_t>(positions[j]) * D + static_cast<std::size_t>(d)];
    dtable[static_cast<std::size_t>(token) * D + static_cast<std::size_t>(d)] += sum;
  }
}

__global__ void embedding_backward_atomic_kernel(const std::int32_t* tokens,
                                                 const std::int32_t* lengths, int steps,
                                                 int batch, const float* dx, int dim,
                                                 float* dtable) {
  const std::size_t D = static_cast<std::size_t>(dim);
  const std::size_t total = static_cast<std::size_t>(steps) * static_cast<std::size_t>(batch) * D;
  LYRE_GRID_STRIDE_LOOP(i, total) {
    const std::size_t row = i / D;
    const int t = static_cast<int>(row / static_cast<std::size_t>(batch));
    const int b = static_cast<int>(row % static_cast<std::size_t>(batch));
    const std::int32_t token = tokens[row];
    if (t < lengths[b] && token > 0)
      atomicAdd(&dtable[static_cast<std::size_t>(token) * D + i % D], dx[i]);
  }
}

bool aligned16(const void* p) { return reinterpret_cast<std::uintptr_t>(p) % 16 == 0; }

}  // namespace

// ---------------------------------------------------------------------------
// Host launchers
// ---------------------------------------------------------------------------

std::size_t embedding_sort_temp_bytes(std::size_t items) {
  std::size_t bytes = 0;
  LYRE_CUDA(cub::DeviceRadixSort::SortPairs(nullptr, bytes,
                                            static_cast<const std::uint32_t*>(nullptr),
                                            static_cast<std::uint32_t*>(nullptr),
                                            static_cast<const std::uint32_t*>(nullptr),
                                            static_cast<std::uint32_t*>(nullptr),
                                            static_cast<int>(items)));
  return bytes;
}

void embedding_forward(const std::int32_t* tokens, const std::int32_t* lengths, int steps,
                       int batch, const float* table, int dim, float* x, cudaStream_t stream) {
  const std::size_t rows = static_cast<std::size_t>(steps) * static_cast<std::size_t>(batch);
  if (dim % 4 == 0 && aligned16(table) && aligned16(x)) {
    const int width = dim / 4;
    embedding_forward_kernel<float4>
        <<<grid_for(rows * static_cast<std::size_t>(width), kElementwiseThreads),
           kElementwiseThreads, 0, stream>>>(tokens, lengths, steps, batch,
                                             reinterpret_cast<const float4*>(table), width,
                                             reinterpret_cast<float4*>(x));
    LYRE_CUDA_LAUNCHED("embedding_forward_kernel<float4>");
  } else {
    embedding_forward_kernel<float>
        <<<grid_for(rows * static_cast<std::size_t>(dim), kElementwiseThreads),
           kElementwiseThreads, 0, stream>>>(tokens, lengths, steps, batch, table, dim, x);
    LYRE_CUDA_LAUNCHED("embedding_forward_kernel<float>");
  }
}

void embedding_backward_deterministic(const std::int32_t* tokens, const std::int32_t* lengths,
                                      int steps, int batch, const float* dx, int dim,
                                      float* dtable, const EmbeddingSortBuffers& buffers,
                                      cudaStream_t stream) {
  const int count = steps * batch;
  embedding_pairs_kernel<<<grid_for(static_cast<std::size_t>(count), kElementwiseThreads),
                           kElementwiseThreads, 0, stream>>>(tokens, lengths, steps, batch,
                                                             buffers.keys_in,
                                                             buffers.positions_in);
  LYRE_CUDA_LAUNCHED("embedding_pairs_kernel");
  std::size_t temp_bytes = buffers.sort_temp_bytes;
  // Radix sort is stable: equal tokens keep their (increasing) position order.
  LYRE_CUDA(cub::DeviceRadixSort::SortPairs(buffers.sort_temp, temp_bytes, buffers.keys_in,
                                            buffers.keys_out, buffers.positions_in,
                                            buffers.positions_out, count, 0,
                                            static_cast<int>(sizeof(std::uint32_t) * 8), stream));
  embedding_segment_sum_kernel<<<static_cast<unsigned>(count), kSegmentThreads, 0, stream>>>(
      buffers.keys_out, buffers.positions_out, count, dx, dim, dtable);
  LYRE_CUDA_LAUNCHED("embedding_segment_sum_kernel");
}

void embedding_backward_atomic(const std::int32_t* tokens, const std::int32_t* lengths, int steps,
                               int batch, const float* dx, int dim, float* dtable,
                               cudaStream_t stream) {
  const std::size_t total = static_cast<std::size_t>(steps) * static_cast<std::size_t>(batch) *
                            static_cast<std::size_t>(dim);
  embedding_backward_atomic_kernel<<<grid_for(total, kElementwiseThreads), kElementwiseThreads, 0,
                                     stream>>>(tokens, lengths, steps, batch, dx, dim, dtable);
  LYRE_CUDA_LAUNCHED("embedding_backward_atomic_kernel");
}

}  // namespace lyre::kernels
