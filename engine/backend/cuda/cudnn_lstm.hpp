// The LSTM stack on cuDNN's v8/v9 RNN API (cudnnRNNForward,
// cudnnRNNBackwardData_v8, cudnnRNNBackwardWeights_v8).
//
//   x:  [T,B,In]    y, dy: [T,B,Hout]    dx: [T,B,In]    Hout = H * directions
//   weights, dweights: the canonical LSTM block (param_layout.hpp): per layer l
//     and direction d, w_ih [4H,In_l], w_hh [4H,H], b_ih [4H], b_hh [4H], gate
//     blocks i, f, g, o.
//
// Descriptors: CUDNN_LSTM, CUDNN_RNN_DOUBLE_BIAS, CUDNN_LINEAR_INPUT, float data
// and math precision, no dropout between layers, padded IO: the data
// descriptors are CUDNN_RNN_DATA_LAYOUT_SEQ_MAJOR_UNPACKED ([T,B,F] as the
// other layers store it) with each song's length, and y is filled with 0 at
// padding. dx at padding is set to 0 after the backward pass.
//
// Weights: the constructor asks cuDNN (cudnnGetRNNWeightParams) where every
// matrix and bias of every pseudo-layer (layer * directions + direction;
// linLayerID 0-3 the input gates i, f, g, o, 4-7 the recurrent ones) lives in
// its weight space. When each sits exactly at its canonical offset, which is
// the expected case, the parameter buffer IS the weight space and the
// gradient buffer the dweight space (zero copies). Otherwise the layer keeps
// its own weight spaces and copies the segments in and out on every call:
// correct, slower, logged once.
//
// Precision: fp32 uses CUDNN_FMA_MATH (strict fp32; CUDNN_DEFAULT_MATH with a
// one-time warning where cuDNN reports it unsupported); tf32 and bf16 use
// CUDNN_DEFAULT_MATH, which lets cuDNN use TF32 tensor cores. cuDNN has no
// bf16 RNN path with fp32 inputs and outputs, so bf16 changes only the cuBLAS
// products (cuda_ops.cpp); the LSTM runs as under tf32.
//
// Algorithm: standard, or persistent_static (RnnAlgo): the persistent kernels
// refuse batches of mixed lengths, so a second descriptor is kept and used only
// for batches whose songs all have the same length; where cuDNN does not
// support it for this shape the layer warns once and stays standard.
//
// Workspace and reserve space are sized once for (max_steps, max_batch);
// every batch checks that its sizes fit (and grows the buffers, with a
// warning, if cuDNN ever asks for more). The layer runs on its owner's cuDNN
// handle and stream (CudaOps), which must outlive it.
#pragma once

#include <cstddef>
#include <memory>
#include <vector>

#include <cudnn.h>

#include "engine/backend/cuda/cuda_raii.hpp"
#include "engine/backend/layer_ops.hpp"
#include "engine/config/config.hpp"

namespace lyre::cuda {

// RAII for a cuDNN descriptor type.
template <typename Handle, cudnnStatus_t (*Create)(Handle*), cudnnStatus_t (*Destroy)(Handle)>
class CudnnDescriptor {
 public:
  CudnnDescriptor() { check(Create(&handle_), "cudnnCreate...Descriptor", __FILE__, __LINE__); }
  ~CudnnDescriptor() {
    if (handle_) Destroy(handle_);
  }
  CudnnDescriptor(const CudnnDescriptor&) = delete;
  CudnnDescriptor& operator=(const CudnnDescriptor&) = delete;
  Handle get() const { return handle_; }

