#include "engine/backend/cpu/attention.hpp"

#include <algorithm>
#include <cmath>

#include "engine/backend/cpu/activations.hpp"
#include "engine/backend/cpu/blas.hpp"

namespace lyre::cpu {
namespace {

using Index = std::ptrdiff_t;

// Below this many elements a pass runs on one thread.
constexpr Index kParallelElements = 32768;

// u_row = tanh(u_row + b) in place; returns the score u_row . v.
template <typename S>
LYRE_VECTOR_CLONES S activate_row(int A, const S* b, const S* v, S* u_row) {
  S score = 0;
#pragma omp simd reduction(+ : score)
  for (int a = 0; a < A; ++a) {
    const S value = tanh_act(u_row[a] + b[a]);
    u_row[a] = value;
    score += value * v[a];
  }
  return score;
}

// Step t's real tokens lie in songs [0, m): m = 1 + the last song with
// len > t (the active prefix of a batch sorted longest first).
int step_rows(const BatchInputs& batch, int t) {
  for (int b = batch.batch; b > 0; --b)
    if (batch.lengths[b - 1] > t) return b;
  return 0;
}

template <typename S>
S pool_scale(PoolKind pool, int length) {
  return pool == PoolKind::mean ? S(1) / static_cast<S>(length) : S(1);
}

}  // namespace

template <typename S>
void attention_forward(const BatchInputs& batch, const AttentionShape& shape, const S* y,
                       const S* w, const S* b, const S* v, S* u, S* alpha, S* pooled) {
  const int T = batch.steps, B = batch.batch, A = shape.attention, Hout = shape.hidden_out;
  const Index rows = Index{T} * B;
  // Per step, over its active songs only (threads take whole steps, each
  // with a single-threaded GEMM): u = tanh(y w^T + b) and the score
  // s = u . v, kept in alpha until the softmax.
#pragma omp parallel for schedule(dynamic, 4) if (rows * A >= kParallelElements)
  for (int t = 0; t < T; ++t) {
    const int m = step_rows(batch, t);
    S* u_t = u + Index{t} * B * A;
    S* alpha_t = alpha + Index{t} * B;
    gemm<S>(Trans::no, Trans::yes, m, A, Hout, S(1), y + Index{t} * B * Hout, Hout, w, Hout,
            S(0), u_t, A);
    for (int song = 0; song < B; ++song) {
      S* u_r = u_t + Index{song} * A;
      if (t < batch.lengths[song]) {
        alpha_t[song] = activate_row(A, b, v, u_r);
      } else {
        std::fill(u_r, u_r + A, S(0));
        alpha_t[song] = S(0);
      }
    }
  }
  // Masked softmax over t < len and the weighted pooling, one song per iteration.
#pragma omp parallel for schedule(static) if (rows * Hout >= kParallelElements)
  for (int song = 0; song < B; ++song) {
    const int len = batch.lengths[song];
    S max_score = alpha[song];
    for (int t = 1; t < len; ++t) max_score = std::max(max_score, alpha[Index{t} * B + song]);
    S total = 0;
    for (int t = 0; t < len; ++t) {
      S& a = alpha[Index{t} * B + song];
      a = std::exp(a - max_score);
      total += a;
    }
    const S inv_total = S(1) / total;
    S* out = pooled + Index{song} * Hout;
    std::fill(out, out + Hout, S(0));
    for (int t = 0; t < len; ++t) {
      S& a = alpha[Index{t} * B + song];
      a *= inv_total;
      const S* y_t = y + (Index{t} * B + song) * Hout;
#pragma omp simd
      for (int k = 0; k < Hout; ++k) out[k] += a * y_t[k];
    }
    const S scale = pool_scale<S>(shape.pool, len);
    for (int k = 0; k < Hout; ++k) out[k] *= scale;
  }
}

template <typename S>
void attention_backward(const BatchInputs& batch, const AttentionShape& shape, const S* y,
                        const S* w, const S* v, const S* u, const S* alpha, const S* dpooled,
                        S* dy, S* dw, S* db, S* dv, std::vector<S>& workspace) {
  const int T = batch.steps, B = batch.batch, A = shape.attention, Hout = shape.hidden_out;
  const Index rows = Index{T} * B;
  const auto needed = static_cast<std::size_t>(rows * (A + 1));
  if (workspace.size() < needed) workspace.resize(needed);
  S* dz = workspace.data();      // [T*B, A]
  S* ds = dz + rows * A;         // [T*B]

  // Per song: dy_t = alpha_t dp (the direct path), ds_t, and dz_t.
#pragma omp parallel for schedule(static) if (rows * Hout >= kParallelElements)
  for (int song = 0; song < B; ++song) {
    const int len = batch.lengths[song];
    const S scale = pool_scale<S>(shape.pool, len);
    const S* dp = dpooled + Index{song} * Hout;
    S weighted = 0;  // sum_t alpha_t dalpha_t
    for (int t = 0; t < len; ++t) {
      const Index r = Index{t} * B + song;
      const S* y_t = y + r * Hout;
      S dalpha = 0;
#pragma omp simd reduction(+ : dalpha)
      for (int k = 0; k < Hout; ++k) dalpha += dp[k] * y_t[k];
      dalpha *= scale;
      ds[r] = dalpha;
      weighted += alpha[r] * dalpha;
    }
    for (int t = 0; t < T; ++t) {
      const Index r = Index{t} * B + song;
      S* dy_t = dy + r * Hout;
      S* dz_t = dz + r * A;
      if (t >= len) {
        std::fill(dy_t, dy_t + Hout, S(0));
        std::fill(dz_t, dz_t + A, S(0));
        ds[r] = S(0);
        continue;
      }
      const S a_t = alpha[r];
      const S direct = a_t * scale;
#pragma omp simd
      for (int k = 0; k < Hout; ++k) dy_t[k] = direct * dp[k];
      const S ds_t = a_t * (ds[r] - weighted);
      ds[r] = ds_t;
      const S* u_t = u + r * A;
#pragma omp simd
      for (int a = 0; a < A; ++a) dz_t[a] = ds_t * v[a] * (S(1) - u_t[a] * u_t[a]);
    }
  }
  // dv += u^T ds: column sums of u weighted by ds (u and ds are 0 at padding).
  gemm<S>(Trans::yes, Trans::no, A, 1, T * B, S(1), u, A, ds, 1, S(1), dv, 1);
  add_column_sums(T * B, A, dz, A, db);
  gemm<S>(Trans::yes, Trans::no, A, Hout, T * B, S(1), dz, A, y, Hout, S(1), dw, Hout);
#pragma omp parallel for schedule(dynamic, 4) if (rows * A >= kParallelElements)
  for (int t = 0; t < T; ++t)
    gemm<S>(Trans::no, Trans::no, step_rows(batch, t), Hout, A, S(1), dz + Index{t} * B * A, A,
            w, Hout, S(1), dy + Index{t} * B * Hout, Hout);
}

template void attention_forward<float>(const BatchInputs&, const AttentionShape&, const float*,
                                       const float*, const float*, const float*, float*, float*,
                                       float*);
template void attention_forward<double>(const BatchInputs&, const AttentionShape&,
                                        const double*, const double*, const double*,
                                        const double*, double*, double*, double*);
template void attention_backward<float>(const BatchInputs&, const AttentionShape&, const float*,
                                        const float*, const float*, const float*, const float*,
                                        const float*, float*, float*, float*, float*,
                                        std::vector<float>&);
template void attention_backward<double>(const BatchInputs&, const AttentionShape&,
                                         const double*, const double*, const double*,
                                         const double*, const double*, const double*, double*,
                                         double*, double*, double*, std::vector<double>&);

}  // namespace lyre::cpu
