// Schedules (values, inverse log-SNR, derivatives, grids, Karras steps), eps/x0/v conversions,
// EDM preconditioning, loss weightings and the index-keyed noise source.
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <cstring>

#include "autograd/engine.h"
#include "autograd/functions.h"
#include "diffusion/loss.h"
#include "diffusion/noise.h"
#include "diffusion/parameterization.h"
#include "diffusion/schedule.h"
#include "tensor/factory.h"
#include "tensor/ops.h"
#include "tensor/random.h"
#include "tests/support/check_message.h"

using namespace difflab;
using namespace difflab::diffusion;
using ag::Var;
using difflab::testing::message_has;
using tensor::DType;

namespace {

double max_abs_diff(const Tensor& a, const Tensor& b) {
  auto va = a.contiguous().to(DType::f64).to_vector<double>();
  auto vb = b.contiguous().to(DType::f64).to_vector<double>();
  BOOST_REQUIRE_EQUAL(va.size(), vb.size());
  double m = 0;
  for (size_t i = 0; i < va.size(); ++i) m = std::max(m, std::abs(va[i] - vb[i]));
  return m;
}

bool same_bits(const Tensor& a, const Tensor& b) {
  Tensor ca = a.contiguous(), cb = b.contiguous();
  return ca.shape() == cb.shape() && ca.dtype() == cb.dtype() &&
         std::memcmp(ca.raw_data(), cb.raw_data(), ca.nbytes()) == 0;
}

std::vector<double> uniform_values(int64_t n, double lo, double hi, uint64_t seed) {
  tensor::Generator g(seed);
  return tensor::uniform({n}, lo, hi, DType::f64, &g).to_vector<double>();
}

}  // namespace

// ---------------------------------------------------------------- schedules

BOOST_AUTO_TEST_CASE(linear_alpha_bar_is_the_running_product) {
  LinearDiscreteSchedule s;
  for (int64_t i : {1, 2, 10, 500, 999, 1000}) {
    double prod = 1.0;
    for (int64_t k = 1; k <= i; ++k) prod *= 1.0 - (1e-4 + (0.02 - 1e-4) * double(k - 1) / 999.0);
    BOOST_TEST(std::abs(s.alpha_bar(i) / prod - 1.0) < 1e-13, "step " << i);
    // On the grid t = i/T the continuous interface gives exactly ᾱ_i.
    const double a = s.alpha(double(i) / 1000.0);
    BOOST_TEST(std::abs(a * a / prod - 1.0) < 1e-13, "alpha at step " << i);
  }
  // Reference values (Python double-precision product, the DDPM linear schedule).
  BOOST_TEST(std::abs(s.alpha_bar(1) - 0.9999) < 1e-15);
  BOOST_TEST(std::abs(s.alpha_bar(500) / 0.07858724288177821 - 1.0) < 1e-12);
  BOOST_TEST(std::abs(s.alpha_bar(1000) / 4.0358297653756754e-05 - 1.0) < 1e-11);
  BOOST_TEST(s.alpha_bar(0) == 1.0);
  BOOST_TEST(s.sigma(0.0) == 0.0);
  BOOST_TEST(s.beta(1) == 1e-4);
  BOOST_TEST(std::abs(s.beta(1000) - 0.02) < 1e-17);
}

BOOST_AUTO_TEST_CASE(vp_schedules_keep_alpha2_plus_sigma2_one) {
  LinearDiscreteSchedule lin;
  CosineSchedule cos;
  for (double t : uniform_values(200, 0.0, 1.0, 7)) {
    for (const Schedule* s :
         {static_cast<const Schedule*>(&lin), static_cast<const Schedule*>(&cos)}) {
      const double a = s->alpha(t), g = s->sigma(t);
      BOOST_TEST(std::abs(a * a + g * g - 1.0) < 1e-14, s->name() << " t = " << t);
      // λ from the specialised formula matches log(α²/σ²).
      BOOST_TEST(std::abs(s->log_snr(t) - 2.0 * std::log(a / g)) < 1e-11, s->name()
                                                                              << " t = " << t);
    }
  }
  BOOST_TEST(std::abs(cos.alpha(0.5) - std::sqrt(0.5)) < 1e-15);
  BOOST_TEST(std::abs(cos.sigma(0.5) - std::sqrt(0.5)) < 1e-15);
  BOOST_TEST(cos.alpha(1.0) == 0.0);  // exactly, not cos(π/2) ≈ 6e-17
  BOOST_TEST(cos.sigma(1.0) == 1.0);
  BOOST_TEST(cos.alpha(0.0) == 1.0);
}

