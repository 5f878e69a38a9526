// The N-D mixtures of the unified-view experiments (spec_mlgdf_concepts_drifting.md §5.7, E2),
// returned as GaussianMixture so that densities and scores are exact:
//   Ring MoG: K = 6 equally weighted centres R·(cos(φ + 2πk/K) u₁ + sin(φ + 2πk/K) u₂) on a ring
//     of radius R = 3 in a 2-D plane of R^D, isotropic noise std s = 0.5. The plane (u₁, u₂) is
//     random, orthonormalised from a Gaussian D×2 matrix drawn from `plane_seed` (Gram–Schmidt,
//     i.e. the Q of a QR), or the first two coordinates when random_plane is false. The paper's
//     q is the same ring with φ = π/6 (modes interleaved with p's); use the same plane_seed.
//   Raw MoG: K = 6 centres drawn i.i.d. N(0, (R²/D) I_D) (‖c‖ ≈ R, no planar structure) from
//     `seed`, same noise. Use different seeds for p and q.
// Noise std, φ for q and the Raw MoG construction are reconstructions (the spec says which).
#pragma once
#include <cstdint>

#include "experiments/data/gaussian_mixture.h"
#include "tensor/tensor.h"

namespace difflab::experiments {

struct RingMogParams {
  int64_t dim = 2;
  int64_t components = 6;
  double radius = 3.0;
  double std = 0.5;
  double phase = 0.0;  // φ; π/6 for the paper's q
  bool random_plane = true;
  uint64_t plane_seed = 0;
};

struct RawMogParams {
  int64_t dim = 2;
  int64_t components = 6;
  double radius = 3.0;
  double std = 0.5;
  uint64_t seed = 0;
};

// Orthonormal columns u₁, u₂ as f64 [D, 2].
tensor::Tensor random_plane(int64_t dim, uint64_t seed);

GaussianMixture ring_mog(const RingMogParams& p);
GaussianMixture raw_mog(const RawMogParams& p);

}  // namespace difflab::experiments
