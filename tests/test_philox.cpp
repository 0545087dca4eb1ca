// Philox4x32-10 against Random123's known-answer vectors, and the dropout
// mask properties both backends rely on.
#include <gtest/gtest.h>

#include "engine/core/philox.hpp"

namespace lyre {
namespace {

void expect_philox(Philox4 counter, std::uint32_t k0, std::uint32_t k1, Philox4 expected) {
  const Philox4 out = philox4x32_10(counter, k0, k1);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(out.v[i], expected.v[i]) << "word " << i;
}

// Known answers from Random123 1.14, kat_vectors ("philox4x32 10").
TEST(Philox, KnownAnswerZero) {
  expect_philox({{0, 0, 0, 0}}, 0, 0, {{0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u}});
}

TEST(Philox, KnownAnswerOnes) {
  expect_philox({{0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu}}, 0xffffffffu, 0xffffffffu,
                {{0x408f276du, 0x41c83b0eu, 0xa20bc7c6u, 0x6d5451fdu}});
}

TEST(Philox, KnownAnswerPi) {
  expect_philox({{0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u}}, 0xa4093822u, 0x299f31d0u,
                {{0xd16cfe09u, 0x94fdccebu, 0x5001e420u, 0x24126ea1u}});
}

TEST(Philox, UniformIsInUnitIntervalAndBalanced) {
  double sum = 0;
  constexpr int n = 100000;
  for (std::uint64_t i = 0; i < n; ++i) {
    const float u = philox_uniform(1234, i);
    ASSERT_GE(u, 0.0f);
    ASSERT_LT(u, 1.0f);
    sum += u;
  }
  EXPECT_NEAR(sum / n, 0.5, 0.01);
}

TEST(Philox, DropoutKeepRateMatchesProbability) {
  int kept = 0;
  constexpr int n = 100000;
  for (std::uint64_t i = 0; i < n; ++i) kept += dropout_keep(99, i, 0.2f) ? 1 : 0;
  EXPECT_NEAR(static_cast<double>(kept) / n, 0.8, 0.01);
}

TEST(Philox, MaskDependsOnSeedAndIndexOnly) {
  int same = 0, differs = 0;
  for (std::uint64_t i = 0; i < 1000; ++i) {
    same += dropout_keep(5, i, 0.5f) == dropout_keep(5, i, 0.5f) ? 1 : 0;
    differs += dropout_keep(5, i, 0.5f) != dropout_keep(6, i, 0.5f) ? 1 : 0;
  }
  EXPECT_EQ(same, 1000);
  EXPECT_GT(differs, 350);  // two seeds agree on about half the decisions at p = 0.5
}

}  // namespace
}  // namespace lyre
