// Samplers against closed forms. With Gaussian data x₀ ~ N(μ, s²I) the posterior mean is exact:
// x̂ = μ + α s²/(α²s² + σ²)(z − αμ), and the probability-flow ODE maps z_T to
// μ + s (z_T − α_T μ)/sqrt(α_T² s² + σ_T²) (it keeps each sample's standardised value), so the
// deterministic samplers are checked per sample, the stochastic ones by their moments. Also:
// DDPM = Ho et al. Alg. 2 written literally, DDIM η = 1 = DDPM, batch = per-sample bit for bit,
// classifier-free guidance, callbacks and argument errors.
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <cstring>

#include "autograd/functions.h"
#include "diffusion/guidance.h"
#include "diffusion/sampler.h"
#include "tensor/factory.h"
#include "tensor/ops.h"
#include "tests/support/check_message.h"

using namespace difflab;
using namespace difflab::diffusion;
using ag::Var;
using difflab::testing::message_has;
using tensor::DType;

namespace {

const std::vector<double> kMu = {1.5, -0.5, 0.0, 2.0};
const double kS = 0.5;

Tensor mu_row() { return tensor::from_vector(kMu, {1, int64_t(kMu.size())}, DType::f64); }

// Exact posterior mean for Gaussian data, as a VpModel.
VpModel gaussian_model() {
  Tensor mu = mu_row();
  return [mu](const Var& z, const NoiseLevel& at) {
    const double a = at.alpha, g = at.sigma;
    const double k = a * kS * kS / (a * a * kS * kS + g * g);
    Var m(mu);
    Var x0 = m + (z - m * a) * k;
    return Denoised{x0, (z - x0 * a) / g};
  };
}

// The same, as a raw network (x0-prediction) that reads t from its time input.
Denoiser gaussian_net(std::shared_ptr<const Schedule> sch) {
  VpModel m = gaussian_model();
  return [m, sch](const Var& z, const Tensor& t_net, const Tensor&) {
    const double t = t_net.to(DType::f64).to_vector<double>()[0] / kNetTimeScale;
    return m(z, noise_level(*sch, t)).x0;
  };
}

// D(x; σ) for x = x₀ + σ n.
SigmaDenoiser gaussian_sigma_denoiser() {
  Tensor mu = mu_row();
  return [mu](const Var& x, double sigma) {
    Var m(mu);
    return m + (x - m) * (kS * kS / (kS * kS + sigma * sigma));
  };
}

// Where the probability-flow ODE takes z (at VP time 1 of `sch`, or EDM σ_max when alpha0 = 1
// and sigma0 = σ_max).
Tensor exact_transport(const Tensor& z, double alpha0, double sigma0) {
  Var m(mu_row());
  const double sd = std::sqrt(alpha0 * alpha0 * kS * kS + sigma0 * sigma0);
  return (m + (Var(z) - m * alpha0) * (kS / sd)).value();
}

double max_abs_diff(const Tensor& a, const Tensor& b) {
  auto va = a.contiguous().to_vector<double>(), vb = b.contiguous().to_vector<double>();
  BOOST_REQUIRE_EQUAL(va.size(), vb.size());
  double m = 0;
  for (size_t i = 0; i < va.size(); ++i) m = std::max(m, std::abs(va[i] - vb[i]));
  return m;
}

bool same_bits(const Tensor& a, const Tensor& b) {
  Tensor ca = a.contiguous(), cb = b.contiguous();
  return ca.shape() == cb.shape() && std::memcmp(ca.raw_data(), cb.raw_data(), ca.nbytes()) == 0;
}

// Mean and standard deviation of the standardised samples (x − μ_d)/s pooled over all dims.
struct Moments {
  double mean, std;
  int64_t n;
};
Moments standardised_moments(const Tensor& x) {
  const int64_t D = int64_t(kMu.size());
  std::vector<double> v = x.contiguous().to_vector<double>();
  double m = 0, m2 = 0;
  for (size_t i = 0; i < v.size(); ++i) {
    const double u = (v[i] - kMu[i % size_t(D)]) / kS;
    m += u, m2 += u * u;
  }
  const double n = double(v.size());
  m /= n;
  return {m, std::sqrt(m2 / n - m * m), int64_t(v.size())};
}

// |mean| within k standard errors (1/sqrt(n)) and |std − 1| within k·sqrt(1/(2n)) plus `bias`.
void check_moments(const Tensor& x, double k, double bias, const std::string& what) {
  Moments mo = standardised_moments(x);
  const double n = double(mo.n);
  BOOST_TEST_MESSAGE(what << ": standardised mean " << mo.mean << ", std " << mo.std
                          << " (n = " << mo.n << ")");
  BOOST_TEST(std::abs(mo.mean) < k / std::sqrt(n) + bias, what << " mean " << mo.mean);
  BOOST_TEST(std::abs(mo.std - 1.0) < k * std::sqrt(0.5 / n) + bias, what << " std " << mo.std);
}

const int64_t kB = 4096, kD = 4;

// Max error against the exact transport at n and 2n steps: for a method of order p the ratio
// is about 2^p (measured: DDIM and Euler 1.9–2.0, Heun 3.9–4.4).
void check_order(const std::string& what, double e_n, double e_2n, double order) {
  const double ratio = e_n / e_2n, expect = std::pow(2.0, order);
  BOOST_TEST_MESSAGE(what << ": max error " << e_n << " -> " << e_2n
                          << " on doubling the steps (ratio " << ratio << ", order " << order
                          << " expects " << expect << ")");
  BOOST_TEST(ratio > 0.9 * expect, what << " ratio " << ratio);
  BOOST_TEST(ratio < 1.2 * expect, what << " ratio " << ratio);
}

const int64_t kTransportB = 1024;

}  // namespace

