#include "diffusion/distill.h"

#include <cmath>

#include "autograd/functions.h"
#include "autograd/grad_mode.h"
#include "tensor/factory.h"
#include "tensor/ops.h"

namespace difflab::diffusion {

namespace {

Tensor add(const Tensor& a, const Tensor& b) { return tensor::binary(tensor::BinaryOp::add, a, b); }
Tensor sub(const Tensor& a, const Tensor& b) { return tensor::binary(tensor::BinaryOp::sub, a, b); }
Tensor mul(const Tensor& a, const Tensor& b) { return tensor::binary(tensor::BinaryOp::mul, a, b); }

std::vector<double> map_times(const Schedule& s, const std::vector<double>& t,
                              double (Schedule::*f)(double) const) {
  std::vector<double> out(t.size());
  for (size_t i = 0; i < t.size(); ++i) out[i] = (s.*f)(t[i]);
  return out;
}

Tensor coef(const std::vector<double>& v, const Tensor& like) {
  return per_sample(v, like.dim(), like.dtype(), like.device());
}

void check_batch(const char* who, const Tensor& z, size_t n) {
  DIFFLAB_CHECK(z.defined() && z.dim() >= 1 && z.size(0) == int64_t(n), who, ": state ",
                z.defined() ? z.desc() : std::string("undefined"), " does not hold the ", n,
                " samples of its times");
}

}  // namespace

DistillTimes distill_times(const std::vector<int64_t>& idx, int64_t N) {
  DIFFLAB_CHECK(N >= 1, "distill_times: student steps N = ", N, " must be >= 1");
  DistillTimes r;
  for (int64_t i : idx) {
    DIFFLAB_CHECK(i >= 1 && i <= N, "distill_times: index ", i, " outside 1..", N);
    r.t.push_back(double(i) / double(N));
    r.t_mid.push_back((double(i) - 0.5) / double(N));
    r.t_next.push_back(double(i - 1) / double(N));
  }
  return r;
}

DistillTimes draw_distill_times(int64_t batch, int64_t N, tensor::Generator& gen) {
  DIFFLAB_CHECK(batch >= 1, "draw_distill_times: batch ", batch, " must be >= 1");
  Tensor i = tensor::randint(1, N + 1, {batch}, &gen);
  const int64_t* p = i.data<int64_t>();
  return distill_times(std::vector<int64_t>(p, p + batch), N);
}

double distill_target_weight(const Schedule& s, double t, double t_mid, double t_next) {
  const double sn = s.sigma(t_next);
  if (sn == 0.0) return 1.0;
  const double rho = s.alpha(t) / s.sigma(t), rho_mid = s.alpha(t_mid) / s.sigma(t_mid),
               rho_next = s.alpha(t_next) / sn;
  return (rho_next - rho_mid) / (rho_next - rho);
}

Tensor ddim_step(const Schedule& s, const Tensor& z, const Tensor& x0, const std::vector<double>& t,
                 const std::vector<double>& to) {
  DIFFLAB_CHECK(t.size() == to.size(), "ddim_step: ", t.size(), " start and ", to.size(),
                " end times");
  check_batch("ddim_step", z, t.size());
  std::vector<double> a_s(t.size()), ratio(t.size()), a_t(t.size());
  for (size_t i = 0; i < t.size(); ++i) {
    const double st = s.sigma(t[i]);
    DIFFLAB_CHECK(st > 0, "ddim_step: sample ", i, " starts at t = ", t[i], " where sigma = 0");
    a_s[i] = s.alpha(to[i]);
    ratio[i] = s.sigma(to[i]) / st;
    a_t[i] = s.alpha(t[i]);
  }
  // α_s x̂ + (σ_s/σ_t)(z − α_t x̂)
  Tensor eps_dir = sub(z, mul(coef(a_t, z), x0));
  return add(mul(coef(a_s, z), x0), mul(coef(ratio, z), eps_dir));
}

Tensor predict_x0(const Denoiser& net, Parameterization p, const Schedule& s, const Tensor& z,
                  const std::vector<double>& t, const Tensor& labels) {
  check_batch("predict_x0", z, t.size());
  ag::NoGradGuard ng;
  Var zv(z);
  Var out = net(zv, net_time_tensor(t, z.dtype(), z.device()), labels);
  DIFFLAB_CHECK(out.shape() == z.shape(), "predict_x0: network output ", out.value().desc(),
                " does not match its input ", z.desc());
  if (p == Parameterization::x0) return out.value();
  Var a(coef(map_times(s, t, &Schedule::alpha), z)), sg(coef(map_times(s, t, &Schedule::sigma), z));
  return to_x0_eps(out, p, zv, a, sg).x0.value();
}

TeacherSteps teacher_two_steps(const Denoiser& teacher, Parameterization p, const Schedule& s,
                               const Tensor& z, const Tensor& labels, const DistillTimes& tm) {
  check_batch("teacher_two_steps", z, tm.t.size());
  TeacherSteps r;
  r.x0_t = predict_x0(teacher, p, s, z, tm.t, labels);
  r.z_mid = ddim_step(s, z, r.x0_t, tm.t, tm.t_mid);
  r.x0_mid = predict_x0(teacher, p, s, r.z_mid, tm.t_mid, labels);
  r.z_next = ddim_step(s, r.z_mid, r.x0_mid, tm.t_mid, tm.t_next);
  std::vector<double> w(tm.t.size()), one_minus(tm.t.size());
  for (size_t i = 0; i < w.size(); ++i) {
    w[i] = distill_target_weight(s, tm.t[i], tm.t_mid[i], tm.t_next[i]);
    one_minus[i] = 1.0 - w[i];
  }
  r.target = add(mul(coef(w, z), r.x0_mid), mul(coef(one_minus, z), r.x0_t));
  return r;
}

Tensor distill_target_direct(const Schedule& s, const Tensor& z, const Tensor& z_next,
                             const DistillTimes& tm) {
  check_batch("distill_target_direct", z, tm.t.size());
  std::vector<double> ratio(tm.t.size()), inv_den(tm.t.size());
  for (size_t i = 0; i < ratio.size(); ++i) {
    ratio[i] = s.sigma(tm.t_next[i]) / s.sigma(tm.t[i]);
    inv_den[i] = 1.0 / (s.alpha(tm.t_next[i]) - ratio[i] * s.alpha(tm.t[i]));
  }
  return mul(coef(inv_den, z), sub(z_next, mul(coef(ratio, z), z)));
}

DistillLoss distill_loss(const Denoiser& student, const Denoiser& teacher, Parameterization p,
                         const Schedule& s, const Var& x0, const Tensor& labels, LossWeighting w,
                         int64_t N, tensor::Generator& gen) {
  DIFFLAB_CHECK(bool(student) && bool(teacher), "distill_loss: empty network callable");
  DIFFLAB_CHECK(x0.dim() >= 1 && x0.size(0) >= 1, "distill_loss: x0 ", x0.value().desc(),
                " needs a non-empty batch dim");
  const int64_t B = x0.size(0);
  DistillLoss r;
  r.times = draw_distill_times(B, N, gen);
  const std::vector<double> a = map_times(s, r.times.t, &Schedule::alpha),
                            sg = map_times(s, r.times.t, &Schedule::sigma);
  const Tensor& x = x0.value();
  Tensor eps = tensor::randn(x.shape(), x.dtype(), &gen, x.device());
  Tensor z = add(mul(coef(a, x), x), mul(coef(sg, x), eps));
  TeacherSteps ts = teacher_two_steps(teacher, p, s, z, labels, r.times);
  // ε̃ consistent with x̃ at z_t (σ_t > 0 since t >= 1/N).
  std::vector<double> inv_s(sg.size());
  for (size_t i = 0; i < sg.size(); ++i) inv_s[i] = 1.0 / sg[i];
  Tensor eps_t = mul(coef(inv_s, x), sub(z, mul(coef(a, x), ts.target)));
  Var out = student(Var(z), net_time_tensor(r.times.t, x.dtype(), x.device()), labels);
  DIFFLAB_CHECK(out.shape() == x.shape(), "distill_loss: student output ", out.value().desc(),
                " does not match x0 ", x.desc());
  r.loss = ag::mean(denoising_loss_per_sample(out, p, Var(ts.target), Var(eps_t), a, sg, w));
  return r;
}

}  // namespace difflab::diffusion
