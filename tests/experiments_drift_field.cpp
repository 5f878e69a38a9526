// The drifting field (diffusion/drifting.h) against the closed-form scores of experiments/'s
// Gaussian mixtures (ring8 and a rotated copy): the Gaussian-kernel mean shift equals
// τ²(∇log p_τ − ∇log q_τ) within Monte-Carlo error that shrinks with the sample count; the
// radial-kernel decomposition is exact; the field nearly vanishes when model and data agree.
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <numbers>

#include "diffusion/drifting.h"
#include "experiments/data/ring_mog.h"
#include "tensor/factory.h"
#include "tensor/ops.h"
#include "tensor/random.h"

using namespace difflab;
using namespace difflab::diffusion;
using tensor::BinaryOp;
using tensor::DType;
using tensor::Tensor;

namespace {

Tensor sub(const Tensor& a, const Tensor& b) { return tensor::binary(BinaryOp::sub, a, b); }

double rms(const Tensor& t) {
  return std::sqrt(tensor::mean(tensor::binary(BinaryOp::mul, t, t), {}).item());
}

experiments::GaussianMixture ring(double phase) {
  experiments::RingMogParams rp;
  rp.dim = 2;
  rp.phase = phase;
  rp.random_plane = false;
  return experiments::ring_mog(rp);
}

}  // namespace

BOOST_AUTO_TEST_CASE(gaussian_mean_shift_is_the_smoothed_score_difference) {
  const double tau = 1.0;
  auto p = ring(0.0), q = ring(std::numbers::pi / 6);
  tensor::Generator g(42);
  Tensor x = q.sample(256, g, DType::f64);
  // τ²(∇log p_τ − ∇log q_τ) in closed form: the mixtures with variances + τ².
  Tensor exact =
      tensor::affine(sub(p.smoothed(tau).score(x), q.smoothed(tau).score(x)), tau * tau, 0.0);
  std::vector<double> err;
  for (int64_t m : {2000, 32000}) {
    Tensor yp = p.sample(m, g, DType::f64), yq = q.sample(m, g, DType::f64);
    DriftDecomposition d = drift_decomposition(x, yp, yq, DriftKernel::gaussian, tau);
    err.push_back(rms(sub(d.field, exact)) / rms(exact));
    // Gaussian kernel: ∇log K = V/τ², no residual, ᾱ = 1/τ² (exact algebra).
    BOOST_TEST(rms(d.gap) < 1e-12);
    BOOST_TEST(rms(sub(tensor::affine(d.score_diff, tau * tau, 0.0), d.field)) < 1e-12);
  }
  BOOST_TEST_MESSAGE("relative error of the Gaussian mean-shift field: "
                     << err[0] << " at 2000 samples, " << err[1] << " at 32000");
  // Monte-Carlo error ∝ 1/sqrt(M): 16x the samples should cut it about 4x.
  BOOST_TEST(err[1] < 0.5 * err[0]);
  BOOST_TEST(err[1] < 0.05);
}

BOOST_AUTO_TEST_CASE(radial_decomposition_is_exact_for_the_laplace_kernel) {
  auto p = ring(0.0), q = ring(std::numbers::pi / 6);
  tensor::Generator g(7);
  Tensor x = q.sample(128, g, DType::f64), yp = p.sample(1000, g, DType::f64),
         yq = q.sample(1000, g, DType::f64);
  DriftDecomposition d = drift_decomposition(x, yp, yq, DriftKernel::laplace, 0.5);
  Tensor recon = tensor::binary(BinaryOp::add, d.preconditioned, d.gap);
  BOOST_TEST(rms(sub(recon, d.field)) <= 1e-12 * rms(d.field));
  BOOST_TEST(rms(d.gap) > 0.0);  // unlike the Gaussian kernel, a residual remains
  // ∇log K for the Laplace kernel is (1/τ) times the mean unit direction: norm ≤ 1/τ.
  KernelStats s = kernel_stats(x, yp, DriftKernel::laplace, 0.5);
  auto sc = s.score.to_vector<double>();
  for (size_t i = 0; i < sc.size(); i += 2)
    BOOST_REQUIRE(std::hypot(sc[i], sc[i + 1]) <= 2.0 + 1e-12);
}

BOOST_AUTO_TEST_CASE(field_nearly_vanishes_when_model_and_data_agree) {
  auto p = ring(0.0);
  tensor::Generator g(5);
  DriftFieldOptions opt;
  opt.temperatures = {0.05, 0.2};
  std::vector<double> same;
  for (int64_t n : {256, 4096}) {
    Tensor x = p.sample(n, g, DType::f64), y = p.sample(n, g, DType::f64);
    same.push_back(rms(drifting_field(x, y, opt)));
  }
  Tensor shifted = tensor::affine(p.sample(4096, g, DType::f64), 1.0, 1.5);
  const double apart = rms(drifting_field(shifted, p.sample(4096, g, DType::f64), opt));
  BOOST_TEST_MESSAGE("field RMS, same distribution: " << same[0] << " (256), " << same[1]
                                                      << " (4096); shifted by 1.5: " << apart);
  BOOST_TEST(same[1] < 0.25 * apart);
  // Sampling noise only: 16x the samples cut it about 4x (1/sqrt(n)).
  BOOST_TEST(same[1] < 0.5 * same[0]);
}
