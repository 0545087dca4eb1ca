#include "engine/dist/mpi_communicator.hpp"

#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <optional>
#include <cstring>
#include <thread>

#include "engine/core/error.hpp"
#include "engine/core/log.hpp"
#include "engine/core/signals.hpp"

#if LYRE_HAVE_NCCL
#include "engine/dist/nccl_exchange.hpp"
#endif

namespace lyre::dist {
namespace {

bool g_initialized_here = false;

[[noreturn]] void fail_mpi(int code, const std::string& what) {
  char text[MPI_MAX_ERROR_STRING] = {};
  int length = 0;
  MPI_Error_string(code, text, &length);
  fail("MPI failed during {}: {}", what, std::string(text, static_cast<std::size_t>(length)));
}

void check(int code, const std::string& what) {
  if (code != MPI_SUCCESS) fail_mpi(code, what);
}

// Segment r of n elements, for rank r of R: [n*r/R, n*(r+1)/R).
std::size_t segment_begin(std::size_t n, int r, int size) {
  return n * static_cast<std::size_t>(r) / static_cast<std::size_t>(size);
}

// CPU gradients: an ordered reduce-scatter (every rank adds its segment's R
// copies as 0 + g0 + g1 + ...) and an allgather of the sums. Bandwidth as a
// ring all-reduce's, and the order of additions is fixed: the result equals
// one process summing R micro-batches in order, bit for bit.
class MpiGradientExchange final : public GradientExchange {
 public:
  MpiGradientExchange(const DistConfig& config, int rank, int size, std::size_t n)
      : config_(config), rank_(rank), size_(size) {
    LYRE_CHECK(n <= static_cast<std::size_t>(INT32_MAX), "{} gradients exceed MPI's int counts", n);
    for (int r = 0; r < size; ++r) {
      const std::size_t begin = segment_begin(n, r, size), end = segment_begin(n, r + 1, size);
      counts_.push_back(static_cast<int>(end - begin));
      displs_.push_back(static_cast<int>(begin));
    }
    mine_ = static_cast<std::size_t>(counts_[static_cast<std::size_t>(rank)]);
    received_.resize(mine_ * static_cast<std::size_t>(size));
    recv_counts_.assign(static_cast<std::size_t>(size), static_cast<int>(mine_));
    for (int r = 0; r < size; ++r) recv_displs_.push_back(r * static_cast<int>(mine_));
  }

  bool sum(float* grads, bool stop) override {
    ++exchanges_;
    const std::string what = fmt::format("the gradient exchange of optimizer step {}", exchanges_);
    MPI_Request requests[2];
    int local_stop = stop ? 1 : 0, any_stop = 0;
    check(MPI_Ialltoallv(grads, counts_.data(), displs_.data(), MPI_FLOAT, received_.data(),
                         recv_counts_.data(), recv_displs_.data(), MPI_FLOAT, MPI_COMM_WORLD,
                         &requests[0]),
          what);
    check(MPI_Iallreduce(&local_stop, &any_stop, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD, &requests[1]),
          what);
    wait_for_ranks(requests, 2, config_, rank_, size_, what);

    float* own = grads + displs_[static_cast<std::size_t>(rank_)];
    std::fill(own, own + mine_, 0.0f);
    for (int r = 0; r < size_; ++r) {
      const float* copy = received_.data() + static_cast<std::size_t>(r) * mine_;
      for (std::size_t i = 0; i < mine_; ++i) own[i] += copy[i];
    }
    MPI_Request gather;
    check(MPI_Iallgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, grads, counts_.data(),
                          displs_.data(), MPI_FLOAT, MPI_COMM_WORLD, &gather),
          what);
    wait_for_ranks(&gather, 1, config_, rank_, size_, what);
    return any_stop != 0;
  }

 private:
  DistConfig config_;
  int rank_, size_;
  std::size_t mine_ = 0;
  std::vector<int> counts_, displs_, recv_counts_, recv_displs_;
  std::vector<float> received_;
  std::int64_t exchanges_ = 0;
};

class MpiCommunicator final : public Communicator {
 public:
  explicit MpiCommunicator(const DistConfig& config) : config_(config) {
    check(MPI_Comm_rank(MPI_COMM_WORLD, &rank_), "MPI_Comm_rank");
    check(MPI_Comm_size(MPI_COMM_WORLD, &size_), "MPI_Comm_size");
    // Errors come back as codes, so they become Errors with a message.
    check(MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN), "MPI_Comm_set_errhandler");
  }

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  std::string describe() const override { return fmt::format("MPI, {} ranks", size_); }

  std::vector<double> all_gather(std::span<const double> local) override {
    const std::size_t n = local.size();
    std::vector<double> all(n * static_cast<std::size_t>(size_));
    MPI_Request request;
    check(MPI_Iallgather(local.data(), static_cast<int>(n), MPI_DOUBLE, all.data(),
                         static_cast<int>(n), MPI_DOUBLE, MPI_COMM_WORLD, &request),
          "the exchange of epoch counters");
    wait_for_ranks(&request, 1, config_, rank_, size_, "the exchange of epoch counters");
    return all;
  }

