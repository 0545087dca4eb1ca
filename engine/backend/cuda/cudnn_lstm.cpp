#include "engine/backend/cuda/cudnn_lstm.hpp"

#include <algorithm>
#include <atomic>
#include <cstdint>

#include "engine/core/error.hpp"
#include "engine/core/log.hpp"
#include "kernels/gather.cuh"

namespace lyre::cuda {
namespace {

constexpr int kGates = 4;                 // i, f, g, o
constexpr int kLinearLayers = 2 * kGates;  // cuDNN's linLayerID: 0-3 input, 4-7 recurrent
constexpr float kPaddingFill = 0.0f;

// Things every fold replica would otherwise repeat: said once per process.
enum class Notice { default_math, weight_copies, persistent_refused, temp_growth, count };

bool first_notice(Notice notice) {
  static std::atomic<bool> seen[static_cast<int>(Notice::count)];
  return !seen[static_cast<int>(notice)].exchange(true);
}

// cuDNN 9 reports "this combination is not supported" as a category of codes.
bool not_supported(cudnnStatus_t status) {
  return CUDNN_STATUS_CATEGORY(static_cast<int>(status)) ==
         static_cast<int>(CUDNN_STATUS_NOT_SUPPORTED);
}

std::size_t element_count(cudnnTensorDescriptor_t desc) {
  cudnnDataType_t type{};
  int dims[3] = {0, 0, 0}, strides[3] = {0, 0, 0};
  int rank = 0;
  LYRE_CUDA(cudnnGetTensorNdDescriptor(desc, 3, &type, &rank, dims, strides));
  LYRE_CHECK(rank >= 1 && rank <= 3, "cuDNN reported a weight tensor of rank {}", rank);
  std::size_t count = 1;
  for (int i = 0; i < rank; ++i) count *= static_cast<std::size_t>(dims[i]);
  return count;
}

std::size_t element_offset(const void* address, const void* base) {
  const auto bytes = static_cast<const char*>(address) - static_cast<const char*>(base);
  LYRE_CHECK(bytes >= 0 && bytes % static_cast<std::ptrdiff_t>(sizeof(float)) == 0,
             "cuDNN weight at byte offset {}", bytes);
  return static_cast<std::size_t>(bytes) / sizeof(float);
}

}  // namespace

CudnnLstm::CudnnLstm(const CudnnLstmContext& context, const LstmShape& shape)
    : context_(context), shape_(shape), canonical_size_(lstm_param_count(shape)) {
  LYRE_CHECK(shape.input >= 1 && shape.hidden >= 1 && shape.layers >= 1 &&
                 shape.max_steps >= 1 && shape.max_batch >= 1,
             "LSTM shape input {} hidden {} layers {} for {}x{} batches", shape.input,
             shape.hidden, shape.layers, shape.max_steps, shape.max_batch);
  LYRE_CUDA(cudaSetDevice(context.device));
  // No dropout between layers: a descriptor with p = 0 needs no state buffer.
  LYRE_CUDA(cudnnSetDropoutDescriptor(no_dropout_.get(), context.cudnn, 0.0f, nullptr, 0, 0));

  math_ = context.precision == Precision::fp32 ? CUDNN_FMA_MATH : CUDNN_DEFAULT_MATH;
  std::size_t workspace = 0, reserve = 0;
  cudnnStatus_t status = configure(standard_, CUDNN_RNN_ALGO_STANDARD, math_, workspace, reserve);
  if (not_supported(status) && math_ == CUDNN_FMA_MATH) {
    if (first_notice(Notice::default_math))
      log::warn("cuDNN does not support strict fp32 (CUDNN_FMA_MATH) for this LSTM ({}); using "
                "CUDNN_DEFAULT_MATH, which may use TF32 tensor cores",
                cudnnGetErrorString(status));
    math_ = CUDNN_DEFAULT_MATH;
    status = configure(standard_, CUDNN_RNN_ALGO_STANDARD, math_, workspace, reserve);
  }
  check(status, "configuring the cuDNN LSTM (cudnnSetRNNDescriptor_v8 / cudnnGetRNNTempSpaceSizes)",
        __FILE__, __LINE__);

  segments_ = map_weight_space(standard_, space_bytes_);
  zero_copy_ = space_bytes_ == canonical_size_ * sizeof(float) &&
               std::all_of(segments_.begin(), segments_.end(),
                           [](const Segment& s) { return s.cudnn == s.canonical; });
  if (!zero_copy_) {
    if (first_notice(Notice::weight_copies))
      log::warn("cuDNN's LSTM weight layout differs from the canonical one ({} bytes vs {}): "
                "weights and gradients are copied on every step (correct, slower)",
                space_bytes_, canonical_size_ * sizeof(float));
    weight_space_ = std::make_unique<DeviceMemory>(space_bytes_);
    dweight_space_ = std::make_unique<DeviceMemory>(space_bytes_);
    LYRE_CUDA(cudaMemsetAsync(weight_space_->data(), 0, space_bytes_, context.stream));
    LYRE_CUDA(cudaMemsetAsync(dweight_space_->data(), 0, space_bytes_, context.stream));
  }

  if (context.algo == RnnAlgo::persistent_static) configure_persistent(workspace, reserve);

  workspace_ = std::make_unique<DeviceMemory>(workspace);
  reserve_ = std::make_unique<DeviceMemory>(reserve);
  dx_scratch_ = std::make_unique<DeviceMemory>(static_cast<std::size_t>(shape.max_steps) *
                                               static_cast<std::size_t>(shape.max_batch) *
                                               static_cast<std::size_t>(shape.input) *
                                               sizeof(float));
}

cudnnStatus_t CudnnLstm::set_rnn_descriptor(const RnnDescriptor& desc, cudnnRNNAlgo_t algo,
                                            cudnnMathType_t math) const {
  return cudnnSetRNNDescriptor_v8(
      desc.get(), algo, CUDNN_LSTM, CUDNN_RNN_DOUBLE_BIAS,
      shape_.bidirectional ? CUDNN_BIDIRECTIONAL : CUDNN_UNIDIRECTIONAL, CUDNN_LINEAR_INPUT,
      CUDNN_DATA_FLOAT, CUDNN_DATA_FLOAT, math, shape_.input, shape_.hidden,
      /*projSize=*/shape_.hidden, shape_.layers, no_dropout_.get(), CUDNN_RNN_PADDED_IO_ENABLED);
}

cudnnStatus_t CudnnLstm::configure(const RnnDescriptor& desc, cudnnRNNAlgo_t algo,
                                   cudnnMathType_t math, std::size_t& workspace,
                                   std::size_t& reserve) {
  cudnnStatus_t status = set_rnn_descriptor(desc, algo, math);
  if (status != CUDNN_STATUS_SUCCESS) return status;
  // The largest batch: every song max_steps long.
  const std::vector<int> full(static_cast<std::size_t>(shape_.max_batch), shape_.max_steps);
  set_data_descriptors(shape_.max_steps, shape_.max_batch, full.data());
  std::size_t ws = 0, rs = 0;
  status = cudnnGetRNNTempSpaceSizes(context_.cudnn, desc.get(), CUDNN_FWD_MODE_TRAINING,
                                     x_desc_.get(), &ws, &rs);
  if (status != CUDNN_STATUS_SUCCESS) return status;
  workspace = std::max(workspace, ws);
  reserve = std::max(reserve, rs);
  return CUDNN_STATUS_SUCCESS;
}

void CudnnLstm::configure_persistent(std::size_t& workspace, std::size_t& reserve) {
  auto desc = std::make_unique<RnnDescriptor>();
  std::size_t ws = workspace, rs = reserve;
  const cudnnStatus_t status = configure(*desc, CUDNN_RNN_ALGO_PERSIST_STATIC, math_, ws, rs);
  if (status != CUDNN_STATUS_SUCCESS) {
    if (first_notice(Notice::persistent_refused))
      log::warn("cuDNN refuses the persistent_static LSTM for hidden {} x {} layer(s) ({}); "
                "using the standard algorithm",
                shape_.hidden, shape_.layers, cudnnGetErrorString(status));
    return;
  }
  std::size_t bytes = 0;
  const auto segments = map_weight_space(*desc, bytes);
  if (bytes != space_bytes_ || segments != segments_) {
    if (first_notice(Notice::persistent_refused))
      log::warn("cuDNN's persistent LSTM lays its weights out differently from the standard "
                "one; using the standard algorithm");
    return;
  }
  workspace = ws;
  reserve = rs;
  persistent_ = std::move(desc);
}

std::vector<CudnnLstm::Segment> CudnnLstm::map_weight_space(const RnnDescriptor& desc,
                                                            std::size_t& space_bytes) {
  LYRE_CUDA(cudnnGetRNNWeightSpaceSize(context_.cudnn, desc.get(), &space_bytes));
  // cuDNN reports addresses inside a weight space it is given: a scratch one.
  DeviceMemory scratch(space_bytes);
  const void* base = scratch.data();
  TensorDescriptor matrix_desc, bias_desc;
  std::vector<Segment> segments;
  const auto H = static_cast<std::size_t>(shape_.hidden);
  std::size_t block = 0;  // canonical start of this layer/direction
  for (int layer = 0; layer < shape_.layers; ++layer) {
    const auto in = static_cast<std::size_t>(layer == 0 ? shape_.input : shape_.output());
    for (int dir = 0; dir < shape_.directions(); ++dir) {
      const int pseudo_layer = layer * shape_.directions() + dir;
      const std::size_t w_ih = block, w_hh = w_ih + kGates * H * in;
      const std::size_t b_ih = w_hh + kGates * H * H, b_hh = b_ih + kGates * H;
      for (int id = 0; id < kLinearLayers; ++id) {
        const bool input_gate = id < kGates;
        const auto gate = static_cast<std::size_t>(id % kGates);
        void* matrix = nullptr;
        void* bias = nullptr;
        LYRE_CUDA(cudnnGetRNNWeightParams(context_.cudnn, desc.get(), pseudo_layer, space_bytes,
                                          base, id, matrix_desc.get(), &matrix, nullptr,
                                          nullptr));
        LYRE_CUDA(cudnnGetRNNWeightParams(context_.cudnn, desc.get(), pseudo_layer, space_bytes,
                                          base, id, nullptr, nullptr, bias_desc.get(), &bias));
        const std::size_t columns = input_gate ? in : H;
        const Segment m{(input_gate ? w_ih : w_hh) + gate * H * columns,
                        element_offset(matrix, base), H * columns};
        const Segment b{(input_gate ? b_ih : b_hh) + gate * H, element_offset(bias, base), H};
        LYRE_CHECK(element_count(matrix_desc.get()) == m.count &&
                       element_count(bias_desc.get()) == b.count,
                   "cuDNN's LSTM weight {} of pseudo-layer {} has {} + {} elements, expected "
                   "{} + {}",
                   id, pseudo_layer, element_count(matrix_desc.get()),
                   element_count(bias_desc.get()), m.count, b.count);
        LYRE_CHECK((m.cudnn + m.count) * sizeof(float) <= space_bytes &&
                       (b.cudnn + b.count) * sizeof(float) <= space_bytes,
                   "cuDNN's LSTM weight {} of pseudo-layer {} lies outside its weight space", id,
                   pseudo_layer);
        segments.push_back(m);
        segments.push_back(b);
      }
      block = b_hh + kGates * H;
    }
  }
  LYRE_CHECK(block == canonical_size_, "canonical LSTM block of {} elements, expected {}", block,
             canonical_size_);
  return segments;
}

void CudnnLstm::set_data_descriptors(int steps, int batch, const int* lengths) {
  float fill = kPaddingFill;
  LYRE_CUDA(cudnnSetRNNDataDescriptor(x_desc_.get(), CUDNN_DATA_FLOAT,
                                      CUDNN_RNN_DATA_LAYOUT_SEQ_MAJOR_UNPACKED, steps, batch,
                                      shape_.input, lengths, &fill));
  LYRE_CUDA(cudnnSetRNNDataDescriptor(y_desc_.get(), CUDNN_DATA_FLOAT,
                                      CUDNN_RNN_DATA_LAYOUT_SEQ_MAJOR_UNPACKED, steps, batch,
                                      shape_.output(), lengths, &fill));
  // Initial/final states (not used: zero initial state, no final state) still
  // need their shape: [layers * directions, B, H], packed.
  const int dims[3] = {shape_.layers * shape_.directions(), batch, shape_.hidden};
  const int strides[3] = {batch * shape_.hidden, shape_.hidden, 1};
  LYRE_CUDA(cudnnSetTensorNdDescriptor(h_desc_.get(), CUDNN_DATA_FLOAT, 3, dims, strides));
}

void CudnnLstm::ensure_temp_space(const RnnDescriptor& desc, cudnnForwardMode_t mode,
                                  std::size_t& workspace, std::size_t& reserve) {
  LYRE_CUDA(cudnnGetRNNTempSpaceSizes(context_.cudnn, desc.get(), mode, x_desc_.get(),
                                      &workspace, &reserve));
  if (workspace <= workspace_->bytes() && reserve <= reserve_->bytes()) return;
  // Sized for the largest batch at construction, so this is not expected;
  // correct anyway (cudaFree waits for the device before releasing).
  if (first_notice(Notice::temp_growth))
    log::warn("cuDNN asks for more LSTM scratch than sized for the largest batch ({} / {} "
              "bytes, sized {} / {}): growing it",
              workspace, reserve, workspace_->bytes(), reserve_->bytes());
  if (workspace > workspace_->bytes()) {
    workspace_.reset();
    workspace_ = std::make_unique<DeviceMemory>(workspace);
  }
  if (reserve > reserve_->bytes()) {
    reserve_.reset();
    reserve_ = std::make_unique<DeviceMemory>(reserve);
  }
}

void CudnnLstm::copy_segments(const float* from, float* to, bool to_cudnn) const {
  for (const Segment& s : segments_) {
    const std::size_t src = to_cudnn ? s.canonical : s.cudnn;
    const std::size_t dst = to_cudnn ? s.cudnn : s.canonical;
    LYRE_CUDA(cudaMemcpyAsync(to + dst, from + src, s.count * sizeof(float),
                              cudaMemcpyDeviceToDevice, context_.stream));
  }
}

bool CudnnLstm::all_lengths_equal(const BatchInputs& batch) const {
  return std::all_of(batch.host_lengths, batch.host_lengths + batch.batch,
                     [&](std::int32_t len) { return len == batch.host_lengths[0]; });
}

void CudnnLstm::run_forward(const RnnDescriptor& desc, const BatchInputs& batch, const float* x,
                            const float* weight_space, float* y, bool training) {
  const cudnnForwardMode_t mode = training ? CUDNN_FWD_MODE_TRAINING : CUDNN_FWD_MODE_INFERENCE;
  std::size_t workspace = 0, reserve = 0;
  ensure_temp_space(desc, mode, workspace, reserve);
  const cudnnStatus_t status = cudnnRNNForward(
      context_.cudnn, desc.get(), mode, batch.lengths, x_desc_.get(), x, y_desc_.get(), y,
      h_desc_.get(), /*hx=*/nullptr, /*hy=*/nullptr, h_desc_.get(), /*cx=*/nullptr,
      /*cy=*/nullptr, space_bytes_, weight_space, workspace, workspace_->data(), reserve,
      reserve > 0 ? reserve_->data() : nullptr);
  if (&desc == persistent_.get() && status != CUDNN_STATUS_SUCCESS) {
    // The persistent kernels can still refuse a shape at run time: fall back
    // for good. The standard run rewrites y and the reserve space entirely.
    if (first_notice(Notice::persistent_refused))
      log::warn("cuDNN refuses the persistent_static LSTM for a {}x{} batch ({}); using the "
                "standard algorithm",
                batch.steps, batch.batch, cudnnGetErrorString(status));
    persistent_.reset();
    run_forward(standard_, batch, x, weight_space, y, training);
    return;
  }
  check(status, "cudnnRNNForward", __FILE__, __LINE__);
  workspace_used_ = workspace;
  reserve_used_ = reserve;
  trained_desc_ = training ? &desc : nullptr;
}

void CudnnLstm::forward(const BatchInputs& batch, const float* x, const float* weights, float* y,
                        bool training) {
  LYRE_CHECK(batch.steps >= 1 && batch.steps <= shape_.max_steps && batch.batch >= 1 &&
                 batch.batch <= shape_.max_batch,
             "LSTM batch {}x{} exceeds the {}x{} it was built for", batch.steps, batch.batch,
             shape_.max_steps, shape_.max_batch);
  LYRE_CUDA(cudaSetDevice(context_.device));
  set_data_descriptors(batch.steps, batch.batch, batch.host_lengths);
  const float* weight_space = weights;
  if (!zero_copy_) {
    copy_segments(weights, weight_space_->as<float>(), /*to_cudnn=*/true);
    weight_space = weight_space_->as<float>();
  }
  const bool persistent_fits = persistent_ != nullptr && all_lengths_equal(batch);
  trained_desc_ = nullptr;
  run_forward(persistent_fits ? *persistent_ : standard_, batch, x, weight_space, y, training);
  if (training) {
    trained_weights_ = weights;
    trained_lengths_.assign(batch.host_lengths, batch.host_lengths + batch.batch);
  }
}

void CudnnLstm::backward(const BatchInputs& batch, const float* x, const float* weights,
                         const float* y, const float* dy, float* dx, float* dweights) {
  LYRE_CHECK(trained_desc_ != nullptr && weights == trained_weights_ &&
                 std::equal(trained_lengths_.begin(), trained_lengths_.end(), batch.host_lengths,
                            batch.host_lengths + batch.batch),
             "LSTM backward needs a forward(training) of the same batch and weights just before");
  LYRE_CUDA(cudaSetDevice(context_.device));
  const RnnDescriptor& desc = *trained_desc_;
  trained_desc_ = nullptr;  // backward consumes the reserve space
  const float* weight_space = zero_copy_ ? weights : weight_space_->as<float>();
  float* dx_out = dx != nullptr ? dx : dx_scratch_->as<float>();
  LYRE_CUDA(cudnnRNNBackwardData_v8(
      context_.cudnn, desc.get(), batch.lengths, y_desc_.get(), y, dy, x_desc_.get(), dx_out,
      h_desc_.get(), /*hx=*/nullptr, /*dhy=*/nullptr, /*dhx=*/nullptr, h_desc_.get(),
      /*cx=*/nullptr, /*dcy=*/nullptr, /*dcx=*/nullptr, space_bytes_, weight_space,
      workspace_used_, workspace_->data(), reserve_used_, reserve_->data()));

  // ADD mode accumulates into the gradient, which the network zeroed (or
  // which holds the canonical gradient copied in, on the fallback path).
  float* dweight_space = dweights;
  if (!zero_copy_) {
    dweight_space = dweight_space_->as<float>();
    copy_segments(dweights, dweight_space, /*to_cudnn=*/true);
  }
  LYRE_CUDA(cudnnRNNBackwardWeights_v8(
      context_.cudnn, desc.get(), CUDNN_WGRAD_MODE_ADD, batch.lengths, x_desc_.get(), x,
      h_desc_.get(), /*hx=*/nullptr, y_desc_.get(), y, space_bytes_, dweight_space,
      workspace_used_, workspace_->data(), reserve_used_, reserve_->data()));
  if (!zero_copy_) copy_segments(dweight_space, dweights, /*to_cudnn=*/false);

  // cuDNN leaves dx at padded steps unspecified; the contract says 0.
  if (dx != nullptr)
    kernels::zero_padding(batch.lengths, batch.steps, batch.batch, shape_.input, dx,
                          context_.stream);
}

}  // namespace lyre::cuda
