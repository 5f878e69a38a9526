#include "experiments/distill.h"

#include <cmath>
#include <cstdio>
#include <map>

#include "autograd/grad_mode.h"
#include "diffusion/distill.h"
#include "experiments/data/batch_iterator.h"
#include "experiments/ddpm_eval.h"
#include "experiments/ddpm_sampling.h"
#include "experiments/distill_report.h"
#include "experiments/image_grid.h"
#include "experiments/io.h"
#include "experiments/progress.h"
#include "experiments/report.h"
#include "experiments/run_folder.h"
#include "experiments/train_ddpm.h"
#include "experiments/train_guard.h"
#include "nn/clip.h"
#include "nn/ema.h"
#include "nn/optim.h"
#include "nn/safetensors.h"
#include "nn/train_state.h"

namespace difflab::experiments {

using ag::Var;

Config distill_config() {
  Config c;
  c.declare_string("distill.teacher", "", {},
                   "run folder of the train-ddpm teacher (its EMA weights and config.json)")
      .declare_string("distill.teacher_preset", "", {},
                      "if the teacher run has no weights yet, train it first with this "
                      "train-ddpm preset (empty = refuse)")
      .declare_int("distill.start_steps", 256, 2, 1 << 20,
                   "N0: the teacher's DDIM step count distilled first (a power of two)")
      .declare_int("distill.end_steps", 1, 1, 1 << 19, "last student's step count (power of two)")
      .declare_int("distill.updates", 2000, 1, 100000000, "optimizer updates per halving")
      .declare_double("distill.last_rounds_factor", 2.0, 1.0, 100.0,
                      "more updates for the rounds that reach 2 and 1 steps (paper: more)")
      .declare_int("distill.batch", 64, 1, 65536, "batch size")
      .declare_double("distill.lr", 1e-4, 0.0, 1.0,
                      "Adam learning rate at the start of each round, decayed linearly to 0")
      .declare_double("distill.grad_clip", 1.0, 0.0, 1e9, "clip the gradient norm (0 = off)")
      .declare_string("distill.weighting", "teacher",
                      {"teacher", "snr", "snr+1", "truncated_snr", "x0_mse", "prediction_mse"},
                      "loss weighting (teacher = the teacher's own)")
      .declare_double("distill.ema_decay", 0.0, 0.0, 1.0,
                      "EMA of the student, which then becomes the teacher (0 = off, as the paper)")
      .declare_int("distill.log_every", 50, 1, 100000000, "updates between loss log lines")
      .declare_int("distill.checkpoint_every", 500, 1, 100000000,
                   "updates between resumable states")
      .declare_int("distill.stop_after", 0, 0, 100000000,
                   "stop (resumably) after this many updates in all, as an interruption would "
                   "(0 = off)")
      .declare_bool("distill.eval_only", false,
                    "with --resume: evaluate the teacher and every saved student again (e.g. "
                    "with more eval.seeds), train nothing, rewrite the report")
      .declare_int("eval.n", 1000, 16, 10000000, "samples per evaluated sampler")
      .declare_int("eval.seeds", 1, 1, 1000,
                   "independent noise draws per evaluated sampler: metrics are their mean, "
                   "'<metric>_sd' their standard deviation")
      .declare_int("eval.batch", 250, 1, 65536, "samples per sampler call")
      .declare_int("eval.grid", 64, 1, 4096, "images per sample grid")
      .declare_bool("eval.clip_x0", false, "clip x̂ to [-1, 1] at every step (image data)")
      .declare_int("eval.reference_steps", 256, 1, 100000,
                   "steps of the teacher's reference samplers")
      .declare_string("eval.reference_samplers", "ddim,ddpm", {},
                      "reference samplers of the teacher at reference_steps (best one reported)");
  return c;
}

namespace {

bool is_pow2(int64_t n) { return n >= 1 && (n & (n - 1)) == 0; }

// Distillation needs the continuous cosine grid and an x̂ defined at t = 1.
void check_teacher_config(const Config& tcfg, const std::string& teacher_dir) {
  DIFFLAB_CHECK(tcfg.get_string("diffusion.schedule") == "cosine",
                "distill: the teacher in '", teacher_dir, "' uses the '",
                tcfg.get_string("diffusion.schedule"),
                "' schedule; distillation runs on the continuous cosine schedule's grid t = i/N "
                "(train the teacher with diffusion.schedule=cosine)");
  DIFFLAB_CHECK(tcfg.get_string("diffusion.param") != "eps", "distill: the teacher in '",
                teacher_dir,
                "' predicts eps, whose x̂ = (z − σε̂)/α is undefined at t = 1 where a few-step "
                "student starts (Salimans & Ho §4); train it with diffusion.param=v or x0");
}

// The teacher's run: trained here first when asked to and not done yet.
std::string ensure_teacher(const Config& cfg) {
  const std::string dir = cfg.get_string("distill.teacher");
  DIFFLAB_CHECK(!dir.empty(), "distill.teacher: give the run folder of a trained train-ddpm run "
                              "(or a preset that names one)");
  const std::string weights = dir + "/checkpoints/ema.safetensors";
  bool done = file_exists(dir + "/report.html") && file_exists(weights);
  if (done) return dir;
  const std::string preset = cfg.get_string("distill.teacher_preset");
  DIFFLAB_CHECK(!preset.empty() || file_exists(weights), "distill.teacher: no trained teacher in '",
                dir, "' (", weights, " is missing); train one with `difflab train-ddpm --run ",
                dir, "`, or set distill.teacher_preset");
  if (preset.empty()) return dir;  // weights without a finished run: use them as they are
  if (file_exists(dir + "/config.json")) {  // an interrupted teacher run: refuse it before resuming
    CommandArgs none;
    check_teacher_config(run_config(none, dir, true), dir);
  }
  CommandArgs t;
  t.preset = preset;
  t.run_dir = dir;
  t.threads = int(cfg.get_int("threads"));
  t.device = cfg.get_string("device");
  t.resume = file_exists(dir + "/config.json");
  std::fprintf(stderr, "training the teacher first: difflab train-ddpm --preset %s --run %s%s\n",
               preset.c_str(), dir.c_str(), t.resume ? " --resume" : "");
  run_train_ddpm(t);
  return dir;
}

struct Evaluator {
  const Config& cfg;
  const DdpmData& data;
  const ImageJudge* judge;
  RunFolder& run;

