// Data-parallel training across processes ("ranks").
//
// One fold's training runs on every rank at once: each batch is split into
// one contiguous slice per rank (engine/train/batching.hpp, split_batches),
// every rank computes the gradient of its slice, the slices' gradients are
// summed, and every rank applies the same Adam step to the same sum, so the
// weights stay identical everywhere. Each slice's loss is divided by the whole
// batch's size, so the sum is the whole batch's mean gradient.
//
//  - CPU backend: MPI. The sum is taken in rank order (a reduce-scatter that
//    adds the ranks' copies of each segment as 0 + g0 + g1 + ..., then an
//    allgather), which is exactly what one process computes with
//    train.micro_batches = ranks: the two are equal bit for bit.
//  - CUDA backend: NCCL's all-reduce on each replica's stream, bootstrapped
//    through MPI (equal to the single process up to float rounding).
//
// Epoch counters are summed the same ordered way over MPI. Rank 0 alone
// writes the run folder; every rank reads it.
//
// Stopping: a SIGINT/SIGTERM (Slurm preemption) on any rank travels with the
// next gradient exchange, so all ranks stop at the same batch and rank 0
// checkpoints. A rank that dies leaves the others waiting in an exchange:
// they give up with an Error naming the batch when the launcher signals them
// (mpirun does when a rank dies) or after dist.timeout_s, and the run folder
// keeps the checkpoints of the last epoch (all files are written atomically).
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "engine/backend/layer_ops.hpp"
#include "engine/config/config.hpp"

namespace lyre::dist {

// Sums one replica's gradient buffer over the ranks; bound to the replica's
// backend (its memory, and on CUDA its stream).
class GradientExchange {
 public:
  virtual ~GradientExchange() = default;
  // grads [n] (backend memory) becomes the sum over ranks. `stop` is this
  // rank's wish to stop; the result says whether any rank wished so, as of
  // this exchange (MPI) or the previous one (NCCL, which keeps the GPU
  // pipeline full) — the same answer on every rank either way.
  virtual bool sum(float* grads, bool stop) = 0;
};

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  virtual std::string describe() const = 0;  // "MPI, 2 ranks"

  // Every rank's `local` (same length everywhere), concatenated in rank
  // order, on every rank: epoch counters, which callers sum in a fixed order.
  virtual std::vector<double> all_gather(std::span<const double> local) = 0;
  // Runs `fn` on rank 0 and hands its result to every rank; an exception on
  // rank 0 is rethrown on every rank (same kind, same message), so a refused
  // run folder stops the whole job with one clear error.
  virtual std::string share_from_root(const std::function<std::string()>& fn) = 0;
  // A gradient exchange for `n` floats of `ops`'s memory. Collective: every
  // rank creates its replicas' exchanges in the same order.
  virtual std::unique_ptr<GradientExchange> gradient_exchange(LayerOps<float>& ops,
                                                              BackendKind backend,
                                                              std::size_t n) = 0;

  bool is_root() const { return rank() == 0; }
};

// One process: sums are the identity.
std::unique_ptr<Communicator> make_single_process();

// Whether this process was started by a launcher with several ranks
// (mpirun/mpiexec, or srun under Slurm's PMI), from the environment it set.
int launched_ranks();

// The process-wide MPI session: MPI_Init when launched with several ranks (or
// when `dist.backend: mpi` asks for it), MPI_Finalize on destruction. Created
// once in main() before any thread starts. An error that escapes on one rank
// of several aborts the whole job (MPI_Abort) instead of leaving the others
// waiting.
class Session {
 public:
  Session();
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;
  // Stops every rank after a fatal error on this one; returns only if MPI is
  // not running.
  static void abort_job(int exit_code);
};

// The communicator a run uses: single-process unless launched with several
// ranks (dist.backend auto), or as dist.backend says. An InputError when the
// build lacks what the config asks for ("this build has no MPI").
std::unique_ptr<Communicator> open_communicator(const DistConfig& config, BackendKind backend);

}  // namespace lyre::dist
