// difflab's side of scripts/bench_vs_torch.sh: times one case and prints one JSON line (mirrored by bench/torch_reference.py).
//
// Usage: bench_vs_torch <case> [--threads N] [--reps R] [--warmup W]
//   cases: train    default U-Net, batch 64, 1x28x28, one Adam step (eps-MSE, t ~ U[0, 1000))
//          forward  the same U-Net's forward under no-grad, batch 64
//          ddim     50-step deterministic DDIM (eta 0, linear DDPM schedule, eps-prediction) of 64
//                   images; the warm-up runs a 2-step DDIM of the same shapes
//          sgemm    1024^3 through tensor::matmul and through cblas_sgemm directly, interleaved
//          conv     conv2d 3x3 64->64, 28x28, batch 64, padding 1, bias: forward + input and
//                   weight gradients (ag::grad with a fixed upstream gradient)
//          info     OpenBLAS core name, config and threading build (no timing)
// Output fields: case, threads, reps, median_ms, times_ms, allocator_peak_bytes (the caching
// allocator's peak of live bytes from after setup to the end), peak_rss_bytes (ru_maxrss),
// start_rss_bytes (VmRSS on entering main, before any case is built), plus
// per case: sgemm_gflops (cblas, measured in this process after the timed reps: train, sgemm),
// cblas_ms / matmul_gflops / pct_of_cblas (sgemm), gflops (conv: 3 x forward FLOPs).
#include <cblas.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "autograd/engine.h"
#include "autograd/functions.h"
#include "autograd/grad_mode.h"
#include "diffusion/denoiser.h"
#include "diffusion/sampler.h"
#include "diffusion/schedule.h"
#include "nn/optim.h"
#include "nn/unet.h"
#include "tensor/allocator.h"
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

int usage() {
  std::fprintf(stderr,
               "usage: bench_vs_torch <train|forward|ddim|sgemm|conv|info> [--threads N] "
               "[--reps R] [--warmup W]\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  const size_t start_rss = current_rss_bytes();
  if (argc < 2) return usage();
  const std::string name = argv[1];
  int threads = 1, reps = -1, warmup = -1;
  for (int i = 2; i < argc; ++i) {
    const std::string a = argv[i];
    if (i + 1 >= argc) return usage();
    if (a == "--threads") threads = std::atoi(argv[++i]);
    else if (a == "--reps") reps = std::atoi(argv[++i]);
    else if (a == "--warmup") warmup = std::atoi(argv[++i]);
    else return usage();
  }
  tensor::blas_threading_init();
  tensor::set_num_threads(threads);
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
                        {"conv", run_conv, 5, 2}};
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
