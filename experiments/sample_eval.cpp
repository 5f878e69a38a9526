#include "experiments/sample_eval.h"

#include <cmath>
#include <cstdio>
#include <map>

#include "experiments/sample_metrics.h"
#include "experiments/ddpm_report.h"
#include "experiments/ddpm_sampling.h"
#include "experiments/io.h"
#include "experiments/metric_draws.h"
#include "experiments/report.h"
#include "experiments/run_folder.h"
#include "experiments/trained_run.h"
#include "nn/safetensors.h"

namespace difflab::experiments {

namespace {
// "_w<w>" for the guidance weights of class-conditional runs, else "".
std::string guidance_suffix(const TrainedRun& r, double w, const char* mark) {
  return r.num_classes > 0 ? mark + format_number(w) : "";
}
int64_t grid_row(const TrainedRun& r) { return r.num_classes > 0 ? r.num_classes : 8; }
}  // namespace

int run_sample(const CommandArgs& args) {
  const std::string dir = default_run_dir("ddpm", args);
  return sample_run(trained_run_config(args, dir), dir, args.checkpoint);
}

int run_eval(const CommandArgs& args) {
  const std::string dir = default_run_dir("ddpm", args);
  return evaluate_run(trained_run_config(args, dir), dir, args.checkpoint);
}

int sample_run(const Config& cfg, const std::string& dir, const std::string& checkpoint) {
  TrainedRun r = load_trained_run(cfg, dir, checkpoint);
  RunFolder run(dir);
  for (double w : r.guidances) {
    Tensor x = r.draw(r.grid, w, 0);
    const std::string name = "sample_" + r.tag + guidance_suffix(r, w, "_w");
    write_file_atomic(run.sample_path(name), samples_png(r.data, x, r.grid, grid_row(r)));
    nn::save_safetensors(run.path("samples/" + name + ".safetensors"), {{"samples", x}},
                         {{"sampler", r.tag}, {"guidance", format_number(w)}});
    std::printf("%s\n", run.sample_path(name).c_str());
  }
  return 0;
}

int evaluate_run(const Config& cfg, const std::string& dir, const std::string& checkpoint) {
  TrainedRun r = load_trained_run(cfg, dir, checkpoint);
  // eval appends to metrics.csv and rewrites report.html: not while a trainer writes them.
  RunLock lock(dir);
  RunFolder run(dir);
  std::unique_ptr<ImageJudge> judge;
  if (r.shared_metrics && judged_as_images(r.data))
    judge = std::make_unique<ImageJudge>(
        make_image_judge(r.data, r.cfg.get_string("data.name"), r.eval_n));
  const int64_t reps = r.cfg.get_int("eval.seeds");
  std::map<double, std::string> grids;
  for (double w : r.guidances) {
    MetricDraws draws;
    const Tensor labels = r.num_classes > 0 ? cycle_labels(r.eval_n, r.num_classes) : Tensor();
    for (int64_t rep = 0; rep < reps; ++rep) {
      Tensor x = r.draw(r.eval_n, w, rep);
      if (rep == 0) grids[w] = samples_png(r.data, x, r.grid, grid_row(r));
      Metrics m = r.shared_metrics ? sample_metrics(r.data, judge.get(), x, labels) : Metrics{};
      if (r.extra_metrics)
        for (auto& kv : r.extra_metrics(x)) m.push_back(kv);
      draws.add(m);
    }
    const std::string suffix = "[" + r.tag + "]" + guidance_suffix(r, w, "@w");
    std::printf("eval %s step %lld %s%s:", dir.c_str(), (long long)r.step, suffix.c_str(),
                reps > 1 ? (" (mean ± sd of " + std::to_string(reps) + " draws)").c_str() : "");
    draws.log(run, r.step, "", suffix, stdout);
    if (judge)
      std::printf("  (classifier held-out accuracy %.4f)\n", judge->classifier.test_accuracy);
  }
  // A train-ddpm report now shows these rows and this evaluation's samples.
  if (r.command == "train-ddpm") {
    const DdpmRunSettings rs = ddpm_run_settings(r.cfg);
    DdpmModel model = make_ddpm_model(rs.model, r.data);
    const double trained = RunTiming(run, true).get("train_seconds", NAN);
    write_ddpm_report(run, rs, r.cfg.resolved(), r.data, model,
                      judge ? &judge->classifier : nullptr, grids, trained);
  }
  return 0;
}

}  // namespace difflab::experiments
