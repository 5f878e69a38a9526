#include "matching/inner_sampler.h"

#include "diffusion/denoiser.h"
#include "diffusion/sampler.h"
#include "tensor/error.h"
#include "tensor/random.h"

namespace difflab::matching {

ConditionalSampler unrolled_ddim_sampler(UnrolledDdim spec) {
  DIFFLAB_CHECK(spec.net && spec.schedule, "unrolled_ddim_sampler: needs a network and a schedule");
  DIFFLAB_CHECK(spec.steps >= 1 && spec.dim_y >= 1, "unrolled_ddim_sampler: steps (", spec.steps,
                ") and dim_y (", spec.dim_y, ") must be >= 1");
  return [spec](const Var& cond, tensor::Generator& gen) {
    const int64_t m = cond.size(0);
    const Var z(tensor::randn({m, spec.dim_y}, cond.dtype(), &gen).to(cond.device()));
    // Captured by value: checkpointed steps run this again during backward.
    const diffusion::VpModel model = [spec, cond](const Var& zt, const diffusion::NoiseLevel& at) {
      const Tensor t_net = diffusion::net_time_tensor(at.t, zt.size(0), zt.dtype(), zt.device());
      return diffusion::to_x0_eps(spec.net(zt, t_net, cond), spec.param, zt, at.alpha, at.sigma);
    };
    diffusion::SampleOptions opt;
    opt.checkpoint = spec.checkpoint;
    if (spec.checkpoint) opt.params = {cond};
    return diffusion::sample_ddim(model, *spec.schedule, z, spec.schedule->time_grid(spec.steps),
                                  0.0, nullptr, opt);
  };
}

}  // namespace difflab::matching
