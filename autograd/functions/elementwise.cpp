// Elementwise differentiable functions: forward kernel and backward formula side by side.
#include <cmath>

#include "autograd/function.h"
#include "autograd/functions.h"
#include "tensor/factory.h"

namespace difflab::ag {

namespace T = difflab::tensor;
using BO = tensor::BinaryOp;
using UO = tensor::UnaryOp;

namespace {
// A constant (non-differentiable) Var, e.g. a mask.
Var constant(Tensor t) { return Var(std::move(t)); }
}  // namespace

Var neg(const Var& x) {
  return make_result(T::unary(UO::neg, x.value()), "neg", {x}, {},
                     [](BackwardContext& c) { return std::vector<Var>{neg(c.grad_output)}; });
}

Var abs(const Var& x) {
  return make_result(T::unary(UO::abs, x.value()), "abs", {x}, {save(x)}, [](BackwardContext& c) {
    return std::vector<Var>{mul(c.grad_output, constant(T::unary(UO::sign, c.saved[0].value())))};
  });
}

Var exp(const Var& x) {
  return make_result(
      T::unary(UO::exp, x.value()), "exp", {x}, {},
      [](BackwardContext& c) { return std::vector<Var>{mul(c.grad_output, c.saved[0])}; }, true);
}

Var log(const Var& x) {
  return make_result(T::unary(UO::log, x.value()), "log", {x}, {save(x)}, [](BackwardContext& c) {
    return std::vector<Var>{div(c.grad_output, c.saved[0])};
  });
}

Var sqrt(const Var& x) {
  return make_result(
      T::unary(UO::sqrt, x.value()), "sqrt", {x}, {},
      [](BackwardContext& c) {
        return std::vector<Var>{div(c.grad_output * 0.5, c.saved[0])};
      },
      true);
}

Var rsqrt(const Var& x) {
  // d x^{-1/2} = -1/2 x^{-3/2} = -1/2 y^3
  return make_result(
      T::unary(UO::rsqrt, x.value()), "rsqrt", {x}, {},
      [](BackwardContext& c) {
        const Var& y = c.saved[0];
        return std::vector<Var>{mul(c.grad_output * -0.5, mul(y, square(y)))};
      },
      true);
}

Var sin(const Var& x) {
  return make_result(T::unary(UO::sin, x.value()), "sin", {x}, {save(x)}, [](BackwardContext& c) {
    return std::vector<Var>{mul(c.grad_output, cos(c.saved[0]))};
  });
}

Var cos(const Var& x) {
  return make_result(T::unary(UO::cos, x.value()), "cos", {x}, {save(x)}, [](BackwardContext& c) {
    return std::vector<Var>{neg(mul(c.grad_output, sin(c.saved[0])))};
  });
}

Var tanh(const Var& x) {
  return make_result(
      T::unary(UO::tanh, x.value()), "tanh", {x}, {},
      [](BackwardContext& c) {
        return std::vector<Var>{mul(c.grad_output, 1.0 - square(c.saved[0]))};
      },
      true);
}

Var sigmoid(const Var& x) {
  return make_result(
      T::unary(UO::sigmoid, x.value()), "sigmoid", {x}, {},
      [](BackwardContext& c) {
        const Var& y = c.saved[0];
        return std::vector<Var>{mul(c.grad_output, mul(y, 1.0 - y))};
      },
      true);
}

Var relu(const Var& x) {
  return make_result(
      T::unary(UO::relu, x.value()), "relu", {x}, {},
      [](BackwardContext& c) {
        return std::vector<Var>{
            mul(c.grad_output, constant(T::unary(UO::step, c.saved[0].value())))};
      },
      true);
}

Var silu(const Var& x) {
  return make_result(T::unary(UO::silu, x.value()), "silu", {x}, {save(x)},
                     [](BackwardContext& c) {
                       return std::vector<Var>{mul(c.grad_output, silu_grad(c.saved[0]))};
                     });
}

Var silu_grad(const Var& x) {
  // d/dx [s + x s (1 - s)] = s (1 - s) (2 + x (1 - 2 s)), s = sigmoid(x)
  return make_result(T::unary(UO::silu_grad, x.value()), "silu_grad", {x}, {save(x)},
                     [](BackwardContext& c) {
                       const Var& xv = c.saved[0];
                       Var s = sigmoid(xv);
                       Var d = mul(mul(s, 1.0 - s), 2.0 + mul(xv, 1.0 - 2.0 * s));
                       return std::vector<Var>{mul(c.grad_output, d)};
                     });
}

Var gelu(const Var& x) {
  return make_result(T::unary(UO::gelu, x.value()), "gelu", {x}, {save(x)},
                     [](BackwardContext& c) {
                       return std::vector<Var>{mul(c.grad_output, gelu_grad(c.saved[0]))};
                     });
}

Var gelu_grad(const Var& x) {
  // d²/dx² gelu = φ(x) (2 - x²), φ the standard normal density
  return make_result(T::unary(UO::gelu_grad, x.value()), "gelu_grad", {x}, {save(x)},
                     [](BackwardContext& c) {
                       const Var& xv = c.saved[0];
                       Var phi = exp(square(xv) * -0.5) * 0.39894228040143267794;
                       return std::vector<Var>{mul(c.grad_output, mul(phi, 2.0 - square(xv)))};
                     });
}

Var square(const Var& x) {
  return make_result(T::unary(UO::square, x.value()), "square", {x}, {save(x)},
                     [](BackwardContext& c) {
                       return std::vector<Var>{mul(c.grad_output, c.saved[0] * 2.0)};
                     });
}

Var reciprocal(const Var& x) {
  return make_result(
      T::unary(UO::reciprocal, x.value()), "reciprocal", {x}, {},
      [](BackwardContext& c) {
        return std::vector<Var>{neg(mul(c.grad_output, square(c.saved[0])))};
      },
      true);
}

Var pow(const Var& x, double p) {
  return make_result(T::pow_scalar(x.value(), p), "pow_scalar", {x}, {save(x)},
                     [p](BackwardContext& c) {
                       Var d = p == 2.0 ? c.saved[0] * 2.0 : pow(c.saved[0], p - 1.0) * p;
                       return std::vector<Var>{mul(c.grad_output, d)};
                     });
}

Var clamp(const Var& x, double lo, double hi) {
  return make_result(T::clamp(x.value(), lo, hi), "clamp", {x}, {save(x)},
                     [lo, hi](BackwardContext& c) {
                       return std::vector<Var>{mul(
                           c.grad_output, constant(T::in_range_mask(c.saved[0].value(), lo, hi)))};
                     });
}

Var affine(const Var& x, double scale, double shift) {
  return make_result(T::affine(x.value(), scale, shift), "affine", {x}, {},
                     [scale](BackwardContext& c) {
                       return std::vector<Var>{affine(c.grad_output, scale, 0.0)};
                     });
}

Var add(const Var& a, const Var& b) {
  return make_result(T::binary(BO::add, a.value(), b.value()), "add", {a, b}, {},
                     [sa = a.shape(), sb = b.shape()](BackwardContext& c) {
                       std::vector<Var> g(2);
                       if (c.needs_input_grad(0)) g[0] = sum_to(c.grad_output, sa);
                       if (c.needs_input_grad(1)) g[1] = sum_to(c.grad_output, sb);
                       return g;
                     });
}

Var sub(const Var& a, const Var& b) {
  return make_result(T::binary(BO::sub, a.value(), b.value()), "sub", {a, b}, {},
                     [sa = a.shape(), sb = b.shape()](BackwardContext& c) {
                       std::vector<Var> g(2);
                       if (c.needs_input_grad(0)) g[0] = sum_to(c.grad_output, sa);
                       if (c.needs_input_grad(1)) g[1] = neg(sum_to(c.grad_output, sb));
                       return g;
                     });
}

Var mul(const Var& a, const Var& b) {
  // Each input's gradient reads only the other input.
  std::vector<SavedVar> saved{a.requires_grad() ? save(b) : SavedVar{},
                              b.requires_grad() ? save(a) : SavedVar{}};
  return make_result(T::binary(BO::mul, a.value(), b.value()), "mul", {a, b}, std::move(saved),
                     [sa = a.shape(), sb = b.shape()](BackwardContext& c) {
                       std::vector<Var> g(2);
                       if (c.needs_input_grad(0)) g[0] = sum_to(mul(c.grad_output, c.saved[0]), sa);
                       if (c.needs_input_grad(1)) g[1] = sum_to(mul(c.grad_output, c.saved[1]), sb);
                       return g;
                     });
}

Var div(const Var& a, const Var& b) {
  return make_result(T::binary(BO::div, a.value(), b.value()), "div", {a, b},
                     {b.requires_grad() ? save(a) : SavedVar{}, save(b)},
                     [sa = a.shape(), sb = b.shape()](BackwardContext& c) {
                       std::vector<Var> g(2);
                       const Var& bv = c.saved[1];
                       if (c.needs_input_grad(0)) g[0] = sum_to(div(c.grad_output, bv), sa);
                       if (c.needs_input_grad(1))
                         g[1] = sum_to(neg(div(mul(c.grad_output, c.saved[0]), square(bv))), sb);
                       return g;
                     });
}

Var pow(const Var& a, const Var& b) {
  return make_result(
      T::binary(BO::pow, a.value(), b.value()), "pow", {a, b}, {save(a), save(b)},
      [sa = a.shape(), sb = b.shape()](BackwardContext& c) {
        std::vector<Var> g(2);
        const Var &av = c.saved[0], &bv = c.saved[1], &y = c.saved[2];
        if (c.needs_input_grad(0))
          g[0] = sum_to(mul(c.grad_output, mul(bv, pow(av, sub(bv, Var(T::ones_like(bv.value())))))),
                        sa);
        if (c.needs_input_grad(1)) g[1] = sum_to(mul(c.grad_output, mul(y, log(av))), sb);
        return g;
      },
      true);
}

namespace {
Var select_by_mask(const Var& a, const Var& b, BO cmp, const char* op) {
  Tensor mask = T::binary(cmp, a.value(), b.value());
  Tensor out = T::where(mask, a.value(), b.value());
  return make_result(out, op, {a, b}, {save_tensor(mask)},
                     [sa = a.shape(), sb = b.shape()](BackwardContext& c) {
                       std::vector<Var> g(2);
                       const Tensor& m = c.saved[0].value();
                       Var zero(T::zeros({}, c.grad_output.dtype(), c.grad_output.value().device()));
                       if (c.needs_input_grad(0)) g[0] = sum_to(where(m, c.grad_output, zero), sa);
                       if (c.needs_input_grad(1)) g[1] = sum_to(where(m, zero, c.grad_output), sb);
                       return g;
                     });
}
}  // namespace

// Ties send the gradient to `a`.
Var maximum(const Var& a, const Var& b) { return select_by_mask(a, b, BO::ge, "maximum"); }
Var minimum(const Var& a, const Var& b) { return select_by_mask(a, b, BO::le, "minimum"); }

Var where(const Tensor& cond, const Var& a, const Var& b) {
  return make_result(T::where(cond, a.value(), b.value()), "where", {a, b}, {save_tensor(cond)},
                     [sa = a.shape(), sb = b.shape()](BackwardContext& c) {
                       std::vector<Var> g(2);
                       const Tensor& m = c.saved[0].value();
                       Var zero(T::zeros({}, c.grad_output.dtype(), c.grad_output.value().device()));
                       if (c.needs_input_grad(0)) g[0] = sum_to(where(m, c.grad_output, zero), sa);
                       if (c.needs_input_grad(1)) g[1] = sum_to(where(m, zero, c.grad_output), sb);
                       return g;
                     });
}

Var operator-(const Var& x) { return neg(x); }
Var operator+(const Var& a, const Var& b) { return add(a, b); }
Var operator-(const Var& a, const Var& b) { return sub(a, b); }
Var operator*(const Var& a, const Var& b) { return mul(a, b); }
Var operator/(const Var& a, const Var& b) { return div(a, b); }
Var operator+(const Var& a, double s) { return affine(a, 1.0, s); }
Var operator+(double s, const Var& a) { return affine(a, 1.0, s); }
Var operator-(const Var& a, double s) { return affine(a, 1.0, -s); }
Var operator-(double s, const Var& a) { return affine(a, -1.0, s); }
Var operator*(const Var& a, double s) { return affine(a, s, 0.0); }
Var operator*(double s, const Var& a) { return affine(a, s, 0.0); }
Var operator/(const Var& a, double s) { return affine(a, 1.0 / s, 0.0); }
Var operator/(double s, const Var& a) { return reciprocal(a) * s; }

}  // namespace difflab::ag
