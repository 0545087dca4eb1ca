// Cooperative stop on SIGINT / SIGTERM.
//
// The handler only sets a flag; training loops poll `stop_requested()` at batch
// boundaries, save a checkpoint and return, so an interrupted cluster job (a
// pre-emption sends SIGTERM) loses at most one batch of work. A second SIGINT
// while stopping restores the default action, so a stuck run can still be
// killed from the keyboard.
#pragma once

namespace lyre {

class StopSignals {
 public:
  // Installs the handlers for the lifetime of this object and restores the
  // previous ones afterwards.
  StopSignals();
  ~StopSignals();
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;
};

bool stop_requested();
// The signal that asked to stop (0 if none); the CLI exits with 128 + signal.
int stop_signal();
// Lets tests and the `--stop-after-batches` debug hook request a stop.
void request_stop(int signal_number);
void clear_stop_request();

}  // namespace lyre
