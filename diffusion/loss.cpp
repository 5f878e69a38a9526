#include "diffusion/loss.h"

#include <algorithm>
#include <cmath>

#include "autograd/functions.h"
#include "tensor/factory.h"

namespace difflab::diffusion {

const char* loss_weighting_name(LossWeighting w) {
  switch (w) {
    case LossWeighting::snr:
      return "snr";
    case LossWeighting::snr_plus_one:
      return "snr+1";
    case LossWeighting::truncated_snr:
      return "truncated_snr";
    case LossWeighting::x0_mse:
      return "x0_mse";
    case LossWeighting::prediction_mse:
      return "prediction_mse";
  }
  return "?";
}

LossWeighting parse_loss_weighting(const std::string& s) {
  if (s == "snr") return LossWeighting::snr;
  if (s == "snr+1" || s == "snr_plus_one") return LossWeighting::snr_plus_one;
  if (s == "truncated_snr") return LossWeighting::truncated_snr;
  if (s == "x0_mse") return LossWeighting::x0_mse;
  if (s == "prediction_mse") return LossWeighting::prediction_mse;
  DIFFLAB_FAIL("parse_loss_weighting: unknown weighting '", s,
               "' (expected snr, snr+1, truncated_snr, x0_mse or prediction_mse)");
}

double loss_factor(LossWeighting w, Parameterization p, double alpha, double sigma) {
  if (w == LossWeighting::prediction_mse) return 1.0;
  const double a2 = alpha * alpha, s2 = sigma * sigma;
  // w(λ) = num/σ² with num = α², α² + σ², max(α², σ²) or σ²; times the error conversion
  // σ²/α² (eps), σ² (v) or 1 (x0), simplified so that σ² cancels.
  double num = 0;
  switch (w) {
    case LossWeighting::snr:
      num = a2;
      break;
    case LossWeighting::snr_plus_one:
      num = a2 + s2;
      break;
    case LossWeighting::truncated_snr:
      num = std::max(a2, s2);
      break;
    case LossWeighting::x0_mse:
      num = s2;
      break;
    case LossWeighting::prediction_mse:
      break;
  }
  switch (p) {
    case Parameterization::eps:
      return num / a2;
    case Parameterization::v:
      return num;
    case Parameterization::x0:
      return num / s2;
  }
  return 0;
}

Var denoising_loss_per_sample(const Var& out, Parameterization p, const Var& x0, const Var& eps,
                              const std::vector<double>& alpha, const std::vector<double>& sigma,
                              LossWeighting w) {
  const int64_t B = x0.dim() >= 1 ? x0.size(0) : 0;
  DIFFLAB_CHECK(B >= 1 && out.shape() == x0.shape() && eps.shape() == x0.shape() &&
                    int64_t(alpha.size()) == B && int64_t(sigma.size()) == B,
                "denoising_loss: out ", out.value().desc(), ", x0 ", x0.value().desc(), ", eps ",
                eps.value().desc(), " and ", alpha.size(), "/", sigma.size(),
                " alpha/sigma values must share the batch");
  const DType dt = x0.dtype();
  const tensor::Device dev = x0.device();
  Var target = from_x0_eps(x0, eps, p, Var(per_sample(alpha, x0.dim(), dt, dev)),
                           Var(per_sample(sigma, x0.dim(), dt, dev)));
  std::vector<int64_t> dims;
  for (int64_t d = 1; d < x0.dim(); ++d) dims.push_back(d);
  Var err = ag::square(ag::sub(out, target));
  Var mse = dims.empty() ? err : ag::mean(err, dims);  // [B]
  std::vector<double> f(static_cast<size_t>(B));
  for (int64_t b = 0; b < B; ++b)
    f[size_t(b)] = loss_factor(w, p, alpha[size_t(b)], sigma[size_t(b)]);
  return ag::mul(mse, Var(tensor::from_vector(f, {B}, dt).to(dev)));
}

DiffusionLoss diffusion_loss(const Denoiser& net, Parameterization p, const Schedule& schedule,
                             const Var& x0, const Tensor& labels, LossWeighting w,
                             tensor::Generator& gen) {
  DIFFLAB_CHECK(bool(net), "diffusion_loss: empty network callable");
  DIFFLAB_CHECK(x0.dim() >= 1 && x0.size(0) >= 1, "diffusion_loss: x0 ", x0.value().desc(),
                " needs a non-empty batch dim");
  const int64_t B = x0.size(0);
  DiffusionLoss r;
  r.t = schedule.sample_times(B, gen);
  std::vector<double> a(static_cast<size_t>(B)), s(static_cast<size_t>(B));
  for (int64_t b = 0; b < B; ++b) {
    a[size_t(b)] = schedule.alpha(r.t[size_t(b)]);
    s[size_t(b)] = schedule.sigma(r.t[size_t(b)]);
  }
  const DType dt = x0.dtype();
  const tensor::Device dev = x0.device();
  Var eps(tensor::randn(x0.shape(), dt, &gen, dev));
  Var z = ag::add(ag::mul(Var(per_sample(a, x0.dim(), dt, dev)), x0),
                  ag::mul(Var(per_sample(s, x0.dim(), dt, dev)), eps));
  Var out = net(z, net_time_tensor(r.t, dt, dev), labels);
  DIFFLAB_CHECK(out.shape() == x0.shape(), "diffusion_loss: network output ", out.value().desc(),
                " does not match x0 ", x0.value().desc());
  r.per_sample = denoising_loss_per_sample(out, p, x0, eps, a, s, w);
  r.loss = ag::mean(r.per_sample);
  return r;
}

}  // namespace difflab::diffusion
