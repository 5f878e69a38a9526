#include "experiments/progress.h"

#include <unistd.h>

#include <cmath>
#include <cstdio>

namespace difflab::experiments {

std::string format_duration(double s) {
  char buf[32];
  if (!std::isfinite(s) || s < 0) return "?";
  long t = long(s + 0.5);
  if (t >= 3600) std::snprintf(buf, sizeof buf, "%ldh%02ldm", t / 3600, (t / 60) % 60);
  else if (t >= 60) std::snprintf(buf, sizeof buf, "%ldm%02lds", t / 60, t % 60);
  else std::snprintf(buf, sizeof buf, "%lds", t);
  return buf;
}

Progress::Progress(std::string label, int64_t total, int64_t start, int64_t log_every)
    : label_(std::move(label)),
      total_(total),
      start_(start),
      log_every_(log_every > 0 ? log_every : 1),
      tty_(::isatty(STDERR_FILENO)),
      t0_(std::chrono::steady_clock::now()),
      last_print_(t0_) {}

double Progress::seconds() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count();
}

void Progress::update(int64_t step, double loss, const std::string& extra) {
  last_step_ = step;
  if (std::isfinite(loss)) {
    ema_loss_ = have_loss_ ? 0.95 * ema_loss_ + 0.05 * loss : loss;
    have_loss_ = true;
  }
  auto now = std::chrono::steady_clock::now();
  const bool last = step >= total_;
  if (tty_) {
    if (!last && std::chrono::duration<double>(now - last_print_).count() < 0.2) return;
  } else if (!last && step % log_every_ != 0) {
    return;
  }
  last_print_ = now;
  double el = seconds();
  double rate = el > 0 ? double(step - start_) / el : 0;
  double eta = rate > 0 ? double(total_ - step) / rate : NAN;
  char losses[64] = "";
  if (std::isfinite(loss))
    std::snprintf(losses, sizeof losses, "  loss %.5f (avg %.5f)", loss, ema_loss_);
  std::fprintf(stderr, "%s%s %lld/%lld%s  %.2f it/s  elapsed %s  ETA %s%s%s%s", tty_ ? "\r" : "",
               label_.c_str(), (long long)step, (long long)total_, losses, rate,
               format_duration(el).c_str(), format_duration(eta).c_str(),
               extra.empty() ? "" : "  ", extra.c_str(), tty_ ? "\033[K" : "\n");
  std::fflush(stderr);
}

void Progress::finish() {
  if (tty_) std::fprintf(stderr, "\n");
  std::fprintf(stderr, "%s: %lld steps in %s\n", label_.c_str(), (long long)(last_step_ - start_),
               format_duration(seconds()).c_str());
}

}  // namespace difflab::experiments
