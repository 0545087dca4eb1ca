#include "engine/backend/cuda/cuda_ops.hpp"

#include <climits>
#include <cmath>
#include <string>

#include "engine/backend/cuda/cudnn_lstm.hpp"
#include "engine/core/error.hpp"
#include "kernels/adam.cuh"
#include "kernels/attention.cuh"
#include "kernels/dropout.cuh"
#include "kernels/gather.cuh"
#include "kernels/linear.cuh"
#include "kernels/pooling.cuh"
#include "kernels/softmax_xent.cuh"

namespace lyre::cuda {
namespace {

// cuBLAS's recommended workspace on Hopper (4 MiB suffices elsewhere); our own,
// so that concurrent replicas never share one (bitwise-reproducible results).
constexpr std::size_t kCublasWorkspaceBytes = std::size_t{32} << 20;

std::size_t rows_of(const BatchInputs& batch) {
  return static_cast<std::size_t>(batch.steps) * static_cast<std::size_t>(batch.batch);
}

std::string describe_faults(int bits) {
  std::string text;
  auto add = [&](int bit, const char* what) {
    if ((bits & bit) == 0) return;
    if (!text.empty()) text += "; ";
    text += what;
  };
  add(kernels::kFaultSongId, "a batch named a song id outside the corpus");
  add(kernels::kFaultSongTooLong, "a song is longer than its batch's step count");
  add(kernels::kFaultEmptySong, "a song has no tokens");
  add(kernels::kFaultLabel, "a label lies outside the model's classes");
  return text;
}

}  // namespace

// ---- ActiveDevice / GrowingBuffer ---------------------------------------------

ActiveDevice::ActiveDevice(int device) : id_(device) {
  const int count = device_count();
  if (count == 0)
    fail("the CUDA backend needs a CUDA device, and none is available here (no GPU or no "
         "driver); use backend: cpu");
  if (device < 0 || device >= count)
    fail_input("cuda.device: device {} does not exist (this machine has {} CUDA device(s))",
               device, count);
  activate();
}

void ActiveDevice::activate() const { LYRE_CUDA(cudaSetDevice(id_)); }

void* GrowingBuffer::ensure(std::size_t bytes) {
  if (bytes > this->bytes()) {
    memory_.reset();  // release first: the old contents are not needed
    memory_ = std::make_unique<DeviceMemory>(bytes);
  }
  return memory_ ? memory_->data() : nullptr;
}

// ---- CudaOps: setup, memory and ordering ----------------------------------------

CudaOps::CudaOps(const CudaOptions& options)
    : options_(options),
      device_(options.device),
      cublas_workspace_(kCublasWorkspaceBytes),
      fault_(sizeof(int)),
      norm_partials_(static_cast<std::size_t>(kernels::kNormBlocks) * sizeof(double)),
      clip_scale_(sizeof(float)) {
  LYRE_CUDA(cublasSetStream(cublas_.get(), stream()));
  // cublasSetStream resets the handle to cuBLAS's shared workspace pool: set
  // our own after it.
  LYRE_CUDA(cublasSetWorkspace(cublas_.get(), cublas_workspace_.data(), cublas_workspace_.bytes()));
  switch (options.precision) {
    case Precision::fp32:
      LYRE_CUDA(cublasSetMathMode(cublas_.get(), CUBLAS_DEFAULT_MATH));
      compute_type_ = CUBLAS_COMPUTE_32F;
      break;
    case Precision::tf32:
      LYRE_CUDA(cublasSetMathMode(cublas_.get(), CUBLAS_TF32_TENSOR_OP_MATH));
      compute_type_ = CUBLAS_COMPUTE_32F_FAST_TF32;
      break;
    case Precision::bf16:
      LYRE_CUDA(cublasSetMathMode(cublas_.get(), CUBLAS_DEFAULT_MATH));
      compute_type_ = CUBLAS_COMPUTE_32F_FAST_16BF;
      break;
  }
  LYRE_CUDA(cudnnSetStream(cudnn_.get(), stream()));
  LYRE_CUDA(cudaMemsetAsync(fault_.data(), 0, sizeof(int), stream()));
}

std::unique_ptr<BackendBuffer> CudaOps::allocate(std::size_t bytes) {
  device_.activate();
  return arena_.allocate(bytes);
}

void CudaOps::upload(void* dst, const void* host_src, std::size_t bytes) {
  if (bytes == 0) return;
  device_.activate();
  LYRE_CUDA(cudaMemcpyAsync(dst, host_src, bytes, cudaMemcpyHostToDevice, stream()));
}

void CudaOps::download(void* host_dst, const void* src, std::size_t bytes) {
  device_.activate();
  if (bytes > 0)
    LYRE_CUDA(cudaMemcpyAsync(host_dst, src, bytes, cudaMemcpyDeviceToHost, stream()));
  stream_.synchronize();
  raise_device_faults();
}

void CudaOps::fill_zero(void* dst, std::size_t bytes) {
  if (bytes == 0) return;
  device_.activate();
  LYRE_CUDA(cudaMemsetAsync(dst, 0, bytes, stream()));
}

void CudaOps::synchronize() {
  device_.activate();
  stream_.synchronize();
  raise_device_faults();
}

// Called with the stream idle: reads the fault word and clears it.
void CudaOps::raise_device_faults() {
  int faults = 0;
  LYRE_CUDA(cudaMemcpyAsync(&faults, fault_.data(), sizeof(int), cudaMemcpyDeviceToHost,
                            stream()));
  stream_.synchronize();
  if (faults == 0) return;
  LYRE_CUDA(cudaMemsetAsync(fault_.data(), 0, sizeof(int), stream()));
  fail("invalid batch data on the CUDA backend: {}", describe_faults(faults));
}

void CudaOps::reserve(const WorkspaceShape& shape) {
  const int max_steps = shape.max_steps, max_batch = shape.max_batch;
  LYRE_CHECK(max_steps >= 1 && max_batch >= 1 && shape.embed_dim >= 1 && shape.attention_dim >= 0,
             "reserve {}x{}x{} (attention {})", max_steps, max_batch, shape.embed_dim,
             shape.attention_dim);
  if (shape.attention_dim > 0 && max_steps > kernels::attention_max_steps())
    fail_input("model.max_len = {}: the CUDA attention kernel holds at most {} steps per song",
               max_steps, kernels::attention_max_steps());
  device_.activate();
  const std::size_t rows =
      static_cast<std::size_t>(max_steps) * static_cast<std::size_t>(max_batch);
  LYRE_CHECK(rows <= static_cast<std::size_t>(INT_MAX), "batches of {}x{} are too large",
             max_steps, max_batch);
  if (shape.attention_dim > 0)
    attention_dz_.ensure(rows * static_cast<std::size_t>(shape.attention_dim) * sizeof(float));
  if (rows <= reserved_rows_) return;
  reserved_rows_ = rows;
  kernels::fill(rows, 1.0f, static_cast<float*>(ones_.ensure(rows * sizeof(float))), stream());
  scores_.ensure(rows * sizeof(float));
  auto* keys = static_cast<std::uint32_t*>(sort_keys_.ensure(4 * rows * sizeof(std::uint32_t)));
  const std::size_t temp_bytes = kernels::embedding_sort_temp_bytes(rows);
  sort_buffers_ = kernels::EmbeddingSortBuffers{keys,
                                                keys + rows,
                                                keys + 2 * rows,
                                                keys + 3 * rows,
                                                sort_temp_.ensure(temp_bytes),
                                                temp_bytes,
                                                rows};
}

void CudaOps::check_rows(std::size_t rows, const char* op) const {
  LYRE_CHECK(rows <= reserved_rows_,
             "{} on {} rows, but reserve() sized the scratch for {}: reserve the largest batch "
             "first",
             op, rows, reserved_rows_);
}

const float* CudaOps::ones(std::size_t count) {
  check_rows(count, "a column sum");
  return ones_.as<float>();
}

// ---- matrix products ----------------------------------------------------------
//
// Row-major products through column-major cuBLAS. A row-major matrix M [r, c]
// with row width ld occupies memory exactly like the column-major matrix M^T
// [c, r] with leading dimension ld. So the row-major product C = op(A) op(B),
// [m, n], is computed as the column-major product C^T = op(B)^T op(A)^T, [n, m]:
// pass B first and A second, swap m and n, keep each operand's transpose flag,
// and pass the row widths as the leading dimensions.

void CudaOps::gemm(bool trans_a, bool trans_b, int m, int n, int k, const float* a, int lda,
                   const float* b, int ldb, float beta, float* c, int ldc) {
  LYRE_CHECK(m >= 1 && n >= 1 && k >= 1, "gemm {}x{}x{}", m, n, k);
  const float alpha = 1.0f;
  LYRE_CUDA(cublasGemmEx(cublas_.get(), trans_b ? CUBLAS_OP_T : CUBLAS_OP_N,
                         trans_a ? CUBLAS_OP_T : CUBLAS_OP_N, n, m, k, &alpha, b, CUDA_R_32F, ldb,
                         a, CUDA_R_32F, lda, &beta, c, CUDA_R_32F, ldc, compute_type_,
                         CUBLAS_GEMM_DEFAULT));
}

// The row-major [rows, cols] matrix is the column-major [cols, rows] one, so
// out += matrix^T weights is a plain (non-transposed) gemv. cuBLAS's gemv
// reduces in a fixed order: deterministic, no atomics.
void CudaOps::add_weighted_row_sum(int rows, int cols, const float* matrix, const float* weights,
                                   float* out) {
  const float one = 1.0f;
  LYRE_CUDA(cublasSgemv(cublas_.get(), CUBLAS_OP_N, cols, rows, &one, matrix, cols, weights, 1,
                        &one, out, 1));
}

// ---- layers -------------------------------------------------------------------

void CudaOps::gather_batch(const CorpusView& corpus, const std::uint32_t* song_ids, int steps,
                           int batch, int max_len, std::int32_t* tokens, std::int32_t* lengths,
                           std::int32_t* labels) {
  LYRE_CHECK(steps >= 1 && batch >= 1 && max_len >= 1, "batch {}x{}, max_len {}", steps, batch,
             max_len);
  device_.activate();
  kernels::gather_batch(corpus.tokens, corpus.offsets, corpus.labels, corpus.num_songs, song_ids,
                        steps, batch, max_len, tokens, lengths, labels, fault_.as<int>(),
                        stream());
}

void CudaOps::embedding_forward(const BatchInputs& batch, const float* table, int dim,
                                float* x) {
  device_.activate();
  kernels::embedding_forward(batch.tokens, batch.lengths, batch.steps, batch.batch, table, dim, x,
                             stream());
}

void CudaOps::embedding_backward(const BatchInputs& batch, const float* dx, int dim,
                                 float* dtable) {
  device_.activate();
  if (!options_.deterministic) {
    kernels::embedding_backward_atomic(batch.tokens, batch.lengths, batch.steps, batch.batch, dx,
                                       dim, dtable, stream());
    return;
  }
  const std::size_t rows = rows_of(batch);
  check_rows(rows, "embedding_backward");
  LYRE_CHECK(kernels::embedding_sort_temp_bytes(rows) <= sort_buffers_.sort_temp_bytes,
             "the embedding sort needs more scratch than reserved for {} rows", rows);
  kernels::embedding_backward_deterministic(batch.tokens, batch.lengths, batch.steps,
                                            batch.batch, dx, dim, dtable, sort_buffers_,
                                            stream());
}

std::unique_ptr<LstmLayer<float>> CudaOps::make_lstm(const LstmShape& shape) {
  device_.activate();
  return std::make_unique<CudnnLstm>(
      CudnnLstmContext{cudnn_.get(), stream(), device(), options_.precision, options_.rnn_algo},
      shape);
}

void CudaOps::attention_forward(const BatchInputs& batch, const AttentionShape& shape,
                                const float* y, const float* w, const float* b, const float* v,
                                float* u, float* alpha, float* pooled) {
  LYRE_CHECK(batch.steps <= kernels::attention_max_steps(),
             "attention over {} steps: the CUDA kernel holds at most {}", batch.steps,
             kernels::attention_max_steps());
  device_.activate();
  const int rows = batch.steps * batch.batch;
  const int H = shape.hidden_out, A = shape.attention;
  gemm(false, true, rows, A, H, y, H, w, H, 0.0f, u, A);  // z = y w^T, into u
  kernels::attention_forward_pointwise(batch.steps, batch.batch, H, A, batch.lengths,
                                       shape.pool == PoolKind::mean, y, b, v, u, alpha, pooled,
                                       stream());
}

void CudaOps::attention_backward(const BatchInputs& batch, const AttentionShape& shape,
                                 const float* y, const float* w, const float* v, const float* u,
                                 const float* alpha, const float* dpooled, float* dy, float* dw,
                                 float* db, float* dv) {
  LYRE_CHECK(batch.steps <= kernels::attention_max_steps(),
             "attention over {} steps: the CUDA kernel holds at most {}", batch.steps,
             kernels::attention_max_steps());
  device_.activate();
  const std::size_t rows = rows_of(batch);
  check_rows(rows, "attention_backward");
  const int H = shape.hidden_out, A = shape.attention;
  LYRE_CHECK(attention_dz_.bytes() >= rows * static_cast<std::size_t>(A) * sizeof(float),
             "attention_backward with width {} on {} rows: reserve() sized less", A, rows);
  auto* dz = attention_dz_.as<float>();
  float* ds = scores_.as<float>();
  kernels::attention_backward_pointwise(batch.steps, batch.batch, H, A, batch.lengths,
                                        shape.pool == PoolKind::mean, y, v, u, alpha, dpooled, dy,
                                        ds, dz, stream());
  const int r = static_cast<int>(rows);
  gemm(false, false, r, H, A, dz, A, w, H, 1.0f, dy, H);  // dy += dz w
  gemm(true, false, A, H, r, dz, A, y, H, 1.0f, dw, H);   // dw += dz^T y
  add_weighted_row_sum(r, A, dz, ones(rows), db);         // db += column sums of dz
  add_weighted_row_sum(r, A, u, ds, dv);                  // dv += u^T ds
}

void CudaOps::pool_forward(const BatchInputs& batch, PoolKind pool, int hidden,
                           bool bidirectional, const float* y, float* pooled) {
  device_.activate();
  kernels::pool_forward(batch.batch, hidden, bidirectional ? 2 : 1, batch.lengths,
                        pool == PoolKind::mean, y, pooled, stream());
}

void CudaOps::pool_backward(const BatchInputs& batch, PoolKind pool, int hidden,
                            bool bidirectional, const float* dpooled, float* dy) {
  device_.activate();
  kernels::pool_backward(batch.steps, batch.batch, hidden, bidirectional ? 2 : 1, batch.lengths,
                         pool == PoolKind::mean, dpooled, dy, stream());
}

void CudaOps::dropout_forward(std::size_t n, float p, std::uint64_t seed, std::uint64_t offset,
                              const float* in, float* out) {
  LYRE_CHECK(p >= 0.0f && p < 1.0f, "dropout probability {}", p);
  device_.activate();
  kernels::dropout_masked_scale(n, p, seed, offset, in, out, stream());
}

void CudaOps::dropout_backward(std::size_t n, float p, std::uint64_t seed, std::uint64_t offset,
                               const float* dout, float* din) {
  LYRE_CHECK(p >= 0.0f && p < 1.0f, "dropout probability {}", p);
  device_.activate();
  kernels::dropout_masked_scale(n, p, seed, offset, dout, din, stream());
}

void CudaOps::linear_forward(int batch, int in_features, int out_features, const float* in,
                             const float* w, const float* b, float* out) {
  device_.activate();
  kernels::broadcast_rows(batch, out_features, b, out, stream());  // out = b
  gemm(false, true, batch, out_features, in_features, in, in_features, w, in_features, 1.0f, out,
       out_features);  // out += in w^T
}

void CudaOps::linear_backward(int batch, int in_features, int out_features, const float* in,
                              const float* w, const float* dout, float* din, float* dw,
                              float* db) {
  device_.activate();
  if (din != nullptr)  // din = dout w
    gemm(false, false, batch, in_features, out_features, dout, out_features, w, in_features,
         0.0f, din, in_features);
  gemm(true, false, out_features, in_features, batch, dout, out_features, in, in_features, 1.0f,
       dw, in_features);  // dw += dout^T in
  add_weighted_row_sum(batch, out_features, dout, ones(static_cast<std::size_t>(batch)), db);
}

void CudaOps::softmax_xent(int batch, int classes, const float* logits,
                           const std::int32_t* labels, const LossWeights& weights, float* probs,
                           float* dlogits, double* counters) {
  LYRE_CHECK(batch >= 1 && classes >= 1, "softmax over {} songs and {} classes", batch, classes);
  LYRE_CHECK(weights.denominator >= 0, "loss denominator {}", weights.denominator);
  device_.activate();
  const kernels::CounterSlots slots{kLossSum,     kSongs,       kCorrect,  kThresholdTp,
                                    kThresholdFp, kThresholdFn, kConfusion};
  const kernels::LossScale scale{weights.class_weights,
                                 static_cast<float>(weights.denominator > 0 ? weights.denominator
                                                                            : batch)};
  kernels::softmax_xent(batch, classes, logits, labels, scale, probs, dlogits, counters, slots,
                        fault_.as<int>(), stream());
}

void CudaOps::accumulate(std::size_t n, const float* src, float* dst) {
  if (n == 0) return;
  LYRE_CHECK(n <= static_cast<std::size_t>(INT32_MAX), "accumulate over {} elements", n);
  device_.activate();
  // alpha = 1: y = 1 * x + y rounds exactly like y + x, as the CPU backend adds.
  const float one = 1.0f;
  LYRE_CUDA(cublasSaxpy(cublas_.get(), static_cast<int>(n), &one, src, 1, dst, 1));
}

void CudaOps::adam(const AdamStep& step, std::size_t n, float* params, float* grads, float* m,
                   float* v) {
  LYRE_CHECK(step.step >= 1, "Adam step {} (1-based)", step.step);
  device_.activate();
  // The CPU backend's scalars, computed in double and rounded once.
  const double t = static_cast<double>(step.step);
  const kernels::AdamScalars scalars{
      static_cast<float>(step.beta1),
      static_cast<float>(step.beta2),
      static_cast<float>(1.0 - step.beta1),
      static_cast<float>(1.0 - step.beta2),
      static_cast<float>(step.weight_decay),
      static_cast<float>(step.lr / (1.0 - std::pow(step.beta1, t))),
      static_cast<float>(std::sqrt(1.0 - std::pow(step.beta2, t))),
      static_cast<float>(step.eps)};
  const float* clip_scale = nullptr;
  if (step.clip_norm > 0.0) {
    kernels::grad_clip_scale(n, grads, step.clip_norm, norm_partials_.as<double>(),
                             clip_scale_.as<float>(), stream());
    clip_scale = clip_scale_.as<float>();
  }
  kernels::adam_step(n, scalars, clip_scale, params, grads, m, v, stream());
}

std::unique_ptr<CudaOps> make_cuda_ops(const CudaOptions& options) {
  return std::make_unique<CudaOps>(options);
}

}  // namespace lyre::cuda
