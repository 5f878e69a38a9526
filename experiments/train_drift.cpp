#include "experiments/train_drift.h"

#include <cstdio>
#include <map>

#include "autograd/grad_mode.h"
#include "diffusion/drifting.h"
#include "experiments/data/batch_iterator.h"
#include "experiments/ddpm_eval.h"
#include "experiments/ddpm_setup.h"
#include "experiments/io.h"
#include "experiments/progress.h"
#include "experiments/report.h"
#include "experiments/run_folder.h"
#include "experiments/train_ddpm.h"
#include "experiments/train_guard.h"
#include "nn/clip.h"
#include "nn/ema.h"
#include "nn/mlp_generator.h"
#include "nn/optim.h"
#include "nn/safetensors.h"
#include "nn/train_state.h"
#include "tensor/random.h"

namespace difflab::experiments {

using ag::Var;

Config drift_config() {
  Config c;
  c.declare_string("data.name", "checkerboard",
                   {"ring8", "checkerboard", "two_moons", "swiss_roll", "ring_mog"}, "data set")
      .declare_int("data.n_train", 20000, 16, 10000000, "training points")
      .declare_int("data.n_test", 5000, 16, 10000000, "held-out points")
      .declare_int("data.dim", 8, 2, 4096, "dimension of ring_mog")
      .declare_int("data.limit_train", 0, 0, 0, "(image data sets only)")
      .declare_int("model.noise_dim", 32, 1, 4096, "generator input noise dimension")
      .declare_int("model.hidden", 256, 8, 8192, "generator width")
      .declare_int("model.depth", 3, 1, 64, "generator hidden layers")
      .declare_string("drift.kernel", "laplace", {"laplace", "gaussian"}, "radial kernel")
      .declare_string("drift.temperatures", "0.05", {},
                      "kernel temperatures τ, comma-separated (fields summed)")
      .declare_bool("drift.double_softmax", true, "normalise over samples and targets (A1)")
      .declare_bool("drift.normalize", false,
                    "normalise distances by their batch mean and each field to unit RMS")
      .declare_int("train.steps", 2000, 1, 100000000, "optimizer steps")
      .declare_int("train.batch", 2048, 2, 1000000, "generated samples per step (negatives)")
      .declare_int("train.positives", 2048, 1, 1000000, "data samples per step (positives)")
      .declare_double("train.lr", 1e-3, 0.0, 1.0, "Adam learning rate")
      .declare_double("train.grad_clip", 0.0, 0.0, 1e9, "clip the gradient norm (0 = off)")
      .declare_double("train.ema_decay", 0.0, 0.0, 1.0, "EMA of the generator (0 = off)")
      .declare_int("train.log_every", 50, 1, 100000000, "steps between loss log lines")
      .declare_int("train.checkpoint_every", 500, 1, 100000000, "steps between checkpoints")
      .declare_int("train.eval_every", 500, 1, 100000000, "steps between sample metrics")
      .declare_int("train.stop_after", 0, 0, 100000000,
                   "stop (with a checkpoint) after this step, as an interruption would (0 = off)")
      .declare_int("eval.n", 2000, 16, 10000000, "one-step samples for the metrics");
  return c;
}

namespace {

Config drift_run_config(const CommandArgs& args, const std::string& dir) {
  Config cfg = drift_config();
  if (args.resume) {
    DIFFLAB_CHECK(file_exists(dir + "/config.json"), "no run to resume in '", dir,
                  "' (config.json is missing)");
    CommandArgs none;
    resolve_config(cfg, none);
    cfg.load_json(RunFolder(dir).read_config(), "'" + dir + "/config.json'");
    for (const auto& s : args.sets) cfg.set(s);
    if (args.threads) cfg.set("threads=" + std::to_string(*args.threads));
  } else {
    resolve_config(cfg, args);
  }
  return cfg;
}

diffusion::DriftFieldOptions field_options(const Config& cfg) {
  diffusion::DriftFieldOptions o;
  o.kernel = diffusion::parse_drift_kernel(cfg.get_string("drift.kernel"));
  o.temperatures = parse_list(cfg.get_string("drift.temperatures"), "drift.temperatures");
  DIFFLAB_CHECK(!o.temperatures.empty(), "drift.temperatures: give at least one temperature");
  for (double t : o.temperatures)
    DIFFLAB_CHECK(t > 0, "drift.temperatures: ", t, " is not a positive temperature");
  o.double_softmax = cfg.get_bool("drift.double_softmax");
  o.normalize = cfg.get_bool("drift.normalize");
  return o;
}

}  // namespace

int run_train_drift(const CommandArgs& args) {
  const std::string dir = default_run_dir("drift", args);
  Config cfg = drift_run_config(args, dir);
  apply_threads(cfg);
  const diffusion::DriftFieldOptions fopt = field_options(cfg);
  DdpmData data = load_ddpm_data(cfg);
  const uint64_t seed = uint64_t(cfg.get_int("seed"));
  nn::MLPGeneratorConfig mc;
  mc.noise_dim = cfg.get_int("model.noise_dim");
  mc.hidden = cfg.get_int("model.hidden");
  mc.depth = cfg.get_int("model.depth");
  mc.dim = data.train.size(1);
  tensor::Generator init(seed * 7 + 11);
  nn::MLPGenerator net(mc, &init);
  RunLock lock(dir);
  RunFolder run(dir);
  run.write_config(cfg.resolved());
  std::fprintf(stderr, "run folder: %s\ndata: %s\ngenerator: %lld parameters; %s kernel\n",
               dir.c_str(), data.description.c_str(), (long long)net.num_parameters(),
               diffusion::drift_kernel_name(fopt.kernel));

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
  BatchIterator it(data.train.size(0), std::min(cfg.get_int("train.positives"), data.train.size(0)),
                   seed * 17 + 3);
  const std::string state_path = run.checkpoint_path("state");
  int64_t start = 0;
  if (args.resume && file_exists(state_path)) {
    nn::TrainState st = nn::load_train_state(state_path);
    nn::restore_train_state(st, net, opt, &ema, gen);
    it.set_state({st.data_position / data.train.size(0), st.data_position % data.train.size(0)});
    start = st.step;
    run.truncate_metrics_after(start);
    std::fprintf(stderr, "resumed at step %lld\n", (long long)start);
  } else {
    run.truncate_metrics_after(-1);
  }

  // The same evaluation noise at every evaluation.
  const int64_t n_eval = cfg.get_int("eval.n");
  tensor::Generator eval_gen(seed * 19 + 2000003);
  const Tensor eval_noise = tensor::randn({n_eval, mc.noise_dim}, tensor::DType::f32, &eval_gen);
  std::map<int64_t, std::string> scatters;
  auto evaluate = [&](int64_t step) {
    ag::NoGradGuard ng;
    if (use_ema) ema.swap();
    Tensor x = net.forward(Var(eval_noise)).value();
    if (use_ema) ema.swap();
    Metrics m = vector_sample_metrics(data, x, step == 0);
    std::fprintf(stderr, "\neval @ step %lld:", (long long)step);
    for (auto& [k, v] : m) {
      run.log_metric(step, k, v);
      std::fprintf(stderr, " %s %.5g", k.c_str(), v);
    }
    std::fprintf(stderr, "\n");
    scatters[step] = scatter_png(x);
    write_file_atomic(run.sample_path("step" + std::to_string(step)), scatters[step]);
  };
  std::vector<std::string> names;
  for (auto& [name, p] : net.named_parameters(true)) names.push_back(name);
  auto save_state = [&](int64_t step) {
    check_weights_before_save("train-drift", params, names, state_path);
    nn::TrainState st = nn::capture_train_state(
        step, net, opt, &ema, gen, it.state().epoch * data.train.size(0) + it.state().position);
    st.extra["config"] = cfg.resolved().dump();
    nn::save_train_state(state_path, st);
    if (use_ema) ema.swap();
    nn::save_module(run.checkpoint_path("generator"), net,
                    {{"config", cfg.resolved().dump()}, {"step", std::to_string(step)}});
    if (use_ema) ema.swap();
  };

  if (start == 0) evaluate(0);
  const int64_t batch = cfg.get_int("train.batch"), log_every = cfg.get_int("train.log_every");
  const double clip = cfg.get_double("train.grad_clip");
  Progress prog("train", steps, start, log_every);
  double window = 0;
  int64_t window_n = 0;
  for (int64_t step = start; step < steps; ++step) {
    Tensor pos = take_rows(data.train, it.next());
    auto step_loss = [&](tensor::Generator& g) {
      Var x = net.forward(Var(tensor::randn({batch, mc.noise_dim}, tensor::DType::f32, &g)));
      Tensor field = diffusion::drifting_field(x.value(), pos, fopt);
      return diffusion::drifting_loss(x, field);
    };
    const tensor::Generator gen_before = gen;
    Var L = step_loss(gen);
    opt.zero_grad();
    L.backward();
    const int64_t done = step + 1;
    const double loss = L.item();
    const double gnorm = nn::clip_grad_norm_(params, clip > 0 ? clip : nn::kInfNorm);
    check_step_finite("train-drift", done, loss, gnorm, [&] {
      tensor::Generator g = gen_before;
      opt.zero_grad();
      step_loss(g).backward();
    }, state_path);
    opt.step();
    if (use_ema) ema.update();
    window += loss, window_n++;
    prog.update(done, loss);
    // Loss windows restart at each logged row, so a resume from a checkpoint taken on a logging
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

  // Report: held-out metrics against steps, the loss (= mean ‖V‖²), first and last samples.
  std::map<std::string, Series> by;
  for (const MetricRow& r : run.read_metrics()) {
    Series& s = by[r.metric];
    s.name = r.metric;
    s.x.push_back(double(r.step)), s.y.push_back(r.value);
  }
  Report rep("Drifting one-step generator on " + cfg.get_string("data.name"));
  rep.paragraph(data.description + "; MLP generator with " + std::to_string(net.num_parameters()) +
                " parameters; " + diffusion::drift_kernel_name(fopt.kernel) + " kernel, τ = " +
                cfg.get_string("drift.temperatures") + "; " + std::to_string(steps) +
                " Adam steps of " + std::to_string(batch) + " generated samples against " +
                std::to_string(cfg.get_int("train.positives")) + " data samples; " +
                std::to_string(n_eval) + " one-step samples (1 NFE) against the held-out set.");
  std::vector<std::vector<std::string>> rows;
  for (const char* k : {"mmd", "energy", "sliced_w1"})
    if (by.count(k) && by[k].y.size() >= 2)
      rows.push_back({k, format_number(by[k].y.front()), format_number(by[k].y.back())});
  if (by.count("mmd_data_vs_data"))
    rows.push_back({"mmd, data vs data", "", format_number(by["mmd_data_vs_data"].y.back())});
  if (by.count("sliced_w1_data_vs_data"))
    rows.push_back({"sliced_w1, data vs data", "",
                    format_number(by["sliced_w1_data_vs_data"].y.back())});
  rep.heading("Held-out metrics");
  rep.table({"metric", "untrained generator", "after training"}, rows);
  if (by.count("loss"))
    rep.plot({by["loss"]}, {"loss = mean ‖V‖²", "step", "loss", false, true});
  for (const char* k : {"mmd", "sliced_w1"})
    if (by.count(k)) rep.plot({by[k]}, {std::string(k) + " (held-out)", "step", k, false, true});
  rep.heading("Samples");
  for (auto& [step, png] : scatters) rep.image("step " + std::to_string(step), png);
  rep.config(cfg.resolved());
  rep.write(run.path("report.html"));
  std::fprintf(stderr, "report: %s\n", run.path("report.html").c_str());
  return 0;
}

}  // namespace difflab::experiments
