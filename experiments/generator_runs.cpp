#include "experiments/generator_runs.h"

#include <cstdio>
#include <map>

#include "autograd/grad_mode.h"
#include "experiments/ddpm_eval.h"
#include "experiments/io.h"
#include "experiments/report.h"
#include "experiments/run_folder.h"
#include "experiments/train_loop.h"
#include "experiments/train_settings.h"
#include "nn/safetensors.h"

namespace difflab::experiments {

void declare_generator_training_keys(Config& c, int64_t default_steps, int64_t default_batch,
                                     double default_lr) {
  c.declare_string("data.name", "checkerboard",
                   {"ring8", "checkerboard", "two_moons", "swiss_roll", "ring_mog", "mnist",
                    "fashion_mnist", "mnist_pca"},
                   "data set (mnist_pca: MNIST as data.pca_dim principal-component coordinates)")
      .declare_int("data.pca_dim", 50, 1, 784, "principal components kept (mnist_pca)")
      .declare_int("data.n_train", 20000, 16, 10000000, "training points")
      .declare_int("data.n_test", 5000, 16, 10000000, "held-out points")
      .declare_int("data.dim", 8, 2, 4096, "dimension of ring_mog")
      .declare_int("data.limit_train", 0, 0, 100000000,
                   "use only the first N training images (0 = all; image data sets)")
      .declare_int("train.steps", default_steps, 1, 100000000, "optimizer steps")
      .declare_int("train.batch", default_batch, 2, 1000000, "data samples per step")
      .declare_double("train.lr", default_lr, 0.0, 1.0, "Adam learning rate")
      .declare_double("train.grad_clip", 0.0, 0.0, 1e9, "clip the gradient norm (0 = off)")
      .declare_double("train.ema_decay", 0.0, 0.0, 1.0, "EMA of the weights (0 = off)")
      .declare_int("train.log_every", 50, 1, 100000000, "steps between loss log rows")
      .declare_int("train.checkpoint_every", 500, 1, 100000000, "steps between checkpoints")
      .declare_int("train.eval_every", 500, 1, 100000000, "steps between sample metrics")
      .declare_int("train.stop_after", 0, 0, 100000000,
                   "stop (with a checkpoint) after this step, as an interruption would (0 = off)")
      .declare_int("eval.n", 2000, 16, 10000000, "samples for the held-out metrics");
}

uint64_t generator_eval_seed(const Config& cfg) {
  return uint64_t(cfg.get_int("seed")) * 19 + 2000003;
}

namespace {

// Held-out metrics of eval.n fresh samples at `step` (the same draws every time), logged and
// printed; the scatter plot or grid kept for the report.
void evaluate(RunFolder& run, int64_t step, const Config& cfg, const DdpmData& data,
              const ImageJudge* judge, const GeneratorModel& model,
              std::map<int64_t, std::string>& pngs) {
  ag::NoGradGuard ng;
  tensor::Generator eval_gen(generator_eval_seed(cfg));
  Tensor x = model.sample(cfg.get_int("eval.n"), eval_gen).to(tensor::Device::cpu());
  Metrics m = sample_metrics(data, judge, x, Tensor(), step == 0);
  if (data.decode && step == 0)  // the best this space allows: train images projected, decoded
    for (auto& [k, v] : image_sample_metrics(*judge, data.decode(data.reference)))
      if (k == "frechet") m.emplace_back("frechet_pca_reconstruction", v);
  std::fprintf(stderr, "\neval @ step %lld:", (long long)step);
  for (auto& [k, v] : m) {
    run.log_metric(step, k, v);
    std::fprintf(stderr, " %s %.5g", k.c_str(), v);
  }
  std::fprintf(stderr, "\n");
  pngs[step] = samples_png(data, x, 64);
  write_file_atomic(run.sample_path("step" + std::to_string(step)), pngs[step]);
}

void write_report(const RunFolder& run, const Config& cfg, const DdpmData& data,
                  const ImageJudge* judge, const GeneratorTraining& t,
                  const std::map<int64_t, std::string>& pngs) {
  std::map<std::string, Series> by;
  for (const MetricRow& r : run.read_metrics()) {
    Series& s = by[r.metric];
    s.name = r.metric;
    s.x.push_back(double(r.step)), s.y.push_back(r.value);
  }
  Report rep(t.title);
  rep.paragraph(data.description + "; " + std::to_string(t.model.module->num_parameters()) +
                " parameters; " + t.description + " " + std::to_string(cfg.get_int("train.steps")) +
                " Adam steps of " + std::to_string(cfg.get_int("train.batch")) +
                " data samples; metrics of " + std::to_string(cfg.get_int("eval.n")) +
                " samples against the held-out set.");
  std::vector<std::vector<std::string>> rows;
  for (const char* k : {"mmd", "energy", "sliced_w1", "frechet", "kid", "confidence",
                        "classes_covered"})
    if (by.count(k) && by[k].y.size() >= 2)
      rows.push_back({k, format_number(by[k].y.front()), format_number(by[k].y.back())});
  for (const char* k : {"mmd_data_vs_data", "sliced_w1_data_vs_data", "frechet_data_vs_data",
                        "kid_data_vs_data"})
    if (by.count(k)) rows.push_back({k, "", format_number(by[k].y.back())});
  if (judge)
    rep.paragraph("Image metrics use a LeNet trained on the train split (held-out accuracy " +
                  format_number(judge->classifier.test_accuracy) + ").");
  rep.heading("Held-out metrics");
  rep.table({"metric", "untrained network (step 0)", "after training"}, rows);
  if (by.count("loss")) rep.plot({by["loss"]}, {"training loss", "step", "loss", false, false});
  for (const char* k : {"mmd", "sliced_w1", "frechet", "kid"})
    if (by.count(k)) rep.plot({by[k]}, {std::string(k) + " (held-out)", "step", k, false, true});
  rep.heading("Samples");
  for (auto& [step, png] : pngs) rep.image("step " + std::to_string(step), png);
  rep.config(cfg.resolved());
  rep.write(run.path("report.html"));
  std::fprintf(stderr, "report: %s\n", run.path("report.html").c_str());
}

}  // namespace

int train_generator(const Config& cfg, const CommandArgs& args, const std::string& dir,
                    const DdpmData& data, const GeneratorTraining& t) {
  nn::Module& net = *t.model.module;
  RunLock lock(dir);
  RunFolder run(dir);
  run.write_config(cfg.resolved());
  std::fprintf(stderr, "run folder: %s\ndata: %s\nmodel: %lld parameters\n", dir.c_str(),
               data.description.c_str(), (long long)net.num_parameters());
  const std::optional<nn::TrainState> resume = resume_point(run, args.resume);
  RunTiming timing(run, resume.has_value());
  std::unique_ptr<ImageJudge> judge;
  if (judged_as_images(data))
    judge = std::make_unique<ImageJudge>(
        make_image_judge(data, cfg.get_string("data.name"), cfg.get_int("eval.n")));
  std::map<int64_t, std::string> pngs;  // per evaluation: scatter plot or image grid
  TrainTask task;
  task.command = t.command;
  task.label = "train";
  task.module = &net;
  task.loss = [&](const Tensor& idx, tensor::Generator& g) {
    return t.loss(take_rows(data.train, idx).to(net.device()), g);
  };
  task.evaluate_at_start = true;
  task.evaluate = [&](int64_t step) {
    evaluate(run, step, cfg, data, judge.get(), t.model, pngs);
  };
  const std::string config_json = cfg.resolved().dump();
  task.save_weights = [&](int64_t step) {
    nn::save_module(run.checkpoint_path("model"), net,
                    {{"config", config_json}, {"step", std::to_string(step)}});
  };
  RunCursor cursor = train_cursor(cfg, data.train.size(0));
  if (run_train_loop(task, train_loop_settings(cfg), cursor, {run, config_json, timing},
                     resume ? resume->step : 0, resume ? &*resume : nullptr) == LoopEnd::stopped)
    return 0;
  write_report(run, cfg, data, judge.get(), t, pngs);
  return 0;
}

}  // namespace difflab::experiments
