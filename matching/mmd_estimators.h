// The two MMD² estimators from kernel matrices (spec §1.3), shared by every kernel:
//   V = mean K_XX + mean K_YY − 2 mean K_XY                                  (biased, ≥ 0)
//   U = Σ_{i≠i'} K_XX/(n(n−1)) + Σ_{j≠j'} K_YY/(m(m−1)) − 2 mean K_XY        (unbiased, can be < 0)
#pragma once
#include "autograd/var.h"

namespace difflab::matching {

enum class Estimator { v_statistic, u_statistic };

// kxx [n, n], kyy [m, m], kxy [n, m]; the U-statistic needs n, m ≥ 2 (error names `op`).
ag::Var mmd2_from_kernels(const ag::Var& kxx, const ag::Var& kyy, const ag::Var& kxy, Estimator est,
                          const char* op);

}  // namespace difflab::matching
