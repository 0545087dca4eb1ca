// The model's forward and backward passes, written once against LayerOps so
// that every backend runs the same orchestration (model_spec.hpp defines the
// model; layer_ops.hpp the ops and the gradient convention).
//
// Buffers are allocated once for the largest batch (max_steps x max_batch)
// and reused: nothing is allocated inside the training loop.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "engine/backend/layer_ops.hpp"
#include "engine/core/error.hpp"
#include "engine/core/nvtx.hpp"
#include "engine/model/model_spec.hpp"
#include "engine/model/param_layout.hpp"

namespace lyre {

template <typename S>
class Network {
 public:
  Network(const ModelSpec& spec, LayerOps<S>& ops, int max_steps, int max_batch)
      : spec_(spec), layout_(spec), ops_(ops), max_steps_(max_steps), max_batch_(max_batch) {
    const auto TB = static_cast<std::size_t>(max_steps) * static_cast<std::size_t>(max_batch);
    const auto B = static_cast<std::size_t>(max_batch);
    const auto Hout = static_cast<std::size_t>(spec.lstm_out());
    const auto A = static_cast<std::size_t>(spec.attention_dim);
    const auto C = static_cast<std::size_t>(spec.num_classes);
    ops.reserve(WorkspaceShape{max_steps, max_batch, spec.embed_dim,
                               spec.has_attention() ? spec.attention_dim : 0});
    params_ = alloc(layout_.total());
    grads_ = alloc(layout_.total());
    x_ = alloc(TB * static_cast<std::size_t>(spec.embed_dim));
    y_ = alloc(TB * Hout);
    dy_ = alloc(TB * Hout);
    if (!spec.freeze_embedding) dx_ = alloc(TB * static_cast<std::size_t>(spec.embed_dim));
    if (spec.has_attention()) {
      u_ = alloc(TB * A);
      alpha_ = alloc(TB);
    }
    pooled_ = alloc(B * Hout);
    dropped_ = alloc(B * Hout);
    d_dropped_ = alloc(B * Hout);
    d_pooled_ = alloc(B * Hout);
    logits_ = alloc(B * C);
    probs_ = alloc(B * C);
    dlogits_ = alloc(B * C);
    lstm_ = ops.make_lstm(LstmShape{spec.embed_dim, spec.hidden, spec.layers, spec.bidirectional,
                                    max_steps, max_batch});
  }

  const ModelSpec& spec() const { return spec_; }
  const ParamLayout& layout() const { return layout_; }
  LayerOps<S>& ops() { return ops_; }
  int max_steps() const { return max_steps_; }
  int max_batch() const { return max_batch_; }

  S* params() { return params_->template as<S>(); }
  S* grads() { return grads_->template as<S>(); }
  S* param(const std::string& name) { return params() + layout_.get(name).offset; }
  S* grad(const std::string& name) { return grads() + layout_.get(name).offset; }

  // Results of the last forward (backend memory).
  const S* logits() const { return logits_->template as<S>(); }
  const S* probs() const { return probs_->template as<S>(); }
  const S* alpha() const { return alpha_ ? alpha_->template as<S>() : nullptr; }  // [T,B]
  const S* pooled() const { return pooled_->template as<S>(); }

  // `training` applies dropout (mask from dropout_seed, dropout_offset) and
  // keeps what backward needs.
  void forward(const BatchInputs& batch, bool training, std::uint64_t dropout_seed = 0,
               std::uint64_t dropout_offset = 0) {
    check_shape(batch);
    const int B = batch.batch;
    const int Hout = spec_.lstm_out();
    {
      const NvtxRange r("embedding.forward");
      ops_.embedding_forward(batch, param("embedding"), spec_.embed_dim, buf(x_));
    }
    {
      const NvtxRange r("lstm.forward");
      lstm_->forward(batch, buf(x_), params() + layout_.lstm_offset(), buf(y_), training);
    }
    if (spec_.has_attention()) {
      const NvtxRange r("attention.forward");
      ops_.attention_forward(batch, attention_shape(), buf(y_), param("attention.w"),
                             param("attention.b"), param("attention.v"), buf(u_), buf(alpha_),
                             buf(pooled_));
    } else {
      const NvtxRange r("pool.forward");
      ops_.pool_forward(batch, spec_.pool, spec_.hidden, spec_.bidirectional, buf(y_),
                        buf(pooled_));
    }
    dropout_active_ = training && spec_.dropout > 0.0f;
    dropout_seed_ = dropout_seed;
    dropout_offset_ = dropout_offset;
    const std::size_t pooled_size = static_cast<std::size_t>(B) * static_cast<std::size_t>(Hout);
    if (dropout_active_) {
      const NvtxRange r("dropout.forward");
      ops_.dropout_forward(pooled_size, spec_.dropout, dropout_seed, dropout_offset, buf(pooled_),
                           buf(dropped_));
    }
    {
      const NvtxRange r("output.forward");
      ops_.linear_forward(B, Hout, spec_.num_classes, head_input(), param("output.w"),
                          param("output.b"), buf(logits_));
    }
  }

