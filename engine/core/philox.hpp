// Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2,
// 3", SC'11): a counter-based generator, so the dropout mask of element i is a
// pure function of (seed, offset + i). The backward pass regenerates the mask
// instead of storing it, and the CPU and CUDA backends draw identical masks,
// which makes whole training steps comparable across backends.
//
// Compiles as plain C++ and as CUDA device code.
#pragma once

#include <cstdint>

#if defined(__CUDACC__)
#define LYRE_HOST_DEVICE __host__ __device__ __forceinline__
#else
#define LYRE_HOST_DEVICE inline
#endif

namespace lyre {

struct Philox4 {
  std::uint32_t v[4];
};

LYRE_HOST_DEVICE std::uint32_t philox_mulhi(std::uint32_t a, std::uint32_t b, std::uint32_t* lo) {
  const std::uint64_t product = static_cast<std::uint64_t>(a) * b;
  *lo = static_cast<std::uint32_t>(product);
  return static_cast<std::uint32_t>(product >> 32);
}

// Ten rounds of Philox4x32 on a 128-bit counter under a 64-bit key, exactly as
// Random123's philox4x32_10 (tests/test_philox.cpp checks its known answers).
LYRE_HOST_DEVICE Philox4 philox4x32_10(Philox4 counter, std::uint32_t k0, std::uint32_t k1) {
  std::uint32_t c0 = counter.v[0], c1 = counter.v[1], c2 = counter.v[2], c3 = counter.v[3];
  for (int round = 0; round < 10; ++round) {
    std::uint32_t lo0, lo1;
    const std::uint32_t hi0 = philox_mulhi(0xD2511F53u, c0, &lo0);
    const std::uint32_t hi1 = philox_mulhi(0xCD9E8D57u, c2, &lo1);
    const std::uint32_t n0 = hi1 ^ c1 ^ k0;
    const std::uint32_t n2 = hi0 ^ c3 ^ k1;
    c0 = n0;
    c1 = lo1;
    c2 = n2;
    c3 = lo0;
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
  }
  return Philox4{{c0, c1, c2, c3}};
}

// The form Lyre uses: a 64-bit counter and a 64-bit key (the seed).
LYRE_HOST_DEVICE Philox4 philox4x32_10(std::uint64_t counter, std::uint64_t key) {
  const Philox4 c{{static_cast<std::uint32_t>(counter), static_cast<std::uint32_t>(counter >> 32), 0u, 0u}};
  return philox4x32_10(c, static_cast<std::uint32_t>(key), static_cast<std::uint32_t>(key >> 32));
}

// Uniform in [0, 1) from 24 random bits: exactly representable in float, so
// the comparison with the keep probability is identical on every backend.
LYRE_HOST_DEVICE float philox_uniform(std::uint64_t seed, std::uint64_t index) {
  const Philox4 r = philox4x32_10(index >> 2, seed);
  return static_cast<float>(r.v[index & 3] >> 8) * (1.0f / 16777216.0f);
}

// Inverted-dropout keep decision for element `index` of a step's mask.
LYRE_HOST_DEVICE bool dropout_keep(std::uint64_t seed, std::uint64_t index, float drop_probability) {
  return philox_uniform(seed, index) >= drop_probability;
}

}  // namespace lyre
