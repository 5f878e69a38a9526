#include "experiments/ddpm_model.h"

#include <algorithm>

#include "experiments/command.h"
#include "experiments/train_settings.h"
#include "nn/mlp_score.h"
#include "nn/unet.h"
#include "tensor/factory.h"
#include "tensor/ops.h"
#include "tensor/random.h"

namespace difflab::experiments {

Config ddpm_config() {
  Config c;
  declare_data_keys(c, "ring8",
                    {"ring8", "checkerboard", "two_moons", "swiss_roll", "ring_mog", "mnist", "color_mnist",
                     "color_mnist_a", "fashion_mnist", "mnist_pca", "mnist_rot", "cdm2d_x", "cdm5d_x",
                     "cdm10d_x"});
  c.declare_int("model.hidden", 128, 8, 4096, "MLP width (vector data)")
      .declare_int("model.depth", 3, 1, 64, "MLP residual blocks (vector data)")
      .declare_int("model.time_embed_dim", 32, 4, 1024, "sinusoidal time features (MLP)")
      .declare_int("model.base_channels", 32, 4, 512, "U-Net base channels")
      .declare_string("model.channel_mults", "1,2,4", {}, "U-Net channel multipliers per level")
      .declare_int("model.num_res_blocks", 1, 1, 8, "U-Net residual blocks per level")
      .declare_string("model.attention_resolutions", "", {},
                      "U-Net levels with attention, e.g. \"14\" (the middle always has one)")
      .declare_double("model.dropout", 0.0, 0.0, 0.9, "dropout in residual blocks")
      .declare_bool("model.class_cond", false,
                    "condition on the class (with a null class for classifier-free guidance)")
      .declare_string("diffusion.schedule", "linear", {"linear", "cosine"}, "noise schedule")
      .declare_string("diffusion.param", "eps", {"eps", "x0", "v"}, "what the network predicts")
      .declare_string("diffusion.weighting", "prediction_mse",
                      {"prediction_mse", "snr", "snr+1", "truncated_snr", "x0_mse"},
                      "loss weighting w(lambda)");
  declare_train_keys(c, {4000, 256, 1, 65536, 1e-3, 1.0, 0.999, 1000, 1000});
  c.declare_int("train.warmup", 100, 0, 100000000, "linear warm-up steps")
      .declare_double("train.min_lr", 0.0, 0.0, 1.0, "learning rate at the end of the cosine")
      .declare_double("train.label_dropout", 0.1, 0.0, 1.0,
                      "probability of training with the null class (class_cond)")
      .declare_string("sample.sampler", "ddpm", {"ddpm", "ddim", "euler", "heun"}, "sampler")
      .declare_int("sample.steps", 1000, 1, 100000, "sampler steps")
      .declare_double("sample.eta", 0.0, 0.0, 1.0, "DDIM eta (0 = deterministic)")
      .declare_bool("sample.clip_x0", false,
                    "clip the predicted x0 to [-1, 1] at every step (image data)")
      .declare_string("sample.guidance", "0", {},
                      "classifier-free guidance weights, comma-separated (class_cond)")
      .declare_int("sample.grid", 64, 1, 4096, "images in the sample grid")
      .declare_int("sample.batch", 256, 1, 65536, "samples per sampler call")
      .declare_int("eval.n", 2000, 16, 10000000, "samples for the metrics");
  return c;
}

namespace {
std::vector<int64_t> int_list(const std::string& text, const std::string& key) {
  std::vector<int64_t> out;
  for (double v : parse_list(text, key)) out.push_back(int64_t(v));
  return out;
}
}  // namespace

DdpmModelSettings ddpm_model_settings(const Config& cfg) {
  DdpmModelSettings s;
  s.hidden = cfg.get_int("model.hidden");
  s.depth = cfg.get_int("model.depth");
  s.time_embed_dim = cfg.get_int("model.time_embed_dim");
  s.base_channels = cfg.get_int("model.base_channels");
  s.channel_mults = int_list(cfg.get_string("model.channel_mults"), "model.channel_mults");
  s.num_res_blocks = cfg.get_int("model.num_res_blocks");
  s.attention_resolutions =
      int_list(cfg.get_string("model.attention_resolutions"), "model.attention_resolutions");
  s.dropout = cfg.get_double("model.dropout");
  s.class_cond = cfg.get_bool("model.class_cond");
  s.schedule = cfg.get_string("diffusion.schedule");
  s.param = diffusion::parse_parameterization(cfg.get_string("diffusion.param"));
  s.weighting = diffusion::parse_loss_weighting(cfg.get_string("diffusion.weighting"));
  s.seed = uint64_t(cfg.get_int("seed"));
  s.device = command_device(cfg);
  return s;
}

DdpmModel make_ddpm_model(const DdpmModelSettings& ms, const Dataset& data) {
  DdpmModel m;
  m.param = ms.param;
  m.schedule = diffusion::make_schedule(ms.schedule);
  m.weighting = ms.weighting;
  const bool cond = ms.class_cond;
  DIFFLAB_CHECK(!cond || data.num_classes > 0, "model.class_cond: data set '",
                data.name, "' has no class labels");
  m.num_classes = cond ? data.num_classes : 0;
  tensor::Generator gen(ms.seed * 7 + 11);
  Shape s = data.train.shape();
  m.sample_shape = Shape(s.begin() + 1, s.end());
  if (data.images) {
    nn::UNetConfig uc;
    uc.in_channels = s[1];
    uc.image_size = s[2];
    uc.base_channels = ms.base_channels;
    uc.channel_mults = ms.channel_mults;
    uc.attention_resolutions = ms.attention_resolutions;
    uc.num_res_blocks = ms.num_res_blocks;
    uc.dropout = ms.dropout;
    uc.num_classes = m.num_classes;
    auto unet = std::make_shared<nn::UNet>(uc, &gen);
    m.module = unet;
    m.net = [unet](const ag::Var& z, const Tensor& t, const Tensor& labels) {
      return unet->forward(z, t, labels);
    };
  } else {
    nn::MLPScoreNetConfig mc;
    mc.dim = s[1];
    mc.hidden = ms.hidden;
    mc.depth = ms.depth;
    mc.time_embed_dim = ms.time_embed_dim;
    mc.num_classes = m.num_classes;
    auto mlp = std::make_shared<nn::MLPScoreNet>(mc, &gen);
    m.module = mlp;
    m.net = [mlp](const ag::Var& z, const Tensor& t, const Tensor& labels) {
      return mlp->forward(z, t, labels);
    };
  }
  m.module->to(ms.device);  // initialised on the CPU: the same weights on every device
  return m;
}

}  // namespace difflab::experiments
