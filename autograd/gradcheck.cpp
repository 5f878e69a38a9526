#include "autograd/gradcheck.h"

#include <cmath>
#include <sstream>

#include "autograd/engine.h"
#include "autograd/functions.h"
#include "autograd/grad_mode.h"
#include "tensor/factory.h"
#include "tensor/random.h"

namespace difflab::ag {

namespace {

// ⟨fn(x), v⟩ as a scalar Var, with v a fixed random projection of the output.
Var projected(const VarFn& fn, const std::vector<Var>& x, Tensor& v, uint64_t seed) {
  Var y = fn(x);
  DIFFLAB_CHECK(y.dtype() == DType::f64, "gradcheck: function output must be f64, got ",
                y.dtype());
  if (!v.defined()) {
    tensor::Generator g(seed);
    v = tensor::randn(y.shape(), DType::f64, &g);
  }
  return sum(mul(y, Var(v)));
}

// Storage offset (elements) of the i-th element in row-major order of a strided tensor.
int64_t element_offset(const Tensor& t, int64_t i) {
  int64_t off = t.offset();
  for (int64_t d = t.dim() - 1; d >= 0; --d) {
    off += (i % t.shape()[d]) * t.strides()[d];
    i /= t.shape()[d];
  }
  return off;
}

}  // namespace

GradcheckResult gradcheck(const VarFn& fn, const std::vector<Var>& inputs,
                          const GradcheckOptions& opt) {
  GradcheckResult r;
  for (size_t k = 0; k < inputs.size(); ++k) {
    DIFFLAB_CHECK(inputs[k].dtype() == DType::f64, "gradcheck: input ", k, " is ",
                  inputs[k].dtype(), "; finite differences need f64");
    DIFFLAB_CHECK(inputs[k].requires_grad(), "gradcheck: input ", k, " does not require grad");
  }
  Tensor v;
  std::vector<Var> analytic;
  {
    Var s = projected(fn, inputs, v, opt.seed);
    if (s.requires_grad()) {
      analytic = grad({s}, inputs, {}, false, true);
    } else {  // the function does not depend on its inputs (e.g. a constant second derivative)
      for (const auto& x : inputs) analytic.emplace_back(tensor::zeros_like(x.value()));
    }
  }
  NoGradGuard ng;
  for (size_t k = 0; k < inputs.size(); ++k) {
    const Tensor& x = inputs[k].value();
    double* base = static_cast<double*>(x.storage()->data);
    std::vector<double> a = analytic[k].value().to_vector<double>();
    for (int64_t i = 0; i < x.numel(); ++i) {
      double* p = base + element_offset(x, i);
      const double orig = *p;
      *p = orig + opt.eps;
      double fp = projected(fn, inputs, v, opt.seed).item();
      *p = orig - opt.eps;
      double fm = projected(fn, inputs, v, opt.seed).item();
      *p = orig;
      double num = (fp - fm) / (2 * opt.eps);
      double err = std::abs(num - a[i]);
      r.max_abs_err = std::max(r.max_abs_err, err);
      r.checked++;
      if (r.ok && !(err <= opt.atol + opt.rtol * std::abs(num))) {
        r.ok = false;
        std::ostringstream os;
        os << "input " << k << " " << x.desc() << " element " << i << ": analytic " << a[i]
           << " vs numeric " << num << " (abs err " << err << ")";
        r.message = os.str();
      }
    }
  }
  return r;
}

GradcheckResult gradgradcheck(const VarFn& fn, const std::vector<Var>& inputs,
                              const GradcheckOptions& opt) {
  // g(x) = ⟨∇_x ⟨fn(x), v⟩, w⟩ is scalar; its gradient exercises every backward formula.
  auto first = [&fn, &opt](const std::vector<Var>& x) {
    GradModeGuard on(true);  // finite differences of g run under no-grad; g itself needs a graph
    Tensor v;
    Var s = projected(fn, x, v, opt.seed);
    std::vector<Var> g = grad({s}, x, {}, true, true);
    Var total;
    for (size_t k = 0; k < g.size(); ++k) {
      tensor::Generator gen(opt.seed + 1 + k);
      Var w(tensor::randn(g[k].shape(), DType::f64, &gen));
      Var t = sum(mul(g[k], w));
      total = total.defined() ? add(total, t) : t;
    }
    return total;
  };
  GradcheckOptions o2 = opt;
  o2.atol = std::max(opt.atol, 1e-5);
  o2.rtol = std::max(opt.rtol, 1e-3);
  return gradcheck(first, inputs, o2);
}

}  // namespace difflab::ag
