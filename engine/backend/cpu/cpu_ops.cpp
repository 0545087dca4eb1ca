#include "engine/backend/cpu/cpu_ops.hpp"

#include <omp.h>

#include <cstdlib>
#include <cstring>
#include <new>

#include "engine/backend/cpu/adam.hpp"
#include "engine/backend/cpu/attention.hpp"
#include "engine/backend/cpu/blas.hpp"
#include "engine/backend/cpu/dropout.hpp"
#include "engine/backend/cpu/embedding.hpp"
#include "engine/backend/cpu/gather.hpp"
#include "engine/backend/cpu/linear.hpp"
#include "engine/backend/cpu/lstm.hpp"
#include "engine/backend/cpu/pooling.hpp"
#include "engine/backend/cpu/softmax_xent.hpp"
#include "engine/core/error.hpp"

namespace lyre {
namespace {

// Host memory on 64-byte boundaries (a cache line, an AVX-512 vector).
class HostBuffer final : public BackendBuffer {
 public:
  static constexpr std::size_t kAlignment = 64;

  explicit HostBuffer(std::size_t bytes) : bytes_(bytes) {
    const std::size_t rounded = (bytes + kAlignment - 1) / kAlignment * kAlignment;
    data_ = std::aligned_alloc(kAlignment, rounded == 0 ? kAlignment : rounded);
    if (data_ == nullptr) fail("cannot allocate {} bytes of host memory", bytes);
  }
  ~HostBuffer() override { std::free(data_); }
  HostBuffer(const HostBuffer&) = delete;
  HostBuffer& operator=(const HostBuffer&) = delete;

  void* data() override { return data_; }
  std::size_t bytes() const override { return bytes_; }

