#include "matching/kernel_mmd.h"

#include "autograd/functions.h"
#include "matching/divergence.h"
#include "matching/sample_sets.h"

namespace difflab::matching {

using ag::Var;

Var kernel_mmd2(const Var& x, const Var& y, const KernelChoice& kernel, Estimator est) {
  if (kernel.kind == KernelKind::energy) return energy_distance(x, y, est);
  DIFFLAB_CHECK(
      kernel.bandwidth.mode != BandwidthMode::multi || kernel.kind == KernelKind::gaussian,
      "kernel_mmd2: bandwidth multi is the Gaussian 5-bandwidth mixture; kernel ",
      kernel_name(kernel.kind), " needs median or a number");
  const std::vector<double> h = resolve_bandwidths(kernel.bandwidth, x.value(), y.value());
  if (kernel.kind == KernelKind::gaussian) return mmd2(x, y, h, est);
  auto [fx, fy] = as_features(x, y, "kernel_mmd2");
  return mmd2_from_kernels(kernel_matrix(fx, fx, kernel.kind, h),
                           kernel_matrix(fy, fy, kernel.kind, h),
                           kernel_matrix(fx, fy, kernel.kind, h), est, "kernel_mmd2");
}

Var mmd_sqrt(const Var& x, const Var& y, const KernelChoice& kernel) {
  return ag::sqrt(ag::abs(kernel_mmd2(x, y, kernel, Estimator::u_statistic)) + 1e-8);
}

}  // namespace difflab::matching
