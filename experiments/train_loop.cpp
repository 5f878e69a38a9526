#include "experiments/train_loop.h"

#include <cstdio>
#include <memory>

#include "experiments/cancel.h"
#include "experiments/io.h"
#include "experiments/progress.h"
#include "experiments/train_guard.h"
#include "nn/clip.h"
#include "nn/ema.h"
#include "nn/layers.h"
#include "nn/optim.h"
#include "tensor/error.h"

namespace difflab::experiments {

using ag::Var;
using tensor::Tensor;

int64_t RunCursor::data_position() const {
  return batches.state().epoch * batches.dataset_size() + batches.state().position;
}

void RunCursor::restore(const nn::TrainState& st) {
  const int64_t n = batches.dataset_size();
  batches.set_state({st.data_position / n, st.data_position % n});
  gen = tensor::Generator(st.rng_seed, st.rng_offset);
  step = st.step;
  window = 0, window_n = 0;
  if (st.extra.count("loss_window")) {
    long long wn = 0;
    std::sscanf(st.extra.at("loss_window").c_str(), "%la %lld", &window, &wn);
    window_n = wn;
  }
  // States written before the stream existed drew dropout from the process's generator.
  if (st.extra.count("dropout_rng"))
    dropout = tensor::Generator(dropout.seed(), std::stoull(st.extra.at("dropout_rng")));
}

std::optional<nn::TrainState> resume_point(RunFolder& run, bool resume) {
  const std::string state_path = run.checkpoint_path("state");
  if (!resume || !file_exists(state_path)) {
    run.truncate_metrics_after(-1);
    return std::nullopt;
  }
  nn::TrainState st = nn::load_train_state(state_path);
  run.truncate_metrics_after(st.step);
  return st;
}

namespace {

bool every(int64_t n, int64_t period) { return period > 0 && n % period == 0; }

// One loop's optimizer, EMA and bookkeeping; its methods are the steps of run_train_loop.
class Loop {
 public:
  Loop(TrainTask& task, const LoopSettings& s, RunCursor& cursor, LoopOutput out)
      : task_(task), s_(s), cur_(cursor), out_(out),
        state_path_(out.run.checkpoint_path("state")),
        params_(task.module->parameters(true)),
        opt_(params_, adam_options(s.lr)) {
    for (auto& [name, p] : task.module->named_parameters(true)) names_.push_back(name);
    nn::EmaOptions eo;
    eo.decay = s.ema_decay;
    if (s.ema_decay > 0 || task.ema_in_state == EmaInState::always)
      ema_ = std::make_unique<nn::Ema>(*task.module, eo);
    nn::set_dropout_generator(*task.module, &cur_.dropout);
  }
  ~Loop() { nn::set_dropout_generator(*task_.module, nullptr); }
  Loop(const Loop&) = delete;
  Loop& operator=(const Loop&) = delete;

  void restore(const nn::TrainState& st) {
    nn::restore_train_state(st, *task_.module, opt_, ema_.get(), cur_.gen);
    cur_.restore(st);
  }

  LoopEnd run(int64_t first);

 private:
  static nn::AdamOptions adam_options(double lr) {
    nn::AdamOptions ao;
    ao.lr = lr;
    return ao;
  }
  bool ema_on() const { return s_.ema_decay > 0; }
  // Runs f with the EMA weights swapped in (when the EMA is on).
  template <typename F>
  void with_ema(F f) {
    if (ema_on()) ema_->swap();
    f();
    if (ema_on()) ema_->swap();
  }
  double update(int64_t k);
  void log_rows(int64_t k, double lr);
  void save(int64_t k);
  bool should_stop(double loss);

