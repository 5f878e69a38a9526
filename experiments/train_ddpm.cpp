#include "experiments/train_ddpm.h"

#include <cstdio>
#include <map>

#include "diffusion/guidance.h"
#include "experiments/ddpm_eval.h"
#include "experiments/ddpm_report.h"
#include "experiments/ddpm_sampling.h"
#include "experiments/image_grid.h"
#include "experiments/io.h"
#include "experiments/report.h"
#include "experiments/run_folder.h"
#include "experiments/train_loop.h"
#include "experiments/train_settings.h"
#include "nn/safetensors.h"

namespace difflab::experiments {

using ag::Var;

namespace {

std::vector<double> guidance_list(const Config& cfg) {
  std::vector<double> g = parse_list(cfg.get_string("sample.guidance"), "sample.guidance");
  if (g.empty()) g.push_back(0.0);
  return g;
}

SampleSettings settings_from(const Config& cfg) {
  SampleSettings s;
  s.sampler = cfg.get_string("sample.sampler");
  s.steps = cfg.get_int("sample.steps");
  s.eta = cfg.get_double("sample.eta");
  s.clip_x0 = cfg.get_bool("sample.clip_x0");
  s.batch = cfg.get_int("sample.batch");
  s.seed = uint64_t(cfg.get_int("seed")) + 1000003;
  return s;
}

// Samples, metrics and a grid for one guidance weight; logs "<metric>" or "<metric>@w<w>".
Metrics evaluate(RunFolder& run, int64_t step, const Config& cfg, const DdpmData& data,
                 const DdpmModel& model, const ImageJudge* judge, double w, bool tag,
                 std::string* grid_png) {
  SampleSettings s = settings_from(cfg);
  s.guidance = w;
  const int64_t n = cfg.get_int("eval.n");
  if (model.num_classes > 0) s.labels = cycle_labels(n, model.num_classes);
  Tensor samples = generate(model, n, s);
  Metrics m = sample_metrics(data, judge, samples, s.labels);
  std::string suffix = tag ? "@w" + format_number(w) : "";
  for (auto& [k, v] : m) run.log_metric(step, k + suffix, v);
  std::string name = "step" + std::to_string(step) + (tag ? "_w" + format_number(w) : "");
  *grid_png = samples_png(data, samples, cfg.get_int("sample.grid"),
                          model.num_classes > 0 ? model.num_classes : 8);
  write_file_atomic(run.sample_path(name), *grid_png);
  return m;
}

// The metrics and grids of every guidance weight at `step`, printed as they come.
void evaluate_all(RunFolder& run, int64_t step, const Config& cfg, const DdpmData& data,
                  const DdpmModel& model, const ImageJudge* judge,
                  std::map<double, std::string>& grids) {
  std::vector<double> ws = model.num_classes > 0 ? guidance_list(cfg) : std::vector<double>{0};
  for (double w : ws) {
    Metrics m = evaluate(run, step, cfg, data, model, judge, w, ws.size() > 1, &grids[w]);
    std::fprintf(stderr, "\neval @ step %lld%s:", (long long)step,
                 ws.size() > 1 ? (" (guidance " + format_number(w) + ")").c_str() : "");
    for (auto& [k, v] : m) std::fprintf(stderr, " %s %.5g", k.c_str(), v);
    std::fprintf(stderr, "\n");
  }
}

// The diffusion loss of a batch (with label dropout for class-conditional models).
TrainTask ddpm_task(const Config& cfg, const DdpmData& data, const DdpmModel& model) {
  TrainTask task;
  task.command = "train-ddpm";
  task.label = "train";
  task.module = model.module.get();
  const double drop = cfg.get_double("train.label_dropout");
  task.loss = [&data, &model, drop](const Tensor& idx, tensor::Generator& g) {
    const tensor::Device dev = model.module->device();
    Tensor labels;
    if (model.num_classes > 0)
      labels = diffusion::drop_labels(take_rows(data.train_labels, idx).to(dev), drop,
                                      model.num_classes, g);
    return diffusion::diffusion_loss(model.net, model.param, *model.schedule,
                                     Var(take_rows(data.train, idx).to(dev)), labels,
                                     model.weighting, g)
        .loss;
  };
  const int64_t steps = cfg.get_int("train.steps");
  task.lr = nn::warmup_cosine_lr(cfg.get_double("train.lr"),
                                 std::min(cfg.get_int("train.warmup"), steps), steps,
                                 cfg.get_double("train.min_lr"));
  return task;
}

}  // namespace

int run_train_ddpm(const CommandArgs& args) {
  const std::string dir = default_run_dir("ddpm", args);
  Config cfg = command_config(ddpm_config(), args, dir, args.resume);
  apply_threads(cfg);
  // Everything that can be refused is checked before the run folder is touched.
  DdpmData data = load_ddpm_data(cfg);
  DdpmModel model = make_ddpm_model(cfg, data);
  RunLock lock(dir);
  RunFolder run(dir);
  run.write_config(cfg.resolved());
  std::fprintf(stderr, "run folder: %s\n", dir.c_str());
  std::fprintf(stderr, "data: %s\nmodel: %lld parameters, %s schedule, %s prediction\n",
               data.description.c_str(), (long long)model.module->num_parameters(),
               model.schedule->name().c_str(), diffusion::parameterization_name(model.param));
  const std::optional<nn::TrainState> resume = resume_point(run, args.resume);
  RunTiming timing(run, resume.has_value());
  std::unique_ptr<ImageJudge> judge;
  if (judged_as_images(data)) {
    judge = std::make_unique<ImageJudge>(
        make_image_judge(data, cfg.get_string("data.name"), cfg.get_int("eval.n")));
    run.log_metric(0, "classifier_test_accuracy", judge->classifier.test_accuracy);
  }
  TrainTask task = ddpm_task(cfg, data, model);
  std::map<double, std::string> last_grids;
  task.evaluate = [&](int64_t step) {
    evaluate_all(run, step, cfg, data, model, judge.get(), last_grids);
  };
  const std::string config_json = cfg.resolved().dump();
  task.save_weights = [&](int64_t step) {  // the slim EMA weights used by `sample` and `eval`
    nn::save_module(run.checkpoint_path("ema"), *model.module,
                    {{"config", config_json}, {"step", std::to_string(step)}});
  };
  RunCursor cursor = train_cursor(cfg, data.train.size(0));
  if (run_train_loop(task, train_loop_settings(cfg), cursor, {run, config_json, timing},
                     resume ? resume->step : 0, resume ? &*resume : nullptr) == LoopEnd::stopped)
    return 0;
  write_ddpm_report(run, cfg, data, model, judge ? &judge->classifier : nullptr, last_grids,
                    timing.get("train_seconds"));
  std::fprintf(stderr, "report: %s\n", run.path("report.html").c_str());
  return 0;
}

}  // namespace difflab::experiments
