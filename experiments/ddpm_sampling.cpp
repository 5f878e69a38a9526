#include "experiments/ddpm_sampling.h"

#include <cstdio>
#include <cmath>

#include "autograd/functions.h"
#include "autograd/grad_mode.h"
#include "diffusion/guidance.h"
#include "diffusion/noise.h"
#include "diffusion/sampler.h"
#include "experiments/progress.h"
#include "tensor/factory.h"
#include "tensor/ops.h"

namespace difflab::experiments {

SampleSettings ddpm_sample_settings(const Config& cfg) {
  SampleSettings s;
  s.sampler = cfg.get_string("sample.sampler");
  s.steps = cfg.get_int("sample.steps");
  s.eta = cfg.get_double("sample.eta");
  s.clip_x0 = cfg.get_bool("sample.clip_x0");
  s.batch = cfg.get_int("sample.batch");
  return s;
}

using ag::Var;

Tensor cycle_labels(int64_t n, int64_t num_classes) {
  Tensor t = Tensor::empty({n}, DType::i64);
  int64_t* p = t.data<int64_t>();
  for (int64_t i = 0; i < n; ++i) p[i] = i % num_classes;
  return t;
}

Tensor generate(const DdpmModel& m, int64_t n, const SampleSettings& s) {
  DIFFLAB_CHECK(n > 0, "generate: n must be positive");
  DIFFLAB_CHECK(!s.labels.defined() || s.labels.numel() == n, "generate: ", s.labels.numel(),
                " labels for ", n, " samples");
  DIFFLAB_CHECK(m.num_classes > 0 || s.guidance == 0.0,
                "generate: guidance needs a class-conditional model");
  ag::NoGradGuard ng;
  const bool training = m.module->is_training();
  m.module->eval();
  diffusion::Denoiser net = m.net;
  if (m.num_classes > 0 && s.labels.defined() && s.guidance != 0.0)
    net = diffusion::classifier_free_guidance(m.net, s.guidance, m.num_classes);
  const std::vector<double> times = m.schedule->time_grid(s.steps);
  const diffusion::NoiseSource noise(s.seed);
  const tensor::Device dev = m.module->device();
  std::vector<Tensor> out;
  Progress prog("sample", n, 0, 1);
  for (int64_t i = 0; i < n; i += s.batch) {
    const int64_t b = std::min(s.batch, n - i);
    Tensor labels;
    if (m.num_classes > 0)
      labels = s.labels.defined() ? s.labels.slice(0, i, i + b).to(dev)
                                  : diffusion::null_labels(b, m.num_classes, dev);
    diffusion::VpModel model = diffusion::vp_model(net, m.param, labels);
    if (s.wrap) model = s.wrap(model);
    if (s.clip_x0) {
      model = [inner = model](const Var& z, const diffusion::NoiseLevel& at) {
        diffusion::Denoised d = inner(z, at);
        Var x0 = ag::clamp(d.x0, -1.0, 1.0);
        // ε̂ consistent with the clipped x̂: z = α x̂ + σ ε̂ (σ > 0 wherever a sampler evaluates).
        return diffusion::Denoised{x0, (z - x0 * at.alpha) / at.sigma};
      };
    }
    diffusion::NoiseSource src = noise.offset_by(uint64_t(i));
    Shape shape{b};
    shape.insert(shape.end(), m.sample_shape.begin(), m.sample_shape.end());
    Var z(src.initial(shape, DType::f32, 1.0, dev));
    Var x;
    if (s.sampler == "ddpm") {
      x = diffusion::sample_ddpm(model, *m.schedule, z, times, src);
    } else if (s.sampler == "ddim") {
      x = diffusion::sample_ddim(model, *m.schedule, z, times, s.eta, &src);
    } else if (s.sampler == "euler" || s.sampler == "heun") {
      x = diffusion::sample_ode_vp(model, *m.schedule, z, times,
                                   s.sampler == "euler" ? diffusion::OdeMethod::euler
                                                        : diffusion::OdeMethod::heun);
    } else {
      DIFFLAB_FAIL("generate: unknown sampler '", s.sampler, "' (ddpm, ddim, euler, heun)");
    }
    out.push_back(x.value().to(tensor::Device::cpu()));
    if (s.progress) prog.update(i + b, NAN);
  }
  if (training) m.module->train();
  return out.size() == 1 ? out[0] : tensor::cat(out, 0);
}

}  // namespace difflab::experiments
