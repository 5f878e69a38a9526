#include "experiments/metric_draws.h"

#include <cmath>

namespace difflab::experiments {

void MetricDraws::add(const Metrics& m) {
  for (auto& [k, v] : m) {
    if (!values_.count(k)) keys_.push_back(k);
    values_[k].push_back(v);
  }
}

void MetricDraws::log(RunFolder& run, int64_t step, const std::string& prefix,
                      const std::string& suffix, std::FILE* out) const {
  for (const std::string& k : keys_) {
    const std::vector<double>& v = values_.at(k);
    double mean = 0, ss = 0;
    for (double a : v) mean += a / double(v.size());
    for (double a : v) ss += (a - mean) * (a - mean);
    run.log_metric(step, prefix + k + suffix, mean);
    std::fprintf(out, " %s %.5g", k.c_str(), mean);
    if (v.size() > 1) {
      const double sd = std::sqrt(ss / double(v.size() - 1));
      run.log_metric(step, prefix + k + "_sd" + suffix, sd);
      std::fprintf(out, " ± %.3g", sd);
    }
  }
  std::fprintf(out, "\n");
}

}  // namespace difflab::experiments
