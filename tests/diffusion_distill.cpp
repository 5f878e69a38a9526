// Progressive distillation's target (diffusion/distill.h) against closed forms: with the exact
// denoiser of Gaussian data N(μ, I), x̂*(z_t) = σ_t² μ + α_t z_t, one student DDIM step from
// the target reproduces the teacher's two steps to f64 precision, the convex and direct forms
// of the target agree, and the target equals the spec's closed form μ + κ_t (z_t − α_t μ).
// The x/ε/v round trips at random t are in diffusion_schedule.cpp.
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <numbers>

#include "autograd/engine.h"
#include "autograd/functions.h"
#include "diffusion/distill.h"
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

constexpr int64_t D = 3;
const std::vector<double> kMu{0.5, -1.0, 2.0};

Tensor mu_row(int64_t B) {
  std::vector<double> v;
  for (int64_t b = 0; b < B; ++b) v.insert(v.end(), kMu.begin(), kMu.end());
  return tensor::from_vector(v, {B, D}, DType::f64);
}

std::vector<double> times_of(const Tensor& t_net) {
  std::vector<double> t = t_net.to(DType::f64).to_vector<double>();
  for (double& x : t) x /= kNetTimeScale;
  return t;
}

// The exact posterior mean of x for data N(μ, I), output in parameterization p.
Denoiser gaussian_teacher(const Schedule& s, Parameterization p) {
  return [&s, p](const Var& z, const Tensor& t_net, const Tensor&) {
    std::vector<double> t = times_of(t_net), a(t.size()), sg(t.size()), s2(t.size());
    for (size_t i = 0; i < t.size(); ++i)
      a[i] = s.alpha(t[i]), sg[i] = s.sigma(t[i]), s2[i] = sg[i] * sg[i];
    const int64_t B = z.size(0);
    Var x0 = Var(per_sample(s2, 2, DType::f64)) * Var(mu_row(B)) + Var(per_sample(a, 2, DType::f64)) * z;
    if (p == Parameterization::x0) return x0;
    Var av(per_sample(a, 2, DType::f64)), sv(per_sample(sg, 2, DType::f64));
    return from_x0_eps(x0, eps_from_x0(z, x0, av, sv), p, av, sv);
  };
}

double max_abs(const Tensor& a, const Tensor& b) {
  auto va = a.contiguous().to(DType::f64).to_vector<double>();
  auto vb = b.contiguous().to(DType::f64).to_vector<double>();
  BOOST_REQUIRE_EQUAL(va.size(), vb.size());
  double m = 0;
  for (size_t i = 0; i < va.size(); ++i) m = std::max(m, std::abs(va[i] - vb[i]));
  return m;
}

double angle(const Schedule& s, double t) { return std::atan2(s.sigma(t), s.alpha(t)); }

// Spec §2.8 T4: x̃ = μ + κ_t (z_t − α_t μ), κ_t = (c₂ − r)/(α'' − r α_t) with
// c₂ = cos(φ' − φ) cos(φ'' − φ'), r = σ''/σ_t.
double kappa(const Schedule& s, double t, double tm, double tn) {
  const double c2 = std::cos(angle(s, tm) - angle(s, t)) * std::cos(angle(s, tn) - angle(s, tm));
  const double r = s.sigma(tn) / s.sigma(t);
  return (c2 - r) / (s.alpha(tn) - r * s.alpha(t));
}

}  // namespace

