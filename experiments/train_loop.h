// The one training loop of every command: a task supplies its module, the loss of a batch and
// its hooks (evaluation, extra state, the weights to publish); the loop owns Adam, the learning
// rate schedule, clipping, the EMA, the non-finite guard and its replay, loss rows, progress,
// resumable states (bit-exact --resume), stop_after, timing and cancellation (SIGINT/SIGTERM or
// a caller's hook: the state is saved and the run can be resumed).
#pragma once
#include <functional>
#include <optional>
#include <string>
#include <utility>

#include "autograd/var.h"
#include "experiments/data/batch_iterator.h"
#include "experiments/run_folder.h"
#include "nn/lr_schedule.h"
#include "nn/module.h"
#include "nn/train_state.h"
#include "tensor/random.h"

namespace difflab::experiments {

// How one loop runs: its length, optimizer settings, and when it logs, evaluates, checkpoints
// and stops. Read once from a command's config.
struct LoopSettings {
  int64_t updates = 1;           // optimizer steps of this loop (a distillation round's K)
  double lr = 1e-3;              // Adam's learning rate (its start when a schedule is given)
  double grad_clip = 0;          // max gradient norm (0 = off: the norm is only measured)
  double ema_decay = 0;          // EMA of the weights (0 = off: evaluate the weights themselves)
  int64_t log_every = 50;        // a loss row when the run's step is a multiple, and at the end
  int64_t checkpoint_every = 0;  // a state every this many updates (0 = at the end only)
  int64_t eval_every = 0;        // an evaluation every this many updates (0 = at the end only)
  int64_t stop_after = 0;        // stop with a state once the run's step reaches it (0 = off)
};

// What a run carries from one loop to the next (a distillation chain's rounds share it) and
// keeps in its state: the noise generator, the data order, the run's step, the open
// loss-logging window and the dropout stream.
struct RunCursor {
  RunCursor(tensor::Generator noise, BatchIterator order, tensor::Generator dropout_stream)
      : gen(noise), batches(std::move(order)), dropout(dropout_stream) {}

  tensor::Generator gen;
  BatchIterator batches;
  int64_t step = 0;    // optimizer steps of the whole run so far
  double window = 0;   // loss sum and count since the last logged row
  int64_t window_n = 0;
  // Every Dropout of the trained module draws from this stream while a loop runs (stored in the
  // state as "dropout_rng", so a resumed run draws the masks the uninterrupted one would).
  tensor::Generator dropout;

  int64_t data_position() const;  // epoch · N + position, as states store it
  // Generator, data position, step and loss window from a state (a distillation chain resumed
  // at a round boundary restores these without a module).
  void restore(const nn::TrainState& st);
};

// Whether the state holds EMA shadows when the decay is 0: train-ddpm, train-drift and
// train-flux states always have (kept so that their runs resume and stay bit-identical); a
// distillation round's only when its EMA is on.
enum class EmaInState { always, when_on };

struct TrainTask {
  std::string command;  // names errors ("train-ddpm")
  std::string label;    // the progress line's label ("train", "distill to 4 steps")
  nn::Module* module = nullptr;
  // The loss of the batch of training rows `index`; every random draw from g (a non-finite
  // step is replayed from the same generator to name the op at fault).
  std::function<ag::Var(const tensor::Tensor& index, tensor::Generator& g)> loss;
  nn::LrSchedule lr;  // by update index; empty: LoopSettings::lr throughout, no "lr" rows
  EmaInState ema_in_state = EmaInState::always;
  bool evaluate_at_start = false;  // evaluate at update 0 too (the untrained network)
  // Called at evaluations and saves with the EMA weights swapped in (when the EMA is on).
  std::function<void(int64_t step)> evaluate;
  std::function<void(int64_t step)> save_weights;
  // Adds the task's own entries to a state before it is written; `update` is the loop's index.
  std::function<void(nn::TrainState& st, int64_t update)> state_extra;
  // Called after every update with the run's step and the loss; returning false stops the run
  // as an interruption would (state saved; --resume continues).
  std::function<bool(int64_t step, double loss)> on_step;
};

// Where a loop writes: its run folder, the resolved config stored in every state, timing.json
// and the key under which the loop adds its wall time there.
struct LoopOutput {
  RunFolder& run;
  std::string config_json;
  RunTiming& timing;
  std::string timing_key = "train_seconds";
};

enum class LoopEnd { finished, stopped };

// Runs updates [first, settings.updates) of `task`. With `resume`, restores module, optimizer,
// EMA, generator, data order and window from it first (`first` is then the update it was saved
// at). Returns stopped when stop_after or a cancellation ended it early.
LoopEnd run_train_loop(TrainTask& task, const LoopSettings& settings, RunCursor& cursor,
                       LoopOutput out, int64_t first = 0,
                       const nn::TrainState* resume = nullptr);

// The state a command resumes from: with --resume and a state in the folder, that state, and
// metrics.csv cut back to its step; otherwise none, and metrics.csv emptied.
std::optional<nn::TrainState> resume_point(RunFolder& run, bool resume);

}  // namespace difflab::experiments
