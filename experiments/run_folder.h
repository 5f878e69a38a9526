// A run folder (DESIGN.md, Data and outputs): runs/<name>/ with config.json, metrics.csv,
// checkpoints/, samples/ and report.html. metrics.csv is long-format (step,metric,value) and
// flushed on every row, so an interrupted run keeps everything logged so far.
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace difflab::experiments {

struct MetricRow {
  int64_t step;
  std::string metric;
  double value;
};

class RunFolder {
 public:
  // Creates (or reopens, for --resume) the folder and its subfolders.
  explicit RunFolder(const std::string& dir);
  const std::string& dir() const { return dir_; }
  std::string path(const std::string& relative) const { return dir_ + "/" + relative; }
  std::string checkpoint_path(const std::string& name) const;  // checkpoints/<name>.safetensors
  std::string sample_path(const std::string& name) const;      // samples/<name>.png

  void write_config(const nlohmann::json& config) const;
  nlohmann::json read_config() const;

  // Appends one row to metrics.csv (written through immediately).
  void log_metric(int64_t step, const std::string& metric, double value);
  // All rows in file order (read_metrics_csv on metrics.csv).
  std::vector<MetricRow> read_metrics() const;
  // On resume: drops rows logged after `step` (they will be recomputed identically).
  void truncate_metrics_after(int64_t step);

 private:
  std::string dir_;
};

// timing.json of a run folder: wall seconds by key (kept out of the states and metrics.csv,
// which are bit-identical across interrupted and whole runs).
class RunTiming {
 public:
  // Continues the folder's timing.json when `resumed` (if it has one), else starts empty.
  RunTiming(const RunFolder& run, bool resumed);
  double get(const std::string& key, double fallback = 0) const;
  void set(const std::string& key, double seconds);
  void write() const;  // atomically
  const nlohmann::json& values() const { return values_; }

 private:
  std::string path_;
  nlohmann::json values_ = nlohmann::json::object();
};

// The rows of a metrics.csv in file order (none when the file is missing), without opening a
// RunFolder, whose constructor creates subfolders: commands that only read finished runs
// (compare-runs) must leave them untouched.
std::vector<MetricRow> read_metrics_csv(const std::string& path);

// Exclusive use of a run folder while a command writes it: an flock on <dir>/.lock, released
// when the process ends however it ends (SIGKILL included), so a second process writing the same
// run is refused by name instead of interleaving checkpoints. Once held, it removes temporary
// files (*.tmp.<pid>) left by atomic writes that an earlier process did not finish.
class RunLock {
 public:
  explicit RunLock(const std::string& dir);
  ~RunLock();
  RunLock(const RunLock&) = delete;
  RunLock& operator=(const RunLock&) = delete;

 private:
  int fd_ = -1;
};

}  // namespace difflab::experiments