BOOST_AUTO_TEST_CASE(ddim_eta0_follows_the_exact_transport) {
  auto lin = std::make_shared<LinearDiscreteSchedule>();
  NoiseSource noise(11);
  Var zT(noise.initial({kTransportB, kD}, DType::f64));
  const Tensor exact = exact_transport(zT.value(), lin->alpha(1.0), lin->sigma(1.0));
  VpModel model = vp_model(gaussian_net(lin), Parameterization::x0);
  Tensor x1000 = sample_ddim(model, *lin, zT, lin->time_grid(1000)).value();
  Tensor x500 = sample_ddim(model, *lin, zT, lin->time_grid(500)).value();
  const double e1000 = max_abs_diff(x1000, exact), d = max_abs_diff(x1000, x500);
  check_order("DDIM linear 500/1000", max_abs_diff(x500, exact), e1000, 1.0);
  // 1000 and 500 steps agree closely (measured 0.0056 at 4096 samples, outputs of scale ~2).
  BOOST_TEST_MESSAGE("DDIM linear: |x1000 − x500| = " << d);
  BOOST_TEST(e1000 < 0.01);
  BOOST_TEST(d < 0.01);

  CosineSchedule cos;
  const Tensor exact_cos = exact_transport(zT.value(), 0.0, 1.0);
  auto err = [&](int64_t n) {
    return max_abs_diff(sample_ddim(gaussian_model(), cos, zT, cos.time_grid(n)).value(),
                        exact_cos);
  };
  check_order("DDIM cosine 100/200", err(100), err(200), 1.0);
}

BOOST_AUTO_TEST_CASE(ddim_is_euler_in_edm_variables) {
  // DDIM (η = 0) is the Euler method for dx/dσ = (x − D)/σ with x = z/α, σ = σ_t/α_t
  // (Karras et al. 2022 §3 / Song et al. 2021 §4.3).
  auto cos = std::make_shared<CosineSchedule>();
  NoiseSource noise(20);
  std::vector<double> ts = {0.97, 0.8, 0.5, 0.31, 0.1, 0.0}, sig;
  for (double t : ts) sig.push_back(cos->edm_sigma(t));
  const double a0 = cos->alpha(ts[0]);
  Var zT(noise.initial({16, kD}, DType::f64));
  Tensor ddim = sample_ddim(gaussian_model(), *cos, zT, ts).value();
  Tensor euler = sample_euler(sigma_denoiser(gaussian_model(), cos), zT / a0, sig).value();
  BOOST_TEST(max_abs_diff(ddim, euler) < 1e-12);
}