BOOST_AUTO_TEST_CASE(one_student_step_reproduces_two_teacher_steps) {
  CosineSchedule sch;
  for (Parameterization p : {Parameterization::x0, Parameterization::v, Parameterization::eps}) {
    for (int64_t N : {1, 2, 8, 256}) {
      // Every grid index, at t = 1 too (α = 0; eps is undefined there and skipped).
      std::vector<int64_t> idx;
      for (int64_t i = 1; i <= N; ++i)
        if (!(p == Parameterization::eps && i == N)) idx.push_back(i);
      if (idx.empty()) continue;
      const int64_t B = int64_t(idx.size());
      DistillTimes tm = distill_times(idx, N);
      tensor::Generator g(uint64_t(N) * 7 + 1);
      Tensor z = tensor::randn({B, D}, DType::f64, &g);
      TeacherSteps ts = teacher_two_steps(gaussian_teacher(sch, p), p, sch, z, Tensor(), tm);
      // The student's single step t → t'' with x̃ lands on the teacher's z_t''.
      Tensor student = ddim_step(sch, z, ts.target, tm.t, tm.t_next);
      const double scale = 1 + max_abs(ts.z_next, tensor::zeros_like(ts.z_next));
      BOOST_TEST(max_abs(student, ts.z_next) < 1e-13 * scale,
                 parameterization_name(p) << " N=" << N << ": student step misses by "
                                          << max_abs(student, ts.z_next));
      // Closed form μ + κ (z − α μ), per sample.
      std::vector<double> kap(static_cast<size_t>(B)), a(static_cast<size_t>(B));
      for (size_t b = 0; b < size_t(B); ++b)
        kap[b] = kappa(sch, tm.t[b], tm.t_mid[b], tm.t_next[b]), a[b] = sch.alpha(tm.t[b]);
      Tensor mu = mu_row(B);
      Tensor w = tensor::binary(tensor::BinaryOp::sub, z,
                                tensor::binary(tensor::BinaryOp::mul, per_sample(a, 2, DType::f64), mu));
      Tensor closed = tensor::binary(
          tensor::BinaryOp::add, mu,
          tensor::binary(tensor::BinaryOp::mul, per_sample(kap, 2, DType::f64), w));
      BOOST_TEST(max_abs(ts.target, closed) < 1e-12,
                 parameterization_name(p) << " N=" << N << ": target vs closed form "
                                          << max_abs(ts.target, closed));
    }
  }
}

BOOST_AUTO_TEST_CASE(convex_and_direct_targets_agree_and_last_step_is_the_midpoint_prediction) {
  CosineSchedule sch;
  const int64_t N = 64;
  std::vector<int64_t> idx;
  for (int64_t i = 2; i <= N; ++i) idx.push_back(i);  // t'' > 0: the direct form is defined
  DistillTimes tm = distill_times(idx, N);
  tensor::Generator g(3);
  Tensor z = tensor::randn({int64_t(idx.size()), D}, DType::f64, &g);
  TeacherSteps ts =
      teacher_two_steps(gaussian_teacher(sch, Parameterization::v), Parameterization::v, sch, z,
                        Tensor(), tm);
  BOOST_TEST(max_abs(ts.target, distill_target_direct(sch, z, ts.z_next, tm)) < 1e-10);
  // i = 1: t'' = 0, so w = 1 and x̃ is the teacher's x̂ at the midpoint (the code's special case).
  DistillTimes last = distill_times({1}, N);
  BOOST_TEST(distill_target_weight(sch, last.t[0], last.t_mid[0], last.t_next[0]) == 1.0);
  Tensor z1 = tensor::randn({1, D}, DType::f64, &g);
  TeacherSteps t1 = teacher_two_steps(gaussian_teacher(sch, Parameterization::x0),
                                      Parameterization::x0, sch, z1, Tensor(), last);
  BOOST_TEST(max_abs(t1.target, t1.x0_mid) == 0.0);
  // The weight lies in (0, 1) elsewhere.
  for (size_t b = 0; b < idx.size(); ++b) {
    const double w = distill_target_weight(sch, tm.t[b], tm.t_mid[b], tm.t_next[b]);
    BOOST_TEST((w > 0.0 && w < 1.0), "w = " << w << " at t = " << tm.t[b]);
  }
}

BOOST_AUTO_TEST_CASE(convex_target_is_accurate_in_f32_at_large_n) {
  // At N = 4096 the direct form divides two differences of size ~1/N; the convex form keeps f32
  // accuracy. Both are compared with the f64 target.
  CosineSchedule sch;
  const int64_t N = 4096;
  std::vector<int64_t> idx{2, 100, 2048, 4000, 4096};
  DistillTimes tm = distill_times(idx, N);
  tensor::Generator g(9);
  Tensor z64 = tensor::randn({int64_t(idx.size()), D}, DType::f64, &g);
  Tensor z32 = z64.to(DType::f32);
  auto teacher32 = [&](const Var& z, const Tensor& t_net, const Tensor& l) {
    Var z64v(z.value().to(DType::f64));
    return Var(gaussian_teacher(sch, Parameterization::x0)(z64v, t_net, l).value().to(DType::f32));
  };
  TeacherSteps ref = teacher_two_steps(gaussian_teacher(sch, Parameterization::x0),
                                       Parameterization::x0, sch, z64, Tensor(), tm);
  TeacherSteps f32 = teacher_two_steps(teacher32, Parameterization::x0, sch, z32, Tensor(), tm);
  const double convex_err = max_abs(f32.target, ref.target);
  const double direct_err = max_abs(distill_target_direct(sch, z32, f32.z_next, tm), ref.target);
  BOOST_TEST_MESSAGE("N = 4096, f32 target error: convex " << convex_err << ", direct "
                                                            << direct_err);
  BOOST_TEST(convex_err < 1e-5);
  // What the convex form is for: the direct formula's cancellation costs three orders of
  // magnitude here (measured 3.6e-4 against 8.6e-8).
  BOOST_TEST(direct_err > 10 * convex_err);
}

