// Test-time concept discovery, step 5a (spec_mlgdf_concepts_drifting.md §3.8): sampling the
// analytic PoE teacher (concept_poe.h) through classifier-free guidance, the teacher playing the
// conditional branch and the pretrained marginal supplying realism:
//   ε̃(x_t, t) = ε_θ(x_t, t, ∅) + w (ε_T(x_t, t) − ε_θ(x_t, t, ∅)),   ε_T = −√(1−ᾱ_t) s_T.
// The result is a diffusion::VpModel, what the samplers of diffusion/sampler.h take (DDIM etc.):
// at a NoiseLevel (t, α, σ) the teacher sees ᾱ = α², and x̂₀ = (x_t − σ ε̃)/α.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "diffusion/denoiser.h"
#include "matching/concept_poe.h"

namespace difflab::matching {

// exact: the diffused exact product; score_sum: Σ_k λ_k s_{k,t} (no masks).
enum class TeacherForm { exact, score_sum };
const char* teacher_form_name(TeacherForm f);  // "exact", "score_sum"
TeacherForm parse_teacher_form(const std::string& name);  // throws listing the names

// ε_T(x_t, ᾱ) for a batch x_t [B, ...].
using TeacherEps = std::function<Var(const Var& x_t, double alpha_bar)>;
// The teacher of the experts (copied into the callable); masks as in poe_product (exact only).
TeacherEps poe_teacher(const std::vector<Expert>& experts, TeacherForm form,
                       const std::vector<Tensor>& masks = {});

// The guided model; guidance applies at VP times t >= t_min only (the pretrained model alone
// below: switching guidance off for the last steps), and w = 0 is the pretrained model.
diffusion::VpModel teacher_guidance(diffusion::VpModel uncond, TeacherEps teacher, double w,
                                    double t_min = 0.0);

}  // namespace difflab::matching
