#include "experiments/ddpm_setup.h"

#include <algorithm>
#include <cstdio>
#include <sstream>

#include "experiments/command.h"
#include "experiments/data/color_mnist.h"
#include "experiments/data/fashion_mnist.h"
#include "experiments/data/mnist.h"
#include "experiments/data/pca.h"
#include "experiments/data/ring_mog.h"
#include "experiments/data/toy2d.h"
#include "nn/mlp_score.h"
#include "nn/unet.h"
#include "tensor/factory.h"
#include "tensor/ops.h"
#include "tensor/random.h"

namespace difflab::experiments {

Config ddpm_config() {
  Config c;
  c.declare_string("data.name", "ring8",
                   {"ring8", "checkerboard", "two_moons", "swiss_roll", "ring_mog", "mnist",
                    "color_mnist", "fashion_mnist", "mnist_pca"},
                   "data set (mnist_pca: MNIST as data.pca_dim principal-component coordinates)")
      .declare_int("data.pca_dim", 50, 1, 784, "principal components kept (mnist_pca)")
      .declare_int("data.n_train", 20000, 16, 10000000, "training points (vector data sets)")
      .declare_int("data.n_test", 5000, 16, 10000000, "held-out points (vector data sets)")
      .declare_int("data.dim", 8, 2, 4096, "dimension of ring_mog")
      .declare_int("data.limit_train", 0, 0, 100000000,
                   "use only the first N training images (0 = all; image data sets)")
      .declare_int("model.hidden", 128, 8, 4096, "MLP width (vector data)")
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
                      "loss weighting w(lambda)")
      .declare_int("train.steps", 4000, 1, 100000000, "optimizer steps")
      .declare_int("train.batch", 256, 1, 65536, "batch size")
      .declare_double("train.lr", 1e-3, 0.0, 1.0, "peak learning rate (Adam)")
      .declare_int("train.warmup", 100, 0, 100000000, "linear warm-up steps")
      .declare_double("train.min_lr", 0.0, 0.0, 1.0, "learning rate at the end of the cosine")
      .declare_double("train.grad_clip", 1.0, 0.0, 1e9, "clip the gradient norm (0 = off)")
      .declare_double("train.ema_decay", 0.999, 0.0, 1.0, "EMA decay of the weights")
      .declare_double("train.label_dropout", 0.1, 0.0, 1.0,
                      "probability of training with the null class (class_cond)")
      .declare_int("train.log_every", 50, 1, 100000000, "steps between loss log lines")
      .declare_int("train.checkpoint_every", 1000, 1, 100000000, "steps between checkpoints")
      .declare_int("train.eval_every", 1000, 1, 100000000, "steps between sample metrics")
      .declare_int("train.stop_after", 0, 0, 100000000,
                   "stop (with a checkpoint) after this step, as an interruption would (0 = off)")
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

std::vector<double> parse_list(const std::string& text, const std::string& key) {
  std::vector<double> out;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    if (item.find_first_not_of(" \t") == std::string::npos) continue;
    try {
      size_t used = 0;
      out.push_back(std::stod(item, &used));
      DIFFLAB_CHECK(item.find_first_not_of(" \t", used) == std::string::npos, "");
    } catch (const std::exception&) {
      DIFFLAB_FAIL("config: key '", key, "' expects comma-separated numbers, got '", text, "'");
    }
  }
  return out;
}

std::vector<std::string> parse_names(const std::string& text) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : text + ",") {
    if (c == ',') {
      if (!cur.empty()) out.push_back(cur);
      cur.clear();
    } else if (c != ' ') {
      cur += c;
    }
  }
  return out;
}

