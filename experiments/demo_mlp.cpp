// Quickstart demo: fit a tiny MLP to a 2-D regression target with difflab's autograd and plain
// gradient descent, printing the loss as it falls (train and held-out).
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "autograd/functions.h"
#include "autograd/grad_mode.h"
#include "tensor/factory.h"
#include "tensor/random.h"

using namespace difflab;
using ag::Var;

namespace {
// Target: f(x, y) = sin(2x) cos(y) on [-2, 2]².
tensor::Tensor target(const tensor::Tensor& xy) {
  tensor::Tensor x = xy.slice(1, 0, 1), y = xy.slice(1, 1, 2);
  return tensor::binary(tensor::BinaryOp::mul,
                        tensor::unary(tensor::UnaryOp::sin, tensor::affine(x, 2.0, 0.0)),
                        tensor::unary(tensor::UnaryOp::cos, y));
}
}  // namespace

int main(int argc, char** argv) {
  const int steps = argc > 1 ? std::atoi(argv[1]) : 2000;
  tensor::Generator gen(7);
  const int64_t hidden = 64;
  auto init = [&](int64_t out, int64_t in) {
    return Var(tensor::affine(tensor::randn({out, in}, tensor::DType::f32, &gen),
                              1.0 / std::sqrt(double(in)), 0.0),
               true);
  };
  Var w1 = init(hidden, 2), b1(tensor::zeros({hidden}), true);
  Var w2 = init(hidden, hidden), b2(tensor::zeros({hidden}), true);
  Var w3 = init(1, hidden), b3(tensor::zeros({1}), true);
  std::vector<Var> params{w1, b1, w2, b2, w3, b3};
  auto model = [&](const Var& x) {
    Var h = ag::silu(ag::linear(x, w1, b1));
    h = ag::silu(ag::linear(h, w2, b2));
    return ag::linear(h, w3, b3);
  };
  tensor::Tensor xtest = tensor::uniform({512, 2}, -2.0, 2.0, tensor::DType::f32, &gen);
  tensor::Tensor ytest = target(xtest);
  const double lr0 = 0.05;
  std::printf("%6s %12s %12s\n", "step", "train mse", "test mse");
  for (int step = 0; step <= steps; ++step) {
    tensor::Tensor xb = tensor::uniform({128, 2}, -2.0, 2.0, tensor::DType::f32, &gen);
    Var loss = ag::mean(ag::square(ag::sub(model(Var(xb)), Var(target(xb)))));
    for (auto& p : params) p.zero_grad();
    loss.backward();
    const double lr = lr0 * (step < steps / 2 ? 1.0 : 0.3);
    for (auto& p : params)
      p.value().copy_(tensor::binary(tensor::BinaryOp::sub, p.value(),
                                     tensor::affine(p.grad().value(), lr, 0.0)));
    if (step % (steps / 10 > 0 ? steps / 10 : 1) == 0) {
      ag::NoGradGuard ng;
      double test = ag::mean(ag::square(ag::sub(model(Var(xtest)), Var(ytest)))).item();
      std::printf("%6d %12.5f %12.5f\n", step, loss.item(), test);
      std::fflush(stdout);
    }
  }
  return 0;
}
