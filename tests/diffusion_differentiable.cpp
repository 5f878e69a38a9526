// Differentiable sampling: gradients of a scalar of the samples with respect to the initial
// noise, a conditioning Var and a model parameter match central finite differences (f64,
// ag::gradcheck) for every sampler; per-step checkpointing gives the same gradients with a lower
// peak (ag::MemoryScope), and its callback still runs once per step.
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <cstring>

#include "autograd/engine.h"
#include "autograd/functions.h"
#include "autograd/grad_mode.h"
#include "autograd/gradcheck.h"
#include "autograd/inspect.h"
#include "diffusion/sampler.h"
#include "tensor/factory.h"
#include "tensor/random.h"

using namespace difflab;
using namespace difflab::diffusion;
using ag::Var;
using tensor::DType;

namespace {

Var param(const tensor::Shape& s, uint64_t seed, double scale, bool rg = true) {
  tensor::Generator g(seed);
  return Var(tensor::affine(tensor::randn(s, DType::f64, &g), scale, 0.0), rg);
}

// A tiny time- and condition-dependent MLP: out = W2 tanh(W1 z + b1 + (t_net/1000) e + c).
struct TinyNet {
  Var w1, b1, e, c, w2;
  TinyNet(int64_t d, int64_t h, bool rg = true)
      : w1(param({h, d}, 1, 0.6, rg)),
        b1(param({h}, 2, 0.3, rg)),
        e(param({h}, 3, 0.5, rg)),
        c(param({1, h}, 4, 0.4, rg)),
        w2(param({d, h}, 5, 0.5, rg)) {}
  std::vector<Var> params() const { return {w1, b1, e, c, w2}; }
};

// The network as a Denoiser over explicit Vars (so gradcheck can perturb them).
Denoiser tiny_denoiser(Var w1, Var b1, Var e, Var c, Var w2) {
  return [=](const Var& z, const Tensor& t_net, const Tensor&) {
    Var t = Var(tensor::affine(t_net.reshape({t_net.size(0), 1}), 1.0 / kNetTimeScale, 0.0));
    Var h = ag::tanh(ag::linear(z, w1, b1) + ag::mul(t, e) + c);
    return ag::linear(h, w2);
  };
}

enum class Which { ddim, ddpm, ode_vp, heun_sigma };

Var run_sampler(Which which, const Denoiser& net, const Var& z, const SampleOptions& opt,
                int64_t steps) {
  static const auto cos = std::make_shared<CosineSchedule>();
  static const LinearDiscreteSchedule lin(20);  // a short discrete schedule keeps DDPM cheap
  NoiseSource noise(42);
  switch (which) {
    case Which::ddim:
      return sample_ddim(vp_model(net, Parameterization::v), *cos, z, cos->time_grid(steps), 0.5,
                         &noise, opt);
    case Which::ddpm:
      return sample_ddpm(vp_model(net, Parameterization::eps), lin, z, lin.time_grid(steps), noise,
                         opt);
    case Which::ode_vp:
      return sample_ode_vp(vp_model(net, Parameterization::x0), *cos, z, cos->time_grid(steps),
                           OdeMethod::heun, opt);
    case Which::heun_sigma:
      return sample_heun(edm_denoiser(net), z, karras_sigmas(steps, 0.02, 10.0), opt);
  }
  return Var();
}

const char* which_name(Which w) {
  switch (w) {
    case Which::ddim:
      return "ddim(eta=0.5)";
    case Which::ddpm:
      return "ddpm";
    case Which::ode_vp:
      return "heun on VP t";
    case Which::heun_sigma:
      return "heun on sigma (EDM)";
  }
  return "?";
}

bool same_bits(const Tensor& a, const Tensor& b) {
  Tensor ca = a.contiguous(), cb = b.contiguous();
  return ca.shape() == cb.shape() && std::memcmp(ca.raw_data(), cb.raw_data(), ca.nbytes()) == 0;
}

// max |a − b| / max |a|.
double max_rel_diff(const Tensor& a, const Tensor& b) {
  auto va = a.contiguous().to_vector<double>(), vb = b.contiguous().to_vector<double>();
  double d = 0, m = 0;
  for (size_t i = 0; i < va.size(); ++i)
    d = std::max(d, std::abs(va[i] - vb[i])), m = std::max(m, std::abs(va[i]));
  return d / m;
}

const Which kAll[] = {Which::ddim, Which::ddpm, Which::ode_vp, Which::heun_sigma};

}  // namespace

