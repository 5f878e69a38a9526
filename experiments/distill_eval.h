// The evaluations of a distillation chain: a teacher or student DDPM sampled eval.n times on
// the chain's noise (the same initial noise for every sampler and model; draw r of eval.seeds
// its own), judged against the held-out split, logged as "<tag>/<metric><suffix>" (mean, and
// "_sd" over several draws), with a grid of the first draw.
#pragma once
#include <string>

#include "experiments/dataset.h"
#include "experiments/ddpm_model.h"
#include "experiments/distill.h"
#include "experiments/run_folder.h"
#include "experiments/sample_metrics.h"

namespace difflab::experiments {

struct ChainEvaluator {
  const DistillEvalSettings& s;
  uint64_t seed;  // the run's
  const Dataset& data;
  const ImageJudge* judge;
  RunFolder& run;

  // eval.n samples of `model` by `sampler` at `steps`, from noise draw `rep`.
  tensor::Tensor sample(const DdpmModel& model, const std::string& sampler, int64_t steps,
                        int64_t rep = 0) const;
  // Samples eval.seeds times, logs the metrics at `step`, writes the first draw's grid and
  // returns its samples.
  tensor::Tensor operator()(const DdpmModel& model, const std::string& sampler, int64_t steps,
                            const std::string& tag, const std::string& suffix, int64_t step);
};

// n samples of `model` by `sampler` at `steps` from noise draw `rep` of a chain whose run seed is
// `seed` (labels cycled for class-conditional models): what the chain's evaluations and
// `difflab eval` on a distill run draw.
tensor::Tensor chain_sample(const DdpmModel& model, const DistillEvalSettings& s, uint64_t seed,
                            const std::string& sampler, int64_t steps, int64_t n, int64_t rep);

// Mean squared difference of two same-shaped tensors (in f64).
double mean_sq_diff(const tensor::Tensor& a, const tensor::Tensor& b);

}  // namespace difflab::experiments
