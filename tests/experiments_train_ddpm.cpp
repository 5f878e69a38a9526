// The train-ddpm command end to end on the tiny preset: the run folder's contents, metrics and
// report; --resume after an interruption continues bit-exactly; sample and eval on the result;
// bad configuration is refused with the key named; a diverging step stops the run cleanly.
#include <boost/test/unit_test.hpp>
#include <filesystem>

#include "experiments/io.h"
#include "experiments/run_folder.h"
#include "experiments/sample_eval.h"
#include "experiments/train_ddpm.h"
#include "nn/safetensors.h"
#include "nn/train_state.h"
#include "tensor/factory.h"
#include "tests/support/check_message.h"
#include "tests/support/run_helpers.h"

using namespace difflab;
using namespace difflab::experiments;
using namespace difflab::testing;
namespace fs = std::filesystem;

namespace {
std::string fresh_dir(const std::string& name) { return fresh_temp_dir("cli_" + name); }
CommandArgs tiny(const std::string& dir) {
  CommandArgs a;
  a.preset = "ddpm_tiny";
  a.run_dir = dir;
  return a;
}
}  // namespace

BOOST_AUTO_TEST_CASE(tiny_run_writes_the_run_folder) {
  std::string d = fresh_dir("full");
  BOOST_TEST(run_train_ddpm(tiny(d)) == 0);
  for (const char* f : {"config.json", "metrics.csv", "report.html", "checkpoints/state.safetensors",
                        "checkpoints/ema.safetensors", "samples/step20.png", "samples/step40.png"})
    BOOST_TEST(fs::exists(d + "/" + f), f);
  RunFolder run(d);
  BOOST_TEST(run.read_config()["train"]["steps"].get<int>() == 40);
  int losses = 0, mmds = 0;
  for (auto& r : run.read_metrics()) {
    if (r.metric == "loss") {
      losses++;
      BOOST_TEST(std::isfinite(r.value));
    }
    if (r.metric == "mmd") mmds++;
  }
  BOOST_TEST(losses == 4);
  BOOST_TEST(mmds == 2);
  std::string html = read_file(d + "/report.html");
  BOOST_TEST(html.find("<svg") != std::string::npos);
  BOOST_TEST(html.find("mmd_data_vs_data") != std::string::npos);
  BOOST_TEST(html.find("data:image/png;base64") != std::string::npos);

  // eval's draw 0 uses the run's own evaluation noise: it reproduces the last figure exactly.
  CommandArgs e = tiny(d);
  e.preset.clear();
  BOOST_TEST(run_eval(e) == 0);
  double trained = NAN, evaluated = NAN;
  for (auto& r : run.read_metrics()) {
    if (r.metric == "mmd" && r.step == 40) trained = r.value;
    if (r.metric.rfind("mmd[", 0) == 0) evaluated = r.value;
  }
  BOOST_TEST(std::isfinite(trained));
  BOOST_TEST(evaluated == trained);

  // sample and eval read the run back.
  CommandArgs s = tiny(d);
  s.preset.clear();
  s.sets = {"sample.steps=10"};
  BOOST_TEST(run_sample(s) == 0);
  BOOST_TEST(fs::exists(d + "/samples/sample_ddim10.png"));
  BOOST_TEST(run_eval(s) == 0);
  bool tagged = false;
  for (auto& r : run.read_metrics()) tagged = tagged || r.metric == "mmd[ddim10]";
  BOOST_TEST(tagged);
  fs::remove_all(d);
}