  // n samples of `model` (eval.n), the same initial noise for every sampler and model; draw
  // `rep` of eval.seeds uses its own noise (rep 0: the noise of single-draw evaluations).
  Tensor sample(const DdpmModel& model, const std::string& sampler, int64_t steps,
                int64_t rep = 0) const {
    SampleSettings s;
    s.sampler = sampler;
    s.steps = steps;
    s.clip_x0 = cfg.get_bool("eval.clip_x0");
    s.batch = cfg.get_int("eval.batch");
    s.seed = uint64_t(cfg.get_int("seed")) + 4000037 + uint64_t(rep) * 1000003;
    if (model.num_classes > 0) s.labels = cycle_labels(cfg.get_int("eval.n"), model.num_classes);
    return generate(model, cfg.get_int("eval.n"), s);
  }

  // Samples eval.seeds times, logs the mean "<tag>/<metric><suffix>" (and the standard deviation
  // "<tag>/<metric>_sd<suffix>" over several draws) at `step`, writes the grid of the first
  // draw; returns the first draw's samples.
  Tensor operator()(const DdpmModel& model, const std::string& sampler, int64_t steps,
                    const std::string& tag, const std::string& suffix, int64_t step) {
    const int64_t n = cfg.get_int("eval.n"), reps = cfg.get_int("eval.seeds");
    Tensor x;
    std::vector<std::string> keys;
    std::map<std::string, std::vector<double>> values;
    for (int64_t r = 0; r < reps; ++r) {
      Tensor xr = sample(model, sampler, steps, r);
      Tensor labels = model.num_classes > 0 ? cycle_labels(n, model.num_classes) : Tensor();
      Metrics m = sample_metrics(data, judge, xr, labels, tag.rfind("reference", 0) == 0);
      for (auto& [k, v] : m) {
        if (!values.count(k)) keys.push_back(k);
        values[k].push_back(v);
      }
      if (r == 0) x = xr;
    }
    std::fprintf(stderr, "eval %s%s (%s, %lld steps%s):", tag.c_str(), suffix.c_str(),
                 sampler.c_str(), (long long)steps,
                 reps > 1 ? (", mean ± sd of " + std::to_string(reps) + " draws").c_str() : "");
    for (const std::string& k : keys) {
      const std::vector<double>& v = values[k];
      double mean = 0, ss = 0;
      for (double a : v) mean += a / double(v.size());
      for (double a : v) ss += (a - mean) * (a - mean);
      run.log_metric(step, tag + "/" + k + suffix, mean);
      std::fprintf(stderr, " %s %.5g", k.c_str(), mean);
      if (v.size() > 1) {
        const double sd = std::sqrt(ss / double(v.size() - 1));
        run.log_metric(step, tag + "/" + k + "_sd" + suffix, sd);
        std::fprintf(stderr, " ± %.3g", sd);
      }
    }
    std::fprintf(stderr, "\n");
    write_file_atomic(run.sample_path(distill_sample_name(tag, suffix)),
                      samples_png(data, x, cfg.get_int("eval.grid")));
    return x;
  }
};

double mean_sq_diff(const Tensor& a, const Tensor& b) {
  auto va = a.contiguous().to(tensor::DType::f64).to_vector<double>();
  auto vb = b.contiguous().to(tensor::DType::f64).to_vector<double>();
  double s = 0;
  for (size_t i = 0; i < va.size(); ++i) s += (va[i] - vb[i]) * (va[i] - vb[i]);
  return va.empty() ? 0 : s / double(va.size());
}

}  // namespace

int run_distill(const CommandArgs& args_in) {
  CommandArgs args = args_in;
  const std::string dir = default_run_dir("distill", args);
  // `--preset tiny` means experiments/configs/distill_tiny.json.
  if (!args.preset.empty() && !file_exists(config_dir() + "/" + args.preset + ".json") &&
      file_exists(config_dir() + "/distill_" + args.preset + ".json"))
    args.preset = "distill_" + args.preset;
  Config cfg = command_config(distill_config(), args, dir, args.resume);
  apply_threads(cfg);
  DIFFLAB_CHECK(!cfg.get_bool("distill.eval_only") ||
                    (args.resume && file_exists(dir + "/checkpoints/state.safetensors")),
                "distill.eval_only: '", dir, "' holds no started chain to evaluate (",
                dir + "/checkpoints/state.safetensors", " is missing); give --resume and the run "
                "folder of a distill run");
  const int64_t n0 = cfg.get_int("distill.start_steps"), n_end = cfg.get_int("distill.end_steps");
  DIFFLAB_CHECK(is_pow2(n0) && is_pow2(n_end) && n_end < n0, "distill: start_steps ", n0,
                " and end_steps ", n_end, " must be powers of two with end_steps < start_steps");

  // The teacher: its run's config decides data, network and diffusion settings.
  const std::string teacher_dir = ensure_teacher(cfg);
  CommandArgs none;
  Config tcfg = run_config(none, teacher_dir, true);
  tcfg.set("threads=" + std::to_string(cfg.get_int("threads")));
  tcfg.set("device=" + cfg.get_string("device"));  // the distill run's device, not the teacher's
  check_teacher_config(tcfg, teacher_dir);
  DdpmData data = load_ddpm_data(tcfg);
  DdpmModel teacher = make_ddpm_model(tcfg, data);
  DdpmModel student = make_ddpm_model(tcfg, data);
  const std::string teacher_weights = teacher_dir + "/checkpoints/ema.safetensors";
  nn::load_module(teacher_weights, *teacher.module);
  const std::string wname = cfg.get_string("distill.weighting");
  const diffusion::LossWeighting weighting =
      wname == "teacher" ? teacher.weighting : diffusion::parse_loss_weighting(wname);
  double teacher_seconds = NAN;
  if (file_exists(teacher_dir + "/timing.json"))
    teacher_seconds = nlohmann::json::parse(read_file(teacher_dir + "/timing.json"))
                          .value("train_seconds", NAN);

  RunLock lock(dir);
  RunFolder run(dir);
  run.write_config(cfg.resolved());
  std::fprintf(stderr, "run folder: %s\nteacher: %s (%s, %lld parameters, %s prediction, %s)\n",
               dir.c_str(), teacher_dir.c_str(), data.description.c_str(),
               (long long)teacher.module->num_parameters(),
               diffusion::parameterization_name(teacher.param),
               diffusion::loss_weighting_name(weighting));

  std::vector<int64_t> rounds;  // student step counts
  for (int64_t n = n0 / 2; n >= n_end; n /= 2) rounds.push_back(n);

  // Resumable state: the student mid-round, its optimizer, the generator and data cursor.
  const std::string state_path = run.checkpoint_path("state");
  tensor::Generator gen(uint64_t(cfg.get_int("seed")) * 31 + 7);
  BatchIterator it(data.train.size(0),
                   std::min(cfg.get_int("distill.batch"), data.train.size(0)),
                   uint64_t(cfg.get_int("seed")) * 37 + 5);
  int64_t global = 0, resume_round = rounds.front(), resume_update = 0;
  double window = 0;
  int64_t window_n = 0;
  nlohmann::json timing = nlohmann::json::object();
  const bool resuming = args.resume && file_exists(state_path);
  const bool eval_only = cfg.get_bool("distill.eval_only");
  nn::TrainState resumed;
  if (resuming) {
    resumed = nn::load_train_state(state_path);
    global = resumed.step;
    resume_round = std::stoll(resumed.extra.at("round"));
    resume_update = std::stoll(resumed.extra.at("round_update"));
    long long wn = 0;
    std::sscanf(resumed.extra.at("loss_window").c_str(), "%la %lld", &window, &wn);
    window_n = wn;
    it.set_state({resumed.data_position / data.train.size(0),
                  resumed.data_position % data.train.size(0)});
    if (file_exists(run.path("timing.json")))
      timing = nlohmann::json::parse(read_file(run.path("timing.json")));
    run.truncate_metrics_after(global);
    std::fprintf(stderr, "resuming the round to %lld steps at update %lld\n",
                 (long long)resume_round, (long long)resume_update);
  } else {
    run.truncate_metrics_after(-1);
  }
  timing["teacher_train_seconds"] = teacher_seconds;
  auto write_timing = [&] { write_file_atomic(run.path("timing.json"), timing.dump(1)); };

  std::unique_ptr<ImageJudge> judge;
  if (judged_as_images(data))
    judge = std::make_unique<ImageJudge>(
        make_image_judge(data, tcfg.get_string("data.name"), cfg.get_int("eval.n")));
  Evaluator eval{cfg, data, judge.get(), run};
  Tensor prev_samples;  // the previous teacher's samples at twice the steps (same noise)

  if (!resuming || eval_only) {
    // Logged at the current update: a re-evaluation's rows are the last of each metric.
    Progress clock("teacher eval", 1);
    for (const std::string& smp : parse_names(cfg.get_string("eval.reference_samplers")))
      eval(teacher, smp, cfg.get_int("eval.reference_steps"), "reference_" + smp, "", global);
    for (int64_t n = n0; n >= n_end; n /= 2) {
      Tensor x = eval(teacher, "ddim", n, "ddim", "@" + std::to_string(n), global);
      if (n == n0) prev_samples = x;
    }
    timing[eval_only ? "reeval_teacher_seconds" : "teacher_eval_seconds"] = clock.seconds();
    write_timing();
  }
  if (eval_only) {
    for (int64_t n : rounds) {
      const std::string path = run.checkpoint_path("student_" + std::to_string(n));
      if (!file_exists(path)) {
        std::fprintf(stderr, "no student for %lld steps yet (%s)\n", (long long)n, path.c_str());
        break;
      }
      nn::load_module(path, *student.module);
      Tensor x = eval(student, "ddim", n, "student", "@" + std::to_string(n), global);
      run.log_metric(global, "student/trajectory_mse@" + std::to_string(n),
                     mean_sq_diff(x, prev_samples));
      prev_samples = x;
    }
    write_distill_report(run, cfg, tcfg, data, teacher, rounds, n0, timing,
                         judge ? &judge->classifier : nullptr);
    std::fprintf(stderr, "report: %s\n", run.path("report.html").c_str());
    return 0;
  }

  for (int64_t n : rounds) {
    const int64_t K = distill_round_updates(cfg, n);
    // Rounds finished (and evaluated) before the interruption.
    if (resuming && (n > resume_round || (n == resume_round && resume_update == K))) continue;
    const std::string tag = "@" + std::to_string(n);
    // The teacher of this round: the original one, or the previous round's student.
    if (n * 2 != n0)
      nn::load_module(run.checkpoint_path("student_" + std::to_string(n * 2)), *teacher.module);
    else
      nn::load_module(teacher_weights, *teacher.module);
    teacher.module->eval();
    student.module->load_state_dict(teacher.module->state_dict());
    std::vector<Var> params = student.module->parameters(true);
    nn::AdamOptions ao;
    ao.lr = cfg.get_double("distill.lr");
    nn::Adam opt(params, ao);
    const double ema_decay = cfg.get_double("distill.ema_decay");
    nn::EmaOptions eo;
    eo.decay = ema_decay;
    std::unique_ptr<nn::Ema> ema;
    if (ema_decay > 0) ema = std::make_unique<nn::Ema>(*student.module, eo);
    int64_t k0 = 0;
    if (resuming && n == resume_round) {
      nn::restore_train_state(resumed, *student.module, opt, ema.get(), gen);
      k0 = resume_update;
    }
    // After a resume, the samples the trajectory error compares with are drawn again.
    if (!prev_samples.defined()) prev_samples = eval.sample(teacher, "ddim", 2 * n);
    std::vector<std::string> names;
    for (auto& [name, p] : student.module->named_parameters(true)) names.push_back(name);
    auto save_state = [&](int64_t k) {
      check_weights_before_save("distill", params, names, state_path);
      nn::TrainState st = nn::capture_train_state(
          global, *student.module, opt, ema.get(), gen,
          it.state().epoch * data.train.size(0) + it.state().position);
      st.extra["round"] = std::to_string(n);
      st.extra["round_update"] = std::to_string(k);
      char win[64];
      std::snprintf(win, sizeof win, "%a %lld", window, (long long)window_n);
      st.extra["loss_window"] = win;
      st.extra["config"] = cfg.resolved().dump();
      nn::save_train_state(state_path, st);
      write_timing();
    };

    Progress prog("distill to " + std::to_string(n) + " steps", K, k0,
                  cfg.get_int("distill.log_every"));
    const double clip = cfg.get_double("distill.grad_clip");
    const int64_t stop_after = cfg.get_int("distill.stop_after");
    const std::string round_key = "round_seconds" + tag;
    const double seconds_before = timing.value(round_key, 0.0);
    student.module->train();
    for (int64_t k = k0; k < K; ++k) {
      Tensor idx = it.next();
      const tensor::Device dev = student.module->device();
      auto step_loss = [&](tensor::Generator& g) {
        Tensor labels;
        if (student.num_classes > 0) labels = take_rows(data.train_labels, idx).to(dev);
        return diffusion::distill_loss(student.net, teacher.net, student.param, *student.schedule,
                                       Var(take_rows(data.train, idx).to(dev)), labels, weighting,
                                       n, g)
            .loss;
      };
      const tensor::Generator gen_before = gen;
      Var L = step_loss(gen);
      opt.zero_grad();
      L.backward();
      const double loss = L.item();
      const double gnorm = nn::clip_grad_norm_(params, clip > 0 ? clip : nn::kInfNorm);
      ++global;
      check_step_finite("distill", global, loss, gnorm, [&] {
        tensor::Generator g = gen_before;
        opt.zero_grad();
        step_loss(g).backward();
      }, state_path);
      const double lr = ao.lr * (1.0 - double(k) / double(K));
      opt.set_lr(lr);
      opt.step();
      if (ema) ema->update();
      window += loss, window_n++;
      prog.update(k + 1, loss);
      if (global % cfg.get_int("distill.log_every") == 0 || k + 1 == K) {
        run.log_metric(global, "loss", window / double(window_n));
        run.log_metric(global, "lr", lr);
        window = 0, window_n = 0;
      }
      timing[round_key] = seconds_before + prog.seconds();
      if ((k + 1) % cfg.get_int("distill.checkpoint_every") == 0 && k + 1 < K) save_state(k + 1);
      if (stop_after > 0 && global >= stop_after && k + 1 < K) {
        save_state(k + 1);
        std::fprintf(stderr, "\nstopping after update %lld (distill.stop_after)\n",
                     (long long)global);
        return 0;
      }
    }
    prog.finish();
    // The student (or its EMA) is this round's result and the next round's teacher.
    if (ema) ema->swap();
    nn::save_module(run.checkpoint_path("student_" + std::to_string(n)), *student.module,
                    {{"config", cfg.resolved().dump()}, {"student_steps", std::to_string(n)},
                     {"teacher", teacher_dir}});
    Progress clock("student eval", 1);
    Tensor x = eval(student, "ddim", n, "student", tag, global);
    // Spec §2.9 (c): on the same noise, how far the N-step student lands from the 2N-step
    // sampler it was distilled from (known only when that sampler was evaluated this session).
    if (prev_samples.defined())
      run.log_metric(global, "student/trajectory_mse" + tag, mean_sq_diff(x, prev_samples));
    prev_samples = x;
    timing["eval_seconds" + tag] = clock.seconds();
    if (ema) ema->swap();
    save_state(K);
    if (stop_after > 0 && global >= stop_after) {
      std::fprintf(stderr, "stopping after update %lld (distill.stop_after)\n", (long long)global);
      return 0;
    }
  }
  write_distill_report(run, cfg, tcfg, data, teacher, rounds, n0, timing,
                       judge ? &judge->classifier : nullptr);
  std::fprintf(stderr, "report: %s\n", run.path("report.html").c_str());
  return 0;
}

}  // namespace difflab::experiments
