// Small elementwise helpers around the cuBLAS products (cuda_ops.cpp).
//
//   broadcast_rows: out [rows, cols] = bias [cols] in every row (the linear
//                   layer's out = b, before cuBLAS adds in w^T)
//   fill:           out [n] = value (the ones vector that turns column sums
//                   into cuBLAS gemv calls)
#pragma once

#include <cstddef>

#include <cuda_runtime.h>

namespace lyre::kernels {

void broadcast_rows(int rows, int cols, const float* bias, float* out, cudaStream_t stream);

void fill(std::size_t n, float value, float* out, cudaStream_t stream);

}  // namespace lyre::kernels
