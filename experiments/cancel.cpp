#include "experiments/cancel.h"

#include <atomic>
#include <csignal>

namespace difflab::experiments {

namespace {
std::atomic<bool> g_cancel{false};
struct sigaction g_old_int, g_old_term;

void on_signal(int) { g_cancel.store(true); }
}  // namespace

void request_cancel() { g_cancel.store(true); }
bool cancel_requested() { return g_cancel.load(); }
void clear_cancel() { g_cancel.store(false); }

SignalCancel::SignalCancel() {
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESETHAND;  // the second signal gets the default action
  sigaction(SIGINT, &sa, &g_old_int);
  sigaction(SIGTERM, &sa, &g_old_term);
}

SignalCancel::~SignalCancel() {
  sigaction(SIGINT, &g_old_int, nullptr);
  sigaction(SIGTERM, &g_old_term, nullptr);
}

}  // namespace difflab::experiments
