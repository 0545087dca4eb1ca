// The layer-op interface: what a backend implements.
//
// A LayerOps object is one execution context (CPU: a thread's scratch; CUDA:
// a stream with its own cuBLAS/cuDNN handles and workspace). Each fold replica
// owns one, so k folds train concurrently without sharing mutable state. All
// data pointers live in the backend's memory (host for CPU, device for CUDA)
// and calls are ordered like a stream: they may return before the work is done
// (CUDA) until synchronize() or a download().
//
// Shapes are time-major: a batch of B songs padded to T steps is [T, B, F].
// len[b] is song b's true length (1 <= len <= T), and batches are sorted by
// length, longest first (the batcher guarantees it; the CPU LSTM relies on it
// to shrink its per-step matrix products as songs end). Positions t >= len[b]
// are padding: they never influence an output or a gradient.
//
// Gradient convention: the network zeroes the whole parameter-gradient buffer
// once per step; every backward op ADDS into parameter gradients and WRITES
// (overwrites) its input gradients.
//
// S is the scalar type: float for training; the CPU backend also implements
// double for finite-difference gradient checks.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "engine/config/config.hpp"

namespace lyre {

// A block of backend memory, freed on destruction (RAII).
class BackendBuffer {
 public:
  virtual ~BackendBuffer() = default;
  virtual void* data() = 0;
  virtual std::size_t bytes() const = 0;
  template <typename T>
  T* as() {
    return static_cast<T*>(data());
  }
};

// The tokenized corpus in backend memory (one read-only copy shared by folds).
struct CorpusView {
  const std::uint32_t* tokens = nullptr;   // every song's token ids back to back
  const std::uint64_t* offsets = nullptr;  // [num_songs + 1]
  const std::uint32_t* labels = nullptr;   // [num_songs]
  std::uint64_t num_songs = 0;
};

// One batch, ready for the layers.
struct BatchInputs {
  int steps = 0;                        // T: the longest (truncated) length in the batch
  int batch = 0;                        // B
  const std::int32_t* tokens = nullptr; // [T, B] backend memory; PAD (0) at t >= len[b]
  const std::int32_t* lengths = nullptr;  // [B] backend memory
  const std::int32_t* labels = nullptr;   // [B] backend memory
  const std::int32_t* host_lengths = nullptr;  // [B] host memory, non-increasing
};

struct LstmShape {
  int input = 0;   // In of layer 0 (D)
  int hidden = 0;  // H
  int layers = 1;
  bool bidirectional = false;
  int max_steps = 0;  // largest T any batch will have
  int max_batch = 0;  // largest B
  int directions() const { return bidirectional ? 2 : 1; }
  int output() const { return hidden * directions(); }
};

// Element count of the LSTM's weights in the canonical layout
// (engine/model/param_layout.hpp): per layer and direction w_ih [4H, In],
// w_hh [4H, H], b_ih [4H], b_hh [4H].
std::size_t lstm_param_count(const LstmShape& shape);

// The whole LSTM stack. Stateful because a backend keeps what backward needs
// (CPU: gate activations and cells; CUDA: cuDNN descriptors and reserve space).
template <typename S>
class LstmLayer {
 public:
  virtual ~LstmLayer() = default;
  // x [T,B,In] -> y [T,B,Hout]; y is 0 at padded positions. `weights` is the
  // canonical LSTM section of the parameter buffer. `training` keeps what
  // backward needs; forward(training) must precede each backward.
  virtual void forward(const BatchInputs& batch, const S* x, const S* weights, S* y,
                       bool training) = 0;
  // dy [T,B,Hout] -> dx [T,B,In] (written; may be null when the input needs no
  // gradient) and dweights (added).
  virtual void backward(const BatchInputs& batch, const S* x, const S* weights, const S* y,
                        const S* dy, S* dx, S* dweights) = 0;
};

struct AttentionShape {
  int hidden_out = 0;  // Hout: width of y
  int attention = 0;   // A
  PoolKind pool = PoolKind::mean;
};

// The largest work a LayerOps will be asked to do (see reserve()).
struct WorkspaceShape {
  int max_steps = 0;
  int max_batch = 0;
  int embed_dim = 0;
  int attention_dim = 0;  // 0 = no attention
};

// How a batch's loss is averaged. The plain mean over the batch is
// {nullptr, 0}. A slice of a larger batch (micro-batches, data-parallel
// ranks) divides by the whole batch's size so that the slices' gradients sum
// to the whole batch's; class weights give song b the weight w[label_b] and
// the denominator the whole batch's sum of weights (PyTorch's weighted mean).
struct LossWeights {
  const float* class_weights = nullptr;  // [C] backend memory; null = every class 1
  double denominator = 0;                // 0 = the batch's own song count
};

struct AdamStep {
  double lr = 1e-3, beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
  double weight_decay = 0.0;  // L2 added to the gradient (torch.optim.Adam)
  double clip_norm = 0.0;     // 0 = no clipping; else scale grads by min(1, clip/(norm+1e-6))
  std::int64_t step = 1;      // 1-based, for bias correction
};

// Epoch counters, accumulated in backend memory by softmax_xent and read back
// once per epoch. Layout (doubles): see MetricSlot; then the confusion matrix
// [C, C] indexed [label * C + predicted].
enum MetricSlot : int {
  kLossSum = 0,   // sum of per-song cross-entropy
  kSongs = 1,
  kCorrect = 2,
  kThresholdTp = 3,  // one-vs-rest at probability > 0.5, summed over classes (Keras)
  kThresholdFp = 4,
  kThresholdFn = 5,
  kConfusion = 6,
};
inline constexpr std::size_t metric_slots(int num_classes) {
  return kConfusion + static_cast<std::size_t>(num_classes) * static_cast<std::size_t>(num_classes);
}

template <typename S>
class LayerOps {
 public:
  virtual ~LayerOps() = default;