 private:
  Handle handle_ = nullptr;
};

using RnnDescriptor =
    CudnnDescriptor<cudnnRNNDescriptor_t, cudnnCreateRNNDescriptor, cudnnDestroyRNNDescriptor>;
using RnnDataDescriptor = CudnnDescriptor<cudnnRNNDataDescriptor_t, cudnnCreateRNNDataDescriptor,
                                          cudnnDestroyRNNDataDescriptor>;
using TensorDescriptor = CudnnDescriptor<cudnnTensorDescriptor_t, cudnnCreateTensorDescriptor,
                                         cudnnDestroyTensorDescriptor>;
using DropoutDescriptor = CudnnDescriptor<cudnnDropoutDescriptor_t, cudnnCreateDropoutDescriptor,
                                          cudnnDestroyDropoutDescriptor>;

// What the layer borrows from its CudaOps.
struct CudnnLstmContext {
  cudnnHandle_t cudnn = nullptr;  // already bound to `stream`
  cudaStream_t stream = nullptr;
  int device = 0;
  Precision precision = Precision::fp32;
  RnnAlgo algo = RnnAlgo::standard;
};

class CudnnLstm final : public LstmLayer<float> {
 public:
  CudnnLstm(const CudnnLstmContext& context, const LstmShape& shape);

  void forward(const BatchInputs& batch, const float* x, const float* weights, float* y,
               bool training) override;
  void backward(const BatchInputs& batch, const float* x, const float* weights, const float* y,
                const float* dy, float* dx, float* dweights) override;

  // The parameter and gradient buffers are cuDNN's weight spaces (no copies).
  bool zero_copy() const { return zero_copy_; }
  // The persistent descriptor exists (rnn_algo persistent_static, supported).
  bool persistent() const { return persistent_ != nullptr; }
  cudnnMathType_t math_type() const { return math_; }

 private:
  // One matrix or bias: where it sits in the canonical block and in cuDNN's
  // weight space (elements), and its size.
  struct Segment {
    std::size_t canonical = 0;
    std::size_t cudnn = 0;
    std::size_t count = 0;
    bool operator==(const Segment&) const = default;
  };

  cudnnStatus_t set_rnn_descriptor(const RnnDescriptor& desc, cudnnRNNAlgo_t algo,
                                   cudnnMathType_t math) const;
  // Sets `desc` and sizes its temp spaces for the largest batch; returns
  // cuDNN's status when it refuses the combination (throws on other errors).
  cudnnStatus_t configure(const RnnDescriptor& desc, cudnnRNNAlgo_t algo, cudnnMathType_t math,
                          std::size_t& workspace, std::size_t& reserve);
  void configure_persistent(std::size_t& workspace, std::size_t& reserve);
  std::vector<Segment> map_weight_space(const RnnDescriptor& desc, std::size_t& space_bytes);
  void set_data_descriptors(int steps, int batch, const int* lengths);
  void ensure_temp_space(const RnnDescriptor& desc, cudnnForwardMode_t mode,
                         std::size_t& workspace, std::size_t& reserve);
  void copy_segments(const float* from, float* to, bool to_cudnn) const;
  bool all_lengths_equal(const BatchInputs& batch) const;
  void run_forward(const RnnDescriptor& desc, const BatchInputs& batch, const float* x,
                   const float* weight_space, float* y, bool training);

  CudnnLstmContext context_;
  LstmShape shape_;
  cudnnMathType_t math_ = CUDNN_FMA_MATH;
  DropoutDescriptor no_dropout_;
  RnnDescriptor standard_;
  std::unique_ptr<RnnDescriptor> persistent_;
  RnnDataDescriptor x_desc_, y_desc_;
  TensorDescriptor h_desc_;  // also the cell-state descriptor: same shape

  std::size_t canonical_size_ = 0;  // elements, lstm_param_count(shape)
  std::size_t space_bytes_ = 0;     // cuDNN's weight-space size
  std::vector<Segment> segments_;
  bool zero_copy_ = false;
  std::unique_ptr<DeviceMemory> weight_space_, dweight_space_;  // copy fallback only

  std::unique_ptr<DeviceMemory> workspace_, reserve_;
  std::unique_ptr<DeviceMemory> dx_scratch_;  // dx when the caller needs none

  // What the last forward(training) left for backward.
  const RnnDescriptor* trained_desc_ = nullptr;
  const float* trained_weights_ = nullptr;
  std::vector<int> trained_lengths_;
  std::size_t workspace_used_ = 0, reserve_used_ = 0;
};

}  // namespace lyre::cuda
