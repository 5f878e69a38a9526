// Implicit Diffusion for a finite-horizon denoising sampler (ID-T, spec_distillation_implicit
// §3.4): a queue of T batches at stages 0..T−1; every update advances each slot one ancestral
// DDPM step with the current θ, pops the batch that finished, and takes the adjoint over its
// recorded states with the current θ (§3.3 c; the popped samples came from a mixture of the
// last T parameters). The nested-loop baseline samples a fresh batch per update and takes the
// same adjoint. An optional path-KL regulariser to the pretrained sampler,
//   β Σ_k ‖μ_θ(z_k) − μ_pre(z_k)‖² / (2σ_k² D)   (D coordinates per sample; batch-averaged),
// is added at every noisy step (§3.3 "Regularisers").
#pragma once
#include <deque>
#include <memory>
#include <vector>

#include "autograd/chain_gradient.h"
#include "diffusion/sampler_gradient.h"

namespace difflab::matching {

using ag::Var;
using tensor::Tensor;

struct DenoisingProblem {
  diffusion::VpModel model;      // reads `params`
  diffusion::VpModel reference;  // the frozen pretrained model (needed when beta > 0)
  std::shared_ptr<const diffusion::Schedule> schedule;
  std::vector<double> times;     // T + 1 descending times
  std::vector<Var> params;
  diffusion::SampleLoss loss;    // per sample, e.g. minus the brightness
  double beta = 0;
  tensor::Shape sample_shape;    // one sample, e.g. {1, 28, 28}
  int64_t steps() const { return int64_t(times.size()) - 1; }
};

// One batch's recorded trajectory z_0..z_j and the noise it draws (rows = global sample indices).
struct Trajectory {
  std::vector<Tensor> states;
  diffusion::NoiseSource noise{0};
};

// A fresh batch of b samples from global index `first`: z_0, its noise source.
Trajectory start_trajectory(const DenoisingProblem& p, int64_t b, uint64_t seed, uint64_t first);
// Advances t one DDPM step (its stage = states.size() − 1) with the current θ, without recording.
void advance(const DenoisingProblem& p, Trajectory& t);

struct AdjointResult {
  std::vector<Tensor> grad;  // d(mean loss + β path KL)/dθ
  double loss = 0, path_kl = 0;
  int64_t forwards = 0, vjps = 0;  // per batch (multiply by b for sample evaluations)
};
// The adjoint over a finished trajectory's recorded states with the current θ.
AdjointResult recorded_adjoint(const DenoisingProblem& p, const Trajectory& t);

class ImplicitQueue {
 public:
  // Warm-up with the current θ: slots at stages 0..T−1 (T(T−1)/2 batch steps).
  ImplicitQueue(const DenoisingProblem& p, int64_t batch, uint64_t seed);
  // Advances every slot one step, pops the finished batch and pushes a fresh one.
  Trajectory step();
  int64_t forwards_per_step() const { return int64_t(slots_.size()); }  // batch calls
  int64_t warmup_forwards() const { return warmup_; }

 private:
  const DenoisingProblem& p_;
  int64_t batch_;
  uint64_t seed_, next_index_ = 0;
  int64_t warmup_ = 0;
  std::deque<Trajectory> slots_;  // front: the most advanced
};

}  // namespace difflab::matching
