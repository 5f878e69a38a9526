// Synthetic 2-D data sets, each drawn from an explicit tensor::Generator as [N, 2] (f32 by
// default), at roughly unit scale. Parameters (defaults in the signatures):
//   ring8        8 Gaussians, means r·(cos 2πk/8, sin 2πk/8), r = √2, std 0.1 (a GaussianMixture,
//                so its density and score are exact); per-coordinate variance r²/2 + s² ≈ 1.01.
//   checkerboard the 8 dark cells of a 4×4 board on [−1, 1]² (cells of side ½, uniform inside;
//                FFJORD's construction scaled by ½), plus optional Gaussian noise (default 0).
//   two_moons    upper moon (cos t, sin t) and lower moon (1 − cos t, ½ − sin t), t ~ U[0, π],
//                each with probability ½, shifted by (−½, −¼), plus N(0, 0.05²) noise.
//   swiss_roll   t = π/2 + 4πu, u ~ U[0, 1): (t cos t, t sin t)/(4.5π) (so |x| ≤ 1) plus
//                N(0, 0.03²) noise (the drifting paper's toy notebook, spec §4.8).
#pragma once
#include <string>

#include "experiments/data/gaussian_mixture.h"
#include "tensor/random.h"
#include "tensor/tensor.h"

namespace difflab::experiments {

enum class Toy2d { ring8, checkerboard, two_moons, swiss_roll };

// "ring8", "checkerboard", "two_moons", "swiss_roll"; parse throws listing the valid names.
const char* toy2d_name(Toy2d kind);
Toy2d parse_toy2d(const std::string& name);

GaussianMixture ring8_mixture(double radius = 1.4142135623730951, double std = 0.1);
tensor::Tensor sample_checkerboard(int64_t n, tensor::Generator& gen, double noise = 0.0,
                                   tensor::DType dtype = tensor::DType::f32);
tensor::Tensor sample_two_moons(int64_t n, tensor::Generator& gen, double noise = 0.05,
                                tensor::DType dtype = tensor::DType::f32);
tensor::Tensor sample_swiss_roll(int64_t n, tensor::Generator& gen, double noise = 0.03,
                                 tensor::DType dtype = tensor::DType::f32);
// Any of the four with its default parameters.
tensor::Tensor sample_toy2d(Toy2d kind, int64_t n, tensor::Generator& gen,
                            tensor::DType dtype = tensor::DType::f32);

}  // namespace difflab::experiments
