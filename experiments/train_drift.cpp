#include "experiments/train_drift.h"

#include "autograd/grad_mode.h"
#include "diffusion/drifting.h"
#include "experiments/generator_runs.h"
#include "experiments/lenet.h"
#include "experiments/report.h"
#include "nn/conv_generator.h"
#include "nn/mlp_generator.h"
#include "tensor/ops.h"
#include "tensor/random.h"

namespace difflab::experiments {

using ag::Var;

Config drift_config() {
  Config c;
  declare_generator_training_keys(c, 2000, 2048, 1e-3);
  c.declare_int("model.noise_dim", 32, 1, 4096, "generator input noise dimension")
      .declare_int("model.hidden", 256, 8, 8192, "generator width")
      .declare_int("model.depth", 3, 1, 64, "generator hidden layers (vector data)")
      .declare_int("model.channels", 64, 8, 1024,
                   "image generator channels at its lowest resolution (image data)")
      .declare_string("drift.kernel", "laplace", {"laplace", "gaussian"}, "radial kernel")
      .declare_string("drift.temperatures", "0.05", {},
                      "kernel temperatures τ, comma-separated (fields summed)")
      .declare_bool("drift.double_softmax", true, "normalise over samples and targets (A1)")
      .declare_bool("drift.normalize", false,
                    "normalise distances by their batch mean and each field to unit RMS")
      .declare_int("drift.generated", 2048, 2, 1000000,
                   "generated samples per step (also the negatives)")
      .declare_string("drift.features", "pixels", {"pixels", "lenet"},
                      "image data: the field in pixel space, or in the 84-dim features of the "
                      "LeNet that also judges the samples (then the Fréchet distance is "
                      "measured in the space trained on: optimistic)");
  return c;
}

DriftGenerator make_drift_generator(const Config& cfg, const DdpmData& data) {
  DriftGenerator d;
  tensor::Generator init(uint64_t(cfg.get_int("seed")) * 7 + 11);
  d.noise_dim = cfg.get_int("model.noise_dim");
  if (data.images) {
    nn::ConvGeneratorConfig gc;
    gc.noise_dim = d.noise_dim;
    gc.channels = cfg.get_int("model.channels");
    gc.image_size = data.train.size(2);
    gc.out_channels = data.train.size(1);
    gc.stages = 2;
    auto g = std::make_shared<nn::ConvGenerator>(gc, &init);
    d.forward = [g](const Var& e) { return g->forward(e); };
    d.model.module = g;
  } else {
    nn::MLPGeneratorConfig mc;
    mc.noise_dim = d.noise_dim;
    mc.hidden = cfg.get_int("model.hidden");
    mc.depth = cfg.get_int("model.depth");
    mc.dim = data.train.size(1);
    auto g = std::make_shared<nn::MLPGenerator>(mc, &init);
    d.forward = [g](const Var& e) { return g->forward(e); };
    d.model.module = g;
  }
  d.model.module->to(command_device(cfg));
  auto forward = d.forward;
  auto module = d.model.module;
  const int64_t noise_dim = d.noise_dim;
  d.model.sample = [forward, module, noise_dim](int64_t n, tensor::Generator& g) {
    std::vector<Tensor> parts;
    for (int64_t i = 0; i < n; i += 500)  // bounded memory for image generators
      parts.push_back(forward(Var(tensor::randn({std::min<int64_t>(500, n - i), noise_dim},
                                                tensor::DType::f32, &g, module->device())))
                          .value()
                          .to(tensor::Device::cpu()));
    return parts.size() == 1 ? parts[0] : tensor::cat(parts, 0);
  };
  d.model.sampler_tag = "onestep";
  return d;
}

namespace {

diffusion::DriftFieldOptions field_options(const Config& cfg) {
  diffusion::DriftFieldOptions fopt;
  fopt.kernel = diffusion::parse_drift_kernel(cfg.get_string("drift.kernel"));
  fopt.temperatures = parse_list(cfg.get_string("drift.temperatures"), "drift.temperatures");
  DIFFLAB_CHECK(!fopt.temperatures.empty(), "drift.temperatures: give at least one temperature");
  for (double t : fopt.temperatures)
    DIFFLAB_CHECK(t > 0, "drift.temperatures: ", t, " is not a positive temperature");
  fopt.double_softmax = cfg.get_bool("drift.double_softmax");
  fopt.normalize = cfg.get_bool("drift.normalize");
  return fopt;
}

// Where the field is computed: flattened pixels, or the (frozen) LeNet's features.
std::function<Var(const Var&)> field_features(const Config& cfg, const DdpmData& data) {
  std::shared_ptr<LeNet> lenet;
  if (data.images && cfg.get_string("drift.features") == "lenet") {
    ImageSet tr{data.train, data.train_labels}, te{data.test, data.test_labels};
    lenet = load_or_train_classifier(cfg.get_string("data.name"), tr, te, data.num_classes).net;
    lenet->eval();
    lenet->requires_grad_(false);
    lenet->to(command_device(cfg));
  }
  return [lenet](const Var& x) {
    if (lenet) {
      Var f;
      lenet->forward(x, &f);
      return f;
    }
    return x.dim() == 2 ? x : ag::reshape(x, {x.size(0), x.numel() / x.size(0)});
  };
}

}  // namespace

int run_train_drift(const CommandArgs& args) {
  const std::string dir = default_run_dir("drift", args);
  Config cfg = command_config(drift_config(), args, dir, args.resume);
  apply_threads(cfg);
  const diffusion::DriftFieldOptions fopt = field_options(cfg);
  DdpmData data = load_ddpm_data(cfg);
  DriftGenerator gen = make_drift_generator(cfg, data);
  auto features = field_features(cfg, data);
  const int64_t generated = cfg.get_int("drift.generated");
  GeneratorTraining t;
  t.command = "train-drift";
  t.model = gen.model;
  t.loss = [&](const Tensor& positives, tensor::Generator& g) {
    Var x = gen.forward(Var(tensor::randn({generated, gen.noise_dim}, tensor::DType::f32, &g,
                                          positives.device())));
    Var fx = features(x);
    Tensor fpos;
    {
      ag::NoGradGuard ng;
      fpos = features(Var(positives)).value();
    }
    return diffusion::drifting_loss(fx, diffusion::drifting_field(fx.value(), fpos, fopt));
  };
  t.title = "Drifting one-step generator on " + cfg.get_string("data.name");
  t.description = std::string(data.images ? "convolutional" : "MLP") +
                  " generator; drifting loss (loss = mean ‖V‖²) with the " +
                  diffusion::drift_kernel_name(fopt.kernel) + " kernel at τ = " +
                  cfg.get_string("drift.temperatures") +
                  (fopt.normalize ? " on batch-normalised distances" : " on raw distances") +
                  (data.images ? " in " + cfg.get_string("drift.features") + " space" : "") +
                  ", " + std::to_string(generated) +
                  " generated samples per step; samples take one network evaluation;";
  return train_generator(cfg, args, dir, data, t);
}

}  // namespace difflab::experiments
