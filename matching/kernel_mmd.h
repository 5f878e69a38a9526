// MMD² with any kernel of kernels.h and any bandwidth rule of bandwidth.h, by either estimator
// (mmd_estimators.h), plus the MMD that MLGD-F's current code returns. Spec §1.3.
#pragma once
#include "autograd/var.h"
#include "matching/bandwidth.h"
#include "matching/kernels.h"
#include "matching/mmd_estimators.h"

namespace difflab::matching {

struct KernelChoice {
  KernelKind kind = KernelKind::gaussian;
  Bandwidth bandwidth{};  // ignored by the energy kernel, which has none
};

// MMD² of X [N, ...] and Y [M, ...]. The bandwidth is resolved once from (X, Y) without
// gradient. Gaussian goes through divergence.h's mmd2 and energy through energy_distance, so
// those give bit-identical results here. BandwidthMode::multi needs the Gaussian kernel.
ag::Var kernel_mmd2(const ag::Var& x, const ag::Var& y, const KernelChoice& kernel,
                    Estimator est = Estimator::u_statistic);

// MLGD-F's current code: sqrt(|MMD²_u| + 1e-8), an MMD rather than MMD²; the 1e-8 keeps the
// derivative 1/(2√·) finite when the U-statistic is 0, and |·| because the U-statistic can be < 0.
ag::Var mmd_sqrt(const ag::Var& x, const ag::Var& y, const KernelChoice& kernel);

}  // namespace difflab::matching
