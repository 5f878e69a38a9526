// difflab's side of scripts/bench_vs_torch.sh: times one case and prints one JSON line (mirrored by bench/torch_reference.py).
//
// Usage: bench_vs_torch <case> [--threads N] [--reps R] [--warmup W] [--kstar K]
//   cases: train    default U-Net, batch 64, 1x28x28, one Adam step (eps-MSE, t ~ U[0, 1000))
//          forward  the same U-Net's forward under no-grad, batch 64
//          ddim     50-step deterministic DDIM (eta 0, linear DDPM schedule, eps-prediction) of 64
//                   images; the warm-up runs a 2-step DDIM of the same shapes
//          sgemm    1024^3 through tensor::matmul and through cblas_sgemm directly, interleaved
//          conv     conv2d 3x3 64->64, 28x28, batch 64, padding 1, bias: forward + input and
//                   weight gradients (ag::grad with a fixed upstream gradient)
//          cdm_step one guided MLGD-F step on the 2D task (matching/cdm.cpp mlgd's loop body, R = 1,
//                   at step 49 of the 99-step linear-schedule grid, spread "beta"): the prior
//                   (MLPScoreNet dim 1, hidden 128, depth 3, time_embed_dim 32, eps) on x_t [1, 1]
//                   with graph, x0_hat; matching_gradient: J = 3 copies x0_hat + r xi, each
//                   repeated n = 250 times ([750, 1]), one-step consistency sampling at
//                   sigma_max 80 (CondMLP dim 1, cond_dim 1, 3x128, time_embed_dim 32; EDM
//                   c_skip/c_out/c_in, sigma_data 0.5), per copy the Gaussian-kernel MMD^2
//                   U-statistic (median-heuristic bandwidth, detached) against 250 fresh target
//                   samples, L = -logsumexp(-l_j) + log J, dL/dx0_hat; then one VJP through the
//                   prior to x_t and the DDIM update. Weights: random init, seeded
//          ict_step one iCT step of that CondMLP: batch 1024 (y [1024, 1], cond [1024, 1]), N(k)
//                   at k = 10000 of 20000 (161 boundaries), lognormal index draw, teacher under
//                   no-grad, student with graph, pseudo-Huber (c = 0.00054), backward, Adam (lr 1e-4)
//          cdm_baseline_rss  the slow MLGD baseline's gradient: matching_gradient as in cdm_step
//                   with the inner sampler a K*-step unrolled DDIM (eta 0, linear schedule) of
//                   the same CondMLP as a conditional eps network (matching/inner_sampler.h);
//                   K* from --kstar, else $BENCH_KSTAR, else 64. For its peak RSS (one process
//                   per K*) as much as for its time
//          info     OpenBLAS core name, config and threading build (no timing)
// Output fields: case, threads, reps, median_ms, times_ms, allocator_peak_bytes (the caching
// allocator's peak of live bytes from after setup to the end), peak_rss_bytes (ru_maxrss),
// start_rss_bytes (VmRSS on entering main, before any case is built), plus
// per case: sgemm_gflops (cblas, measured in this process after the timed reps: train, sgemm),
// cblas_ms / matmul_gflops / pct_of_cblas (sgemm), gflops (conv: 3 x forward FLOPs),
// num_boundaries (ict_step), kstar (cdm_baseline_rss). cdm_step and cdm_baseline_rss print the
// last rep's L to stderr (random weights: not comparable across the two sides).
#include <cblas.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "autograd/engine.h"
#include "autograd/functions.h"
#include "autograd/grad_mode.h"
#include "diffusion/consistency.h"
#include "diffusion/denoiser.h"
#include "diffusion/sampler.h"
#include "diffusion/schedule.h"
#include "matching/cdm.h"
#include "matching/divergence_registry.h"
#include "matching/inner_sampler.h"
#include "nn/cond_mlp.h"
#include "nn/mlp_score.h"
#include "nn/optim.h"
#include "nn/unet.h"
#include "tensor/allocator.h"
#include "tensor/factory.h"
#include "tensor/ops.h"
#include "tensor/random.h"
#include "tensor/threads.h"

extern "C" char* openblas_get_corename();
extern "C" char* openblas_get_config();
extern "C" int openblas_get_parallel();