BOOST_AUTO_TEST_CASE(distill_loss_vanishes_for_a_student_that_predicts_the_target) {
  // A student that outputs the closed-form target x̃ = μ + κ (z − α μ) (converted to v) has zero
  // loss under every weighting; gradients reach the student's inputs but not the teacher.
  CosineSchedule sch;
  const int64_t N = 8, B = 32;
  Var scale(tensor::full({1}, 1.0, DType::f64), true);
  Denoiser student = [&](const Var& z, const Tensor& t_net, const Tensor&) {
    std::vector<double> t = times_of(t_net), k(t.size()), a(t.size()), sg(t.size());
    for (size_t b = 0; b < t.size(); ++b) {
      const int64_t i = std::llround(t[b] * N);
      DistillTimes tm = distill_times({i}, N);
      k[b] = kappa(sch, tm.t[0], tm.t_mid[0], tm.t_next[0]);
      a[b] = sch.alpha(t[b]), sg[b] = sch.sigma(t[b]);
    }
    Var mu(mu_row(z.size(0)));
    Var av(per_sample(a, 2, DType::f64)), sv(per_sample(sg, 2, DType::f64));
    Var x = mu + Var(per_sample(k, 2, DType::f64)) * (z - av * mu) * scale;
    return from_x0_eps(x, eps_from_x0(z, x, av, sv), Parameterization::v, av, sv);
  };
  tensor::Generator g(11);
  Var x0(tensor::randn({B, D}, DType::f64, &g));
  for (LossWeighting w : {LossWeighting::snr_plus_one, LossWeighting::truncated_snr,
                          LossWeighting::x0_mse}) {
    DistillLoss L = distill_loss(student, gaussian_teacher(sch, Parameterization::v),
                                 Parameterization::v, sch, x0, Tensor(), w, N, g);
    BOOST_TEST(L.loss.item() < 1e-24, loss_weighting_name(w) << ": loss " << L.loss.item());
    BOOST_TEST(int64_t(L.times.t.size()) == B);
  }
  // A wrong scale gives a positive loss whose gradient points back to 1.
  scale = Var(tensor::full({1}, 1.1, DType::f64), true);
  DistillLoss L = distill_loss(student, gaussian_teacher(sch, Parameterization::v),
                               Parameterization::v, sch, x0, Tensor(), LossWeighting::snr_plus_one,
                               N, g);
  L.loss.backward();
  BOOST_TEST(L.loss.item() > 1e-6);
  BOOST_TEST(scale.grad().item() > 0.0);
}

BOOST_AUTO_TEST_CASE(distill_times_are_on_the_student_grid) {
  tensor::Generator g(1);
  DistillTimes tm = draw_distill_times(4000, 4, g);
  std::vector<int> count(5, 0);
  for (size_t b = 0; b < tm.t.size(); ++b) {
    const double i = tm.t[b] * 4;
    BOOST_REQUIRE(i == std::round(i));
    BOOST_REQUIRE(tm.t_mid[b] == tm.t[b] - 0.125);
    BOOST_REQUIRE(tm.t_next[b] == tm.t[b] - 0.25);
    count[size_t(i)]++;
  }
  BOOST_TEST(count[0] == 0);
  for (int i = 1; i <= 4; ++i) BOOST_TEST((count[i] > 850 && count[i] < 1150), "i = " << i);
  BOOST_CHECK_EXCEPTION(distill_times({0}, 4), Error,
                        [](const Error& e) { return message_has(e, {"index 0", "1..4"}); });
  BOOST_CHECK_EXCEPTION(
      ddim_step(CosineSchedule(), tensor::zeros({2, 3}, DType::f64),
                tensor::zeros({2, 3}, DType::f64), {0.5}, {0.25}),
      Error, [](const Error& e) { return message_has(e, {"ddim_step", "1 samples"}); });
}
