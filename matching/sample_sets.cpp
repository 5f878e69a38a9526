#include "matching/sample_sets.h"

#include "autograd/functions.h"

namespace difflab::matching {

std::pair<ag::Var, ag::Var> as_features(const ag::Var& x, const ag::Var& y, const char* op) {
  DIFFLAB_CHECK(x.defined() && y.defined(), op, ": undefined sample set");
  DIFFLAB_CHECK(x.dim() >= 1 && y.dim() >= 1, op, ": sample sets must be [N, ...], got ", x.shape(),
                " and ", y.shape());
  DIFFLAB_CHECK(tensor::is_floating(x.dtype()) && x.dtype() == y.dtype(), op,
                ": sample sets must share a floating dtype, got ", x.dtype(), " and ", y.dtype());
  ag::Var fx = x.dim() == 1 ? ag::unsqueeze(x, 1) : ag::flatten(x, 1);
  ag::Var fy = y.dim() == 1 ? ag::unsqueeze(y, 1) : ag::flatten(y, 1);
  DIFFLAB_CHECK(fx.size(1) == fy.size(1), op, ": feature sizes differ: X ", x.shape(), " vs Y ",
                y.shape());
  DIFFLAB_CHECK(fx.size(0) >= 1 && fy.size(0) >= 1, op, ": empty sample set (X ", x.shape(), ", Y ",
                y.shape(), ")");
  return {fx, fy};
}

}  // namespace difflab::matching
