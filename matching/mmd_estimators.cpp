#include "matching/mmd_estimators.h"

#include "autograd/functions.h"
#include "tensor/factory.h"

namespace difflab::matching {

namespace {

// 1 off the diagonal, 0 on it: the mask that turns a sum over all pairs into one over i ≠ i'.
tensor::Tensor off_diagonal(int64_t n, tensor::DType dtype, tensor::Device device) {
  tensor::Tensor m = tensor::ones({n, n}, dtype);
  for (int64_t i = 0; i < n; ++i) m.select(0, i).select(0, i).fill_(0.0);
  return m.to(device);
}

}  // namespace

ag::Var mmd2_from_kernels(const ag::Var& kxx, const ag::Var& kyy, const ag::Var& kxy, Estimator est,
                          const char* op) {
  using ag::Var;
  const int64_t n = kxx.size(0), m = kyy.size(0);
  if (est == Estimator::v_statistic) return ag::mean(kxx) + ag::mean(kyy) - 2.0 * ag::mean(kxy);
  DIFFLAB_CHECK(n >= 2 && m >= 2, op, ": the U-statistic needs at least 2 samples per set, got ", n,
                " and ", m);
  Var xx =
      ag::sum(ag::mul(kxx, Var(off_diagonal(n, kxx.dtype(), kxx.device())))) / double(n * (n - 1));
  Var yy =
      ag::sum(ag::mul(kyy, Var(off_diagonal(m, kyy.dtype(), kyy.device())))) / double(m * (m - 1));
  return xx + yy - 2.0 * ag::mean(kxy);
}

}  // namespace difflab::matching