using namespace difflab;
using ag::Var;
using tensor::DType;
using tensor::Tensor;

namespace {

constexpr int64_t kBatch = 64;

double now_ms() {
  using namespace std::chrono;
  return duration<double, std::milli>(steady_clock::now().time_since_epoch()).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n == 0 ? 0.0 : (n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]));
}

// Times `f` reps times after `warmup` untimed calls; returns the wall-clock ms of each rep.
std::vector<double> time_reps(const std::function<void()>& f, int warmup, int reps) {
  for (int i = 0; i < warmup; ++i) f();
  std::vector<double> ts;
  for (int i = 0; i < reps; ++i) {
    const double t0 = now_ms();
    f();
    ts.push_back(now_ms() - t0);
  }
  return ts;
}

size_t peak_rss_bytes() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return size_t(ru.ru_maxrss) * 1024;  // KiB on Linux
}

// VmRSS now (bytes), from /proc/self/status: what the process holds before the case is built.
size_t current_rss_bytes() {
  FILE* f = std::fopen("/proc/self/status", "r");
  if (!f) return 0;
  char line[256];
  size_t kb = 0;
  while (std::fgets(line, sizeof line, f))
    if (std::sscanf(line, "VmRSS: %zu kB", &kb) == 1) break;
  std::fclose(f);
  return kb * 1024;
}

size_t alloc_peak() { return tensor::memory_stats(tensor::Device::cpu()).peak_bytes; }
void alloc_reset_peak() { tensor::reset_peak(tensor::Device::cpu()); }

// cblas_sgemm 1024^3 into a preallocated output: `reps` calls after one warm-up, ms each.
struct Sgemm {
  static constexpr int n = 1024;
  Tensor a, b, c = Tensor::empty({n, n});
  explicit Sgemm(tensor::Generator& gen)
      : a(tensor::randn({n, n}, DType::f32, &gen)), b(tensor::randn({n, n}, DType::f32, &gen)) {}
  void run() {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a.data<float>(), n,
                b.data<float>(), n, 0.0f, c.data<float>(), n);
  }
  static double gflops(double ms) { return 2.0 * n * n * n / (ms * 1e-3) / 1e9; }
};

std::string json_list(const std::vector<double>& v) {
  std::ostringstream o;
  o << "[";
  for (size_t i = 0; i < v.size(); ++i) o << (i ? ", " : "") << v[i];
  o << "]";
  return o.str();
}

struct Result {
  std::vector<double> times;
  std::vector<std::pair<std::string, double>> extra;
};

Result run_train(int warmup, int reps) {
  tensor::Generator gen(0);
  nn::UNet model(nn::UNetConfig{}, &gen);
  Tensor x = tensor::randn({kBatch, 1, 28, 28}, DType::f32, &gen);
  nn::AdamOptions ao;
  ao.lr = 2e-4;
  nn::Adam opt(model.parameters(), ao);
  alloc_reset_peak();
  Result r;
  r.times = time_reps(
      [&] {
        Tensor t = tensor::uniform({kBatch}, 0, 1000, DType::f32, &gen);
        Tensor eps = tensor::randn({kBatch, 1, 28, 28}, DType::f32, &gen);
        Var out = model.forward(Var(tensor::binary(tensor::BinaryOp::add, x, eps)), t);
        Var loss = ag::mean(ag::square(ag::sub(out, Var(eps))));
        opt.zero_grad();
        loss.backward();
        opt.step();
      },
      warmup, reps);
  // The machine's GEMM rate in this process, for the floor (47 GFLOP per step / rate).
  Sgemm g(gen);
  r.extra.push_back({"sgemm_gflops", Sgemm::gflops(median(time_reps([&] { g.run(); }, 1, 5)))});
  r.extra.push_back({"num_parameters", double(model.num_parameters())});
  return r;
}

Result run_forward(int warmup, int reps) {
  tensor::Generator gen(0);
  nn::UNet model(nn::UNetConfig{}, &gen);
  model.eval();
  Tensor x = tensor::randn({kBatch, 1, 28, 28}, DType::f32, &gen);
  ag::NoGradGuard ng;
  alloc_reset_peak();
  Result r;
  r.times = time_reps(
      [&] {
        Tensor t = tensor::uniform({kBatch}, 0, 1000, DType::f32, &gen);
        Var out = model.forward(Var(x), t);
      },
      warmup, reps);
  return r;
}

