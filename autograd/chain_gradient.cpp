#include "autograd/chain_gradient.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "autograd/engine.h"
#include "autograd/grad_mode.h"
#include "autograd/inspect.h"
#include "tensor/error.h"
#include "tensor/factory.h"
#include "tensor/ops.h"

namespace difflab::ag {
namespace {

using Table = std::vector<std::vector<int64_t>>;

// t[l][s] and the split m that attains it, l = 1..steps, s = 1..slots.
struct RevolveTable {
  Table cost, split;
};

RevolveTable revolve_table(int64_t steps, int64_t slots) {
  RevolveTable r{Table(size_t(steps) + 1, std::vector<int64_t>(size_t(slots) + 1, 0)),
                 Table(size_t(steps) + 1, std::vector<int64_t>(size_t(slots) + 1, 0))};
  for (int64_t l = 1; l <= steps; ++l) {
    r.cost[size_t(l)][1] = l * (l - 1) / 2;
    for (int64_t s = 2; s <= slots; ++s) {
      int64_t best = std::numeric_limits<int64_t>::max(), arg = 0;
      for (int64_t m = 1; m < l; ++m) {
        const int64_t c = m + r.cost[size_t(l - m)][size_t(s - 1)] + r.cost[size_t(m)][size_t(s)];
        if (c < best) {
          best = c;
          arg = m;
        }
      }
      r.cost[size_t(l)][size_t(s)] = l == 1 ? 0 : best;
      r.split[size_t(l)][size_t(s)] = arg;
    }
  }
  return r;
}

int64_t segment_length(const ChainPlan& plan, int64_t steps) {
  if (plan.segment > 0) return plan.segment;
  return std::max<int64_t>(1, int64_t(std::ceil(std::sqrt(double(steps)))));
}

void check_chain(const ChainStep& step, const ChainLoss& loss, int64_t steps, const Tensor& z0) {
  DIFFLAB_CHECK(step && loss, "chain_gradient: needs a step and a loss");
  DIFFLAB_CHECK(steps >= 1, "chain_gradient: steps = ", steps, " must be >= 1");
  DIFFLAB_CHECK(z0.defined(), "chain_gradient: the initial state is undefined");
}

// The reversal's bookkeeping: the adjoint, the parameter gradients and the counts.
class Reverser {
 public:
  Reverser(const ChainStep& step, const std::vector<Var>& params, int64_t steps,
           const ChainLoss& loss, size_t state_bytes)
      : step_(step), params_(params), steps_(steps), loss_(loss), state_bytes_(state_bytes) {
    for (const auto& p : params) out_.grad_params.push_back(tensor::zeros_like(p.value()));
    hold(1);  // z_0
  }

  // Runs n steps from (k, z) without recording.
  Tensor advance(int64_t k, Tensor z, int64_t n) {
    NoGradGuard off;
    for (int64_t i = 0; i < n; ++i) z = step_(k + i, Var(z)).value();
    out_.counts.forwards += n;
    return z;
  }

  // Re-tapes steps k .. k + n − 1 from z and pulls the adjoint back through them; the segment
  // ending at K takes the loss's gradient instead of the carried adjoint.
  void retape(int64_t k, const Tensor& z, int64_t n) {
    GradModeGuard on(true);
    const Var start(z, true);
    Var y = start;
    for (int64_t i = 0; i < n; ++i) y = step_(k + i, y);
    out_.counts.forwards += n;
    Var root = y;
    std::vector<Var> seed;
    if (k + n == steps_) {
      root = loss_(y);
      out_.loss = root.value();
      out_.final_state = y.value();
    } else {
      seed.push_back(Var(adjoint_));
    }
    auto& saved = out_.counts.peak_saved_bytes;
    const GraphStats st = graph_stats(root, params_);
    saved = std::max(saved, st.saved_bytes - st.saved_listed_bytes);
    std::vector<Var> wrt{start};
    wrt.insert(wrt.end(), params_.begin(), params_.end());
    const std::vector<Var> g = grad({root}, wrt, seed, false, true);
    adjoint_ = g[0].value();
    for (size_t i = 0; i < params_.size(); ++i)
      out_.grad_params[i] =
          tensor::binary(tensor::BinaryOp::add, out_.grad_params[i], g[i + 1].value());
    out_.counts.vjps += n;
  }

