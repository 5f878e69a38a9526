#include "experiments/distill_eval.h"

#include <cstdio>

#include "experiments/ddpm_sampling.h"
#include "experiments/distill_report.h"
#include "experiments/io.h"
#include "experiments/metric_draws.h"

namespace difflab::experiments {

using tensor::Tensor;

Tensor chain_sample(const DdpmModel& model, const DistillEvalSettings& s, uint64_t seed,
                    const std::string& sampler, int64_t steps, int64_t n, int64_t rep) {
  SampleSettings ss;
  ss.sampler = sampler;
  ss.steps = steps;
  ss.clip_x0 = s.clip_x0;
  ss.batch = s.batch;
  ss.seed = seed + 4000037 + uint64_t(rep) * 1000003;
  if (model.num_classes > 0) ss.labels = cycle_labels(n, model.num_classes);
  return generate(model, n, ss);
}

Tensor ChainEvaluator::sample(const DdpmModel& model, const std::string& sampler, int64_t steps,
                              int64_t rep) const {
  return chain_sample(model, s, seed, sampler, steps, s.n, rep);
}

Tensor ChainEvaluator::operator()(const DdpmModel& model, const std::string& sampler,
                                  int64_t steps, const std::string& tag,
                                  const std::string& suffix, int64_t step) {
  Tensor x;
  MetricDraws draws;
  for (int64_t r = 0; r < s.seeds; ++r) {
    Tensor xr = sample(model, sampler, steps, r);
    Tensor labels = model.num_classes > 0 ? cycle_labels(s.n, model.num_classes) : Tensor();
    draws.add(sample_metrics(data, judge, xr, labels, tag.rfind("reference", 0) == 0));
    if (r == 0) x = xr;
  }
  std::fprintf(stderr, "eval %s%s (%s, %lld steps%s):", tag.c_str(), suffix.c_str(),
               sampler.c_str(), (long long)steps,
               s.seeds > 1 ? (", mean ± sd of " + std::to_string(s.seeds) + " draws").c_str() : "");
  draws.log(run, step, tag + "/", suffix, stderr);
  write_file_atomic(run.sample_path(distill_sample_name(tag, suffix)),
                    samples_png(data, x, s.grid));
  return x;
}

double mean_sq_diff(const Tensor& a, const Tensor& b) {
  auto va = a.contiguous().to(tensor::DType::f64).to_vector<double>();
  auto vb = b.contiguous().to(tensor::DType::f64).to_vector<double>();
  double sum = 0;
  for (size_t i = 0; i < va.size(); ++i) sum += (va[i] - vb[i]) * (va[i] - vb[i]);
  return va.empty() ? 0 : sum / double(va.size());
}

}  // namespace difflab::experiments
