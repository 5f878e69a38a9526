#include "experiments/train_ddpm.h"

#include <cstdio>
#include <map>

#include "diffusion/guidance.h"
#include "experiments/ddpm_report.h"
#include "experiments/image_grid.h"
#include "experiments/io.h"
#include "experiments/report.h"
#include "experiments/run_folder.h"
#include "experiments/sample_metrics.h"
#include "experiments/train_loop.h"
#include "nn/safetensors.h"

namespace difflab::experiments {

using ag::Var;

DdpmRunSettings ddpm_run_settings(const Config& cfg) {
  DdpmRunSettings s;
  s.data = data_settings(cfg);
  s.model = ddpm_model_settings(cfg);
  s.train = train_settings(cfg);
  s.warmup = cfg.get_int("train.warmup");
  s.min_lr = cfg.get_double("train.min_lr");
  s.label_dropout = cfg.get_double("train.label_dropout");
  s.sample = ddpm_sample_settings(cfg);
  s.sample.seed = s.train.seed + 1000003;
  s.guidance = parse_list(cfg.get_string("sample.guidance"), "sample.guidance");
  if (s.guidance.empty()) s.guidance.push_back(0.0);
  s.grid = cfg.get_int("sample.grid");
  s.eval_n = cfg.get_int("eval.n");
  return s;
}

namespace {

// What a train-ddpm run works with, once its settings are read.
struct DdpmRun {
  DdpmRunSettings s;
  Dataset data;
  DdpmModel model;
  std::unique_ptr<ImageJudge> judge;
  std::map<double, std::string> grids;  // the last evaluation's grid per guidance weight
};

// Samples, metrics and a grid for one guidance weight; logs "<metric>" or "<metric>@w<w>".
Metrics evaluate(RunFolder& run, int64_t step, DdpmRun& r, double w, bool tag) {
  SampleSettings s = r.s.sample;
  s.guidance = w;
  const int64_t n = r.s.eval_n, k = r.model.num_classes;
  if (k > 0) s.labels = cycle_labels(n, k);
  Tensor samples = generate(r.model, n, s);
  Metrics m = sample_metrics(r.data, r.judge.get(), samples, s.labels);
  const std::string suffix = tag ? "@w" + format_number(w) : "";
  for (auto& [key, v] : m) run.log_metric(step, key + suffix, v);
  const std::string name = "step" + std::to_string(step) + (tag ? "_w" + format_number(w) : "");
  r.grids[w] = samples_png(r.data, samples, r.s.grid, k > 0 ? k : 8);
  write_file_atomic(run.sample_path(name), r.grids[w]);
  return m;
}

// The metrics and grids of every guidance weight at `step`, printed as they come.
void evaluate_all(RunFolder& run, int64_t step, DdpmRun& r) {
  const std::vector<double> ws = r.model.num_classes > 0 ? r.s.guidance : std::vector<double>{0};
  for (double w : ws) {
    Metrics m = evaluate(run, step, r, w, ws.size() > 1);
    std::fprintf(stderr, "\neval @ step %lld%s:", (long long)step,
                 ws.size() > 1 ? (" (guidance " + format_number(w) + ")").c_str() : "");
    for (auto& [k, v] : m) std::fprintf(stderr, " %s %.5g", k.c_str(), v);
    std::fprintf(stderr, "\n");
  }
}

// The diffusion loss of a batch (with label dropout for class-conditional models), under a
// warm-up + cosine learning rate.
TrainTask ddpm_task(const DdpmRun& r) {
  TrainTask task;
  task.command = "train-ddpm";
  task.label = "train";
  task.module = r.model.module.get();
  const Dataset& data = r.data;
  const DdpmModel& model = r.model;
  const double drop = r.s.label_dropout;
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
  const LoopSettings& l = r.s.train.loop;
  task.lr = nn::warmup_cosine_lr(l.lr, std::min(r.s.warmup, l.updates), l.updates, r.s.min_lr);
  return task;
}

}  // namespace

int train_ddpm(const Config& cfg, const std::string& dir, bool resume) {
  apply_threads(cfg);
  DdpmRun r{ddpm_run_settings(cfg), {}, {}, {}, {}};
  // Everything that can be refused is checked before the run folder is touched.
  r.data = load_dataset(r.s.data);
  r.model = make_ddpm_model(r.s.model, r.data);
  RunLock lock(dir);
  RunFolder run(dir);
  const nlohmann::json config = cfg.resolved();
  run.write_config(config);
  std::fprintf(stderr, "run folder: %s\n", dir.c_str());
  std::fprintf(stderr, "data: %s\nmodel: %lld parameters, %s schedule, %s prediction\n",
               r.data.description.c_str(), (long long)r.model.module->num_parameters(),
               r.model.schedule->name().c_str(), diffusion::parameterization_name(r.model.param));
  const std::optional<nn::TrainState> from = resume_point(run, resume);
  RunTiming timing(run, from.has_value());
  if (judged_as_images(r.data)) {
    r.judge = std::make_unique<ImageJudge>(make_image_judge(r.data, r.s.data.name, r.s.eval_n));
    run.log_metric(0, "classifier_test_accuracy", r.judge->classifier.test_accuracy);
  }
  TrainTask task = ddpm_task(r);
  task.evaluate = [&](int64_t step) { evaluate_all(run, step, r); };
  const std::string config_json = config.dump();
  task.save_weights = [&](int64_t step) {  // the slim EMA weights used by `sample` and `eval`
    nn::save_module(run.checkpoint_path("ema"), *r.model.module,
                    {{"config", config_json}, {"step", std::to_string(step)}});
  };
  RunCursor cursor = train_cursor(r.s.train, r.data.train.size(0));
  if (run_train_loop(task, r.s.train.loop, cursor, {run, config_json, timing},
                     from ? from->step : 0, from ? &*from : nullptr) == LoopEnd::stopped)
    return 0;
  write_ddpm_report(run, r.s, config, r.data, r.model, r.judge ? &r.judge->classifier : nullptr,
                    r.grids, timing.get("train_seconds"));
  std::fprintf(stderr, "report: %s\n", run.path("report.html").c_str());
  return 0;
}

int run_train_ddpm(const CommandArgs& args) {
  const std::string dir = default_run_dir("ddpm", args);
  return train_ddpm(command_config(ddpm_config(), args, dir, args.resume), dir, args.resume);
}

}  // namespace difflab::experiments
