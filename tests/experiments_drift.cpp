// The drifting and flux commands end to end: train-drift on the tiny preset improves the
// held-out MMD of its one-step samples far beyond the untrained generator and resumes
// bit-exactly; train-flux improves its Langevin samples over the untrained field; drift-align
// on a small grid shows the Gaussian-kernel identity at rounding level and the Laplace field
// aligning with the kernel-score difference as the dimension grows.
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <filesystem>
#include <map>

#include "experiments/drift_align.h"
#include "experiments/drift_compare.h"
#include "autograd/grad_mode.h"
#include "experiments/io.h"
#include "nn/safetensors.h"
#include "tensor/ops.h"
#include "experiments/run_folder.h"
#include "experiments/sample_eval.h"
#include "experiments/train_drift.h"
#include "experiments/train_flux.h"
#include "tests/support/check_message.h"
#include "tests/support/run_helpers.h"

using namespace difflab;
using namespace difflab::experiments;
using namespace difflab::testing;
namespace fs = std::filesystem;

namespace {

std::map<std::string, std::vector<std::pair<int64_t, double>>> metrics(const std::string& dir) {
  std::map<std::string, std::vector<std::pair<int64_t, double>>> m;
  for (const MetricRow& r : RunFolder(dir).read_metrics()) m[r.metric].push_back({r.step, r.value});
  return m;
}

CommandArgs drift_tiny(const std::string& dir) {
  CommandArgs a;
  a.preset = "drift_tiny";
  a.run_dir = dir;
  return a;
}

}  // namespace

BOOST_AUTO_TEST_CASE(tiny_drifting_run_improves_held_out_mmd) {
  const std::string d = fresh_temp_dir("drift_tiny");
  BOOST_TEST(run_train_drift(drift_tiny(d)) == 0);
  auto m = metrics(d);
  BOOST_REQUIRE(m["mmd"].size() == 2);
  const double before = m["mmd"].front().second, after = m["mmd"].back().second;
  BOOST_TEST_MESSAGE("held-out MMD of one-step samples: untrained " << before << ", after 150 "
                     "steps " << after << ", data vs data " << m["mmd_data_vs_data"][0].second);
  BOOST_TEST(m["mmd"].front().first == 0);
  BOOST_TEST(after < 0.3 * before);
  // Against the data's own level and the mode figures, at what this budget reaches (measured:
  // MMD 3.0x the data-vs-data level, recall 0.98, precision 0.23 and high-quality share 0.24
  // from 0 untrained): 150 steps spread the samples over the ring, they do not yet resolve it.
  const double level = m["mmd_data_vs_data"][0].second;
  BOOST_TEST(after < 4 * level);
  BOOST_TEST(m["recall"].back().second > 0.9);
  BOOST_TEST(m["precision"].back().second > 0.15);
  BOOST_TEST(m["hq_share"].back().second > 0.15);
  BOOST_TEST(m["hq_share"].front().second < 0.05);
  BOOST_TEST(m["sliced_w1"].back().second < 0.3 * m["sliced_w1"].front().second);
  BOOST_TEST(fs::exists(d + "/checkpoints/model.safetensors"));
  BOOST_TEST(read_file(d + "/report.html").find("untrained network") != std::string::npos);

  // eval over 3 draws: draw 0 is training's evaluation noise (the same figure), the others
  // give the spread; sample writes a scatter of the published weights.
  CommandArgs e;
  e.run_dir = d;
  e.sets = {"eval.seeds=3"};
  BOOST_TEST(run_eval(e) == 0);
  auto em = metrics(d);
  BOOST_REQUIRE(em.count("mmd[onestep]") && em.count("mmd_sd[onestep]"));
  BOOST_TEST_MESSAGE("eval of the final generator, 3 draws: MMD " << em["mmd[onestep]"][0].second
                     << " ± " << em["mmd_sd[onestep]"][0].second);
  BOOST_TEST(em["mmd_sd[onestep]"][0].second > 0.0);
  BOOST_TEST(std::abs(em["mmd[onestep]"][0].second - after) <
             4 * em["mmd_sd[onestep]"][0].second + 1e-12);
  e.sets = {"eval.seeds=1"};
  BOOST_TEST(run_eval(e) == 0);
  BOOST_TEST(metrics(d)["mmd[onestep]"].back().second == after);
  BOOST_TEST(run_sample(e) == 0);
  BOOST_TEST(fs::exists(d + "/samples/sample_onestep.png"));

  // Interrupted at step 60 (a checkpoint at 50 is overwritten by the stop), then resumed.
  const std::string c = fresh_temp_dir("drift_tiny_cut");
  CommandArgs first = drift_tiny(c);
  first.sets = {"train.stop_after=60"};
  BOOST_TEST(run_train_drift(first) == 0);
  CommandArgs again;
  again.run_dir = c;
  again.resume = true;
  again.sets = {"train.stop_after=0"};
  BOOST_TEST(run_train_drift(again) == 0);
  FileComparison cmp = compare_safetensors(d + "/checkpoints/state.safetensors",
                                           c + "/checkpoints/state.safetensors");
  BOOST_TEST(cmp.compared > 0);
  BOOST_TEST(cmp.differing == 0);
  BOOST_TEST(cmp.unmatched == 0);
  BOOST_TEST(metrics(c)["mmd"].back().second == after);
}

