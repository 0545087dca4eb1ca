// Initial parameters, as PyTorch initializes the same modules, drawn on the
// host from one seed so every backend starts from identical weights:
//   embedding   N(0, 1) (nn.Embedding); with GloVe, found rows take their
//               vectors and missing rows (UNK included) N(0, s^2) with s the
//               standard deviation of the found GloVe values, so both kinds
//               of row have one scale. Row 0 (PAD) is zero.
//   LSTM        U(-1/sqrt(H), 1/sqrt(H)) for every weight and bias (nn.LSTM)
//   attention   w, b: U(-1/sqrt(Hout), +); v: U(-1/sqrt(A), +) (nn.Linear)
//   output      w, b: U(-1/sqrt(Hout), +) (nn.Linear)
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "engine/model/model_spec.hpp"
#include "engine/model/param_layout.hpp"

namespace lyre {

struct PretrainedEmbedding {
  std::span<const float> values;        // [V, D]
  std::span<const std::uint8_t> found;  // [V]
};

std::vector<float> initial_parameters(const ModelSpec& spec, const ParamLayout& layout,
                                      std::uint64_t seed,
                                      const PretrainedEmbedding* pretrained = nullptr);

}  // namespace lyre
