#include "experiments/data/toy2d.h"

#include <cmath>
#include <vector>

#include "tensor/factory.h"

namespace difflab::experiments {

using tensor::DType;
using tensor::Tensor;

namespace {

// Builds [n, 2] from a per-sample function of the uniforms u (n × nu) and normals e (n × 2).
template <typename F>
Tensor draw(int64_t n, int nu, double noise, tensor::Generator& gen, DType dtype, F f) {
  DIFFLAB_CHECK(n >= 0, "toy2d: negative sample count ", n);
  DIFFLAB_CHECK(noise >= 0, "toy2d: noise must be >= 0, got ", noise);
  const std::vector<double> u = tensor::rand({n, nu}, DType::f64, &gen).to_vector<double>();
  const std::vector<double> e = tensor::randn({n, 2}, DType::f64, &gen).to_vector<double>();
  Tensor out = Tensor::empty({n, 2}, DType::f64);
  double* o = out.data<double>();
  for (int64_t i = 0; i < n; ++i) {
    f(&u[size_t(i * nu)], o + 2 * i);
    o[2 * i] += noise * e[size_t(2 * i)];
    o[2 * i + 1] += noise * e[size_t(2 * i + 1)];
  }
  return dtype == DType::f64 ? out : out.to(dtype);
}

}  // namespace

const char* toy2d_name(Toy2d kind) {
  switch (kind) {
    case Toy2d::ring8:
      return "ring8";
    case Toy2d::checkerboard:
      return "checkerboard";
    case Toy2d::two_moons:
      return "two_moons";
    case Toy2d::swiss_roll:
      return "swiss_roll";
  }
  return "?";
}

Toy2d parse_toy2d(const std::string& name) {
  for (Toy2d k : {Toy2d::ring8, Toy2d::checkerboard, Toy2d::two_moons, Toy2d::swiss_roll})
    if (name == toy2d_name(k)) return k;
  DIFFLAB_FAIL("unknown 2-D data set '", name,
               "' (expected ring8, checkerboard, two_moons or swiss_roll)");
}

GaussianMixture ring8_mixture(double radius, double std) {
  std::vector<double> means;
  for (int k = 0; k < 8; ++k) {
    means.push_back(radius * std::cos(2 * M_PI * k / 8));
    means.push_back(radius * std::sin(2 * M_PI * k / 8));
  }
  return make_isotropic_mixture(tensor::from_vector<double>(means, {8, 2}), std);
}

Tensor sample_checkerboard(int64_t n, tensor::Generator& gen, double noise, DType dtype) {
  // u0 → column x ∈ [−2, 2); u1 → position inside the cell row; u2 → which of the column's two
  // dark cells. Column parity p = ⌊x⌋ mod 2 picks rows {[0,1), [−2,−1)} (p = 0) or
  // {[1,2), [−1,0)} (p = 1). Then everything is halved to [−1, 1]².
  return draw(n, 3, noise, gen, dtype, [](const double* u, double* o) {
    const double x = 4 * u[0] - 2;
    const double p = double(((int64_t(std::floor(x)) % 2) + 2) % 2);
    const double y = u[1] - (u[2] < 0.5 ? 0.0 : 2.0) + p;
    o[0] = 0.5 * x;
    o[1] = 0.5 * y;
  });
}

Tensor sample_two_moons(int64_t n, tensor::Generator& gen, double noise, DType dtype) {
  return draw(n, 2, noise, gen, dtype, [](const double* u, double* o) {
    const double t = M_PI * u[0];
    if (u[1] < 0.5) {
      o[0] = std::cos(t) - 0.5;
      o[1] = std::sin(t) - 0.25;
    } else {
      o[0] = 1 - std::cos(t) - 0.5;
      o[1] = 0.5 - std::sin(t) - 0.25;
    }
  });
}

Tensor sample_swiss_roll(int64_t n, tensor::Generator& gen, double noise, DType dtype) {
  return draw(n, 1, noise, gen, dtype, [](const double* u, double* o) {
    const double t = M_PI / 2 + 4 * M_PI * u[0];
    o[0] = t * std::cos(t) / (4.5 * M_PI);
    o[1] = t * std::sin(t) / (4.5 * M_PI);
  });
}

Tensor sample_toy2d(Toy2d kind, int64_t n, tensor::Generator& gen, DType dtype) {
  switch (kind) {
    case Toy2d::ring8:
      return ring8_mixture().sample(n, gen, dtype);
    case Toy2d::checkerboard:
      return sample_checkerboard(n, gen, 0.0, dtype);
    case Toy2d::two_moons:
      return sample_two_moons(n, gen, 0.05, dtype);
    case Toy2d::swiss_roll:
      return sample_swiss_roll(n, gen, 0.03, dtype);
  }
  DIFFLAB_FAIL("sample_toy2d: unknown kind");
}

}  // namespace difflab::experiments