  // States stored by the schedule, z_0 included.
  void hold(int64_t delta) {
    held_ += delta;
    out_.counts.peak_states = std::max(out_.counts.peak_states, held_);
    out_.counts.peak_state_bytes = size_t(out_.counts.peak_states) * state_bytes_;
  }

  ChainGradient finish() {
    out_.grad_initial = adjoint_;
    return std::move(out_);
  }

 private:
  const ChainStep& step_;
  const std::vector<Var>& params_;
  int64_t steps_;
  const ChainLoss& loss_;
  size_t state_bytes_;
  int64_t held_ = 0;
  Tensor adjoint_;
  ChainGradient out_;
};

void reverse_per_step(Reverser& r, const Tensor& z0, int64_t steps) {
  std::vector<Tensor> states{z0};
  for (int64_t k = 1; k < steps; ++k) {
    states.push_back(r.advance(k - 1, states.back(), 1));
    r.hold(1);
  }
  for (int64_t k = steps - 1; k >= 0; --k) {
    r.retape(k, states[size_t(k)], 1);
    if (k == 0) continue;
    states[size_t(k)] = Tensor();
    r.hold(-1);
  }
}

// States every m steps; each segment is re-taped whole (segments) or re-run storing its states
// and re-taped one step at a time (two-level).
void reverse_segments(Reverser& r, const Tensor& z0, int64_t steps, int64_t m, bool two_level) {
  std::vector<Tensor> starts{z0};
  for (int64_t k = m; k < steps; k += m) {
    starts.push_back(r.advance(k - m, starts.back(), m));
    r.hold(1);
  }
  for (int64_t j = int64_t(starts.size()) - 1; j >= 0; --j) {
    const int64_t k0 = j * m, len = std::min(m, steps - k0);
    if (!two_level) {
      r.retape(k0, starts[size_t(j)], len);
    } else {
      std::vector<Tensor> inner{starts[size_t(j)]};
      for (int64_t i = 1; i < len; ++i) {
        inner.push_back(r.advance(k0 + i - 1, inner.back(), 1));
        r.hold(1);
      }
      for (int64_t i = len - 1; i >= 0; --i) {
        r.retape(k0 + i, inner[size_t(i)], 1);
        if (i > 0) r.hold(-1);
      }
    }
    if (j == 0) continue;
    starts[size_t(j)] = Tensor();
    r.hold(-1);
  }
}

// Reverses steps i .. i + l − 1 from the state z_i (held by the caller) with s slots.
void reverse_revolve(Reverser& r, const RevolveTable& t, const Tensor& zi, int64_t i, int64_t l,
                     int64_t s) {
  if (l == 1) return r.retape(i, zi, 1);
  if (s == 1) {
    for (int64_t j = l - 1; j >= 0; --j) r.retape(i + j, r.advance(i, zi, j), 1);
    return;
  }
  const int64_t m = t.split[size_t(l)][size_t(s)];
  {
    const Tensor mid = r.advance(i, zi, m);
    r.hold(1);
    reverse_revolve(r, t, mid, i + m, l - m, s - 1);
  }
  r.hold(-1);
  reverse_revolve(r, t, zi, i, m, s);
}

int64_t binom(int64_t n, int64_t k) {
  if (k < 0 || k > n) return 0;
  k = std::min(k, n - k);
  double v = 1;  // exact for the sizes used here (C(c + r, c) stays far below 2^53)
  for (int64_t i = 1; i <= k; ++i) v = v * double(n - k + i) / double(i);
  return int64_t(std::llround(v));
}

}  // namespace

ChainPlan parse_chain_plan(const std::string& name) {
  if (name == "full") return {ChainMethod::full};
  if (name == "per_step") return {ChainMethod::per_step};
  if (name == "segments") return {ChainMethod::segments};
  if (name == "two_level") return {ChainMethod::two_level};
  if (name == "recompute") return {ChainMethod::recompute};
  if (name.rfind("revolve:", 0) == 0) {
    const std::string c = name.substr(8);
    char* end = nullptr;
    const long v = std::strtol(c.c_str(), &end, 10);
    DIFFLAB_CHECK(!c.empty() && *end == 0 && v >= 1, "chain plan '", name,
                  "': revolve needs a slot count >= 1, e.g. revolve:4");
    return {ChainMethod::revolve, int64_t(v)};
  }
  DIFFLAB_FAIL("unknown chain plan '", name,
               "' (allowed: full, per_step, segments, two_level, revolve:C, recompute)");
}

std::string chain_plan_name(const ChainPlan& p) {
  switch (p.method) {
    case ChainMethod::full: return "full";
    case ChainMethod::per_step: return "per_step";
    case ChainMethod::segments: return "segments";
    case ChainMethod::two_level: return "two_level";
    case ChainMethod::revolve: return "revolve:" + std::to_string(p.slots);
    case ChainMethod::recompute: return "recompute";
  }
  return "?";
}

ChainGradient chain_gradient(const ChainStep& step, const std::vector<Var>& params,
                             const Tensor& z0, int64_t steps, const ChainLoss& loss,
                             const ChainPlan& plan) {
  check_chain(step, loss, steps, z0);
  Reverser r(step, params, steps, loss, z0.nbytes());
  switch (plan.method) {
    case ChainMethod::full: r.retape(0, z0, steps); break;
    case ChainMethod::per_step: reverse_per_step(r, z0, steps); break;
    case ChainMethod::segments:
    case ChainMethod::two_level:
      reverse_segments(r, z0, steps, segment_length(plan, steps),
                       plan.method == ChainMethod::two_level);
      break;
    case ChainMethod::revolve:
    case ChainMethod::recompute: {
      const int64_t c = plan.method == ChainMethod::recompute ? 1 : plan.slots;
      DIFFLAB_CHECK(c >= 1, "chain_gradient: revolve needs slots >= 1 (got ", c, ")");
      const int64_t s = std::min(c, steps);
      reverse_revolve(r, revolve_table(steps, s), z0, 0, steps, s);
      break;
    }
  }
  return r.finish();
}

ChainGradient truncated_chain_gradient(const ChainStep& step, const std::vector<Var>& params,
                                       const Tensor& z0, int64_t steps, int64_t last,
                                       const ChainLoss& loss) {
  check_chain(step, loss, steps, z0);
  DIFFLAB_CHECK(last >= 1 && last <= steps, "truncated_chain_gradient: last = ", last,
                " must be in [1, ", steps, "]");
  Reverser r(step, params, steps, loss, z0.nbytes());
  r.retape(steps - last, r.advance(0, z0, steps - last), last);
  ChainGradient g = r.finish();
  if (last < steps) g.grad_initial = tensor::zeros_like(z0);
  return g;
}

int64_t revolve_forwards(int64_t steps, int64_t slots) {
  DIFFLAB_CHECK(steps >= 1 && slots >= 1, "revolve_forwards: steps (", steps, ") and slots (",
                slots, ") must be >= 1");
  if (slots == 1) return steps * (steps - 1) / 2;
  int64_t r = 0;
  while (binom(slots + r, slots) < steps) ++r;
  return r * steps - binom(slots + r, r - 1);
}

int64_t revolve_forwards_dp(int64_t steps, int64_t slots) {
  DIFFLAB_CHECK(steps >= 1 && slots >= 1, "revolve_forwards_dp: steps and slots must be >= 1");
  return revolve_table(steps, slots).cost[size_t(steps)][size_t(slots)];
}

int64_t chain_forwards(const ChainPlan& plan, int64_t steps) {
  switch (plan.method) {
    case ChainMethod::full: return steps;
    case ChainMethod::per_step: return 2 * steps - 1;
    case ChainMethod::segments:
    case ChainMethod::two_level: {
      const int64_t m = segment_length(plan, steps);
      const int64_t n_seg = (steps + m - 1) / m, last_start = (n_seg - 1) * m;
      const int64_t rerun = plan.method == ChainMethod::two_level ? steps - n_seg : 0;
      return last_start + rerun + steps;
    }
    case ChainMethod::revolve: return revolve_forwards(steps, plan.slots) + steps;
    case ChainMethod::recompute: return revolve_forwards(steps, 1) + steps;
  }
  return 0;
}

}  // namespace difflab::ag