BOOST_AUTO_TEST_CASE(log_snr_inverse_round_trips) {
  LinearDiscreteSchedule lin;
  CosineSchedule cos;
  std::vector<double> ts = uniform_values(300, 1e-4, 1.0 - 1e-4, 11);
  for (double t : {0.001, 0.0015, 0.5, 0.999, 1.0}) ts.push_back(t);
  for (const Schedule* s :
       {static_cast<const Schedule*>(&lin), static_cast<const Schedule*>(&cos)}) {
    double worst = 0;
    for (double t : ts) worst = std::max(worst, std::abs(s->t_from_log_snr(s->log_snr(t)) - t));
    BOOST_TEST_MESSAGE(s->name() << ": max |t(λ(t)) − t| = " << worst);
    BOOST_TEST(worst < 1e-12, s->name());
    BOOST_TEST(s->t_from_log_snr(INFINITY) == 0.0);
    // Round trip through the EDM noise level σ/α as well.
    for (double t : {0.01, 0.3, 0.9})
      BOOST_TEST(std::abs(s->t_from_edm_sigma(s->edm_sigma(t)) - t) < 1e-12, s->name());
  }
  BOOST_TEST(cos.log_snr(0.0) == INFINITY);
  BOOST_TEST(cos.log_snr(1.0) == -INFINITY);
  BOOST_TEST(cos.t_from_log_snr(-INFINITY) == 1.0);
  // Below the discrete schedule's smallest λ the largest t is returned.
  BOOST_TEST(lin.t_from_log_snr(lin.log_snr(1.0) - 5.0) == 1.0);
}

BOOST_AUTO_TEST_CASE(schedule_derivatives_match_finite_differences) {
  LinearDiscreteSchedule lin;
  CosineSchedule cos;
  const double h = 1e-7;
  // Discrete: points inside a segment (away from the knots i/T, where the slope jumps).
  for (double t : {0.0303, 0.2505, 0.7771, 0.9995}) {
    for (const Schedule* s :
         {static_cast<const Schedule*>(&lin), static_cast<const Schedule*>(&cos)}) {
      const double da = (s->alpha(t + h) - s->alpha(t - h)) / (2 * h);
      const double ds = (s->sigma(t + h) - s->sigma(t - h)) / (2 * h);
      for (Schedule::Side side : {Schedule::Side::below, Schedule::Side::above}) {
        BOOST_TEST(std::abs(s->dalpha_dt(t, side) - da) < 1e-6 * (1 + std::abs(da)),
                   s->name() << " t " << t);
        BOOST_TEST(std::abs(s->dsigma_dt(t, side) - ds) < 1e-6 * (1 + std::abs(ds)),
                   s->name() << " t " << t);
      }
    }
  }
  // At a grid point of the discrete schedule the slope jumps: one-sided derivatives match
  // one-sided differences (first order in h, hence the looser tolerance), and differ.
  for (double t : {0.003, 0.25, 0.999}) {
    const double below = (lin.sigma(t) - lin.sigma(t - h)) / h,
                 above = (lin.sigma(t + h) - lin.sigma(t)) / h;
    BOOST_TEST(std::abs(lin.dsigma_dt(t, Schedule::Side::below) - below) < 1e-4 * std::abs(below),
               "t " << t);
    BOOST_TEST(std::abs(lin.dsigma_dt(t, Schedule::Side::above) - above) < 1e-4 * std::abs(above),
               "t " << t);
    BOOST_TEST(lin.dsigma_dt(t, Schedule::Side::below) != lin.dsigma_dt(t, Schedule::Side::above));
    const double ab = (lin.alpha(t) - lin.alpha(t - h)) / h,
                 aa = (lin.alpha(t + h) - lin.alpha(t)) / h;
    BOOST_TEST(std::abs(lin.dalpha_dt(t, Schedule::Side::below) - ab) < 1e-4 * std::abs(ab),
               "t " << t);
    BOOST_TEST(std::abs(lin.dalpha_dt(t, Schedule::Side::above) - aa) < 1e-4 * std::abs(aa),
               "t " << t);
  }
}

