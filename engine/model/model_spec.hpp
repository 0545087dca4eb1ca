// The model, exactly as every backend and test agrees on it (design.md):
//   tokens [T,B] -> embedding E[V,D] -> LSTM (layers, directions; gates i,f,g,o;
//   b_ih and b_hh) -> Y [T,B,Hout] -> additive attention u_t = tanh(W_a y_t + b_a),
//   s_t = v . u_t, a = masked_softmax(s) over t < len -> pooling -> dropout ->
//   linear [C, Hout] -> softmax cross-entropy.
// Pooling with attention: mean = (1/len) sum_t a_t y_t (the paper's attention +
// GAP); none = sum_t a_t y_t (the context vector). Without attention: mean =
// (1/len) sum_{t<len} y_t; none = the final states: forward half of y at
// len-1, backward half (bidirectional) of y at 0.
#pragma once

#include <cstdint>
#include <string>

#include "engine/config/config.hpp"

namespace lyre {

struct ModelSpec {
  std::uint32_t vocab_size = 0;
  int embed_dim = 100;
  int hidden = 128;
  int layers = 1;
  bool bidirectional = false;
  AttentionKind attention = AttentionKind::additive;
  int attention_dim = 128;
  PoolKind pool = PoolKind::mean;
  float dropout = 0.2f;
  int num_classes = 10;
  int max_len = 300;
  bool freeze_embedding = false;

  int directions() const { return bidirectional ? 2 : 1; }
  int lstm_out() const { return hidden * directions(); }  // Hout
  int lstm_input(int layer) const { return layer == 0 ? embed_dim : lstm_out(); }
  bool has_attention() const { return attention == AttentionKind::additive; }

  // attention_dim 0 in the config means Hout.
  static ModelSpec from(const ModelConfig& config, std::uint32_t vocab_size, int num_classes);
  // "hidden 128, 1 layer, unidirectional, attention additive(128), pool mean, ..."
  std::string describe() const;
  // Identity of the parameter shapes: checkpoints of another shape are refused.
  std::uint64_t shape_hash() const;
};

}  // namespace lyre