BOOST_AUTO_TEST_CASE(resume_after_interruption_is_bit_exact) {
  std::string a = fresh_dir("straight"), b = fresh_dir("resumed");
  BOOST_TEST(run_train_ddpm(tiny(a)) == 0);
  CommandArgs first = tiny(b);
  first.sets = {"train.stop_after=25"};  // an interruption between checkpoints
  BOOST_TEST(run_train_ddpm(first) == 0);
  CommandArgs again = tiny(b);
  again.preset.clear();
  again.resume = true;
  again.sets = {"train.stop_after=0"};
  BOOST_TEST(run_train_ddpm(again) == 0);
  auto sa = nn::load_safetensors(a + "/checkpoints/state.safetensors");
  auto sb = nn::load_safetensors(b + "/checkpoints/state.safetensors");
  BOOST_TEST(sa.tensors.size() == sb.tensors.size());
  int compared = 0;
  for (auto& [k, t] : sa.tensors) {
    BOOST_REQUIRE(sb.tensors.count(k));
    BOOST_TEST(same_bits(t, sb.tensors.at(k)), "tensor " << k << " differs after resume");
    compared++;
  }
  BOOST_TEST(compared > 10);
  // The logged curve is the same too (rows after the checkpoint were recomputed).
  auto ma = RunFolder(a).read_metrics(), mb = RunFolder(b).read_metrics();
  BOOST_REQUIRE(ma.size() == mb.size());
  for (size_t i = 0; i < ma.size(); ++i) {
    BOOST_TEST(ma[i].metric == mb[i].metric);
    BOOST_TEST(ma[i].value == mb[i].value, ma[i].metric << " at step " << ma[i].step);
  }
  fs::remove_all(a);
  fs::remove_all(b);
}

BOOST_AUTO_TEST_CASE(bad_configuration_is_refused_by_name) {
  std::string d = fresh_dir("bad");
  CommandArgs a = tiny(d);
  a.sets = {"train.setps=10"};
  BOOST_CHECK_EXCEPTION(run_train_ddpm(a), difflab::Error, [](const difflab::Error& e) {
    return message_has(e, {"train.setps", "did you mean 'train.steps'"});
  });
  a.sets = {"sample.sampler=euler_a"};
  BOOST_CHECK_EXCEPTION(run_train_ddpm(a), difflab::Error, [](const difflab::Error& e) {
    return message_has(e, {"sample.sampler", "euler_a", "ddpm, ddim, euler, heun"});
  });
  a.sets = {"model.class_cond=true"};
  BOOST_CHECK_EXCEPTION(run_train_ddpm(a), difflab::Error, [](const difflab::Error& e) {
    return message_has(e, {"class_cond", "ring8", "no class labels"});
  });
  CommandArgs p;
  p.preset = "no_such_preset";
  p.run_dir = d;
  BOOST_CHECK_EXCEPTION(run_train_ddpm(p), difflab::Error, [](const difflab::Error& e) {
    return message_has(e, {"no_such_preset"});
  });
  CommandArgs r = tiny(fresh_dir("nothing"));
  r.preset.clear();
  r.resume = true;
  BOOST_CHECK_EXCEPTION(run_train_ddpm(r), difflab::Error, [](const difflab::Error& e) {
    return message_has(e, {"no run to resume", "config.json"});
  });
  fs::remove_all(d);
}

// A step that turns the loss or gradient non-finite never reaches the weights: the run stops
// with the step, the op anomaly mode found and the last good checkpoint, which stays as it was.
BOOST_AUTO_TEST_CASE(non_finite_step_stops_the_run_and_keeps_the_checkpoint) {
  std::string d = fresh_dir("diverged");
  CommandArgs first = tiny(d);
  first.sets = {"train.stop_after=5"};
  BOOST_TEST(run_train_ddpm(first) == 0);
  // Weights that blow up in the forward pass (finite, but their products overflow f32).
  const std::string state = d + "/checkpoints/state.safetensors";
  nn::TrainState st = nn::load_train_state(state);
  int scaled = 0;
  for (auto& [name, t] : st.model)
    if (name.find("weight") != std::string::npos) t = tensor::full(t.shape(), 1e30), ++scaled;
  BOOST_REQUIRE(scaled > 0);
  nn::save_train_state(state, st);
  const std::string before = read_file(state);
  const std::string ema_before = read_file(d + "/checkpoints/ema.safetensors");
  CommandArgs again = tiny(d);
  again.preset.clear();
  again.resume = true;
  again.sets = {"train.stop_after=0"};
  BOOST_CHECK_EXCEPTION(run_train_ddpm(again), difflab::Error, [&](const difflab::Error& e) {
    BOOST_TEST_MESSAGE(e.what());
    return message_has(e, {"train-ddpm: step 6", "weights were not updated", "anomaly",
                           "forward of '", "its input came from", state.c_str(),
                           "left as it was"});
  });
  BOOST_TEST(read_file(state) == before, "the last good checkpoint was rewritten");
  BOOST_TEST(read_file(d + "/checkpoints/ema.safetensors") == ema_before);
  fs::remove_all(d);
}