BOOST_AUTO_TEST_CASE(time_grids_and_training_times) {
  LinearDiscreteSchedule lin;
  CosineSchedule cos;
  BOOST_TEST(lin.time_grid(4) == (std::vector<double>{1.0, 0.75, 0.5, 0.25, 0.0}),
             boost::test_tools::per_element());
  // Step skipping lands on the discrete grid: every t is some i/T.
  for (double t : lin.time_grid(3)) BOOST_TEST(std::abs(t * 1000 - std::round(t * 1000)) < 1e-9);
  BOOST_TEST(lin.time_grid(1000).size() == 1001u);
  BOOST_TEST(cos.time_grid(2) == (std::vector<double>{1.0, 0.5, 0.0}),
             boost::test_tools::per_element());
  BOOST_CHECK_EXCEPTION(lin.time_grid(1001), Error, [](const Error& e) {
    return message_has(e, {"time_grid", "1001", "1..1000"});
  });
  tensor::Generator g(3);
  for (double t : lin.sample_times(64, g)) {
    BOOST_TEST((t > 0.0 && t <= 1.0));
    BOOST_TEST(std::abs(t * 1000 - std::round(t * 1000)) < 1e-9);
  }
  for (double t : cos.sample_times(64, g)) BOOST_TEST((t > 0.0 && t <= 1.0));
  BOOST_TEST(net_time(0.25) == 250.0);
  BOOST_TEST(
      net_time_tensor(0.5, 3, DType::f32).to_vector<float>() == (std::vector<float>{500, 500, 500}),
      boost::test_tools::per_element());
  BOOST_CHECK_EXCEPTION(cos.alpha(1.5), Error, [](const Error& e) {
    return message_has(e, {"cosine", "1.5", "[0, 1]"});
  });
  BOOST_CHECK_EXCEPTION(make_schedule("sqrt"), Error, [](const Error& e) {
    return message_has(e, {"unknown schedule", "sqrt"});
  });
  BOOST_TEST(make_schedule("cosine")->name() == "cosine");
}

BOOST_AUTO_TEST_CASE(karras_sigmas_endpoints_and_spacing) {
  std::vector<double> s = karras_sigmas(10, 0.002, 80.0, 7.0);
  BOOST_REQUIRE_EQUAL(s.size(), 11u);
  BOOST_TEST(s[0] == 80.0);
  BOOST_TEST(s[9] == 0.002);
  BOOST_TEST(s[10] == 0.0);
  for (size_t i = 1; i < s.size(); ++i) BOOST_TEST(s[i] < s[i - 1]);
  // Middle of a 3-step schedule: ((σ_max^{1/ρ} + σ_min^{1/ρ})/2)^ρ (Python reference).
  BOOST_TEST(std::abs(karras_sigmas(3)[1] - 2.515218976147159) < 1e-12);
  BOOST_CHECK_EXCEPTION(karras_sigmas(5, 1.0, 0.5), Error, [](const Error& e) {
    return message_has(e, {"karras_sigmas", "sigma_min"});
  });
}

// ---------------------------------------------------------------- parameterizations