BOOST_AUTO_TEST_CASE(heun_and_euler_follow_the_exact_transport) {
  NoiseSource noise(12);
  // On σ (Karras steps, x_T = σ_max n).
  const double smax = 80.0;
  Var xT(noise.initial({kTransportB, kD}, DType::f64, smax));
  const Tensor exact = exact_transport(xT.value(), 1.0, smax);
  auto err_sigma = [&](bool heun, int64_t n) {
    std::vector<double> s = karras_sigmas(n, 0.002, smax);
    Var x = heun ? sample_heun(gaussian_sigma_denoiser(), xT, s)
                 : sample_euler(gaussian_sigma_denoiser(), xT, s);
    return max_abs_diff(x.value(), exact);
  };
  const double heun100 = err_sigma(true, 100);
  check_order("Heun on sigma 50/100", err_sigma(true, 50), heun100, 2.0);
  check_order("Euler on sigma 100/200", err_sigma(false, 100), err_sigma(false, 200), 1.0);
  BOOST_TEST(heun100 < 5e-3);  // measured 2.8e-3 at 4096 samples
  check_moments(sample_heun(gaussian_sigma_denoiser(), xT, karras_sigmas(100, 0.002, smax)).value(),
                4.0, 0.0, "Heun on sigma, 100 steps");

  // On VP time: cosine (from t = 1 where α = 0) and the discrete linear schedule.
  CosineSchedule cos;
  LinearDiscreteSchedule lin;
  Var zT(noise.initial({kTransportB, kD}, DType::f64));
  const Tensor exact_cos = exact_transport(zT.value(), 0.0, 1.0);
  const Tensor exact_lin = exact_transport(zT.value(), lin.alpha(1.0), lin.sigma(1.0));
  auto err_vp = [&](const Schedule& s, const Tensor& ex, OdeMethod m, int64_t n) {
    return max_abs_diff(sample_ode_vp(gaussian_model(), s, zT, s.time_grid(n), m).value(), ex);
  };
  const double heun_cos100 = err_vp(cos, exact_cos, OdeMethod::heun, 100);
  check_order("Heun on VP t (cosine) 50/100", err_vp(cos, exact_cos, OdeMethod::heun, 50),
              heun_cos100, 2.0);
  check_order("Euler on VP t (cosine) 100/200", err_vp(cos, exact_cos, OdeMethod::euler, 100),
              err_vp(cos, exact_cos, OdeMethod::euler, 200), 1.0);
  BOOST_TEST(heun_cos100 < 1.5e-3);  // measured 7.6e-4
  // The linear schedule's σ ∝ √t near 0 costs Heun its clean order; it still converges
  // (measured 6.6e-3 at 100 steps, 1.4e-3 at 400).
  const double h100 = err_vp(lin, exact_lin, OdeMethod::heun, 100),
               h400 = err_vp(lin, exact_lin, OdeMethod::heun, 400);
  BOOST_TEST_MESSAGE("Heun on VP t (linear): max error " << h100 << " at 100 steps, " << h400
                                                         << " at 400");
  BOOST_TEST(h400 < h100 / 3);
  BOOST_TEST(h400 < 3e-3);

  // A VP model seen in σ-space through sigma_denoiser gives D(x; σ) of the Gaussian.
  auto sch = std::make_shared<CosineSchedule>();
  SigmaDenoiser via_vp = sigma_denoiser(gaussian_model(), sch);
  Var x(noise.normal({8, kD}, 5, DType::f64));
  for (double s : {0.01, 1.0, 50.0})
    BOOST_TEST(max_abs_diff(via_vp(x, s).value(), gaussian_sigma_denoiser()(x, s).value()) < 1e-12);
}

BOOST_AUTO_TEST_CASE(ddpm_ancestral_moments) {
  auto lin = std::make_shared<LinearDiscreteSchedule>();
  NoiseSource noise(13);
  Var zT(noise.initial({kB, kD}, DType::f64));
  VpModel model = vp_model(gaussian_net(lin), Parameterization::x0);
  Tensor full = sample_ddpm(model, *lin, zT, lin->time_grid(1000), noise).value();
  check_moments(full, 4.0, 0.0, "DDPM 1000 steps");
  Tensor beta =
      sample_ddpm(model, *lin, zT, lin->time_grid(1000), noise, {}, DdpmVariance::beta).value();
  check_moments(beta, 4.0, 0.0, "DDPM 1000 steps, sigma^2 = beta");
  // With skipped steps the exact posterior mean no longer gives exact marginals: Ho et al.'s two
  // variances are the extremes (β̃ exact for a point mass, β for N(0, I) data), so for
  // s = 0.5 they bracket the true std from below and above.
  Tensor skip = sample_ddpm(model, *lin, zT, lin->time_grid(100), noise).value();
  Tensor skip_beta =
      sample_ddpm(model, *lin, zT, lin->time_grid(100), noise, {}, DdpmVariance::beta).value();
  Moments mp = standardised_moments(skip), mb = standardised_moments(skip_beta);
  BOOST_TEST_MESSAGE("DDPM 100 steps: standardised std " << mp.std << " (posterior variance), "
                                                         << mb.std << " (beta); means " << mp.mean
                                                         << ", " << mb.mean);
  BOOST_TEST(mp.std < 1.0);
  BOOST_TEST(mb.std > 1.0);
  BOOST_TEST(std::abs(mp.mean) < 4.0 / std::sqrt(double(mp.n)));
  BOOST_TEST(std::abs(mb.mean) < 4.0 / std::sqrt(double(mb.n)));
  // Stochastic: not the deterministic transport of z_T.
  BOOST_TEST(max_abs_diff(full, exact_transport(zT.value(), lin->alpha(1.0), lin->sigma(1.0))) >
             0.1);
}

