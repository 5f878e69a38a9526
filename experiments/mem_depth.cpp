#include "experiments/mem_depth.h"

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <functional>
#include <limits>
#include <nlohmann/json.hpp>

#include "autograd/functions.h"
#include "autograd/inspect.h"
#include "diffusion/sampler_gradient.h"
#include "experiments/io.h"
#include "experiments/mem_depth_report.h"
#include "experiments/run_folder.h"
#include "nn/mlp_score.h"
#include "nn/unet.h"
#include "tensor/ops.h"

namespace difflab::experiments {
namespace {

using ag::Var;
using tensor::Tensor;

const char* kAllMethods =
    "full,per_step,segments,two_level,revolve:2,revolve:4,revolve:log,recompute,"
    "per_step_levels,adjoint_recorded,adjoint_reintegrated,truncated:1,truncated:4,score_function";

// The network, its schedule and the loss one study works with.
struct Bench {
  std::shared_ptr<nn::Module> module;
  std::shared_ptr<nn::UNet> unet;  // the U-Net model, for level checkpointing
  diffusion::Denoiser net;
  std::shared_ptr<const diffusion::Schedule> schedule = diffusion::make_schedule("linear");
  tensor::Shape shape;  // [B, ...]
  diffusion::SampleLoss loss;
};

Bench make_bench(const MemDepthSettings& s) {
  tensor::Generator gen(s.seed * 7 + 11);
  Bench b;
  if (s.model == "mlp") {
    auto mlp = std::make_shared<nn::MLPScoreNet>(nn::MLPScoreNetConfig{}, &gen);
    b.module = mlp;
    b.net = [mlp](const Var& z, const Tensor& t, const Tensor& l) { return mlp->forward(z, t, l); };
    b.shape = {s.batch, 2};
    b.loss = [](const Var& z) { return ag::sum(ag::square(z - 1.0), {1}); };
  } else {
    nn::UNetConfig uc;  // MNIST-small: 16/32/32 channels at 28/14/7, no attention
    uc.base_channels = 16;
    uc.channel_mults = {1, 2, 2};
    auto unet = std::make_shared<nn::UNet>(uc, &gen);
    b.module = b.unet = unet;
    b.net = [unet](const Var& z, const Tensor& t, const Tensor& l) { return unet->forward(z, t, l); };
    b.shape = {s.batch, 1, 28, 28};
    b.loss = [](const Var& z) { return -ag::mean(z, {1, 2, 3}); };  // minus the brightness
  }
  return b;
}

// The schedule's own grid (DDPM step skipping) where it has one, uniform in t beyond T steps.
std::vector<double> times_for(const diffusion::Schedule& s, int64_t k) {
  if (k <= 1000) return s.time_grid(k);
  return s.diffusion::Schedule::time_grid(k);
}

struct Method {
  enum class Kind { chain, truncated, adjoint, score } kind = Kind::chain;
  ag::ChainPlan plan;
  bool levels = false;  // checkpointing inside the U-Net per level as well
  int64_t last = 0;
  diffusion::AdjointStates states = diffusion::AdjointStates::recorded;
};

int64_t ceil_log2(int64_t k) {
  int64_t c = 0;
  while ((int64_t(1) << c) < k) ++c;
  return std::max<int64_t>(c, 1);
}

Method resolve_method(const std::string& name, int64_t k) {
  Method m;
  if (name == "adjoint_recorded" || name == "adjoint_reintegrated") {
    m.kind = Method::Kind::adjoint;
    if (name == "adjoint_reintegrated") m.states = diffusion::AdjointStates::reintegrated;
  } else if (name == "score_function") {
    m.kind = Method::Kind::score;
  } else if (name.rfind("truncated:", 0) == 0) {
    m.kind = Method::Kind::truncated;
    m.last = int64_t(parse_list(name.substr(10), "mem.methods")[0]);
  } else if (name == "per_step_levels") {
    m.plan = {ag::ChainMethod::per_step};
    m.levels = true;
  } else if (name == "revolve:log") {
    m.plan = {ag::ChainMethod::revolve, ceil_log2(k)};
  } else {
    m.plan = ag::parse_chain_plan(name);
  }
  return m;
}

// Why `name` is not measured for this sampler and K, or "".
std::string not_applicable(const std::string& name, const std::string& sampler, int64_t k,
                           const MemDepthSettings& s) {
  const Method m = resolve_method(name, k);
  if (m.levels && s.model != "unet") return "level checkpointing needs the U-Net";
  if (m.kind == Method::Kind::adjoint && sampler != "ddim") return "the ODE adjoint needs DDIM";
  if (m.kind == Method::Kind::score && sampler != "ddpm") return "needs a stochastic sampler";
  if (m.kind == Method::Kind::truncated && m.last >= k) return "truncation needs k < K";
  if (m.plan.method == ag::ChainMethod::recompute && k > s.recompute_max)
    return "K > mem.recompute_max";
  return "";
}

ag::ChainGradient compute(const Bench& b, const Method& m, const std::string& sampler, int64_t k,
                          tensor::DType dtype, uint64_t seed) {
  const std::vector<Var> params = b.module->parameters();
  const diffusion::VpModel model = diffusion::vp_model(b.net, diffusion::Parameterization::eps);
  const std::vector<double> times = times_for(*b.schedule, k);
  const diffusion::NoiseSource noise(seed);
  const Tensor z0 = noise.initial(b.shape, dtype);
  const auto kind = sampler == "ddim" ? diffusion::ChainSampler::ddim : diffusion::ChainSampler::ddpm;
  const ag::ChainStep chain = diffusion::sampler_chain(model, *b.schedule, times, kind, noise);
  const ag::ChainLoss loss = diffusion::mean_loss(b.loss);
  struct Levels {  // level checkpointing on for this computation only
    nn::UNet* net;
    explicit Levels(nn::UNet* n) : net(n) { if (net) net->set_level_checkpointing(true); }
    ~Levels() { if (net) net->set_level_checkpointing(false); }
  } levels(m.levels ? b.unet.get() : nullptr);
  switch (m.kind) {
    case Method::Kind::chain: return ag::chain_gradient(chain, params, z0, k, loss, m.plan);
    case Method::Kind::truncated:
      return ag::truncated_chain_gradient(chain, params, z0, k, m.last, loss);
    case Method::Kind::adjoint:
      return diffusion::adjoint_gradient(model, params, *b.schedule, times, z0, loss, m.states);
    case Method::Kind::score:
      return diffusion::score_function_gradient(model, params, *b.schedule, times, noise, z0,
                                                b.loss);
  }
  return {};
}

int64_t expected_forwards(const Method& m, int64_t k) {
  if (m.kind == Method::Kind::chain) return ag::chain_forwards(m.plan, k);
  if (m.kind == Method::Kind::truncated) return k;
  return 2 * k;  // adjoint and score function: the forward pass, then one evaluation per step
}

// Σ(a − b)², Σb², Σab, Σa² over parameter lists, in f64.
struct Dot {
  double diff2 = 0, ref2 = 0, cross = 0, own2 = 0;
  void add(const Tensor& a64, const Tensor& b64) {
    auto sum = [](const Tensor& x) { return tensor::sum(x, {}).item(); };
    const Tensor d = tensor::binary(tensor::BinaryOp::sub, a64, b64);
    diff2 += sum(tensor::binary(tensor::BinaryOp::mul, d, d));
    ref2 += sum(tensor::binary(tensor::BinaryOp::mul, b64, b64));
    cross += sum(tensor::binary(tensor::BinaryOp::mul, a64, b64));
    own2 += sum(tensor::binary(tensor::BinaryOp::mul, a64, a64));
  }
  double rel() const { return std::sqrt(diff2 / ref2); }
  double cosine() const { return cross / std::sqrt(ref2 * own2); }
};

Dot compare_params(const ag::ChainGradient& g, const ag::ChainGradient& ref) {
  Dot d;
  for (size_t i = 0; i < g.grad_params.size(); ++i)
    d.add(g.grad_params[i].to(tensor::DType::f64), ref.grad_params[i].to(tensor::DType::f64));
  return d;
}

double z0_error(const ag::ChainGradient& g, const ag::ChainGradient& ref) {
  Dot d;
  d.add(g.grad_initial.to(tensor::DType::f64), ref.grad_initial.to(tensor::DType::f64));
  return d.rel();
}

size_t rss_peak_bytes() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return size_t(u.ru_maxrss) * 1024;
}

// VmRSS from /proc/self/status (0 where unavailable).
size_t rss_now_bytes() {
  const std::string status = file_exists("/proc/self/status") ? read_file("/proc/self/status") : "";
  const auto at = status.find("VmRSS:");
  return at == std::string::npos ? 0 : size_t(std::stoull(status.substr(at + 6))) * 1024;
}

size_t param_bytes(const Bench& b) {
  size_t n = 0;
  for (const Var& p : b.module->parameters()) n += p.value().nbytes();
  return n;
}

// Runs f up to s.repeats times (stopping once s.time_budget seconds are spent): the median time,
// the highest allocator peak and the last result.
ag::ChainGradient timed(const std::function<ag::ChainGradient()>& f, const MemDepthSettings& s,
                        MemDepthRow& row) {
  std::vector<double> secs;
  ag::ChainGradient g;
  double spent = 0;
  while (int64_t(secs.size()) < s.repeats && (secs.empty() || spent < s.time_budget)) {
    ag::MemoryScope scope;
    const auto t0 = std::chrono::steady_clock::now();
    g = f();
    secs.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    spent += secs.back();
    row.peak_bytes = std::max(row.peak_bytes, scope.peak_bytes());
  }
  std::sort(secs.begin(), secs.end());
  const size_t n = secs.size();
  row.seconds = n % 2 ? secs[n / 2] : 0.5 * (secs[n / 2 - 1] + secs[n / 2]);
  row.timed_runs = int64_t(n);
  return g;
}

MemDepthRow measure_f32(const Bench& b, const MemDepthSettings& s, const std::string& sampler,
                        int64_t k, const std::string& name, ag::ChainGradient& grad) {
  const Method m = resolve_method(name, k);
  MemDepthRow r;
  r.model = s.model, r.sampler = sampler, r.method = name, r.steps = k, r.batch = s.batch;
  r.rss_before_bytes = rss_now_bytes();
  grad = timed([&] { return compute(b, m, sampler, k, tensor::DType::f32, s.seed); }, s, r);
  r.forwards = grad.counts.forwards;
  r.vjps = grad.counts.vjps;
  r.expected_forwards = expected_forwards(m, k);
  DIFFLAB_CHECK(r.forwards == r.expected_forwards, "mem-depth: ", name, " at K = ", k, " ran ",
                r.forwards, " forwards where its formula gives ", r.expected_forwards);
  r.peak_states = grad.counts.peak_states;
  r.activation_bytes = grad.counts.peak_saved_bytes;
  r.state_bytes = grad.counts.peak_state_bytes;
  r.param_bytes = param_bytes(b);
  r.rss_peak_bytes = rss_peak_bytes();
  return r;
}

// The f64 pass: every row's gradient against full backprop's.
void add_f64_errors(const Bench& b, const MemDepthSettings& s, std::vector<MemDepthRow>& rows) {
  if (rows.empty()) return;
  b.module->to(tensor::DType::f64);
  const std::string& sampler = rows[0].sampler;
  const int64_t k = rows[0].steps;
  const ag::ChainGradient ref = compute(b, resolve_method("full", k), sampler, k,
                                        tensor::DType::f64, s.seed);
  for (MemDepthRow& r : rows) {
    const ag::ChainGradient g = compute(b, resolve_method(r.method, k), sampler, k,
                                        tensor::DType::f64, s.seed);
    const Dot d = compare_params(g, ref);
    r.rel_err = d.rel();
    r.cosine = d.cosine();
    r.z0_rel_err = z0_error(g, ref);
  }
  b.module->to(tensor::DType::f32);
}

void progress(const MemDepthRow& r) {
  std::fprintf(stderr,
               "mem-depth %s %s K=%lld %-20s peak %8.3f MiB (activations %8.3f, states %7.3f) "
               "%5lld forwards  %.4g s  rel.err f64 %.3g\n",
               r.model.c_str(), r.sampler.c_str(), (long long)r.steps, r.method.c_str(),
               double(r.peak_bytes) / 1048576.0, double(r.activation_bytes) / 1048576.0,
               double(r.state_bytes) / 1048576.0, (long long)r.forwards, r.seconds, r.rel_err);
}

nlohmann::json to_json(const MemDepthRow& r) {
  return {{"model", r.model}, {"sampler", r.sampler}, {"method", r.method}, {"steps", r.steps},
          {"batch", r.batch}, {"forwards", r.forwards}, {"vjps", r.vjps},
          {"expected_forwards", r.expected_forwards}, {"peak_states", r.peak_states},
          {"peak_bytes", r.peak_bytes}, {"activation_bytes", r.activation_bytes},
          {"state_bytes", r.state_bytes}, {"param_bytes", r.param_bytes},
          {"rss_peak_bytes", r.rss_peak_bytes}, {"rss_before_bytes", r.rss_before_bytes},
          {"seconds", r.seconds},
          {"timed_runs", r.timed_runs}, {"rel_err", r.rel_err}, {"cosine", r.cosine},
          {"z0_rel_err", r.z0_rel_err}, {"rel_err_f32", r.rel_err_f32}};
}

double num(const nlohmann::json& j, const char* key) {
  return j.at(key).is_null() ? std::numeric_limits<double>::quiet_NaN() : j.at(key).get<double>();
}

MemDepthRow from_json(const nlohmann::json& j) {
  MemDepthRow r;
  r.model = j.at("model"), r.sampler = j.at("sampler"), r.method = j.at("method");
  r.steps = j.at("steps"), r.batch = j.at("batch"), r.forwards = j.at("forwards");
  r.vjps = j.at("vjps"), r.expected_forwards = j.at("expected_forwards");
  r.peak_states = j.at("peak_states"), r.peak_bytes = j.at("peak_bytes");
  r.activation_bytes = j.at("activation_bytes"), r.state_bytes = j.at("state_bytes");
  r.param_bytes = j.at("param_bytes"), r.rss_peak_bytes = j.at("rss_peak_bytes");
  r.rss_before_bytes = j.value("rss_before_bytes", size_t(0));
  r.seconds = j.at("seconds"), r.timed_runs = j.at("timed_runs");
  r.rel_err = num(j, "rel_err"), r.cosine = num(j, "cosine");
  r.z0_rel_err = num(j, "z0_rel_err"), r.rel_err_f32 = num(j, "rel_err_f32");
  return r;
}

std::vector<MemDepthRow> load_rows(const std::string& path) {
  std::vector<MemDepthRow> rows;
  if (!file_exists(path)) return rows;
  for (const auto& j : nlohmann::json::parse(read_file(path))) rows.push_back(from_json(j));
  return rows;
}

void save_rows(const std::string& path, const std::vector<MemDepthRow>& rows) {
  nlohmann::json j = nlohmann::json::array();
  for (const auto& r : rows) j.push_back(to_json(r));
  write_file_atomic(path, j.dump(1));
}

}  // namespace