Result run_ddim(int warmup, int reps) {
  tensor::Generator gen(0);
  auto model = std::make_shared<nn::UNet>(nn::UNetConfig{}, &gen);
  model->eval();
  diffusion::LinearDiscreteSchedule schedule;  // T = 1000, beta 1e-4 .. 0.02
  diffusion::Denoiser net = [model](const Var& z, const Tensor& t, const Tensor& labels) {
    return model->forward(z, t, labels);
  };
  diffusion::VpModel vp = diffusion::vp_model(net, diffusion::Parameterization::eps);
  Tensor z0 = tensor::randn({kBatch, 1, 28, 28}, DType::f32, &gen);
  ag::NoGradGuard ng;
  alloc_reset_peak();
  const std::vector<double> warm_times = schedule.time_grid(2), times = schedule.time_grid(50);
  for (int i = 0; i < warmup; ++i) diffusion::sample_ddim(vp, schedule, Var(z0), warm_times, 0.0);
  Result r;
  r.times = time_reps([&] { diffusion::sample_ddim(vp, schedule, Var(z0), times, 0.0); }, 0, reps);
  r.extra.push_back({"steps", 50.0});
  return r;
}

Result run_sgemm(int warmup, int reps) {
  tensor::Generator gen(1);
  Sgemm g(gen);
  alloc_reset_peak();
  for (int i = 0; i < warmup; ++i) {
    Tensor c = tensor::matmul(g.a, g.b);
    g.run();
  }
  Result r;
  std::vector<double> cb;
  for (int i = 0; i < reps; ++i) {  // interleaved: matmul, cblas, matmul, cblas, ...
    double t0 = now_ms();
    Tensor c = tensor::matmul(g.a, g.b);
    r.times.push_back(now_ms() - t0);
    t0 = now_ms();
    g.run();
    cb.push_back(now_ms() - t0);
  }
  const double mm = median(r.times), cm = median(cb);
  r.extra.push_back({"cblas_ms", cm});
  r.extra.push_back({"matmul_gflops", Sgemm::gflops(mm)});
  r.extra.push_back({"sgemm_gflops", Sgemm::gflops(cm)});
  r.extra.push_back({"pct_of_cblas", 100.0 * cm / mm});
  return r;
}

Result run_conv(int warmup, int reps) {
  tensor::Generator gen(3);
  Var x(tensor::randn({kBatch, 64, 28, 28}, DType::f32, &gen), true);
  Var w(tensor::randn({64, 64, 3, 3}, DType::f32, &gen), true);
  Var b(tensor::randn({64}, DType::f32, &gen));
  Var gout(tensor::randn({kBatch, 64, 28, 28}, DType::f32, &gen));
  tensor::Conv2dParams p{.pad_h = 1, .pad_w = 1};
  alloc_reset_peak();
  Result r;
  r.times = time_reps(
      [&] {
        Var y = ag::conv2d(x, w, b, p);
        auto g = ag::grad({y}, {x, w}, {gout});
      },
      warmup, reps);
  const double flops = 3.0 * 2.0 * kBatch * 64 * 64 * 9 * 28 * 28;
  r.extra.push_back({"gflops", flops / (median(r.times) * 1e-3) / 1e9});
  return r;
}

// ---- MLGD-F on the 2D task (cdm_step, cdm_baseline_rss) and its consistency model (ict_step) ----

constexpr int64_t kCdmGrid = 99, kCdmStepIndex = 49;     // the timed step of the 99-step grid
constexpr int64_t kIctBatch = 1024, kIctStep = 10000, kIctTotal = 20000;  // N(k) = 161
int64_t g_kstar = 64;  // cdm_baseline_rss: --kstar, else $BENCH_KSTAR, else 64

// CondMLP dim 1, cond_dim 1, 3x128, time_embed_dim 32: the 2D task's inner model (cdm_cm_2d,
// cdm_slow_2d).
std::shared_ptr<nn::CondMLP> cdm_cond_mlp(tensor::Generator& gen) {
  nn::CondMLPConfig c;
  c.dim = 1, c.cond_dim = 1, c.hidden = 128, c.blocks = 3, c.time_embed_dim = 32;
  return std::make_shared<nn::CondMLP>(c, &gen);
}