DdpmData load_ddpm_data(const Config& cfg) {
  DdpmData d;
  const std::string name = cfg.get_string("data.name");
  const uint64_t seed = uint64_t(cfg.get_int("seed"));
  if (name == "mnist_pca") {
    auto m = load_mnist();
    ImageSet train = m.train, test = m.test;
    const int64_t limit = cfg.get_int("data.limit_train");
    if (limit > 0 && limit < train.size())
      train = subset(train, tensor::arange(0, double(limit), 1, DType::i64));
    auto pca = std::make_shared<Pca>(fit_pca(train.images, cfg.get_int("data.pca_dim")));
    d.train = pca->encode(train.images), d.test = pca->encode(test.images);
    d.train_labels = train.labels, d.test_labels = test.labels;
    d.num_classes = 10;
    // The data-vs-data level of the vector metrics: evenly spaced training rows (independent of
    // the test set; the file order is grouped by class).
    const int64_t nref = std::min(d.train.size(0), d.test.size(0));
    const int64_t stride = d.train.size(0) / nref;
    d.reference = tensor::index_select(
        d.train, 0, tensor::arange(0, double(nref * stride), double(stride), DType::i64));
    d.decode = [pca](const Tensor& coords) { return pca->decode(coords); };
    d.train_images = train.images, d.test_images = test.images, d.image_set = "mnist";
    char kept[32];
    std::snprintf(kept, sizeof kept, "%.1f%%", 100.0 * pca->explained);
    d.description = "mnist_pca: " + std::to_string(train.size()) + " train / " +
                    std::to_string(test.size()) + " held-out images as " +
                    std::to_string(d.train.size(1)) + " principal-component coordinates (" +
                    kept + " of the pixel variance, fitted on the train split)";
    return d;
  }
  if (name == "mnist" || name == "color_mnist" || name == "fashion_mnist") {
    d.images = true;
    ImageSet train, test;
    if (name == "fashion_mnist") {
      auto f = load_fashion_mnist();
      train = f.train, test = f.test;
      d.num_classes = 10;
    } else {
      auto m = load_mnist();
      train = m.train, test = m.test;
      d.num_classes = 10;
      if (name == "color_mnist") {
        ColorMnistOptions opt;
        opt.seed = seed * 5 + 1;
        auto ctr = colorize(m.train, opt);
        opt.seed = seed * 5 + 2;  // held-out colours drawn independently
        auto cte = colorize(m.test, opt);
        train = ctr.set, test = cte.set;
        d.num_classes = ctr.num_classes();
      }
    }
    int64_t limit = cfg.get_int("data.limit_train");
    if (limit > 0 && limit < train.size())
      train = subset(train, tensor::arange(0, double(limit), 1, DType::i64));
    d.train = train.images, d.train_labels = train.labels;
    d.test = test.images, d.test_labels = test.labels;
    d.description = name + ": " + std::to_string(train.size()) + " train / " +
                    std::to_string(test.size()) + " held-out images";
    return d;
  }
  // Vector data: train, held-out and reference sets are independent draws.
  const int64_t ntr = cfg.get_int("data.n_train"), nte = cfg.get_int("data.n_test");
  tensor::Generator g_train(seed * 3 + 1), g_test(seed * 3 + 2), g_ref(seed * 3 + 3);
  if (name == "ring_mog") {
    RingMogParams rp;
    rp.dim = cfg.get_int("data.dim");
    GaussianMixture mix = ring_mog(rp);
    d.train = mix.sample(ntr, g_train), d.test = mix.sample(nte, g_test);
    d.reference = mix.sample(nte, g_ref);
  } else {
    Toy2d kind = parse_toy2d(name);
    d.train = sample_toy2d(kind, ntr, g_train), d.test = sample_toy2d(kind, nte, g_test);
    d.reference = sample_toy2d(kind, nte, g_ref);
  }
  d.description = name + ": " + std::to_string(ntr) + " train / " + std::to_string(nte) +
                  " held-out points in " + std::to_string(d.train.size(1)) + "-D";
  return d;
}

DdpmModel make_ddpm_model(const Config& cfg, const DdpmData& data) {
  DdpmModel m;
  m.param = diffusion::parse_parameterization(cfg.get_string("diffusion.param"));
  m.schedule = diffusion::make_schedule(cfg.get_string("diffusion.schedule"));
  m.weighting = diffusion::parse_loss_weighting(cfg.get_string("diffusion.weighting"));
  const bool cond = cfg.get_bool("model.class_cond");
  DIFFLAB_CHECK(!cond || data.num_classes > 0, "model.class_cond: data set '",
                cfg.get_string("data.name"), "' has no class labels");
  m.num_classes = cond ? data.num_classes : 0;
  tensor::Generator gen(uint64_t(cfg.get_int("seed")) * 7 + 11);
  Shape s = data.train.shape();
  m.sample_shape = Shape(s.begin() + 1, s.end());
  if (data.images) {
    nn::UNetConfig uc;
    uc.in_channels = s[1];
    uc.image_size = s[2];
    uc.base_channels = cfg.get_int("model.base_channels");
    uc.channel_mults.clear();
    for (double v : parse_list(cfg.get_string("model.channel_mults"), "model.channel_mults"))
      uc.channel_mults.push_back(int64_t(v));
    uc.attention_resolutions.clear();
    for (double v : parse_list(cfg.get_string("model.attention_resolutions"),
                               "model.attention_resolutions"))
      uc.attention_resolutions.push_back(int64_t(v));
    uc.num_res_blocks = cfg.get_int("model.num_res_blocks");
    uc.dropout = cfg.get_double("model.dropout");
    uc.num_classes = m.num_classes;
    auto unet = std::make_shared<nn::UNet>(uc, &gen);
    m.module = unet;
    m.net = [unet](const ag::Var& z, const Tensor& t, const Tensor& labels) {
      return unet->forward(z, t, labels);
    };
  } else {
    nn::MLPScoreNetConfig mc;
    mc.dim = s[1];
    mc.hidden = cfg.get_int("model.hidden");
    mc.depth = cfg.get_int("model.depth");
    mc.time_embed_dim = cfg.get_int("model.time_embed_dim");
    mc.num_classes = m.num_classes;
    auto mlp = std::make_shared<nn::MLPScoreNet>(mc, &gen);
    m.module = mlp;
    m.net = [mlp](const ag::Var& z, const Tensor& t, const Tensor& labels) {
      return mlp->forward(z, t, labels);
    };
  }
  m.module->to(command_device(cfg));  // initialised on the CPU: the same weights on every device
  return m;
}

}  // namespace difflab::experiments
