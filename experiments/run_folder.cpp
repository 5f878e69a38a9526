#include "experiments/run_folder.h"

#include <cstdio>
#include <fstream>
#include <sstream>

#include "experiments/io.h"
#include "tensor/error.h"

namespace difflab::experiments {

RunFolder::RunFolder(const std::string& dir) : dir_(dir) {
  make_dirs(dir_ + "/checkpoints");
  make_dirs(dir_ + "/samples");
}

std::string RunFolder::checkpoint_path(const std::string& name) const {
  return dir_ + "/checkpoints/" + name + ".safetensors";
}

std::string RunFolder::sample_path(const std::string& name) const {
  return dir_ + "/samples/" + name + ".png";
}

void RunFolder::write_config(const nlohmann::json& config) const {
  write_file_atomic(path("config.json"), config.dump(2) + "\n");
}

nlohmann::json RunFolder::read_config() const {
  std::string p = path("config.json");
  try {
    return nlohmann::json::parse(read_file(p));
  } catch (const nlohmann::json::parse_error& e) {
    DIFFLAB_FAIL("'", p, "' is not valid JSON: ", e.what());
  }
}

void RunFolder::log_metric(int64_t step, const std::string& metric, double value) {
  std::string p = path("metrics.csv");
  bool fresh = !file_exists(p);
  std::FILE* f = std::fopen(p.c_str(), "a");
  DIFFLAB_CHECK(f, "cannot append to '", p, "'");
  if (fresh) std::fprintf(f, "step,metric,value\n");
  std::fprintf(f, "%lld,%s,%.9g\n", static_cast<long long>(step), metric.c_str(), value);
  std::fclose(f);
}

std::vector<MetricRow> RunFolder::read_metrics() const {
  std::vector<MetricRow> rows;
  std::string p = path("metrics.csv");
  if (!file_exists(p)) return rows;
  std::istringstream in(read_file(p));
  std::string line;
  std::getline(in, line);  // header
  int64_t lineno = 1;
  while (std::getline(in, line)) {
    ++lineno;
    if (line.empty()) continue;
    auto c1 = line.find(','), c2 = line.rfind(',');
    if (c1 == std::string::npos || c2 == c1) continue;  // a torn last line after a crash
    try {
      rows.push_back({std::stoll(line.substr(0, c1)), line.substr(c1 + 1, c2 - c1 - 1),
                      std::stod(line.substr(c2 + 1))});
    } catch (const std::exception&) {
      continue;
    }
  }
  return rows;
}

void RunFolder::truncate_metrics_after(int64_t step) {
  std::ostringstream os;
  os << "step,metric,value\n";
  char buf[64];
  for (auto& r : read_metrics()) {
    if (r.step > step) continue;
    std::snprintf(buf, sizeof buf, "%.9g", r.value);
    os << r.step << "," << r.metric << "," << buf << "\n";
  }
  write_file_atomic(path("metrics.csv"), os.str());
}

}  // namespace difflab::experiments
