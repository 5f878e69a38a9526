#include "experiments/cdm_rotation.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <numbers>
#include <numeric>

#include "autograd/grad_mode.h"
#include "experiments/cdm_report.h"
#include "experiments/data/mnist_rotation.h"
#include "experiments/image_grid.h"
#include "experiments/io.h"
#include "experiments/lenet.h"
#include "experiments/report.h"
#include "experiments/run_folder.h"
#include "matching/divergence_registry.h"
#include "tensor/factory.h"
#include "tensor/ops.h"

namespace difflab::experiments {

using ag::Var;
using tensor::DType;
using tensor::Tensor;

namespace {

const double kUnimodalSd = std::sqrt(515.0), kBimodalSd = std::sqrt(252.0);

void check_target(const std::string& name) {
  DIFFLAB_CHECK(
      std::find(kRotationTargets.begin(), kRotationTargets.end(), name) != kRotationTargets.end(),
      "cdm.targets: unknown target '", name, "' (unimodal, bimodal, uniform)");
}

double normal_pdf(double x, double sd) {
  return std::exp(-0.5 * x * x / (sd * sd)) / (sd * std::sqrt(2 * std::numbers::pi));
}

double wrapped_pdf(double deg, double mean, double sd) {
  double p = 0;
  for (int k = -3; k <= 3; ++k) p += normal_pdf(deg - mean + 360.0 * k, sd);
  return p;
}

}  // namespace

matching::TargetSampler rotation_target(const std::string& name) {
  check_target(name);
  return [name](int64_t n, tensor::Generator& g) {
    std::vector<double> deg;
    if (name == "uniform") {
      deg = tensor::uniform({n}, 0.0, 360.0, DType::f64, &g).to_vector<double>();
    } else {
      const std::vector<double> z = tensor::randn({n}, DType::f64, &g).to_vector<double>();
      const std::vector<double> u =
          tensor::uniform({n}, 0.0, 1.0, DType::f64, &g).to_vector<double>();
      for (int64_t i = 0; i < n; ++i) {
        const bool flip = name == "bimodal" && u[size_t(i)] < 0.5;
        deg.push_back((flip ? 180.0 : 0.0) +
                      z[size_t(i)] * (name == "bimodal" ? kBimodalSd : kUnimodalSd));
      }
    }
    return angle_features(deg);
  };
}

double rotation_target_density(const std::string& name, double deg) {
  check_target(name);
  if (name == "uniform") return 1.0 / 360.0;
  if (name == "unimodal") return wrapped_pdf(deg, 0.0, kUnimodalSd);
  return 0.5 * wrapped_pdf(deg, 0.0, kBimodalSd) + 0.5 * wrapped_pdf(deg, 180.0, kBimodalSd);
}

std::vector<int64_t> digits_of_interest(const std::string& name) {
  check_target(name);
  if (name == "unimodal") return {2, 3, 5, 7};
  if (name == "bimodal") return {1, 6, 8, 9};
  return {0};
}

namespace {

const std::vector<std::string> kRotationMethods = {"mlgdf", "prior", "best_of"};

struct RotationBench {
  const CdmCommandSettings& s;
  CdmPrior prior;
  CondModel inner;
  matching::InnerSampler sampler;
  matching::MatchingLoss loss, mmd;
  Classifier judge;
};

matching::MatchingLoss settings_loss(const matching::DivergenceSettings& d) {
  return [d](const Var& y, const Var& t, tensor::Generator& g) {
    return matching::divergence(y, t, d, &g);
  };
}

RotationBench open_rotation_bench(const CdmCommandSettings& s) {
  for (const std::string& m : s.methods)
    DIFFLAB_CHECK(
        std::find(kRotationMethods.begin(), kRotationMethods.end(), m) != kRotationMethods.end(),
        "cdm.methods: '", m, "' does not run on mnist_rot (mlgdf, prior, best_of)");
  for (const std::string& t : s.targets) check_target(t);
  ensure_cdm_model(s.prior, s.threads, s.device);
  ensure_cdm_model(s.inner, s.threads, s.device);
  const tensor::Device dev = tensor::parse_device(s.device);
  CdmPrior prior = load_cdm_prior(s.prior.dir, dev);
  DIFFLAB_CHECK(!prior.image.empty() && prior.dim == 784, "cdm.prior: '", s.prior.dir,
                "' is not a 28x28 image prior (mnist_rot needs one; it models ", prior.dim,
                "-D data)");
  CondModel inner = load_cond_run(s.inner.dir, dev);
  DIFFLAB_CHECK(inner.s.image_encoder && inner.s.objective == "ict", "cdm.inner: '", s.inner.dir,
                "' is not an ict model with the image encoder (model.cond_encoder=cnn)");
  const matching::InnerSampler sampler = inner.inner_sampler(s.inner_steps);
  DataSettings judge_data;
  judge_data.name = "mnist_rot", judge_data.copies = 1;
  const Dataset d = load_dataset(judge_data);
  Classifier judge =
      load_or_train_classifier("mnist_rot", {d.train, d.train_labels}, {d.test, d.test_labels}, 10);
  RotationBench b{s,
                  std::move(prior),
                  std::move(inner),
                  sampler,
                  settings_loss(s.divergence),
                  settings_loss(matching::DivergenceSettings{}),
                  std::move(judge)};
  return b;
}

CdmMethodResult run_rotation_method(const RotationBench& b, const std::string& target,
                                    const std::string& method) {
  const std::string name = target + "-" + method;
  const matching::TargetSampler g = rotation_target(target);
  if (method == "prior") return best_prior_draws(b.prior, b.sampler, g, b.loss, b.s.loop, 1, name);
  if (method == "best_of")
    return best_prior_draws(b.prior, b.sampler, g, b.loss, b.s.loop, b.s.best_of, name);
  matching::CdmRun r = guided_run(b.prior, b.sampler, g, b.loss, b.s.loop, name);
  return {name, r.x, r.final_loss, r.seconds, b.s.loop.restarts};
}

CdmMethodResult cached_rotation_method(RunFolder& run, bool resume, const RotationBench& b,
                                       const std::string& target, const std::string& method) {
  const std::string saved = run.path("methods/" + target + "-" + method + ".json");
  if (resume && file_exists(saved)) {
    std::fprintf(stderr, "%s-%s: kept from %s\n", target.c_str(), method.c_str(), saved.c_str());
    return read_method_result(saved);
  }
  CdmMethodResult r = run_rotation_method(b, target, method);
  write_method_result(saved, r);
  return r;
}

Tensor as_images(const Tensor& x) {
  return tensor::clamp(x.to(DType::f32).reshape({x.size(0), 1, 28, 28}), -1.0, 1.0);
}

// One (target, method): its figures, logged as "<figure>[<target>/<method>]".
struct RotationScores {
  std::vector<double> swd, mmd;
  double swd_top = 0, confident = 0, of_interest = 0;
  std::vector<int64_t> digits;  // the confident images' classes
};

RotationScores score(const RotationBench& b, const std::string& target, const CdmMethodResult& r) {
  RotationScores sc;
  sc.swd = r.final_loss;
  tensor::Generator g(b.s.loop.seed + 104729);
  for (int64_t i = 0; i < r.x.size(0); ++i)
    sc.mmd.push_back(matching::final_matching_loss(r.x.slice(0, i, i + 1).to(DType::f32), b.sampler,
                                                   rotation_target(target), b.mmd, b.s.loop.final_n,
                                                   g));
  std::vector<double> sorted = sc.swd;
  std::sort(sorted.begin(), sorted.end());
  const size_t k = std::min<size_t>(size_t(b.s.top_k), sorted.size());
  for (size_t i = 0; i < k; ++i) sc.swd_top += sorted[i] / double(k);
  const Tensor p = tensor::softmax(classify(*b.judge.net, as_images(r.x)).logits, 1);
  const std::vector<float> pv = p.contiguous().to_vector<float>();
  const std::vector<int64_t> want = digits_of_interest(target);
  for (int64_t i = 0; i < r.x.size(0); ++i) {
    const float* row = pv.data() + i * 10;
    const int64_t c = std::max_element(row, row + 10) - row;
    if (row[c] <= b.s.judge_confidence) continue;
    sc.digits.push_back(c);
    sc.confident += 1.0 / double(r.x.size(0));
    if (std::find(want.begin(), want.end(), c) != want.end()) sc.of_interest += 1.0;
  }
  if (!sc.digits.empty()) sc.of_interest /= double(sc.digits.size());
  return sc;
}

std::string mean_sd(const std::vector<double>& v) {
  double m = 0, q = 0;
  for (double x : v) m += x / double(v.size());
  for (double x : v) q += (x - m) * (x - m) / double(std::max<size_t>(1, v.size() - 1));
  return format_number(m) + " ± " + format_number(std::sqrt(q));
}

std::string digit_counts(const std::vector<int64_t>& digits) {
  std::map<int64_t, int> n;
  for (int64_t d : digits) ++n[d];
  std::string out;
  for (auto [d, c] : n)
    out += (out.empty() ? "" : ", ") + std::to_string(d) + "×" + std::to_string(c);
  return out.empty() ? "none" : out;
}

// The angle histogram (10° bins, density per degree) of P(Y | X = x) at the best restart.
Series angle_histogram(const RotationBench& b, const CdmMethodResult& r, const std::string& label) {
  ag::NoGradGuard ng;
  const int64_t best =
      std::min_element(r.final_loss.begin(), r.final_loss.end()) - r.final_loss.begin();
  tensor::Generator g(b.s.loop.seed + 7);
  const Var y = b.sampler.sample(
      b.sampler.conditions(Var(r.x.slice(0, best, best + 1).to(DType::f32)), 2000), g);
  std::vector<double> count(36, 0.0);
  for (double d : feature_angles(y.value()))
    count[size_t(std::min(35.0, std::floor(d / 10.0)))] += 1;
  Series s{label, {}, {}};
  for (size_t i = 0; i < 36; ++i)
    s.x.push_back(10.0 * double(i) + 5), s.y.push_back(count[i] / 2000.0 / 10.0);
  return s;
}

void report_target(Report& rep, RunFolder& run, const RotationBench& b, const std::string& target,
                   const std::vector<CdmMethodResult>& results) {
  rep.heading("Target: " + target);
  std::vector<std::vector<std::string>> rows;
  std::vector<Series> hist;
  Series density{"target G", {}, {}};
  for (int d = 0; d < 360; d += 5)
    density.x.push_back(d), density.y.push_back(rotation_target_density(target, d));
  hist.push_back(density);
  for (const CdmMethodResult& r : results) {
    const RotationScores sc = score(b, target, r);
    const std::string method = r.name.substr(target.size() + 1);
    const std::string tag = "[" + target + "/" + method + "]";
    run.log_metric(0, "swd_mean" + tag,
                   sc.swd.empty() ? NAN
                                  : std::accumulate(sc.swd.begin(), sc.swd.end(), 0.0) /
                                        double(sc.swd.size()));
    run.log_metric(0, "swd_top" + tag, sc.swd_top);
    run.log_metric(0, "digit_share" + tag, sc.confident);
    run.log_metric(0, "of_interest" + tag, sc.of_interest);
    rows.push_back({method, mean_sd(sc.swd), format_number(sc.swd_top), mean_sd(sc.mmd),
                    format_number(sc.confident), format_number(sc.of_interest),
                    digit_counts(sc.digits),
                    format_number(r.seconds / double(std::max<int64_t>(1, r.runs)))});
    std::vector<int64_t> order(size_t(r.x.size(0)));
    std::iota(order.begin(), order.end(), 0);
    std::sort(order.begin(), order.end(), [&](int64_t a, int64_t c) {
      return r.final_loss[size_t(a)] < r.final_loss[size_t(c)];
    });
    const Tensor sorted = tensor::index_select(
        as_images(r.x), 0, tensor::from_vector<int64_t>(order, {int64_t(order.size())}));
    rep.image(method + ": every restart's x, best SWD first",
              write_png_grid(run.path("samples/" + r.name + ".png"), sorted,
                             std::min<int64_t>(15, sorted.size(0))));
    hist.push_back(angle_histogram(b, r, method + " (best x)"));
  }
  rep.table({"method", "SWD mean ± sd", "SWD top-" + std::to_string(b.s.top_k), "MMD mean ± sd",
             "share read as a digit", "of those, digits of interest", "digits read", "s per run"},
            rows);
  rep.plot(hist, {"angle of P(Y | X = best x) beside G (" + target + ")", "angle (degrees)",
                  "density per degree", false, false});
}

}  // namespace

int run_cdm_rotation(const CdmCommandSettings& s, const Config& cfg, const std::string& dir,
                     bool resume) {
  const RotationBench b = open_rotation_bench(s);
  RunLock lock(dir);
  RunFolder run(dir);
  run.write_config(cfg.resolved());
  std::filesystem::create_directories(run.path("methods"));
  std::filesystem::create_directories(run.path("samples"));
  if (!resume) run.truncate_metrics_after(-1);
  Report rep("MLGD-F on MNIST rotation (reduced scale)");
  rep.paragraph(
      "X is a 28x28 digit (prior: the U-Net DDPM in " + s.prior.dir +
      ", trained on rotated digits); "
      "Y its angle as (cos, sin) (inner sampler: the consistency model with the image encoder in " +
      s.inner.dir + ", " + std::to_string(s.inner_steps) + " evaluation(s)). " +
      std::to_string(s.loop.restarts) + " restarts of " + std::to_string(s.loop.steps) +
      " guided DDIM steps from noise, n = " + std::to_string(s.loop.n_cond) +
      ", J = " + std::to_string(s.loop.mc) + ", ζ = " + format_number(s.loop.guidance) + " (" +
      (s.loop.guidance_rule == matching::GuidanceRule::mnist ? "the MNIST code's η_t rule"
                                                             : "constant") +
      "), loss " + s.divergence.divergence +
      ". Digits are read by a LeNet trained on rotated digits "
      "(held-out accuracy " +
      format_number(b.judge.test_accuracy) + "), counted when its confidence exceeds " +
      format_number(s.judge_confidence) +
      "; the spec expects unimodal → 2, 3, 5, 7; bimodal → 1, 8, 6/9; "
      "uniform → 0-like.");
  for (const std::string& target : s.targets) {
    std::vector<CdmMethodResult> results;
    for (const std::string& m : s.methods)
      results.push_back(cached_rotation_method(run, resume, b, target, m));
    report_target(rep, run, b, target, results);
  }
  rep.config(cfg.resolved());
  rep.write(run.path("report.html"));
  std::fprintf(stderr, "report: %s\n", run.path("report.html").c_str());
  return 0;
}

}  // namespace difflab::experiments
