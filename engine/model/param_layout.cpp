#include "engine/model/param_layout.hpp"

#include <fmt/format.h>

#include "engine/core/error.hpp"

namespace lyre {

std::size_t ParamTensor::size() const {
  std::size_t n = 1;
  for (int d : shape) n *= static_cast<std::size_t>(d);
  return n;
}

std::string lstm_prefix(int layer, int direction) {
  return fmt::format("lstm.l{}{}", layer, direction == 1 ? "_reverse" : "");
}

ParamLayout::ParamLayout(const ModelSpec& spec) {
  const int H = spec.hidden;
  add("embedding", {static_cast<int>(spec.vocab_size), spec.embed_dim});
  trainable_offset_ = spec.freeze_embedding ? total_ : 0;
  for (int l = 0; l < spec.layers; ++l) {
    for (int d = 0; d < spec.directions(); ++d) {
      const auto p = lstm_prefix(l, d);
      add(p + ".w_ih", {4 * H, spec.lstm_input(l)}, /*aligned=*/l == 0 && d == 0);
      if (l == 0 && d == 0) lstm_offset_ = tensors_.back().offset;
      add(p + ".w_hh", {4 * H, H}, false);
      add(p + ".b_ih", {4 * H}, false);
      add(p + ".b_hh", {4 * H}, false);
    }
  }
  if (spec.has_attention()) {
    add("attention.w", {spec.attention_dim, spec.lstm_out()});
    add("attention.b", {spec.attention_dim});
    add("attention.v", {spec.attention_dim});
  }
  add("output.w", {spec.num_classes, spec.lstm_out()});
  add("output.b", {spec.num_classes});
}

void ParamLayout::add(std::string name, std::vector<int> shape, bool aligned) {
  constexpr std::size_t kAlignment = 64;  // elements: 256 bytes of float
  if (aligned) total_ = (total_ + kAlignment - 1) / kAlignment * kAlignment;
  ParamTensor t{std::move(name), total_, std::move(shape)};
  total_ += t.size();
  tensors_.push_back(std::move(t));
}

const ParamTensor& ParamLayout::get(const std::string& name) const {
  for (const auto& t : tensors_)
    if (t.name == name) return t;
  LYRE_CHECK(false, "no parameter named {}", name);
  return tensors_.front();
}

}  // namespace lyre
