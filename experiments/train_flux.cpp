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
  declare_generator_training_keys(c, 5000, 512, 1e-3);
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

FluxField make_flux_field(const Config& cfg, const DdpmData& data) {
  FluxField f;
  nn::MLPGeneratorConfig mc;
  mc.noise_dim = mc.dim = data.train.size(1);
  mc.hidden = cfg.get_int("model.hidden");
  mc.depth = cfg.get_int("model.depth");
  tensor::Generator init(uint64_t(cfg.get_int("seed")) * 7 + 11);
  auto net = std::make_shared<nn::MLPGenerator>(mc, &init);
  net->to(command_device(cfg));
  f.field = [net](const Var& z) { return net->forward(z); };
  f.model.module = net;
  const int64_t steps = cfg.get_int("langevin.steps"), dim = mc.dim;
  const double eps = cfg.get_double("langevin.step_size");
  const double init_std = cfg.get_double("langevin.init_std");
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

int run_train_flux(const CommandArgs& args) {
  const std::string dir = default_run_dir("flux", args);
  Config cfg = command_config(flux_config(), args, dir, args.resume);
  apply_threads(cfg);
  const std::string name = cfg.get_string("data.name");
  DIFFLAB_CHECK(name != "mnist" && name != "fashion_mnist" && name != "color_mnist",
                "train-flux: data.name '", name, "' is an image set; flux matching here fits "
                "vector data (the 2-D toys, ring_mog, or mnist_pca: MNIST in PCA coordinates)");
  DdpmData data = load_ddpm_data(cfg);
  FluxField f = make_flux_field(cfg, data);
  diffusion::FluxOptions fo;
  fo.sigma2 = cfg.get_double("flux.sigma2");
  fo.horizon = cfg.get_double("flux.horizon");
  fo.sim_steps = cfg.get_int("flux.sim_steps");
  GeneratorTraining t;
  t.command = "train-flux";
  t.model = f.model;
  t.loss = [&](const Tensor& batch, tensor::Generator& g) {
    return diffusion::flux_loss(f.field, batch, fo, g);
  };
  t.title = "Flux matching on " + name;
  t.description = "MLP vector field trained by flux matching at σ² = " +
                  format_number(fo.sigma2) + " (H = " + format_number(fo.horizon) + ", S = " +
                  std::to_string(fo.sim_steps) + "); samples by " +
                  std::to_string(cfg.get_int("langevin.steps")) + " Langevin steps of ε = " +
                  format_number(cfg.get_double("langevin.step_size")) + " from N(0, " +
                  format_number(cfg.get_double("langevin.init_std")) + "² I);";
  return train_generator(cfg, args, dir, data, t);
}

}  // namespace difflab::experiments
