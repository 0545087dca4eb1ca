// Elementwise activations for the CPU backend.
//
// double (gradient checks) uses the C library. float (training) uses versions
// the compiler vectorizes inside `omp simd` loops on every x86 level: the LSTM
// evaluates five of them per hidden unit per step, and scalar libm calls
// would cost as much as its matrix products. They are branch-free, and every
// select compares integers (float bit patterns): under the default
// -ftrapping-math GCC if-converts a float comparison only with AVX-512 masks.
// Accuracy: a few float ulps (tests/test_cpu_ops.cpp compares with double);
// NaN stays NaN.
#pragma once

#include <bit>
#include <cmath>
#include <cstdint>

// On a function whose loops evaluate these: compiles it once per x86 vector
// width and runs the widest the CPU has (GCC function multiversioning). The
// clones compute the same values, element by element.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define LYRE_VECTOR_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define LYRE_VECTOR_CLONES
#endif

namespace lyre::cpu {

// a where `pick_a`, else b, in bit arithmetic: GCC keeps a ternary's arms
// behind a branch, which it will not if-convert when an arm computes in float.
inline std::uint32_t blend(bool pick_a, std::uint32_t a, std::uint32_t b) {
  const std::uint32_t mask = 0u - static_cast<std::uint32_t>(pick_a);
  return (a & mask) | (b & ~mask);
}

// x with its magnitude limited to `limit` (positive, finite); NaN passes.
inline float clamp_magnitude(float x, float limit) {
  const auto bits = std::bit_cast<std::uint32_t>(x);
  const std::uint32_t magnitude = bits & 0x7fffffffu;
  const auto limit_bits = std::bit_cast<std::uint32_t>(limit);
  const bool beyond = (magnitude > limit_bits) & (magnitude <= 0x7f800000u);  // not NaN
  return std::bit_cast<float>(blend(beyond, limit_bits, magnitude) | (bits & 0x80000000u));
}

// e^x, x clamped to [-87, 87] (results stay normal floats): Cephes' expf,
// range reduction x = n ln2 + r with |r| <= ln2/2, a degree-6 polynomial for
// e^r, and 2^n assembled in the exponent bits.
inline float exp_vectorizable(float x) {
  x = clamp_magnitude(x, 87.0f);
  // n = round(x / ln2) by the 1.5 * 2^23 trick: `shifted` holds kRound + n,
  // whose ulp is 1, so n is also the difference of the bit patterns (no
  // float-to-int conversion, which a NaN would make undefined).
  constexpr float kRound = 12582912.0f;
  const float shifted = x * 1.44269504088896341f + kRound;
  const float n = shifted - kRound;
  float r = x - n * 0.693359375f;
  r = r + n * 2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  const float er = p * r * r + r + 1.0f;
  const std::uint32_t exponent =
      std::bit_cast<std::uint32_t>(shifted) - std::bit_cast<std::uint32_t>(kRound) + 127u;
  return er * std::bit_cast<float>(exponent << 23);
}

// tanh: an odd Taylor polynomial below |x| = 0.4, where (1 - e^-2a) / (1 + e^-2a)
// would cancel; the exponential form above.
inline float tanh_vectorizable(float x) {
  const auto bits = std::bit_cast<std::uint32_t>(x);
  const auto magnitude_bits = bits & 0x7fffffffu;
  const float a = std::bit_cast<float>(magnitude_bits);
  const float x2 = x * x;
  float poly = 21844.0f / 6081075.0f;
  poly = poly * x2 - 1382.0f / 155925.0f;
  poly = poly * x2 + 62.0f / 2835.0f;
  poly = poly * x2 - 17.0f / 315.0f;
  poly = poly * x2 + 2.0f / 15.0f;
  poly = poly * x2 - 1.0f / 3.0f;
  const float small = x + x * x2 * poly;
  const float e = exp_vectorizable(-2.0f * a);
  const float large_magnitude = (1.0f - e) / (1.0f + e);
  const auto large = std::bit_cast<std::uint32_t>(large_magnitude) | (bits & 0x80000000u);
  const bool is_small = magnitude_bits < std::bit_cast<std::uint32_t>(0.4f);  // NaN: large
  return std::bit_cast<float>(blend(is_small, std::bit_cast<std::uint32_t>(small), large));
}

inline float sigmoid(float x) { return 1.0f / (1.0f + exp_vectorizable(-x)); }
inline double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }
inline float tanh_act(float x) { return tanh_vectorizable(x); }
inline double tanh_act(double x) { return std::tanh(x); }

}  // namespace lyre::cpu