BOOST_AUTO_TEST_CASE(alignment_grows_with_dimension_and_gaussian_is_exact) {
  const std::string d = fresh_temp_dir("drift_align");
  CommandArgs a;
  a.preset = "drift_align_tiny";
  a.run_dir = d;
  BOOST_TEST(run_drift_align(a) == 0);
  auto m = metrics(d);
  for (const std::string mog : {"ring", "raw"}) {
    auto at = [&](const std::string& q, int64_t D) {
      for (auto& [s, v] : m[mog + "/" + q]) if (s == D) return v;
      BOOST_FAIL("no " << mog << "/" << q << " at D = " << D);
      return 0.0;
    };
    // The identity (a consistency check) and Tweedie's formula against the closed-form smoothed
    // scores, a real finite-sample comparison (at D = 2 with this preset's samples).
    for (int64_t D : {2, 128}) BOOST_TEST(at("gaussian_tau0.1/rel_error", D) < 1e-20);
    BOOST_TEST_MESSAGE(mog << ": Tweedie relative error at D = 2: "
                           << at("gaussian_tau0.1/tweedie_rel_error", 2));
    BOOST_TEST(at("gaussian_tau0.1/tweedie_rel_error", 2) < 0.5, mog);
    const double e2 = at("laplace_tau0.1/rel_error", 2), e128 = at("laplace_tau0.1/rel_error", 128);
    const double c2 = at("laplace_tau0.1/c_star_over_c_theory", 2),
                 c128 = at("laplace_tau0.1/c_star_over_c_theory", 128);
    BOOST_TEST_MESSAGE(mog << ": relative error " << e2 << " (D=2) -> " << e128
                           << " (D=128); C*/C_th " << c2 << " -> " << c128);
    BOOST_TEST(e128 < 0.2 * e2, mog);
    BOOST_TEST(std::abs(c128 - 1) < std::abs(c2 - 1), mog);
    BOOST_TEST(std::abs(c128 - 1) < 0.25, mog);
  }
  BOOST_TEST(read_file(d + "/report.html").find("consistency check") != std::string::npos);
  CommandArgs bad = a;
  bad.sets = {"align.mogs=ring,cube"};
  BOOST_CHECK_EXCEPTION(run_drift_align(bad), difflab::Error, [](const difflab::Error& e) {
    return message_has(e, {"align.mogs", "cube"});
  });
}

