// Op-table cases: unary, scalar and broadcasting binary elementwise functions.
#include "autograd/functions.h"
#include "tensor/factory.h"
#include "tests/support/op_table.h"

namespace difflab::testing {

using namespace difflab::ag;

std::vector<OpCase> elementwise_cases() {
  using V = const std::vector<Var>&;
  const Shape s{3, 4};
  std::vector<OpCase> c;
  auto unary = [&](std::string name, std::function<Var(const Var&)> f, Domain d = Domain::any) {
    c.push_back({name, {{s, d}}, [f](V x) { return f(x[0]); }, true});
  };
  unary("neg", [](const Var& x) { return neg(x); });
  unary("abs", [](const Var& x) { return abs(x); }, Domain::positive);
  unary("exp", [](const Var& x) { return exp(x); });
  unary("log", [](const Var& x) { return log(x); }, Domain::positive);
  unary("sqrt", [](const Var& x) { return sqrt(x); }, Domain::positive);
  unary("rsqrt", [](const Var& x) { return rsqrt(x); }, Domain::positive);
  unary("sin", [](const Var& x) { return sin(x); });
  unary("cos", [](const Var& x) { return cos(x); });
  unary("tanh", [](const Var& x) { return tanh(x); });
  unary("sigmoid", [](const Var& x) { return sigmoid(x); });
  unary("relu", [](const Var& x) { return relu(x); }, Domain::positive);
  unary("relu_neg", [](const Var& x) { return relu(-x); }, Domain::positive);
  unary("silu", [](const Var& x) { return silu(x); });
  unary("gelu", [](const Var& x) { return gelu(x); });
  unary("square", [](const Var& x) { return square(x); });
  unary("reciprocal", [](const Var& x) { return reciprocal(x); }, Domain::positive);
  unary("pow_scalar_3", [](const Var& x) { return pow(x, 3.0); });
  unary("pow_scalar_1.5", [](const Var& x) { return pow(x, 1.5); }, Domain::positive);
  unary("clamp", [](const Var& x) { return clamp(x, -0.5, 0.7); });
  unary("affine", [](const Var& x) { return affine(x, -1.5, 0.25); });
  unary("scalar_ops", [](const Var& x) { return (2.0 - x) * 3.0 / 4.0 + 1.0; });
  unary("scalar_div", [](const Var& x) { return 2.0 / x; }, Domain::positive);
  // Third order through silu/gelu: the gradient of their derivative helpers.
  unary("silu_grad", [](const Var& x) { return silu_grad(x); });
  unary("gelu_grad", [](const Var& x) { return gelu_grad(x); });

  auto binary = [&](std::string name, std::function<Var(const Var&, const Var&)> f, Shape sa,
                    Shape sb, Domain da = Domain::any, Domain db = Domain::any) {
    c.push_back({name, {{sa, da}, {sb, db}}, [f](V x) { return f(x[0], x[1]); }, true});
  };
  auto ops = std::vector<std::pair<std::string, std::function<Var(const Var&, const Var&)>>>{
      {"add", [](const Var& a, const Var& b) { return add(a, b); }},
      {"sub", [](const Var& a, const Var& b) { return sub(a, b); }},
      {"mul", [](const Var& a, const Var& b) { return mul(a, b); }},
      {"div", [](const Var& a, const Var& b) { return div(a, b); }},
      {"maximum", [](const Var& a, const Var& b) { return maximum(a, b); }},
      {"minimum", [](const Var& a, const Var& b) { return minimum(a, b); }},
  };
  for (auto& [n, f] : ops) {
    Domain db = n == "div" ? Domain::positive : Domain::any;
    binary(n, f, {3, 4}, {3, 4}, Domain::any, db);
    binary(n + "_broadcast_row", f, {3, 4}, {4}, Domain::any, db);
    binary(n + "_broadcast_both", f, {3, 1, 4}, {2, 1}, Domain::any, db);
  }
  binary("pow_tensor", [](const Var& a, const Var& b) { return pow(a, b); }, {3, 4}, {3, 4},
         Domain::positive, Domain::any);
  c.push_back({"where",
               {{{3, 4}}, {{4}}},
               [](V x) {
                 Tensor cond = tensor::binary(tensor::BinaryOp::gt,
                                              tensor::arange(0, 12, 1, tensor::DType::f64).reshape({3, 4}),
                                              tensor::full({1}, 5.0, tensor::DType::f64));
                 return where(cond, x[0], x[1]);
               },
               true});
  return c;
}

}  // namespace difflab::testing