// The prior over X of `train-ddpm --preset cdm_prior_2d` (make_ddpm_model for vector data):
// MLPScoreNet dim 1, hidden 128, depth 3, time_embed_dim 32, eps-prediction, as a VP model.
diffusion::VpModel cdm_prior(tensor::Generator& gen) {
  nn::MLPScoreNetConfig c;
  c.dim = 1, c.hidden = 128, c.depth = 3, c.time_embed_dim = 32;
  auto mlp = std::make_shared<nn::MLPScoreNet>(c, &gen);
  const diffusion::Denoiser net = [mlp](const Var& z, const Tensor& t, const Tensor& labels) {
    return mlp->forward(z, t, labels);
  };
  return diffusion::vp_model(net, diffusion::Parameterization::eps);
}

// The one-step consistency sampler (experiments/train_cond.cpp ladder_sampler with K_s = 1):
// y = f(sigma_max z, sigma_max; cond), z ~ N(0, 1) [m, 1].
matching::ConditionalSampler cm_sampler(std::shared_ptr<nn::CondMLP> net) {
  const diffusion::ConsistencyOptions o;  // sigma_max 80, sigma_data 0.5, EDM c_in
  const diffusion::ConsistencyNet f = [net](const Var& x, const Tensor& sigma, const Var& cond) {
    return net->forward(x, sigma, cond);
  };
  return [f, o](const Var& cond, tensor::Generator& g) {
    const Tensor z = tensor::randn({cond.size(0), 1}, cond.dtype(), &g);
    return diffusion::consistency_sample(f, cond, diffusion::consistency_ladder(1, o), {z}, o);
  };
}

// The slow baseline's sampler (train_cond.cpp CondModel::sampler for a ddpm run): the CondMLP
// reads the EDM sigma_t/alpha_t of each row's time, K* unrolled DDIM steps.
matching::ConditionalSampler ddim_sampler(std::shared_ptr<nn::CondMLP> net, int64_t kstar) {
  const std::shared_ptr<const diffusion::Schedule> sch = diffusion::make_schedule("linear");
  const matching::ConditionalNet eps = [net, sch](const Var& z, const Tensor& t_net,
                                                  const Var& cond) {
    std::vector<double> s = t_net.to(DType::f64).to_vector<double>();
    for (double& v : s) v = sch->edm_sigma(v / diffusion::kNetTimeScale);
    return net->forward(z, tensor::from_vector(s, {int64_t(s.size())}, t_net.dtype()), cond);
  };
  return matching::unrolled_ddim_sampler(
      {eps, diffusion::Parameterization::eps, sch, kstar, 1, false});
}

// G at x* = -5 (experiments/data/joint_gmm.cpp task_2d): Y | X = -5 of the joint, two equal
// components at -5 and +5 with standard deviation sqrt(0.2 - 0.195^2/0.5).
Tensor cdm_target(int64_t n, tensor::Generator& g) {
  const std::vector<double> u = tensor::rand({n}, DType::f64, &g).to_vector<double>();
  std::vector<double> y = tensor::randn({n}, DType::f64, &g).to_vector<double>();
  const double sd = std::sqrt(0.2 - 0.195 * 0.195 / 0.5);
  for (size_t i = 0; i < y.size(); ++i) y[i] = (u[i] < 0.5 ? -5.0 : 5.0) + sd * y[i];
  return tensor::from_vector(y, {n, 1}, DType::f32);
}

// MMD^2 U-statistic, Gaussian kernel, median bandwidth: `difflab cdm`'s default divergence.
Var cdm_loss(const Var& y, const Var& target, tensor::Generator& g) {
  return matching::divergence(y, target, matching::DivergenceSettings{}, &g);
}

// The noise levels of the timed step and its Monte-Carlo spread r_t = beta/sqrt(1 + beta^2),
// beta = 1 - alpha_t^2/alpha_t'^2 (matching/cdm.cpp mc_spread, Spread::beta).
struct CdmLevels {
  diffusion::NoiseLevel at, next;
  double spread;
};
CdmLevels cdm_levels() {
  const diffusion::LinearDiscreteSchedule sch;
  const std::vector<double> times = sch.time_grid(kCdmGrid);
  CdmLevels l{diffusion::noise_level(sch, times[kCdmStepIndex]),
              diffusion::noise_level(sch, times[kCdmStepIndex + 1]), 0.0};
  const double beta = 1.0 - (l.at.alpha * l.at.alpha) / (l.next.alpha * l.next.alpha);
  l.spread = beta / std::sqrt(1.0 + beta * beta);
  return l;
}

