// The held-out metrics of several independent noise draws of one sampler (eval.seeds): logged as
// their mean, beside their standard deviation once there are two draws or more.
#pragma once
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "experiments/sample_metrics.h"
#include "experiments/run_folder.h"

namespace difflab::experiments {

class MetricDraws {
 public:
  void add(const Metrics& m);  // one draw's metrics
  // Logs "<prefix><metric><suffix>" (the mean) and "<prefix><metric>_sd<suffix>" at `step`, in
  // the order the metrics first came, and prints " metric mean ± sd" for each to `out`.
  void log(RunFolder& run, int64_t step, const std::string& prefix, const std::string& suffix,
           std::FILE* out) const;

 private:
  std::vector<std::string> keys_;
  std::map<std::string, std::vector<double>> values_;
};

}  // namespace difflab::experiments
