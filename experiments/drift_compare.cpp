#include "experiments/drift_compare.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <map>

#include "experiments/cancel.h"
#include "experiments/dataset.h"
#include "experiments/ddpm_model.h"
#include "experiments/sample_eval.h"
#include "experiments/sample_metrics.h"
#include "experiments/trained_run.h"
#include "experiments/io.h"
#include "experiments/report.h"
#include "experiments/run_folder.h"
#include "experiments/train_ddpm.h"
#include "experiments/train_drift.h"

namespace difflab::experiments {

Config drift_compare_config() {
  Config c;
  c.declare_string("compare.datasets", "ring8,checkerboard,two_moons,swiss_roll", {},
                   "2-D data sets")
      .declare_string("compare.kernels", "laplace,gaussian", {}, "drifting kernels")
      .declare_string("compare.laplace_temperatures", "0.05", {}, "τ of the Laplace kernel")
      .declare_string("compare.gaussian_temperatures", "0.1", {},
                      "τ (bandwidth h) of the Gaussian kernel")
      .declare_string("compare.drift_preset", "drift_checkerboard", {},
                      "train-drift preset every drifting run starts from")
      .declare_string("compare.ddpm_preset", "ddpm_ring", {},
                      "train-ddpm preset every DDPM run starts from")
      .declare_int("compare.drift_steps", 2000, 1, 100000000, "train-drift steps")
      .declare_int("compare.ddpm_steps", 3000, 1, 100000000, "train-ddpm steps")
      .declare_string("compare.ddpm_sample_steps", "1,4,50", {}, "DDIM step counts of the DDPM")
      .declare_int("data.n_train", 20000, 16, 10000000, "training points (every run)")
      .declare_int("data.n_test", 2000, 16, 10000000, "held-out points (every run)");
  return c;
}

namespace {

// The last value of every metric of a run.
std::map<std::string, double> last_metrics(const std::string& dir) {
  std::map<std::string, double> m;
  for (const MetricRow& r : RunFolder(dir).read_metrics()) m[r.metric] = r.value;
  return m;
}

// Runs `f(resume)` unless the sub-run already has its report, resuming a sub-run that an
// interruption left unfinished. Returns the wall time of the invocation that finished it, as
// text ("123", or "45 (resumed)" when earlier, interrupted invocations did part of the work),
// kept in <dir>/compare_seconds.txt for later invocations.
template <typename F>
std::string sub_run(const std::string& dir, F f) {
  const std::string stamp = dir + "/compare_seconds.txt";
  if (file_exists(dir + "/report.html") && file_exists(stamp)) return read_file(stamp);
  const bool resume = file_exists(dir + "/config.json");
  const auto t0 = std::chrono::steady_clock::now();
  f(resume);
  DIFFLAB_CHECK(!cancel_requested(), "drift-compare: interrupted in '", dir,
                "'; the same command resumes it");
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const std::string text = format_number(std::round(s)) + (resume ? " (resumed)" : "");
  write_file_atomic(stamp, text);
  return text;
}

// The settings of a drift-compare run, read once from its config.
struct CompareSettings {
  std::vector<std::string> datasets, kernels;
  std::map<std::string, std::string> temperatures;  // kernel -> τ list
  std::string drift_preset, ddpm_preset;
  int64_t drift_steps = 0, ddpm_steps = 0, n_train = 0, n_test = 0;
  std::vector<int64_t> ddim_steps;
  int64_t seed = 0, threads = 0;
  std::string device;
};

CompareSettings compare_settings(const Config& cfg) {
  CompareSettings s;
  s.datasets = parse_names(cfg.get_string("compare.datasets"));
  s.kernels = parse_names(cfg.get_string("compare.kernels"));
  for (const auto& k : s.kernels) {
    DIFFLAB_CHECK(k == "laplace" || k == "gaussian", "compare.kernels: unknown kernel '", k,
                  "' (laplace, gaussian)");
    s.temperatures[k] = cfg.get_string("compare." + k + "_temperatures");
  }
  s.drift_preset = cfg.get_string("compare.drift_preset");
  s.ddpm_preset = cfg.get_string("compare.ddpm_preset");
  s.drift_steps = cfg.get_int("compare.drift_steps");
  s.ddpm_steps = cfg.get_int("compare.ddpm_steps");
  for (double n : parse_list(cfg.get_string("compare.ddpm_sample_steps"), "compare.ddpm_sample_steps"))
    s.ddim_steps.push_back(int64_t(n));
  s.n_train = cfg.get_int("data.n_train"), s.n_test = cfg.get_int("data.n_test");
  s.seed = cfg.get_int("seed"), s.threads = cfg.get_int("threads");
  s.device = cfg.get_string("device");
  return s;
}

// A sub-run's config: its preset (or, resuming, its own config.json) with the comparison's
// data set, sizes, seed, threads and device put on top.
Config sub_config(Config keys, const std::string& preset, const std::string& dir, bool resume,
                  const CompareSettings& s, const std::string& data) {
  CommandArgs a;
  a.preset = preset;
  Config c = command_config(std::move(keys), a, dir, resume);
  c.put("data.n_train", s.n_train).put("data.n_test", s.n_test).put("seed", s.seed);
  c.put("threads", s.threads).put("device", s.device).put("data.name", data);
  return c;
}

// The comparison's table and, below it, what each method's samples say about the modes.
struct CompareTable {
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> verdicts;
};

// One method's row from its run's last metrics (`suffix` selects a sampler's, e.g. [ddim50]).
void add_row(CompareTable& t, const Dataset& data, const std::string& method,
             const std::map<std::string, double>& m, const std::string& suffix,
             const std::string& secs) {
  auto get = [&](const std::string& k) {
    auto it = m.find(k + suffix);
    return it == m.end() ? NAN : it->second;
  };
  std::string modes = "—";
  if (std::isfinite(get("hq_share")))
    modes = format_number(get("hq_share")) + ", " + format_number(get("modes_covered")) + " of " +
            std::to_string(data.mixture ? data.mixture->num_components() : 0);
  else if (std::isfinite(get("in_squares")))
    modes = format_number(100 * get("in_squares")) + "% in squares";
  t.rows.push_back({data.name, method, format_number(get("mmd")), format_number(get("precision")),
                    format_number(get("recall")), modes, secs});
  const std::string v = mode_verdict(m, data, "", suffix);
  if (!v.empty()) t.verdicts.push_back(data.name + ", " + method + ": " + v);
}

// The drifting runs of one data set: a table row each.
void drift_rows(const CompareSettings& s, const std::string& dir, const Dataset& data,
                CompareTable& t) {
  const std::string& ds = data.name;
  for (const std::string& k : s.kernels) {
    const std::string sub = dir + "/drift-" + ds + "-" + k;
    std::fprintf(stderr, "== drifting, %s kernel, on %s\n", k.c_str(), ds.c_str());
    const std::string secs = sub_run(sub, [&](bool resume) {
      Config c = sub_config(drift_config(), s.drift_preset, sub, resume, s, ds);
      c.put("drift.kernel", k).put("drift.temperatures", s.temperatures.at(k));
      c.put("train.steps", s.drift_steps);
      train_drift(c, sub, resume);
    });
    add_row(t, data, "drifting, " + k + " (τ = " + s.temperatures.at(k) + "), 1 step",
            last_metrics(sub), "", secs);
  }
}

// The DDPM run of one data set, evaluated with DDIM at every step count.
void ddpm_rows(const CompareSettings& s, const std::string& dir, const Dataset& data,
               CompareTable& t) {
  const std::string& ds = data.name;
  const std::string sub = dir + "/ddpm-" + ds;
  std::fprintf(stderr, "== DDPM on %s\n", ds.c_str());
  const std::string secs = sub_run(sub, [&](bool resume) {
    Config c = sub_config(ddpm_config(), s.ddpm_preset, sub, resume, s, ds);
    c.put("train.steps", s.ddpm_steps);
    train_ddpm(c, sub, resume);
    for (int64_t n : s.ddim_steps) {
      Config e = trained_run_config(CommandArgs{}, sub);
      e.put("sample.sampler", "ddim").put("sample.steps", n);
      evaluate_run(e, sub);
    }
  });
  auto m = last_metrics(sub);
  for (int64_t n : s.ddim_steps)
    add_row(t, data, "DDPM, DDIM " + std::to_string(n) + " steps", m,
            "[ddim" + std::to_string(n) + "]", secs);
  const double hq = m.count("hq_share_data") ? m["hq_share_data"] : NAN;
  t.rows.push_back({ds, "data vs data (independent draw)", format_number(m["mmd_data_vs_data"]),
                    format_number(m["precision_data_vs_data"]),
                    format_number(m["recall_data_vs_data"]),
                    std::isfinite(hq) ? format_number(hq) : "—", ""});
}

}  // namespace

int run_drift_compare(const CommandArgs& args) {
  const std::string dir = default_run_dir("drift-compare", args);
  Config cfg = drift_compare_config();
  resolve_config(cfg, args);
  apply_threads(cfg);
  const CompareSettings s = compare_settings(cfg);
  {
    RunLock lock(dir);
    RunFolder run(dir);
    run.write_config(cfg.resolved());
  }
  CompareTable t;
  for (const std::string& ds : s.datasets) {
    DataSettings d;
    d.name = ds, d.n_train = s.n_train, d.n_test = s.n_test, d.seed = uint64_t(s.seed);
    const Dataset data = load_dataset(d);
    drift_rows(s, dir, data, t);
    ddpm_rows(s, dir, data, t);
  }
  Report rep("Drifting (Laplace and Gaussian kernels) against DDPM on 2-D data");
  rep.paragraph("Held-out MMD (Gaussian kernel, median bandwidth of data vs data), precision and "
                "recall (k = 3) and the mode figures "
                "of " + std::to_string(s.n_test) +
                " samples per method. Drifting: train-drift preset " + s.drift_preset + " with " +
                std::to_string(s.drift_steps) + " steps; DDPM: train-ddpm preset " +
                s.ddpm_preset + " with " + std::to_string(s.ddpm_steps) +
                " steps, sampled with DDIM. Wall time is each run's whole command (training, "
                "periodic evaluation and, for the DDPM, the evaluations at every step count); "
                "every sub-run's own report is in its folder.");
  rep.table({"data", "method", "MMD", "precision", "recall", "modes (high-quality share, covered)",
             "seconds"},
            t.rows);
  rep.heading("Modes");
  rep.paragraph("MMD at this scale cannot tell separate modes from a smeared ring; the mode "
                "figures can (sample_metrics.h).");
  for (const std::string& v : t.verdicts) rep.paragraph(v);
  rep.config(cfg.resolved());
  rep.write(dir + "/report.html");
  std::fprintf(stderr, "report: %s/report.html\n", dir.c_str());
  return 0;
}

}  // namespace difflab::experiments
