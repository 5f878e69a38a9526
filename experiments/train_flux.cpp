#include "experiments/train_flux.h"

#include "diffusion/flux.h"
#include "experiments/report.h"
#include "experiments/train_ddpm.h"
#include "experiments/generator_trainer.h"
#include "nn/mlp_generator.h"
#include "tensor/ops.h"
#include "tensor/random.h"

namespace difflab::experiments {

using ag::Var;

Config flux_config() {
  Config c;
  declare_vector_training_keys(c, 5000, 512, 1e-3);
  c.declare_int("model.hidden", 128, 8, 8192, "field network width")
      .declare_int("model.depth", 2, 1, 64, "field network hidden layers")
      .declare_double("flux.sigma2", 0.05, 1e-6, 100.0, "smoothing variance σ² of p_σ")
      .declare_double("flux.horizon", 4.0, 1e-3, 1000.0, "H: simulation time t ~ U[0, H]")
      .declare_int("flux.sim_steps", 4, 1, 1000, "S: steps simulating x_t from x_0")
      .declare_int("sample.steps", 1000, 0, 10000000, "Langevin steps")
      .declare_double("sample.step_size", 0.1, 1e-8, 10.0,
                      "Langevin step ε: x ← x + (ε/2) f(x) + √ε ξ")
      .declare_double("sample.init_std", 1.0, 0.0, 1000.0, "Langevin start: N(0, init_std² I)");
  return c;
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
  // The field network: an MLP from R^D to R^D.
  nn::MLPGeneratorConfig mc;
  mc.noise_dim = mc.dim = data.train.size(1);
  mc.hidden = cfg.get_int("model.hidden");
  mc.depth = cfg.get_int("model.depth");
  tensor::Generator init(uint64_t(cfg.get_int("seed")) * 7 + 11);
  nn::MLPGenerator net(mc, &init);
  diffusion::FluxOptions fo;
  fo.sigma2 = cfg.get_double("flux.sigma2");
  fo.horizon = cfg.get_double("flux.horizon");
  fo.sim_steps = cfg.get_int("flux.sim_steps");
  diffusion::VectorField field = [&net](const Var& z) { return net.forward(z); };

  VectorTask task;
  task.command = "train-flux";
  task.module = &net;
  task.loss = [&](const Tensor& batch, tensor::Generator& g) {
    return diffusion::flux_loss(field, batch, fo, g);
  };
  const int64_t lsteps = cfg.get_int("sample.steps");
  const double eps = cfg.get_double("sample.step_size"), init_std = cfg.get_double("sample.init_std");
  task.sample = [&](int64_t n, tensor::Generator& g) {
    Tensor x0 = tensor::affine(
        tensor::randn({n, mc.dim}, tensor::DType::f32, &g, net.device()), init_std, 0.0);
    return diffusion::langevin_sample(field, x0, eps, lsteps, g);
  };
  task.title = "Flux matching on " + cfg.get_string("data.name");
  task.description = "MLP vector field trained by flux matching at σ² = " +
                     format_number(cfg.get_double("flux.sigma2")) + " (H = " +
                     format_number(cfg.get_double("flux.horizon")) + ", S = " +
                     std::to_string(fo.sim_steps) + "); samples by " + std::to_string(lsteps) +
                     " Langevin steps of ε = " + format_number(cfg.get_double("sample.step_size")) +
                     " from N(0, " + format_number(cfg.get_double("sample.init_std")) + "² I);";
  return run_vector_training(cfg, args, dir, data, task);
}

}  // namespace difflab::experiments
