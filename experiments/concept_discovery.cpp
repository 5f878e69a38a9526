#include "experiments/concept_discovery.h"

#include <chrono>

#include "diffusion/guidance.h"
#include "matching/concept_evidence.h"
#include "matching/concept_poe.h"
#include "tensor/error.h"
#include "tensor/ops.h"

namespace difflab::experiments {

using ag::Var;
using tensor::Tensor;

matching::EpsFn unconditional_eps(const DdpmModel& base, int64_t* evaluations) {
  const DdpmModel* m = &base;
  return [m, evaluations](const Var& x, int64_t t) {
    const double vt = double(t) / 1000.0;
    const diffusion::NoiseLevel at = diffusion::noise_level(*m->schedule, vt);
    const Tensor labels = m->num_classes > 0
                              ? diffusion::null_labels(x.size(0), m->num_classes, x.value().device())
                              : Tensor();
    if (evaluations) *evaluations += x.size(0);
    return diffusion::vp_model(m->net, m->param, labels)(x, at).eps;
  };
}

std::vector<matching::AscentLevel> ascent_levels(const DdpmModel& base, const std::vector<int64_t>& ts) {
  std::vector<matching::AscentLevel> out;
  for (int64_t t : ts) {
    DIFFLAB_CHECK(t >= 1 && t < 1000, "concepts.timesteps: ", t, " is not a step in [1, 1000)");
    const double a = base.schedule->alpha(double(t) / 1000.0);
    out.push_back({t, a * a});
  }
  return out;
}

namespace {

void select_experts(Discovery& d, const Tensor& query, const Tensor& mean_image,
                    const DiscoverySettings& s) {
  const Tensor groups = matching::patch_groups(query.size(1), query.size(2), query.size(3), s.patch);
  const matching::Evidence e = matching::build_evidence(d.candidates, query, mean_image, groups, s.baseline);
  d.selection = matching::greedy_select(e, s.select);
  for (int64_t k : d.selection.chosen)
    d.experts.push_back({d.candidates[size_t(k)].mean, d.candidates[size_t(k)].var, 1.0});
  if (s.masked && d.selection.rho.defined())
    d.masks = matching::coordinate_masks(d.selection.rho, groups, query.shape());
}

}  // namespace

Discovery discover(const DdpmModel& base, const Tensor& query, const Tensor& mean_image,
                   const DiscoverySettings& s, tensor::Generator& gen) {
  const auto start = std::chrono::steady_clock::now();
  Discovery d;
  const matching::EpsFn eps = unconditional_eps(base, &d.evaluations);
  const bool training = base.module->is_training();
  base.module->eval();
  d.modes = matching::ascend_modes(eps, query, ascent_levels(base, s.timesteps), s.ascent, gen);
  d.candidates = matching::mode_gaussians(eps, d.modes, s.gaussian, gen);
  if (s.clip_mean)
    for (auto& c : d.candidates) c.mean = tensor::clamp(c.mean, -1.0, 1.0);
  select_experts(d, query, mean_image, s);
  if (training) base.module->train();
  d.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return d;
}

SampleSettings teacher_sampling(const Discovery& d, const SampleSettings& base, double w,
                                matching::TeacherForm form, double t_min) {
  DIFFLAB_CHECK(!d.experts.empty(), "concept discovery: no prototype was selected for the query, "
                                    "so there is no teacher to sample");
  SampleSettings s = base;
  s.labels = Tensor();  // the null class: the pretrained marginal
  s.guidance = 0.0;
  const matching::TeacherEps teacher = matching::poe_teacher(d.experts, form, d.masks);
  s.wrap = [teacher, w, t_min](diffusion::VpModel uncond) {
    return matching::teacher_guidance(std::move(uncond), teacher, w, t_min);
  };
  return s;
}

}  // namespace difflab::experiments
