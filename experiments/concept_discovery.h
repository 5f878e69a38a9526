// Concept discovery on a pretrained class-conditional DDPM for one query image (spec
// _mlgdf_concepts §3.4–3.8): mode ascent on the unconditional branch's noisy marginals at the
// chosen timesteps, each mode mapped to a clean-space Gaussian, a submodular choice of the
// prototypes that explain the query (4×4 patch evidence against the training mean image), and
// the product-of-experts teacher, sampled through classifier-free guidance against the
// unconditional branch. The math lives in matching/concept_*; this file binds it to the network.
#pragma once
#include <memory>
#include <vector>

#include "experiments/ddpm_model.h"
#include "experiments/ddpm_sampling.h"
#include "matching/concept_ascent.h"
#include "matching/concept_evidence.h"
#include "matching/concept_gaussian.h"
#include "matching/concept_guidance.h"
#include "matching/concept_select.h"

namespace difflab::experiments {

struct DiscoverySettings {
  std::vector<int64_t> timesteps{50, 100, 200, 300, 500};  // of the schedule's T = 1000 steps
  matching::AscentOptions ascent;
  matching::GaussianOptions gaussian;
  matching::SelectOptions select;
  int64_t patch = 4;  // evidence groups: patch×patch × all channels
  // The spec's identity baseline lets a blank, tiny-variance mode (the global mode at large t)
  // win every background patch; matched measures each candidate against the mean image at its
  // own variances (matching/concept_evidence.h).
  matching::EvidenceBaseline baseline = matching::EvidenceBaseline::matched;
  matching::TeacherForm form = matching::TeacherForm::exact;
  bool masked = false;  // the masked product (responsibilities ρ per coordinate)
  // Clip each Tweedie mean to the data range [−1, 1] (as samplers clip x̂): a mode of p_t, where
  // ε̂ = 0, lies off the noisy data the network saw, and its x̂ can leave the pixel range.
  bool clip_mean = true;
};

struct Discovery {
  std::vector<matching::Mode> modes;                 // every level's, de-duplicated
  std::vector<matching::ConceptGaussian> candidates;  // one per mode
  matching::Selection selection;
  std::vector<matching::Expert> experts;  // the selected candidates
  std::vector<tensor::Tensor> masks;      // masked product only
  int64_t evaluations = 0;                // U-Net rows evaluated (ascent + JVP probes)
  double seconds = 0;
};

// ε̂ of the unconditional branch (the null class of a class-conditional model, or an
// unconditional model) at integer timestep t (VP time t/1000), counting rows.
matching::EpsFn unconditional_eps(const DdpmModel& base, int64_t* evaluations = nullptr);

// The ascent levels (t, ᾱ_t) of integer timesteps t ∈ [1, 1000) under the model's schedule.
std::vector<matching::AscentLevel> ascent_levels(const DdpmModel& base, const std::vector<int64_t>& ts);

// Runs steps 1–3 for query [1, C, H, W]; `mean_image` [1, C, H, W] is the evidence baseline.
Discovery discover(const DdpmModel& base, const tensor::Tensor& query,
                   const tensor::Tensor& mean_image, const DiscoverySettings& s,
                   tensor::Generator& gen);

// SampleSettings that sample the teacher through CFG with weight w (guidance off below VP time
// t_min): the model's null class with the teacher as the conditional branch.
SampleSettings teacher_sampling(const Discovery& d, const SampleSettings& base, double w,
                                matching::TeacherForm form, double t_min = 0.0);

}  // namespace difflab::experiments
