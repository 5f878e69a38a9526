#include "experiments/distill.h"

#include <cmath>
#include <cstdio>

#include "diffusion/distill.h"
#include "experiments/cancel.h"
#include "experiments/distill_eval.h"
#include "experiments/distill_report.h"
#include "experiments/io.h"
#include "experiments/progress.h"
#include "experiments/run_folder.h"
#include "experiments/train_ddpm.h"
#include "experiments/train_loop.h"
#include "nn/safetensors.h"
#include "tensor/streams.h"

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

DistillSettings distill_settings(const Config& cfg) {
  DistillSettings s;
  s.teacher = cfg.get_string("distill.teacher");
  s.teacher_preset = cfg.get_string("distill.teacher_preset");
  s.start_steps = cfg.get_int("distill.start_steps");
  s.end_steps = cfg.get_int("distill.end_steps");
  s.updates = cfg.get_int("distill.updates");
  s.last_rounds_factor = cfg.get_double("distill.last_rounds_factor");
  s.batch = cfg.get_int("distill.batch");
  s.lr = cfg.get_double("distill.lr");
  s.grad_clip = cfg.get_double("distill.grad_clip");
  s.weighting = cfg.get_string("distill.weighting");
  s.ema_decay = cfg.get_double("distill.ema_decay");
  s.log_every = cfg.get_int("distill.log_every");
  s.checkpoint_every = cfg.get_int("distill.checkpoint_every");
  s.stop_after = cfg.get_int("distill.stop_after");
  s.eval_only = cfg.get_bool("distill.eval_only");
  DistillEvalSettings& e = s.eval;
  e.n = cfg.get_int("eval.n"), e.seeds = cfg.get_int("eval.seeds");
  e.batch = cfg.get_int("eval.batch"), e.grid = cfg.get_int("eval.grid");
  e.clip_x0 = cfg.get_bool("eval.clip_x0");
  e.reference_steps = cfg.get_int("eval.reference_steps");
  e.reference_samplers = parse_names(cfg.get_string("eval.reference_samplers"));
  s.seed = uint64_t(cfg.get_int("seed"));
  s.threads = cfg.get_int("threads");
  s.device = cfg.get_string("device");
  return s;
}

int64_t distill_round_updates(const DistillSettings& s, int64_t n) {
  return n <= 2 ? int64_t(double(s.updates) * s.last_rounds_factor) : s.updates;
}

