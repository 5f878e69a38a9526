#include "tensor/checks/reduce.h"

namespace difflab::tensor::checks {

std::vector<bool> reduce_mask(const Tensor& x, const std::vector<int64_t>& dims, const char* op) {
  std::vector<bool> mask(x.dim(), dims.empty());
  for (int64_t d : dims) {
    int64_t nd = normalize_dim(d, x.dim(), op);
    DIFFLAB_CHECK(!mask[nd] || dims.empty(), op, ": dim ", d, " repeated in ", Shape(dims));
    mask[nd] = true;
  }
  return mask;
}

Shape reduced_shape(const Tensor& x, const std::vector<bool>& mask, bool keepdim) {
  Shape s;
  for (int64_t d = 0; d < x.dim(); ++d) {
    if (!mask[d])
      s.push_back(x.shape()[d]);
    else if (keepdim)
      s.push_back(1);
  }
  return s;
}

int64_t reduced_count(const Tensor& x, const std::vector<bool>& mask) {
  int64_t R = 1;
  for (int64_t d = 0; d < x.dim(); ++d)
    if (mask[d]) R *= x.shape()[d];
  return R;
}

void check_var_dof(const Tensor& x, int64_t R, int64_t correction) {
  DIFFLAB_CHECK(R - correction > 0, "var: ", R, " elements per output with correction ", correction,
                " leave no degrees of freedom (shape ", x.shape(), ")");
}

void check_reducible(const char* op, const Tensor& x, int64_t R, int64_t out_numel) {
  DIFFLAB_CHECK(R > 0 || out_numel == 0, op, ": cannot reduce an empty dim of ", x.shape());
}

Shape argmax_shape(const Tensor& x, int64_t dim, bool keepdim, int64_t& d) {
  d = normalize_dim(dim, x.dim(), "argmax");
  check_reducible("argmax", x, x.shape()[d], 1);  // even when the output is empty
  Shape oshape = x.shape();
  if (keepdim)
    oshape[d] = 1;
  else
    oshape.erase(oshape.begin() + d);
  return oshape;
}

SoftmaxView softmax_view(const char* op, const Tensor& x_in, int64_t dim) {
  DIFFLAB_CHECK(x_in.defined(), op, ": undefined input");
  DIFFLAB_CHECK(is_floating(x_in.dtype()), op, ": input must be f32 or f64, got ", x_in.dtype(),
                " (shape ", x_in.shape(), ")");
  SoftmaxView v;
  v.scalar = x_in.dim() == 0;
  v.x = v.scalar ? x_in.reshape({1}) : x_in.contiguous();
  v.d = normalize_dim(dim, v.x.dim(), op);
  v.R = v.x.shape()[v.d];
  outer_inner(v.x.shape(), v.d, v.outer, v.inner);
  return v;
}

}  // namespace difflab::tensor::checks
