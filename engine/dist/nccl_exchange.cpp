#include "engine/dist/nccl_exchange.hpp"

#include <mpi.h>
#include <nccl.h>

#include "engine/backend/cuda/cuda_ops.hpp"
#include "engine/backend/cuda/cuda_raii.hpp"
#include "engine/core/error.hpp"
#include "engine/dist/mpi_communicator.hpp"

namespace lyre::dist {
namespace {

void check_nccl(ncclResult_t status, const char* call) {
  if (status != ncclSuccess)
    fail("NCCL call {} failed: {} ({})", call, ncclGetErrorString(status), ncclGetLastError(nullptr));
}
#define LYRE_NCCL(call) check_nccl((call), #call)

class NcclCommunicator {
 public:
  NcclCommunicator(const DistConfig& config, int rank, int size) {
    ncclUniqueId id{};
    if (rank == 0) LYRE_NCCL(ncclGetUniqueId(&id));
    MPI_Request request;
    if (MPI_Ibcast(&id, sizeof id, MPI_BYTE, 0, MPI_COMM_WORLD, &request) != MPI_SUCCESS)
      fail("MPI could not broadcast NCCL's unique id");
    wait_for_ranks(&request, 1, config, rank, size, "the NCCL set-up");
    LYRE_NCCL(ncclCommInitRank(&comm_, size, id, rank));
  }
  ~NcclCommunicator() {
    if (comm_) ncclCommDestroy(comm_);
  }
  NcclCommunicator(const NcclCommunicator&) = delete;
  NcclCommunicator& operator=(const NcclCommunicator&) = delete;
  ncclComm_t get() const { return comm_; }

 private:
  ncclComm_t comm_ = nullptr;
};

// ncclAllReduce (sum) of the gradients and (max) of the stop flags, on the
// replica's stream so it overlaps nothing it must not. The flag comes back to
// pinned host memory asynchronously: sum() reads the previous exchange's flag
// (the GPU is at most one batch ahead), so the host never waits per batch.
class NcclGradientExchange final : public GradientExchange {
 public:
  NcclGradientExchange(cuda::CudaOps& ops, std::size_t n, const DistConfig& config, int rank,
                       int size)
      : ops_(ops), n_(n), comm_(config, rank, size), flag_device_(sizeof(int)),
        flag_host_(sizeof(int)) {
    *flag_host_.as<int>() = 0;
  }

  bool sum(float* grads, bool stop) override {
    const cudaStream_t stream = ops_.stream();
    // The flag of the previous exchange, before this one overwrites it.
    bool any_stop = false;
    if (pending_) {
      ready_.synchronize();
      any_stop = *flag_host_.as<int>() != 0;
    }
    const int local = stop ? 1 : 0;  // pageable: the driver stages it before returning
    LYRE_CUDA(cudaMemcpyAsync(flag_device_.data(), &local, sizeof local, cudaMemcpyHostToDevice,
                              stream));
    LYRE_NCCL(ncclGroupStart());
    LYRE_NCCL(ncclAllReduce(grads, grads, n_, ncclFloat, ncclSum, comm_.get(), stream));
    LYRE_NCCL(ncclAllReduce(flag_device_.data(), flag_device_.data(), 1, ncclInt, ncclMax,
                            comm_.get(), stream));
    LYRE_NCCL(ncclGroupEnd());
    LYRE_CUDA(cudaMemcpyAsync(flag_host_.as<int>(), flag_device_.data(), sizeof(int),
                              cudaMemcpyDeviceToHost, stream));
    ready_.record(stream);
    pending_ = true;
    return any_stop;
  }

 private:
  cuda::CudaOps& ops_;
  std::size_t n_;
  NcclCommunicator comm_;
  cuda::DeviceMemory flag_device_;
  cuda::PinnedMemory flag_host_;
  cuda::Event ready_;
  bool pending_ = false;
};

}  // namespace

std::unique_ptr<GradientExchange> make_nccl_exchange(LayerOps<float>& ops, std::size_t n,
                                                     const DistConfig& config, int rank,
                                                     int size) {
  auto* cuda_ops = dynamic_cast<cuda::CudaOps*>(&ops);
  LYRE_CHECK(cuda_ops != nullptr, "an NCCL exchange needs the CUDA backend's ops");
  return std::make_unique<NcclGradientExchange>(*cuda_ops, n, config, rank, size);
}

}  // namespace lyre::dist
