#include "experiments/train_drift.h"

#include "diffusion/drifting.h"
#include "experiments/train_ddpm.h"
#include "experiments/vector_trainer.h"
#include "nn/mlp_generator.h"
#include "tensor/random.h"

namespace difflab::experiments {

using ag::Var;

Config drift_config() {
  Config c;
  declare_vector_training_keys(c, 2000, 2048, 1e-3);
  c.declare_int("model.noise_dim", 32, 1, 4096, "generator input noise dimension")
      .declare_int("model.hidden", 256, 8, 8192, "generator width")
      .declare_int("model.depth", 3, 1, 64, "generator hidden layers")
      .declare_string("drift.kernel", "laplace", {"laplace", "gaussian"}, "radial kernel")
      .declare_string("drift.temperatures", "0.05", {},
                      "kernel temperatures τ, comma-separated (fields summed)")
      .declare_bool("drift.double_softmax", true, "normalise over samples and targets (A1)")
      .declare_bool("drift.normalize", false,
                    "normalise distances by their batch mean and each field to unit RMS")
      .declare_int("drift.generated", 2048, 2, 1000000,
                   "generated samples per step (also the negatives)");
  return c;
}

int run_train_drift(const CommandArgs& args) {
  const std::string dir = default_run_dir("drift", args);
  Config cfg = vector_run_config(drift_config(), args, dir);
  apply_threads(cfg);
  diffusion::DriftFieldOptions fopt;
  fopt.kernel = diffusion::parse_drift_kernel(cfg.get_string("drift.kernel"));
  fopt.temperatures = parse_list(cfg.get_string("drift.temperatures"), "drift.temperatures");
  DIFFLAB_CHECK(!fopt.temperatures.empty(), "drift.temperatures: give at least one temperature");
  for (double t : fopt.temperatures)
    DIFFLAB_CHECK(t > 0, "drift.temperatures: ", t, " is not a positive temperature");
  fopt.double_softmax = cfg.get_bool("drift.double_softmax");
  fopt.normalize = cfg.get_bool("drift.normalize");
  DdpmData data = load_ddpm_data(cfg);
  nn::MLPGeneratorConfig mc;
  mc.noise_dim = cfg.get_int("model.noise_dim");
  mc.hidden = cfg.get_int("model.hidden");
  mc.depth = cfg.get_int("model.depth");
  mc.dim = data.train.size(1);
  tensor::Generator init(uint64_t(cfg.get_int("seed")) * 7 + 11);
  nn::MLPGenerator net(mc, &init);
  const int64_t generated = cfg.get_int("drift.generated");

  VectorTask task;
  task.command = "train-drift";
  task.module = &net;
  task.loss = [&](const Tensor& positives, tensor::Generator& g) {
    Var x = net.forward(Var(tensor::randn({generated, mc.noise_dim}, tensor::DType::f32, &g)));
    return diffusion::drifting_loss(x, diffusion::drifting_field(x.value(), positives, fopt));
  };
  task.sample = [&](int64_t n, tensor::Generator& g) {
    return net.forward(Var(tensor::randn({n, mc.noise_dim}, tensor::DType::f32, &g))).value();
  };
  task.title = "Drifting one-step generator on " + cfg.get_string("data.name");
  task.description = std::string("MLP generator; drifting loss (loss = mean ‖V‖²) with the ") +
                     diffusion::drift_kernel_name(fopt.kernel) + " kernel at τ = " +
                     cfg.get_string("drift.temperatures") + ", " + std::to_string(generated) +
                     " generated samples per step; samples take one network evaluation;";
  return run_vector_training(cfg, args, dir, data, task);
}

}  // namespace difflab::experiments