// matching::mlgd's loop body for one step (R = 1, constant guidance zeta): the prior with graph,
// the DDIM update, matching_gradient at x0_hat, one VJP through the prior. Returns x_t'.
Tensor mlgd_step(const diffusion::VpModel& prior, const Tensor& x, const CdmLevels& l,
                 const matching::InnerSampler& inner, const matching::CdmSettings& s,
                 std::vector<tensor::Generator>& gens, std::vector<double>& losses) {
  Var xt(x, true);
  const diffusion::Denoised d = prior(xt, l.at);
  Var x_next = d.x0.detach() * l.next.alpha + d.eps.detach() * l.next.sigma;
  const Tensor g0 = matching::matching_gradient(d.x0.value(), l.spread, inner, cdm_target,
                                                cdm_loss, s, gens, losses);
  const Var g = ag::grad({d.x0}, {xt}, {Var(g0)})[0];
  x_next = x_next - g.detach() * s.guidance;
  return x_next.value();
}

Result run_cdm_step(int warmup, int reps) {
  tensor::Generator init(0);
  const diffusion::VpModel prior = cdm_prior(init);
  const matching::InnerSampler inner(cm_sampler(cdm_cond_mlp(init)));
  const Tensor x = tensor::randn({1, 1}, DType::f32, &init);
  const CdmLevels l = cdm_levels();
  const matching::CdmSettings s;  // n = 250, n_target = 250, J = 3, zeta = 1
  std::vector<tensor::Generator> gens;
  gens.emplace_back(s.seed);
  std::vector<double> losses(1);
  alloc_reset_peak();
  Result r;
  r.times = time_reps([&] { mlgd_step(prior, x, l, inner, s, gens, losses); }, warmup, reps);
  std::fprintf(stderr, "cdm_step: L = %.6g (last rep; random weights)\n", losses[0]);
  return r;
}

Result run_cdm_baseline_rss(int warmup, int reps) {
  tensor::Generator init(0);
  const matching::InnerSampler inner(ddim_sampler(cdm_cond_mlp(init), g_kstar));
  const Tensor x0_hat = tensor::randn({1, 1}, DType::f32, &init);
  const CdmLevels l = cdm_levels();
  const matching::CdmSettings s;
  std::vector<tensor::Generator> gens;
  gens.emplace_back(s.seed);
  std::vector<double> losses(1);
  alloc_reset_peak();
  Result r;
  r.times = time_reps(
      [&] {
        matching::matching_gradient(x0_hat, l.spread, inner, cdm_target, cdm_loss, s, gens,
                                    losses);
      },
      warmup, reps);
  std::fprintf(stderr, "cdm_baseline_rss K*=%lld: L = %.6g (last rep; random weights)\n",
               (long long)g_kstar, losses[0]);
  r.extra.push_back({"kstar", double(g_kstar)});
  return r;
}

Result run_ict_step(int warmup, int reps) {
  tensor::Generator gen(0);
  const std::shared_ptr<nn::CondMLP> net = cdm_cond_mlp(gen);
  const diffusion::ConsistencyNet f = [net](const Var& x, const Tensor& sigma, const Var& cond) {
    return net->forward(x, sigma, cond);
  };
  const Var y(tensor::randn({kIctBatch, 1}, DType::f32, &gen));
  const Var cond(tensor::randn({kIctBatch, 1}, DType::f32, &gen));
  const diffusion::ConsistencyOptions o;  // sigma_max 80, sigma_data 0.5, pseudo-Huber c auto
  nn::AdamOptions ao;
  ao.lr = 1e-4;
  nn::Adam opt(net->parameters(), ao);
  alloc_reset_peak();
  Result r;
  r.times = time_reps(
      [&] {
        const diffusion::IctLoss l = diffusion::ict_loss(f, y, cond, kIctStep, kIctTotal, gen, o);
        opt.zero_grad();
        l.loss.backward();
        opt.step();
      },
      warmup, reps);
  r.extra.push_back(
      {"num_boundaries", double(diffusion::ict_num_boundaries(kIctStep, kIctTotal, o))});
  return r;
}

