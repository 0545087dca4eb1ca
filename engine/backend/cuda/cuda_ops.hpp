// The CUDA backend: LayerOps<float> on one device and one stream.
//
// A CudaOps is one fold replica's execution context: its own non-blocking
// stream, cuBLAS handle (with its own workspace), cuDNN handle and scratch
// buffers, so k replicas train concurrently without sharing mutable state.
// Every op is enqueued on that stream and returns at once; download() and
// synchronize() wait for it. Products go through cuBLAS, the LSTM through
// cuDNN (cudnn_lstm.hpp), everything else through the kernels in kernels/.
//
// Precision (config cuda.precision) changes the cuBLAS products only:
//   fp32  strict fp32 (CUBLAS_COMPUTE_32F, default math: no TF32)
//   tf32  CUBLAS_TF32_TENSOR_OP_MATH / CUBLAS_COMPUTE_32F_FAST_TF32
//   bf16  cublasGemmEx with CUBLAS_COMPUTE_32F_FAST_16BF (fp32 in and out)
// and the LSTM's math type (cudnn_lstm.hpp: cuDNN has no bf16 LSTM for fp32
// data, so bf16 runs it as tf32 does).
//
// Deterministic (config cuda.deterministic, the default): no float atomics
// anywhere, so two runs from one seed give the same bits. Off, the embedding
// backward scatters with atomicAdd.
//
// Device-side input checks: gather_batch and softmax_xent cannot throw on the
// device, so a bad song id, an over-long song or a label out of range sets a
// fault word that download() and synchronize() check (throwing lyre::Error).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include "engine/backend/arena.hpp"
#include "engine/backend/cuda/cuda_raii.hpp"
#include "engine/backend/layer_ops.hpp"
#include "engine/config/config.hpp"
#include "kernels/embedding.cuh"

namespace lyre::cuda {

struct CudaOptions {
  int device = 0;
  Precision precision = Precision::fp32;
  RnnAlgo rnn_algo = RnnAlgo::standard;
  bool deterministic = true;
};

// Selects the device before anything else is created on it; throws a clear
// lyre::Error when there is no such device.
class ActiveDevice {
 public:
  explicit ActiveDevice(int device);
  int id() const { return id_; }
  void activate() const;  // cudaSetDevice: host threads start on device 0

 private:
  int id_;
};

// A device buffer that only grows: scratch sized by the largest request.
class GrowingBuffer {
 public:
  void* ensure(std::size_t bytes);
  std::size_t bytes() const { return memory_ ? memory_->bytes() : 0; }
  template <typename T>
  T* as() {
    return memory_ ? memory_->as<T>() : nullptr;
  }

 private:
  std::unique_ptr<DeviceMemory> memory_;
};

class CudaOps final : public LayerOps<float> {
 public:
  explicit CudaOps(const CudaOptions& options);

  cudaStream_t stream() const { return stream_.get(); }
  int device() const { return device_.id(); }
  const CudaOptions& options() const { return options_; }

  // ---- memory and ordering ----------------------------------------------------
  // A block of this fold's arena: freed with the CudaOps, not before.
  std::unique_ptr<BackendBuffer> allocate(std::size_t bytes) override;
  // Enqueued on the stream. A pageable source may be reused once upload
  // returns (the driver stages it); a pinned one must stay unchanged until
  // the stream has passed the copy.
  void upload(void* dst, const void* host_src, std::size_t bytes) override;
  void download(void* host_dst, const void* src, std::size_t bytes) override;
  void fill_zero(void* dst, std::size_t bytes) override;
  void synchronize() override;
  void reserve(const WorkspaceShape& shape) override;

