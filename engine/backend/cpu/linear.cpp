#include "engine/backend/cpu/linear.hpp"

#include <cstddef>

#include "engine/backend/cpu/blas.hpp"

namespace lyre::cpu {

template <typename S>
void linear_forward(int batch, int in_features, int out_features, const S* in, const S* w,
                    const S* b, S* out) {
  for (int r = 0; r < batch; ++r)
    for (int c = 0; c < out_features; ++c)
      out[static_cast<std::ptrdiff_t>(r) * out_features + c] = b[c];
  gemm<S>(Trans::no, Trans::yes, batch, out_features, in_features, S(1), in, in_features, w,
          in_features, S(1), out, out_features);
}

template <typename S>
void linear_backward(int batch, int in_features, int out_features, const S* in, const S* w,
                     const S* dout, S* din, S* dw, S* db) {
  if (din != nullptr)
    gemm<S>(Trans::no, Trans::no, batch, in_features, out_features, S(1), dout, out_features, w,
            in_features, S(0), din, in_features);
  gemm<S>(Trans::yes, Trans::no, out_features, in_features, batch, S(1), dout, out_features, in,
          in_features, S(1), dw, in_features);
  add_column_sums(batch, out_features, dout, out_features, db);
}

template void linear_forward<float>(int, int, int, const float*, const float*, const float*,
                                    float*);
template void linear_forward<double>(int, int, int, const double*, const double*, const double*,
                                     double*);
template void linear_backward<float>(int, int, int, const float*, const float*, const float*,
                                     float*, float*, float*);
template void linear_backward<double>(int, int, int, const double*, const double*,
                                      const double*, double*, double*, double*);

}  // namespace lyre::cpu
