#include "engine/backend/layer_ops.hpp"

namespace lyre {

std::size_t lstm_param_count(const LstmShape& shape) {
  std::size_t total = 0;
  const auto H = static_cast<std::size_t>(shape.hidden);
  for (int l = 0; l < shape.layers; ++l) {
    const auto in = static_cast<std::size_t>(l == 0 ? shape.input : shape.output());
    total += static_cast<std::size_t>(shape.directions()) * (4 * H * in + 4 * H * H + 8 * H);
  }
  return total;
}

}  // namespace lyre
