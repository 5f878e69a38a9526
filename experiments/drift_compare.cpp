#include "experiments/drift_compare.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <map>

#include "experiments/ddpm_setup.h"
#include "experiments/io.h"
#include "experiments/report.h"
#include "experiments/run_folder.h"
#include "experiments/sample_eval.h"
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
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const std::string text = format_number(std::round(s)) + (resume ? " (resumed)" : "");
  write_file_atomic(stamp, text);
  return text;
}

}  // namespace

int run_drift_compare(const CommandArgs& args) {
  const std::string dir = default_run_dir("drift-compare", args);
  Config cfg = drift_compare_config();
  resolve_config(cfg, args);
  apply_threads(cfg);
  const std::vector<std::string> datasets = parse_names(cfg.get_string("compare.datasets")),
                                 kernels = parse_names(cfg.get_string("compare.kernels"));
  for (const auto& k : kernels)
    DIFFLAB_CHECK(k == "laplace" || k == "gaussian", "compare.kernels: unknown kernel '", k,
                  "' (laplace, gaussian)");
  const std::vector<double> ddim_steps =
      parse_list(cfg.get_string("compare.ddpm_sample_steps"), "compare.ddpm_sample_steps");
  {
    RunLock lock(dir);
    RunFolder run(dir);
    run.write_config(cfg.resolved());
  }
  const std::string seed = std::to_string(cfg.get_int("seed"));
  const std::vector<std::string> common{
      "data.n_train=" + std::to_string(cfg.get_int("data.n_train")),
      "data.n_test=" + std::to_string(cfg.get_int("data.n_test")), "seed=" + seed,
      "threads=" + std::to_string(cfg.get_int("threads")), "device=" + cfg.get_string("device")};
  std::vector<std::vector<std::string>> rows;
  for (const std::string& ds : datasets) {
    std::map<std::string, double> ref;
    for (const std::string& k : kernels) {
      const std::string sub = dir + "/drift-" + ds + "-" + k;
      CommandArgs a;
      a.preset = cfg.get_string("compare.drift_preset");
      a.run_dir = sub;
      a.sets = common;
      a.sets.push_back("data.name=" + ds);
      a.sets.push_back("drift.kernel=" + k);
      a.sets.push_back("drift.temperatures=" + cfg.get_string("compare." + k + "_temperatures"));
      a.sets.push_back("train.steps=" + std::to_string(cfg.get_int("compare.drift_steps")));
      std::fprintf(stderr, "== drifting, %s kernel, on %s\n", k.c_str(), ds.c_str());
      const std::string secs = sub_run(sub, [&](bool resume) {
        a.resume = resume;
        run_train_drift(a);
      });
      auto m = last_metrics(sub);
      ref = m;
      rows.push_back({ds, "drifting, " + k + " (τ = " +
                              cfg.get_string("compare." + k + "_temperatures") + "), 1 step",
                      format_number(m["mmd"]), format_number(m["sliced_w1"]), secs});
    }
    const std::string sub = dir + "/ddpm-" + ds;
    CommandArgs a;
    a.preset = cfg.get_string("compare.ddpm_preset");
    a.run_dir = sub;
    a.sets = common;
    a.sets.push_back("data.name=" + ds);
    a.sets.push_back("train.steps=" + std::to_string(cfg.get_int("compare.ddpm_steps")));
    std::fprintf(stderr, "== DDPM on %s\n", ds.c_str());
    const std::string secs = sub_run(sub, [&](bool resume) {
      a.resume = resume;
      run_train_ddpm(a);
      for (double n : ddim_steps) {
        CommandArgs e;
        e.run_dir = sub;
        e.sets = {"sample.sampler=ddim", "sample.steps=" + std::to_string(int64_t(n))};
        run_eval(e);
      }
    });
    auto m = last_metrics(sub);
    for (double n : ddim_steps) {
      const std::string tag = "[ddim" + std::to_string(int64_t(n)) + "]";
      rows.push_back({ds, "DDPM, DDIM " + std::to_string(int64_t(n)) + " steps",
                      format_number(m["mmd" + tag]), format_number(m["sliced_w1" + tag]),
                      secs});
    }
    rows.push_back({ds, "data vs data (independent draw)", format_number(m["mmd_data_vs_data"]),
                    format_number(m["sliced_w1_data_vs_data"]), ""});
  }
  Report rep("Drifting (Laplace and Gaussian kernels) against DDPM on 2-D data");
  rep.paragraph("Held-out MMD (Gaussian kernel, median bandwidth of data vs data) and sliced W1 "
                "of " + std::to_string(cfg.get_int("data.n_test")) +
                " samples per method. Drifting: train-drift preset " +
                cfg.get_string("compare.drift_preset") + " with " +
                std::to_string(cfg.get_int("compare.drift_steps")) +
                " steps; DDPM: train-ddpm preset " + cfg.get_string("compare.ddpm_preset") +
                " with " + std::to_string(cfg.get_int("compare.ddpm_steps")) +
                " steps, sampled with DDIM. Wall time is each run's whole command (training, "
                "periodic evaluation and, for the DDPM, the evaluations at every step count); "
                "every sub-run's own report is in its folder.");
  rep.table({"data", "method", "MMD", "sliced W1", "seconds"}, rows);
  rep.config(cfg.resolved());
  rep.write(dir + "/report.html");
  std::fprintf(stderr, "report: %s/report.html\n", dir.c_str());
  return 0;
}

}  // namespace difflab::experiments