  // ---- memory and ordering --------------------------------------------------
  virtual std::unique_ptr<BackendBuffer> allocate(std::size_t bytes) = 0;
  virtual void upload(void* dst, const void* host_src, std::size_t bytes) = 0;
  // Waits for preceding work, then copies to the host.
  virtual void download(void* host_dst, const void* src, std::size_t bytes) = 0;
  virtual void fill_zero(void* dst, std::size_t bytes) = 0;
  virtual void synchronize() = 0;
  // Sizes every workspace an op needs for batches up to the given shape, once,
  // before training: no op allocates inside the training loop. Network's
  // constructor calls it. A backend that cannot run the shape (a CUDA kernel
  // limit) says so here, before any training starts.
  virtual void reserve(const WorkspaceShape& shape) = 0;

  // ---- batch assembly -------------------------------------------------------
  // tokens [T,B] (PAD-filled), lengths [B] = min(song length, max_len), labels
  // [B] for the songs song_ids[0..B) (backend memory) of `corpus`, keeping each
  // song's first max_len tokens. T = batch.steps must be the longest length.
  virtual void gather_batch(const CorpusView& corpus, const std::uint32_t* song_ids, int steps,
                            int batch, int max_len, std::int32_t* tokens, std::int32_t* lengths,
                            std::int32_t* labels) = 0;

  // ---- embedding: x[t,b,:] = E[tokens[t,b], :] for t < len[b], 0 otherwise ----
  virtual void embedding_forward(const BatchInputs& batch, const S* table, int dim, S* x) = 0;
  // dtable[tokens[t,b], :] += dx[t,b,:] for t < len[b]; row 0 (PAD) never changes.
  virtual void embedding_backward(const BatchInputs& batch, const S* dx, int dim, S* dtable) = 0;

  // ---- LSTM -------------------------------------------------------------------
  virtual std::unique_ptr<LstmLayer<S>> make_lstm(const LstmShape& shape) = 0;

  // ---- additive attention + pooling ---------------------------------------------
  // y [T,B,Hout], w [A,Hout], b [A], v [A] -> u [T,B,A] = tanh(y w^T + b)
  // (kept for backward), alpha [T,B] = masked softmax over t < len of u.v
  // (0 at padding), pooled [B,Hout] = sum_t alpha_t y_t, divided by len for mean.
  virtual void attention_forward(const BatchInputs& batch, const AttentionShape& shape,
                                 const S* y, const S* w, const S* b, const S* v, S* u, S* alpha,
                                 S* pooled) = 0;
  // dpooled [B,Hout] -> dy [T,B,Hout] (written, 0 at padding); dw, db, dv added.
  virtual void attention_backward(const BatchInputs& batch, const AttentionShape& shape,
                                  const S* y, const S* w, const S* v, const S* u,
                                  const S* alpha, const S* dpooled, S* dy, S* dw, S* db,
                                  S* dv) = 0;

  // ---- pooling without attention ---------------------------------------------------
  // mean: pooled = (1/len) sum_{t<len} y_t; none: forward half of y at len-1,
  // backward half (bidirectional) of y at 0. `hidden` is H (per direction).
  virtual void pool_forward(const BatchInputs& batch, PoolKind pool, int hidden,
                            bool bidirectional, const S* y, S* pooled) = 0;
  virtual void pool_backward(const BatchInputs& batch, PoolKind pool, int hidden,
                             bool bidirectional, const S* dpooled, S* dy) = 0;

  // ---- inverted dropout: out = in * keep / (1 - p); keep from Philox -------------
  // Element i's mask bit is dropout_keep(seed, offset + i, p) (engine/core/philox.hpp),
  // regenerated in backward, never stored.
  virtual void dropout_forward(std::size_t n, float p, std::uint64_t seed, std::uint64_t offset,
                               const S* in, S* out) = 0;
  virtual void dropout_backward(std::size_t n, float p, std::uint64_t seed,
                                std::uint64_t offset, const S* dout, S* din) = 0;

  // ---- linear: out [B,C] = in [B,K] w^T + b, w [C,K] --------------------------------
  virtual void linear_forward(int batch, int in_features, int out_features, const S* in,
                              const S* w, const S* b, S* out) = 0;
  // din (written, may be null), dw and db (added).
  virtual void linear_backward(int batch, int in_features, int out_features, const S* in,
                               const S* w, const S* dout, S* din, S* dw, S* db) = 0;

  // ---- softmax cross-entropy fused with its gradient and the metrics ------------
  // probs [B,C] = softmax(logits); dlogits [B,C] = w[label] (probs - onehot) /
  // denominator (see LossWeights; may be null in evaluation); counters
  // (metric_slots(C) doubles) accumulate the unweighted loss, correct,
  // threshold counts and the confusion matrix.
  virtual void softmax_xent(int batch, int classes, const S* logits,
                            const std::int32_t* labels, const LossWeights& weights, S* probs,
                            S* dlogits, double* counters) = 0;

  // ---- dst[0, n) += src[0, n): summing micro-batch gradients in a fixed order ----
  virtual void accumulate(std::size_t n, const S* src, S* dst) = 0;

  // ---- Adam over params[0, n) with optional global-norm clipping ------------------
  virtual void adam(const AdamStep& step, std::size_t n, S* params, S* grads, S* m, S* v) = 0;
};

}  // namespace lyre
