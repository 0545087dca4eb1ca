// Device-side reductions shared by the kernels (included by .cu files only).
//
// Every reduction runs in a fixed order (a butterfly inside each warp, then
// the warps' partials in warp order), so a result depends only on the inputs
// and the block size: no atomics, bitwise identical from run to run. The
// butterfly leaves the same value in every lane, so every thread of the block
// gets the total.
#pragma once

#include <cuda_runtime.h>

namespace lyre::kernels {

inline constexpr int kWarpSize = 32;
inline constexpr unsigned kFullWarp = 0xffffffffu;

template <typename T>
__device__ __forceinline__ T warp_sum(T value) {
  for (int offset = kWarpSize / 2; offset > 0; offset /= 2)
    value += __shfl_xor_sync(kFullWarp, value, offset);
  return value;
}

template <typename T>
__device__ __forceinline__ T warp_max(T value) {
  for (int offset = kWarpSize / 2; offset > 0; offset /= 2) {
    const T other = __shfl_xor_sync(kFullWarp, value, offset);
    value = other > value ? other : value;
  }
  return value;
}

// Sum over the whole block, returned to every thread. blockDim.x must be a
// multiple of 32 (at most 1024); `scratch` holds 32 values in shared memory.
template <typename T>
__device__ T block_sum(T value, T* scratch) {
  const int lane = static_cast<int>(threadIdx.x) % kWarpSize;
  const int warp = static_cast<int>(threadIdx.x) / kWarpSize;
  const int warps = static_cast<int>(blockDim.x) / kWarpSize;
  value = warp_sum(value);
  __syncthreads();  // the scratch may still be read by a previous reduction
  if (lane == 0) scratch[warp] = value;
  __syncthreads();
  return warp_sum(lane < warps ? scratch[lane] : T(0));
}

// Maximum over the whole block, returned to every thread; `lowest` is the
// identity (e.g. -INFINITY). Same requirements as block_sum.
template <typename T>
__device__ T block_max(T value, T lowest, T* scratch) {
  const int lane = static_cast<int>(threadIdx.x) % kWarpSize;
  const int warp = static_cast<int>(threadIdx.x) / kWarpSize;
  const int warps = static_cast<int>(blockDim.x) / kWarpSize;
  value = warp_max(value);
  __syncthreads();
  if (lane == 0) scratch[warp] = value;
  __syncthreads();
  return warp_max(lane < warps ? scratch[lane] : lowest);
}

}  // namespace lyre::kernels
