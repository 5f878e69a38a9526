// Every experiment command with --device cuda against the same command on the CPU: train-ddpm
// (first logged loss, a run trained on the GPU resumed on the CPU, sample and eval of one
// checkpoint on both devices), distill, train-drift, train-flux, drift-align (f64: every metric
// to rounding) and drift-compare, each holding the claims its CPU test holds. Skipped, with the
// reason, where no GPU can be used.
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <filesystem>
#include <map>

#include "experiments/distill.h"
#include "experiments/drift_align.h"
#include "experiments/drift_compare.h"
#include "experiments/io.h"
#include "experiments/run_folder.h"
#include "experiments/sample_eval.h"
#include "experiments/train_ddpm.h"
#include "experiments/train_drift.h"
#include "experiments/train_flux.h"
#include "tests/support/parity.h"
#include "tests/support/run_helpers.h"

using namespace difflab;
using namespace difflab::experiments;
using namespace difflab::testing;
namespace fs = std::filesystem;
namespace utf = boost::unit_test;

namespace {

using Series = std::map<std::string, std::vector<std::pair<int64_t, double>>>;

Series metrics(const std::string& dir) {
  Series m;
  for (const MetricRow& r : RunFolder(dir).read_metrics()) m[r.metric].push_back({r.step, r.value});
  return m;
}

double last(const Series& m, const std::string& key) {
  auto it = m.find(key);
  BOOST_REQUIRE_MESSAGE(it != m.end() && !it->second.empty(), "metrics.csv has no " << key);
  return it->second.back().second;
}

double rel_diff(double a, double b) { return std::abs(a - b) / std::max(1e-12, std::abs(b)); }

CommandArgs on(const std::string& preset, const std::string& dir, const std::string& device) {
  CommandArgs a;
  a.preset = preset;
  a.run_dir = dir;
  a.device = device;
  return a;
}

}  // namespace

BOOST_AUTO_TEST_CASE(train_ddpm_sample_and_eval_on_cuda, *utf::precondition(CudaAvailable())) {
  const std::string c = fresh_temp_dir("cuda_ddpm_cpu"), g = fresh_temp_dir("cuda_ddpm_gpu");
  BOOST_TEST(run_train_ddpm(on("ddpm_tiny", c, "cpu")) == 0);
  BOOST_TEST(run_train_ddpm(on("ddpm_tiny", g, "cuda")) == 0);
  Series mc = metrics(c), mg = metrics(g);
  // The first logged loss averages the first steps, before the runs can drift apart.
  const double lc = mc["loss"].front().second, lg = mg["loss"].front().second;
  BOOST_TEST_MESSAGE("first logged loss: cpu " << lc << ", cuda " << lg);
  BOOST_TEST(rel_diff(lg, lc) < 1e-3);
  BOOST_TEST(std::isfinite(last(mg, "mmd")));
  BOOST_TEST(fs::exists(g + "/checkpoints/ema.safetensors"));

  // Trained on the GPU, interrupted, resumed on the CPU (optimizer and EMA state cross over).
  const std::string x = fresh_temp_dir("cuda_ddpm_cross");
  CommandArgs first = on("ddpm_tiny", x, "cuda");
  first.sets = {"train.stop_after=25"};
  BOOST_TEST(run_train_ddpm(first) == 0);
  CommandArgs again;
  again.run_dir = x;
  again.resume = true;
  again.device = "cpu";
  again.sets = {"train.stop_after=0"};
  BOOST_TEST(run_train_ddpm(again) == 0);
  BOOST_TEST(std::isfinite(last(metrics(x), "mmd")));

  // One checkpoint evaluated on both devices: the same noise, the same deterministic sampler.
  auto eval_on = [&](const std::string& device) {
    CommandArgs e;
    e.run_dir = c;
    e.device = device;
    BOOST_TEST(run_eval(e) == 0);
    return metrics(c);
  };
  const double mmd_cpu = last(eval_on("cpu"), "mmd[ddim20]");
  const double mmd_gpu = last(eval_on("cuda"), "mmd[ddim20]");
  BOOST_TEST_MESSAGE("eval of one checkpoint: held-out MMD cpu " << mmd_cpu << ", cuda " << mmd_gpu);
  BOOST_TEST(rel_diff(mmd_gpu, mmd_cpu) < 0.02);
  CommandArgs s;
  s.run_dir = c;
  s.device = "cuda";
  BOOST_TEST(run_sample(s) == 0);
}

