#include <string>

#include <fmt/format.h>

#include "engine/backend/cuda/cuda_raii.hpp"

namespace lyre::cuda {

int device_count() {
  int count = 0;
  // No driver, no device, or a driver too old all mean "no GPU here".
  if (cudaGetDeviceCount(&count) != cudaSuccess) {
    cudaGetLastError();  // clear the sticky error so later calls start clean
    return 0;
  }
  return count;
}

bool device_available() { return device_count() > 0; }

std::string describe_device(int device) {
  cudaDeviceProp prop{};
  LYRE_CUDA(cudaGetDeviceProperties(&prop, device));
  return fmt::format("{} (sm_{}{}, {} SMs, {:.1f} GiB)", prop.name, prop.major, prop.minor,
                     prop.multiProcessorCount,
                     static_cast<double>(prop.totalGlobalMem) / (1024.0 * 1024.0 * 1024.0));
}

}  // namespace lyre::cuda
