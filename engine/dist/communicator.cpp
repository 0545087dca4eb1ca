#include "engine/dist/communicator.hpp"

#include <cstdlib>
#include <optional>
#include <string_view>

#include "engine/core/error.hpp"
#include "engine/core/log.hpp"
#include "engine/dist/mpi_communicator.hpp"

namespace lyre::dist {
namespace {

class SingleProcess final : public Communicator {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  std::string describe() const override { return "one process"; }
  std::vector<double> all_gather(std::span<const double> local) override {
    return {local.begin(), local.end()};
  }
  std::string share_from_root(const std::function<std::string()>& fn) override { return fn(); }
  std::unique_ptr<GradientExchange> gradient_exchange(LayerOps<float>&, BackendKind,
                                                      std::size_t) override {
    LYRE_CHECK(false, "a single process exchanges no gradients");
  }
};

std::optional<int> env_int(const char* name) {
  const char* value = std::getenv(name);
  if (value == nullptr || *value == '\0') return std::nullopt;
  char* end = nullptr;
  const long n = std::strtol(value, &end, 10);
  if (*end != '\0' || n < 0 || n > 1'000'000) return std::nullopt;
  return static_cast<int>(n);
}

}  // namespace

std::unique_ptr<Communicator> make_single_process() { return std::make_unique<SingleProcess>(); }

int launched_ranks() {
  // Open MPI's mpirun, then MPICH/Hydra and Slurm's PMI-1/2, then PMIx
  // (srun --mpi=pmix), whose size Slurm gives per step.
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE"})
    if (const auto n = env_int(name)) return *n;
  if (std::getenv("PMIX_RANK") != nullptr) {
    if (const auto n = env_int("SLURM_STEP_NUM_TASKS")) return *n;
    if (const auto n = env_int("SLURM_NTASKS")) return *n;
    return 1;
  }
  return 0;
}

Session::Session() {
#if LYRE_HAVE_MPI
  if (launched_ranks() > 0) mpi_initialize();
#endif
}

Session::~Session() {
#if LYRE_HAVE_MPI
  mpi_finalize();
#endif
}

void Session::abort_job(int exit_code) {
#if LYRE_HAVE_MPI
  mpi_abort_if_several(exit_code);
#else
  (void)exit_code;
#endif
}

std::unique_ptr<Communicator> open_communicator(const DistConfig& config, BackendKind backend) {
  const int launched = launched_ranks();
  if (config.backend == DistBackend::none) {
    if (launched > 1)
      fail_input("dist.backend = none, but this process is one of {} ranks: each would train the "
                 "whole run on its own; launch one process, or use dist.backend auto",
                 launched);
    return make_single_process();
  }
  const bool asked_explicitly = config.backend != DistBackend::automatic;
  if (!asked_explicitly && launched <= 1) return make_single_process();
#if LYRE_HAVE_MPI
  if (!mpi_running())
    fail_input("dist.backend = {} needs the job launched by mpirun or srun --mpi=pmix",
               config.backend == DistBackend::nccl ? "nccl" : "mpi");
  if (config.backend == DistBackend::mpi && backend == BackendKind::cuda)
    fail_input("dist.backend = mpi sums host memory: with train.backend = cuda use "
               "dist.backend nccl (or auto)");
  if (config.backend == DistBackend::nccl && backend == BackendKind::cpu)
    fail_input("dist.backend = nccl needs train.backend = cuda: CPU ranks use dist.backend mpi");
  auto comm = make_mpi_communicator(config);
  if (comm->size() == 1) return make_single_process();
  return comm;
#else
  (void)backend;
  fail_input("this process is one of {} ranks (or dist.backend asks for several), but this build "
             "of Lyre has no MPI: every rank would train the whole run on its own. Rebuild with "
             "MPI (Debian: libopenmpi-dev; -DLYRE_WITH_MPI=ON)",
             launched);
#endif
}

}  // namespace lyre::dist