BOOST_AUTO_TEST_CASE(eps_x0_v_conversions_round_trip) {
  CosineSchedule sch;
  const int64_t B = 64, D = 5;
  std::vector<double> t = uniform_values(B, 0.01, 0.99, 21), a(B), s(B);
  for (int64_t b = 0; b < B; ++b) a[b] = sch.alpha(t[b]), s[b] = sch.sigma(t[b]);
  Var alpha(per_sample(a, 2, DType::f64)), sigma(per_sample(s, 2, DType::f64));
  tensor::Generator g(5);
  Var x0(tensor::randn({B, D}, DType::f64, &g)), eps(tensor::randn({B, D}, DType::f64, &g));
  Var z = ag::add(ag::mul(alpha, x0), ag::mul(sigma, eps));
  Var v = v_from_x0_eps(x0, eps, alpha, sigma);
  BOOST_TEST(max_abs_diff(x0_from_eps(z, eps, alpha, sigma).value(), x0.value()) < 1e-12);
  BOOST_TEST(max_abs_diff(eps_from_x0(z, x0, alpha, sigma).value(), eps.value()) < 1e-12);
  BOOST_TEST(max_abs_diff(x0_from_v(z, v, alpha, sigma).value(), x0.value()) < 1e-12);
  BOOST_TEST(max_abs_diff(eps_from_v(z, v, alpha, sigma).value(), eps.value()) < 1e-12);
  for (Parameterization p : {Parameterization::eps, Parameterization::x0, Parameterization::v}) {
    Var out = from_x0_eps(x0, eps, p, alpha, sigma);
    Denoised d = to_x0_eps(out, p, z, alpha, sigma);
    BOOST_TEST(max_abs_diff(d.x0.value(), x0.value()) < 1e-12, parameterization_name(p));
    BOOST_TEST(max_abs_diff(d.eps.value(), eps.value()) < 1e-12, parameterization_name(p));
    // The scalar-coefficient overload (what samplers use) agrees row by row.
    Var z0 = ag::slice(z, 0, 0, 1), o0 = ag::slice(out, 0, 0, 1);
    Denoised d0 = to_x0_eps(o0, p, z0, a[0], s[0]);
    BOOST_TEST(max_abs_diff(d0.x0.value(), ag::slice(x0, 0, 0, 1).value()) < 1e-12);
    BOOST_TEST(max_abs_diff(d0.eps.value(), ag::slice(eps, 0, 0, 1).value()) < 1e-12);
    BOOST_TEST((parse_parameterization(parameterization_name(p)) == p));
  }
  // v-prediction stays defined at α = 0 (t = 1): x̂ = −v̂, ε̂ = z.
  Var zz(tensor::full({1, 2}, 0.7, DType::f64)), vv(tensor::full({1, 2}, -0.3, DType::f64));
  Denoised at1 = to_x0_eps(vv, Parameterization::v, zz, 0.0, 1.0);
  BOOST_TEST(at1.x0.value().to_vector<double>()[0] == 0.3);
  BOOST_TEST(at1.eps.value().to_vector<double>()[0] == 0.7);
  BOOST_CHECK_EXCEPTION(parse_parameterization("score"), Error, [](const Error& e) {
    return message_has(e, {"unknown parameterization", "score"});
  });
}

BOOST_AUTO_TEST_CASE(edm_preconditioning) {
  const double sd = 0.5;
  EdmPrecond c = edm_precond(sd, sd);
  BOOST_TEST(std::abs(c.c_skip - 0.5) < 1e-15);
  BOOST_TEST(std::abs(c.c_out - sd / std::sqrt(2.0)) < 1e-15);
  BOOST_TEST(std::abs(c.c_in - 1.0 / (sd * std::sqrt(2.0))) < 1e-15);
  BOOST_TEST(std::abs(c.c_noise - 0.25 * std::log(sd)) < 1e-15);
  for (double sigma : {0.002, 0.1, 1.0, 80.0}) {
    EdmPrecond p = edm_precond(sigma);
    // Karras et al. 2022 App. B.6: unit-variance input c_in² (σ_d² + σ²) = 1, and the effective
    // target (x₀ − c_skip x)/c_out has unit variance for x₀ ~ N(0, σ_d²), x = x₀ + σ n.
    BOOST_TEST(std::abs(p.c_in * p.c_in * (sd * sd + sigma * sigma) - 1.0) < 1e-12);
    const double var_target =
        ((1 - p.c_skip) * (1 - p.c_skip) * sd * sd + p.c_skip * p.c_skip * sigma * sigma) /
        (p.c_out * p.c_out);
    BOOST_TEST(std::abs(var_target - 1.0) < 1e-12, "sigma " << sigma);
    BOOST_TEST(std::abs(edm_loss_weight(sigma) * p.c_out * p.c_out - 1.0) < 1e-12);
  }
}

