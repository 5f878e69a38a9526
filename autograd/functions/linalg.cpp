// matmul (batched, broadcasting) and linear, with backward written as matmuls.
#include "autograd/function.h"
#include "autograd/functions.h"

namespace difflab::ag {

namespace T = difflab::tensor;

namespace {
Var matmul_nd(const Var& a, const Var& b) {
  // Both inputs have at least 2 dims here; 1-D cases are reshaped by matmul().
  return make_result(T::matmul(a.value(), b.value()), "matmul", {a, b},
                     {b.requires_grad() ? save(a) : SavedVar{},
                      a.requires_grad() ? save(b) : SavedVar{}},
                     [sa = a.shape(), sb = b.shape()](BackwardContext& c) {
                       std::vector<Var> g(2);
                       const Var& gy = c.grad_output;
                       if (c.needs_input_grad(0))
                         g[0] = sum_to(matmul_nd(gy, transpose(c.saved[1], -1, -2)), sa);
                       if (c.needs_input_grad(1))
                         g[1] = sum_to(matmul_nd(transpose(c.saved[0], -1, -2), gy), sb);
                       return g;
                     });
}
}  // namespace

Var matmul(const Var& a, const Var& b) {
  DIFFLAB_CHECK(a.dim() >= 1 && b.dim() >= 1, "matmul: inputs must have at least 1 dim, got ",
                a.shape(), " and ", b.shape());
  Var a2 = a.dim() == 1 ? unsqueeze(a, 0) : a;
  Var b2 = b.dim() == 1 ? unsqueeze(b, 1) : b;
  Var y = matmul_nd(a2, b2);
  if (a.dim() == 1) y = squeeze(y, y.dim() - 2);
  if (b.dim() == 1) y = squeeze(y, y.dim() - 1);
  return y;
}

Var linear(const Var& x, const Var& w, const Var& b) {
  DIFFLAB_CHECK(w.dim() == 2, "linear: weight must be [out, in], got ", w.shape());
  DIFFLAB_CHECK(x.size(-1) == w.size(1), "linear: input ", x.shape(), " does not match weight ",
                w.shape(), " (in features ", w.size(1), ")");
  Var y = matmul(x, transpose(w, 0, 1));
  if (b.defined()) {
    DIFFLAB_CHECK(b.dim() == 1 && b.size(0) == w.size(0), "linear: bias ", b.shape(),
                  " does not match weight ", w.shape());
    y = add(y, b);
  }
  return y;
}

}  // namespace difflab::ag
