#include "experiments/train_ddpm.h"

#include <cstdio>
#include <map>

#include "autograd/grad_mode.h"
#include "diffusion/guidance.h"
#include "experiments/data/batch_iterator.h"
#include "experiments/ddpm_eval.h"
#include "experiments/ddpm_report.h"
#include "experiments/ddpm_sampling.h"
#include "experiments/image_grid.h"
#include "experiments/io.h"
#include "experiments/progress.h"
#include "experiments/report.h"
#include "experiments/run_folder.h"
#include "experiments/train_guard.h"
#include "nn/clip.h"
#include "nn/ema.h"
#include "nn/lr_schedule.h"
#include "nn/optim.h"
#include "nn/safetensors.h"
#include "nn/train_state.h"

namespace difflab::experiments {

using ag::Var;

std::string default_run_dir(const std::string& command, const CommandArgs& args) {
  if (!args.run_dir.empty()) return args.run_dir;
  return "runs/" + command + "-" + (args.preset.empty() ? std::string("custom") : args.preset);
}

// The resolved config of a run: a fresh one from preset/--config/--set, or on --resume the
// run's own config.json with --set applied on top (e.g. to extend train.steps).
Config run_config(const CommandArgs& args, const std::string& dir, bool from_run) {
  return command_config(ddpm_config(), args, dir, from_run);
}

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

}  // namespace

