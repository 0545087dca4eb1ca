// The CPU backend: LayerOps over host memory, the reference every other
// backend and every test is checked against, and what machines without a GPU
// train on. Memory is 64-byte aligned host memory; upload and download are
// copies; calls complete before they return, so synchronize() has nothing to
// wait for. The ops themselves live in one file per layer (lyre::cpu).
#pragma once

#include <memory>
#include <vector>

#include "engine/backend/layer_ops.hpp"

namespace lyre {

template <typename S>
class CpuOps final : public LayerOps<S> {
 public:
  std::unique_ptr<BackendBuffer> allocate(std::size_t bytes) override;
  void upload(void* dst, const void* host_src, std::size_t bytes) override;
  void download(void* host_dst, const void* src, std::size_t bytes) override;
  void fill_zero(void* dst, std::size_t bytes) override;
  void synchronize() override {}
  // The LSTM sizes its scratch in make_lstm; reserve() sizes the attention
  // backward's workspace ([T*B, A+1]).
  void reserve(const WorkspaceShape& shape) override;

  void gather_batch(const CorpusView& corpus, const std::uint32_t* song_ids, int steps, int batch,
                    int max_len, std::int32_t* tokens, std::int32_t* lengths,
                    std::int32_t* labels) override;

  void embedding_forward(const BatchInputs& batch, const S* table, int dim, S* x) override;
  void embedding_backward(const BatchInputs& batch, const S* dx, int dim, S* dtable) override;

  std::unique_ptr<LstmLayer<S>> make_lstm(const LstmShape& shape) override;

  void attention_forward(const BatchInputs& batch, const AttentionShape& shape, const S* y,
                         const S* w, const S* b, const S* v, S* u, S* alpha,
                         S* pooled) override;
  void attention_backward(const BatchInputs& batch, const AttentionShape& shape, const S* y,
                          const S* w, const S* v, const S* u, const S* alpha, const S* dpooled,
                          S* dy, S* dw, S* db, S* dv) override;

  void pool_forward(const BatchInputs& batch, PoolKind pool, int hidden, bool bidirectional,
                    const S* y, S* pooled) override;
  void pool_backward(const BatchInputs& batch, PoolKind pool, int hidden, bool bidirectional,
                     const S* dpooled, S* dy) override;

  void dropout_forward(std::size_t n, float p, std::uint64_t seed, std::uint64_t offset,
                       const S* in, S* out) override;
  void dropout_backward(std::size_t n, float p, std::uint64_t seed, std::uint64_t offset,
                        const S* dout, S* din) override;

  void linear_forward(int batch, int in_features, int out_features, const S* in, const S* w,
                      const S* b, S* out) override;
  void linear_backward(int batch, int in_features, int out_features, const S* in, const S* w,
                       const S* dout, S* din, S* dw, S* db) override;

  void softmax_xent(int batch, int classes, const S* logits, const std::int32_t* labels,
                    const LossWeights& weights, S* probs, S* dlogits, double* counters) override;
  void accumulate(std::size_t n, const S* src, S* dst) override;

  void adam(const AdamStep& step, std::size_t n, S* params, S* grads, S* m, S* v) override;

 private:
  std::vector<S> attention_workspace_;  // sized by reserve()
};

std::unique_ptr<LayerOps<float>> make_cpu_ops();
std::unique_ptr<LayerOps<double>> make_cpu_ops_double();

// Threads for the CPU backend's OpenMP loops and OpenBLAS (0 = OMP_NUM_THREADS
// when the environment sets it, else every core).
// OpenMP's setting applies to the calling thread's later parallel regions.
void configure_cpu_threads(int threads);

}  // namespace lyre
