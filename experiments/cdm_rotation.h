// `difflab cdm --set cdm.task=mnist_rot`: MLGD-F's MNIST-rotation benchmark (spec
// spec_mlgdf_concepts_drifting.md §2.8–2.10) at reduced scale. X is a digit image (the prior: a
// U-Net DDPM trained on rotated digits, data mnist_rot), Y its angle as (cos θ, sin θ) under the
// augmented conditional (a consistency model with the image encoder, data mnist_rot_yx). For
// each target G on the circle — unimodal N(0°, 515 deg²), bimodal ½N(0°, 252) + ½N(180°, 252),
// uniform — the methods find images whose P(Y | X = x) matches G:
//   mlgdf    guided DDIM from x_T ~ N(0, I) through the one-step consistency sampler
//   prior    images from the prior alone, scored by the same loss
//   best_of  per restart, the best of cdm.best_of prior images by the loss
// Each (target, method) is kept in methods/<target>-<method>.json (--resume skips it). The report
// shows the images found, the angle histogram of P(Y | X = best x) beside G, SWD and MMD per
// restart (mean ± sd, top-k), and which digits the rotation LeNet reads in the images beside the
// spec's expectation (unimodal → 2, 3, 5, 7; bimodal → 1, 8, 6, 9; uniform → 0).
#pragma once
#include <string>
#include <vector>

#include "experiments/cdm.h"
#include "experiments/command.h"
#include "matching/cdm.h"

namespace difflab::experiments {

inline const std::vector<std::string> kRotationTargets = {"unimodal", "bimodal", "uniform"};

// n draws (cos θ, sin θ) f32 [n, 2] of a target; throws naming the targets for another name.
matching::TargetSampler rotation_target(const std::string& name);
// The target's density in θ (per degree) at `deg`, wrapped.
double rotation_target_density(const std::string& name, double deg);
// The digits the spec expects a target to select.
std::vector<int64_t> digits_of_interest(const std::string& name);

int run_cdm_rotation(const CdmCommandSettings& s, const Config& cfg, const std::string& dir,
                     bool resume);

}  // namespace difflab::experiments
