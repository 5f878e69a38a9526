// Progressive distillation (Salimans & Ho 2022, Alg. 2; ../shared/papers spec §2.2): a student
// whose one DDIM step reproduces two deterministic DDIM steps of its teacher. A round with N
// student steps draws t = i/N (i ~ U{1..N}) per sample, t' = t − 0.5/N, t'' = t − 1/N; the
// teacher steps z_t → z_t' → z_t'' and the target x̃ is the x̂ with which one student DDIM step
// t → t'' lands on z_t''. The target is computed in its convex form (spec §2.2 item 4)
//   x̃ = w x̂(z_t') + (1 − w) x̂(z_t),   w = (ρ'' − ρ')/(ρ'' − ρ),   ρ = α/σ,
// which avoids the cancellation of the direct form in f32 when N is large, and gives w = 1
// (x̃ = x̂(z_t'), the code's last-step case) exactly when t'' = 0.
#pragma once
#include <vector>

#include "diffusion/denoiser.h"
#include "diffusion/loss.h"
#include "tensor/random.h"

namespace difflab::diffusion {

// Per-sample times of one distillation batch.
struct DistillTimes {
  std::vector<double> t, t_mid, t_next;  // i/N, i/N − 0.5/N, i/N − 1/N
};
// i ~ U{1..N} per sample, drawn from `gen`.
DistillTimes draw_distill_times(int64_t batch, int64_t student_steps, tensor::Generator& gen);
// The same times for given indices i in 1..N (tests, fixed grids).
DistillTimes distill_times(const std::vector<int64_t>& i, int64_t student_steps);

// The convex weight w for one sample (f64); 1 when σ(t'') = 0.
double distill_target_weight(const Schedule& s, double t, double t_mid, double t_next);

// A deterministic DDIM step per sample: z_s = α_s x̂ + (σ_s/σ_t)(z − α_t x̂) (σ_t > 0).
Tensor ddim_step(const Schedule& s, const Tensor& z, const Tensor& x0_hat,
                 const std::vector<double>& t, const std::vector<double>& s_to);

// x̂ of a network at per-sample times (no-grad): out = net(z, net_time(t), labels) converted
// from p with per-sample α, σ.
Tensor predict_x0(const Denoiser& net, Parameterization p, const Schedule& s, const Tensor& z,
                  const std::vector<double>& t, const Tensor& labels);

// The teacher's two DDIM steps and the student target, all without gradient.
struct TeacherSteps {
  Tensor x0_t, z_mid, x0_mid, z_next;  // x̂(z_t), z_t', x̂(z_t'), z_t''
  Tensor target;                        // x̃ (convex form)
};
TeacherSteps teacher_two_steps(const Denoiser& teacher, Parameterization p, const Schedule& s,
                               const Tensor& z, const Tensor& labels, const DistillTimes& times);
// The direct form (z'' − (σ''/σ) z)/(α'' − (σ''/σ) α), for checking the convex one (undefined
// where the denominator vanishes, i.e. never for t'' < t on a VP schedule).
Tensor distill_target_direct(const Schedule& s, const Tensor& z, const Tensor& z_next,
                             const DistillTimes& times);

struct DistillLoss {
  Var loss;       // batch mean, scalar
  DistillTimes times;
};
// One distillation batch: draws times and ε from `gen`, forms z_t = α x₀ + σ ε, builds the
// teacher target x̃ and returns the student's weighted error against it in the student's
// parameterization: the target output is from_x0_eps(x̃, ε̃) with ε̃ = (z − α x̃)/σ, weighted
// by `w` exactly as the base loss (loss.h). The student and teacher share `p`.
DistillLoss distill_loss(const Denoiser& student, const Denoiser& teacher, Parameterization p,
                         const Schedule& s, const Var& x0, const Tensor& labels, LossWeighting w,
                         int64_t student_steps, tensor::Generator& gen);

}  // namespace difflab::diffusion
