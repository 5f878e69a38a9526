#include "experiments/generator_trainer.h"

#include <cstdio>
#include <map>

#include "autograd/grad_mode.h"
#include "experiments/data/batch_iterator.h"
#include "experiments/ddpm_eval.h"
#include "experiments/image_grid.h"
#include "experiments/io.h"
#include "experiments/progress.h"
#include "experiments/report.h"
#include "experiments/run_folder.h"
#include "experiments/train_guard.h"
#include "nn/clip.h"
#include "nn/ema.h"
#include "nn/optim.h"
#include "nn/safetensors.h"
#include "nn/train_state.h"

namespace difflab::experiments {

using ag::Var;

void declare_vector_training_keys(Config& c, int64_t default_steps, int64_t default_batch,
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

int run_vector_training(const Config& cfg, const CommandArgs& args, const std::string& dir,
                        const DdpmData& data, const VectorTask& task) {
  nn::Module& net = *task.module;
  const tensor::Device dev = command_device(cfg);
  net.to(dev);  // before the optimizer and EMA take their copies
  RunLock lock(dir);
  RunFolder run(dir);
  run.write_config(cfg.resolved());
  std::fprintf(stderr, "run folder: %s\ndata: %s\nmodel: %lld parameters\n", dir.c_str(),
               data.description.c_str(), (long long)net.num_parameters());
  const uint64_t seed = uint64_t(cfg.get_int("seed"));
  const int64_t steps = cfg.get_int("train.steps");
  std::vector<Var> params = net.parameters(true);
  nn::AdamOptions ao;
  ao.lr = cfg.get_double("train.lr");
  nn::Adam opt(params, ao);
  nn::EmaOptions eo;
  eo.decay = cfg.get_double("train.ema_decay");
  nn::Ema ema(net, eo);
  const bool use_ema = eo.decay > 0;
  tensor::Generator gen(seed * 13 + 5);
  const int64_t n_train = data.train.size(0);
  BatchIterator it(n_train, std::min(cfg.get_int("train.batch"), n_train), seed * 17 + 3);
  const std::string state_path = run.checkpoint_path("state");
  int64_t start = 0;
  if (args.resume && file_exists(state_path)) {
    nn::TrainState st = nn::load_train_state(state_path);
    nn::restore_train_state(st, net, opt, &ema, gen);
    it.set_state({st.data_position / n_train, st.data_position % n_train});
    start = st.step;
    run.truncate_metrics_after(start);
    std::fprintf(stderr, "resumed at step %lld\n", (long long)start);
  } else {
    run.truncate_metrics_after(-1);
  }

  std::unique_ptr<ImageJudge> judge;
  if (judged_as_images(data))
    judge = std::make_unique<ImageJudge>(
        make_image_judge(data, cfg.get_string("data.name"), cfg.get_int("eval.n")));
  std::map<int64_t, std::string> scatters;  // PNG per evaluation: scatter plot or image grid
  auto evaluate = [&](int64_t step) {
    ag::NoGradGuard ng;
    tensor::Generator eval_gen(seed * 19 + 2000003);  // the same draws at every evaluation
    if (use_ema) ema.swap();
    Tensor x = task.sample(cfg.get_int("eval.n"), eval_gen).to(tensor::Device::cpu());
    if (use_ema) ema.swap();
    Metrics m = sample_metrics(data, judge.get(), x, Tensor(), step == 0);
    if (data.decode && step == 0)  // the best this space allows: train images projected, decoded
      for (auto& [k, v] : image_sample_metrics(*judge, data.decode(data.reference)))
        if (k == "frechet") m.emplace_back("frechet_pca_reconstruction", v);
    std::fprintf(stderr, "\neval @ step %lld:", (long long)step);
    for (auto& [k, v] : m) {
      run.log_metric(step, k, v);
      std::fprintf(stderr, " %s %.5g", k.c_str(), v);
    }
    std::fprintf(stderr, "\n");
    scatters[step] = samples_png(data, x, 64);
    write_file_atomic(run.sample_path("step" + std::to_string(step)), scatters[step]);
  };
  std::vector<std::string> names;
  for (auto& [name, p] : net.named_parameters(true)) names.push_back(name);
  auto save_state = [&](int64_t step) {
    check_weights_before_save(task.command, params, names, state_path);
    nn::TrainState st = nn::capture_train_state(step, net, opt, &ema, gen,
                                                it.state().epoch * n_train + it.state().position);
    st.extra["config"] = cfg.resolved().dump();
    nn::save_train_state(state_path, st);
    if (use_ema) ema.swap();
    nn::save_module(run.checkpoint_path("model"), net,
                    {{"config", cfg.resolved().dump()}, {"step", std::to_string(step)}});
    if (use_ema) ema.swap();
  };

  if (start == 0) evaluate(0);
  const int64_t log_every = cfg.get_int("train.log_every");
  const double clip = cfg.get_double("train.grad_clip");
  Progress prog("train", steps, start, log_every);
  double window = 0;
  int64_t window_n = 0;
  for (int64_t step = start; step < steps; ++step) {
    Tensor batch = take_rows(data.train, it.next()).to(dev);
    const tensor::Generator gen_before = gen;
    Var L = task.loss(batch, gen);
    opt.zero_grad();
    L.backward();
    const int64_t done = step + 1;
    const double loss = L.item();
    const double gnorm = nn::clip_grad_norm_(params, clip > 0 ? clip : nn::kInfNorm);
    check_step_finite(task.command.c_str(), done, loss, gnorm, [&] {
      tensor::Generator g = gen_before;
      opt.zero_grad();
      task.loss(batch, g).backward();
    }, state_path);
    opt.step();
    if (use_ema) ema.update();
    window += loss, window_n++;
    prog.update(done, loss);
    // The window restarts at each logged row, so a resume from a checkpoint taken on a logging
    // step logs the same rows.
    if (done % log_every == 0 || done == steps) {
      run.log_metric(done, "loss", window / double(window_n));
      window = 0, window_n = 0;
    }
    if (done % cfg.get_int("train.eval_every") == 0 || done == steps) evaluate(done);
    if (done % cfg.get_int("train.checkpoint_every") == 0 || done == steps) save_state(done);
    if (cfg.get_int("train.stop_after") > 0 && done >= cfg.get_int("train.stop_after")) {
      save_state(done);
      std::fprintf(stderr, "\nstopping after step %lld (train.stop_after)\n", (long long)done);
      return 0;
    }
  }
  prog.finish();

  std::map<std::string, Series> by;
  for (const MetricRow& r : run.read_metrics()) {
    Series& s = by[r.metric];
    s.name = r.metric;
    s.x.push_back(double(r.step)), s.y.push_back(r.value);
  }
  Report rep(task.title);
  rep.paragraph(data.description + "; " + std::to_string(net.num_parameters()) +
                " parameters; " + task.description + " " + std::to_string(steps) +
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
  for (auto& [step, png] : scatters) rep.image("step " + std::to_string(step), png);
  rep.config(cfg.resolved());
  rep.write(run.path("report.html"));
  std::fprintf(stderr, "report: %s\n", run.path("report.html").c_str());
  return 0;
}

}  // namespace difflab::experiments
