#include "matching/concept_ascent.h"

#include <cmath>

#include "autograd/grad_mode.h"
#include "tensor/error.h"
#include "tensor/factory.h"
#include "tensor/ops.h"

namespace difflab::matching {
namespace {

using tensor::BinaryOp;

Tensor combine(const Tensor& a, double ca, const Tensor& b, double cb) {  // ca a + cb b
  return tensor::binary(BinaryOp::add, tensor::affine(a, ca, 0.0), tensor::affine(b, cb, 0.0));
}

int64_t coords(const Tensor& x) { return x.numel() / x.size(0); }

// ‖row‖₂ of each row of a [B, ...] tensor.
std::vector<double> row_norms(const Tensor& x) {
  const Tensor flat = x.reshape({x.size(0), -1}).to(tensor::DType::f64);
  std::vector<double> n = tensor::sum(tensor::binary(BinaryOp::mul, flat, flat), {1}).to_vector<double>();
  for (double& v : n) v = std::sqrt(v);
  return n;
}

void check_inputs(const EpsFn& eps, const Tensor& query, const std::vector<AscentLevel>& levels,
                  const AscentOptions& o) {
  DIFFLAB_CHECK(bool(eps), "ascend_modes: empty eps callable");
  DIFFLAB_CHECK(query.defined() && query.dim() >= 2 && query.size(0) == 1,
                "ascend_modes: the query must be [1, ...], got ",
                query.defined() ? query.desc() : "undefined");
  DIFFLAB_CHECK(query.dtype() == tensor::DType::f32 || query.dtype() == tensor::DType::f64,
                "ascend_modes: the query must be f32 or f64, got ", query.desc());
  DIFFLAB_CHECK(!levels.empty(), "ascend_modes: no noise levels");
  for (const AscentLevel& lv : levels)
    DIFFLAB_CHECK(lv.alpha_bar > 0 && lv.alpha_bar < 1, "ascend_modes: level t = ", lv.t,
                  " has alpha_bar = ", lv.alpha_bar, ", outside (0, 1)");
  DIFFLAB_CHECK(o.restarts >= 0 && o.max_steps >= 0 && o.record_every >= 0,
                "ascend_modes: restarts (", o.restarts, "), max_steps (", o.max_steps,
                ") and record_every (", o.record_every, ") must be >= 0");
  DIFFLAB_CHECK(o.gamma > 0 && o.gamma <= 1, "ascend_modes: gamma = ", o.gamma,
                " must be in (0, 1]");
  DIFFLAB_CHECK(o.tol >= 0 && o.dedup >= 0, "ascend_modes: tol (", o.tol, ") and dedup (",
                o.dedup, ") must be >= 0");
}

// All starts of one level: the batch and each start's bookkeeping.
struct Run {
  Tensor x;  // [R+1, ...]
  std::vector<int64_t> steps;
  std::vector<bool> stopped;
  std::vector<std::vector<Tensor>> trajectory;
};

Run start_run(const Tensor& query, const AscentLevel& lv, const AscentOptions& o,
              tensor::Generator& gen) {
  const double a = std::sqrt(lv.alpha_bar), s = std::sqrt(1 - lv.alpha_bar);
  std::vector<Tensor> rows{tensor::affine(query, a, 0.0)};
  if (o.restarts > 0) {
    tensor::Shape shape = query.shape();
    shape[0] = o.restarts;
    rows.push_back(combine(query, a, tensor::randn(shape, query.dtype(), &gen), s));
  }
  const int64_t n = o.restarts + 1;
  Run run{tensor::cat(rows, 0), std::vector<int64_t>(n, 0), std::vector<bool>(n, false),
          std::vector<std::vector<Tensor>>(n)};
  if (o.record_every > 0)
    for (int64_t r = 0; r < n; ++r) run.trajectory[r].push_back(run.x.slice(0, r, r + 1).clone());
  return run;
}

std::vector<int64_t> active_rows(const Run& run) {
  std::vector<int64_t> active;
  for (size_t r = 0; r < run.stopped.size(); ++r)
    if (!run.stopped[r]) active.push_back(int64_t(r));
  return active;
}

// One ascent step of the starts still running; a start whose step fell below `stop` freezes.
void ascent_step(const EpsFn& eps, const AscentLevel& lv, const AscentOptions& o, double stop,
                 Run& run) {
  const std::vector<int64_t> active = active_rows(run);
  const Tensor index = tensor::from_vector<int64_t>(active, {int64_t(active.size())});
  const Tensor x = tensor::index_select(run.x, 0, index);
  const Tensor x0 = tweedie_mean(eps, x, lv.t, lv.alpha_bar);
  const Tensor next = combine(x, 1 - o.gamma, x0, o.gamma * std::sqrt(lv.alpha_bar));
  const std::vector<double> moved = row_norms(tensor::binary(BinaryOp::sub, next, x));
  for (size_t j = 0; j < active.size(); ++j) {
    const int64_t r = active[j];
    const Tensor row = next.slice(0, int64_t(j), int64_t(j) + 1);
    run.x.slice(0, r, r + 1).copy_(row);
    run.stopped[r] = moved[j] < stop;
    ++run.steps[r];
    if (o.record_every > 0 && run.steps[r] % o.record_every == 0)
      run.trajectory[r].push_back(row.clone());
  }
}

std::vector<Mode> level_modes(Run& run, const AscentLevel& lv, const AscentOptions& o) {
  std::vector<Mode> modes;
  for (size_t r = 0; r < run.steps.size(); ++r) {
    Mode m{lv.t, lv.alpha_bar, run.x.slice(0, int64_t(r), int64_t(r) + 1).clone(), int64_t(r),
           run.steps[r], run.stopped[r], std::move(run.trajectory[r])};
    if (o.record_every > 0 && m.steps % o.record_every != 0) m.trajectory.push_back(m.x);
    modes.push_back(std::move(m));
  }
  return modes;
}

// Keeps each mode unless it lies within `radius` of one kept before it.
std::vector<Mode> deduplicate(std::vector<Mode> modes, double radius) {
  std::vector<Mode> kept;
  for (Mode& m : modes) {
    bool duplicate = false;
    for (const Mode& k : kept)
      duplicate = duplicate || row_norms(tensor::binary(BinaryOp::sub, m.x, k.x))[0] < radius;
    if (!duplicate) kept.push_back(std::move(m));
  }
  return kept;
}

}  // namespace

Tensor tweedie_mean(const EpsFn& eps, const Tensor& x, int64_t t, double alpha_bar) {
  DIFFLAB_CHECK(alpha_bar > 0 && alpha_bar <= 1, "tweedie_mean: alpha_bar = ", alpha_bar,
                " outside (0, 1]");
  ag::NoGradGuard off;
  const Tensor e = eps(Var(x), t).value();
  DIFFLAB_CHECK(e.shape() == x.shape() && e.dtype() == x.dtype(), "tweedie_mean: eps(x, t = ", t,
                ") returned ", e.desc(), " for x ", x.desc(), "; it must match x");
  const double a = std::sqrt(alpha_bar);
  return combine(x, 1 / a, e, -std::sqrt(1 - alpha_bar) / a);
}

std::vector<Mode> ascend_modes(const EpsFn& eps, const Tensor& query,
                               const std::vector<AscentLevel>& levels, const AscentOptions& o,
                               tensor::Generator& gen) {
  check_inputs(eps, query, levels, o);
  ag::NoGradGuard off;
  const double d = double(coords(query));
  std::vector<Mode> out;
  for (const AscentLevel& lv : levels) {
    const double scale = std::sqrt(d * (1 - lv.alpha_bar));
    Run run = start_run(query, lv, o, gen);
    for (int64_t k = 0; k < o.max_steps && !active_rows(run).empty(); ++k)
      ascent_step(eps, lv, o, o.tol * scale, run);
    for (Mode& m : deduplicate(level_modes(run, lv, o), o.dedup * scale))
      out.push_back(std::move(m));
  }
  return out;
}

}  // namespace difflab::matching
