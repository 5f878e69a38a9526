// The full training state for bit-exact resume (DESIGN.md practice 9): model weights, optimizer
// moments and step counts, EMA shadows, the RNG generator (seed, offset), the step and a data
// position, in one safetensors file. Tensors are stored under "model.<name>",
// "optimizer.<param name>.<buffer>" (and ".step") and "ema.<name>"; the scalars live in the
// metadata as a JSON string under "train_state". Restoring it into a fresh model, optimizer,
// EMA and generator continues a run with exactly the bits of an uninterrupted one.
#pragma once
#include <string>

#include "nn/ema.h"
#include "nn/optim.h"
#include "nn/safetensors.h"
#include "tensor/random.h"

namespace difflab::nn {

inline constexpr int kTrainStateVersion = 1;

struct TrainState {
  int64_t step = 0;           // optimizer steps completed
  int64_t data_position = 0;  // the caller's cursor into its data (e.g. next sample index)
  uint64_t rng_seed = 0, rng_offset = 0;
  StateDict model;             // parameters and buffers, dotted names
  std::string optimizer_type;  // Optimizer::type()
  double lr = 0;
  StateDict optimizer;  // Optimizer::state_dict keyed by parameter names
  bool has_ema = false;
  int64_t ema_updates = 0;
  StateDict ema;   // shadows by parameter name
  Metadata extra;  // the caller's metadata (e.g. the run config as JSON)
};

// A snapshot (copies, not views) of everything needed to resume. Every optimizer parameter
// must be a parameter of `model`; ema may be null.
TrainState capture_train_state(int64_t step, const Module& model, const Optimizer& opt,
                               const Ema* ema, const tensor::Generator& gen,
                               int64_t data_position = 0);
// Copies the state into model, optimizer (its type must match; its lr is restored), EMA (when
// given, the state must have one) and generator. Errors name the key that does not fit.
void restore_train_state(const TrainState& st, Module& model, Optimizer& opt, Ema* ema,
                         tensor::Generator& gen);

void save_train_state(const std::string& path, const TrainState& st);
// Errors name the file (and the key where one is at fault).
TrainState load_train_state(const std::string& path);

}  // namespace difflab::nn