Config mem_depth_config() {
  Config c;
  c.declare_string("mem.model", "mlp", {"mlp", "unet"},
                   "the 2-D MLP denoiser (hidden 128, depth 3) or the MNIST-small U-Net "
                   "(16/32/32 channels), randomly initialised")
      .declare_string("mem.samplers", "ddim,ddpm", {}, "ddim and/or ddpm (ancestral)")
      .declare_string("mem.steps", "", {},
                      "K values (default 1,2,4,...,1024 for the MLP, 1,...,64 for the U-Net)")
      .declare_string("mem.methods", kAllMethods, {}, "the methods measured (see --help)")
      .declare_int("mem.batch", 0, 0, 1 << 20, "batch (0: 64 for the MLP, 8 for the U-Net)")
      .declare_int("mem.recompute_max", 64, 1, 1 << 20, "largest K for O(1) recompute")
      .declare_int("mem.repeats", 5, 1, 1000, "timed runs per row (the median is reported)")
      .declare_double("mem.time_budget", 30, 0, 1e6,
                      "seconds of timed runs per row after which it stops repeating")
      .declare_bool("mem.errors", true, "the f64 pass: gradient errors against full backprop")
      .declare_string("device", "cpu", {"cpu"}, "the study runs on the CPU");
  return c;
}