// A whole decimal number, or -1 when `text` is anything else.
int64_t parse_count(const char* text) {
  char* end = nullptr;
  const long long v = std::strtoll(text, &end, 10);
  return end != text && *end == '\0' ? int64_t(v) : -1;
}

int usage() {
  std::fprintf(stderr,
               "usage: bench_vs_torch <train|forward|ddim|sgemm|conv|cdm_step|ict_step|"
               "cdm_baseline_rss|info> [--threads N] [--reps R] [--warmup W] [--kstar K]\n");
  return 2;
}

struct Options {
  std::string name;
  int threads = 1, reps = -1, warmup = -1;
};

// Fills `o` from the command line, and g_kstar from $BENCH_KSTAR, then --kstar; false on a bad
// argument.
bool parse_options(int argc, char** argv, Options& o) {
  if (argc < 2) return false;
  o.name = argv[1];
  if (const char* k = std::getenv("BENCH_KSTAR"); k && *k) g_kstar = parse_count(k);
  for (int i = 2; i < argc; ++i) {
    const std::string a = argv[i];
    if (i + 1 >= argc) return false;
    if (a == "--threads") o.threads = std::atoi(argv[++i]);
    else if (a == "--reps") o.reps = std::atoi(argv[++i]);
    else if (a == "--warmup") o.warmup = std::atoi(argv[++i]);
    else if (a == "--kstar") g_kstar = parse_count(argv[++i]);
    else return false;
  }
  // K* in 1..T of the linear schedule (checked only where it is read).
  return o.name != "cdm_baseline_rss" || (g_kstar >= 1 && g_kstar <= 1000);
}

}  // namespace

int main(int argc, char** argv) {
  const size_t start_rss = current_rss_bytes();
  Options opt;
  if (!parse_options(argc, argv, opt)) return usage();
  const std::string& name = opt.name;
  int reps = opt.reps, warmup = opt.warmup;
  tensor::blas_threading_init();
  tensor::set_num_threads(opt.threads);
  if (name == "info") {
    std::printf("{\"side\": \"difflab\", \"openblas_corename\": \"%s\", \"openblas_config\": "
                "\"%s\", \"openblas_parallel\": %d, \"threads\": %d}\n",
                openblas_get_corename(), openblas_get_config(), openblas_get_parallel(),
                tensor::get_num_threads());
    return 0;
  }
  struct Case {
    const char* name;
    Result (*fn)(int, int);
    int reps, warmup;
  };
  const Case cases[] = {{"train", run_train, 3, 2},  {"forward", run_forward, 5, 2},
                        {"ddim", run_ddim, 1, 1},    {"sgemm", run_sgemm, 10, 2},
                        {"conv", run_conv, 5, 2},    {"cdm_step", run_cdm_step, 20, 3},
                        {"ict_step", run_ict_step, 20, 3},
                        {"cdm_baseline_rss", run_cdm_baseline_rss, 3, 1}};
  for (const Case& c : cases) {
    if (name != c.name) continue;
    if (reps < 1) reps = c.reps;
    if (warmup < 0) warmup = c.warmup;
    try {
      Result r = c.fn(warmup, reps);
      std::printf("{\"side\": \"difflab\", \"case\": \"%s\", \"threads\": %d, \"reps\": %d, "
                  "\"median_ms\": %.4f, \"times_ms\": %s, \"allocator_peak_bytes\": %zu, "
                  "\"peak_rss_bytes\": %zu, \"start_rss_bytes\": %zu",
                  c.name, tensor::get_num_threads(), reps, median(r.times),
                  json_list(r.times).c_str(), alloc_peak(), peak_rss_bytes(), start_rss);
      for (const auto& [k, v] : r.extra) std::printf(", \"%s\": %.6g", k.c_str(), v);
      std::printf("}\n");
      return 0;
    } catch (const std::exception& e) {
      std::fprintf(stderr, "bench_vs_torch %s: %s\n", c.name, e.what());
      return 1;
    }
  }
  return usage();
}
