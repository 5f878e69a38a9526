// Differentiable joining, indexing, sorting, distances and dropout. Each backward is written with
// these same functions (slices, index_add <-> index_select, gather <-> scatter_add, cumsum <->
// cumsum_reverse, matmul), so it is itself differentiable.
#include "autograd/function.h"
#include "autograd/functions.h"
#include "tensor/factory.h"

namespace difflab::ag {

namespace T = difflab::tensor;

namespace {

Var zeros_var(const Shape& shape, const Var& like) {
  return Var(T::zeros(shape, like.dtype(), like.device()));
}

// Places g (smaller or equal in every dim) at the origin of a zero tensor of `shape`.
Var pad_to(Var g, const Shape& shape) {
  for (int64_t j = 0; j < g.dim(); ++j) {
    if (g.shape()[j] == shape[j]) continue;
    Shape s = g.shape();
    s[j] = shape[j];
    g = slice_backward(g, s, j, 0, g.shape()[j], 1);
  }
  return g;
}

}  // namespace

Var cat(const std::vector<Var>& xs, int64_t dim) {
  std::vector<Tensor> ts;
  ts.reserve(xs.size());
  for (const Var& x : xs) ts.push_back(x.value());
  Tensor y = T::cat(ts, dim);
  const int64_t d = T::normalize_dim(dim, y.dim(), "cat");
  std::vector<int64_t> sizes;
  for (const Var& x : xs) sizes.push_back(x.shape()[d]);
  return make_result(y, "cat", xs, {}, [d, sizes](BackwardContext& c) {
    std::vector<Var> g(sizes.size());
    int64_t off = 0;
    for (size_t i = 0; i < sizes.size(); ++i) {
      if (c.needs_input_grad(i)) g[i] = slice(c.grad_output, d, off, off + sizes[i]);
      off += sizes[i];
    }
    return g;
  });
}

Var stack(const std::vector<Var>& xs, int64_t dim) {
  std::vector<Tensor> ts;
  ts.reserve(xs.size());
  for (const Var& x : xs) ts.push_back(x.value());
  Tensor y = T::stack(ts, dim);
  const int64_t d = T::normalize_dim(dim, y.dim(), "stack");
  return make_result(y, "stack", xs, {}, [d, n = xs.size()](BackwardContext& c) {
    std::vector<Var> g(n);
    for (size_t i = 0; i < n; ++i)
      if (c.needs_input_grad(i)) g[i] = select(c.grad_output, d, int64_t(i));
    return g;
  });
}

Var index_select(const Var& x, int64_t dim, const Tensor& index) {
  Tensor y = T::index_select(x.value(), dim, index);
  const int64_t d = T::normalize_dim(dim, x.dim(), "index_select");
  return make_result(y, "index_select", {x}, {save_tensor(index)},
                     [d, n = x.shape()[d]](BackwardContext& c) {
                       return std::vector<Var>{index_add(c.grad_output, d, c.saved[0].value(), n)};
                     });
}

Var index_add(const Var& src, int64_t dim, const Tensor& index, int64_t size) {
  Tensor y = T::index_add(src.value(), dim, index, size);
  const int64_t d = T::normalize_dim(dim, src.dim(), "index_add");
  return make_result(y, "index_add", {src}, {save_tensor(index)}, [d](BackwardContext& c) {
    return std::vector<Var>{index_select(c.grad_output, d, c.saved[0].value())};
  });
}

Var gather(const Var& x, int64_t dim, const Tensor& index) {
  Tensor y = T::gather(x.value(), dim, index);
  const int64_t d = T::normalize_dim(dim, x.dim(), "gather");
  return make_result(
      y, "gather", {x}, {save_tensor(index)}, [d, in = x.shape()](BackwardContext& c) {
        const Var& g = c.grad_output;
        return std::vector<Var>{scatter_add(zeros_var(in, g), d, c.saved[0].value(), g)};
      });
}

Var scatter_add(const Var& base, int64_t dim, const Tensor& index, const Var& src) {
  Tensor y = T::scatter_add(base.value(), dim, index, src.value());
  const int64_t d = T::normalize_dim(dim, base.dim(), "scatter_add");
  return make_result(y, "scatter_add", {base, src}, {save_tensor(index)},
                     [d, ss = src.shape()](BackwardContext& c) {
                       std::vector<Var> g(2);
                       if (c.needs_input_grad(0)) g[0] = c.grad_output;
                       if (c.needs_input_grad(1))
                         g[1] = pad_to(gather(c.grad_output, d, c.saved[0].value()), ss);
                       return g;
                     });
}

Var embedding(const Var& weight, const Tensor& index) {
  Tensor y = T::embedding(weight.value(), index);
  Tensor flat = index.reshape({-1});
  return make_result(y, "embedding", {weight}, {save_tensor(flat)},
                     [ws = weight.shape()](BackwardContext& c) {
                       const Tensor& idx = c.saved[0].value();
                       Var rows = reshape(c.grad_output, {idx.numel(), ws[1]});
                       return std::vector<Var>{index_add(rows, 0, idx, ws[0])};
                     });
}

Var cdist2(const Var& a, const Var& b) {
  // d_nm = Σ_d (a_nd − b_md)²:  ∂/∂a = 2(rowsum(G)·a − G b),  ∂/∂b = 2(colsum(G)ᵀ·b − Gᵀ a).
  return make_result(T::cdist2(a.value(), b.value()), "cdist2", {a, b}, {save(a), save(b)},
                     [sa = a.shape(), sb = b.shape()](BackwardContext& c) {
                       const Var& G = c.grad_output;
                       const Var& av = c.saved[0];
                       const Var& bv = c.saved[1];
                       std::vector<Var> g(2);
                       if (c.needs_input_grad(0))
                         g[0] = sum_to((mul(sum(G, {-1}, true), av) - matmul(G, bv)) * 2.0, sa);
                       if (c.needs_input_grad(1)) {
                         Var colsum = transpose(sum(G, {-2}, true), -1, -2);
                         g[1] =
                             sum_to((mul(colsum, bv) - matmul(transpose(G, -1, -2), av)) * 2.0, sb);
                       }
                       return g;
                     });
}

std::pair<Var, Tensor> sort(const Var& x, int64_t dim, bool descending) {
  auto [vals, idx] = T::sort(x.value(), dim, descending);
  const int64_t d = T::normalize_dim(dim, x.dim(), "sort");
  Var v =
      make_result(vals, "sort", {x}, {save_tensor(idx)}, [d, in = x.shape()](BackwardContext& c) {
        const Var& g = c.grad_output;
        return std::vector<Var>{scatter_add(zeros_var(in, g), d, c.saved[0].value(), g)};
      });
  return {v, idx};
}

Var cumsum(const Var& x, int64_t dim) {
  return make_result(T::cumsum(x.value(), dim), "cumsum", {x}, {}, [dim](BackwardContext& c) {
    return std::vector<Var>{cumsum_reverse(c.grad_output, dim)};
  });
}

Var cumsum_reverse(const Var& x, int64_t dim) {
  return make_result(
      T::cumsum_reverse(x.value(), dim), "cumsum_reverse", {x}, {},
      [dim](BackwardContext& c) { return std::vector<Var>{cumsum(c.grad_output, dim)}; });
}

Var dropout(const Var& x, double p, bool training, tensor::Generator* gen) {
  DIFFLAB_CHECK(p >= 0.0 && p < 1.0, "dropout: p must be in [0, 1), got ", p);
  if (!training || p == 0.0) return x;
  DIFFLAB_CHECK(T::is_floating(x.dtype()), "dropout: expected a floating dtype, got ", x.dtype(),
                " ", x.shape());
  // Inverted dropout: keep where u >= p (probability 1 − p) and scale by 1/(1 − p).
  const T::Device dev = x.value().device();
  Tensor u = T::rand(x.shape(), x.dtype(), gen, dev);
  Tensor keep = T::binary(T::BinaryOp::ge, u, T::full({}, p, x.dtype(), dev));
  Tensor mask = T::where(keep, T::full({}, 1.0 / (1.0 - p), x.dtype(), dev),
                         T::zeros({}, x.dtype(), dev));
  return make_result(
      T::binary(T::BinaryOp::mul, x.value(), mask), "dropout", {x}, {save_tensor(mask)},
      [](BackwardContext& c) { return std::vector<Var>{mul(c.grad_output, c.saved[0])}; });
}

}  // namespace difflab::ag