MemDepthSettings mem_depth_settings(const Config& cfg) {
  MemDepthSettings s;
  s.model = cfg.get_string("mem.model");
  s.samplers = parse_names(cfg.get_string("mem.samplers"));
  for (const auto& x : s.samplers)
    DIFFLAB_CHECK(x == "ddim" || x == "ddpm", "mem.samplers: unknown sampler '", x,
                  "' (ddim, ddpm)");
  const std::string steps = cfg.get_string("mem.steps");
  for (double v : parse_list(steps.empty() ? (s.model == "mlp" ? "1,2,4,8,16,32,64,128,256,512,1024"
                                                                : "1,2,4,8,16,32,64")
                                           : steps,
                             "mem.steps")) {
    DIFFLAB_CHECK(v >= 1 && v == std::floor(v), "mem.steps: '", steps,
                  "' must list positive integers");
    s.steps.push_back(int64_t(v));
  }
  s.methods = parse_names(cfg.get_string("mem.methods"));
  for (const auto& m : s.methods) {
    try {
      resolve_method(m, 8);
    } catch (const Error& e) {
      DIFFLAB_FAIL("mem.methods: '", m, "' is not a method (", kAllMethods, "): ", e.what());
    }
  }
  s.batch = cfg.get_int("mem.batch");
  if (s.batch == 0) s.batch = s.model == "mlp" ? 64 : 8;
  s.recompute_max = cfg.get_int("mem.recompute_max");
  s.repeats = cfg.get_int("mem.repeats");
  s.time_budget = cfg.get_double("mem.time_budget");
  s.errors = cfg.get_bool("mem.errors");
  s.seed = uint64_t(cfg.get_int("seed"));
  return s;
}

