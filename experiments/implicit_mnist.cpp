#include "experiments/implicit_mnist.h"

#include <algorithm>
#include <chrono>
#include <cstdio>

#include "autograd/functions.h"
#include "autograd/inspect.h"
#include "experiments/base_run.h"
#include "experiments/cancel.h"
#include "experiments/data/mnist.h"
#include "experiments/ddpm_model.h"
#include "experiments/image_grid.h"
#include "experiments/io.h"
#include "experiments/report.h"
#include "experiments/run_folder.h"
#include "experiments/sample_metrics.h"
#include "experiments/train_ddpm.h"
#include "matching/implicit_denoising.h"
#include "nn/optim.h"
#include "nn/safetensors.h"
#include "tensor/ops.h"

namespace difflab::experiments {
namespace {

using ag::Var;
using tensor::Tensor;

struct Settings {
  std::string base, base_preset;
  std::vector<std::string> methods;
  int64_t steps = 20, batch = 8, budget = 0, eval_every = 0, eval_n = 250;
  double lr = 1e-4;
  uint64_t seed = 0;
  int64_t threads = 0;
};

Settings read_settings(const Config& cfg) {
  Settings s;
  s.base = cfg.get_string("implicit.base");
  s.base_preset = cfg.get_string("implicit.base_preset");
  s.methods = parse_names(cfg.get_string("implicit.mnist_methods"));
  s.steps = cfg.get_int("implicit.sampler_steps");
  s.batch = cfg.get_int("implicit.batch");
  s.budget = cfg.get_int("implicit.budget");
  s.eval_every = cfg.get_int("implicit.eval_every");
  if (s.eval_every == 0) s.eval_every = std::max<int64_t>(1, s.budget / 5);
  s.eval_n = cfg.get_int("implicit.eval_n");
  s.lr = cfg.get_double("implicit.lr");
  s.seed = uint64_t(cfg.get_int("seed"));
  s.threads = cfg.get_int("threads");
  return s;
}

struct Base {
  DdpmRunSettings rs;
  Dataset data;
  std::shared_ptr<DdpmModel> tuned, frozen;
};

Base load_base(const Settings& s) {
  Base b;
  b.rs = ddpm_run_settings(ensure_ddpm_run({s.base, s.base_preset, "implicit.base", s.threads}));
  DIFFLAB_CHECK(!b.rs.model.class_cond && b.rs.data.name == "mnist", "implicit.base: '", s.base,
                "' must be an unconditional MNIST DDPM");
  b.data = load_dataset(b.rs.data);
  b.tuned = std::make_shared<DdpmModel>(make_ddpm_model(b.rs.model, b.data));
  b.frozen = load_ddpm_weights(s.base, b.rs, b.data);
  return b;
}

matching::DenoisingProblem problem(const Base& b, const Settings& s, double beta) {
  matching::DenoisingProblem p;
  p.model = diffusion::vp_model(b.tuned->net, b.tuned->param);
  p.reference = diffusion::vp_model(b.frozen->net, b.frozen->param);
  p.schedule = b.tuned->schedule;
  p.times = p.schedule->time_grid(s.steps);
  p.params = b.tuned->module->parameters();
  // Minus the brightness of the image shown, x clamped to [−1, 1]: saturated pixels earn nothing
  // more (without the clamp the sampler learns to leave the pixel range).
  p.loss = [](const Var& z) { return -ag::mean(ag::clamp(z, -1.0, 1.0), {1, 2, 3}); };
  p.beta = beta;
  p.sample_shape = b.tuned->sample_shape;
  return p;
}

struct Point {
  int64_t evals = 0;
  double reward = 0, frechet = 0, precision = 0, recall = 0;
};

struct MethodRun {
  std::vector<Point> trace;
  int64_t updates = 0, evals = 0;
  size_t peak_bytes = 0;
  double seconds = 0;
  std::vector<std::pair<int64_t, std::string>> grids;  // (evaluations, PNG) at each judgement
};

std::string small_grid(const Tensor& x) {
  return png_grid(tensor::clamp(x.slice(0, 0, std::min<int64_t>(16, x.size(0))), -1.0, 1.0), 8);
}

Point evaluate(const matching::DenoisingProblem& p, const ImageJudge& judge, const Settings& s,
               int64_t evals, Tensor* samples_out) {
  matching::Trajectory t = matching::start_trajectory(p, s.eval_n, s.seed + 777, 0);
  for (int64_t k = 0; k < p.steps(); ++k) matching::advance(p, t);
  const Tensor x = t.states.back();
  Point pt{evals, -tensor::mean(p.loss(Var(x)).value(), {}).item(), 0, 0, 0};
  for (const auto& [k, v] : image_sample_metrics(judge, x)) {
    if (k == "frechet") pt.frechet = v;
    if (k == "precision") pt.precision = v;
    if (k == "recall") pt.recall = v;
  }
  if (samples_out) *samples_out = x;
  return pt;
}

// One update's gradient by `method`; adds the network evaluations it spent.
std::vector<Tensor> method_gradient(const std::string& kind, int64_t arg,
                                    const matching::DenoisingProblem& p, const Settings& s,
                                    matching::ImplicitQueue* queue, uint64_t& next_index,
                                    int64_t& evals) {
  const int64_t b = s.batch;
  if (kind == "idt" || kind == "nested") {
    matching::Trajectory t;
    if (queue) {
      t = queue->step();
      evals += queue->forwards_per_step() * b;
    } else {
      t = matching::start_trajectory(p, b, s.seed, next_index);
      next_index += uint64_t(b);
      for (int64_t k = 0; k < p.steps(); ++k) matching::advance(p, t);
      evals += p.steps() * b;
    }
    const matching::AdjointResult r = matching::recorded_adjoint(p, t);
    evals += (r.forwards + r.vjps) * b;
    return r.grad;
  }
  const matching::Trajectory t = matching::start_trajectory(p, b, s.seed, next_index);
  next_index += uint64_t(b);
  const ag::ChainStep step = diffusion::sampler_chain(p.model, *p.schedule, p.times,
                                                      diffusion::ChainSampler::ddpm, t.noise);
  const ag::ChainLoss loss = diffusion::mean_loss(p.loss);
  const ag::ChainGradient g =
      kind == "draft" && arg > 0
          ? ag::truncated_chain_gradient(step, p.params, t.states[0], p.steps(), arg, loss)
          : ag::chain_gradient(step, p.params, t.states[0], p.steps(), loss,
                               {kind == "per_step" ? ag::ChainMethod::per_step : ag::ChainMethod::full});
  evals += (g.counts.forwards + g.counts.vjps) * b;
  return g.grad_params;
}

void parse_method(const std::string& name, std::string& kind, int64_t& k, double& beta) {
  const auto c = name.find(':');
  kind = name.substr(0, c);
  const std::string arg = c == std::string::npos ? "" : name.substr(c + 1);
  k = 0, beta = 0;
  if (kind == "idt" || kind == "nested") {
    if (!arg.empty()) beta = parse_list(arg, "implicit.mnist_methods")[0];
  } else if (kind == "draft") {
    if (!arg.empty()) k = int64_t(parse_list(arg, "implicit.mnist_methods")[0]);
  } else {
    DIFFLAB_CHECK(kind == "per_step" && arg.empty(), "implicit.mnist_methods: '", name,
                  "' is not a method (idt:β, nested:β, draft, draft:k, per_step)");
  }
}

MethodRun run_method(const std::string& name, Base& b, const Settings& s, const ImageJudge& judge) {
  std::string kind;
  int64_t k = 0;
  double beta = 0;
  parse_method(name, kind, k, beta);
  nn::load_module(s.base + "/checkpoints/ema.safetensors", *b.tuned->module);
  b.tuned->module->eval();
  const matching::DenoisingProblem p = problem(b, s, beta);
  nn::AdamOptions ao;
  ao.lr = s.lr;
  nn::Adam opt(p.params, ao);
  MethodRun m;
  const auto t0 = std::chrono::steady_clock::now();
  std::unique_ptr<matching::ImplicitQueue> queue;
  if (kind == "idt") {
    queue = std::make_unique<matching::ImplicitQueue>(p, s.batch, s.seed);
    m.evals += queue->warmup_forwards() * s.batch;
  }
  uint64_t next_index = 1u << 30;  // fresh batches of the other methods
  Tensor x;
  m.trace.push_back(evaluate(p, judge, s, m.evals, &x));
  m.grids.emplace_back(m.evals, small_grid(x));
  int64_t next_eval = s.eval_every;
  while (m.evals < s.budget && !cancel_requested()) {
    ag::MemoryScope scope;
    const std::vector<Tensor> g = method_gradient(kind, k, p, s, queue.get(), next_index, m.evals);
    m.peak_bytes = std::max(m.peak_bytes, scope.peak_bytes());
    std::vector<Var> params = p.params;
    for (size_t i = 0; i < g.size(); ++i) params[i].set_grad(Var(g[i]));
    opt.step();
    ++m.updates;
    if (m.evals >= next_eval || m.evals >= s.budget) {
      m.trace.push_back(evaluate(p, judge, s, m.evals, &x));
      m.grids.emplace_back(m.evals, small_grid(x));
      const Point& pt = m.trace.back();
      std::fprintf(stderr, "implicit mnist %-12s %lld evaluations, %lld updates: reward %.4f, FD %.2f, "
                   "precision %.3f, recall %.3f\n", name.c_str(), (long long)m.evals,
                   (long long)m.updates, pt.reward, pt.frechet, pt.precision, pt.recall);
      while (next_eval <= m.evals) next_eval += s.eval_every;
    }
  }
  DIFFLAB_CHECK(!cancel_requested(), "implicit: interrupted during ", name, "; --resume starts it again");
  m.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return m;
}

nlohmann::json to_json(const MethodRun& m) {
  nlohmann::json pts = nlohmann::json::array();
  for (const auto& p : m.trace)
    pts.push_back({{"evals", p.evals}, {"reward", p.reward}, {"frechet", p.frechet},
                   {"precision", p.precision}, {"recall", p.recall}});
  return {{"trace", pts}, {"updates", m.updates}, {"evals", m.evals}, {"peak_bytes", m.peak_bytes},
          {"seconds", m.seconds}};
}

MethodRun from_json(const nlohmann::json& j) {
  MethodRun m;
  for (const auto& p : j.at("trace"))
    m.trace.push_back({p.at("evals"), p.at("reward"), p.at("frechet"), p.at("precision"), p.at("recall")});
  m.updates = j.at("updates"), m.evals = j.at("evals"), m.peak_bytes = j.at("peak_bytes");
  m.seconds = j.at("seconds");
  return m;
}

void report(Report& rep, const Settings& s, const std::vector<std::pair<std::string, MethodRun>>& runs) {
  rep.heading("Experiment 2: brightness fine-tuning of " + s.base);
  rep.paragraph("Reward: the mean pixel of " + std::to_string(s.steps) + "-step ancestral DDPM samples "
                "clamped to [−1, 1]; every method spends " + std::to_string(s.budget) + " network "
                "evaluations (per-sample forwards and VJPs), batch " + std::to_string(s.batch) +
                ", Adam lr " + format_number(s.lr) + " on every U-Net parameter. Judged on " +
                std::to_string(s.eval_n) + " samples with fixed noise: reward, LeNet Fréchet "
                "distance, precision and recall against the held-out digits (diversity kept or "
                "lost). ID-T advances its T slots in T calls of batch b here (the same FLOPs as one "
                "call of T·b; on 2 CPU cores one call would not be faster).");
  std::vector<std::vector<std::string>> t;
  std::vector<Series> reward, fd;
  for (const auto& [name, m] : runs) {
    const Point& a = m.trace.front();
    const Point& z = m.trace.back();
    t.push_back({name, std::to_string(m.updates), std::to_string(m.evals), format_number(a.reward),
                 format_number(z.reward), format_number(z.frechet), format_number(z.precision),
                 format_number(z.recall), format_number(double(m.peak_bytes) / 1048576.0),
                 format_number(m.seconds)});
    Series r{name, {}, {}}, f{name, {}, {}};
    for (const auto& p : m.trace) {
      r.x.push_back(double(p.evals)), r.y.push_back(p.reward);
      f.x.push_back(double(p.evals)), f.y.push_back(p.frechet);
    }
    reward.push_back(r), fd.push_back(f);
  }
  rep.table({"method", "updates", "evaluations", "reward before", "reward after", "FD after",
             "precision after", "recall after", "peak MiB per update", "seconds"},
            t);
  rep.plot(reward, {"reward against network evaluations", "evaluations", "mean brightness"});
  rep.plot(fd, {"LeNet Fréchet distance against network evaluations", "evaluations", "FD"});
  std::vector<Series> trade;
  for (const auto& [name, m] : runs) {
    Series r{name, {}, {}};
    for (const auto& p : m.trace) r.x.push_back(p.frechet), r.y.push_back(p.reward);
    trade.push_back(r);
  }
  rep.plot(trade, {"reward against FD along training (diversity kept or lost)", "LeNet FD",
                   "mean brightness"});
  for (const auto& [name, m] : runs)
    for (const auto& [evals, png] : m.grids)
      rep.image(name + " after " + std::to_string(evals) + " evaluations", png);
}

}  // namespace

void declare_implicit_mnist_keys(Config& c) {
  c.declare_string("implicit.base", "runs/ddpm-ddpm_mnist_small", {}, "the pretrained MNIST DDPM run")
      .declare_string("implicit.base_preset", "ddpm_mnist_small", {},
                      "trains implicit.base from this preset when it is missing (empty: never)")
      .declare_string("implicit.mnist_methods", "idt:0,idt:0.1,idt:1,nested:0,draft,draft:1,draft:5,per_step",
                      {}, "idt:β, nested:β, draft, draft:k, per_step")
      .declare_int("implicit.sampler_steps", 20, 1, 1000, "T, the DDPM sampler's steps")
      .declare_int("implicit.batch", 8, 1, 4096, "samples per gradient (per queue slot for ID-T)")
      .declare_int("implicit.budget", 480000, 1, int64_t(1) << 40,
                   "network evaluations per method (per-sample forwards + VJPs)")
      .declare_int("implicit.eval_every", 0, 0, int64_t(1) << 40, "evaluations between judgements (0: budget/5)")
      .declare_int("implicit.eval_n", 250, 2, 100000, "samples judged at each evaluation point")
      .declare_double("implicit.lr", 2e-5, 0, 1, "Adam learning rate");
}

void run_implicit_mnist(const Config& cfg, RunFolder& run, bool resume, Report& rep) {
  const Settings s = read_settings(cfg);
  for (const auto& name : s.methods) {
    std::string kind;
    int64_t k;
    double beta;
    parse_method(name, kind, k, beta);
  }
  Base b = load_base(s);
  const ImageJudge judge = make_image_judge(b.data, "mnist", s.eval_n);
  make_dirs(run.path("methods"));
  std::vector<std::pair<std::string, MethodRun>> runs;
  for (const auto& name : s.methods) {
    std::string file = name;
    std::replace(file.begin(), file.end(), ':', '_');
    const std::string saved = run.path("methods/" + file + ".json");
    auto grid = [&](int64_t evals) { return run.sample_path(file + "_" + std::to_string(evals)); };
    if (resume && file_exists(saved)) {
      MethodRun m = from_json(nlohmann::json::parse(read_file(saved)));
      for (const auto& p : m.trace)
        if (file_exists(grid(p.evals))) m.grids.emplace_back(p.evals, read_file(grid(p.evals)));
      runs.emplace_back(name, m);
      continue;
    }
    MethodRun m = run_method(name, b, s, judge);
    for (const auto& [evals, png] : m.grids) write_file_atomic(grid(evals), png);
    write_file_atomic(saved, to_json(m).dump(1));
    runs.emplace_back(name, m);
  }
  report(rep, s, runs);
}

}  // namespace difflab::experiments
