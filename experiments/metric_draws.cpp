#include "experiments/metric_draws.h"

#include <algorithm>
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

std::string spread_name(const std::string& name) {
  const size_t at = std::min(name.find('['), name.size());
  return name.substr(0, at) + "_sd" + name.substr(at);
}

bool is_spread_name(const std::string& name) {
  const size_t at = std::min(name.find('['), name.size());
  return at >= 3 && name.compare(at - 3, 3, "_sd") == 0;
}

std::string value_with_spread(const std::map<std::string, Series>& by, const std::string& name) {
  const Series& v = by.at(name);
  const std::string text = format_number(v.y.back());
  auto sd = by.find(spread_name(name));
  if (sd == by.end() || sd->second.x.empty() || sd->second.x.back() != v.x.back()) return text;
  return text + " ± " + format_number(sd->second.y.back());
}

std::string single_draw_note(const std::map<std::string, Series>& by, const std::string& dir) {
  bool single = false;
  for (const auto& [name, ser] : by)
    if (name.rfind("frechet", 0) == 0 && !is_spread_name(name) &&
        name.find("data_vs_data") == std::string::npos)
      single |= value_with_spread(by, name).find("±") == std::string::npos;
  if (!single) return "";
  return "Fréchet distances shown without ± come from one draw of samples: their spread over "
         "draws is not known, and a few points of difference may be noise. `difflab eval --run " +
         dir + " --set eval.seeds=3` adds the mean and standard deviation of three draws.";
}

}  // namespace difflab::experiments