  TrainTask& task_;
  const LoopSettings& s_;
  RunCursor& cur_;
  LoopOutput out_;
  std::string state_path_;
  std::vector<Var> params_;
  std::vector<std::string> names_;
  nn::Adam opt_;
  std::unique_ptr<nn::Ema> ema_;
  std::unique_ptr<Progress> prog_;
  double prior_seconds_ = 0;
};

// One optimizer step on the next batch; returns its loss.
double Loop::update(int64_t k) {
  Tensor idx = cur_.batches.next();
  const tensor::Generator gen_before = cur_.gen, dropout_before = cur_.dropout;
  Var L = task_.loss(idx, cur_.gen);
  opt_.zero_grad();
  L.backward();
  const double loss = L.item();
  // With clipping off, a max norm of infinity only measures the norm.
  const double gnorm = nn::clip_grad_norm_(params_, s_.grad_clip > 0 ? s_.grad_clip : nn::kInfNorm);
  ++cur_.step;
  check_step_finite(task_.command, cur_.step, loss, gnorm, [&] {
    tensor::Generator g = gen_before;
    cur_.dropout = dropout_before;
    opt_.zero_grad();
    task_.loss(idx, g).backward();
  }, state_path_);
  const double lr = task_.lr ? nn::apply_lr(opt_, task_.lr, k) : opt_.lr();
  opt_.step();
  if (ema_on()) ema_->update();
  cur_.window += loss, cur_.window_n++;
  char extra[32] = "";
  if (task_.lr) std::snprintf(extra, sizeof extra, "lr %.2e", lr);
  prog_->update(k + 1, loss, extra);
  out_.timing.set(out_.timing_key, prior_seconds_ + prog_->seconds());
  log_rows(k, lr);
  return loss;
}

// The loss averaged since the last row (and the learning rate) on logging steps and at the end.
void Loop::log_rows(int64_t k, double lr) {
  if (!every(cur_.step, s_.log_every) && k + 1 != s_.updates) return;
  out_.run.log_metric(cur_.step, "loss", cur_.window / double(cur_.window_n));
  if (task_.lr) out_.run.log_metric(cur_.step, "lr", lr);
  cur_.window = 0, cur_.window_n = 0;
}

void Loop::save(int64_t k) {
  check_weights_before_save(task_.command, params_, names_, state_path_);
  nn::TrainState st = nn::capture_train_state(cur_.step, *task_.module, opt_, ema_.get(),
                                              cur_.gen, cur_.data_position());
  st.extra["config"] = out_.config_json;
  // The open loss-logging window, so a resumed run logs the same averages (hex: exact).
  char win[64];
  std::snprintf(win, sizeof win, "%a %lld", cur_.window, (long long)cur_.window_n);
  st.extra["loss_window"] = win;
  st.extra["dropout_rng"] = std::to_string(cur_.dropout.offset());
  if (task_.state_extra) task_.state_extra(st, k);
  nn::save_train_state(state_path_, st);
  out_.timing.write();
  if (task_.save_weights) with_ema([&] { task_.save_weights(cur_.step); });
}

bool Loop::should_stop(double loss) {
  if (s_.stop_after > 0 && cur_.step >= s_.stop_after) {
    std::fprintf(stderr, "\nstopping after step %lld (stop_after)\n", (long long)cur_.step);
    return true;
  }
  const bool hook = task_.on_step && !task_.on_step(cur_.step, loss);
  if (!hook && !cancel_requested()) return false;
  std::fprintf(stderr, "\ninterrupted after step %lld: state saved in %s; continue with --resume\n",
               (long long)cur_.step, state_path_.c_str());
  return true;
}

LoopEnd Loop::run(int64_t first) {
  prior_seconds_ = out_.timing.get(out_.timing_key);
  prog_ = std::make_unique<Progress>(task_.label, s_.updates, first, s_.log_every);
  SignalCancel on_signal;
  if (first == 0 && task_.evaluate_at_start && task_.evaluate)
    with_ema([&] { task_.evaluate(cur_.step); });
  task_.module->train();
  for (int64_t k = first; k < s_.updates; ++k) {
    const double loss = update(k);
    const bool last = k + 1 == s_.updates;
    if (task_.evaluate && (every(k + 1, s_.eval_every) || last))
      with_ema([&] { task_.evaluate(cur_.step); });
    const bool saved = every(k + 1, s_.checkpoint_every) || last;
    if (saved) save(k + 1);
    if (should_stop(loss)) {
      if (!saved) save(k + 1);
      return LoopEnd::stopped;
    }
  }
  prog_->finish();
  out_.timing.write();
  return LoopEnd::finished;
}

}  // namespace

LoopEnd run_train_loop(TrainTask& task, const LoopSettings& settings, RunCursor& cursor,
                       LoopOutput out, int64_t first, const nn::TrainState* resume) {
  DIFFLAB_CHECK(task.module && task.loss, task.command, ": a training task needs a module and a loss");
  Loop loop(task, settings, cursor, out);
  if (resume) {
    loop.restore(*resume);
    std::fprintf(stderr, "resumed at step %lld\n", (long long)cursor.step);
  }
  return loop.run(first);
}

}  // namespace difflab::experiments
