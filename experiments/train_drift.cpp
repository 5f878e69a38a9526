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
  declare_generator_keys(c, 2000, 2048, 1e-3);
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

DriftSettings drift_settings(const Config& cfg) {
  DriftSettings s;
  s.run = generator_run_settings(cfg);
  s.noise_dim = cfg.get_int("model.noise_dim");
  s.hidden = cfg.get_int("model.hidden");
  s.depth = cfg.get_int("model.depth");
  s.channels = cfg.get_int("model.channels");
  diffusion::DriftFieldOptions& f = s.field;
  f.kernel = diffusion::parse_drift_kernel(cfg.get_string("drift.kernel"));
  f.temperatures = parse_list(cfg.get_string("drift.temperatures"), "drift.temperatures");
  DIFFLAB_CHECK(!f.temperatures.empty(), "drift.temperatures: give at least one temperature");
  for (double t : f.temperatures)
    DIFFLAB_CHECK(t > 0, "drift.temperatures: ", t, " is not a positive temperature");
  f.double_softmax = cfg.get_bool("drift.double_softmax");
  f.normalize = cfg.get_bool("drift.normalize");
  s.generated = cfg.get_int("drift.generated");
  s.features = cfg.get_string("drift.features");
  return s;
}

DriftGenerator make_drift_generator(const DriftSettings& s, const Dataset& data,
                                    const tensor::Device& device) {
  DriftGenerator d;
  tensor::Generator init(s.run.train.seed * 7 + 11);
  d.noise_dim = s.noise_dim;
  if (data.images) {
    nn::ConvGeneratorConfig gc;
    gc.noise_dim = d.noise_dim;
    gc.channels = s.channels;
    gc.image_size = data.train.size(2);
    gc.out_channels = data.train.size(1);
    gc.stages = 2;
    auto g = std::make_shared<nn::ConvGenerator>(gc, &init);
    d.forward = [g](const Var& e) { return g->forward(e); };
    d.model.module = g;
  } else {
    nn::MLPGeneratorConfig mc;
    mc.noise_dim = d.noise_dim;
    mc.hidden = s.hidden;
    mc.depth = s.depth;
    mc.dim = data.train.size(1);
    auto g = std::make_shared<nn::MLPGenerator>(mc, &init);
    d.forward = [g](const Var& e) { return g->forward(e); };
    d.model.module = g;
  }
  d.model.module->to(device);
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

// Where the field is computed: flattened pixels, or the (frozen) LeNet's features.
std::function<Var(const Var&)> field_features(const DriftSettings& s, const Dataset& data,
                                              const tensor::Device& device) {
  std::shared_ptr<LeNet> lenet;
  if (data.images && s.features == "lenet") {
    ImageSet tr{data.train, data.train_labels}, te{data.test, data.test_labels};
    lenet = load_or_train_classifier(data.name, tr, te, data.num_classes).net;
    lenet->eval();
    lenet->requires_grad_(false);
    lenet->to(device);
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

std::string describe(const DriftSettings& s, bool images) {
  std::string temperatures;
  for (double t : s.field.temperatures) temperatures += (temperatures.empty() ? "" : ",") + format_number(t);
  return std::string(images ? "convolutional" : "MLP") +
         " generator; drifting loss (loss = mean ‖V‖²) with the " +
         diffusion::drift_kernel_name(s.field.kernel) + " kernel at τ = " + temperatures +
         (s.field.normalize ? " on batch-normalised distances" : " on raw distances") +
         (images ? " in " + s.features + " space" : "") + ", " + std::to_string(s.generated) +
         " generated samples per step; samples take one network evaluation;";
}

}  // namespace

int train_drift(const Config& cfg, const std::string& dir, bool resume) {
  apply_threads(cfg);
  const DriftSettings s = drift_settings(cfg);
  Dataset data = load_dataset(s.run.data);
  const tensor::Device device = command_device(cfg);
  DriftGenerator gen = make_drift_generator(s, data, device);
  auto features = field_features(s, data, device);
  GeneratorTraining t;
  t.command = "train-drift";
  t.model = gen.model;
  t.loss = [&](const Tensor& positives, tensor::Generator& g, int64_t) {
    Var x = gen.forward(Var(tensor::randn({s.generated, gen.noise_dim}, tensor::DType::f32, &g,
                                          positives.device())));
    Var fx = features(x);
    Tensor fpos;
    {
      ag::NoGradGuard ng;
      fpos = features(Var(positives)).value();
    }
    return diffusion::drifting_loss(fx, diffusion::drifting_field(fx.value(), fpos, s.field));
  };
  t.title = "Drifting one-step generator on " + s.run.data.name;
  t.description = describe(s, data.images);
  return train_generator(s.run, cfg.resolved(), dir, resume, data, t);
}

int run_train_drift(const CommandArgs& args) {
  const std::string dir = default_run_dir("drift", args);
  return train_drift(command_config(drift_config(), args, dir, args.resume), dir, args.resume);
}

}  // namespace difflab::experiments
