#include "experiments/trained_run.h"

#include <cstdio>

#include "autograd/grad_mode.h"
#include "experiments/command_table.h"
#include "experiments/ddpm_sampling.h"
#include "experiments/distill.h"
#include "experiments/distill_eval.h"
#include "experiments/generator_runs.h"
#include "experiments/io.h"
#include "experiments/train_cond.h"
#include "experiments/train_ddpm.h"
#include "experiments/train_drift.h"
#include "experiments/train_flux.h"
#include "nn/safetensors.h"
#include "nn/train_state.h"

namespace difflab::experiments {

namespace {

constexpr uint64_t kDrawStride = 1000003;  // between the noise seeds of eval.seeds draws

void load_weights(TrainedRun& r, nn::Module& m, const std::string& fallback) {
  r.checkpoint = r.checkpoint.empty() ? fallback : r.checkpoint;
  nn::Metadata meta = nn::load_module(r.checkpoint, m);
  if (meta.count("step")) r.step = std::stoll(meta.at("step"));
}

// train-ddpm: the EMA weights, sampled with sample.* and the noise of the run's own evaluations,
// so draw 0 reproduces the run's last figure.
void load_ddpm(TrainedRun& r, const std::string& dir) {
  const DdpmRunSettings rs = ddpm_run_settings(r.cfg);
  r.data = load_dataset(rs.data);
  auto model = std::make_shared<DdpmModel>(make_ddpm_model(rs.model, r.data));
  load_weights(r, *model->module, dir + "/checkpoints/ema.safetensors");
  SampleSettings s = rs.sample;
  s.progress = true;
  r.tag = s.sampler + std::to_string(s.steps);
  r.num_classes = model->num_classes;
  if (r.num_classes > 0) r.guidances = rs.guidance;
  r.eval_n = rs.eval_n, r.grid = rs.grid;
  r.draw = [model, s](int64_t n, double w, int64_t rep) {
    SampleSettings d = s;
    d.guidance = w;
    d.seed += uint64_t(rep) * kDrawStride;
    if (model->num_classes > 0) d.labels = cycle_labels(n, model->num_classes);
    return generate(*model, n, d);
  };
  r.keep_alive = model;
}

// The last student saved in a distill run's folder ("" when none is).
std::string last_student(const DistillSettings& s, const std::string& dir) {
  for (int64_t n = s.end_steps; n < s.start_steps; n *= 2)
    if (file_exists(dir + "/checkpoints/student_" + std::to_string(n) + ".safetensors"))
      return dir + "/checkpoints/student_" + std::to_string(n) + ".safetensors";
  return "";
}

// distill: the last student saved (or --checkpoint's), by DDIM at its step count, on the noise
// of the chain's own evaluations.
void load_student(TrainedRun& r, const std::string& dir) {
  const DistillSettings ds = distill_settings(r.cfg);
  Config tcfg = command_config(ddpm_config(), CommandArgs{}, ds.teacher, true);
  tcfg.put("threads", ds.threads).put("device", ds.device);
  const DdpmRunSettings ts = ddpm_run_settings(tcfg);
  r.data = load_dataset(ts.data);
  auto model = std::make_shared<DdpmModel>(make_ddpm_model(ts.model, r.data));
  if (r.checkpoint.empty()) r.checkpoint = last_student(ds, dir);
  DIFFLAB_CHECK(!r.checkpoint.empty(), "'", dir, "' holds no distilled student yet");
  const nn::Metadata meta = nn::load_module(r.checkpoint, *model->module);
  DIFFLAB_CHECK(meta.count("student_steps"), r.checkpoint, " is not a distilled student");
  if (file_exists(dir + "/checkpoints/state.safetensors"))
    r.step = nn::load_train_state(dir + "/checkpoints/state.safetensors").step;
  const int64_t steps = std::stoll(meta.at("student_steps"));
  r.tag = "student" + std::to_string(steps);
  r.num_classes = model->num_classes;
  r.eval_n = ds.eval.n, r.grid = ds.eval.grid;
  auto eval = std::make_shared<DistillEvalSettings>(ds.eval);
  const uint64_t seed = ds.seed;
  r.draw = [model, eval, seed, steps](int64_t n, double, int64_t rep) {
    return chain_sample(*model, *eval, seed, "ddim", steps, n, rep);
  };
  r.keep_alive = model;
}

// The draws of a network with its own sampler, from the noise of the training's evaluations.
void draw_generator(TrainedRun& r, const GeneratorModel& m, uint64_t train_seed) {
  r.tag = m.sampler_tag;
  const uint64_t seed = generator_eval_seed(train_seed);
  r.draw = [m, seed](int64_t n, double, int64_t rep) {
    ag::NoGradGuard ng;
    tensor::Generator g(seed + uint64_t(rep) * kDrawStride);
    return m.sample(n, g);
  };
  r.keep_alive = m.module;
}

// train-drift and train-flux: the published weights (the EMA when on).
void load_generator(TrainedRun& r, const std::string& dir) {
  const bool drift = r.command == "train-drift";
  const GeneratorRunSettings gs = generator_run_settings(r.cfg);
  r.data = load_dataset(gs.data);
  const tensor::Device device = command_device(r.cfg);
  GeneratorModel m = drift ? make_drift_generator(drift_settings(r.cfg), r.data, device).model
                           : make_flux_field(flux_settings(r.cfg), r.data, device).model;
  load_weights(r, *m.module, dir + "/checkpoints/model.safetensors");
  r.eval_n = gs.eval_n;
  draw_generator(r, m, gs.train.seed);
}

// train-cond: the published weights in eval mode, judged as in training.
void load_cond(TrainedRun& r, const std::string& dir) {
  const CondSettings s = cond_settings(r.cfg);
  const Dataset cond_data = load_dataset(s.run.data);
  r.data = joint_view(cond_data);
  auto model = std::make_shared<CondModel>(make_cond_model(
      s, cond_data.train.size(1), cond_data.train_cond.size(1), command_device(r.cfg)));
  load_weights(r, *model->net, dir + "/checkpoints/model.safetensors");
  model->net->eval();
  const GeneratorTraining t = cond_judging(model, cond_data);
  r.eval_n = s.run.eval_n;
  r.shared_metrics = t.shared_metrics;
  r.extra_metrics = t.extra_metrics;
  draw_generator(r, t.model, s.run.train.seed);
}

}  // namespace

std::string run_command(const nlohmann::json& config) {
  if (config.contains("distill")) return "distill";
  if (config.contains("drift")) return "train-drift";
  if (config.contains("flux")) return "train-flux";
  if (config.contains("cond")) return "train-cond";
  for (const char* k : {"align", "compare", "cdm", "concepts", "implicit", "mem"})
    if (config.contains(k)) return "";
  return "train-ddpm";
}

namespace {
// The command that made the run in `dir` (an error for folders without a model).
std::string command_of(const std::string& dir) {
  DIFFLAB_CHECK(file_exists(dir + "/config.json"), "no run to resume, sample or evaluate in '",
                dir, "' (config.json is missing)");
  const std::string command =
      run_command(nlohmann::json::parse(read_file(dir + "/config.json"), nullptr, false));
  DIFFLAB_CHECK(!command.empty(), "'", dir,
                "' was made by a command that publishes no model "
                "to sample (drift-align, drift-compare, compare-runs, cdm, concepts, implicit or "
                "mem-depth)");
  return command;
}
}  // namespace

Config trained_run_config(const CommandArgs& args, const std::string& dir) {
  Config keys = find_command(command_of(dir))->keys();
  if (!keys.has("eval.seeds"))
    keys.declare_int("eval.seeds", 1, 1, 1000,
                     "independent noise draws per evaluation: metrics are their mean, "
                     "'<metric>_sd' their standard deviation");
  return command_config(keys, args, dir, true);
}

TrainedRun load_trained_run(const Config& cfg, const std::string& dir,
                            const std::string& checkpoint) {
  TrainedRun r;
  r.command = command_of(dir);
  r.cfg = cfg;
  apply_threads(r.cfg);
  r.checkpoint = checkpoint;
  if (r.command == "distill") load_student(r, dir);
  else if (r.command == "train-ddpm") load_ddpm(r, dir);
  else if (r.command == "train-cond")
    load_cond(r, dir);
  else load_generator(r, dir);
  std::fprintf(stderr, "loaded %s (%s run, step %lld)\n", r.checkpoint.c_str(),
               r.command.c_str(), (long long)r.step);
  return r;
}

}  // namespace difflab::experiments
