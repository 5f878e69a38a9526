#include "diffusion/denoiser.h"

#include <cmath>

#include "autograd/functions.h"
#include "tensor/factory.h"

namespace difflab::diffusion {

namespace {
void check_batch(const Var& z, const Tensor& labels, const char* who) {
  DIFFLAB_CHECK(z.defined() && z.dim() >= 1, who, ": z must have a batch dim");
  if (labels.defined()) {
    DIFFLAB_CHECK(labels.dtype() == DType::i64 && labels.dim() == 1 && labels.size(0) == z.size(0),
                  who, ": labels must be i64 [", z.size(0), "] to match z ", z.value().desc(),
                  ", got ", labels.desc());
  }
}
}  // namespace

NoiseLevel noise_level(const Schedule& s, double t) { return {t, s.alpha(t), s.sigma(t)}; }

VpModel vp_model(Denoiser net, Parameterization p, Tensor labels) {
  DIFFLAB_CHECK(bool(net), "vp_model: empty network callable");
  return [net = std::move(net), p, labels](const Var& z, const NoiseLevel& at) {
    check_batch(z, labels, "vp_model");
    Var out = net(z, net_time_tensor(at.t, z.size(0), z.dtype(), z.device()), labels);
    DIFFLAB_CHECK(out.shape() == z.shape(), "vp_model: network output ", out.value().desc(),
                  " does not match z ", z.value().desc());
    return to_x0_eps(out, p, z, at.alpha, at.sigma);
  };
}

SigmaDenoiser sigma_denoiser(VpModel model, std::shared_ptr<const Schedule> schedule) {
  DIFFLAB_CHECK(bool(model) && schedule != nullptr, "sigma_denoiser: empty model or schedule");
  return [model = std::move(model), schedule](const Var& x, double sigma_e) {
    DIFFLAB_CHECK(sigma_e > 0 && std::isfinite(sigma_e), "sigma_denoiser: sigma = ", sigma_e,
                  " must be positive and finite");
    const double alpha = 1.0 / std::sqrt(1.0 + sigma_e * sigma_e);
    const NoiseLevel at{schedule->t_from_edm_sigma(sigma_e), alpha, sigma_e * alpha};
    return model(x * alpha, at).x0;
  };
}

SigmaDenoiser edm_denoiser(Denoiser net, Tensor labels, double sigma_data) {
  DIFFLAB_CHECK(bool(net), "edm_denoiser: empty network callable");
  return [net = std::move(net), labels, sigma_data](const Var& x, double sigma) {
    check_batch(x, labels, "edm_denoiser");
    const EdmPrecond c = edm_precond(sigma, sigma_data);
    Var f = net(x * c.c_in, tensor::full({x.size(0)}, c.c_noise, x.dtype(), x.device()), labels);
    DIFFLAB_CHECK(f.shape() == x.shape(), "edm_denoiser: network output ", f.value().desc(),
                  " does not match x ", x.value().desc());
    return x * c.c_skip + f * c.c_out;
  };
}

}  // namespace difflab::diffusion
