// Row-major dense helpers over CBLAS (OpenBLAS): the matrix products of the
// CPU backend all go through gemm<S>, so one place maps row-major shapes onto
// BLAS and skips the degenerate shapes some BLAS builds reject.
#pragma once

#include <cblas.h>

#include <algorithm>
#include <cstddef>
#include <type_traits>

namespace lyre::cpu {

enum class Trans { no, yes };

// C [m, n] = alpha * op(A) op(B) + beta * C, all row-major; op(A) is [m, k],
// op(B) is [k, n]; lda/ldb/ldc are row strides of A, B and C as stored.
template <typename S>
void gemm(Trans trans_a, Trans trans_b, int m, int n, int k, S alpha, const S* a, int lda,
          const S* b, int ldb, S beta, S* c, int ldc) {
  static_assert(std::is_same_v<S, float> || std::is_same_v<S, double>);
  if (m <= 0 || n <= 0) return;
  if (k <= 0) {  // an empty sum: C = beta * C
    for (int i = 0; i < m; ++i) {
      S* row = c + static_cast<std::ptrdiff_t>(i) * ldc;
      for (int j = 0; j < n; ++j) row[j] = beta == S(0) ? S(0) : beta * row[j];
    }
    return;
  }
  const auto ta = trans_a == Trans::yes ? CblasTrans : CblasNoTrans;
  const auto tb = trans_b == Trans::yes ? CblasTrans : CblasNoTrans;
  if constexpr (std::is_same_v<S, float>) {
    cblas_sgemm(CblasRowMajor, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  } else {
    cblas_dgemm(CblasRowMajor, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  }
}

// out[j] += sum over rows r of a[r * lda + j], j < cols. Rows are summed in
// blocks whose partial sums are added in double, so a bias gradient over
// tens of thousands of rows keeps float accuracy.
template <typename S>
void add_column_sums(int rows, int cols, const S* a, int lda, S* out) {
  constexpr int kBlock = 64;
  double total[1024];
  S partial[1024];
  for (int c0 = 0; c0 < cols; c0 += 1024) {
    const int width = std::min(1024, cols - c0);
    std::fill(total, total + width, 0.0);
    for (int r0 = 0; r0 < rows; r0 += kBlock) {
      std::fill(partial, partial + width, S(0));
      const int r_end = std::min(rows, r0 + kBlock);
      for (int r = r0; r < r_end; ++r) {
        const S* row = a + static_cast<std::ptrdiff_t>(r) * lda + c0;
#pragma omp simd
        for (int j = 0; j < width; ++j) partial[j] += row[j];
      }
      for (int j = 0; j < width; ++j) total[j] += static_cast<double>(partial[j]);
    }
    for (int j = 0; j < width; ++j) out[c0 + j] += static_cast<S>(total[j]);
  }
}

}  // namespace lyre::cpu
