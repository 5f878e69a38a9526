// Cancellation of long runs: a process-wide request flag that the training loop polls after
// every update (it then saves its state and stops, so --resume continues), set by SIGINT or
// SIGTERM while a SignalCancel guard is alive, or by any caller (a binding, a test).
#pragma once

namespace difflab::experiments {

void request_cancel();
bool cancel_requested();
void clear_cancel();

// While alive, the first SIGINT or SIGTERM requests cancellation (a second one acts as the
// default: the process ends); restores the previous handlers on destruction.
class SignalCancel {
 public:
  SignalCancel();
  ~SignalCancel();
  SignalCancel(const SignalCancel&) = delete;
  SignalCancel& operator=(const SignalCancel&) = delete;
};

}  // namespace difflab::experiments