BOOST_AUTO_TEST_CASE(sampler_gradients_match_finite_differences) {
  const int64_t D = 3, H = 5, B = 2;
  TinyNet net(D, H, false);
  for (Which which : kAll) {
    for (bool ckpt : {false, true}) {
      // Inputs perturbed by gradcheck: initial noise, the first-layer weight, the conditioning.
      Var z = param({B, D}, 7, 1.0);
      Var w1(net.w1.value().clone(), true), c(net.c.value().clone(), true);
      auto fn = [&](const std::vector<Var>& in) {
        SampleOptions opt;
        opt.checkpoint = ckpt;
        opt.params = {in[1], in[2]};
        return run_sampler(which, tiny_denoiser(in[1], net.b1, net.e, in[2], net.w2), in[0], opt,
                           4);
      };
      ag::GradcheckResult r = ag::gradcheck(fn, {z, w1, c}, {1e-6, 1e-7, 1e-5, 99});
      BOOST_TEST_MESSAGE(which_name(which) << (ckpt ? " checkpointed" : "") << ": max abs err "
                                           << r.max_abs_err << " over " << r.checked);
      BOOST_TEST(r.ok, which_name(which) << (ckpt ? " checkpointed: " : ": ") << r.message);
    }
  }
}

BOOST_AUTO_TEST_CASE(checkpointed_gradients_equal_plain_and_peak_is_lower) {
  const int64_t D = 16, H = 256, B = 64, steps = 12;
  TinyNet net(D, H);
  Denoiser f = tiny_denoiser(net.w1, net.b1, net.e, net.c, net.w2);
  Var z = param({B, D}, 8, 1.0);
  Tensor proj = param({B, D}, 9, 1.0, false).value();
  std::vector<Var> wrt = {z};
  for (const Var& p : net.params()) wrt.push_back(p);
  for (Which which : kAll) {
    auto run = [&](bool ckpt, size_t& peak, int& calls) {
      SampleOptions opt;
      opt.checkpoint = ckpt;
      opt.params = net.params();
      calls = 0;
      opt.callback = [&calls](const StepInfo& s) {
        ++calls;
        BOOST_TEST(s.x0.defined());
      };
      ag::MemoryScope scope;
      Var x = run_sampler(which, f, z, opt, steps);
      Var loss = ag::sum(ag::mul(x, Var(proj)));
      std::vector<Var> g = ag::grad({loss}, wrt);
      peak = scope.peak_bytes();
      return std::pair<Tensor, std::vector<Var>>{x.value(), g};
    };
    size_t peak_plain = 0, peak_ckpt = 0;
    int calls_plain = 0, calls_ckpt = 0;
    auto [x0, g0] = run(false, peak_plain, calls_plain);
    auto [x1, g1] = run(true, peak_ckpt, calls_ckpt);
    BOOST_TEST_MESSAGE(which_name(which)
                       << ": peak bytes plain " << peak_plain << ", checkpointed " << peak_ckpt
                       << " (ratio " << double(peak_ckpt) / double(peak_plain) << ")");
    BOOST_TEST(same_bits(x0, x1), which_name(which));
    // The gradient with respect to the initial noise is bit-identical for every sampler, and so
    // are the parameter gradients of the one-evaluation-per-step samplers. Heun evaluates the
    // model twice per step: checkpointed, each step sums its two parameter gradients before the
    // engine adds the steps up, while the plain graph adds all 2N in one chain, so those sums
    // are grouped differently and agree to rounding (measured below 1e-15 relative).
    const bool two_evals = which == Which::ode_vp || which == Which::heun_sigma;
    for (size_t i = 0; i < g0.size(); ++i) {
      if (i == 0 || !two_evals) {
        BOOST_TEST(same_bits(g0[i].value(), g1[i].value()), which_name(which) << " gradient " << i);
      } else {
        const double rel = max_rel_diff(g0[i].value(), g1[i].value());
        BOOST_TEST_MESSAGE(which_name(which)
                           << " gradient " << i << ": max relative difference " << rel);
        BOOST_TEST(rel < 1e-13, which_name(which) << " gradient " << i);
      }
    }
    BOOST_TEST(peak_ckpt < peak_plain / 2, which_name(which));
    // The callback runs once per step in both modes, not again during the recomputation.
    BOOST_TEST(calls_plain == steps);
    BOOST_TEST(calls_ckpt == steps);
  }
}

BOOST_AUTO_TEST_CASE(no_grad_sampling_records_nothing) {
  TinyNet net(3, 5);
  Var z = param({2, 3}, 10, 1.0);
  SampleOptions opt;
  opt.checkpoint = true;  // no effect without grad recording
  opt.params = net.params();
  ag::NoGradGuard ng;
  Var x = run_sampler(Which::ddim, tiny_denoiser(net.w1, net.b1, net.e, net.c, net.w2), z, opt, 4);
  BOOST_TEST(!x.requires_grad());
}
