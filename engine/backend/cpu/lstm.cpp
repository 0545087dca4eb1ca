#include "engine/backend/cpu/lstm.hpp"

#include <omp.h>

#include <algorithm>
#include <limits>

#include "engine/backend/cpu/activations.hpp"
#include "engine/backend/cpu/blas.hpp"
#include "engine/core/error.hpp"

namespace lyre::cpu {
namespace {

using Index = std::ptrdiff_t;

// The order in which a direction visits the steps, and how many songs carry
// a state into each: the forward direction runs t = 0..T-1 and keeps every
// song of step t from step t-1; the reverse one runs t = T-1..0 and keeps
// only the songs already running at t+1 (the others start at t = len-1).
// Both counts are prefixes because the batch is sorted longest first.
class StepOrder {
 public:
  StepOrder(const int* active, int steps, bool reverse)
      : active_(active), steps_(steps), reverse_(reverse) {}
  int time(int s) const { return reverse_ ? steps_ - 1 - s : s; }
  int carried(int s) const {
    if (s <= 0 || s >= steps_) return 0;
    return std::min(active_[time(s)], active_[time(s - 1)]);
  }

 private:
  const int* active_;
  int steps_;
  bool reverse_;
};

// Thread `thread` of `threads` owns songs thread, thread + threads, ...:
// how many of the first `count` songs are its own.
int owned(int count, int thread, int threads) {
  return count > thread ? (count - thread + threads - 1) / threads : 0;
}

// One song's step. `gates` holds the pre-activations without the bias on
// entry and the activated i, f, g, o on exit.
template <typename S>
LYRE_VECTOR_CLONES void cell_forward(int H, const S* bias, S* gates, const S* c_prev, S* c, S* h) {
  S* gi = gates;
  S* gf = gates + H;
  S* gg = gates + 2 * H;
  S* go = gates + 3 * H;
  const S* bi = bias;
  const S* bf = bias + H;
  const S* bg = bias + 2 * H;
  const S* bo = bias + 3 * H;
#pragma omp simd
  for (int j = 0; j < H; ++j) {
    const S i = sigmoid(gi[j] + bi[j]);
    const S f = sigmoid(gf[j] + bf[j]);
    const S g = tanh_act(gg[j] + bg[j]);
    const S o = sigmoid(go[j] + bo[j]);
    const S cell = f * c_prev[j] + i * g;
    gi[j] = i;
    gf[j] = f;
    gg[j] = g;
    go[j] = o;
    c[j] = cell;
    h[j] = o * tanh_act(cell);
  }
}

// One song's step backward: `gates` holds the activations on entry and the
// pre-activation gradients on exit. dh = dh_out (from above) + dh_next (from
// the next step); dc_prev (may alias dc_next) receives the cell gradient for
// the previous step.
template <typename S>
LYRE_VECTOR_CLONES void cell_backward(int H, S* gates, const S* c, const S* c_prev, const S* dh_out,
                   const S* dh_next, const S* dc_next, S* dc_prev) {
  S* gi = gates;
  S* gf = gates + H;
  S* gg = gates + 2 * H;
  S* go = gates + 3 * H;
#pragma omp simd
  for (int j = 0; j < H; ++j) {
    const S i = gi[j], f = gf[j], g = gg[j], o = go[j];
    const S tc = tanh_act(c[j]);
    const S dh = dh_out[j] + dh_next[j];
    const S dc = dc_next[j] + dh * o * (S(1) - tc * tc);
    dc_prev[j] = dc * f;
    gi[j] = dc * g * i * (S(1) - i);
    gf[j] = dc * c_prev[j] * f * (S(1) - f);
    gg[j] = dc * i * (S(1) - g * g);
    go[j] = dh * tc * o * (S(1) - o);
  }
}

}  // namespace

template <typename S>
CpuLstm<S>::CpuLstm(const LstmShape& shape) : shape_(shape) {
  LYRE_CHECK(shape.input >= 1 && shape.hidden >= 1 && shape.layers >= 1 &&
                 shape.max_steps >= 1 && shape.max_batch >= 1,
             "LSTM shape in {} hidden {} layers {} max {}x{}", shape.input, shape.hidden,
             shape.layers, shape.max_steps, shape.max_batch);
  const auto H = static_cast<std::size_t>(shape.hidden);
  const auto Hout = static_cast<std::size_t>(shape.output());
  const auto In = static_cast<std::size_t>(shape.input);
  max_rows_ = static_cast<std::size_t>(shape.max_steps) * static_cast<std::size_t>(shape.max_batch);
  LYRE_CHECK(max_rows_ * 4 * H <= static_cast<std::size_t>(std::numeric_limits<int>::max()),
             "LSTM batch {}x{} with hidden {} exceeds BLAS's int sizes", shape.max_steps,
             shape.max_batch, shape.hidden);
  std::size_t offset = 0;
  for (int l = 0; l < shape.layers; ++l) {
    const int in = l == 0 ? shape.input : shape.output();
    for (int d = 0; d < shape.directions(); ++d) {
      Block b{};
      b.input = in;
      b.w_ih = offset;
      b.w_hh = b.w_ih + 4 * H * static_cast<std::size_t>(in);
      b.b_ih = b.w_hh + 4 * H * H;
      b.b_hh = b.b_ih + 4 * H;
      offset = b.b_hh + 4 * H;
      blocks_.push_back(b);
    }
  }
  LYRE_CHECK(offset == lstm_param_count(shape), "LSTM layout {} vs {}", offset,
             lstm_param_count(shape));
  const std::size_t blocks = blocks_.size(), layers = static_cast<std::size_t>(shape.layers);
  gates_.resize(blocks * max_rows_ * 4 * H);
  cells_.resize(blocks * max_rows_ * H);
  outputs_.resize(layers * max_rows_ * Hout);
  packed_x_.resize(max_rows_ * In);
  grad_a_.resize(max_rows_ * std::max(In, Hout));
  grad_b_.resize(max_rows_ * std::max(In, Hout));
  h_prev_.resize(max_rows_ * H);
  dh_carry_.resize(static_cast<std::size_t>(shape.max_batch) * H);
  dc_carry_.resize(static_cast<std::size_t>(shape.max_batch) * H);
  zeros_.assign(H, S(0));
  bias_sum_.resize(4 * H);
  active_.resize(static_cast<std::size_t>(shape.max_steps));
  offset_.resize(static_cast<std::size_t>(shape.max_steps) + 1);
}

template <typename S>
const typename CpuLstm<S>::Block& CpuLstm<S>::block(int layer, int direction) const {
  return blocks_[static_cast<std::size_t>(layer * shape_.directions() + direction)];
}

template <typename S>
S* CpuLstm<S>::gates(int layer, int direction) {
  const auto b = static_cast<std::size_t>(layer * shape_.directions() + direction);
  return gates_.data() + b * max_rows_ * 4 * static_cast<std::size_t>(shape_.hidden);
}

template <typename S>
S* CpuLstm<S>::cells(int layer, int direction) {
  const auto b = static_cast<std::size_t>(layer * shape_.directions() + direction);
  return cells_.data() + b * max_rows_ * static_cast<std::size_t>(shape_.hidden);
}

template <typename S>
S* CpuLstm<S>::output(int layer) {
  return outputs_.data() +
         static_cast<std::size_t>(layer) * max_rows_ * static_cast<std::size_t>(shape_.output());
}

template <typename S>
void CpuLstm<S>::plan(const BatchInputs& batch) {
  const int T = batch.steps, B = batch.batch;
  LYRE_CHECK(T >= 1 && T <= shape_.max_steps && B >= 1 && B <= shape_.max_batch,
             "batch {}x{} exceeds the LSTM's {}x{}", T, B, shape_.max_steps, shape_.max_batch);
  const std::int32_t* len = batch.host_lengths;
  for (int b = 0; b < B; ++b) {
    LYRE_CHECK(len[b] >= 1 && len[b] <= T, "song {} has length {} in a batch of {} steps", b,
               len[b], T);
    LYRE_CHECK(b == 0 || len[b] <= len[b - 1],
               "batch not sorted by length: song {} has {} after {}", b, len[b], len[b - 1]);
  }
  int n = B;
  offset_[0] = 0;
  for (int t = 0; t < T; ++t) {
    while (n > 0 && len[n - 1] <= t) --n;
    active_[static_cast<std::size_t>(t)] = n;
    offset_[static_cast<std::size_t>(t) + 1] = offset_[static_cast<std::size_t>(t)] + n;
  }
  steps_ = T;
  batch_ = B;
}

// [T, B, width] (padded) -> [N, width] (packed): step t's running songs are a
// contiguous prefix of its rows in both layouts.
template <typename S>
void CpuLstm<S>::pack(const S* padded, int width, S* packed) const {
  const auto w = static_cast<std::size_t>(width);
  for (int t = 0; t < steps_; ++t) {
    const S* src = padded + static_cast<std::size_t>(t) * static_cast<std::size_t>(batch_) * w;
    const auto n = static_cast<std::size_t>(active_[static_cast<std::size_t>(t)]);
    std::copy(src, src + n * w, packed + static_cast<std::size_t>(offset_[static_cast<std::size_t>(t)]) * w);
  }
}

// [N, width] -> [T, B, width] with zeros at the padded positions.
template <typename S>
void CpuLstm<S>::unpack(const S* packed, int width, S* padded) const {
  const auto w = static_cast<std::size_t>(width), B = static_cast<std::size_t>(batch_);
  for (int t = 0; t < steps_; ++t) {
    S* dst = padded + static_cast<std::size_t>(t) * B * w;
    const auto n = static_cast<std::size_t>(active_[static_cast<std::size_t>(t)]);
    const S* src = packed + static_cast<std::size_t>(offset_[static_cast<std::size_t>(t)]) * w;
    std::copy(src, src + n * w, dst);
    std::fill(dst + n * w, dst + B * w, S(0));
  }
}

template <typename S>
void CpuLstm<S>::forward(const BatchInputs& batch, const S* x, const S* weights, S* y,
                         bool training) {
  plan(batch);
  pack(x, shape_.input, packed_x_.data());
  const int L = shape_.layers;
  for (int l = 0; l < L; ++l) {
    const S* in = l == 0 ? packed_x_.data() : output(l - 1);
    for (int d = 0; d < shape_.directions(); ++d) forward_direction(l, d, in, weights, output(l));
  }
  unpack(output(L - 1), shape_.output(), y);
  kept_ = training;
}

template <typename S>
void CpuLstm<S>::forward_direction(int layer, int direction, const S* in, const S* weights,
                                   S* out) {
  const Block& blk = block(layer, direction);
  const int H = shape_.hidden, G4 = 4 * H, Hout = shape_.output(), T = steps_;
  S* G = gates(layer, direction);
  S* C = cells(layer, direction);
  gemm<S>(Trans::no, Trans::yes, offset_[static_cast<std::size_t>(T)], G4, blk.input, S(1), in,
          blk.input, weights + blk.w_ih, blk.input, S(0), G, G4);
  for (int j = 0; j < G4; ++j)
    bias_sum_[static_cast<std::size_t>(j)] = weights[blk.b_ih + static_cast<std::size_t>(j)] +
                                             weights[blk.b_hh + static_cast<std::size_t>(j)];
  const S* w_hh = weights + blk.w_hh;
  const S* bias = bias_sum_.data();
  const S* zero_state = zeros_.data();
  const int* offset = offset_.data();
  S* out_dir = out + Index{direction} * H;  // this direction's columns of [N, Hout]
  const StepOrder order(active_.data(), T, direction == 1);
#pragma omp parallel
  {
    const int P = omp_get_num_threads(), k = omp_get_thread_num();
    for (int s = 0; s < T; ++s) {
      const int t = order.time(s);
      const int n = active_[static_cast<std::size_t>(t)];
      const int carried = order.carried(s);
      const Index row = offset[t];
      const Index prev_row = carried > 0 ? offset[order.time(s - 1)] : 0;
      const int mine = owned(carried, k, P);
      if (mine > 0)
        gemm<S>(Trans::no, Trans::yes, mine, G4, H, S(1), out_dir + (prev_row + k) * Hout,
                P * Hout, w_hh, H, S(1), G + (row + k) * G4, P * G4);
      for (int b = k; b < n; b += P) {
        const S* c_prev = b < carried ? C + (prev_row + b) * H : zero_state;
        cell_forward(H, bias, G + (row + b) * G4, c_prev, C + (row + b) * H,
                     out_dir + (row + b) * Hout);
      }
    }
  }
}

template <typename S>
void CpuLstm<S>::backward(const BatchInputs& batch, const S* /*x*/, const S* weights,
                          const S* /*y*/, const S* dy, S* dx, S* dweights) {
  LYRE_CHECK(kept_ && batch.steps == steps_ && batch.batch == batch_,
             "LSTM backward of a {}x{} batch without its training forward", batch.steps,
             batch.batch);
  const int L = shape_.layers;
  S* dout = grad_a_.data();
  S* din = grad_b_.data();
  pack(dy, shape_.output(), dout);
  for (int l = L - 1; l >= 0; --l) {
    const S* in = l == 0 ? packed_x_.data() : output(l - 1);
    S* din_layer = l == 0 && dx == nullptr ? nullptr : din;
    for (int d = 0; d < shape_.directions(); ++d)
      backward_direction(l, d, in, output(l), dout, weights, din_layer, d > 0, dweights);
    std::swap(dout, din);
  }
  if (dx != nullptr) unpack(dout, shape_.input, dx);
}

template <typename S>
void CpuLstm<S>::backward_direction(int layer, int direction, const S* in, const S* out,
                                    const S* dout, const S* weights, S* din,
                                    bool accumulate_din, S* dweights) {
  const Block& blk = block(layer, direction);
  const int H = shape_.hidden, G4 = 4 * H, Hout = shape_.output(), T = steps_;
  S* G = gates(layer, direction);
  const S* C = cells(layer, direction);
  const S* w_hh = weights + blk.w_hh;
  const S* zero_state = zeros_.data();
  const int* offset = offset_.data();
  S* dh_carry = dh_carry_.data();
  S* dc_carry = dc_carry_.data();
  const S* dout_dir = dout + Index{direction} * H;
  const StepOrder order(active_.data(), T, direction == 1);
#pragma omp parallel
  {
    const int P = omp_get_num_threads(), k = omp_get_thread_num();
    for (int s = T - 1; s >= 0; --s) {
      const int t = order.time(s);
      const int n = active_[static_cast<std::size_t>(t)];
      const int carried = order.carried(s);
      const int carried_next = order.carried(s + 1);
      const Index row = offset[t];
      const Index prev_row = carried > 0 ? offset[order.time(s - 1)] : 0;
      for (int b = k; b < n; b += P) {
        const Index song = Index{b} * H;
        const S* c_prev = b < carried ? C + (prev_row + b) * H : zero_state;
        const S* dh_next = b < carried_next ? dh_carry + song : zero_state;
        const S* dc_next = b < carried_next ? dc_carry + song : zero_state;
        cell_backward(H, G + (row + b) * G4, C + (row + b) * H, c_prev,
                      dout_dir + (row + b) * Hout, dh_next, dc_next, dc_carry + song);
      }
      const int mine = owned(carried, k, P);
      if (mine > 0)
        gemm<S>(Trans::no, Trans::no, mine, H, G4, S(1), G + (row + k) * G4, P * G4, w_hh, H,
                S(0), dh_carry + Index{k} * H, P * H);
    }
  }

  const int N = offset_[static_cast<std::size_t>(T)];
  gemm<S>(Trans::yes, Trans::no, G4, blk.input, N, S(1), G, G4, in, blk.input, S(1),
          dweights + blk.w_ih, blk.input);
  gather_previous_outputs(direction, out, h_prev_.data());
  gemm<S>(Trans::yes, Trans::no, G4, H, N, S(1), G, G4, h_prev_.data(), H, S(1),
          dweights + blk.w_hh, H);
  std::fill(bias_sum_.begin(), bias_sum_.end(), S(0));
  add_column_sums(N, G4, G, G4, bias_sum_.data());
  for (std::size_t j = 0; j < bias_sum_.size(); ++j) {
    dweights[blk.b_ih + j] += bias_sum_[j];
    dweights[blk.b_hh + j] += bias_sum_[j];
  }
  if (din != nullptr)
    gemm<S>(Trans::no, Trans::no, N, blk.input, G4, S(1), G, G4, weights + blk.w_ih, blk.input,
            accumulate_din ? S(1) : S(0), din, blk.input);
}

// h_prev [N, H]: for every token, the state its step started from (this
// direction's output at the previous step, or zero for a song's first step),
// so that dW_hh is one product over all tokens.
template <typename S>
void CpuLstm<S>::gather_previous_outputs(int direction, const S* out, S* h_prev) const {
  const int H = shape_.hidden, Hout = shape_.output(), T = steps_;
  const S* out_dir = out + Index{direction} * H;
  const StepOrder order(active_.data(), T, direction == 1);
  for (int s = 0; s < T; ++s) {
    const int t = order.time(s);
    const int n = active_[static_cast<std::size_t>(t)];
    const int carried = order.carried(s);
    const Index row = offset_[static_cast<std::size_t>(t)];
    const Index prev_row = carried > 0 ? offset_[static_cast<std::size_t>(order.time(s - 1))] : 0;
    for (int b = 0; b < carried; ++b) {
      const S* src = out_dir + (prev_row + b) * Hout;
      std::copy(src, src + H, h_prev + (row + b) * H);
    }
    std::fill(h_prev + (row + carried) * H, h_prev + (row + n) * H, S(0));
  }
}

template <typename S>
std::unique_ptr<LstmLayer<S>> make_lstm(const LstmShape& shape) {
  return std::make_unique<CpuLstm<S>>(shape);
}

template class CpuLstm<float>;
template class CpuLstm<double>;
template std::unique_ptr<LstmLayer<float>> make_lstm<float>(const LstmShape&);
template std::unique_ptr<LstmLayer<double>> make_lstm<double>(const LstmShape&);

}  // namespace lyre::cpu
