// The CPU LSTM stack (layer_ops.hpp, LstmLayer), the heavy part of a step.
//
// Batches are sorted longest first, so the n_t songs still running at step t
// are the prefix [0, n_t). Internally every tensor is packed like PyTorch's
// PackedSequence: step t's running songs are rows offset[t] .. offset[t] + n_t
// of an [N, F] matrix, N = the batch's real token count, so no product ever
// touches padding. Per layer and direction:
//   G [N, 4H] = X W_ih^T                      one GEMM over every token
//   per step t (reverse: t = T-1 .. 0):
//     G[t] += h_prev W_hh^T                   over the songs that carry a state
//                                             from the previous step
//     i, f, g, o, c, h from G[t] + b_ih + b_hh   pointwise over the n_t songs
// A song starts from a zero state at t = 0 (forward) or t = len-1 (reverse).
// Backward mirrors the steps (pointwise, then one recurrent GEMM), then dW_ih,
// dW_hh, db and dX are each ONE product (or reduction) over all N tokens.
//
// Threads: the time loop of a direction runs in one parallel region in which
// thread k owns songs k, k + P, k + 2P, ...: its rows of every step are an
// evenly strided block, so each thread runs its own single-threaded recurrent
// GEMM and pointwise pass with no barrier between steps, and the load stays
// balanced as songs end. The big products use OpenBLAS's own threads.
//
// Kept between forward and backward (packed), per layer and direction:
//   gates [N, 4H]  activated i, f, g, o (backward overwrites them with the
//                  pre-activation gradients)
//   cells [N, H]
// and every layer's output [N, Hout].
#pragma once

#include <cstddef>
#include <memory>
#include <vector>

#include "engine/backend/layer_ops.hpp"

namespace lyre::cpu {

template <typename S>
class CpuLstm final : public LstmLayer<S> {
 public:
  // Sizes every buffer for (shape.max_steps, shape.max_batch): no call allocates.
  explicit CpuLstm(const LstmShape& shape);

  void forward(const BatchInputs& batch, const S* x, const S* weights, S* y,
               bool training) override;
  // Reads x and y from the packed copies its training forward kept.
  void backward(const BatchInputs& batch, const S* x, const S* weights, const S* y,
                const S* dy, S* dx, S* dweights) override;

 private:
  // Canonical weight-space offsets of one layer and direction.
  struct Block {
    std::size_t w_ih, w_hh, b_ih, b_hh;
    int input;  // In of this layer
  };

  void plan(const BatchInputs& batch);
  void pack(const S* padded, int width, S* packed) const;
  void unpack(const S* packed, int width, S* padded) const;
  const Block& block(int layer, int direction) const;
  S* gates(int layer, int direction);
  S* cells(int layer, int direction);
  S* output(int layer);
  void forward_direction(int layer, int direction, const S* in, const S* weights, S* out);
  void backward_direction(int layer, int direction, const S* in, const S* out, const S* dout,
                          const S* weights, S* din, bool accumulate_din, S* dweights);
  void gather_previous_outputs(int direction, const S* out, S* h_prev) const;

  LstmShape shape_;
  std::size_t max_rows_;          // max_steps * max_batch
  std::vector<Block> blocks_;     // [layer * directions + direction]
  std::vector<S> gates_;          // per block [max_rows * 4H]
  std::vector<S> cells_;          // per block [max_rows * H]
  std::vector<S> outputs_;        // per layer [max_rows * Hout]
  std::vector<S> packed_x_;       // layer 0's input [max_rows * In]
  std::vector<S> grad_a_, grad_b_;  // gradients of layer outputs / inputs [max_rows * max(In, Hout)]
  std::vector<S> h_prev_;         // [max_rows * H]: each token's previous state, for dW_hh
  std::vector<S> dh_carry_, dc_carry_;  // [max_batch * H]
  std::vector<S> zeros_;          // [H]: the zero state of a song's first step
  std::vector<S> bias_sum_;       // [4H]: b_ih + b_hh
  std::vector<int> active_;       // [max_steps]: n_t, songs with len > t
  std::vector<int> offset_;       // [max_steps + 1]: first packed row of step t
  int steps_ = 0, batch_ = 0;     // shape of the batch planned last
  bool kept_ = false;             // the last forward was a training one
};

template <typename S>
std::unique_ptr<LstmLayer<S>> make_lstm(const LstmShape& shape);

}  // namespace lyre::cpu
