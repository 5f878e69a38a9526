#include "experiments/generator_runs.h"

#include <cstdio>
#include <map>

#include "autograd/grad_mode.h"
#include "experiments/sample_metrics.h"
#include "experiments/io.h"
#include "experiments/metric_draws.h"
#include "experiments/report.h"
#include "experiments/run_folder.h"
#include "experiments/train_loop.h"
#include "nn/safetensors.h"

namespace difflab::experiments {

void declare_generator_keys(Config& c, int64_t default_steps, int64_t default_batch,
                            double default_lr) {
  declare_data_keys(c, "checkerboard",
                    {"ring8", "checkerboard", "two_moons", "swiss_roll", "ring_mog", "mnist",
                     "fashion_mnist", "mnist_pca"});
  declare_train_keys(c, {default_steps, default_batch, 2, 1000000, default_lr, 0.0, 0.0, 500, 500});
  c.declare_int("eval.n", 2000, 16, 10000000, "samples for the held-out metrics");
}

GeneratorRunSettings generator_run_settings(const Config& cfg) {
  return {data_settings(cfg), train_settings(cfg), cfg.get_int("eval.n")};
}

uint64_t generator_eval_seed(uint64_t seed) { return seed * 19 + 2000003; }

namespace {

// Held-out metrics of eval.n fresh samples at `step` (the same draws every time), logged and
// printed; the scatter plot or grid kept for the report.
void evaluate(RunFolder& run, int64_t step, const GeneratorRunSettings& s, const Dataset& data,
              const ImageJudge* judge, const GeneratorTraining& t,
              std::map<int64_t, std::string>& pngs) {
  const GeneratorModel& model = t.model;
  ag::NoGradGuard ng;
  tensor::Generator eval_gen(generator_eval_seed(s.train.seed));
  Tensor x = model.sample(s.eval_n, eval_gen).to(tensor::Device::cpu());
  Metrics m = t.shared_metrics ? sample_metrics(data, judge, x, Tensor(), step == 0) : Metrics{};
  if (data.decode && step == 0)  // the best this space allows: train images projected, decoded
    for (auto& [k, v] : image_sample_metrics(*judge, data.decode(data.reference)))
      if (k == "frechet") m.emplace_back("frechet_pca_reconstruction", v);
  if (t.extra_metrics)
    for (auto& kv : t.extra_metrics(x)) m.push_back(kv);
  std::fprintf(stderr, "\neval @ step %lld:", (long long)step);
  for (auto& [k, v] : m) {
    run.log_metric(step, k, v);
    std::fprintf(stderr, " %s %.5g", k.c_str(), v);
  }
  std::fprintf(stderr, "\n");
  pngs[step] = samples_png(data, x, 64);
  write_file_atomic(run.sample_path("step" + std::to_string(step)), pngs[step]);
}

void write_report(const RunFolder& run, const GeneratorRunSettings& s,
                  const nlohmann::json& config, const Dataset& data, const ImageJudge* judge,
                  const GeneratorTraining& t, const std::map<int64_t, std::string>& pngs) {
  std::map<std::string, Series> by = metric_series(run.read_metrics());
  Report rep(t.title);
  rep.paragraph(data.description + "; " + std::to_string(t.model.module->num_parameters()) +
                " parameters; " + t.description + " " + std::to_string(s.train.loop.updates) +
                " Adam steps of " + std::to_string(s.train.batch) +
                " data samples; metrics of " + std::to_string(s.eval_n) +
                " samples against the held-out set.");
  std::vector<std::vector<std::string>> rows;
  for (const char* k : {"mmd", "energy", "sliced_w1", "mmd2_h1", "mmd2_h4", "mmd2_h16", "hq_share",
                        "modes_covered", "mode_weight_tv", "log_density", "in_squares",
                        "square_tv", "precision", "recall", "frechet", "kid", "confidence",
                        "classes_covered"})
    if (by.count(k) && by[k].y.size() >= 2)
      rows.push_back({k, format_number(by[k].y.front()), format_number(by[k].y.back())});
  for (const std::string& k : t.extra_keys)
    if (by.count(k) && by[k].y.size() >= 2)
      rows.push_back({k, format_number(by[k].y.front()), format_number(by[k].y.back())});
  for (const char* k : {"mmd_data_vs_data", "sliced_w1_data_vs_data", "mmd2_h1_data_vs_data",
                        "mmd2_h4_data_vs_data", "mmd2_h16_data_vs_data", "hq_share_data",
                        "log_density_data", "precision_data_vs_data", "recall_data_vs_data",
                        "frechet_data_vs_data", "kid_data_vs_data"})
    if (by.count(k)) rows.push_back({k, "", format_number(by[k].y.back())});
  if (judge)
    rep.paragraph("Image metrics use a LeNet trained on the train split (held-out accuracy " +
                  format_number(judge->classifier.test_accuracy) + "). " +
                  single_draw_note(by, run.dir()));
  std::map<std::string, double> last;
  for (auto& [name, ser] : by) last[name] = ser.y.back();
  const std::string verdict = mode_verdict(last, data);
  if (!verdict.empty()) rep.paragraph("After training: " + verdict);
  rep.heading("Held-out metrics");
  rep.table({"metric", "untrained network (step 0)", "after training"}, rows);
  if (by.count("loss")) rep.plot({by["loss"]}, {"training loss", "step", "loss", false, false});
  for (const char* k : {"mmd", "sliced_w1", "frechet", "kid"})
    if (by.count(k)) rep.plot({by[k]}, {std::string(k) + " (held-out)", "step", k, false, true});
  rep.heading("Samples");
  for (auto& [step, png] : pngs) rep.image("step " + std::to_string(step), png);
  rep.config(config);
  rep.write(run.path("report.html"));
  std::fprintf(stderr, "report: %s\n", run.path("report.html").c_str());
}

}  // namespace

int train_generator(const GeneratorRunSettings& s, const nlohmann::json& config,
                    const std::string& dir, bool resume, const Dataset& data,
                    const GeneratorTraining& t) {
  nn::Module& net = *t.model.module;
  RunLock lock(dir);
  RunFolder run(dir);
  run.write_config(config);
  std::fprintf(stderr, "run folder: %s\ndata: %s\nmodel: %lld parameters\n", dir.c_str(),
               data.description.c_str(), (long long)net.num_parameters());
  const std::optional<nn::TrainState> from = resume_point(run, resume);
  RunTiming timing(run, from.has_value());
  std::unique_ptr<ImageJudge> judge;
  if (judged_as_images(data))
    judge = std::make_unique<ImageJudge>(make_image_judge(data, s.data.name, s.eval_n));
  std::map<int64_t, std::string> pngs;  // per evaluation: scatter plot or image grid
  TrainTask task;
  task.command = t.command;
  task.label = "train";
  task.module = &net;
  RunCursor cursor = train_cursor(s.train, data.train.size(0));
  // The loop counts an update after its loss (a non-finite replay sees the next step).
  task.loss = [&](const Tensor& idx, tensor::Generator& g) {
    return t.loss(take_rows(data.train, idx).to(net.device()), g, cursor.step);
  };
  task.evaluate_at_start = true;
  task.evaluate = [&](int64_t step) { evaluate(run, step, s, data, judge.get(), t, pngs); };
  const std::string config_json = config.dump();
  task.save_weights = [&](int64_t step) {
    nn::save_module(run.checkpoint_path("model"), net,
                    {{"config", config_json}, {"step", std::to_string(step)}});
  };
  if (run_train_loop(task, s.train.loop, cursor, {run, config_json, timing},
                     from ? from->step : 0, from ? &*from : nullptr) == LoopEnd::stopped)
    return 0;
  write_report(run, s, config, data, judge.get(), t, pngs);
  return 0;
}

}  // namespace difflab::experiments
