// What `difflab cdm` keeps and shows: each method's recovered x and final losses (methods/<name>.json,
// so --resume skips finished methods), its scores in metrics.csv, and report.html: the scores
// table beside the paper repository's numbers (spec §2.8), how well the inner sampler matches G at
// x*, and where each method's x landed.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "experiments/cdm.h"
#include "experiments/data/joint_gmm.h"
#include "experiments/report.h"
#include "experiments/run_folder.h"
#include <nlohmann/json.hpp>

namespace difflab::experiments {

void write_method_result(const std::string& path, const CdmMethodResult& r);
CdmMethodResult read_method_result(const std::string& path);

// l2_mean[m], l2_sd, l2_median, l2_top_mean, l2_top_sd, distance_mean, final_loss_mean and
// seconds_per_run rows at step 0.
void log_method_scores(RunFolder& run, const CdmTask& task, const CdmMethodResult& r, int64_t top_k);

// The inner sampler at x* against G: the matching loss of n samples of each, beside G against a
// second draw of G (the level a perfect sampler reaches), and the samples for the report.
struct InnerFit {
  double loss = 0, loss_data = 0;
  tensor::Tensor samples, target;  // [n, dY]
};
InnerFit inner_fit_at_x_star(const CdmTask& task, const matching::ConditionalSampler& inner,
                             const matching::MatchingLoss& loss, uint64_t seed, int64_t n = 2000);

// methods/<name>.json when --resume finds it, else compute() — saved there and its scores
// logged.
CdmMethodResult cached_method(RunFolder& run, bool resume, const std::string& name,
                              const std::function<CdmMethodResult()>& compute, const CdmTask& task,
                              int64_t top_k);

// The report's heading, the benchmark's scores beside the paper's, the inner sampler's fit at x*
// and the recovered x; the caller adds the studies and the config, then writes it.
Report cdm_report(const CdmCommandSettings& s, const CdmTask& task,
                  const std::vector<CdmMethodResult>& results, const InnerFit& fit);

}  // namespace difflab::experiments
