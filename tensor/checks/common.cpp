#include "tensor/checks/common.h"

namespace difflab::tensor::checks {

void same_device(const char* op, const Tensor& ref, const char* ref_what, const Tensor& t,
                 const char* what) {
  DIFFLAB_CHECK(t.device() == ref.device(), op, ": inputs on different devices, ", ref_what, " ",
                ref.desc(), " and ", what, " ", t.desc());
}

void check_defined(const char* op, const Tensor& t, const char* what) {
  DIFFLAB_CHECK(t.defined(), op, ": ", what, " is undefined");
}

void check_operand(const char* op, const Tensor& ref, const char* ref_what, const Tensor& t,
                   const char* what, DeviceRule rule) {
  check_defined(op, t, what);
  rule(op, ref, ref_what, t, what);
}

void check_same_dtype(const char* op, const Tensor& a, const Tensor& b) {
  DIFFLAB_CHECK(a.dtype() == b.dtype(), op, ": dtype mismatch, ", a.dtype(), a.shape(), " vs ",
                b.dtype(), b.shape());
}

void check_same_dtype(const char* op, const char* wa, const Tensor& a, const char* wb,
                      const Tensor& b) {
  DIFFLAB_CHECK(a.dtype() == b.dtype(), op, ": dtype mismatch, ", wa, " ", a.dtype(), a.shape(),
                " vs ", wb, " ", b.dtype(), b.shape());
}

void outer_inner(const Shape& s, int64_t dim, int64_t& outer, int64_t& inner) {
  outer = 1;
  inner = 1;
  for (int64_t d = 0; d < dim; ++d) outer *= s[d];
  for (int64_t d = dim + 1; d < int64_t(s.size()); ++d) inner *= s[d];
}

void last_dim_perm(int64_t nd, int64_t d, std::vector<int64_t>& perm, std::vector<int64_t>& inv) {
  perm.clear();
  for (int64_t i = 0; i < nd; ++i)
    if (i != d) perm.push_back(i);
  perm.push_back(d);
  inv.assign(size_t(nd), 0);
  for (int64_t i = 0; i < nd; ++i) inv[perm[i]] = i;
}

}  // namespace difflab::tensor::checks
