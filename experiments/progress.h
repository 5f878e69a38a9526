// Progress for long loops: on a terminal, one line rewritten in place (step/total, loss, it/s,
// ETA); otherwise a plain log line every `log_every` steps.
#pragma once
#include <chrono>
#include <cstdint>
#include <string>

namespace difflab::experiments {

class Progress {
 public:
  Progress(std::string label, int64_t total, int64_t start = 0, int64_t log_every = 100);
  // Call after each step; `extra` is appended (e.g. "lr 2e-4"). A loop without a loss (sampling)
  // passes NAN and its line shows none.
  void update(int64_t step, double loss, const std::string& extra = "");
  void finish();
  double seconds() const;

 private:
  std::string label_;
  int64_t total_, start_, log_every_, last_step_ = 0;
  bool tty_;
  std::chrono::steady_clock::time_point t0_, last_print_;
  double ema_loss_ = 0;
  bool have_loss_ = false;
};

std::string format_duration(double seconds);

}  // namespace difflab::experiments
