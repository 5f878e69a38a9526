#include "experiments/cdm.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include "autograd/functions.h"
#include "experiments/cdm_report.h"
#include "experiments/cdm_rotation.h"
#include "experiments/cdm_studies.h"
#include "experiments/data/joint_gmm.h"
#include "experiments/io.h"
#include "experiments/progress.h"
#include "experiments/run_folder.h"
#include "matching/divergence_registry.h"
#include "tensor/factory.h"

namespace difflab::experiments {

using ag::Var;

namespace {

const std::vector<std::string> kMethods = {"mlgdf", "mlgd", "prior", "best_of", "point"};

// The divergence keys' defaults as the grammar spells them (only changed keys reach the parser,
// so that e.g. cdm.kernel=energy does not meet the default cdm.bandwidth).
const std::vector<std::pair<std::string, std::string>> kDivergenceDefaults = {
    {"cdm.divergence", "mmd_u"},       {"cdm.kernel", "gaussian"},
    {"cdm.bandwidth", "median"},       {"cdm.projections", "128"},
    {"cdm.sinkhorn_epsilon", "0.0025"}, {"cdm.sinkhorn_p", "2"},
    {"cdm.sinkhorn_iterations", "1000"}, {"cdm.sinkhorn_tolerance", "1e-6"},
    {"cdm.sinkhorn_scaling", "0.5"}};

void declare_model_keys(Config& c) {
  c.declare_string("cdm.prior", "", {}, "train-ddpm run of the prior over X (default runs/ddpm-cdm_prior_<task>)")
      .declare_string("cdm.prior_preset", "", {}, "train the prior with this preset when it is missing")
      .declare_string("cdm.inner", "", {}, "train-cond (ict) run of the fast inner sampler (default runs/cond-cdm_cm_<task>)")
      .declare_string("cdm.inner_preset", "", {}, "train the inner sampler with this preset when it is missing")
      .declare_string("cdm.baseline", "", {}, "train-cond (ddpm) run of the slow MLGD baseline (default runs/cond-cdm_slow_<task>)")
      .declare_string("cdm.baseline_preset", "", {}, "train the baseline with this preset when it is missing")
      .declare_int("cdm.inner_steps", 1, 1, 1000, "K_s: consistency-ladder evaluations of the inner sampler")
      .declare_int("cdm.baseline_steps", 100, 1, 100000, "K*: unrolled DDIM steps of the slow baseline")
      .declare_int("cdm.baseline_restarts", 25, 1, 100000, "restarts of the slow baseline")
      .declare_bool("cdm.baseline_checkpoint", false, "per-step checkpointing in the slow baseline");
}

void declare_loop_keys(Config& c) {
  c.declare_string("cdm.task", "2d", {"2d", "5d", "10d", "mnist_rot"},
                   "2D_cond_1D, 5D_cond_1D or 10D_cond_1D (spec §2.7), or MNIST rotation (§2.9)")
      .declare_string("cdm.targets", "unimodal,bimodal,uniform", {},
                      "mnist_rot: targets on the circle (unimodal, bimodal, uniform)")
      .declare_double("cdm.judge_confidence", 0.7, 0.0, 1.0,
                      "mnist_rot: rotation-LeNet confidence above which an image counts as a digit")
      .declare_string(
          "cdm.guidance_rule", "constant", {"constant", "mnist"},
          "step size: constant ζ, or mnist: ζ·(σ_t/(1+σ_t²) + 5t) (the MNIST code's η_t)")
      .declare_string("cdm.methods", "mlgdf,mlgd,prior,best_of,point", {},
                      "methods to run: mlgdf, mlgd, prior, best_of, point")
      .declare_int("cdm.steps", 99, 1, 100000, "outer DDIM steps of the guided prior")
      .declare_int("cdm.n", 250, 2, 1000000, "n_cond = n_target: inner and target samples per loss")
      .declare_int("cdm.mc", 3, 1, 1000, "J: Monte-Carlo copies of x0 per step")
      .declare_double("cdm.guidance", 1.0, 0.0, 1e6, "ζ: step size of the matching gradient")
      .declare_string(
          "cdm.spread", "beta", {"beta", "lgd", "none"},
          "r_t of the Monte-Carlo copies: beta (the simulations code), lgd (sqrt(1-ᾱ_t)), none")
      .declare_string("cdm.start", "zero", {"zero", "noise"},
                      "x_T: zeros (the simulations code) or N(0, I)")
      .declare_int("cdm.restarts", 25, 1, 100000, "R: restarts (CDMO keeps the best)")
      .declare_int("cdm.top_k", 10, 1, 100000, "restarts in the top-k-by-final-loss figures")
      .declare_int("cdm.best_of", 100, 1, 1000000,
                   "prior draws per restart of the best_of baseline")
      .declare_bool("cdm.inner_control", false,
                    "study: the consistency sampler against K*-step DDIM inner samplers (gradient "
                    "cosine, peak bytes, time, L2) with and without checkpointing")
      .declare_string("cdm.control_steps", "4,16,64", {},
                      "K* of the inner-sampler control (the largest is the reference)")
      .declare_int("cdm.control_restarts", 5, 1, 100000,
                   "restarts per K* in the control's MLGD runs")
      .declare_bool("cdm.sensitivity", false, "study: MLGD-F over n x J (spec §2.6's sweep)")
      .declare_string("cdm.sensitivity_n", "25,100,250,1000", {},
                      "n values of the sensitivity study")
      .declare_string("cdm.sensitivity_mc", "1,3,10", {}, "J values of the sensitivity study")
      .declare_int("cdm.sensitivity_restarts", 5, 1, 100000,
                   "restarts per cell of the sensitivity study");
  for (const auto& h : matching::divergence_setting_help()) {
    std::string def;
    for (const auto& [k, v] : kDivergenceDefaults)
      if (k == h.key) def = v;
    c.declare_string(h.key, def, {}, h.help);
  }
}

std::string or_default(const std::string& v, const std::string& d) { return v.empty() ? d : v; }

// Positive integers from a comma list, ascending.
std::vector<int64_t> int_list(const std::string& text, const std::string& key) {
  std::vector<int64_t> out;
  for (double v : parse_list(text, key)) {
    DIFFLAB_CHECK(v >= 1 && v == std::floor(v), key, ": '", text, "' must list positive integers");
    out.push_back(int64_t(v));
  }
  DIFFLAB_CHECK(!out.empty(), key, ": give at least one value");
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

Config cdm_config() {
  Config c;
  declare_loop_keys(c);
  declare_model_keys(c);
  c.declare_string("device", "cpu", {}, "cpu, cuda or cuda:<index>");
  return c;
}

CdmCommandSettings cdm_settings(const Config& cfg) {
  CdmCommandSettings s;
  s.task = cfg.get_string("cdm.task");
  s.prior = {CdmModelKind::prior, or_default(cfg.get_string("cdm.prior"), "runs/ddpm-cdm_prior_" + s.task),
             cfg.get_string("cdm.prior_preset")};
  s.inner = {CdmModelKind::inner, or_default(cfg.get_string("cdm.inner"), "runs/cond-cdm_cm_" + s.task),
             cfg.get_string("cdm.inner_preset")};
  s.baseline = {CdmModelKind::baseline,
                or_default(cfg.get_string("cdm.baseline"), "runs/cond-cdm_slow_" + s.task),
                cfg.get_string("cdm.baseline_preset")};
  s.inner_steps = cfg.get_int("cdm.inner_steps");
  s.baseline_steps = cfg.get_int("cdm.baseline_steps");
  s.baseline_restarts = cfg.get_int("cdm.baseline_restarts");
  s.baseline_checkpoint = cfg.get_bool("cdm.baseline_checkpoint");
  s.methods = parse_names(cfg.get_string("cdm.methods"));
  for (const std::string& m : s.methods)
    DIFFLAB_CHECK(std::find(kMethods.begin(), kMethods.end(), m) != kMethods.end(),
                  "cdm.methods: unknown method '", m, "' (mlgdf, mlgd, prior, best_of, point)");
  std::vector<std::pair<std::string, std::string>> changed;
  for (const auto& [k, def] : kDivergenceDefaults)
    if (cfg.get_string(k) != def) changed.emplace_back(k, cfg.get_string(k));
  s.divergence = matching::parse_divergence_settings(changed);
  matching::CdmSettings& l = s.loop;
  l.steps = cfg.get_int("cdm.steps");
  l.n_cond = l.n_target = l.final_n = cfg.get_int("cdm.n");
  l.mc = cfg.get_int("cdm.mc");
  l.guidance = cfg.get_double("cdm.guidance");
  l.guidance_rule = matching::parse_guidance_rule(cfg.get_string("cdm.guidance_rule"));
  l.spread = matching::parse_spread(cfg.get_string("cdm.spread"));
  l.start_at_zero = cfg.get_string("cdm.start") == "zero";
  l.restarts = cfg.get_int("cdm.restarts");
  l.seed = uint64_t(cfg.get_int("seed"));
  s.top_k = cfg.get_int("cdm.top_k");
  s.best_of = cfg.get_int("cdm.best_of");
  s.inner_control = cfg.get_bool("cdm.inner_control");
  s.control_steps = int_list(cfg.get_string("cdm.control_steps"), "cdm.control_steps");
  s.control_restarts = cfg.get_int("cdm.control_restarts");
  s.sensitivity = cfg.get_bool("cdm.sensitivity");
  s.sensitivity_n = int_list(cfg.get_string("cdm.sensitivity_n"), "cdm.sensitivity_n");
  s.sensitivity_mc = int_list(cfg.get_string("cdm.sensitivity_mc"), "cdm.sensitivity_mc");
  s.sensitivity_restarts = cfg.get_int("cdm.sensitivity_restarts");
  s.targets = parse_names(cfg.get_string("cdm.targets"));
  s.judge_confidence = cfg.get_double("cdm.judge_confidence");
  s.threads = cfg.get_int("threads");
  s.device = cfg.get_string("device");
  return s;
}

namespace {

matching::MatchingLoss divergence_loss(const matching::DivergenceSettings& d) {
  return [d](const Var& y, const Var& t, tensor::Generator& g) {
    return matching::divergence(y, t, d, &g);
  };
}

// Point-target inverse design: only G's mean is matched, by the distance ‖ȳ − ḡ‖ (DPS's step
// normalisation ζ/‖·‖ applied to the squared loss; the squared loss itself overshoots and
// diverges at ζ = 1 where the conditional mean jumps between components).
matching::MatchingLoss mean_loss() {
  return [](const Var& y, const Var& t, tensor::Generator&) {
    return ag::sqrt(ag::sum(ag::square(ag::mean(y, {0}) - ag::mean(t, {0}))) + 1e-12);
  };
}

// The point target is judged by the distributional loss like the others.
void rescore(const CdmBench& b, const matching::ConditionalSampler& inner, matching::CdmRun& r,
             int64_t n, uint64_t seed) {
  tensor::Generator g(seed + 7919);
  for (int64_t i = 0; i < r.x.size(0); ++i)
    r.final_loss[size_t(i)] = matching::final_matching_loss(r.x.slice(0, i, i + 1), inner,
                                                            cdm_target(b.task), b.loss, n, g);
}

CdmMethodResult run_guided(const CdmBench& b, const std::string& name) {
  matching::CdmSettings l = b.s.loop;
  if (name != "mlgd") return run_cdm_guided(b, name, b.inner.sampler(b.s.inner_steps), l);
  l.restarts = b.s.baseline_restarts;
  return run_cdm_guided(b, name, b.baseline->sampler(b.s.baseline_steps, b.s.baseline_checkpoint), l);
}

CdmMethodResult run_prior(const CdmBench& b, const std::string& name, int64_t per) {
  return best_prior_draws(b.prior, b.inner.sampler(b.s.inner_steps), cdm_target(b.task), b.loss,
                          b.s.loop, per, name);
}

}  // namespace

matching::TargetSampler cdm_target(const CdmTask& task) {
  return [mix = task.target](int64_t n, tensor::Generator& g) { return mix.sample(n, g); };
}

matching::CdmRun guided_run(const CdmPrior& prior, const matching::InnerSampler& inner,
                            const matching::TargetSampler& target,
                            const matching::MatchingLoss& loss, const matching::CdmSettings& loop,
                            const std::string& name) {
  std::fprintf(stderr, "%s: %lld restarts of %lld guided steps\n", name.c_str(),
               (long long)loop.restarts, (long long)loop.steps);
  Progress prog(name, loop.steps, 0, std::max<int64_t>(1, loop.steps / 10));
  const matching::CdmCallback show = [&](int64_t k, int64_t, const Tensor&, const std::vector<double>& L) {
    prog.update(k + 1, L.empty() ? NAN : *std::min_element(L.begin(), L.end()));
  };
  matching::CdmRun r =
      matching::mlgd(prior.vp, *prior.model.schedule, prior.dim, inner, target, loss, loop, show);
  prog.finish();
  return r;
}

CdmMethodResult best_prior_draws(const CdmPrior& prior, const matching::InnerSampler& inner,
                                 const matching::TargetSampler& target,
                                 const matching::MatchingLoss& loss,
                                 const matching::CdmSettings& loop, int64_t per,
                                 const std::string& name) {
  matching::CdmSettings l = loop;
  l.guidance = 0, l.start_at_zero = false, l.restarts = loop.restarts * per;
  const matching::CdmRun r =
      matching::mlgd(prior.vp, *prior.model.schedule, prior.dim, inner, target, loss, l);
  CdmMethodResult out{name, Tensor(), {}, r.seconds, loop.restarts};
  std::vector<Tensor> rows;
  for (int64_t i = 0; i < loop.restarts; ++i) {
    int64_t best = i * per;
    for (int64_t j = i * per; j < (i + 1) * per; ++j)
      if (r.final_loss[size_t(j)] < r.final_loss[size_t(best)]) best = j;
    rows.push_back(r.x.slice(0, best, best + 1));
    out.final_loss.push_back(r.final_loss[size_t(best)]);
  }
  out.x = tensor::cat(rows, 0);
  return out;
}

CdmMethodResult run_cdm_guided(const CdmBench& b, const std::string& name,
                               const matching::ConditionalSampler& inner,
                               const matching::CdmSettings& loop) {
  matching::CdmRun r = guided_run(b.prior, inner, cdm_target(b.task),
                                  name == "point" ? mean_loss() : b.loss, loop, name);
  if (name == "point") rescore(b, inner, r, loop.final_n, loop.seed);
  return {name, r.x, r.final_loss, r.seconds, loop.restarts};
}

CdmMethodResult run_cdm_method(const CdmBench& b, const std::string& name) {
  if (name == "prior") return run_prior(b, name, 1);
  if (name == "best_of") return run_prior(b, name, b.s.best_of);
  return run_guided(b, name);
}

CdmBench open_cdm_bench(const CdmCommandSettings& s) {
  CdmBench b{s, make_cdm_task(s.task), {}, {}, nullptr, divergence_loss(s.divergence)};
  const bool slow =
      s.inner_control || std::find(s.methods.begin(), s.methods.end(), "mlgd") != s.methods.end();
  ensure_cdm_model(s.prior, s.threads, s.device);
  ensure_cdm_model(s.inner, s.threads, s.device);
  if (slow) ensure_cdm_model(s.baseline, s.threads, s.device);
  const tensor::Device dev = tensor::parse_device(s.device);
  b.prior = load_cdm_prior(s.prior.dir, dev);
  b.inner = load_cond_run(s.inner.dir, dev);
  DIFFLAB_CHECK(b.inner.s.objective == "ict", "cdm.inner: '", s.inner.dir,
                "' is a ", b.inner.s.objective, " model; the fast inner sampler is an ict run");
  if (slow) b.baseline = std::make_shared<CondModel>(load_cond_run(s.baseline.dir, dev));
  DIFFLAB_CHECK(b.prior.dim == b.task.dim_x, "cdm.prior: '", s.prior.dir, "' models ", b.prior.dim,
                "-D data; task ", s.task, " has ", b.task.dim_x, " X coordinates");
  return b;
}

int run_cdm(const CommandArgs& args) {
  const std::string dir = default_run_dir("cdm", args);
  const Config cfg = command_config(cdm_config(), args, dir, args.resume);
  apply_threads(cfg);
  const CdmCommandSettings s = cdm_settings(cfg);
  if (s.task == "mnist_rot") return run_cdm_rotation(s, cfg, dir, args.resume);
  const CdmBench b = open_cdm_bench(s);
  RunLock lock(dir);
  RunFolder run(dir);
  run.write_config(cfg.resolved());
  std::filesystem::create_directories(run.path("methods"));
  if (!args.resume) run.truncate_metrics_after(-1);
  std::vector<CdmMethodResult> results;
  for (const std::string& m : s.methods)
    results.push_back(cached_method(run, args.resume, m, [&] { return run_cdm_method(b, m); },
                                    b.task, s.top_k));
  Report rep = cdm_report(s, b.task, results,
                          inner_fit_at_x_star(b.task, b.inner.sampler(s.inner_steps), b.loss, s.loop.seed));
  run_cdm_studies(b, run, args.resume, rep);
  rep.config(cfg.resolved());
  rep.write(run.path("report.html"));
  std::fprintf(stderr, "report: %s\n", run.path("report.html").c_str());
  return 0;
}

}  // namespace difflab::experiments
