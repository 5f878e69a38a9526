#include "diffusion/consistency.h"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <string>

#include "autograd/functions.h"
#include "autograd/grad_mode.h"
#include "diffusion/schedule.h"
#include "tensor/factory.h"

namespace difflab::diffusion {

namespace {

std::string desc_of(const Var& v) { return v.defined() ? v.value().desc() : "undefined"; }

Tensor coef(const std::vector<double>& v, const Var& like) {
  return per_sample(v, like.dim(), like.dtype(), like.device());
}

}  // namespace

void ConsistencyOptions::validate() const {
  DIFFLAB_CHECK(sigma_min > 0 && sigma_max > sigma_min && std::isfinite(sigma_max),
                "ConsistencyOptions: need 0 < sigma_min=", sigma_min, " < sigma_max=", sigma_max);
  DIFFLAB_CHECK(sigma_data > 0 && rho > 0, "ConsistencyOptions: sigma_data=", sigma_data,
                " and rho=", rho, " must be positive");
  DIFFLAB_CHECK(s0 >= 1 && s1 >= s0, "ConsistencyOptions: need 1 <= s0=", s0, " <= s1=", s1);
  DIFFLAB_CHECK(p_std > 0, "ConsistencyOptions: p_std=", p_std, " must be positive");
}

ConsistencyPrecond consistency_precond(double sigma, const ConsistencyOptions& o) {
  const double sd = o.sigma_data, d = sigma - o.sigma_min;
  return {sd * sd / (d * d + sd * sd), sd * d / std::sqrt(sd * sd + sigma * sigma),
          1.0 / std::sqrt(sigma * sigma + sd * sd)};
}

Var consistency_function(const ConsistencyNet& net, const Var& x, const std::vector<double>& sigma,
                         const Var& cond, const ConsistencyOptions& o) {
  DIFFLAB_CHECK(bool(net), "consistency_function: empty network callable");
  DIFFLAB_CHECK(x.defined() && x.dim() >= 1 && x.size(0) >= 1, "consistency_function: x ",
                desc_of(x), " needs a non-empty batch dim");
  const int64_t b = x.size(0);
  DIFFLAB_CHECK(sigma.size() == 1 || int64_t(sigma.size()) == b,
                "consistency_function: ", sigma.size(), " noise levels for a batch of ", b);
  const size_t nb = size_t(b);
  std::vector<double> s(nb), skip(nb), out(nb), in(nb);
  for (size_t i = 0; i < nb; ++i) {
    s[i] = sigma.size() == 1 ? sigma[0] : sigma[i];
    DIFFLAB_CHECK(s[i] >= o.sigma_min && std::isfinite(s[i]), "consistency_function: sigma ", s[i],
                  " below sigma_min ", o.sigma_min, " or not finite");
    const ConsistencyPrecond p = consistency_precond(s[i], o);
    skip[i] = p.c_skip, out[i] = p.c_out, in[i] = p.c_in;
  }
  const Var xin = o.scale_input ? ag::mul(x, Var(coef(in, x))) : x;
  const Var f = net(xin, tensor::from_vector(s, {b}, x.dtype()).to(x.device()), cond);
  DIFFLAB_CHECK(f.defined() && f.shape() == x.shape(), "consistency_function: network output ",
                desc_of(f), " does not match its input ", x.value().desc());
  // At σ = σ_min, c_skip = 1 and c_out = 0 exactly, so f = x bit for bit.
  return ag::add(ag::mul(x, Var(coef(skip, x))), ag::mul(f, Var(coef(out, x))));
}

Var consistency_function(const ConsistencyNet& net, const Var& x, double sigma, const Var& cond,
                         const ConsistencyOptions& o) {
  return consistency_function(net, x, std::vector<double>{sigma}, cond, o);
}

std::vector<double> ict_boundaries(int64_t n, const ConsistencyOptions& o) {
  o.validate();
  DIFFLAB_CHECK(n >= 2, "ict_boundaries: N = ", n, " must be >= 2");
  const double lo = std::pow(o.sigma_min, 1.0 / o.rho), hi = std::pow(o.sigma_max, 1.0 / o.rho);
  std::vector<double> s(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i)
    s[size_t(i)] = std::pow(lo + double(i) / double(n - 1) * (hi - lo), o.rho);
  s.front() = o.sigma_min;
  s.back() = o.sigma_max;
  return s;
}

int64_t ict_curriculum_period(int64_t total_steps, const ConsistencyOptions& o) {
  o.validate();
  DIFFLAB_CHECK(total_steps >= 1, "ict_curriculum_period: total steps ", total_steps,
                " must be >= 1");
  const double doublings = std::log2(double(o.s1 / o.s0));
  return std::max<int64_t>(1, int64_t(std::floor(double(total_steps) / (doublings + 1.0))));
}

int64_t ict_num_boundaries(int64_t step, int64_t total_steps, const ConsistencyOptions& o) {
  DIFFLAB_CHECK(step >= 0, "ict_num_boundaries: step ", step, " must be >= 0");
  const int64_t period = ict_curriculum_period(total_steps, o);
  int64_t n = o.s0;
  for (int64_t e = step / period; e > 0 && n < o.s1; --e) n *= 2;
  return std::min(n, o.s1) + 1;
}

std::vector<double> ict_index_probabilities(const std::vector<double>& sig,
                                            const ConsistencyOptions& o) {
  DIFFLAB_CHECK(sig.size() >= 2, "ict_index_probabilities: ", sig.size(), " boundaries, need >= 2");
  const double scale = std::numbers::sqrt2 * o.p_std;
  std::vector<double> p(sig.size() - 1);
  double total = 0;
  for (size_t i = 0; i + 1 < sig.size(); ++i) {
    DIFFLAB_CHECK(sig[i] > 0 && sig[i + 1] > sig[i], "ict_index_probabilities: boundaries ", sig[i],
                  ", ", sig[i + 1], " must be positive and increasing");
    p[i] = std::erf((std::log(sig[i + 1]) - o.p_mean) / scale) -
           std::erf((std::log(sig[i]) - o.p_mean) / scale);
    total += p[i];
  }
  DIFFLAB_CHECK(total > 0, "ict_index_probabilities: no lognormal mass between ", sig.front(),
                " and ", sig.back());
  for (double& v : p) v /= total;
  return p;
}

std::vector<int64_t> draw_ict_indices(int64_t batch, const std::vector<double>& p,
                                      tensor::Generator& gen) {
  DIFFLAB_CHECK(batch >= 1 && !p.empty(), "draw_ict_indices: batch ", batch, " over ", p.size(),
                " indices");
  std::vector<double> cdf(p.size());
  double acc = 0;
  for (size_t i = 0; i < p.size(); ++i) cdf[i] = acc += p[i];
  const std::vector<double> u = tensor::rand({batch}, tensor::DType::f64, &gen).to_vector<double>();
  std::vector<int64_t> idx(static_cast<size_t>(batch));
  for (int64_t b = 0; b < batch; ++b) {
    const auto it = std::upper_bound(cdf.begin(), cdf.end(), u[size_t(b)] * acc);
    idx[size_t(b)] = std::min<int64_t>(int64_t(it - cdf.begin()), int64_t(p.size()) - 1);
  }
  return idx;
}

double pseudo_huber_c(int64_t elements_per_sample) {
  DIFFLAB_CHECK(elements_per_sample >= 1, "pseudo_huber_c: ", elements_per_sample,
                " elements per sample");
  return 0.00054 * std::sqrt(double(elements_per_sample));  // iCT §3.3
}

Var pseudo_huber(const Var& a, const Var& b, double c) {
  DIFFLAB_CHECK(a.defined() && b.defined() && a.shape() == b.shape() && a.dim() >= 1,
                "pseudo_huber: ", desc_of(a), " and ", desc_of(b), " must share a batched shape");
  DIFFLAB_CHECK(c > 0, "pseudo_huber: c = ", c, " must be positive (its gradient at a = b)");
  Var sq = ag::square(ag::sub(a, b));
  if (a.dim() > 1) {
    std::vector<int64_t> dims;
    for (int64_t d = 1; d < a.dim(); ++d) dims.push_back(d);
    sq = ag::sum(sq, dims);
  }
  return ag::affine(ag::sqrt(ag::affine(sq, 1.0, c * c)), 1.0, -c);
}

IctLoss ict_loss_at(const ConsistencyNet& net, const Var& y, const Var& cond, const Tensor& z,
                    const std::vector<double>& boundaries, const std::vector<int64_t>& index,
                    const ConsistencyOptions& o) {
  o.validate();
  DIFFLAB_CHECK(y.defined() && y.dim() >= 1 && y.size(0) >= 1, "ict_loss: data ", desc_of(y),
                " needs a non-empty batch dim");
  DIFFLAB_CHECK(z.defined() && z.shape() == y.shape() && z.dtype() == y.dtype(), "ict_loss: noise ",
                z.defined() ? z.desc() : "undefined", " must match the data ", y.value().desc());
  const int64_t b = y.size(0), n = int64_t(boundaries.size());
  DIFFLAB_CHECK(int64_t(index.size()) == b, "ict_loss: ", index.size(), " indices for a batch of ",
                b);
  IctLoss r;
  r.index = index;
  r.num_boundaries = n;
  std::vector<double> lambda(static_cast<size_t>(b));
  for (int64_t i = 0; i < b; ++i) {
    const int64_t k = index[size_t(i)];
    DIFFLAB_CHECK(k >= 0 && k + 1 < n, "ict_loss: index ", k, " outside 0..", n - 2);
    r.sigma_teacher.push_back(boundaries[size_t(k)]);
    r.sigma_student.push_back(boundaries[size_t(k + 1)]);
    DIFFLAB_CHECK(r.sigma_student.back() > r.sigma_teacher.back(), "ict_loss: boundaries ",
                  r.sigma_teacher.back(), ", ", r.sigma_student.back(), " are not increasing");
    lambda[size_t(i)] = 1.0 / (r.sigma_student.back() - r.sigma_teacher.back());
  }
  const Var zv(z);
  {
    // Teacher: the current weights with stop-gradient (iCT, μ = 0), so no graph is recorded.
    ag::NoGradGuard ng;
    const Var x_lo = ag::add(y, ag::mul(zv, Var(coef(r.sigma_teacher, y))));
    r.teacher = consistency_function(net, x_lo, r.sigma_teacher, cond, o).value();
  }
  const Var x_hi = ag::add(y, ag::mul(zv, Var(coef(r.sigma_student, y))));
  const Var student = consistency_function(net, x_hi, r.sigma_student, cond, o);
  const double c = o.huber_c < 0 ? pseudo_huber_c(y.numel() / b) : o.huber_c;
  const Var lam(tensor::from_vector(lambda, {b}, y.dtype()).to(y.device()));
  r.per_sample = ag::mul(pseudo_huber(student, Var(r.teacher), c), lam);
  r.loss = ag::mean(r.per_sample);
  return r;
}

IctLoss ict_loss(const ConsistencyNet& net, const Var& y, const Var& cond, int64_t step,
                 int64_t total_steps, tensor::Generator& gen, const ConsistencyOptions& o) {
  DIFFLAB_CHECK(y.defined() && y.dim() >= 1 && y.size(0) >= 1, "ict_loss: data ", desc_of(y),
                " needs a non-empty batch dim");
  const int64_t n = ict_num_boundaries(step, total_steps, o);
  const std::vector<double> sig = ict_boundaries(n, o);
  const std::vector<int64_t> idx =
      draw_ict_indices(y.size(0), ict_index_probabilities(sig, o), gen);
  const Tensor z = tensor::randn(y.shape(), y.dtype(), &gen, y.device());
  return ict_loss_at(net, y, cond, z, sig, idx, o);
}

Var repeat_condition(const Var& cond, int64_t n) {
  if (!cond.defined()) return cond;
  DIFFLAB_CHECK(cond.dim() >= 1 && cond.size(0) >= 1 && n % cond.size(0) == 0,
                "repeat_condition: ", cond.value().desc(), " has a row count that does not divide ",
                n, " samples");
  const int64_t m = cond.size(0);
  if (m == n) return cond;
  tensor::Shape wide = cond.shape(), flat = cond.shape();
  wide.insert(wide.begin() + 1, n / m);
  flat[0] = n;
  return ag::reshape(ag::expand(ag::unsqueeze(cond, 1), wide), flat);
}

Var consistency_sample_one_step(const ConsistencyNet& net, const Var& cond, const Tensor& z,
                                const ConsistencyOptions& o) {
  return consistency_sample(net, cond, {o.sigma_max}, {z}, o);
}

Var consistency_sample(const ConsistencyNet& net, const Var& cond,
                       const std::vector<double>& ladder, const std::vector<Tensor>& noise,
                       const ConsistencyOptions& o) {
  o.validate();
  DIFFLAB_CHECK(!ladder.empty() && noise.size() == ladder.size(),
                "consistency_sample: ", ladder.size(), " ladder steps with ", noise.size(),
                " noise tensors");
  for (size_t k = 0; k < ladder.size(); ++k) {
    DIFFLAB_CHECK(ladder[k] > o.sigma_min && ladder[k] <= o.sigma_max &&
                      (k == 0 || ladder[k] < ladder[k - 1]),
                  "consistency_sample: ladder value ", ladder[k], " (step ", k,
                  ") must decrease within (sigma_min, sigma_max] = (", o.sigma_min, ", ",
                  o.sigma_max, "]");
    DIFFLAB_CHECK(noise[k].defined() && noise[k].dim() >= 1 && noise[k].shape() == noise[0].shape(),
                  "consistency_sample: noise ", k, " ",
                  noise[k].defined() ? noise[k].desc() : "undefined", " must match noise 0");
  }
  const Var c = repeat_condition(cond, noise[0].size(0));
  Var x = consistency_function(net, Var(noise[0]) * ladder[0], ladder[0], c, o);
  for (size_t k = 1; k < ladder.size(); ++k) {
    const double t = ladder[k], s = std::sqrt(t * t - o.sigma_min * o.sigma_min);
    x = consistency_function(net, ag::add(x, Var(noise[k]) * s), t, c, o);
  }
  return x;
}

std::vector<double> consistency_ladder(int64_t steps, const ConsistencyOptions& o) {
  DIFFLAB_CHECK(steps >= 1, "consistency_ladder: ", steps, " steps, need >= 1");
  std::vector<double> b = ict_boundaries(steps + 1, o);
  return std::vector<double>(b.rbegin(), b.rend() - 1);
}

}  // namespace difflab::diffusion