  std::string share_from_root(const std::function<std::string()>& fn) override {
    // Header: [status, length]; status 0 = value, 1 = InputError, 2 = Error.
    std::string text;
    std::int64_t header[2] = {0, 0};
    if (rank_ == 0) {
      try {
        text = fn();
      } catch (const InputError& e) {
        text = e.what();
        header[0] = 1;
      } catch (const std::exception& e) {
        text = e.what();
        header[0] = 2;
      }
      header[1] = static_cast<std::int64_t>(text.size());
    }
    broadcast(header, 2, MPI_INT64_T);
    text.resize(static_cast<std::size_t>(header[1]));
    broadcast(text.data(), static_cast<int>(header[1]), MPI_CHAR);
    if (header[0] == 1) throw InputError(text);
    if (header[0] == 2) throw Error(text);
    return text;
  }

  std::unique_ptr<GradientExchange> gradient_exchange(LayerOps<float>& ops, BackendKind backend,
                                                      std::size_t n) override {
    if (backend == BackendKind::cuda) {
#if LYRE_HAVE_NCCL
      return make_nccl_exchange(ops, n, config_, rank_, size_);
#else
      fail_input("data-parallel CUDA training needs NCCL, which this build lacks "
                 "(-DLYRE_WITH_NCCL=ON)");
#endif
    }
    (void)ops;
    return std::make_unique<MpiGradientExchange>(config_, rank_, size_, n);
  }

 private:
  void broadcast(void* data, int count, MPI_Datatype type) {
    MPI_Request request;
    check(MPI_Ibcast(data, count, type, 0, MPI_COMM_WORLD, &request), "a broadcast from rank 0");
    wait_for_ranks(&request, 1, config_, rank_, size_, "a broadcast from rank 0");
  }

  DistConfig config_;
  int rank_ = 0, size_ = 1;
};

}  // namespace

void wait_for_ranks(void* requests, int count, const DistConfig& config, int rank, int size,
                    const std::string& what) {
  using clock = std::chrono::steady_clock;
  auto* reqs = static_cast<MPI_Request*>(requests);
  const auto start = clock::now();
  const auto timeout = std::chrono::duration<double>(config.timeout_s);
  // After a stop request the other ranks get this long to answer: enough for
  // a batch they are still computing (a pre-emption stops them all at the next
  // exchange), short of mpirun's kill when a rank has died.
  const auto grace = std::min(timeout, std::chrono::duration<double>(60.0));
  std::optional<clock::time_point> stop_seen;
  for (long polls = 0;; ++polls) {
    int done = 0;
    check(MPI_Testall(count, reqs, &done, MPI_STATUSES_IGNORE), what);
    if (done) return;
    const auto now = clock::now();
    if (stop_requested() && !stop_seen) {
      stop_seen = now;
      // Printed at once: when a rank has died, the launcher's SIGKILL follows
      // its SIGTERM within seconds.
      log::warn("rank {} of {}: asked to stop while waiting for the other ranks in {}; if a rank "
                "has died the job ends here, and the run folder keeps the checkpoints written at "
                "the end of the last epoch (continue with `lyre train --resume RUN`)",
                rank, size, what);
    }
    if (stop_seen && now - *stop_seen > grace)
      fail("rank {} of {}: the other ranks did not answer within {:.0f} s of the stop request, "
           "in {}: a rank has died or was stopped; the run folder keeps the checkpoints of the "
           "last finished epoch",
           rank, size, std::chrono::duration<double>(grace).count(), what);
    if (now - start > timeout)
      fail("rank {} of {}: no answer from the other ranks for {:.0f} s (dist.timeout_s) in {}: "
           "a rank has died or hangs",
           rank, size, config.timeout_s, what);
    // Spin briefly (an exchange usually completes in microseconds on one
    // node), then yield the core to the ranks still computing.
    if (polls > 1000) std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
}

void mpi_initialize() {
  int already = 0;
  MPI_Initialized(&already);
  if (already) return;
  int provided = 0;
  check(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided), "MPI_Init_thread");
  g_initialized_here = true;
}

void mpi_finalize() {
  if (!g_initialized_here) return;
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized) MPI_Finalize();
  g_initialized_here = false;
}

bool mpi_running() {
  int initialized = 0, finalized = 0;
  MPI_Initialized(&initialized);
  MPI_Finalized(&finalized);
  return initialized && !finalized;
}

void mpi_abort_if_several(int exit_code) {
  if (!mpi_running()) return;
  int size = 1;
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  if (size > 1) MPI_Abort(MPI_COMM_WORLD, exit_code);
}

std::unique_ptr<Communicator> make_mpi_communicator(const DistConfig& config) {
  return std::make_unique<MpiCommunicator>(config);
}

}  // namespace lyre::dist
