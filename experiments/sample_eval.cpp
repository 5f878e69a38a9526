// `difflab sample` and `difflab eval`: load a run's EMA weights and config, then sample (grid)
// or compute held-out metrics with any sampler settings given by --set sample.*.
#include <cstdio>

#include <cmath>
#include <map>

#include "experiments/ddpm_eval.h"
#include "experiments/ddpm_report.h"
#include "experiments/ddpm_sampling.h"
#include "experiments/image_grid.h"
#include "experiments/io.h"
#include "experiments/report.h"
#include "experiments/run_folder.h"
#include "experiments/train_ddpm.h"
#include "nn/safetensors.h"

namespace difflab::experiments {

namespace {

struct Loaded {
  Config cfg;
  DdpmData data;
  DdpmModel model;
  std::string tag;  // "ddim50"
  int64_t step = 0;
};

Loaded load_run(const CommandArgs& args, const std::string& dir) {
  Loaded l{run_config(args, dir, true), {}, {}, "", 0};
  apply_threads(l.cfg);
  l.data = load_ddpm_data(l.cfg);
  l.model = make_ddpm_model(l.cfg, l.data);
  RunFolder run(dir);
  std::string ckpt = args.checkpoint.empty() ? run.checkpoint_path("ema") : args.checkpoint;
  nn::Metadata meta = nn::load_module(ckpt, *l.model.module);
  if (meta.count("step")) l.step = std::stoll(meta.at("step"));
  l.tag = l.cfg.get_string("sample.sampler") + std::to_string(l.cfg.get_int("sample.steps"));
  std::fprintf(stderr, "loaded %s (step %lld)\n", ckpt.c_str(), (long long)l.step);
  return l;
}

SampleSettings settings(const Config& cfg, double w) {
  SampleSettings s;
  s.sampler = cfg.get_string("sample.sampler");
  s.steps = cfg.get_int("sample.steps");
  s.eta = cfg.get_double("sample.eta");
  s.clip_x0 = cfg.get_bool("sample.clip_x0");
  s.batch = cfg.get_int("sample.batch");
  s.seed = uint64_t(cfg.get_int("seed")) + 2000003;
  s.guidance = w;
  s.progress = true;
  return s;
}

std::vector<double> guidances(const Loaded& l) {
  if (l.model.num_classes == 0) return {0.0};
  auto g = parse_list(l.cfg.get_string("sample.guidance"), "sample.guidance");
  return g.empty() ? std::vector<double>{0.0} : g;
}

}  // namespace

int run_sample(const CommandArgs& args) {
  const std::string dir = default_run_dir("ddpm", args);
  Loaded l = load_run(args, dir);
  RunFolder run(dir);
  const int64_t n = l.cfg.get_int("sample.grid");
  for (double w : guidances(l)) {
    SampleSettings s = settings(l.cfg, w);
    if (l.model.num_classes > 0) s.labels = cycle_labels(n, l.model.num_classes);
    Tensor x = generate(l.model, n, s);
    std::string name = "sample_" + l.tag + (l.model.num_classes > 0 ? "_w" + format_number(w) : "");
    write_file_atomic(run.sample_path(name),
                      samples_png(l.data, x, n, l.model.num_classes > 0 ? l.model.num_classes : 8));
    nn::save_safetensors(run.path("samples/" + name + ".safetensors"), {{"samples", x}},
                         {{"sampler", l.tag}, {"guidance", format_number(w)}});
    std::printf("%s\n", run.sample_path(name).c_str());
  }
  return 0;
}

int run_eval(const CommandArgs& args) {
  const std::string dir = default_run_dir("ddpm", args);
  Loaded l = load_run(args, dir);
  // eval appends to metrics.csv and rewrites report.html: not while a trainer writes them.
  RunLock lock(dir);
  RunFolder run(dir);
  std::unique_ptr<ImageJudge> judge;
  if (judged_as_images(l.data)) judge = std::make_unique<ImageJudge>(make_image_judge(l.data, l.cfg.get_string("data.name"), l.cfg.get_int("eval.n")));
  const int64_t n = l.cfg.get_int("eval.n");
  std::map<double, std::string> grids;
  for (double w : guidances(l)) {
    SampleSettings s = settings(l.cfg, w);
    if (l.model.num_classes > 0) s.labels = cycle_labels(n, l.model.num_classes);
    Tensor x = generate(l.model, n, s);
    grids[w] = samples_png(l.data, x, l.cfg.get_int("sample.grid"),
                           l.model.num_classes > 0 ? l.model.num_classes : 8);
    Metrics m = sample_metrics(l.data, judge.get(), x, s.labels);
    std::string suffix = "[" + l.tag + "]" + (l.model.num_classes > 0 ? "@w" + format_number(w) : "");
    std::printf("eval %s step %lld %s:", dir.c_str(), (long long)l.step, suffix.c_str());
    for (auto& [k, v] : m) {
      std::printf(" %s=%.5g", k.c_str(), v);
      run.log_metric(l.step, k + suffix, v);
    }
    if (judge) std::printf(" (classifier held-out accuracy %.4f)", judge->classifier.test_accuracy);
    std::printf("\n");
  }
  // The report now shows these rows and this evaluation's samples.
  write_ddpm_report(run, l.cfg, l.data, l.model, judge ? &judge->classifier : nullptr, grids,
                    NAN);
  return 0;
}

}  // namespace difflab::experiments
