#include "experiments/implicit.h"

#include <cstdio>
#include <map>

#include "experiments/data/hexagon.h"
#include "experiments/implicit_mnist.h"
#include "experiments/report.h"
#include "experiments/run_folder.h"
#include "experiments/sample_metrics.h"
#include "tensor/ops.h"
#include "tensor/random.h"

namespace difflab::experiments {
namespace {

constexpr int64_t kExactDraws = 100000;

// The spec's reference numbers (one seed of a C re-implementation, spec §3.6).
const std::map<std::string, std::string> kReference{
    {"id", "0.30–0.31, (0.011, 0.986, …)"},
    {"nested:10", "0.16, (0.74, 0.08, 0.06, …)"},
    {"nested:100", "0.084, (0.32, 0.07, 0.25, …)"},
    {"nested:10x10", "0.31, (0.008, 0.989, …)"}};

int64_t positive(const std::string& text, const std::string& name) {
  const double v = parse_list(text, "implicit.methods")[0];
  DIFFLAB_CHECK(v >= 1 && v == std::floor(v), "implicit.methods: '", name,
                "' needs a positive integer");
  return int64_t(v);
}

std::string weights_text(const std::vector<double>& w) {
  std::string s = "(";
  for (size_t i = 0; i < w.size(); ++i) s += (i ? ", " : "") + format_number(std::round(w[i] * 1000) / 1000);
  return s + ")";
}

void reward_plot(Report& rep, const std::vector<ImplicitRow>& rows) {
  std::vector<Series> all;
  for (const auto& r : rows) {
    Series s{r.method, {}, {}};
    for (size_t i = 0; i < r.result.trace.step.size(); ++i) {
      s.x.push_back(double(r.result.trace.step[i]));
      s.y.push_back(r.result.trace.reward[i]);
    }
    all.push_back(s);
  }
  rep.plot(all, {"particles' mean reward", "Langevin steps", "mean hard reward"});
}

void weight_plot(Report& rep, const ImplicitRow& r) {
  std::vector<Series> all;
  for (int j = 0; j < 6; ++j) all.push_back({"softmax(θ)_" + std::to_string(j + 1), {}, {}});
  for (size_t i = 0; i < r.result.trace.step.size(); ++i) {
    const std::vector<double> w = hexagon_weights(r.result.trace.theta[i]);
    for (size_t j = 0; j < 6; ++j) {
      all[j].x.push_back(double(r.result.trace.step[i]));
      all[j].y.push_back(w[j]);
    }
  }
  rep.plot(all, {r.method + ": mixture weights (c₁ = (4, 0), c₂ = (2, 3.46))", "Langevin steps",
                 "weight"});
}

void hexagon_report(Report& rep, const std::vector<ImplicitRow>& rows, double initial, int64_t n) {
  rep.heading("Experiment 1: the Langevin hexagon (Implicit Diffusion §5.1)");
  rep.paragraph("θ ∈ R⁶ are the logits of a 6-component mixture on a hexagon of radius 4; the "
                "reward (an indicator times a bump at (4, 3.8)) is highest on c₂ = (2, 3.46). " +
                std::to_string(n) + " particles, γ = 0.2, η = 0.1, θ_0 = (1.5, 0, 1.5, 0, 1.5, 0). "
                "Methods are compared at equal Langevin steps. 'exact E[R]' is the reward of " +
                std::to_string(kExactDraws) + " exact draws of π_θ at the end; the optimum (all "
                "mass on c₂) is about 0.313; the initial mixture's exact E[R] is " +
                format_number(initial) + " (spec: 0.073).");
  std::vector<std::vector<std::string>> t;
  for (const auto& r : rows) {
    const auto ref = kReference.find(r.method);
    t.push_back({r.method, std::to_string(r.result.trace.step.back()),
                 std::to_string(r.result.updates), format_number(r.result.trace.reward.back()),
                 format_number(r.exact_reward), weights_text(r.weights),
                 format_number(r.result.seconds), ref == kReference.end() ? "—" : ref->second});
  }
  rep.table({"method", "Langevin steps", "θ updates", "particles' mean reward", "exact E[R]",
             "softmax(θ)", "seconds", "spec's reference (reward, weights)"},
            t);
  reward_plot(rep, rows);
  for (const auto& r : rows)
    if (r.method == "id") {
      weight_plot(rep, r);
      rep.image("ID-∞'s particles at the end", scatter_png(r.result.particles.to(tensor::DType::f32), 7.0));
    }
}

}  // namespace

Config implicit_config() {
  Config c;
  c.declare_string("implicit.experiment", "hexagon", {"hexagon", "mnist"},
                   "hexagon: reward training of a Langevin mixture (experiment 1); mnist: "
                   "brightness fine-tuning of a pretrained DDPM (experiment 2)")
      .declare_string("implicit.methods", "id,nested:10,nested:100,nested:10x10,unrolled:10,unrolled:100,id_kl:0.1,id_kl:1",
                      {}, "id, id_kl:λ, nested:M, nested:MxF, unrolled:M (see --help)")
      .declare_int("implicit.steps", 5000, 1, 100000000, "Langevin-step budget per method")
      .declare_int("implicit.particles", 1000, 2, 10000000, "particles")
      .declare_double("implicit.gamma", 0.2, 1e-9, 10, "Langevin step γ")
      .declare_double("implicit.eta", 0.1, 0, 1e6, "outer step η")
      .declare_bool("implicit.decay", false, "η/√(k+1) instead of a constant η")
      .declare_int("implicit.log_every", 50, 1, 1000000, "Langevin steps between trace points")
      .declare_string("device", "cpu", {"cpu"}, "runs on the CPU");
  declare_implicit_mnist_keys(c);
  return c;
}

ImplicitMethod parse_implicit_method(const std::string& name, const matching::LangevinSettings& base) {
  ImplicitMethod m{name, base};
  const auto colon = name.find(':');
  const std::string kind = name.substr(0, colon), arg = colon == std::string::npos ? "" : name.substr(colon + 1);
  if (kind == "id" && arg.empty()) return m;
  DIFFLAB_CHECK(!arg.empty(), "implicit.methods: '", name,
                "' is not a method (id, id_kl:λ, nested:M, nested:MxF, unrolled:M)");
  if (kind == "id_kl") {
    m.settings.lambda_kl = parse_list(arg, "implicit.methods")[0];
  } else if (kind == "nested" || kind == "unrolled") {
    const auto x = arg.find('x');
    m.settings.per_update = positive(arg.substr(0, x), name);
    if (x != std::string::npos) m.settings.steps *= positive(arg.substr(x + 1), name);
    m.settings.unrolled = kind == "unrolled";
    DIFFLAB_CHECK(m.settings.per_update <= m.settings.steps, "implicit.methods: '", name,
                  "' takes more steps per update than the budget (", m.settings.steps, ")");
  } else {
    DIFFLAB_FAIL("implicit.methods: '", name, "' is not a method (id, id_kl:λ, nested:M, "
                 "nested:MxF, unrolled:M)");
  }
  return m;
}

std::vector<ImplicitRow> run_hexagon(const std::vector<ImplicitMethod>& methods, int64_t n,
                                     uint64_t seed) {
  const HexagonTask task = hexagon_task(n);
  std::vector<ImplicitRow> rows;
  for (const auto& m : methods) {
    tensor::Generator g(seed * 31 + 1);
    const Tensor x0 = tensor::randn({n, 2}, tensor::DType::f64, &g);
    ImplicitRow r{m.name, matching::implicit_langevin(task.potential, task.hard, task.smooth,
                                                      task.theta0, x0, m.settings, task.reference),
                  0, {}};
    tensor::Generator eg(seed * 31 + 2);
    r.exact_reward = tensor::mean(task.hard(hexagon_sample(task, r.result.theta, kExactDraws, eg)), {}).item();
    r.weights = hexagon_weights(r.result.theta);
    std::fprintf(stderr, "implicit hexagon %-14s reward %.4f (exact %.4f) in %lld updates, %.2f s\n",
                 m.name.c_str(), r.result.trace.reward.back(), r.exact_reward,
                 (long long)r.result.updates, r.result.seconds);
    rows.push_back(std::move(r));
  }
  return rows;
}

namespace {

void run_hexagon_experiment(const Config& cfg, RunFolder& run, Report& rep) {
  matching::LangevinSettings base;
  base.steps = cfg.get_int("implicit.steps");
  base.gamma = cfg.get_double("implicit.gamma");
  base.eta = cfg.get_double("implicit.eta");
  base.decay = cfg.get_bool("implicit.decay");
  base.log_every = cfg.get_int("implicit.log_every");
  base.seed = uint64_t(cfg.get_int("seed"));
  std::vector<ImplicitMethod> methods;
  for (const auto& name : parse_names(cfg.get_string("implicit.methods")))
    methods.push_back(parse_implicit_method(name, base));
  const int64_t n = cfg.get_int("implicit.particles");
  const std::vector<ImplicitRow> rows = run_hexagon(methods, n, base.seed);
  const HexagonTask task = hexagon_task(n);
  tensor::Generator eg(base.seed * 31 + 2);
  const double initial =
      tensor::mean(task.hard(hexagon_sample(task, task.theta0, kExactDraws, eg)), {}).item();
  run.truncate_metrics_after(-1);
  for (const auto& r : rows) {
    run.log_metric(r.result.trace.step.back(), "reward[" + r.method + "]", r.result.trace.reward.back());
    run.log_metric(r.result.trace.step.back(), "exact_reward[" + r.method + "]", r.exact_reward);
  }
  hexagon_report(rep, rows, initial, n);
}

}  // namespace

int run_implicit(const CommandArgs& args) {
  const std::string dir = default_run_dir("implicit", args);
  const Config cfg = command_config(implicit_config(), args, dir, args.resume);
  apply_threads(cfg);
  RunLock lock(dir);
  RunFolder run(dir);
  run.write_config(cfg.resolved());
  Report rep("difflab implicit: Implicit Diffusion (Marion et al.)");
  if (cfg.get_string("implicit.experiment") == "hexagon") run_hexagon_experiment(cfg, run, rep);
  else run_implicit_mnist(cfg, run, args.resume, rep);
  rep.config(cfg.resolved());
  rep.write(run.path("report.html"));
  std::fprintf(stderr, "report: %s\n", run.path("report.html").c_str());
  return 0;
}

}  // namespace difflab::experiments
