#include "experiments/train_settings.h"

#include <algorithm>

namespace difflab::experiments {

LoopSettings train_loop_settings(const Config& cfg) {
  LoopSettings s;
  s.updates = cfg.get_int("train.steps");
  s.lr = cfg.get_double("train.lr");
  s.grad_clip = cfg.get_double("train.grad_clip");
  s.ema_decay = cfg.get_double("train.ema_decay");
  s.log_every = cfg.get_int("train.log_every");
  s.checkpoint_every = cfg.get_int("train.checkpoint_every");
  s.eval_every = cfg.get_int("train.eval_every");
  s.stop_after = cfg.get_int("train.stop_after");
  return s;
}

RunCursor train_cursor(const Config& cfg, int64_t n_train) {
  const uint64_t seed = uint64_t(cfg.get_int("seed"));
  return RunCursor{tensor::Generator(seed * 13 + 5),
                   BatchIterator(n_train, std::min(cfg.get_int("train.batch"), n_train),
                                 seed * 17 + 3)};
}

}  // namespace difflab::experiments
