// Differentiable reductions: sum, mean, var, amax, logsumexp.
#include "autograd/function.h"
#include "autograd/functions.h"
#include "tensor/factory.h"

namespace difflab::ag {

namespace T = difflab::tensor;

namespace {
// Shape of a keepdim reduction of `in` over `dims` (all dims when empty).
Shape keepdim_shape(const Shape& in, const std::vector<int64_t>& dims) {
  Shape s = in;
  if (dims.empty()) {
    for (auto& d : s) d = 1;
    return s;
  }
  for (int64_t d : dims) s[T::normalize_dim(d, int64_t(in.size()), "reduce")] = 1;
  return s;
}

int64_t reduced_count(const Shape& in, const std::vector<int64_t>& dims) {
  return T::shape_numel(in) / std::max<int64_t>(1, T::shape_numel(keepdim_shape(in, dims)));
}

// Broadcasts a reduced gradient back to the input shape.
Var unreduce(const Var& g, const Shape& in, const std::vector<int64_t>& dims) {
  return expand(reshape(g, keepdim_shape(in, dims)), in);
}
}  // namespace

Var sum(const Var& x, const std::vector<int64_t>& dims, bool keepdim) {
  return make_result(T::sum(x.value(), dims, keepdim), "sum", {x}, {},
                     [in = x.shape(), dims](BackwardContext& c) {
                       return std::vector<Var>{unreduce(c.grad_output, in, dims)};
                     });
}

Var mean(const Var& x, const std::vector<int64_t>& dims, bool keepdim) {
  const double n = double(reduced_count(x.shape(), dims));
  return make_result(T::mean(x.value(), dims, keepdim), "mean", {x}, {},
                     [in = x.shape(), dims, n](BackwardContext& c) {
                       return std::vector<Var>{unreduce(c.grad_output, in, dims) / n};
                     });
}

Var var(const Var& x, const std::vector<int64_t>& dims, bool keepdim, int64_t correction) {
  const double n = double(reduced_count(x.shape(), dims));
  return make_result(T::var(x.value(), dims, keepdim, correction), "var", {x}, {save(x)},
                     [in = x.shape(), dims, n, correction](BackwardContext& c) {
                       const Var& xv = c.saved[0];
                       Var centered = sub(xv, mean(xv, dims, true));
                       Var g = unreduce(c.grad_output, in, dims);
                       return std::vector<Var>{mul(g, centered) * (2.0 / (n - double(correction)))};
                     });
}

Var amax(const Var& x, int64_t dim, bool keepdim) {
  int64_t d = T::normalize_dim(dim, x.dim(), "amax");
  // Gradient goes to the first maximum: a constant one-hot mask along `dim`.
  Tensor idx = T::argmax(x.value(), d, true);
  Shape ps(x.dim(), 1);
  ps[d] = x.shape()[d];
  Tensor pos = T::arange(0, double(x.shape()[d]), 1, DType::i64).reshape(ps).to(idx.device());
  Tensor mask = T::binary(T::BinaryOp::eq, pos, idx);
  return make_result(T::amax(x.value(), d, keepdim), "amax", {x}, {save_tensor(mask)},
                     [in = x.shape(), d](BackwardContext& c) {
                       Shape ks = in;
                       ks[d] = 1;
                       Var g = expand(reshape(c.grad_output, ks), in);
                       Var zero(T::zeros({}, g.dtype(), g.device()));
                       return std::vector<Var>{where(c.saved[0].value(), g, zero)};
                     });
}

Var logsumexp(const Var& x, const std::vector<int64_t>& dims, bool keepdim) {
  return make_result(
      T::logsumexp(x.value(), dims, keepdim), "logsumexp", {x}, {save(x)},
      [in = x.shape(), dims](BackwardContext& c) {
        const Var& xv = c.saved[0];
        const Var& y = c.saved[1];
        Shape ks = keepdim_shape(in, dims);
        Var p = exp(sub(xv, reshape(y, ks)));
        return std::vector<Var>{mul(unreduce(c.grad_output, in, dims), p)};
      },
      true);
}

}  // namespace difflab::ag