BOOST_AUTO_TEST_CASE(distill_tiny_on_cuda, *utf::precondition(CudaAvailable())) {
  const std::string d = fresh_temp_dir("cuda_distill");
  CommandArgs a = on("tiny", d, "cuda");
  a.sets = {"distill.teacher=" + d + "/teacher"};
  BOOST_TEST(run_distill(a) == 0);
  Series m = metrics(d);
  BOOST_TEST_MESSAGE("cuda: student@4 " << last(m, "student/mmd@4") << ", DDIM@4 "
                                        << last(m, "ddim/mmd@4"));
  BOOST_TEST(last(m, "student/mmd@4") < 0.7 * last(m, "ddim/mmd@4"));
  BOOST_TEST(last(m, "student/mmd@1") < 0.5 * last(m, "ddim/mmd@1"));
  BOOST_TEST(fs::exists(d + "/checkpoints/student_1.safetensors"));
}

BOOST_AUTO_TEST_CASE(one_step_generators_on_cuda, *utf::precondition(CudaAvailable())) {
  const std::string d = fresh_temp_dir("cuda_drift");
  BOOST_TEST(run_train_drift(on("drift_tiny", d, "cuda")) == 0);
  Series m = metrics(d);
  BOOST_TEST_MESSAGE("cuda drifting: held-out MMD " << m["mmd"].front().second << " -> "
                                                    << last(m, "mmd"));
  BOOST_TEST(last(m, "mmd") < 0.3 * m["mmd"].front().second);

  const std::string f = fresh_temp_dir("cuda_flux");
  BOOST_TEST(run_train_flux(on("flux_tiny", f, "cuda")) == 0);
  Series mf = metrics(f);
  BOOST_TEST_MESSAGE("cuda flux matching: held-out MMD " << mf["mmd"].front().second << " -> "
                                                         << last(mf, "mmd"));
  BOOST_TEST(last(mf, "mmd") < 0.5 * mf["mmd"].front().second);
}

BOOST_AUTO_TEST_CASE(drift_align_on_cuda_matches_cpu, *utf::precondition(CudaAvailable())) {
  const std::string c = fresh_temp_dir("cuda_align_cpu"), g = fresh_temp_dir("cuda_align_gpu");
  BOOST_TEST(run_drift_align(on("drift_align_tiny", c, "cpu")) == 0);
  BOOST_TEST(run_drift_align(on("drift_align_tiny", g, "cuda")) == 0);
  Series mc = metrics(c), mg = metrics(g);
  BOOST_REQUIRE(mc.size() == mg.size());
  int compared = 0;
  for (auto& [k, rows] : mc) {
    BOOST_REQUIRE_MESSAGE(mg.count(k), "the cuda run has no " << k);
    BOOST_REQUIRE(mg[k].size() == rows.size());
    for (size_t i = 0; i < rows.size(); ++i, ++compared) {
      const double a = mg[k][i].second, b = rows[i].second;
      if (k.find("gaussian") != std::string::npos)  // rounding-level errors on both devices
        BOOST_TEST(a < 1e-20, k << " at D = " << rows[i].first);
      else
        BOOST_TEST(rel_diff(a, b) < 1e-6, k << " at D = " << rows[i].first << ": " << a << " vs " << b);
    }
  }
  BOOST_TEST(compared > 0);
}

BOOST_AUTO_TEST_CASE(drift_compare_on_cuda, *utf::precondition(CudaAvailable())) {
  const std::string d = fresh_temp_dir("cuda_compare");
  CommandArgs a;
  a.run_dir = d;
  a.device = "cuda";
  a.sets = {"compare.datasets=ring8", "compare.drift_preset=drift_tiny",
            "compare.ddpm_preset=ddpm_tiny", "compare.drift_steps=40", "compare.ddpm_steps=40",
            "data.n_train=2048", "data.n_test=512"};
  BOOST_TEST(run_drift_compare(a) == 0);
  const std::string report = read_file(d + "/report.html");
  for (const char* s : {"drifting, laplace", "drifting, gaussian", "DDIM 50 steps"})
    BOOST_TEST(report.find(s) != std::string::npos, "report lacks '" << s << "'");
  // The sub-runs inherited the device.
  BOOST_TEST(read_file(d + "/ddpm-ring8/config.json").find("\"cuda\"") != std::string::npos);
}
