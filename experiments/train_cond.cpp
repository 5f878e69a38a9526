#include "experiments/train_cond.h"

#include "autograd/functions.h"
#include "autograd/grad_mode.h"
#include "experiments/io.h"
#include "experiments/metrics/angle_metrics.h"
#include "experiments/report.h"
#include "matching/inner_sampler.h"
#include "nn/safetensors.h"
#include "tensor/factory.h"
#include "tensor/ops.h"
#include "tensor/random.h"

namespace difflab::experiments {

using ag::Var;

Config cond_config() {
  Config c;
  declare_data_keys(c, "cdm2d_yx", {"cdm2d_yx", "cdm5d_yx", "cdm10d_yx", "mnist_rot_yx"});
  declare_train_keys(c, {20000, 1024, 2, 1000000, 1e-4, 0.0, 0.0, 5000, 5000});
  c.declare_int("eval.n", 2000, 16, 10000000, "samples for the held-out metrics (<= data.n_test)")
      .declare_int("model.hidden", 128, 8, 8192, "CondMLP width")
      .declare_int("model.blocks", 3, 1, 64, "CondMLP hidden layers")
      .declare_int("model.time_embed_dim", 32, 4, 1024, "sinusoidal noise-level features")
      .declare_string("model.cond_encoder", "linear", {"linear", "cnn"},
                      "condition input: linear (vectors) or cnn (a flattened 28x28 digit through "
                      "conv32-conv32-pool-conv64-conv64-pool to 128 features)")
      .declare_double("model.encoder_dropout", 0.1, 0.0, 0.9,
                      "cnn encoder: dropout after each pool")
      .declare_double(
          "cond.noise", 0.0, 0.0, 10.0,
          "training only: std of Gaussian noise added to the condition (spec MNIST: 0.05)")
      .declare_double("cond.pixel_dropout", 0.0, 0.0, 0.9,
                      "training only: share of condition entries set to -1 (spec MNIST: 0.1)")
      .declare_string("cond.objective", "ict", {"ict", "ddpm"},
                      "ict: consistency model (MLGD-F's fast sampler); ddpm: conditional DDPM "
                      "(the slow MLGD baseline)")
      .declare_double("ict.sigma_max", 80.0, 1e-3, 1e6,
                      "largest noise level (spec: 10-80x data std)")
      .declare_double("ict.sigma_data", 0.5, 1e-6, 1e6, "sigma_d of the EDM boundary condition")
      .declare_int("ict.s1", 1280, 2, 100000,
                   "largest discretisation of the N(k) curriculum (iCT: 1280; smaller for short runs)")
      .declare_string("diffusion.schedule", "linear", {"linear", "cosine"}, "ddpm: noise schedule")
      .declare_int("sample.steps", 1, 1, 100000,
                   "ict: sampler evaluations along the Karras ladder (K_s); ddpm: DDIM steps");
  return c;
}

CondSettings cond_settings(const Config& cfg) {
  CondSettings s;
  s.run = generator_run_settings(cfg);
  s.hidden = cfg.get_int("model.hidden");
  s.blocks = cfg.get_int("model.blocks");
  s.time_embed_dim = cfg.get_int("model.time_embed_dim");
  s.objective = cfg.get_string("cond.objective");
  s.ict.sigma_max = cfg.get_double("ict.sigma_max");
  s.ict.sigma_data = cfg.get_double("ict.sigma_data");
  s.ict.s1 = cfg.get_int("ict.s1");
  s.ict.validate();
  s.schedule = cfg.get_string("diffusion.schedule");
  s.sample_steps = cfg.get_int("sample.steps");
  s.image_encoder = cfg.get_string("model.cond_encoder") == "cnn";
  s.encoder_dropout = cfg.get_double("model.encoder_dropout");
  s.cond_noise = cfg.get_double("cond.noise");
  s.cond_pixel_dropout = cfg.get_double("cond.pixel_dropout");
  DIFFLAB_CHECK(s.run.eval_n <= s.run.data.n_test, "train-cond: eval.n (", s.run.eval_n,
                ") must not exceed data.n_test (", s.run.data.n_test, ")");
  return s;
}

namespace {

// The network's noise input for a VP time: the EDM σ = σ_t/α_t of each row's t = t_net/1000.
Tensor edm_sigmas(const diffusion::Schedule& sch, const Tensor& t_net) {
  std::vector<double> t = t_net.to(tensor::DType::f64).to_vector<double>();
  for (double& v : t) v = sch.edm_sigma(v / diffusion::kNetTimeScale);
  return tensor::from_vector(t, {int64_t(t.size())}, t_net.dtype()).to(t_net.device());
}

matching::ConditionalNet vp_net(std::shared_ptr<nn::CondMLP> net,
                                std::shared_ptr<const diffusion::Schedule> sch) {
  return [net, sch](const Var& z, const Tensor& t_net, const Var& cond) {
    return net->forward(z, edm_sigmas(*sch, t_net), cond);
  };
}

diffusion::ConsistencyNet ct_net(std::shared_ptr<nn::CondMLP> net) {
  return [net](const Var& x, const Tensor& sigma, const Var& cond) {
    return net->forward(x, sigma, cond);
  };
}

// K_s consistency evaluations along `ladder`, fresh noise per evaluation from the caller's
// generator; differentiable in the condition.
matching::ConditionalSampler ladder_sampler(diffusion::ConsistencyNet f, std::vector<double> ladder,
                                            diffusion::ConsistencyOptions o, int64_t dim_y) {
  return [f, ladder, o, dim_y](const Var& cond, tensor::Generator& g) {
    std::vector<Tensor> noise;
    for (size_t k = 0; k < ladder.size(); ++k)
      noise.push_back(tensor::randn({cond.size(0), dim_y}, cond.dtype(), &g, cond.device()));
    return diffusion::consistency_sample(f, cond, ladder, noise, o);
  };
}

// The training condition with the spec's MNIST augmentation: Gaussian noise, then entries
// dropped to −1 (black).
Var augment_condition(const Tensor& cond, const CondSettings& s, tensor::Generator& g) {
  Tensor c = cond;
  if (s.cond_noise > 0)
    c = tensor::binary(
        tensor::BinaryOp::add, c,
        tensor::affine(tensor::randn(c.shape(), c.dtype(), &g, c.device()), s.cond_noise, 0.0));
  if (s.cond_pixel_dropout > 0) {
    const Tensor u = tensor::uniform(c.shape(), 0.0, 1.0, c.dtype(), &g, c.device());
    const Tensor p = tensor::full({}, s.cond_pixel_dropout, c.dtype()).to(c.device());
    c = tensor::where(tensor::binary(tensor::BinaryOp::lt, u, p),
                      tensor::full({}, -1.0, c.dtype()).to(c.device()), c);
  }
  return Var(c);
}

// MNIST rotation: how close the sampled angles come to the angles each condition could have.
Metrics rotation_figures(const Tensor& samples, int64_t dx,
                         const std::vector<std::vector<double>>& angle_sets) {
  const AngleFigures f =
      angle_figures(samples.slice(1, dx, samples.size(1)).contiguous(), angle_sets);
  return {{"angle_hit15", f.hit}, {"angle_gap_median", f.median_gap}, {"angle_norm", f.mean_norm}};
}

}  // namespace

matching::ConditionalSampler CondModel::sampler(int64_t steps, bool checkpoint) const {
  const int64_t dim_y = net->config().dim;
  if (s.objective == "ddpm") {
    matching::UnrolledDdim u{vp_net(net, schedule), diffusion::Parameterization::eps, schedule,
                             steps, dim_y, checkpoint};
    return matching::unrolled_ddim_sampler(u);
  }
  return ladder_sampler(ct_net(net), diffusion::consistency_ladder(steps, s.ict), s.ict, dim_y);
}

matching::InnerSampler CondModel::inner_sampler(int64_t steps) const {
  if (!s.image_encoder) return sampler(steps);
  DIFFLAB_CHECK(s.objective == "ict", "train-cond: an image-conditioned ", s.objective,
                " model has no MLGD-F inner sampler (ict only)");
  const diffusion::ConsistencyNet f = [n = net](const Var& x, const Tensor& sigma,
                                                const Var& features) {
    return n->forward_encoded(x, sigma, features);
  };
  return {ladder_sampler(f, diffusion::consistency_ladder(steps, s.ict), s.ict, net->config().dim),
          [n = net](const Var& cond) { return n->encode_condition(cond); }};
}

Var CondModel::loss(const Var& y, const Var& cond, int64_t step, int64_t total,
                    tensor::Generator& g) const {
  if (s.objective == "ict") return diffusion::ict_loss(ct_net(net), y, cond, step, total, g, s.ict).loss;
  // ε-prediction DDPM loss of the conditional network at per-row times.
  const int64_t b = y.size(0);
  const std::vector<double> t = schedule->sample_times(b, g);
  std::vector<double> a(t.size()), sg(t.size());
  for (size_t i = 0; i < t.size(); ++i) a[i] = schedule->alpha(t[i]), sg[i] = schedule->sigma(t[i]);
  const Var eps(tensor::randn(y.shape(), y.dtype(), &g, y.device()));
  const Var z = y * Var(diffusion::per_sample(a, 2, y.dtype(), y.device())) +
                eps * Var(diffusion::per_sample(sg, 2, y.dtype(), y.device()));
  const Tensor t_net = diffusion::net_time_tensor(t, y.dtype(), y.device());
  return ag::mean(ag::square(vp_net(net, schedule)(z, t_net, cond) - eps));
}

CondModel make_cond_model(const CondSettings& s, int64_t dim_y, int64_t dim_x,
                          const tensor::Device& device) {
  nn::CondMLPConfig mc;
  mc.dim = dim_y, mc.cond_dim = dim_x, mc.hidden = s.hidden, mc.blocks = s.blocks;
  mc.time_embed_dim = s.time_embed_dim;
  if (s.image_encoder) {
    nn::CondEncoderConfig e;
    e.dropout = s.encoder_dropout;
    DIFFLAB_CHECK(dim_x == e.input_dim(), "train-cond: model.cond_encoder=cnn reads 28x28 digits (",
                  e.input_dim(), " condition entries) but ", s.run.data.name, " has ", dim_x);
    mc.encoder = e;
  }
  tensor::Generator init(s.run.train.seed * 7 + 11);
  CondModel m;
  m.net = std::make_shared<nn::CondMLP>(mc, &init);
  m.net->to(device);
  m.s = s;
  if (s.objective == "ddpm") m.schedule = diffusion::make_schedule(s.schedule);
  return m;
}

CondModel load_cond_run(const std::string& dir, const tensor::Device& device) {
  const std::string weights = dir + "/checkpoints/model.safetensors";
  DIFFLAB_CHECK(file_exists(weights), "no trained train-cond model in '", dir, "' (", weights,
                " is missing)");
  CommandArgs none;
  const CondSettings s = cond_settings(command_config(cond_config(), none, dir, true));
  const Dataset data = load_dataset(s.run.data);
  CondModel m = make_cond_model(s, data.train.size(1), data.train_cond.size(1), device);
  nn::load_module(weights, *m.net);
  m.net->eval();  // the image encoder's dropout
  return m;
}

Dataset joint_view(const Dataset& cond_data) {
  Dataset data = cond_data;
  data.train = tensor::cat({cond_data.train_cond, cond_data.train}, 1);
  data.test = tensor::cat({cond_data.test_cond, cond_data.test}, 1);
  data.reference = tensor::cat({cond_data.reference_cond, cond_data.reference}, 1);
  return data;
}

GeneratorTraining cond_judging(std::shared_ptr<CondModel> model, const Dataset& cond_data) {
  const CondSettings& s = model->s;
  const int64_t dx = cond_data.train_cond.size(1);
  GeneratorTraining t;
  t.command = "train-cond";
  t.model.module = model->net;
  const Tensor ref_x = cond_data.reference_cond;
  t.model.sample = [model, ref_x, steps = s.sample_steps](int64_t n, tensor::Generator& g) {
    ag::NoGradGuard ng;
    const bool training = model->net->is_training();
    model->net->eval();  // the image encoder's dropout
    const Tensor x = ref_x.slice(0, 0, n).to(model->net->device());
    const Var y = model->sampler(steps)(Var(x), g);
    if (training) model->net->train();
    return tensor::cat({x, y.value()}, 1).to(tensor::Device::cpu());
  };
  t.model.sampler_tag = (s.objective == "ict" ? "ladder" : "ddim") + std::to_string(s.sample_steps);
  if (!cond_data.reference_angle_sets.empty()) {
    t.extra_metrics = [dx, sets = cond_data.reference_angle_sets](const Tensor& x) {
      return rotation_figures(x, dx, sets);
    };
    t.extra_keys = {"angle_hit15", "angle_gap_median", "angle_norm"};
    t.shared_metrics = false;
  }
  return t;
}

int train_cond(const Config& cfg, const std::string& dir, bool resume) {
  apply_threads(cfg);
  const CondSettings s = cond_settings(cfg);
  const Dataset cond_data = load_dataset(s.run.data);
  const int64_t dx = cond_data.train_cond.size(1), dy = cond_data.train.size(1);
  auto model = std::make_shared<CondModel>(make_cond_model(s, dy, dx, command_device(cfg)));
  GeneratorTraining t = cond_judging(model, cond_data);
  const int64_t total = s.run.train.loop.updates;
  t.loss = [model, dx, total](const Tensor& batch, tensor::Generator& g, int64_t step) {
    const Var cond = augment_condition(batch.slice(1, 0, dx).contiguous(), model->s, g);
    const Var y(batch.slice(1, dx, batch.size(1)).contiguous());
    return model->loss(y, cond, step, total, g);
  };
  t.title = "Conditional " + std::string(s.objective == "ict" ? "consistency model" : "DDPM") +
            " of Y | X on " + s.run.data.name;
  t.description = s.objective == "ict"
                      ? "CondMLP trained by improved consistency training (σ_max " +
                            format_number(s.ict.sigma_max) + ", σ_d " + format_number(s.ict.sigma_data) +
                            "), sampled in " + std::to_string(s.sample_steps) + " evaluations;"
                      : "CondMLP ε-prediction DDPM (" + s.schedule + " schedule), sampled by " +
                            std::to_string(s.sample_steps) + " DDIM steps;";
  t.description +=
      t.shared_metrics
          ? " judged as [X | Y] pairs, Y drawn for the X of an independent reference draw."
          : " judged by the sampled angles of an independent reference draw of rotated "
            "held-out digits: the share within 15 degrees of one of the angles the "
            "image could have (angle_hit15), the median gap, and the mean length of "
            "(cos, sin).";
  return train_generator(s.run, cfg.resolved(), dir, resume, joint_view(cond_data), t);
}

int run_train_cond(const CommandArgs& args) {
  const std::string dir = default_run_dir("cond", args);
  return train_cond(command_config(cond_config(), args, dir, args.resume), dir, args.resume);
}

}  // namespace difflab::experiments