  // ---- layers -----------------------------------------------------------------
  void gather_batch(const CorpusView& corpus, const std::uint32_t* song_ids, int steps, int batch,
                    int max_len, std::int32_t* tokens, std::int32_t* lengths,
                    std::int32_t* labels) override;
  void embedding_forward(const BatchInputs& batch, const float* table, int dim,
                         float* x) override;
  void embedding_backward(const BatchInputs& batch, const float* dx, int dim,
                          float* dtable) override;
  // The layer borrows this object's cuDNN handle and stream: it must not
  // outlive the CudaOps.
  std::unique_ptr<LstmLayer<float>> make_lstm(const LstmShape& shape) override;
  void attention_forward(const BatchInputs& batch, const AttentionShape& shape, const float* y,
                         const float* w, const float* b, const float* v, float* u, float* alpha,
                         float* pooled) override;
  void attention_backward(const BatchInputs& batch, const AttentionShape& shape, const float* y,
                          const float* w, const float* v, const float* u, const float* alpha,
                          const float* dpooled, float* dy, float* dw, float* db,
                          float* dv) override;
  void pool_forward(const BatchInputs& batch, PoolKind pool, int hidden, bool bidirectional,
                    const float* y, float* pooled) override;
  void pool_backward(const BatchInputs& batch, PoolKind pool, int hidden, bool bidirectional,
                     const float* dpooled, float* dy) override;
  void dropout_forward(std::size_t n, float p, std::uint64_t seed, std::uint64_t offset,
                       const float* in, float* out) override;
  void dropout_backward(std::size_t n, float p, std::uint64_t seed, std::uint64_t offset,
                        const float* dout, float* din) override;
  void linear_forward(int batch, int in_features, int out_features, const float* in,
                      const float* w, const float* b, float* out) override;
  void linear_backward(int batch, int in_features, int out_features, const float* in,
                       const float* w, const float* dout, float* din, float* dw,
                       float* db) override;
  void softmax_xent(int batch, int classes, const float* logits, const std::int32_t* labels,
                    const LossWeights& weights, float* probs, float* dlogits,
                    double* counters) override;
  void accumulate(std::size_t n, const float* src, float* dst) override;
  void adam(const AdamStep& step, std::size_t n, float* params, float* grads, float* m,
            float* v) override;

 private:
  // Row-major C [m,n] = alpha op(A) op(B) + beta C (cuda_ops.cpp explains the
  // mapping onto column-major cuBLAS). lda/ldb/ldc: row widths as stored.
  void gemm(bool trans_a, bool trans_b, int m, int n, int k, const float* a, int lda,
            const float* b, int ldb, float beta, float* c, int ldc);
  // out [cols] += sum over rows r of weights[r] * matrix[r, :] (matrix row-major
  // [rows, cols]); with weights = ones, the column sums.
  void add_weighted_row_sum(int rows, int cols, const float* matrix, const float* weights,
                            float* out);
  const float* ones(std::size_t count);
  void check_rows(std::size_t rows, const char* op) const;
  void raise_device_faults();

  CudaOptions options_;
  ActiveDevice device_;  // first: everything below is created on this device
  // The fold's arena: every buffer allocate() hands out (parameters, Adam
  // state, activations, staging) is cut from a few device chunks.
  Arena arena_{[](std::size_t bytes) { return std::make_unique<DeviceMemory>(bytes); }};
  Stream stream_;
  CublasHandle cublas_;
  CudnnHandle cudnn_;
  DeviceMemory cublas_workspace_;
  cublasComputeType_t compute_type_ = CUBLAS_COMPUTE_32F;

  DeviceMemory fault_;          // int: kernels::kFault* bits
  DeviceMemory norm_partials_;  // kernels::kNormBlocks doubles
  DeviceMemory clip_scale_;     // float

  // Sized by reserve() for max_steps * max_batch rows.
  std::size_t reserved_rows_ = 0;
  GrowingBuffer ones_;        // float ones for column sums
  GrowingBuffer scores_;      // attention ds [T*B]
  GrowingBuffer sort_keys_;   // embedding sort: 4 uint32 arrays of reserved_rows_
  GrowingBuffer sort_temp_;   // CUB temporary storage
  kernels::EmbeddingSortBuffers sort_buffers_;
  // attention dz [T*B, A], sized by reserve().
  GrowingBuffer attention_dz_;
};

std::unique_ptr<CudaOps> make_cuda_ops(const CudaOptions& options);

}  // namespace lyre::cuda