// ---------------------------------------------------------------- losses

BOOST_AUTO_TEST_CASE(loss_weightings_match_the_x_space_definition) {
  CosineSchedule sch;
  const int64_t B = 16, D = 6;
  std::vector<double> t = uniform_values(B, 0.02, 0.98, 31), a(B), s(B);
  for (int64_t b = 0; b < B; ++b) a[b] = sch.alpha(t[b]), s[b] = sch.sigma(t[b]);
  Var alpha(per_sample(a, 2, DType::f64)), sigma(per_sample(s, 2, DType::f64));
  tensor::Generator g(8);
  Var x0(tensor::randn({B, D}, DType::f64, &g)), eps(tensor::randn({B, D}, DType::f64, &g));
  Var out(tensor::randn({B, D}, DType::f64, &g));
  Var z = ag::add(ag::mul(alpha, x0), ag::mul(sigma, eps));
  using W = LossWeighting;
  for (Parameterization p : {Parameterization::eps, Parameterization::x0, Parameterization::v}) {
    Var xhat = to_x0_eps(out, p, z, alpha, sigma).x0;
    std::vector<double> xerr =
        ag::mean(ag::square(ag::sub(x0, xhat)), {1}).value().to_vector<double>();
    for (W w : {W::snr, W::snr_plus_one, W::truncated_snr, W::x0_mse}) {
      std::vector<double> got =
          denoising_loss_per_sample(out, p, x0, eps, a, s, w).value().to_vector<double>();
      for (int64_t b = 0; b < B; ++b) {
        const double snr = a[b] * a[b] / (s[b] * s[b]);
        const double wt = w == W::snr             ? snr
                          : w == W::snr_plus_one  ? snr + 1
                          : w == W::truncated_snr ? std::max(snr, 1.0)
                                                  : 1.0;
        BOOST_TEST(std::abs(got[b] - wt * xerr[b]) <= 1e-10 * wt * xerr[b],
                   parameterization_name(p) << " " << loss_weighting_name(w) << " sample " << b);
      }
    }
  }
  // prediction_mse is the natural weighting of each parameterization.
  auto ps = [&](Parameterization p, W w) {
    return denoising_loss_per_sample(out, p, x0, eps, a, s, w).value();
  };
  BOOST_TEST(max_abs_diff(ps(Parameterization::eps, W::prediction_mse),
                          ps(Parameterization::eps, W::snr)) < 1e-12);
  BOOST_TEST(max_abs_diff(ps(Parameterization::x0, W::prediction_mse),
                          ps(Parameterization::x0, W::x0_mse)) < 1e-12);
  BOOST_TEST(max_abs_diff(ps(Parameterization::v, W::prediction_mse),
                          ps(Parameterization::v, W::snr_plus_one)) < 1e-12);
  BOOST_TEST((parse_loss_weighting("snr+1") == W::snr_plus_one));
  BOOST_CHECK_EXCEPTION(parse_loss_weighting("min_snr"), Error, [](const Error& e) {
    return message_has(e, {"unknown weighting", "min_snr"});
  });
}

