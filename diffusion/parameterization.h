// What a network predicts (ε, x₀ or v) and the exact VP conversions among x̂, ε̂ and v̂ given
// z_t = α x₀ + σ ε (α² + σ² = 1), as differentiable Var functions. α and σ are Vars (or
// doubles) that broadcast against z: a per-sample [B, 1, ..., 1] tensor, or a scalar.
// Also the EDM preconditioning of Karras et al. 2022 (Table 1).
//
// The α → 0 caveat (Salimans & Ho 2022 §4): x̂ from ε̂ divides by α, so eps-prediction amplifies
// the network's error by σ/α near t = 1 and is undefined at α = 0; x- and v-prediction are
// well conditioned everywhere (x̂ = α z − σ v̂ at α = 0 is −v̂).
#pragma once
#include <string>

#include "autograd/var.h"

namespace difflab::diffusion {

using ag::Var;
using tensor::Tensor;

enum class Parameterization { eps, x0, v };
const char* parameterization_name(Parameterization p);  // "eps", "x0", "v"
// Accepts "eps", "x0" (or "x"), "v"; anything else throws naming the string.
Parameterization parse_parameterization(const std::string& s);

// Conversions (VP). Each is exact algebra; the pairs round-trip to rounding error.
Var x0_from_eps(const Var& z, const Var& eps, const Var& alpha, const Var& sigma);  // (z − σε)/α
Var eps_from_x0(const Var& z, const Var& x0, const Var& alpha, const Var& sigma);  // (z − αx)/σ
Var x0_from_v(const Var& z, const Var& v, const Var& alpha, const Var& sigma);     // αz − σv
Var eps_from_v(const Var& z, const Var& v, const Var& alpha, const Var& sigma);    // σz + αv
Var v_from_x0_eps(const Var& x0, const Var& eps, const Var& alpha, const Var& sigma);  // αε − σx

// x̂ and ε̂ from a network output in parameterization p.
struct Denoised {
  Var x0;
  Var eps;
};
Denoised to_x0_eps(const Var& out, Parameterization p, const Var& z, const Var& alpha,
                   const Var& sigma);
Denoised to_x0_eps(const Var& out, Parameterization p, const Var& z, double alpha, double sigma);
// The network output in parameterization p that corresponds to (x̂, ε̂): the training target
// when given the true (x₀, ε).
Var from_x0_eps(const Var& x0, const Var& eps, Parameterization p, const Var& alpha,
                const Var& sigma);

// EDM preconditioning (Karras et al. 2022, Table 1, "Ours"):
// D(x; σ) = c_skip x + c_out F(c_in x, c_noise) with c_skip = σ_d²/(σ² + σ_d²),
// c_out = σ σ_d/sqrt(σ² + σ_d²), c_in = 1/sqrt(σ² + σ_d²), c_noise = ¼ ln σ.
inline constexpr double kEdmSigmaData = 0.5;
struct EdmPrecond {
  double c_skip, c_out, c_in, c_noise;
};
EdmPrecond edm_precond(double sigma, double sigma_data = kEdmSigmaData);
// The training weight λ(σ) = (σ² + σ_d²)/(σ σ_d)² = 1/c_out² (Karras et al. 2022 eq. 8 / Table 1).
double edm_loss_weight(double sigma, double sigma_data = kEdmSigmaData);

}  // namespace difflab::diffusion
