#include "experiments/train_settings.h"

#include <algorithm>

#include "tensor/streams.h"

namespace difflab::experiments {

void declare_train_keys(Config& c, const TrainDefaults& d) {
  c.declare_int("train.steps", d.steps, 1, 100000000, "optimizer steps")
      .declare_int("train.batch", d.batch, d.min_batch, d.max_batch, "data samples per step")
      .declare_double("train.lr", d.lr, 0.0, 1.0, "Adam learning rate (train-ddpm: the peak of its warm-up + cosine)")
      .declare_double("train.grad_clip", d.grad_clip, 0.0, 1e9, "clip the gradient norm (0 = off)")
      .declare_double("train.ema_decay", d.ema_decay, 0.0, 1.0, "EMA of the weights (0 = off)")
      .declare_int("train.log_every", 50, 1, 100000000, "steps between loss log rows")
      .declare_int("train.checkpoint_every", d.checkpoint_every, 1, 100000000,
                   "steps between checkpoints")
      .declare_int("train.eval_every", d.eval_every, 1, 100000000, "steps between sample metrics")
      .declare_int("train.stop_after", 0, 0, 100000000,
                   "stop (with a checkpoint) after this step, as an interruption would (0 = off)");
}

TrainSettings train_settings(const Config& cfg) {
  TrainSettings s;
  LoopSettings& l = s.loop;
  l.updates = cfg.get_int("train.steps");
  l.lr = cfg.get_double("train.lr");
  l.grad_clip = cfg.get_double("train.grad_clip");
  l.ema_decay = cfg.get_double("train.ema_decay");
  l.log_every = cfg.get_int("train.log_every");
  l.checkpoint_every = cfg.get_int("train.checkpoint_every");
  l.eval_every = cfg.get_int("train.eval_every");
  l.stop_after = cfg.get_int("train.stop_after");
  s.batch = cfg.get_int("train.batch");
  s.seed = uint64_t(cfg.get_int("seed"));
  return s;
}

RunCursor train_cursor(const TrainSettings& s, int64_t n_train) {
  return RunCursor(tensor::Generator(s.seed * 13 + 5),
                   BatchIterator(n_train, std::min(s.batch, n_train), s.seed * 17 + 3),
                   tensor::named_stream(s.seed, "dropout"));
}

}  // namespace difflab::experiments