BOOST_AUTO_TEST_CASE(tiny_flux_matching_run_improves_held_out_mmd) {
  const std::string d = fresh_temp_dir("flux_tiny");
  CommandArgs a;
  a.preset = "flux_tiny";
  a.run_dir = d;
  BOOST_TEST(run_train_flux(a) == 0);
  auto m = metrics(d);
  BOOST_REQUIRE(m["mmd"].size() == 2);
  const double before = m["mmd"].front().second, after = m["mmd"].back().second;
  BOOST_TEST_MESSAGE("held-out MMD of Langevin samples: untrained field " << before
                     << ", after 300 flux-matching steps " << after);
  BOOST_TEST(after < 0.5 * before);
  BOOST_TEST(after < 5 * m["mmd_data_vs_data"][0].second);  // measured 3.6x
  BOOST_TEST(m["recall"].back().second > 0.9);
  BOOST_TEST(m["log_density"].back().second > m["log_density"].front().second + 100);
  BOOST_TEST(fs::exists(d + "/checkpoints/model.safetensors"));
  // The trained field against the known score s of the smoothed data p_σ = ring8 * N(0, σ² I)
  // at held-out points. Flux matching asks only that p_σ be stationary under Langevin with
  // drift f, so f = s + u with ∇·(p_σ u) = 0: a circulation along the ring is free, and the
  // full cosine of f with s says little. The radial parts must agree, off the ring (held-out
  // points moved by N(0, 0.5² I), where s points firmly back to the ring): that is what pulls
  // the samples onto it.
  const FluxSettings fs_ = flux_settings(command_config(flux_config(), CommandArgs{}, d, true));
  const Dataset data = load_dataset(fs_.run.data);
  FluxField trained = make_flux_field(fs_, data, tensor::Device::cpu());
  FluxField untrained = make_flux_field(fs_, data, tensor::Device::cpu());
  nn::load_module(d + "/checkpoints/model.safetensors", *trained.model.module);
  tensor::Generator noise(17);
  const Tensor x = tensor::binary(
      tensor::BinaryOp::add, data.test.slice(0, 0, 512).to(tensor::DType::f64),
      tensor::affine(tensor::randn({512, 2}, tensor::DType::f64, &noise), 0.5, 0.0));
  const Tensor score = data.mixture->smoothed(std::sqrt(fs_.flux.sigma2)).score(x);
  auto radial = [&](const Tensor& v) {  // v · x/|x| per point
    auto xs = x.contiguous().to_vector<double>(), vs = v.contiguous().to_vector<double>();
    std::vector<double> r;
    for (size_t i = 0; i < xs.size(); i += 2)
      r.push_back((vs[i] * xs[i] + vs[i + 1] * xs[i + 1]) / std::hypot(xs[i], xs[i + 1]));
    return r;
  };
  auto cosine = [&](FluxField& f) {
    ag::NoGradGuard ng;
    const std::vector<double> a = radial(f.field(ag::Var(x.to(tensor::DType::f32))).value()
                                             .to(tensor::DType::f64)),
                              b = radial(score);
    double ab = 0, aa = 0, bb = 0;
    for (size_t i = 0; i < a.size(); ++i) ab += a[i] * b[i], aa += a[i] * a[i], bb += b[i] * b[i];
    return ab / std::sqrt(aa * bb);
  };
  const double c_trained = cosine(trained), c_untrained = cosine(untrained);
  BOOST_TEST_MESSAGE("cosine of the field's radial part with the smoothed mixture's: trained "
                     << c_trained << ", untrained " << c_untrained);
  BOOST_TEST(c_trained > 0.45);  // measured 0.62 after 300 steps
  BOOST_TEST(c_untrained < 0.3);  // measured 0.04
  // eval reproduces the last evaluation (the EMA weights, the same Langevin noise).
  CommandArgs e;
  e.run_dir = d;
  BOOST_TEST(run_eval(e) == 0);
  BOOST_TEST(metrics(d)["mmd[langevin1000]"].back().second == after);
  CommandArgs images = a;
  images.run_dir = fresh_temp_dir("flux_images");
  images.sets = {"data.name=fashion_mnist"};
  BOOST_CHECK_EXCEPTION(run_train_flux(images), difflab::Error, [](const difflab::Error& e) {
    return message_has(e, {"train-flux", "'fashion_mnist' is an image set", "mnist_pca"});
  });
}

BOOST_AUTO_TEST_CASE(drift_compare_tabulates_every_method_and_keeps_finished_runs) {
  const std::string d = fresh_temp_dir("drift_compare");
  CommandArgs a;
  a.run_dir = d;
  a.sets = {"compare.datasets=ring8", "compare.drift_preset=drift_tiny",
            "compare.ddpm_preset=ddpm_tiny", "compare.drift_steps=40", "compare.ddpm_steps=40",
            "data.n_train=2048", "data.n_test=512", "threads=1"};
  BOOST_TEST(run_drift_compare(a) == 0);
  const std::string report = read_file(d + "/report.html");
  for (const char* s : {"drifting, laplace", "drifting, gaussian", "DDIM 1 steps", "DDIM 4 steps",
                        "DDIM 50 steps", "data vs data", "precision", "recall",
                        "ring8, drifting, laplace", "ring8, DDPM, DDIM 50 steps: High-quality share"})
    BOOST_TEST(report.find(s) != std::string::npos, "report lacks '" << s << "'");
  // 40 training steps cannot resolve 8 modes, and the report must say so in words.
  BOOST_TEST(report.find("NOT resolved the modes") != std::string::npos);
  const auto stamp = read_file(d + "/drift-ring8-laplace/compare_seconds.txt");
  BOOST_TEST(run_drift_compare(a) == 0);  // everything finished: nothing retrained
  BOOST_TEST(read_file(d + "/drift-ring8-laplace/compare_seconds.txt") == stamp);
  a.sets.push_back("compare.kernels=laplace,cauchy");
  BOOST_CHECK_EXCEPTION(run_drift_compare(a), difflab::Error, [](const difflab::Error& e) {
    return message_has(e, {"compare.kernels", "cauchy"});
  });
}
