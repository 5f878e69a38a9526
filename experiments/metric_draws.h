// The held-out metrics of several independent noise draws of one sampler (eval.seeds): logged as
// their mean, beside their standard deviation once there are two draws or more.
#pragma once
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "experiments/report.h"
#include "experiments/run_folder.h"
#include "experiments/sample_metrics.h"

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

// The name its spread is logged under: "frechet[ddim50]" -> "frechet_sd[ddim50]", "kid" ->
// "kid_sd"; and whether a name is such a spread.
std::string spread_name(const std::string& name);
bool is_spread_name(const std::string& name);
// The last value of metric `name` as "v ± sd" when its spread was logged at the same step, else
// "v".
std::string value_with_spread(const std::map<std::string, Series>& by, const std::string& name);
// For image reports: a sentence saying which Fréchet distances are one draw (no spread) and how
// to get their spread over draws; "" when every one has its spread.
std::string single_draw_note(const std::map<std::string, Series>& by, const std::string& dir);

}  // namespace difflab::experiments
