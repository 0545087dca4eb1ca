#include "engine/backend/cuda/staging_channel.hpp"

#include "engine/core/error.hpp"

namespace lyre::cuda {

CudaStagingChannel::CudaStagingChannel(CudaOps& ops, std::size_t slot_bytes)
    : compute_(ops.stream()),
      slot_bytes_(slot_bytes),
      pinned_{PinnedMemory(slot_bytes), PinnedMemory(slot_bytes)},
      device_{DeviceMemory(slot_bytes), DeviceMemory(slot_bytes)} {}

void CudaStagingChannel::acquire(int slot) {
  // The slot's last batch released it on the compute stream; once that work
  // is done, its device copy was read and its pinned copy long finished.
  if (in_use_[index(slot)]) consumed_[index(slot)].synchronize();
  in_use_[index(slot)] = false;
}

void CudaStagingChannel::transfer(int slot, std::size_t bytes) {
  LYRE_CHECK(bytes <= slot_bytes_, "staging {} bytes into slots of {}", bytes, slot_bytes_);
  const auto i = index(slot);
  LYRE_CUDA(cudaMemcpyAsync(device_[i].data(), pinned_[i].as<void>(), bytes,
                            cudaMemcpyHostToDevice, copy_stream_.get()));
  copied_[i].record(copy_stream_.get());
  copied_[i].wait_on(compute_);
}

void CudaStagingChannel::release(int slot) {
  consumed_[index(slot)].record(compute_);
  in_use_[index(slot)] = true;
}

}  // namespace lyre::cuda
