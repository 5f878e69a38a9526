// Shape and view functions (reshape, permute, slice, expand, ...) and their adjoints.
#include "autograd/function.h"
#include "autograd/functions.h"
#include "tensor/factory.h"

namespace difflab::ag {

namespace T = difflab::tensor;

Var reshape(const Var& x, const Shape& shape) {
  return make_result(x.value().reshape(shape), "reshape", {x}, {},
                     [in = x.shape()](BackwardContext& c) {
                       return std::vector<Var>{reshape(c.grad_output, in)};
                     });
}

Var view(const Var& x, const Shape& shape) {
  return make_result(x.value().view(shape), "view", {x}, {}, [in = x.shape()](BackwardContext& c) {
    return std::vector<Var>{reshape(c.grad_output, in)};
  });
}

Var flatten(const Var& x, int64_t start_dim, int64_t end_dim) {
  if (x.dim() == 0) return reshape(x, {1});
  int64_t s = T::normalize_dim(start_dim, x.dim(), "flatten");
  int64_t e = T::normalize_dim(end_dim, x.dim(), "flatten");
  DIFFLAB_CHECK(s <= e, "flatten: start_dim ", start_dim, " after end_dim ", end_dim);
  Shape out(x.shape().begin(), x.shape().begin() + s);
  int64_t n = 1;
  for (int64_t d = s; d <= e; ++d) n *= x.shape()[d];
  out.push_back(n);
  out.insert(out.end(), x.shape().begin() + e + 1, x.shape().end());
  return reshape(x, out);
}

Var permute(const Var& x, const std::vector<int64_t>& dims) {
  Tensor y = x.value().permute(dims);
  std::vector<int64_t> inv(dims.size());
  for (size_t i = 0; i < dims.size(); ++i)
    inv[T::normalize_dim(dims[i], x.dim(), "permute")] = int64_t(i);
  return make_result(y, "permute", {x}, {}, [inv](BackwardContext& c) {
    return std::vector<Var>{permute(c.grad_output, inv)};
  });
}

Var transpose(const Var& x, int64_t d0, int64_t d1) {
  return make_result(x.value().transpose(d0, d1), "transpose", {x}, {},
                     [d0, d1](BackwardContext& c) {
                       return std::vector<Var>{transpose(c.grad_output, d0, d1)};
                     });
}

Var slice(const Var& x, int64_t dim, int64_t start, int64_t end, int64_t step) {
  return make_result(x.value().slice(dim, start, end, step), "slice", {x}, {},
                     [in = x.shape(), dim, start, end, step](BackwardContext& c) {
                       return std::vector<Var>{
                           slice_backward(c.grad_output, in, dim, start, end, step)};
                     });
}

Var slice_backward(const Var& g, const Shape& shape, int64_t dim, int64_t start, int64_t end,
                   int64_t step) {
  Tensor out = T::zeros(shape, g.dtype(), g.device());
  Tensor region = out.slice(dim, start, end, step);
  DIFFLAB_CHECK(region.shape() == g.shape(), "slice_backward: gradient of shape ", g.shape(),
                " does not fit slice of shape ", region.shape());
  region.copy_(g.value());
  return make_result(out, "slice_backward", {g}, {}, [dim, start, end, step](BackwardContext& c) {
    return std::vector<Var>{slice(c.grad_output, dim, start, end, step)};
  });
}

Var select(const Var& x, int64_t dim, int64_t index) {
  int64_t d = T::normalize_dim(dim, x.dim(), "select");
  int64_t n = x.shape()[d];
  int64_t i = index < 0 ? index + n : index;
  Tensor y = x.value().select(d, index);
  return make_result(y, "select", {x}, {}, [in = x.shape(), d, i](BackwardContext& c) {
    return std::vector<Var>{slice_backward(unsqueeze(c.grad_output, d), in, d, i, i + 1, 1)};
  });
}

Var expand(const Var& x, const Shape& shape) {
  return make_result(x.value().expand(shape), "expand", {x}, {},
                     [in = x.shape()](BackwardContext& c) {
                       return std::vector<Var>{sum_to(c.grad_output, in)};
                     });
}

Var squeeze(const Var& x, int64_t dim) {
  return make_result(x.value().squeeze(dim), "squeeze", {x}, {},
                     [in = x.shape()](BackwardContext& c) {
                       return std::vector<Var>{reshape(c.grad_output, in)};
                     });
}

Var unsqueeze(const Var& x, int64_t dim) {
  return make_result(x.value().unsqueeze(dim), "unsqueeze", {x}, {},
                     [in = x.shape()](BackwardContext& c) {
                       return std::vector<Var>{reshape(c.grad_output, in)};
                     });
}

Var contiguous(const Var& x) {
  if (x.value().is_contiguous()) return x;
  return make_result(x.value().contiguous(), "contiguous", {x}, {},
                     [](BackwardContext& c) { return std::vector<Var>{c.grad_output}; });
}

Var sum_to(const Var& x, const Shape& shape) {
  if (x.shape() == shape) return x;
  return make_result(T::sum_to(x.value(), shape), "sum_to", {x}, {},
                     [in = x.shape()](BackwardContext& c) {
                       return std::vector<Var>{expand(c.grad_output, in)};
                     });
}

}  // namespace difflab::ag