std::vector<MemDepthRow> mem_depth_rows(const MemDepthSettings& s, const std::string& sampler,
                                        int64_t k) {
  const Bench b = make_bench(s);
  std::vector<MemDepthRow> rows;
  std::vector<ag::ChainGradient> grads(s.methods.size());
  for (const std::string& name : s.methods) {
    if (!not_applicable(name, sampler, k, s).empty()) continue;
    rows.push_back(measure_f32(b, s, sampler, k, name, grads[rows.size()]));
  }
  const auto full = std::find_if(rows.begin(), rows.end(),
                                 [](const MemDepthRow& r) { return r.method == "full"; });
  for (size_t i = 0; i < rows.size(); ++i) {
    MemDepthRow& r = rows[i];
    r.rel_err = r.cosine = r.z0_rel_err = r.rel_err_f32 = std::numeric_limits<double>::quiet_NaN();
    if (full != rows.end())
      r.rel_err_f32 = compare_params(grads[i], grads[size_t(full - rows.begin())]).rel();
  }
  if (s.errors) add_f64_errors(b, s, rows);
  for (const auto& r : rows) progress(r);
  return rows;
}

int run_mem_depth(const CommandArgs& args) {
  const std::string dir = default_run_dir("mem-depth", args);
  const Config cfg = command_config(mem_depth_config(), args, dir, args.resume);
  apply_threads(cfg);
  const MemDepthSettings s = mem_depth_settings(cfg);
  RunLock lock(dir);
  RunFolder run(dir);
  run.write_config(cfg.resolved());
  const std::string saved = run.path("rows.json");
  std::vector<MemDepthRow> rows = args.resume ? load_rows(saved) : std::vector<MemDepthRow>{};
  for (const std::string& sampler : s.samplers)
    for (int64_t k : s.steps) {
      const bool done = std::any_of(rows.begin(), rows.end(), [&](const MemDepthRow& r) {
        return r.sampler == sampler && r.steps == k;
      });
      if (done) continue;
      for (MemDepthRow& r : mem_depth_rows(s, sampler, k)) rows.push_back(std::move(r));
      save_rows(saved, rows);
    }
  Report rep = mem_depth_report(s, rows);
  rep.config(cfg.resolved());
  rep.write(run.path("report.html"));
  std::fprintf(stderr, "report: %s\n", run.path("report.html").c_str());
  return 0;
}

}  // namespace difflab::experiments
