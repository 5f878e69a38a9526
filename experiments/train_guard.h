// The trainers' guard against non-finite numbers: a step whose loss or gradient is NaN/Inf never
// reaches the weights. The run stops with a message naming the step, the values, the op that
// first produced a NaN/Inf (found by replaying the step in anomaly mode) and the last good
// checkpoint, which is left untouched; and no checkpoint is ever written from non-finite weights.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "autograd/var.h"

namespace difflab::experiments {

// True when every element of every parameter is finite.
bool all_finite(const std::vector<ag::Var>& params);

// Call after backward, before the optimizer step. `gnorm` is the total gradient norm (e.g. the
// value clip_grad_norm_ returned). When loss or gnorm is not finite, runs `replay` (the same
// forward and backward, with the same inputs and noise) under ag::AnomalyGuard to name the op,
// and throws difflab::Error; otherwise returns.
void check_step_finite(const std::string& command, int64_t step, double loss, double gnorm,
                       const std::function<void()>& replay, const std::string& last_checkpoint);

// Throws when a parameter is NaN/Inf instead of writing it to `path`.
void check_weights_before_save(const std::string& command, const std::vector<ag::Var>& params,
                               const std::vector<std::string>& names, const std::string& path);

}  // namespace difflab::experiments