namespace {

bool is_pow2(int64_t n) { return n >= 1 && (n & (n - 1)) == 0; }

// Distillation needs the continuous cosine grid and an x̂ defined at t = 1.
void check_teacher(const DdpmModelSettings& t, const std::string& teacher_dir) {
  DIFFLAB_CHECK(t.schedule == "cosine", "distill: the teacher in '", teacher_dir, "' uses the '",
                t.schedule,
                "' schedule; distillation runs on the continuous cosine schedule's grid t = i/N "
                "(train the teacher with diffusion.schedule=cosine)");
  DIFFLAB_CHECK(t.param != diffusion::Parameterization::eps, "distill: the teacher in '",
                teacher_dir,
                "' predicts eps, whose x̂ = (z − σε̂)/α is undefined at t = 1 where a few-step "
                "student starts (Salimans & Ho §4); train it with diffusion.param=v or x0");
}

// The resolved config of the teacher's run, on the distill run's threads and device.
Config teacher_config(const DistillSettings& s, const std::string& dir, bool from_run,
                      const std::string& preset = "") {
  CommandArgs a;
  a.preset = preset;
  Config t = command_config(ddpm_config(), a, dir, from_run);
  t.put("threads", s.threads).put("device", s.device);
  return t;
}

// The teacher's run: trained here first when asked to and not done yet.
std::string ensure_teacher(const DistillSettings& s) {
  const std::string& dir = s.teacher;
  DIFFLAB_CHECK(!dir.empty(), "distill.teacher: give the run folder of a trained train-ddpm run "
                              "(or a preset that names one)");
  const std::string weights = dir + "/checkpoints/ema.safetensors";
  if (file_exists(dir + "/report.html") && file_exists(weights)) return dir;
  DIFFLAB_CHECK(!s.teacher_preset.empty() || file_exists(weights),
                "distill.teacher: no trained teacher in '", dir, "' (", weights,
                " is missing); train one with `difflab train-ddpm --run ", dir,
                "`, or set distill.teacher_preset");
  if (s.teacher_preset.empty()) return dir;  // weights without a finished run: use them as they are
  const bool resume = file_exists(dir + "/config.json");
  // An interrupted teacher run is refused before it is resumed.
  if (resume) check_teacher(ddpm_model_settings(teacher_config(s, dir, true)), dir);
  std::fprintf(stderr, "training the teacher first: difflab train-ddpm --preset %s --run %s%s\n",
               s.teacher_preset.c_str(), dir.c_str(), resume ? " --resume" : "");
  train_ddpm(teacher_config(s, dir, resume, s.teacher_preset), dir, resume);
  DIFFLAB_CHECK(!cancel_requested(), "distill: interrupted while training the teacher in '", dir,
                "'; the same command resumes it");
  return dir;
}

// What a distillation chain works on: its settings, the teacher run's, data and models.
struct Chain {
  DistillSettings s;
  nlohmann::json config;  // the run's resolved config
  DdpmRunSettings ts;     // the teacher's run
  std::string teacher_dir, teacher_weights;
  Dataset data;
  DdpmModel teacher, student;
  diffusion::LossWeighting weighting = diffusion::LossWeighting::prediction_mse;
  std::vector<int64_t> rounds;  // student step counts, N0/2 down to end_steps
};

// Resolves the run's config (`--preset tiny` means experiments/configs/distill_tiny.json) and
// checks it, trains the teacher if asked to, and builds the chain's models.
Chain open_chain(CommandArgs args, const std::string& dir) {
  if (!args.preset.empty() && !file_exists(config_dir() + "/" + args.preset + ".json") &&
      file_exists(config_dir() + "/distill_" + args.preset + ".json"))
    args.preset = "distill_" + args.preset;
  const Config cfg = command_config(distill_config(), args, dir, args.resume);
  apply_threads(cfg);
  Chain c{distill_settings(cfg), cfg.resolved(), {}, {}, {}, {}, {}, {}, {}, {}};
  const DistillSettings& s = c.s;
  const std::string state = dir + "/checkpoints/state.safetensors";
  DIFFLAB_CHECK(!s.eval_only || (args.resume && file_exists(state)), "distill.eval_only: '",
                dir, "' holds no started chain to evaluate (", state,
                " is missing); give --resume and the run folder of a distill run");
  DIFFLAB_CHECK(is_pow2(s.start_steps) && is_pow2(s.end_steps) && s.end_steps < s.start_steps,
                "distill: start_steps ", s.start_steps, " and end_steps ", s.end_steps,
                " must be powers of two with end_steps < start_steps");
  for (int64_t n = s.start_steps / 2; n >= s.end_steps; n /= 2) c.rounds.push_back(n);
  // The teacher: its run's config decides data, network and diffusion settings.
  c.teacher_dir = ensure_teacher(s);
  c.ts = ddpm_run_settings(teacher_config(s, c.teacher_dir, true));
  check_teacher(c.ts.model, c.teacher_dir);
  c.data = load_dataset(c.ts.data);
  c.teacher = make_ddpm_model(c.ts.model, c.data);
  // The student distils without dropout (Salimans & Ho), whatever the teacher trained with: its
  // train mode would otherwise apply the teacher's dropout to every distillation update.
  DdpmModelSettings student = c.ts.model;
  student.dropout = 0;
  c.student = make_ddpm_model(student, c.data);
  c.teacher_weights = c.teacher_dir + "/checkpoints/ema.safetensors";
  nn::load_module(c.teacher_weights, *c.teacher.module);
  c.weighting = s.weighting == "teacher" ? c.teacher.weighting
                                         : diffusion::parse_loss_weighting(s.weighting);
  return c;
}

// The teacher's reference samplers and its DDIM at every step count of the chain; returns its
// samples at N0 steps (what the first student's trajectory error compares with).
Tensor evaluate_teacher(const Chain& c, ChainEvaluator& eval, RunTiming& timing, int64_t step) {
  // Logged at the current update: a re-evaluation's rows are the last of each metric.
  Progress clock("teacher eval", 1);
  for (const std::string& smp : c.s.eval.reference_samplers)
    eval(c.teacher, smp, c.s.eval.reference_steps, "reference_" + smp, "", step);
  Tensor first;
  for (int64_t n = c.s.start_steps; n >= c.s.end_steps; n /= 2) {
    Tensor x = eval(c.teacher, "ddim", n, "ddim", "@" + std::to_string(n), step);
    if (n == c.s.start_steps) first = x;
  }
  timing.set(c.s.eval_only ? "reeval_teacher_seconds" : "teacher_eval_seconds", clock.seconds());
  timing.write();
  return first;
}

// distill.eval_only: every saved student evaluated again (no training).
void reevaluate_students(Chain& c, ChainEvaluator& eval, RunFolder& run, Tensor prev,
                         int64_t step) {
  for (int64_t n : c.rounds) {
    const std::string path = run.checkpoint_path("student_" + std::to_string(n));
    if (!file_exists(path)) {
      std::fprintf(stderr, "no student for %lld steps yet (%s)\n", (long long)n, path.c_str());
      break;
    }
    nn::load_module(path, *c.student.module);
    Tensor x = eval(c.student, "ddim", n, "student", "@" + std::to_string(n), step);
    run.log_metric(step, "student/trajectory_mse@" + std::to_string(n), mean_sq_diff(x, prev));
    prev = x;
  }
}

// The loop's task for the round that distils the current teacher into an n-step student:
// loss, the linear decay of the learning rate to 0 over the round, and at its end the student
// saved (its EMA when on) and evaluated against the 2n-step sampler's samples `prev`.
TrainTask round_task(Chain& c, int64_t n, int64_t K, ChainEvaluator& eval, RunFolder& run,
                     RunTiming& timing, Tensor& prev) {
  TrainTask task;
  task.command = "distill";
  task.label = "distill to " + std::to_string(n) + " steps";
  task.module = c.student.module.get();
  task.ema_in_state = EmaInState::when_on;
  task.loss = [&c, n](const Tensor& idx, tensor::Generator& g) {
    const tensor::Device dev = c.student.module->device();
    Tensor labels;
    if (c.student.num_classes > 0) labels = take_rows(c.data.train_labels, idx).to(dev);
    return diffusion::distill_loss(c.student.net, c.teacher.net, c.student.param,
                                   *c.student.schedule, Var(take_rows(c.data.train, idx).to(dev)),
                                   labels, c.weighting, n, g)
        .loss;
  };
  task.lr = nn::linear_decay_lr(c.s.lr, K);
  const std::string tag = "@" + std::to_string(n);
  task.evaluate = [&c, &eval, &run, &timing, &prev, n, tag](int64_t step) {
    // The student (or its EMA) is this round's result and the next round's teacher.
    nn::save_module(run.checkpoint_path("student_" + std::to_string(n)), *c.student.module,
                    {{"config", c.config.dump()}, {"student_steps", std::to_string(n)},
                     {"teacher", c.teacher_dir}});
    Progress clock("student eval", 1);
    Tensor x = eval(c.student, "ddim", n, "student", tag, step);
    // Spec §2.9 (c): on the same noise, how far the N-step student lands from the 2N-step
    // sampler it was distilled from.
    run.log_metric(step, "student/trajectory_mse" + tag, mean_sq_diff(x, prev));
    prev = x;
    timing.set("eval_seconds" + tag, clock.seconds());
  };
  task.state_extra = [n](nn::TrainState& st, int64_t k) {
    st.extra["round"] = std::to_string(n);
    st.extra["round_update"] = std::to_string(k);
  };
  return task;
}

LoopSettings round_settings(const DistillSettings& s, int64_t K) {
  LoopSettings l;
  l.updates = K;
  l.lr = s.lr;
  l.grad_clip = s.grad_clip;
  l.ema_decay = s.ema_decay;
  l.log_every = s.log_every;
  l.checkpoint_every = s.checkpoint_every;
  l.stop_after = s.stop_after;
  return l;
}

// Trains the rounds not finished before `resumed` (all without one); false when stopped.
bool train_rounds(Chain& c, ChainEvaluator& eval, RunFolder& run, RunTiming& timing,
                  RunCursor& cursor, const std::optional<nn::TrainState>& resumed, Tensor& prev) {
  const int64_t resume_round = resumed ? std::stoll(resumed->extra.at("round")) : 0;
  const int64_t resume_update = resumed ? std::stoll(resumed->extra.at("round_update")) : 0;
  for (int64_t n : c.rounds) {
    const int64_t K = distill_round_updates(c.s, n);
    // Rounds finished (and evaluated) before the interruption.
    if (resumed && (n > resume_round || (n == resume_round && resume_update == K))) continue;
    // The teacher of this round: the original one, or the previous round's student.
    nn::load_module(n * 2 != c.s.start_steps
                        ? run.checkpoint_path("student_" + std::to_string(n * 2))
                        : c.teacher_weights,
                    *c.teacher.module);
    c.teacher.module->eval();
    c.student.module->load_state_dict(c.teacher.module->state_dict());
    // After a resume, the samples the trajectory error compares with are drawn again.
    if (!prev.defined()) prev = eval.sample(c.teacher, "ddim", 2 * n);
    const bool here = resumed && n == resume_round;
    TrainTask task = round_task(c, n, K, eval, run, timing, prev);
    LoopOutput out{run, c.config.dump(), timing, "round_seconds@" + std::to_string(n)};
    if (run_train_loop(task, round_settings(c.s, K), cursor, out, here ? resume_update : 0,
                       here ? &*resumed : nullptr) == LoopEnd::stopped)
      return false;
  }
  return true;
}

}  // namespace

