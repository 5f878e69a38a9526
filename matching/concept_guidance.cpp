#include "matching/concept_guidance.h"

#include <cmath>
#include <utility>

#include "autograd/functions.h"
#include "diffusion/parameterization.h"
#include "tensor/error.h"

namespace difflab::matching {

const char* teacher_form_name(TeacherForm f) { return f == TeacherForm::exact ? "exact" : "score_sum"; }

TeacherForm parse_teacher_form(const std::string& name) {
  for (TeacherForm f : {TeacherForm::exact, TeacherForm::score_sum})
    if (name == teacher_form_name(f)) return f;
  DIFFLAB_FAIL("unknown teacher form '", name, "' (exact, score_sum)");
}

TeacherEps poe_teacher(const std::vector<Expert>& experts, TeacherForm form,
                       const std::vector<Tensor>& masks) {
  if (form == TeacherForm::score_sum) {
    DIFFLAB_CHECK(masks.empty(), "poe_teacher: masks apply to the exact product only, not score_sum");
    poe_product(experts);  // checks the experts now rather than at the first call
    return [experts](const Var& x_t, double alpha_bar) {
      return score_sum_score(experts, x_t, alpha_bar) * -std::sqrt(1 - alpha_bar);
    };
  }
  const DiagGaussian product = poe_product(experts, masks);
  return [product](const Var& x_t, double alpha_bar) {
    return diffused_score(product, x_t, alpha_bar) * -std::sqrt(1 - alpha_bar);
  };
}

diffusion::VpModel teacher_guidance(diffusion::VpModel uncond, TeacherEps teacher, double w,
                                    double t_min) {
  DIFFLAB_CHECK(bool(uncond) && bool(teacher), "teacher_guidance: empty model or teacher callable");
  DIFFLAB_CHECK(std::isfinite(w) && std::isfinite(t_min), "teacher_guidance: w = ", w,
                " and t_min = ", t_min, " must be finite");
  return [uncond = std::move(uncond), teacher = std::move(teacher), w, t_min](
             const Var& z, const diffusion::NoiseLevel& at) {
    diffusion::Denoised base = uncond(z, at);
    if (w == 0 || at.t < t_min) return base;
    const Var eps = base.eps + (teacher(z, at.alpha * at.alpha) - base.eps) * w;
    return diffusion::to_x0_eps(eps, diffusion::Parameterization::eps, z, at.alpha, at.sigma);
  };
}

}  // namespace difflab::matching
