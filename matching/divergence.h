// Differentiable kernels and divergences between two sample sets X [N, ...] and Y [M, ...]
// (trailing dims are flattened to features). All are Var functions built from ag::cdist2,
// matmul and sort, so they serve both as training objectives (gradients reach X, and Y when it
// requires grad, to any order) and as metrics. Formulas: spec_mlgdf_concepts_drifting.md §1.3–1.4.
//
//   MMD²_V = mean K_XX + mean K_YY − 2 mean K_XY                       (biased V-statistic)
//   MMD²_U = Σ_{i≠i'} K_XX/(n(n−1)) + Σ_{j≠j'} K_YY/(m(m−1)) − 2 mean K_XY   (unbiased; can be < 0)
//   Gaussian kernel k(x, y) = exp(−‖x − y‖²/(2h²)); several bandwidths: the sum of the kernels.
//   Energy distance = the MMD form with k(x, y) = −‖x − y‖: 2 E‖X − Y‖ − E‖X − X'‖ − E‖Y − Y'‖.
//   Sliced Wasserstein (N = M): (1/L) Σ_l (1/N) Σ_i |sort(Xθ_l)_i − sort(Yθ_l)_i|^p with unit
//     directions θ_l, i.e. the average of W_p^p over the projections (SW₂² for p = 2; no root).
// Other kernels and bandwidths: kernel_mmd.h; Sinkhorn: sinkhorn.h; choosing one of them by
// name: divergence_registry.h.
#pragma once
#include <cstdint>
#include <vector>

#include "autograd/var.h"
#include "matching/mmd_estimators.h"
#include "tensor/random.h"

namespace difflab::matching {

using ag::Var;
using tensor::Tensor;

// Median heuristic (MLGD-F's code): h = sqrt(median{‖a − b‖² > 0} / 2) over a ∈ X[:max_points],
// b ∈ Y[:max_points] (cross pairs; the lower median, as torch.median). Plain tensors: no
// gradient flows through h. Throws when every distance is zero.
double median_bandwidth(const Tensor& x, const Tensor& y, int64_t max_points = 1000);

// [N, M] kernel matrices.
Var gaussian_kernel(const Var& x, const Var& y, double bandwidth);
Var gaussian_kernel(const Var& x, const Var& y, const std::vector<double>& bandwidths);
// ‖x_i − y_j‖ with zero (and zero gradient) where the points coincide, so that the diagonal of
// a self-distance matrix does not produce the infinite derivative of √· at 0.
Var pairwise_distance(const Var& x, const Var& y);

// Gaussian-kernel MMD². bandwidth <= 0 selects median_bandwidth(x, y) (computed without grad).
Var mmd2(const Var& x, const Var& y, double bandwidth = 0.0,
         Estimator est = Estimator::u_statistic);
Var mmd2(const Var& x, const Var& y, const std::vector<double>& bandwidths,
         Estimator est = Estimator::u_statistic);
// Energy distance (V-statistic ≥ 0; the U-statistic is unbiased and can be < 0).
Var energy_distance(const Var& x, const Var& y, Estimator est = Estimator::v_statistic);

// L unit directions [L, D] (normalised Gaussian rows) drawn from gen.
Tensor random_directions(int64_t num, int64_t dim, tensor::Generator& gen,
                         tensor::DType dtype = tensor::DType::f32);
// p ∈ {1, 2}; directions [L, D] of the features' dtype; needs N == M.
Var sliced_wasserstein(const Var& x, const Var& y, const Tensor& directions, int p = 2);
Var sliced_wasserstein(const Var& x, const Var& y, int64_t num_projections, tensor::Generator& gen,
                       int p = 2);

}  // namespace difflab::matching