BOOST_AUTO_TEST_CASE(diffusion_loss_zero_for_exact_denoiser_and_differentiable) {
  auto sch = std::make_shared<LinearDiscreteSchedule>();
  tensor::Generator data(2);
  Tensor point = tensor::randn({1, 3}, DType::f64, &data);  // the data set is one point
  Var x0(point.expand({8, 3}).contiguous());
  // eps-prediction of the exact denoiser for a point mass: ε̂ = (z − α x₀)/σ.
  Denoiser exact = [sch, point](const Var& z, const Tensor& t_net, const Tensor&) {
    std::vector<double> t = t_net.to_vector<double>(), a, s;
    for (double tn : t)
      a.push_back(sch->alpha(tn / kNetTimeScale)), s.push_back(sch->sigma(tn / kNetTimeScale));
    return ag::div(ag::sub(z, ag::mul(Var(per_sample(a, 2, DType::f64)), Var(point))),
                   Var(per_sample(s, 2, DType::f64)));
  };
  tensor::Generator g(4);
  DiffusionLoss r =
      diffusion_loss(exact, Parameterization::eps, *sch, x0, Tensor(), LossWeighting::snr, g);
  BOOST_TEST(r.loss.item() < 1e-20);
  BOOST_TEST(r.t.size() == 8u);
  // A learnable offset: the loss gradient reaches it, and a fixed generator reproduces the loss.
  Var bias(tensor::full({3}, 0.1, DType::f64), true);
  Denoiser shifted = [exact, bias](const Var& z, const Tensor& t_net, const Tensor& l) {
    return ag::add(exact(z, t_net, l), bias);
  };
  tensor::Generator g1(9), g2(9);
  DiffusionLoss r1 =
      diffusion_loss(shifted, Parameterization::eps, *sch, x0, Tensor(), LossWeighting::snr, g1);
  DiffusionLoss r2 =
      diffusion_loss(shifted, Parameterization::eps, *sch, x0, Tensor(), LossWeighting::snr, g2);
  BOOST_TEST(r1.loss.item() == r2.loss.item());
  BOOST_TEST(std::abs(r1.loss.item() - 0.01) < 1e-12);  // (0.1)² in every element
  Var gb = ag::grad({r1.loss}, {bias})[0];
  for (double v : gb.value().to_vector<double>()) BOOST_TEST(std::abs(v - 2 * 0.1 / 3) < 1e-12);
}

// ---------------------------------------------------------------- noise source

BOOST_AUTO_TEST_CASE(noise_is_keyed_by_global_sample_index) {
  NoiseSource src(1234);
  for (DType dt : {DType::f32, DType::f64}) {
    Tensor batch = src.normal({8, 3, 4, 5}, 7, dt);
    for (int64_t b = 0; b < 8; ++b) {
      Tensor one = src.offset_by(uint64_t(b)).normal({1, 3, 4, 5}, 7, dt);
      BOOST_TEST(same_bits(batch.slice(0, b, b + 1), one), "row " << b);
    }
    // A sub-batch of rows 3..5 from a source that starts at global index 3.
    BOOST_TEST(same_bits(batch.slice(0, 3, 6), NoiseSource(1234, 3).normal({3, 3, 4, 5}, 7, dt)));
  }
  // f32 draws are the f64 draws rounded.
  BOOST_TEST(same_bits(src.normal({4, 9}, 2, DType::f32),
                       src.normal({4, 9}, 2, DType::f64).to(DType::f32)));
  // Streams, seeds and indices give different noise.
  BOOST_TEST(max_abs_diff(src.normal({2, 6}, 0, DType::f64), src.normal({2, 6}, 1, DType::f64)) >
             0.1);
  BOOST_TEST(max_abs_diff(src.normal({2, 6}, 0, DType::f64),
                          NoiseSource(1235).normal({2, 6}, 0, DType::f64)) > 0.1);
  Tensor two = src.normal({2, 6}, 0, DType::f64);
  BOOST_TEST(max_abs_diff(two.slice(0, 0, 1), two.slice(0, 1, 2)) > 0.1);
  BOOST_TEST(same_bits(src.initial({2, 6}, DType::f64, 80.0), tensor::affine(two, 80.0, 0.0)));
  BOOST_CHECK_EXCEPTION(src.normal({}, 0), Error, [](const Error& e) {
    return message_has(e, {"NoiseSource", "batch dim"});
  });
}

BOOST_AUTO_TEST_CASE(noise_is_standard_normal) {
  const int64_t n = 200000;
  std::vector<double> x = NoiseSource(77).normal({n / 4, 4}, 3, DType::f64).to_vector<double>();
  double m = 0, m2 = 0;
  for (double v : x) m += v, m2 += v * v;
  m /= double(n);
  const double var = m2 / double(n) - m * m;
  // Standard errors: 1/sqrt(n) for the mean, sqrt(2/n) for the variance; 5 of each.
  BOOST_TEST(std::abs(m) < 5.0 / std::sqrt(double(n)));
  BOOST_TEST(std::abs(var - 1.0) < 5.0 * std::sqrt(2.0 / double(n)));
}
