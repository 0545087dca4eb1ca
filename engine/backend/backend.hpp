// Picking and creating a backend: `train.backend: auto | cpu | cuda`.
#pragma once

#include <memory>
#include <string>

#include "engine/backend/layer_ops.hpp"
#include "engine/config/config.hpp"
#include "engine/train/feeder.hpp"

namespace lyre {

// True when this binary was built with the CUDA backend.
bool cuda_backend_built();
// Usable CUDA devices (0 without the CUDA backend, a driver or a device).
int cuda_devices();

// auto -> cuda when the CUDA backend is built and a device exists, else cpu.
// cuda without either is an InputError saying which is missing.
BackendKind resolve_backend(BackendKind requested, const CudaConfig& cuda);

// One execution context (a fold replica's): CPU scratch, or a CUDA stream with
// its own handles and workspace.
std::unique_ptr<LayerOps<float>> make_layer_ops(BackendKind kind, const CudaConfig& cuda);

// The channel a streaming feeder hands batches through: host memory on the
// CPU backend; pinned double buffers, a copy stream and events on CUDA
// (engine/train/feeder.hpp). `ops` is the replica's execution context.
std::unique_ptr<StagingChannel> make_staging_channel(BackendKind kind, LayerOps<float>& ops,
                                                     std::size_t slot_bytes);

// "cpu (OpenBLAS, 2 threads)" or "cuda: NVIDIA H100 ... (precision fp32)".
std::string describe_backend(BackendKind kind, const ExperimentConfig& config);

}  // namespace lyre
