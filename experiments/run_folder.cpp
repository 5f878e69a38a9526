#include "experiments/run_folder.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
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
  return read_metrics_csv(path("metrics.csv"));
}

std::vector<MetricRow> read_metrics_csv(const std::string& p) {
  std::vector<MetricRow> rows;
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

RunTiming::RunTiming(const RunFolder& run, bool resumed) : path_(run.path("timing.json")) {
  if (resumed && file_exists(path_)) values_ = nlohmann::json::parse(read_file(path_));
}

double RunTiming::get(const std::string& key, double fallback) const {
  return values_.contains(key) && values_[key].is_number() ? values_[key].get<double>() : fallback;
}

void RunTiming::set(const std::string& key, double seconds) { values_[key] = seconds; }

void RunTiming::write() const { write_file_atomic(path_, values_.dump(1)); }

RunLock::RunLock(const std::string& dir) {
  namespace fs = std::filesystem;
  make_dirs(dir);
  const std::string p = dir + "/.lock";
  fd_ = ::open(p.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  DIFFLAB_CHECK(fd_ >= 0, "cannot open the lock file '", p, "': ", std::strerror(errno));
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    int e = errno;
    std::string holder = read_file(p);
    ::close(fd_);
    fd_ = -1;
    DIFFLAB_CHECK(e == EWOULDBLOCK, "cannot lock '", p, "': ", std::strerror(e));
    DIFFLAB_FAIL("run folder '", dir, "' is in use by another difflab process",
                 holder.empty() ? std::string() : " (pid " + holder + ")",
                 "; wait for it to finish or choose another --run");
  }
  std::string pid = std::to_string(::getpid());
  if (::ftruncate(fd_, 0) == 0 && ::write(fd_, pid.data(), pid.size()) < 0) {
    // The pid is only a courtesy for the message above; the lock itself is what counts.
  }
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (it->is_regular_file() && name.find(".tmp.") != std::string::npos) {
      std::error_code rm;
      fs::remove(it->path(), rm);
    }
  }
}

RunLock::~RunLock() {
  if (fd_ >= 0) ::close(fd_);
}

}  // namespace difflab::experiments
