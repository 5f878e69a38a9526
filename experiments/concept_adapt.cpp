#include "experiments/concept_adapt.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <map>
#include <optional>
#include <regex>

#include "diffusion/guidance.h"
#include "experiments/data/batch_iterator.h"
#include "experiments/io.h"
#include "experiments/run_folder.h"
#include "experiments/train_loop.h"
#include "nn/lora.h"
#include "nn/safetensors.h"
#include "nn/train_state.h"
#include "nn/unet.h"
#include "tensor/factory.h"
#include "tensor/ops.h"
#include "tensor/random.h"

namespace difflab::experiments {

using ag::Var;

bool adapter_target(const std::string& path) {
  static const std::regex re(
      R"(temb\.mlp\.\d+|(.+\.)?res\d*(\.\d+)?\.t|(.+\.)?attn(\.\d+)?\.(qkv|o))");
  return std::regex_match(path, re);
}

namespace {

// ---- fingerprints and named random streams (FNV-1a 64) ----
constexpr uint64_t kFnvBasis = 14695981039346656037ull, kFnvPrime = 1099511628211ull;

uint64_t fnv1a(const void* data, size_t n, uint64_t h = kFnvBasis) {
  const auto* p = static_cast<const unsigned char*>(data);
  for (size_t i = 0; i < n; ++i) h = (h ^ p[i]) * kFnvPrime;
  return h;
}

// A tensor's dtype, shape and bytes (read on the CPU), continuing from h.
uint64_t hash_tensor(const Tensor& t, uint64_t h = kFnvBasis) {
  const Tensor c = t.to(tensor::Device::cpu()).contiguous();
  const std::string head = c.desc();
  return fnv1a(c.raw_data(), c.nbytes(), fnv1a(head.data(), head.size(), h));
}

uint64_t hash_state(const nn::Module& m) {
  uint64_t h = kFnvBasis;
  for (const auto& [name, t] : m.state_dict())
    h = hash_tensor(t, fnv1a(name.data(), name.size(), h));
  return h;
}

std::string hex(uint64_t h) {
  char b[24];
  std::snprintf(b, sizeof b, "%016llx", (unsigned long long)h);
  return b;
}

// The stream `name` of the fit's seed.
tensor::Generator named_stream(uint64_t seed, const std::string& name) {
  return tensor::Generator(fnv1a(name.data(), name.size(), fnv1a(&seed, sizeof seed)));
}

// ---- checks ----
void check_settings(const AdaptSettings& s) {
  DIFFLAB_CHECK(s.steps >= 1 && s.batch >= 1 && s.rank >= 1, "fit_adapter: steps ", s.steps,
                ", batch ", s.batch, " and rank ", s.rank, " must be positive");
  DIFFLAB_CHECK(s.alpha > 0 && s.lr > 0 && s.grad_clip >= 0, "fit_adapter: alpha ", s.alpha,
                " and lr ", s.lr, " must be positive, grad_clip ", s.grad_clip, " >= 0");
  DIFFLAB_CHECK(s.label_dropout >= 0 && s.label_dropout < 1, "fit_adapter: label_dropout ",
                s.label_dropout, " must be in [0, 1)");
  DIFFLAB_CHECK(s.log_every >= 1 && s.checkpoint_every >= 0 && s.stop_after >= 0,
                "fit_adapter: log_every ", s.log_every, " must be positive, checkpoint_every ",
                s.checkpoint_every, " and stop_after ", s.stop_after, " >= 0");
}

nn::UNet& unet_of(const DdpmModel& m) {
  auto* u = dynamic_cast<nn::UNet*>(m.module.get());
  DIFFLAB_CHECK(u, "fit_adapter: the base model's network is not a U-Net (image data only)");
  DIFFLAB_CHECK(m.num_classes > 0 && u->config().num_classes == m.num_classes,
                "fit_adapter: the base model is unconditional (num_classes = ", m.num_classes,
                "); a new class needs a class-conditional U-Net");
  DIFFLAB_CHECK(u->added_classes() == 0, "fit_adapter: make_base() must return a fresh base ",
                "model; this one already has ", u->added_classes(), " added class(es)");
  return *u;
}

void check_pool(const Tensor& pool, const DdpmModel& m) {
  const bool ok = pool.defined() && pool.dtype() == DType::f32 && pool.dim() >= 1 &&
                  pool.size(0) >= 1 &&
                  Shape(pool.shape().begin() + 1, pool.shape().end()) == m.sample_shape;
  DIFFLAB_CHECK(ok, "fit_adapter: pool ", pool.defined() ? pool.desc() : std::string("undefined"),
                " must be f32 [N, ...] of N >= 1 images of the model's sample shape ",
                tensor::shape_str(m.sample_shape));
}

// The new row's start: init ([d] or [1, d], f32) or N(0, 0.02²) from the seed; [d] on the CPU.
Tensor initial_row(const Tensor& init, int64_t d, uint64_t seed) {
  if (!init.defined()) {
    tensor::Generator g = named_stream(seed, "concept_adapt.init_row");
    return tensor::affine(tensor::randn({d}, DType::f32, &g), 0.02, 0.0);
  }
  DIFFLAB_CHECK(init.dtype() == DType::f32 && init.numel() == d &&
                    (init.dim() == 1 || (init.dim() == 2 && init.size(0) == 1)),
                "fit_adapter: init_row ", init.desc(), " must be f32 [", d,
                "] (the U-Net's embed_dim)");
  return init.to(tensor::Device::cpu()).contiguous().reshape({d});
}

// ---- the adapter ----
// LoRA on the adapter targets, then the new row (apply_lora freezes everything under the root,
// so the row must come after it to stay trainable).
AdaptedModel attach_adapter(std::shared_ptr<DdpmModel> base, const Tensor& row,
                            const AdaptSettings& s) {
  nn::UNet& unet = unet_of(*base);
  const tensor::Device dev = unet.device();
  tensor::Generator g = named_stream(s.seed, "concept_adapt.lora");
  AdaptedModel a;
  a.adapted_paths = nn::apply_lora(unet, nn::LoRAConfig{s.rank, s.alpha}, adapter_target, &g);
  a.label = unet.add_class(row);
  unet.to(dev);  // the adapter's tensors are made on the CPU
  a.trainable = unet.num_parameters(true);
  a.model = std::move(base);
  return a;
}

std::map<std::string, Tensor> trainable_tensors(const nn::Module& m) {
  std::map<std::string, Tensor> out;
  for (const auto& [name, p] : m.named_parameters(true)) out[name] = p.value();
  return out;
}

void load_adapter(const std::string& path, const AdaptedModel& a) {
  nn::SafeTensors f = nn::load_safetensors(path);
  const std::map<std::string, Tensor> want = trainable_tensors(*a.model->module);
  for (const auto& [name, t] : want)
    DIFFLAB_CHECK(f.tensors.count(name), "fit_adapter: '", path, "' lacks the adapter tensor '",
                  name, "'");
  DIFFLAB_CHECK(f.tensors.size() == want.size(), "fit_adapter: '", path, "' holds ",
                f.tensors.size(), " tensors, the adapter has ", want.size());
  a.model->module->load_state_dict(f.tensors, /*strict=*/false);
}

// ---- the run folder ----
// What defines the fit (stop_after does not: it only interrupts).
nlohmann::json adapt_config(const AdaptSettings& s, const Tensor& pool, const Tensor& row,
                            uint64_t base_hash, const AdaptedModel& a) {
  return {{"command", "concept-adapt"},
          {"steps", s.steps},
          {"batch", s.batch},
          {"rank", s.rank},
          {"alpha", s.alpha},
          {"lr", s.lr},
          {"label_dropout", s.label_dropout},
          {"grad_clip", s.grad_clip},
          {"checkpoint_every", s.checkpoint_every},
          {"log_every", s.log_every},
          {"seed", s.seed},
          {"pool_shape", pool.shape()},
          {"pool_fnv", hex(hash_tensor(pool))},
          {"init_row_fnv", hex(hash_tensor(row))},
          {"base_fnv", hex(base_hash)},
          {"label", a.label},
          {"trainable", a.trainable}};
}

// Refuses a folder whose config.json describes another fit.
void check_same_fit(const RunFolder& run, const nlohmann::json& config) {
  if (!file_exists(run.path("config.json"))) return;
  const nlohmann::json stored = run.read_config();
  for (auto it = config.begin(); it != config.end(); ++it) {
    const nlohmann::json there = stored.contains(it.key()) ? stored[it.key()] : nlohmann::json();
    DIFFLAB_CHECK(there == it.value(), "fit_adapter: '", run.dir(),
                  "' holds a fit with other settings (", it.key(), ": ", there.dump(), " there, ",
                  it.value().dump(), " now); use another folder");
  }
}

// ---- training ----
// train-ddpm's loss: every pool row has the new label, dropped to the null class with p = drop.
TrainTask adapt_task(const DdpmModel& m, const Tensor& pool, int64_t label, double drop) {
  TrainTask task;
  task.command = "fit_adapter";
  task.label = "adapt";
  task.module = m.module.get();
  task.ema_in_state = EmaInState::when_on;
  task.loss = [&m, &pool, label, drop](const Tensor& idx, tensor::Generator& g) {
    const tensor::Device dev = m.module->device();
    const Tensor labels = diffusion::drop_labels(
        tensor::full({idx.numel()}, double(label), DType::i64, dev), drop, m.num_classes, g);
    return diffusion::diffusion_loss(m.net, m.param, *m.schedule, Var(take_rows(pool, idx).to(dev)),
                                     labels, m.weighting, g)
        .loss;
  };
  return task;
}

LoopSettings loop_settings(const AdaptSettings& s) {
  LoopSettings l;
  l.updates = s.steps;
  l.lr = s.lr;
  l.grad_clip = s.grad_clip;
  l.ema_decay = 0;
  l.log_every = s.log_every;
  l.checkpoint_every = s.checkpoint_every;
  l.stop_after = s.stop_after;
  return l;
}

// Trains (or resumes) the adapter in `run`; true when it finished and wrote adapter.safetensors.
bool train_adapter(const AdaptedModel& a, const Tensor& pool, const AdaptSettings& s,
                   RunFolder& run, const nlohmann::json& config, bool resume) {
  run.write_config(config);
  const std::optional<nn::TrainState> from = resume_point(run, resume);
  if (!from) std::filesystem::remove(run.checkpoint_path("state"));  // an earlier fit's
  RunTiming timing(run, from.has_value());
  TrainTask task = adapt_task(*a.model, pool, a.label, s.label_dropout);
  const std::string config_json = config.dump();
  const int64_t n = pool.size(0);
  RunCursor cursor(
      named_stream(s.seed, "concept_adapt.noise"),
      BatchIterator(n, std::min(s.batch, n), named_stream(s.seed, "concept_adapt.order").seed()),
      named_stream(s.seed, "concept_adapt.dropout"));
  const LoopSettings l = loop_settings(s);
  if (run_train_loop(task, l, cursor, {run, config_json, timing}, from ? from->step : 0,
                     from ? &*from : nullptr) == LoopEnd::stopped)
    return false;
  nn::save_safetensors(run.checkpoint_path("adapter"), trainable_tensors(*a.model->module),
                       {{"config", config_json}, {"label", std::to_string(a.label)}});
  return true;
}

void shift_image(const float* src, float* dst, int64_t c, int64_t h, int64_t w, int64_t dy,
                 int64_t dx) {
  for (int64_t ch = 0; ch < c; ++ch)
    for (int64_t y = std::max<int64_t>(0, dy); y < std::min(h, h + dy); ++y)
      for (int64_t x = std::max<int64_t>(0, dx); x < std::min(w, w + dx); ++x)
        dst[(ch * h + y) * w + x] = src[(ch * h + y - dy) * w + x - dx];
}

}  // namespace

AdaptedModel fit_adapter(const std::function<std::shared_ptr<DdpmModel>()>& make_base,
                         const Tensor& pool, const Tensor& init_row, const AdaptSettings& s,
                         const std::string& dir, bool resume) {
  check_settings(s);
  DIFFLAB_CHECK(bool(make_base), "fit_adapter: make_base is empty");
  std::shared_ptr<DdpmModel> base = make_base();
  DIFFLAB_CHECK(base && base->module, "fit_adapter: make_base() returned no model");
  nn::UNet& unet = unet_of(*base);
  check_pool(pool, *base);
  const Tensor row = initial_row(init_row, unet.embed_dim(), s.seed);
  const uint64_t base_hash = hash_state(unet);
  AdaptedModel a = attach_adapter(std::move(base), row, s);
  const nlohmann::json config = adapt_config(s, pool, row, base_hash, a);
  RunLock lock(dir);
  RunFolder run(dir);
  const std::string adapter = run.checkpoint_path("adapter");
  const bool finished = file_exists(adapter);
  if (finished || resume) check_same_fit(run, config);
  if (finished) {
    load_adapter(adapter, a);
    a.finished = true;
  } else {
    a.finished = train_adapter(a, pool, s, run, config, resume);
  }
  a.model->module->eval();
  return a;
}

Tensor shifted_copies(const Tensor& query, int64_t n, int64_t max_shift, uint64_t seed) {
  DIFFLAB_CHECK(
      query.defined() && query.dtype() == DType::f32 && query.dim() == 4 && query.size(0) == 1,
      "shifted_copies: query ", query.defined() ? query.desc() : std::string("undefined"),
      " must be f32 [1, C, H, W]");
  const int64_t c = query.size(1), h = query.size(2), w = query.size(3);
  DIFFLAB_CHECK(n >= 1, "shifted_copies: n = ", n, " must be positive");
  DIFFLAB_CHECK(max_shift >= 0 && max_shift < std::min(h, w),
                "shifted_copies: max_shift = ", max_shift, " must be in [0, ", std::min(h, w),
                ") for a ", h, "x", w, " image");
  tensor::Generator g = named_stream(seed, "concept_adapt.shifts");
  const std::vector<int64_t> d =
      tensor::randint(-max_shift, max_shift + 1, {n, 2}, &g).to_vector<int64_t>();
  const Tensor q = query.to(tensor::Device::cpu()).contiguous();
  Tensor out = tensor::full({n, c, h, w}, -1.0);
  for (int64_t i = 0; i < n; ++i)
    shift_image(q.data<float>(), out.data<float>() + i * c * h * w, c, h, w, d[size_t(2 * i)],
                d[size_t(2 * i + 1)]);
  return out;
}

}  // namespace difflab::experiments