BOOST_AUTO_TEST_CASE(ddpm_equals_ho_algorithm_2_and_ddim_eta1) {
  LinearDiscreteSchedule lin;
  const int64_t T = 1000;
  NoiseSource noise(14);
  Var zT(noise.initial({16, kD}, DType::f64));
  VpModel model = gaussian_model();
  Tensor ours = sample_ddpm(model, lin, zT, lin.time_grid(T), noise).value();
  // Ho et al. 2020 Alg. 2, literally: x_{i−1} = (x_i − β_i/sqrt(1 − ᾱ_i) ε̂)/sqrt(α_i) + σ_i n,
  // σ_i² = β̃_i = (1 − ᾱ_{i−1})/(1 − ᾱ_i) β_i, no noise at i = 1; step k = T − i draws stream k+1.
  Var x = zT;
  for (int64_t i = T; i >= 1; --i) {
    const double b = lin.beta(i), ab = lin.alpha_bar(i), ab_prev = lin.alpha_bar(i - 1);
    const double t = double(i) / double(T);
    Var eps = model(x, noise_level(lin, t)).eps;
    x = (x - eps * (b / std::sqrt(1.0 - ab))) / std::sqrt(1.0 - b);
    if (i > 1) {
      const double sd = std::sqrt((1.0 - ab_prev) / (1.0 - ab) * b);
      x = x + Var(noise.normal(zT.shape(), NoiseSource::step_stream(T - i), DType::f64)) * sd;
    }
  }
  const double d = max_abs_diff(ours, x.value());
  BOOST_TEST_MESSAGE("DDPM vs literal Alg. 2: max diff " << d);
  BOOST_TEST(d < 1e-9);
  // DDIM with η = 1 is DDPM with the posterior variance (same noise streams), also when skipping.
  for (int64_t steps : {int64_t(1000), int64_t(37)}) {
    Tensor a = sample_ddpm(model, lin, zT, lin.time_grid(steps), noise).value();
    Tensor b = sample_ddim(model, lin, zT, lin.time_grid(steps), 1.0, &noise).value();
    BOOST_TEST(max_abs_diff(a, b) < 1e-9, steps << " steps");
  }
}

BOOST_AUTO_TEST_CASE(batched_sampling_equals_per_sample_bit_for_bit) {
  auto lin = std::make_shared<LinearDiscreteSchedule>();
  CosineSchedule cos;
  const int64_t B = 8;
  NoiseSource noise(15, 100);  // global indices 100..107
  VpModel model = vp_model(gaussian_net(lin), Parameterization::x0);
  auto run_all = [&](const NoiseSource& src, int64_t n) {
    Var z(src.initial({n, kD}, DType::f64));
    return std::vector<Tensor>{
        sample_ddpm(model, *lin, z, lin->time_grid(50), src).value(),
        sample_ddim(model, *lin, z, lin->time_grid(20), 0.7, &src).value(),
        sample_ode_vp(gaussian_model(), cos, z, cos.time_grid(10), OdeMethod::heun).value(),
        sample_heun(gaussian_sigma_denoiser(), Var(src.initial({n, kD}, DType::f64, 80.0)),
                    karras_sigmas(10))
            .value()};
  };
  std::vector<Tensor> batch = run_all(noise, B);
  for (int64_t b = 0; b < B; ++b) {
    std::vector<Tensor> one = run_all(noise.offset_by(uint64_t(b)), 1);
    for (size_t k = 0; k < one.size(); ++k)
      BOOST_TEST(same_bits(batch[k].slice(0, b, b + 1), one[k]), "sampler " << k << " row " << b);
  }
}

