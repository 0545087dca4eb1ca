#include "engine/backend/backend.hpp"

#include <omp.h>

#include <fmt/format.h>

#include "engine/backend/cpu/cpu_ops.hpp"
#include "engine/core/error.hpp"
#if defined(LYRE_HAVE_CUDA)
#include "engine/backend/cuda/cuda_ops.hpp"
#include "engine/backend/cuda/cuda_raii.hpp"
#include "engine/backend/cuda/staging_channel.hpp"
#endif

namespace lyre {

bool cuda_backend_built() {
#if defined(LYRE_HAVE_CUDA)
  return true;
#else
  return false;
#endif
}

int cuda_devices() {
#if defined(LYRE_HAVE_CUDA)
  return cuda::device_count();
#else
  return 0;
#endif
}

BackendKind resolve_backend(BackendKind requested, const CudaConfig& cuda) {
  if (requested == BackendKind::cpu) return BackendKind::cpu;
  const bool built = cuda_backend_built();
  const int devices = built ? cuda_devices() : 0;
  if (requested == BackendKind::automatic)
    return built && devices > cuda.device ? BackendKind::cuda : BackendKind::cpu;
  if (!built)
    fail_input("train.backend = cuda, but this lyre was built without the CUDA backend "
               "(configure with -DLYRE_WITH_CUDA=ON on a machine with the CUDA toolkit and cuDNN)");
  if (devices == 0)
    fail_input("train.backend = cuda, but no CUDA device is visible (use train.backend=cpu or auto)");
  if (cuda.device >= devices)
    fail_input("cuda.device = {}, but only {} CUDA device(s) are visible", cuda.device, devices);
  return BackendKind::cuda;
}

std::unique_ptr<LayerOps<float>> make_layer_ops(BackendKind kind, const CudaConfig& cuda) {
  LYRE_CHECK(kind != BackendKind::automatic, "resolve the backend before creating it");
  if (kind == BackendKind::cpu) return make_cpu_ops();
#if defined(LYRE_HAVE_CUDA)
  return cuda::make_cuda_ops(cuda::CudaOptions{cuda.device, cuda.precision, cuda.rnn_algo,
                                               cuda.deterministic});
#else
  (void)cuda;
  fail("this lyre was built without the CUDA backend");
#endif
}

std::unique_ptr<StagingChannel> make_staging_channel(BackendKind kind, LayerOps<float>& ops,
                                                     std::size_t slot_bytes) {
  if (kind == BackendKind::cpu) return make_host_staging_channel(slot_bytes);
#if defined(LYRE_HAVE_CUDA)
  return std::make_unique<cuda::CudaStagingChannel>(dynamic_cast<cuda::CudaOps&>(ops), slot_bytes);
#else
  (void)ops;
  fail("this lyre was built without the CUDA backend");
#endif
}

std::string describe_backend(BackendKind kind, const ExperimentConfig& config) {
  if (kind == BackendKind::cpu)
    return fmt::format("cpu (OpenBLAS + OpenMP, {} threads)", omp_get_max_threads());
#if defined(LYRE_HAVE_CUDA)
  return fmt::format("cuda: {} (precision {}, rnn {})", cuda::describe_device(config.cuda.device),
                     to_string(config.cuda.precision),
                     config.cuda.rnn_algo == RnnAlgo::standard ? "standard" : "persistent_static");
#else
  (void)config;
  return "cuda (not built)";
#endif
}

}  // namespace lyre
