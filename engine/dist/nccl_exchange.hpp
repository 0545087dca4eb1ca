// The CUDA side of data-parallel training (built when LYRE_HAVE_NCCL): one
// NCCL communicator per fold replica, on the replica's own stream, its unique
// id broadcast from rank 0 over MPI.
#pragma once

#include <cstddef>
#include <memory>

#include "engine/dist/communicator.hpp"

namespace lyre::dist {

std::unique_ptr<GradientExchange> make_nccl_exchange(LayerOps<float>& ops, std::size_t n,
                                                     const DistConfig& config, int rank,
                                                     int size);

}  // namespace lyre::dist
