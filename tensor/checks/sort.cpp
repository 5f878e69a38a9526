#include "tensor/checks/sort.h"

namespace difflab::tensor::checks {

int64_t check_sort(const Tensor& x, int64_t dim) {
  check_defined("sort", x, "input");
  DIFFLAB_CHECK(x.dim() >= 1, "sort: input must have at least 1 dim, got ", x.shape());
  return normalize_dim(dim, x.dim(), "sort");
}

int64_t check_cumsum(const char* op, const Tensor& x, int64_t dim) {
  check_defined(op, x, "input");
  if (x.dim() == 0) {
    DIFFLAB_CHECK(dim == 0 || dim == -1, op, ": dim ", dim, " is out of range for a 0-d tensor");
    return 0;
  }
  return normalize_dim(dim, x.dim(), op);
}

}  // namespace difflab::tensor::checks
