#include "experiments/data/hexagon.h"

#include <cmath>

#include "autograd/functions.h"
#include "autograd/grad_mode.h"
#include "tensor/factory.h"
#include "tensor/ops.h"

namespace difflab::experiments {
namespace {

using tensor::DType;

// exp(−((x₁ − 4)² + (x₂ − 3.8)²)/20) for x [n, 2].
Var bump(const Var& x) {
  const Var d = x - Var(tensor::from_vector<double>({4.0, 3.8}, {1, 2}));
  return ag::exp(ag::sum(ag::square(d), {1}) * (-1.0 / 20.0));
}

// Responsibilities r_j(x) ∝ v_j exp(−‖x − c_j‖²) [n, 6].
Var responsibilities(const Var& x, const Var& theta, const Tensor& centres) {
  const Var logits = ag::reshape(ag::log_softmax(theta, 0), {1, 6}) - ag::cdist2(x, Var(centres));
  return ag::softmax(logits, 1);
}

}  // namespace

HexagonTask hexagon_task(int64_t particles) {
  HexagonTask t;
  std::vector<double> c;
  for (int k = 0; k < 6; ++k) {
    c.push_back(4.0 * std::cos(k * M_PI / 3.0));
    c.push_back(4.0 * std::sin(k * M_PI / 3.0));
  }
  t.centres = tensor::from_vector<double>(c, {6, 2});
  t.theta0 = tensor::from_vector<double>({1.5, 0, 1.5, 0, 1.5, 0}, {6});
  const Tensor centres = t.centres;
  // ∇_x V = 2 Σ_j r_j (x − c_j) = 2 (x − r C); ∂V/∂θ_j = softmax(θ)_j − r_j(x).
  t.potential.grad_x = [centres](const Var& x, const Var& theta) {
    return (x - ag::matmul(responsibilities(x, theta, centres), Var(centres))) * 2.0;
  };
  t.potential.grad_theta = [centres](const Tensor& x, const Tensor& theta) {
    ag::NoGradGuard off;
    const Tensor r = responsibilities(Var(x), Var(theta), centres).value();
    const Tensor v = tensor::softmax(theta, 0).reshape({1, 6});
    return tensor::binary(tensor::BinaryOp::sub, v, r);
  };
  t.hard = [](const Tensor& x) {
    ag::NoGradGuard off;
    const Tensor pos = tensor::binary(tensor::BinaryOp::ge, x.slice(1, 0, 1).reshape({x.size(0)}),
                                      tensor::zeros({1}, DType::f64)).to(DType::f64);
    return tensor::affine(tensor::binary(tensor::BinaryOp::mul, pos, bump(Var(x)).value()),
                          1.0 / 2.5, 0.0);
  };
  t.smooth = [](const Var& x) {
    const Var x1 = ag::reshape(ag::slice(x, 1, 0, 1), {x.size(0)});
    return ag::sigmoid(x1 * 2.0) * bump(x) * (1.0 / 0.7);
  };
  const HexagonTask copy = t;
  t.reference = [copy, particles](tensor::Generator& g) {
    return hexagon_sample(copy, copy.theta0, particles, g, 2.0);
  };
  return t;
}

std::vector<double> hexagon_weights(const Tensor& theta) {
  return tensor::softmax(theta, 0).to(DType::f64).to_vector<double>();
}

Tensor hexagon_sample(const HexagonTask& t, const Tensor& theta, int64_t n, tensor::Generator& gen,
                      double std) {
  const std::vector<double> w = hexagon_weights(theta);
  const std::vector<double> u = tensor::rand({n}, DType::f64, &gen).to_vector<double>();
  const std::vector<double> c = t.centres.to_vector<double>();
  std::vector<double> means(size_t(n) * 2);
  for (int64_t i = 0; i < n; ++i) {
    double acc = 0;
    size_t k = 0;
    while (k + 1 < w.size() && (acc += w[k]) < u[size_t(i)]) ++k;
    means[size_t(2 * i)] = c[2 * k];
    means[size_t(2 * i + 1)] = c[2 * k + 1];
  }
  const Tensor noise = tensor::affine(tensor::randn({n, 2}, DType::f64, &gen), std, 0.0);
  return tensor::binary(tensor::BinaryOp::add, tensor::from_vector<double>(means, {n, 2}), noise);
}

}  // namespace difflab::experiments
