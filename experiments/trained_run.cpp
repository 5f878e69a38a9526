#include "experiments/trained_run.h"

#include <cstdio>

#include "autograd/grad_mode.h"
#include "experiments/command_table.h"
#include "experiments/ddpm_sampling.h"
#include "experiments/generator_runs.h"
#include "experiments/io.h"
#include "experiments/train_drift.h"
#include "experiments/train_flux.h"
#include "nn/safetensors.h"
#include "nn/train_state.h"

namespace difflab::experiments {

namespace {

constexpr uint64_t kDrawStride = 1000003;  // between the noise seeds of eval.seeds draws

// The guidance weights of sample.guidance ({0} for unconditional models).
std::vector<double> guidances(const Config& cfg, int64_t num_classes) {
  if (num_classes == 0) return {0.0};
  std::vector<double> g = parse_list(cfg.get_string("sample.guidance"), "sample.guidance");
  return g.empty() ? std::vector<double>{0.0} : g;
}

void load_weights(TrainedRun& r, nn::Module& m, const std::string& fallback) {
  r.checkpoint = r.checkpoint.empty() ? fallback : r.checkpoint;
  nn::Metadata meta = nn::load_module(r.checkpoint, m);
  if (meta.count("step")) r.step = std::stoll(meta.at("step"));
}

// train-ddpm: the EMA weights, sampled with sample.* (noise seed + 2000003, as ever).
void load_ddpm(TrainedRun& r, const std::string& dir) {
  auto model = std::make_shared<DdpmModel>(make_ddpm_model(r.cfg, r.data));
  load_weights(r, *model->module, dir + "/checkpoints/ema.safetensors");
  SampleSettings s;
  s.sampler = r.cfg.get_string("sample.sampler");
  s.steps = r.cfg.get_int("sample.steps");
  s.eta = r.cfg.get_double("sample.eta");
  s.clip_x0 = r.cfg.get_bool("sample.clip_x0");
  s.batch = r.cfg.get_int("sample.batch");
  s.seed = uint64_t(r.cfg.get_int("seed")) + 2000003;
  s.progress = true;
  r.tag = s.sampler + std::to_string(s.steps);
  r.num_classes = model->num_classes;
  r.guidances = guidances(r.cfg, r.num_classes);
  r.eval_n = r.cfg.get_int("eval.n"), r.grid = r.cfg.get_int("sample.grid");
  r.draw = [model, s](int64_t n, double w, int64_t rep) {
    SampleSettings d = s;
    d.guidance = w;
    d.seed += uint64_t(rep) * kDrawStride;
    if (model->num_classes > 0) d.labels = cycle_labels(n, model->num_classes);
    return generate(*model, n, d);
  };
  r.keep_alive = model;
}

// distill: the last student saved (or --checkpoint's), by DDIM at its step count, on the noise
// of the chain's own evaluations.
void load_student(TrainedRun& r, const std::string& dir) {
  const std::string teacher = r.cfg.get_string("distill.teacher");
  Config tcfg = command_config(ddpm_config(), CommandArgs{}, teacher, true);
  tcfg.set("threads=" + std::to_string(r.cfg.get_int("threads")));
  tcfg.set("device=" + r.cfg.get_string("device"));
  r.data = load_ddpm_data(tcfg);
  auto model = std::make_shared<DdpmModel>(make_ddpm_model(tcfg, r.data));
  for (int64_t n = r.cfg.get_int("distill.end_steps"); r.checkpoint.empty() &&
                                                       n < r.cfg.get_int("distill.start_steps");
       n *= 2)
    if (file_exists(dir + "/checkpoints/student_" + std::to_string(n) + ".safetensors"))
      r.checkpoint = dir + "/checkpoints/student_" + std::to_string(n) + ".safetensors";
  DIFFLAB_CHECK(!r.checkpoint.empty(), "'", dir, "' holds no distilled student yet");
  const nn::Metadata meta = nn::load_module(r.checkpoint, *model->module);
  DIFFLAB_CHECK(meta.count("student_steps"), r.checkpoint, " is not a distilled student");
  if (file_exists(dir + "/checkpoints/state.safetensors"))
    r.step = nn::load_train_state(dir + "/checkpoints/state.safetensors").step;
  SampleSettings s;
  s.sampler = "ddim";
  s.steps = std::stoll(meta.at("student_steps"));
  s.clip_x0 = r.cfg.get_bool("eval.clip_x0");
  s.batch = r.cfg.get_int("eval.batch");
  s.seed = uint64_t(r.cfg.get_int("seed")) + 4000037;
  r.tag = "student" + std::to_string(s.steps);
  r.num_classes = model->num_classes;
  r.eval_n = r.cfg.get_int("eval.n"), r.grid = r.cfg.get_int("eval.grid");
  r.draw = [model, s](int64_t n, double, int64_t rep) {
    SampleSettings d = s;
    d.seed += uint64_t(rep) * kDrawStride;
    if (model->num_classes > 0) d.labels = cycle_labels(n, model->num_classes);
    return generate(*model, n, d);
  };
  r.keep_alive = model;
}

// train-drift and train-flux: the published weights (the EMA when on), drawn by the model's
// own sampler from the noise of the training's evaluations.
void load_generator(TrainedRun& r, const std::string& dir) {
  GeneratorModel m = r.command == "train-drift" ? make_drift_generator(r.cfg, r.data).model
                                                : make_flux_field(r.cfg, r.data).model;
  load_weights(r, *m.module, dir + "/checkpoints/model.safetensors");
  r.tag = m.sampler_tag;
  r.eval_n = r.cfg.get_int("eval.n");
  const uint64_t seed = generator_eval_seed(r.cfg);
  r.draw = [m, seed](int64_t n, double, int64_t rep) {
    ag::NoGradGuard ng;
    tensor::Generator g(seed + uint64_t(rep) * kDrawStride);
    return m.sample(n, g);
  };
  r.keep_alive = m.module;
}

}  // namespace

std::string run_command(const nlohmann::json& config) {
  if (config.contains("distill")) return "distill";
  if (config.contains("drift")) return "train-drift";
  if (config.contains("flux")) return "train-flux";
  if (config.contains("align") || config.contains("compare")) return "";
  return "train-ddpm";
}

TrainedRun load_trained_run(const CommandArgs& args, const std::string& dir) {
  DIFFLAB_CHECK(file_exists(dir + "/config.json"), "no run to resume, sample or evaluate in '", dir,
                "' (config.json is missing)");
  TrainedRun r;
  r.command = run_command(nlohmann::json::parse(read_file(dir + "/config.json"), nullptr, false));
  DIFFLAB_CHECK(!r.command.empty(), "'", dir, "' was made by a command that publishes no model "
                "to sample (drift-align, drift-compare or compare-runs)");
  Config keys = find_command(r.command)->keys();
  if (!keys.has("eval.seeds"))
    keys.declare_int("eval.seeds", 1, 1, 1000,
                     "independent noise draws per evaluation: metrics are their mean, "
                     "'<metric>_sd' their standard deviation");
  r.cfg = command_config(keys, args, dir, true);
  apply_threads(r.cfg);
  r.checkpoint = args.checkpoint;
  if (r.command == "distill") {
    load_student(r, dir);
  } else {
    r.data = load_ddpm_data(r.cfg);
    if (r.command == "train-ddpm") load_ddpm(r, dir);
    else load_generator(r, dir);
  }
  std::fprintf(stderr, "loaded %s (%s run, step %lld)\n", r.checkpoint.c_str(),
               r.command.c_str(), (long long)r.step);
  return r;
}

}  // namespace difflab::experiments
