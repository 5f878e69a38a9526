// Inner conditional samplers for MLGD (cdm.h): the slow baseline, a K⋆-step DDIM (η = 0) of a
// conditional diffusion model over Y, differentiated by unrolling (spec §2.4 "Baseline MLGD"),
// optionally with per-step checkpointing (each step keeps only its input and recomputes its
// activations during backward; the gradient is the same).
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "diffusion/parameterization.h"
#include "diffusion/schedule.h"
#include "matching/cdm.h"

namespace difflab::matching {

// A conditional VP network: (z [m, dY], t_net [m] = net_time(t), cond [m, dX]) → its output in
// its parameterization. cond is a Var: the gradient of the matching loss reaches it.
using ConditionalNet = std::function<Var(const Var& z, const Tensor& t_net, const Var& cond)>;

struct UnrolledDdim {
  ConditionalNet net;
  diffusion::Parameterization param = diffusion::Parameterization::eps;
  std::shared_ptr<const diffusion::Schedule> schedule;
  int64_t steps = 100;  // K⋆
  int64_t dim_y = 1;
  bool checkpoint = false;
};

// Y = DDIM_{K⋆}(z; cond) with z ~ N(0, I) [m, dY] drawn from the caller's generator.
ConditionalSampler unrolled_ddim_sampler(UnrolledDdim spec);

}  // namespace difflab::matching
