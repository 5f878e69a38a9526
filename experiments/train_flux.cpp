#include "experiments/train_flux.h"

#include "autograd/grad_mode.h"
#include "diffusion/flux.h"
#include "experiments/generator_runs.h"
#include "experiments/report.h"
#include "nn/mlp_generator.h"
#include "tensor/ops.h"
#include "tensor/random.h"

namespace difflab::experiments {

using ag::Var;

Config flux_config() {
  Config c;
  declare_generator_keys(c, 5000, 512, 1e-3);
  c.declare_int("model.hidden", 128, 8, 8192, "field network width")
      .declare_int("model.depth", 2, 1, 64, "field network hidden layers")
      .declare_double("flux.sigma2", 0.05, 1e-6, 100.0, "smoothing variance σ² of p_σ")
      .declare_double("flux.horizon", 4.0, 1e-3, 1000.0, "H: simulation time t ~ U[0, H]")
      .declare_int("flux.sim_steps", 4, 1, 1000, "S: steps simulating x_t from x_0")
      .declare_int("langevin.steps", 1000, 0, 10000000, "Langevin steps of the sampler")
      .declare_double("langevin.step_size", 0.1, 1e-8, 10.0,
                      "Langevin step ε: x ← x + (ε/2) f(x) + √ε ξ")
      .declare_double("langevin.init_std", 1.0, 0.0, 1000.0, "Langevin start: N(0, init_std² I)")
      .rename("sample.steps", "langevin.steps")
      .rename("sample.step_size", "langevin.step_size")
      .rename("sample.init_std", "langevin.init_std");
  return c;
}

FluxSettings flux_settings(const Config& cfg) {
  FluxSettings s;
  s.run = generator_run_settings(cfg);
  s.hidden = cfg.get_int("model.hidden");
  s.depth = cfg.get_int("model.depth");
  s.flux.sigma2 = cfg.get_double("flux.sigma2");
  s.flux.horizon = cfg.get_double("flux.horizon");
  s.flux.sim_steps = cfg.get_int("flux.sim_steps");
  s.langevin_steps = cfg.get_int("langevin.steps");
  s.step_size = cfg.get_double("langevin.step_size");
  s.init_std = cfg.get_double("langevin.init_std");
  const std::string& name = s.run.data.name;
  DIFFLAB_CHECK(name != "mnist" && name != "fashion_mnist" && name != "color_mnist" &&
                    name != "color_mnist_a",
                "train-flux: data.name '", name, "' is an image set; flux matching here fits "
                "vector data (the 2-D toys, ring_mog, or mnist_pca: MNIST in PCA coordinates)");
  return s;
}

FluxField make_flux_field(const FluxSettings& s, const Dataset& data,
                          const tensor::Device& device) {
  FluxField f;
  nn::MLPGeneratorConfig mc;
  mc.noise_dim = mc.dim = data.train.size(1);
  mc.hidden = s.hidden;
  mc.depth = s.depth;
  tensor::Generator init(s.run.train.seed * 7 + 11);
  auto net = std::make_shared<nn::MLPGenerator>(mc, &init);
  net->to(device);
  f.field = [net](const Var& z) { return net->forward(z); };
  f.model.module = net;
  const int64_t steps = s.langevin_steps, dim = mc.dim;
  const double eps = s.step_size, init_std = s.init_std;
  auto field = f.field;
  f.model.sample = [=](int64_t n, tensor::Generator& g) {
    ag::NoGradGuard ng;
    Tensor x0 = tensor::affine(tensor::randn({n, dim}, tensor::DType::f32, &g, net->device()),
                               init_std, 0.0);
    return diffusion::langevin_sample(field, x0, eps, steps, g).to(tensor::Device::cpu());
  };
  f.model.sampler_tag = "langevin" + std::to_string(steps);
  return f;
}

int train_flux(const Config& cfg, const std::string& dir, bool resume) {
  apply_threads(cfg);
  const FluxSettings s = flux_settings(cfg);
  Dataset data = load_dataset(s.run.data);
  FluxField f = make_flux_field(s, data, command_device(cfg));
  GeneratorTraining t;
  t.command = "train-flux";
  t.model = f.model;
  t.loss = [&](const Tensor& batch, tensor::Generator& g, int64_t) {
    return diffusion::flux_loss(f.field, batch, s.flux, g);
  };
  t.title = "Flux matching on " + s.run.data.name;
  t.description = "MLP vector field trained by flux matching at σ² = " +
                  format_number(s.flux.sigma2) + " (H = " + format_number(s.flux.horizon) +
                  ", S = " + std::to_string(s.flux.sim_steps) + "); samples by " +
                  std::to_string(s.langevin_steps) + " Langevin steps of ε = " +
                  format_number(s.step_size) + " from N(0, " + format_number(s.init_std) +
                  "² I);";
  return train_generator(s.run, cfg.resolved(), dir, resume, data, t);
}

int run_train_flux(const CommandArgs& args) {
  const std::string dir = default_run_dir("flux", args);
  return train_flux(command_config(flux_config(), args, dir, args.resume), dir, args.resume);
}

}  // namespace difflab::experiments