int run_train_ddpm(const CommandArgs& args) {
  const std::string dir = default_run_dir("ddpm", args);
  Config cfg = run_config(args, dir, args.resume);
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

  const int64_t steps = cfg.get_int("train.steps");
  std::vector<Var> params = model.module->parameters(true);
  nn::AdamOptions ao;
  ao.lr = cfg.get_double("train.lr");
  nn::Adam opt(params, ao);
  nn::LrSchedule lr = nn::warmup_cosine_lr(ao.lr, std::min(cfg.get_int("train.warmup"), steps),
                                           steps, cfg.get_double("train.min_lr"));
  nn::EmaOptions eo;
  eo.decay = cfg.get_double("train.ema_decay");
  nn::Ema ema(*model.module, eo);
  const uint64_t seed = uint64_t(cfg.get_int("seed"));
  tensor::Generator gen(seed * 13 + 5);
  BatchIterator it(data.train.size(0), std::min(cfg.get_int("train.batch"), data.train.size(0)),
                   seed * 17 + 3);
  auto encode_pos = [&](const BatchIteratorState& st) {
    return st.epoch * data.train.size(0) + st.position;
  };

  int64_t start = 0;
  // Wall time of the training done so far, over all sessions (timing.json; kept out of the
  // state and metrics files, which are bit-identical across interrupted and whole runs).
  double prior_seconds = 0;
  double window = 0;  // loss sum and count since the last logged average
  int64_t window_n = 0;
  const std::string state_path = run.checkpoint_path("state");
  if (args.resume && file_exists(state_path)) {
    nn::TrainState st = nn::load_train_state(state_path);
    nn::restore_train_state(st, *model.module, opt, &ema, gen);
    it.set_state({st.data_position / data.train.size(0), st.data_position % data.train.size(0)});
    start = st.step;
    if (st.extra.count("loss_window")) {
      long long n = 0;
      std::sscanf(st.extra.at("loss_window").c_str(), "%la %lld", &window, &n);
      window_n = n;
    }
    run.truncate_metrics_after(start);
    if (file_exists(run.path("timing.json")))
      prior_seconds = nlohmann::json::parse(read_file(run.path("timing.json")))
                          .value("train_seconds", 0.0);
    std::fprintf(stderr, "resumed at step %lld from %s\n", (long long)start, state_path.c_str());
  } else {
    run.truncate_metrics_after(-1);
  }

  std::unique_ptr<ImageJudge> judge;
  if (judged_as_images(data)) {
    judge = std::make_unique<ImageJudge>(make_image_judge(data, cfg.get_string("data.name"), cfg.get_int("eval.n")));
    run.log_metric(0, "classifier_test_accuracy", judge->classifier.test_accuracy);
  }

  const int64_t log_every = cfg.get_int("train.log_every");
  const int64_t ckpt_every = cfg.get_int("train.checkpoint_every");
  const int64_t eval_every = cfg.get_int("train.eval_every");
  const double clip = cfg.get_double("train.grad_clip");
  const double drop = cfg.get_double("train.label_dropout");
  std::vector<std::string> param_names;
  for (auto& [name, p] : model.module->named_parameters(true)) param_names.push_back(name);
  Progress prog("train", steps, start, log_every);
  auto write_timing = [&] {
    write_file_atomic(run.path("timing.json"),
                      nlohmann::json{{"train_seconds", prior_seconds + prog.seconds()}}.dump());
  };
  auto save_state = [&](int64_t step) {
    check_weights_before_save("train-ddpm", params, param_names, state_path);
    nn::TrainState st = nn::capture_train_state(step, *model.module, opt, &ema, gen,
                                                encode_pos(it.state()));
    st.extra["config"] = cfg.resolved().dump();
    // The open loss-logging window, so a resumed run logs the same averages (hex: exact).
    char win[64];
    std::snprintf(win, sizeof win, "%a %lld", window, (long long)window_n);
    st.extra["loss_window"] = win;
    nn::save_train_state(state_path, st);
    write_timing();
    ema.swap();  // the slim EMA weights used by `sample` and `eval`
    nn::save_module(run.checkpoint_path("ema"), *model.module,
                    {{"config", cfg.resolved().dump()}, {"step", std::to_string(step)}});
    ema.swap();
  };

  std::map<double, std::string> last_grids;
  model.module->train();
  for (int64_t step = start; step < steps; ++step) {
    Tensor idx = it.next();
    const tensor::Device dev = model.module->device();
    // One step's loss from its batch and noise stream (replayed as is if it turns non-finite).
    auto step_loss = [&](tensor::Generator& g) {
      Tensor labels;
      if (model.num_classes > 0)
        labels = diffusion::drop_labels(take_rows(data.train_labels, idx).to(dev), drop,
                                        model.num_classes, g);
      return diffusion::diffusion_loss(model.net, model.param, *model.schedule,
                                       Var(take_rows(data.train, idx).to(dev)), labels,
                                       model.weighting, g)
          .loss;
    };
    const tensor::Generator gen_before = gen;
    Var L = step_loss(gen);
    opt.zero_grad();
    L.backward();
    const int64_t done = step + 1;
    const double loss = L.item();
    // With clipping off, a max norm of infinity only measures the norm.
    const double gnorm = nn::clip_grad_norm_(params, clip > 0 ? clip : nn::kInfNorm);
    check_step_finite("train-ddpm", done, loss, gnorm, [&] {
      tensor::Generator g = gen_before;
      opt.zero_grad();
      step_loss(g).backward();
    }, state_path);
    double cur_lr = nn::apply_lr(opt, lr, step);
    opt.step();
    ema.update();
    window += loss, window_n++;
    char extra[32];
    std::snprintf(extra, sizeof extra, "lr %.2e", cur_lr);
    prog.update(done, loss, extra);
    if (done % log_every == 0 || done == steps) {
      run.log_metric(done, "loss", window / double(window_n));
      run.log_metric(done, "lr", cur_lr);
      window = 0, window_n = 0;
    }
    const bool last = done == steps;
    if (done % eval_every == 0 || last) {
      ema.swap();
      std::vector<double> ws = model.num_classes > 0 ? guidance_list(cfg) : std::vector<double>{0};
      for (double w : ws) {
        Metrics m = evaluate(run, done, cfg, data, model, judge.get(), w, ws.size() > 1,
                             &last_grids[w]);
        std::fprintf(stderr, "\neval @ step %lld%s:", (long long)done,
                     ws.size() > 1 ? (" (guidance " + format_number(w) + ")").c_str() : "");
        for (auto& [k, v] : m) std::fprintf(stderr, " %s %.5g", k.c_str(), v);
        std::fprintf(stderr, "\n");
      }
      ema.swap();
    }
    if (done % ckpt_every == 0 || last) save_state(done);
    if (cfg.get_int("train.stop_after") > 0 && done >= cfg.get_int("train.stop_after")) {
      save_state(done);
      std::fprintf(stderr, "\nstopping after step %lld (train.stop_after)\n", (long long)done);
      return 0;
    }
  }
  prog.finish();
  write_timing();
  write_ddpm_report(run, cfg, data, model, judge ? &judge->classifier : nullptr, last_grids,
                    prog.seconds());
  std::fprintf(stderr, "report: %s\n", run.path("report.html").c_str());
  return 0;
}

}  // namespace difflab::experiments
