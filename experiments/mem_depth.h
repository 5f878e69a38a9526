// `difflab mem-depth`: gradient memory, time and error against sampler depth
// (spec_distillation_implicit §4.4). For each sampler (DDIM, ancestral DDPM with Philox noise
// redrawn on the backward pass) and each K, the gradient of a loss on the final samples
// (distance to (1, …, 1) for the 2-D MLP, minus the brightness for the MNIST-small U-Net) with
// respect to every parameter and the initial noise, by every method named in mem.methods:
//   full, per_step, segments (√K), two_level, revolve:C (C = a number or "log" = ⌈log₂K⌉),
//   recompute (O(1), K <= mem.recompute_max), per_step_levels (per-step checkpointing with the
//   U-Net checkpointed per resolution level inside each step), adjoint_recorded, adjoint_reintegrated (DDIM),
//   truncated:k (DRaFT-k), score_function (DDPM).
// Each row records the allocator's peak bytes split into saved activations, chain states and
// parameters, forward and VJP counts (checked against the exact formulas where there is one),
// the median wall time, the process's peak RSS, and the gradient's error against full backprop
// in f64 (relative L2 and cosine for θ, relative L2 for z_0) and in f32. Rows are kept in
// rows.json as each K finishes (--resume skips the finished ones); report.html plots memory,
// time and error against K on log–log axes with fitted slopes and checks the spec's acceptance.
#pragma once
#include <cstddef>
#include <string>
#include <vector>

#include "experiments/command.h"

namespace difflab::experiments {

Config mem_depth_config();

struct MemDepthSettings {
  std::string model = "mlp";              // mlp | unet
  std::vector<std::string> samplers{"ddim", "ddpm"};
  std::vector<int64_t> steps;             // K values
  std::vector<std::string> methods;
  int64_t batch = 0;                      // 0: 64 (mlp) or 8 (unet)
  int64_t recompute_max = 64;
  int64_t repeats = 5;                    // timed runs per row (median)
  double time_budget = 30;                // seconds of timed runs per row before stopping early
  bool errors = true;                     // the f64 pass (gradient errors against full)
  uint64_t seed = 0;
};
MemDepthSettings mem_depth_settings(const Config& cfg);

struct MemDepthRow {
  std::string model, sampler, method;
  int64_t steps = 0, batch = 0;
  int64_t forwards = 0, vjps = 0, expected_forwards = -1;  // -1: no exact formula
  int64_t peak_states = 0;
  size_t peak_bytes = 0, activation_bytes = 0, state_bytes = 0, param_bytes = 0;
  size_t rss_peak_bytes = 0;    // the process's high-water mark after the row (ru_maxrss)
  size_t rss_before_bytes = 0;  // its resident set before the row's first gradient
  double seconds = 0;  // median over timed_runs
  int64_t timed_runs = 0;
  // Against full backprop at the same K (NaN when not computed).
  double rel_err = 0, cosine = 0, z0_rel_err = 0, rel_err_f32 = 0;
};

// Measures every applicable (method) for one sampler and K.
std::vector<MemDepthRow> mem_depth_rows(const MemDepthSettings& s, const std::string& sampler,
                                        int64_t steps);

int run_mem_depth(const CommandArgs& args);

}  // namespace difflab::experiments