int run_distill(const CommandArgs& args) {
  const std::string dir = default_run_dir("distill", args);
  Chain c = open_chain(args, dir);
  RunLock lock(dir);
  RunFolder run(dir);
  run.write_config(c.config);
  std::fprintf(stderr, "run folder: %s\nteacher: %s (%s, %lld parameters, %s prediction, %s)\n",
               dir.c_str(), c.teacher_dir.c_str(), c.data.description.c_str(),
               (long long)c.teacher.module->num_parameters(),
               diffusion::parameterization_name(c.teacher.param),
               diffusion::loss_weighting_name(c.weighting));
  // Resumable state: the student mid-round, its optimizer, the generator and data cursor.
  const std::optional<nn::TrainState> resumed = resume_point(run, args.resume);
  RunCursor cursor(tensor::Generator(c.s.seed * 31 + 7),
                   BatchIterator(c.data.train.size(0), std::min(c.s.batch, c.data.train.size(0)),
                                 c.s.seed * 37 + 5),
                   tensor::named_stream(c.s.seed, "dropout"));
  if (resumed) {
    cursor.restore(*resumed);
    std::fprintf(stderr, "resuming the round to %s steps at update %s\n",
                 resumed->extra.at("round").c_str(), resumed->extra.at("round_update").c_str());
  }
  RunTiming timing(run, resumed.has_value());
  double teacher_seconds = NAN;
  if (file_exists(c.teacher_dir + "/timing.json"))
    teacher_seconds = nlohmann::json::parse(read_file(c.teacher_dir + "/timing.json"))
                          .value("train_seconds", NAN);
  timing.set("teacher_train_seconds", teacher_seconds);
  std::unique_ptr<ImageJudge> judge;
  if (judged_as_images(c.data))
    judge = std::make_unique<ImageJudge>(make_image_judge(c.data, c.ts.data.name, c.s.eval.n));
  ChainEvaluator eval{c.s.eval, c.s.seed, c.data, judge.get(), run};
  Tensor prev;  // the previous teacher's samples at twice the steps (same noise)
  if (!resumed || c.s.eval_only) prev = evaluate_teacher(c, eval, timing, cursor.step);
  if (c.s.eval_only) reevaluate_students(c, eval, run, prev, cursor.step);
  else if (!train_rounds(c, eval, run, timing, cursor, resumed, prev)) return 0;
  write_distill_report(run, c.s, c.config, c.ts, c.data, c.teacher, c.rounds, timing.values(),
                       judge ? &judge->classifier : nullptr);
  std::fprintf(stderr, "report: %s\n", run.path("report.html").c_str());
  return 0;
}

}  // namespace difflab::experiments
