// Kernels for MMD (spec §1.3), as [N, M] matrices k(x_i, y_j) of two feature sets [N, F], [M, F].
// Each is a differentiable function of both sets; norms go through pairwise_distance, whose
// gradient is zero (not the infinite derivative of √· at 0) where two points coincide.
//   gaussian  k = exp(−‖x − y‖²/(2h²))            (divergence.h: gaussian_kernel)
//   laplace   k = exp(−‖x − y‖₂/h)                (Euclidean norm, drifting's kernel; not the L1
//                                                   "Laplacian" kernel)
//   imq       k = (1 + ‖x − y‖²/h²)^(−1/2)         (inverse multiquadric normalised so k(x, x) = 1:
//                                                   h·(h² + r²)^(−1/2), i.e. c = h, β = −1/2 in
//                                                   (c² + r²)^β up to the constant factor c)
//   energy    k = −‖x − y‖                         (no bandwidth; MMD² with it is the energy
//                                                   distance)
#pragma once
#include <string>
#include <vector>

#include "autograd/var.h"

namespace difflab::matching {

enum class KernelKind { gaussian, laplace, imq, energy };

// "gaussian", "laplace", "imq", "energy"; parse throws naming the bad value and these.
const char* kernel_name(KernelKind kind);
KernelKind parse_kernel(const std::string& name);
const std::vector<KernelKind>& all_kernels();
// Whether the kernel has a bandwidth h (every one but energy).
bool kernel_has_bandwidth(KernelKind kind);

ag::Var laplace_kernel(const ag::Var& x, const ag::Var& y, double bandwidth);
ag::Var imq_kernel(const ag::Var& x, const ag::Var& y, double bandwidth);
ag::Var energy_kernel(const ag::Var& x, const ag::Var& y);

// The kernel of `kind` as the sum over `bandwidths` (one entry, or several for a mixture;
// ignored by energy). Bandwidths must be finite and > 0.
ag::Var kernel_matrix(const ag::Var& x, const ag::Var& y, KernelKind kind,
                      const std::vector<double>& bandwidths);

}  // namespace difflab::matching
