// The built-in entries of the divergence registry: one add() per divergence, each a thin
// adapter from DivergenceSettings to the function that computes it.
#include "autograd/functions.h"
#include "matching/divergence.h"
#include "matching/divergence_registry.h"
#include "matching/kernel_mmd.h"
#include "matching/sinkhorn.h"

namespace difflab::matching {

using ag::Var;

namespace {

KernelChoice kernel_of(const DivergenceSettings& s) { return {s.kernel, s.bandwidth}; }

DivergenceFn mmd(Estimator est) {
  return [est](const Var& x, const Var& y, const DivergenceSettings& s, tensor::Generator*) {
    return kernel_mmd2(x, y, kernel_of(s), est);
  };
}

DivergenceFn energy(Estimator est) {
  return [est](const Var& x, const Var& y, const DivergenceSettings&, tensor::Generator*) {
    return energy_distance(x, y, est);
  };
}

DivergenceFn sliced(int p, const char* name) {
  return [p, name](const Var& x, const Var& y, const DivergenceSettings& s,
                   tensor::Generator* gen) {
    DIFFLAB_CHECK(gen != nullptr, "divergence ", name, ": needs a Generator for the projections");
    return sliced_wasserstein(x, y, s.projections, *gen, p);
  };
}

Var sinkhorn(const Var& x, const Var& y, const DivergenceSettings& s, tensor::Generator*) {
  return sinkhorn_divergence(x, y, s.sinkhorn, s.sinkhorn_report);
}

Var mmd_root(const Var& x, const Var& y, const DivergenceSettings& s, tensor::Generator*) {
  return mmd_sqrt(x, y, kernel_of(s));
}

}  // namespace

void register_builtin_divergences(DivergenceRegistry& r) {
  r.add("mmd_u", "MMD², unbiased U-statistic (can be < 0); cdm.kernel, cdm.bandwidth",
        mmd(Estimator::u_statistic));
  r.add("mmd_v", "MMD², biased V-statistic (>= 0); cdm.kernel, cdm.bandwidth",
        mmd(Estimator::v_statistic));
  r.add("mmd_sqrt", "sqrt(|MMD²_u| + 1e-8), MLGD-F's current loss; cdm.kernel, cdm.bandwidth",
        mmd_root);
  r.add("energy", "energy distance, V-statistic (>= 0)", energy(Estimator::v_statistic));
  r.add("energy_u", "energy distance, unbiased U-statistic", energy(Estimator::u_statistic));
  r.add("sliced_w1", "sliced Wasserstein, mean W1 over random directions (N = M); cdm.projections",
        sliced(1, "sliced_w1"));
  r.add("sliced_w2", "sliced Wasserstein, mean W2² over random directions (N = M); cdm.projections",
        sliced(2, "sliced_w2"));
  r.add("sinkhorn", "debiased Sinkhorn divergence S_ε, cost ‖x−y‖^p/p; cdm.sinkhorn_*", sinkhorn);
}

}  // namespace difflab::matching