BOOST_AUTO_TEST_CASE(vp_model_adapter_converts_every_parameterization) {
  auto cos = std::make_shared<CosineSchedule>();
  NoiseSource noise(16);
  Var z(noise.normal({6, kD}, 0, DType::f64));
  for (double t : {0.2, 0.7}) {
    const NoiseLevel at = noise_level(*cos, t);
    Denoised ref = gaussian_model()(z, at);
    for (Parameterization p : {Parameterization::eps, Parameterization::x0, Parameterization::v}) {
      Denoiser net = [&, p](const Var&, const Tensor& t_net, const Tensor&) {
        BOOST_TEST(t_net.to_vector<double>()[0] == kNetTimeScale * t);
        return from_x0_eps(ref.x0, ref.eps, p, Var(tensor::scalar_tensor(at.alpha, DType::f64)),
                           Var(tensor::scalar_tensor(at.sigma, DType::f64)));
      };
      Denoised d = vp_model(net, p)(z, at);
      BOOST_TEST(max_abs_diff(d.x0.value(), ref.x0.value()) < 1e-12, parameterization_name(p));
      BOOST_TEST(max_abs_diff(d.eps.value(), ref.eps.value()) < 1e-12, parameterization_name(p));
    }
  }
}

// ---------------------------------------------------------------- guidance

namespace {
const int64_t kClasses = 3;
// Row-wise class-conditional net: out = z·a[label] + b[label] (tables with a null row).
struct AffineNet {
  Var a, b;
  int calls = 0;
  int64_t last_batch = 0;
  Tensor last_labels;
  AffineNet() {
    tensor::Generator g(3);
    a = Var(tensor::randn({kClasses + 1, kD}, DType::f64, &g));
    b = Var(tensor::randn({kClasses + 1, kD}, DType::f64, &g));
  }
  Denoiser fn() {
    return [this](const Var& z, const Tensor&, const Tensor& labels) {
      ++calls;
      last_batch = z.size(0);
      last_labels = labels;
      return ag::embedding(a, labels) * z + ag::embedding(b, labels);
    };
  }
};
}  // namespace

BOOST_AUTO_TEST_CASE(cfg_is_one_batched_call_and_w0_is_the_conditional_model) {
  AffineNet net;
  NoiseSource noise(17);
  Var z(noise.normal({5, kD}, 0, DType::f64));
  Tensor labels = tensor::from_vector<int64_t>({0, 2, 1, 1, 0}, {5});
  Tensor t_net = net_time_tensor(0.5, 5, DType::f64);
  Tensor cond = net.fn()(z, t_net, labels).value();
  Tensor uncond = net.fn()(z, t_net, null_labels(5, kClasses)).value();
  net.calls = 0;
  Tensor g0 = classifier_free_guidance(net.fn(), 0.0, kClasses)(z, t_net, labels).value();
  BOOST_TEST(net.calls == 1);
  BOOST_TEST(net.last_batch == 10);
  BOOST_TEST(
      net.last_labels.to_vector<int64_t>() == (std::vector<int64_t>{0, 2, 1, 1, 0, 3, 3, 3, 3, 3}),
      boost::test_tools::per_element());
  BOOST_TEST(same_bits(g0, cond));
  const double w = 2.5;
  Tensor gw = classifier_free_guidance(net.fn(), w, kClasses)(z, t_net, labels).value();
  Tensor expect = (Var(cond) * (1 + w) - Var(uncond) * w).value();
  BOOST_TEST(max_abs_diff(gw, expect) < 1e-14);
  // Sampling with the w = 0 wrapper equals sampling with the conditional model.
  CosineSchedule cos;
  Var zT(noise.initial({5, kD}, DType::f64));
  Tensor s_cond = sample_ddim(vp_model(net.fn(), Parameterization::v, labels), cos, zT,
                              cos.time_grid(8), 0.5, &noise)
                      .value();
  Tensor s_cfg0 = sample_ddim(vp_model(classifier_free_guidance(net.fn(), 0.0, kClasses),
                                       Parameterization::v, labels),
                              cos, zT, cos.time_grid(8), 0.5, &noise)
                      .value();
  BOOST_TEST(same_bits(s_cond, s_cfg0));
  auto cfg = classifier_free_guidance(net.fn(), 1.0, kClasses);
  BOOST_CHECK_EXCEPTION(cfg(z, t_net, tensor::from_vector<int64_t>({0, 1, 3, 1, 0}, {5})), Error,
                        [](const Error& e) {
                          return message_has(e, {"label 3", "null label"});
                        });
  BOOST_CHECK_EXCEPTION(cfg(z, t_net, Tensor()), Error, [](const Error& e) {
    return message_has(e, {"classifier_free_guidance", "i64 [5]"});
  });
}