 private:
  void* data_ = nullptr;
  std::size_t bytes_;
};

}  // namespace

template <typename S>
std::unique_ptr<BackendBuffer> CpuOps<S>::allocate(std::size_t bytes) {
  return std::make_unique<HostBuffer>(bytes);
}

template <typename S>
void CpuOps<S>::upload(void* dst, const void* host_src, std::size_t bytes) {
  if (bytes > 0) std::memcpy(dst, host_src, bytes);
}

template <typename S>
void CpuOps<S>::download(void* host_dst, const void* src, std::size_t bytes) {
  if (bytes > 0) std::memcpy(host_dst, src, bytes);
}

template <typename S>
void CpuOps<S>::fill_zero(void* dst, std::size_t bytes) {
  if (bytes > 0) std::memset(dst, 0, bytes);
}

template <typename S>
void CpuOps<S>::reserve(const WorkspaceShape& shape) {
  LYRE_CHECK(shape.max_steps >= 1 && shape.max_batch >= 1 && shape.embed_dim >= 1 &&
                 shape.attention_dim >= 0,
             "reserve {}x{}x{} (attention {})", shape.max_steps, shape.max_batch, shape.embed_dim,
             shape.attention_dim);
  const std::size_t rows =
      static_cast<std::size_t>(shape.max_steps) * static_cast<std::size_t>(shape.max_batch);
  const std::size_t needed =
      shape.attention_dim > 0 ? rows * static_cast<std::size_t>(shape.attention_dim + 1) : 0;
  if (attention_workspace_.size() < needed) attention_workspace_.resize(needed);
}

template <typename S>
void CpuOps<S>::gather_batch(const CorpusView& corpus, const std::uint32_t* song_ids, int steps,
                             int batch, int max_len, std::int32_t* tokens, std::int32_t* lengths,
                             std::int32_t* labels) {
  cpu::gather_batch(corpus, song_ids, steps, batch, max_len, tokens, lengths, labels);
}

template <typename S>
void CpuOps<S>::embedding_forward(const BatchInputs& batch, const S* table, int dim, S* x) {
  cpu::embedding_forward(batch, table, dim, x);
}

template <typename S>
void CpuOps<S>::embedding_backward(const BatchInputs& batch, const S* dx, int dim, S* dtable) {
  cpu::embedding_backward(batch, dx, dim, dtable);
}

template <typename S>
std::unique_ptr<LstmLayer<S>> CpuOps<S>::make_lstm(const LstmShape& shape) {
  return cpu::make_lstm<S>(shape);
}

template <typename S>
void CpuOps<S>::attention_forward(const BatchInputs& batch, const AttentionShape& shape,
                                  const S* y, const S* w, const S* b, const S* v, S* u, S* alpha,
                                  S* pooled) {
  cpu::attention_forward(batch, shape, y, w, b, v, u, alpha, pooled);
}

template <typename S>
void CpuOps<S>::attention_backward(const BatchInputs& batch, const AttentionShape& shape,
                                   const S* y, const S* w, const S* v, const S* u,
                                   const S* alpha, const S* dpooled, S* dy, S* dw, S* db,
                                   S* dv) {
  cpu::attention_backward(batch, shape, y, w, v, u, alpha, dpooled, dy, dw, db, dv,
                          attention_workspace_);
}

template <typename S>
void CpuOps<S>::pool_forward(const BatchInputs& batch, PoolKind pool, int hidden,
                             bool bidirectional, const S* y, S* pooled) {
  cpu::pool_forward(batch, pool, hidden, bidirectional, y, pooled);
}

template <typename S>
void CpuOps<S>::pool_backward(const BatchInputs& batch, PoolKind pool, int hidden,
                              bool bidirectional, const S* dpooled, S* dy) {
  cpu::pool_backward(batch, pool, hidden, bidirectional, dpooled, dy);
}

template <typename S>
void CpuOps<S>::dropout_forward(std::size_t n, float p, std::uint64_t seed, std::uint64_t offset,
                                const S* in, S* out) {
  cpu::dropout_forward(n, p, seed, offset, in, out);
}

template <typename S>
void CpuOps<S>::dropout_backward(std::size_t n, float p, std::uint64_t seed,
                                 std::uint64_t offset, const S* dout, S* din) {
  cpu::dropout_backward(n, p, seed, offset, dout, din);
}

template <typename S>
void CpuOps<S>::linear_forward(int batch, int in_features, int out_features, const S* in,
                               const S* w, const S* b, S* out) {
  cpu::linear_forward(batch, in_features, out_features, in, w, b, out);
}

template <typename S>
void CpuOps<S>::linear_backward(int batch, int in_features, int out_features, const S* in,
                                const S* w, const S* dout, S* din, S* dw, S* db) {
  cpu::linear_backward(batch, in_features, out_features, in, w, dout, din, dw, db);
}

template <typename S>
void CpuOps<S>::softmax_xent(int batch, int classes, const S* logits,
                             const std::int32_t* labels, const LossWeights& weights, S* probs,
                             S* dlogits, double* counters) {
  cpu::softmax_xent(batch, classes, logits, labels, weights, probs, dlogits, counters);
}

template <typename S>
void CpuOps<S>::accumulate(std::size_t n, const S* src, S* dst) {
  const auto count = static_cast<std::ptrdiff_t>(n);
#pragma omp parallel for simd schedule(static) if (count >= 65536)
  for (std::ptrdiff_t i = 0; i < count; ++i) dst[i] += src[i];
}

template <typename S>
void CpuOps<S>::adam(const AdamStep& step, std::size_t n, S* params, S* grads, S* m, S* v) {
  cpu::adam(step, n, params, grads, m, v);
}

template class CpuOps<float>;
template class CpuOps<double>;

std::unique_ptr<LayerOps<float>> make_cpu_ops() { return std::make_unique<CpuOps<float>>(); }

std::unique_ptr<LayerOps<double>> make_cpu_ops_double() {
  return std::make_unique<CpuOps<double>>();
}

namespace {

// A scheduler's OMP_NUM_THREADS (SLURM, PBS, ctest) wins over the core count.
int default_cpu_threads() {
  if (const char* env = std::getenv("OMP_NUM_THREADS")) {
    const int n = std::atoi(env);
    if (n > 0) return n;
  }
  return omp_get_num_procs();
}

}  // namespace

void configure_cpu_threads(int threads) {
  LYRE_CHECK(threads >= 0, "thread count {}", threads);
  const int count = threads > 0 ? threads : default_cpu_threads();
  omp_set_num_threads(count);
  openblas_set_num_threads(count);
}

}  // namespace lyre
