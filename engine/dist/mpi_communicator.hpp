// The MPI side of engine/dist (built when LYRE_HAVE_MPI): the process-wide
// MPI session and the communicator over MPI_COMM_WORLD. Only communicator.cpp
// and nccl_exchange.cpp include this; nothing here needs <mpi.h>.
#pragma once

#include <memory>

#include "engine/dist/communicator.hpp"

namespace lyre::dist {

void mpi_initialize();  // MPI_Init_thread (funneled): only the main thread calls MPI
void mpi_finalize();    // no-op unless mpi_initialize ran
bool mpi_running();
void mpi_abort_if_several(int exit_code);

std::unique_ptr<Communicator> make_mpi_communicator(const DistConfig& config);

// Waits for MPI requests while honouring stop requests and dist.timeout_s.
// `what` names the exchange in messages ("the gradients of optimizer step 12").
// Defined in mpi_communicator.cpp; void* stands for MPI_Request*.
void wait_for_ranks(void* requests, int count, const DistConfig& config, int rank, int size,
                    const std::string& what);

}  // namespace lyre::dist