BOOST_AUTO_TEST_CASE(drop_labels_rate) {
  const int64_t n = 4000;
  Tensor labels = tensor::full({n}, 1.0, DType::i64);
  tensor::Generator g(21);
  BOOST_TEST(same_bits(drop_labels(labels, 0.0, kClasses, g), labels));
  for (int64_t l : drop_labels(labels, 1.0, kClasses, g).to_vector<int64_t>())
    BOOST_TEST(l == kClasses);
  int64_t dropped = 0;
  for (int64_t l : drop_labels(labels, 0.2, kClasses, g).to_vector<int64_t>())
    dropped += l == kClasses;
  const double frac = double(dropped) / double(n);
  BOOST_TEST(std::abs(frac - 0.2) < 5 * std::sqrt(0.2 * 0.8 / double(n)), "dropped " << frac);
}

// ---------------------------------------------------------------- callbacks and errors

BOOST_AUTO_TEST_CASE(callback_sees_every_step) {
  CosineSchedule cos;
  NoiseSource noise(18);
  Var zT(noise.initial({4, kD}, DType::f64));
  std::vector<double> ts = cos.time_grid(6), seen_t;
  std::vector<int64_t> seen_step;
  SampleOptions opt;
  opt.callback = [&](const StepInfo& s) {
    seen_step.push_back(s.step);
    seen_t.push_back(s.t);
    BOOST_TEST(s.num_steps == 6);
    BOOST_TEST(s.x0.defined());
    BOOST_TEST(s.z.shape() == zT.shape());
  };
  Var out = sample_ddim(gaussian_model(), cos, zT, ts, 0.0, nullptr, opt);
  BOOST_TEST(seen_step == (std::vector<int64_t>{0, 1, 2, 3, 4, 5}),
             boost::test_tools::per_element());
  BOOST_TEST(seen_t == std::vector<double>(ts.begin(), ts.end() - 1),
             boost::test_tools::per_element());
  seen_t.clear();
  SampleOptions opt_sigma;
  opt_sigma.callback = [&](const StepInfo& s) { seen_t.push_back(s.t); };
  const std::vector<double> sigmas = karras_sigmas(5);
  sample_heun(gaussian_sigma_denoiser(), Var(noise.initial({4, kD}, DType::f64, 80.0)), sigmas,
              opt_sigma);
  BOOST_TEST(seen_t == std::vector<double>(sigmas.begin(), sigmas.end() - 1),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(sampler_argument_errors) {
  CosineSchedule cos;
  NoiseSource noise(19);
  Var z(noise.initial({2, kD}, DType::f64));
  BOOST_CHECK_EXCEPTION(sample_ddim(gaussian_model(), cos, z, {1.0, 0.5, 0.7, 0.0}), Error,
                        [](const Error& e) {
                          return message_has(e, {"sample_ddim", "must decrease", "0.7"});
                        });
  BOOST_CHECK_EXCEPTION(sample_ddim(gaussian_model(), cos, z, {1.0}), Error, [](const Error& e) {
    return message_has(e, {"sample_ddim", "at least 2"});
  });
  BOOST_CHECK_EXCEPTION(sample_ddim(gaussian_model(), cos, z, cos.time_grid(4), 0.5), Error,
                        [](const Error& e) {
                          return message_has(e, {"sample_ddim", "eta", "NoiseSource"});
                        });
  BOOST_CHECK_EXCEPTION(sample_ddpm(gaussian_model(), cos, z, {1.5, 0.0}, noise), Error,
                        [](const Error& e) {
                          return message_has(e, {"sample_ddpm", "1.5", "[0, 1]"});
                        });
  BOOST_CHECK_EXCEPTION(sample_heun(gaussian_sigma_denoiser(), z, {1.0, 2.0}), Error,
                        [](const Error& e) {
                          return message_has(e, {"sample_heun", "decrease"});
                        });
}
