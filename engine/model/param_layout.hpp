// Every parameter of the model lives in one flat float buffer (and its
// gradient, Adam m and v in three more of the same layout), so the optimizer
// is one pass and checkpoints are one array.
//
// Order and shapes (row-major), identical to PyTorch's parameters and to
// cuDNN's LSTM weight space, so weights move between them without reshuffling:
//   embedding                 [V, D]
//   for layer l, direction d ("lstm.l0", "lstm.l0_reverse"):
//     w_ih                    [4H, In_l]   gate blocks i, f, g, o
//     w_hh                    [4H, H]
//     b_ih                    [4H]
//     b_hh                    [4H]
//   attention.w               [A, Hout]    (attention: additive only)
//   attention.b               [A]
//   attention.v               [A]
//   output.w                  [C, Hout]
//   output.b                  [C]
// Each tensor outside the LSTM block, and the LSTM block itself, starts on a
// 64-element (256-byte) boundary, as cuDNN wants its weight space and
// vectorized kernels want their rows; the gaps are zero and stay zero. Inside
// the LSTM block tensors are packed exactly as cuDNN lays them out.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "engine/model/model_spec.hpp"

namespace lyre {

struct ParamTensor {
  std::string name;          // "lstm.l0.w_ih", "attention.v", ...
  std::size_t offset = 0;    // in elements
  std::vector<int> shape;
  std::size_t size() const;
};

class ParamLayout {
 public:
  explicit ParamLayout(const ModelSpec& spec);

  const std::vector<ParamTensor>& tensors() const { return tensors_; }
  const ParamTensor& get(const std::string& name) const;  // LYRE_CHECK if absent
  std::size_t total() const { return total_; }

  // The LSTM weights of all layers and directions, contiguous: one cuDNN weight space.
  std::size_t lstm_offset() const { return lstm_offset_; }
  // First element the optimizer updates: past the embedding when it is frozen.
  std::size_t trainable_offset() const { return trainable_offset_; }

 private:
  void add(std::string name, std::vector<int> shape, bool aligned = true);

  std::vector<ParamTensor> tensors_;
  std::size_t total_ = 0;
  std::size_t lstm_offset_ = 0;
  std::size_t trainable_offset_ = 0;
};

// Names of one LSTM layer/direction, as PyTorch prints them: "lstm.l0",
// "lstm.l0_reverse".
std::string lstm_prefix(int layer, int direction);

}  // namespace lyre