  // Softmax, loss and metrics of the last forward; with_gradient also writes
  // the logits' gradient for backward(), averaged as `weights` says.
  void loss(const BatchInputs& batch, double* counters, bool with_gradient,
            const LossWeights& weights = {}) {
    const NvtxRange r("loss");
    ops_.softmax_xent(batch.batch, spec_.num_classes, logits(), batch.labels, weights, buf(probs_),
                      with_gradient ? buf(dlogits_) : nullptr, counters);
  }

  // After forward(training = true) and loss(with_gradient = true).
  void backward(const BatchInputs& batch) {
    const int B = batch.batch;
    const int Hout = spec_.lstm_out();
    ops_.fill_zero(grads(), layout_.total() * sizeof(S));
    S* d_head = dropout_active_ ? buf(d_dropped_) : buf(d_pooled_);
    {
      const NvtxRange r("output.backward");
      ops_.linear_backward(B, Hout, spec_.num_classes, head_input(), param("output.w"),
                           buf(dlogits_), d_head, grad("output.w"), grad("output.b"));
    }
    if (dropout_active_) {
      const NvtxRange r("dropout.backward");
      ops_.dropout_backward(static_cast<std::size_t>(B) * static_cast<std::size_t>(Hout),
                            spec_.dropout, dropout_seed_, dropout_offset_, buf(d_dropped_),
                            buf(d_pooled_));
    }
    if (spec_.has_attention()) {
      const NvtxRange r("attention.backward");
      ops_.attention_backward(batch, attention_shape(), buf(y_), param("attention.w"),
                              param("attention.v"), buf(u_), buf(alpha_), buf(d_pooled_),
                              buf(dy_), grad("attention.w"), grad("attention.b"),
                              grad("attention.v"));
    } else {
      const NvtxRange r("pool.backward");
      ops_.pool_backward(batch, spec_.pool, spec_.hidden, spec_.bidirectional, buf(d_pooled_),
                         buf(dy_));
    }
    {
      const NvtxRange r("lstm.backward");
      lstm_->backward(batch, buf(x_), params() + layout_.lstm_offset(), buf(y_), buf(dy_),
                      dx_ ? buf(dx_) : nullptr, grads() + layout_.lstm_offset());
    }
    if (!spec_.freeze_embedding) {
      const NvtxRange r("embedding.backward");
      ops_.embedding_backward(batch, buf(dx_), spec_.embed_dim, grad("embedding"));
    }
  }

 private:
  std::unique_ptr<BackendBuffer> alloc(std::size_t elements) {
    auto b = ops_.allocate(elements * sizeof(S));
    ops_.fill_zero(b->data(), b->bytes());
    return b;
  }
  static S* buf(const std::unique_ptr<BackendBuffer>& b) { return b->template as<S>(); }
  const S* head_input() const {
    return dropout_active_ ? dropped_->template as<S>() : pooled_->template as<S>();
  }
  AttentionShape attention_shape() const {
    return AttentionShape{spec_.lstm_out(), spec_.attention_dim, spec_.pool};
  }
  void check_shape(const BatchInputs& batch) const {
    LYRE_CHECK(batch.steps >= 1 && batch.steps <= max_steps_ && batch.batch >= 1 &&
                   batch.batch <= max_batch_,
               "batch {}x{} exceeds the network's {}x{}", batch.steps, batch.batch, max_steps_,
               max_batch_);
  }

  ModelSpec spec_;
  ParamLayout layout_;
  LayerOps<S>& ops_;
  int max_steps_, max_batch_;
  std::unique_ptr<LstmLayer<S>> lstm_;
  std::unique_ptr<BackendBuffer> params_, grads_, x_, dx_, y_, dy_, u_, alpha_, pooled_, dropped_,
      d_dropped_, d_pooled_, logits_, probs_, dlogits_;
  bool dropout_active_ = false;
  std::uint64_t dropout_seed_ = 0, dropout_offset_ = 0;
};

}  // namespace lyre
