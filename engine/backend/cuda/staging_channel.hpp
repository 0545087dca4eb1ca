// The CUDA StagingChannel (engine/train/feeder.hpp): two pinned host slots and
// two device slots; copies run on a copy stream of their own and are handed to
// the replica's compute stream with events, so packing and copying batch i+1
// overlap the training of batch i.
//
//   host:    pack i+1 -----> acquire(i+1 % 2) waits for batch i-1's release
//   copy:         [H2D i+1] -> copied event
//   compute: [batch i ......][wait copied][batch i+1 ...] -> consumed event
#pragma once

#include <cstddef>

#include "engine/backend/cuda/cuda_ops.hpp"
#include "engine/backend/cuda/cuda_raii.hpp"
#include "engine/train/feeder.hpp"

namespace lyre::cuda {

class CudaStagingChannel final : public StagingChannel {
 public:
  CudaStagingChannel(CudaOps& ops, std::size_t slot_bytes);

  std::byte* host_slot(int slot) override { return pinned_[index(slot)].as<std::byte>(); }
  std::byte* device_slot(int slot) override {
    return static_cast<std::byte*>(device_[index(slot)].data());
  }
  void acquire(int slot) override;
  void transfer(int slot, std::size_t bytes) override;
  void release(int slot) override;

 private:
  static std::size_t index(int slot) { return static_cast<std::size_t>(slot & 1); }

  cudaStream_t compute_;
  std::size_t slot_bytes_;
  Stream copy_stream_;
  PinnedMemory pinned_[2];
  DeviceMemory device_[2];
  Event copied_[2];
  Event consumed_[2];
  bool in_use_[2] = {false, false};
};

}  // namespace lyre::cuda
