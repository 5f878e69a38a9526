// `difflab train-cond` and `difflab cdm` end to end on the tiny presets: the models trained
// first into their own run folders, every method's results, scores and report, the inner-sampler
// control and the sensitivity study, --resume keeping
// finished methods, the consistency model's run reloaded for sampling, and bad settings refused.
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "autograd/functions.h"
#include "experiments/cdm.h"
#include "experiments/cdm_report.h"
#include "experiments/io.h"
#include "experiments/run_folder.h"
#include "experiments/sample_eval.h"
#include "experiments/train_cond.h"
#include "tensor/factory.h"
#include "tests/support/check_message.h"
#include "tests/support/run_helpers.h"

using namespace difflab;
using namespace difflab::experiments;
using namespace difflab::testing;
namespace fs = std::filesystem;

namespace {

CommandArgs tiny_cdm(const std::string& root) {
  CommandArgs a;
  a.preset = "cdm_tiny";
  a.run_dir = root + "/cdm";
  a.threads = 1;
  a.sets = {"cdm.prior=" + root + "/prior", "cdm.inner=" + root + "/cm",
            "cdm.baseline=" + root + "/slow", "cdm.inner_control=true", "cdm.control_steps=2,5",
            "cdm.control_restarts=2", "cdm.sensitivity=true", "cdm.sensitivity_n=8,16",
            "cdm.sensitivity_mc=1,2", "cdm.sensitivity_restarts=2"};
  return a;
}

double metric(const RunFolder& run, const std::string& name) {
  double v = NAN;
  for (const auto& r : run.read_metrics())
    if (r.metric == name) v = r.value;
  return v;
}

}  // namespace

BOOST_AUTO_TEST_CASE(tiny_cdm_trains_its_models_and_scores_every_method) {
  const std::string root = fresh_temp_dir("cdm_tiny");
  BOOST_TEST(run_cdm(tiny_cdm(root)) == 0);
  for (const char* f : {"prior/checkpoints/ema.safetensors", "cm/checkpoints/model.safetensors",
                        "slow/checkpoints/model.safetensors", "cdm/report.html",
                        "cdm/methods/mlgdf.json", "cdm/methods/mlgd.json", "cdm/methods/prior.json",
                        "cdm/methods/best_of.json", "cdm/methods/point.json"})
    BOOST_TEST(fs::exists(root + "/" + f), f);
  RunFolder run(root + "/cdm");
  for (const char* m : {"mlgdf", "mlgd", "prior", "best_of", "point"}) {
    const double l2 = metric(run, std::string("l2_mean[") + m + "]");
    BOOST_TEST((std::isfinite(l2) && l2 >= 0), m);
  }
  const CdmMethodResult r = read_method_result(root + "/cdm/methods/mlgdf.json");
  BOOST_TEST(r.x.size(0) == 3);
  BOOST_TEST(r.final_loss.size() == 3u);
  BOOST_TEST(read_method_result(root + "/cdm/methods/mlgd.json").x.size(0) == 2);  // its restarts
  // The inner-sampler control: checkpointing changes memory, not the gradient; the unrolled
  // sampler's peak grows with its depth.
  const nlohmann::json control = nlohmann::json::parse(read_file(root + "/cdm/methods/inner_control.json"));
  BOOST_TEST(control.size() == 5u);  // consistency, DDIM 2 and 5 steps, each plain and checkpointed
  auto row = [&](size_t i, const char* k) { return control[i].at(k).get<double>(); };
  BOOST_TEST(row(3, "cosine") == 1.0);  // DDIM 5, the reference
  BOOST_TEST(row(2, "cosine") == row(1, "cosine"));
  BOOST_TEST(row(4, "cosine") == 1.0);
  BOOST_TEST(row(3, "peak_bytes") > row(1, "peak_bytes"));
  BOOST_TEST(row(4, "peak_bytes") < 0.5 * row(3, "peak_bytes"));
  for (const char* m : {"control_ddim2", "sens_n8_J1", "sens_n16_J2"})
    BOOST_TEST(fs::exists(root + "/cdm/methods/" + m + ".json"), m);
  const std::string html = read_file(root + "/cdm/report.html");
  BOOST_TEST(html.find("paper: L2 mean") != std::string::npos);
  BOOST_TEST(html.find("0.030 ± 0.007") != std::string::npos);  // the paper's MLGD-F row

  // --resume keeps finished methods (their files untouched) and rewrites the report.
  const auto stamp = fs::last_write_time(root + "/cdm/methods/mlgdf.json");
  CommandArgs again = tiny_cdm(root);
  again.preset.clear();
  again.resume = true;
  BOOST_TEST(run_cdm(again) == 0);
  BOOST_TEST((fs::last_write_time(root + "/cdm/methods/mlgdf.json") == stamp));

  // eval on the consistency model's run reproduces its training's last held-out figure.
  CommandArgs e;
  e.run_dir = root + "/cm";
  e.threads = 1;
  BOOST_REQUIRE(run_eval(e) == 0);
  RunFolder cm_run(root + "/cm");
  BOOST_TEST(metric(cm_run, "mmd[ladder1]") == metric(cm_run, "mmd"));
  // Runs that publish no single model are refused by name.
  e.run_dir = root + "/cdm";
  BOOST_CHECK_EXCEPTION(run_eval(e), difflab::Error, [](const difflab::Error& x) {
    return message_has(x, {"publishes no model", "cdm"});
  });

  // The consistency model's run loads back and samples Y | X differentiably.
  const CondModel cm = load_cond_run(root + "/cm", tensor::Device::cpu());
  ag::Var cond(tensor::full({4, 1}, -5.0, tensor::DType::f32), true);
  tensor::Generator g(1);
  ag::Var y = cm.sampler(2)(cond, g);
  BOOST_TEST(y.size(0) == 4);
  ag::sum(y).backward();
  BOOST_TEST(cond.grad().defined());
  fs::remove_all(root);
}

BOOST_AUTO_TEST_CASE(bad_cdm_settings_are_named) {
  const std::string root = fresh_temp_dir("cdm_bad");
  CommandArgs a = tiny_cdm(root);
  a.sets.push_back("cdm.methods=mlgdf,fast");
  BOOST_CHECK_EXCEPTION(run_cdm(a), difflab::Error,
                        [](const difflab::Error& e) { return message_has(e, {"cdm.methods", "fast"}); });
  a = tiny_cdm(root);
  a.sets.push_back("cdm.kernel=rbf");
  BOOST_CHECK_EXCEPTION(run_cdm(a), difflab::Error,
                        [](const difflab::Error& e) { return message_has(e, {"rbf"}); });
  a = tiny_cdm(root);
  a.sets.push_back("cdm.inner_preset=");
  BOOST_CHECK_EXCEPTION(run_cdm(a), difflab::Error, [](const difflab::Error& e) {
    return message_has(e, {"no trained", "train-cond"});
  });
  fs::remove_all(root);
}
