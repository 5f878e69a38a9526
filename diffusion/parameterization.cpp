#include "diffusion/parameterization.h"

#include <cmath>

#include "autograd/functions.h"
#include "tensor/factory.h"

namespace difflab::diffusion {

const char* parameterization_name(Parameterization p) {
  switch (p) {
    case Parameterization::eps:
      return "eps";
    case Parameterization::x0:
      return "x0";
    case Parameterization::v:
      return "v";
  }
  return "?";
}

Parameterization parse_parameterization(const std::string& s) {
  if (s == "eps") return Parameterization::eps;
  if (s == "x0" || s == "x") return Parameterization::x0;
  if (s == "v") return Parameterization::v;
  DIFFLAB_FAIL("parse_parameterization: unknown parameterization '", s,
               "' (expected 'eps', 'x0' or 'v')");
}

// All from z = αx + σε, v = αε − σx and α² + σ² = 1 (Salimans & Ho 2022, Appendix D).
Var x0_from_eps(const Var& z, const Var& eps, const Var& alpha, const Var& sigma) {
  return ag::div(ag::sub(z, ag::mul(sigma, eps)), alpha);
}
Var eps_from_x0(const Var& z, const Var& x0, const Var& alpha, const Var& sigma) {
  return ag::div(ag::sub(z, ag::mul(alpha, x0)), sigma);
}
Var x0_from_v(const Var& z, const Var& v, const Var& alpha, const Var& sigma) {
  return ag::sub(ag::mul(alpha, z), ag::mul(sigma, v));
}
Var eps_from_v(const Var& z, const Var& v, const Var& alpha, const Var& sigma) {
  return ag::add(ag::mul(sigma, z), ag::mul(alpha, v));
}
Var v_from_x0_eps(const Var& x0, const Var& eps, const Var& alpha, const Var& sigma) {
  return ag::sub(ag::mul(alpha, eps), ag::mul(sigma, x0));
}

Denoised to_x0_eps(const Var& out, Parameterization p, const Var& z, const Var& alpha,
                   const Var& sigma) {
  switch (p) {
    case Parameterization::eps:
      return {x0_from_eps(z, out, alpha, sigma), out};
    case Parameterization::x0:
      return {out, eps_from_x0(z, out, alpha, sigma)};
    case Parameterization::v:
      return {x0_from_v(z, out, alpha, sigma), eps_from_v(z, out, alpha, sigma)};
  }
  DIFFLAB_FAIL("to_x0_eps: bad parameterization");
}

Denoised to_x0_eps(const Var& out, Parameterization p, const Var& z, double alpha, double sigma) {
  // Scalar coefficients go through affine (a double in the kernel, no broadcast tensor).
  switch (p) {
    case Parameterization::eps:
      return {(z - out * sigma) / alpha, out};
    case Parameterization::x0:
      return {out, (z - out * alpha) / sigma};
    case Parameterization::v:
      return {z * alpha - out * sigma, z * sigma + out * alpha};
  }
  DIFFLAB_FAIL("to_x0_eps: bad parameterization");
}

Var from_x0_eps(const Var& x0, const Var& eps, Parameterization p, const Var& alpha,
                const Var& sigma) {
  switch (p) {
    case Parameterization::eps:
      return eps;
    case Parameterization::x0:
      return x0;
    case Parameterization::v:
      return v_from_x0_eps(x0, eps, alpha, sigma);
  }
  DIFFLAB_FAIL("from_x0_eps: bad parameterization");
}

EdmPrecond edm_precond(double sigma, double sigma_data) {
  DIFFLAB_CHECK(sigma > 0 && sigma_data > 0, "edm_precond: need sigma > 0 and sigma_data > 0, got ",
                sigma, ", ", sigma_data);
  const double s2 = sigma * sigma + sigma_data * sigma_data;
  return {sigma_data * sigma_data / s2, sigma * sigma_data / std::sqrt(s2), 1.0 / std::sqrt(s2),
          0.25 * std::log(sigma)};
}

double edm_loss_weight(double sigma, double sigma_data) {
  const double c_out = edm_precond(sigma, sigma_data).c_out;
  return 1.0 / (c_out * c_out);
}

}  // namespace difflab::diffusion
