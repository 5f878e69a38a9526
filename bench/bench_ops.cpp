// Google Benchmark for the CPU kernels and the autograd engine, all in f32. Inputs are built
// outside the timed loops; see bench/README.md for what each case measures.
#include <benchmark/benchmark.h>
#include <cblas.h>

#include <algorithm>
#include <vector>

#include "autograd/engine.h"
#include "autograd/functions.h"
#include "tensor/cpu/conv3x3.h"
#include "tensor/cpu/winograd.h"
#include "tensor/ops.h"
#include "tensor/random.h"

namespace {

namespace T = difflab::tensor;
namespace ag = difflab::ag;
using ag::Var;
using T::DType;
using T::Tensor;

Tensor randn(const T::Shape& shape, uint64_t seed) {
  T::Generator gen(seed);
  return T::randn(shape, DType::f32, &gen);
}

// Every case runs on all OpenMP/OpenBLAS threads, so each one is registered with
// UseRealTime (rates are per wall-clock second; by default they would be per second of the main
// thread's CPU time, which overstates a multithreaded kernel) and MeasureProcessCPUTime (the CPU
// column is then the CPU time of all threads together).

#define WALL_BENCHMARK(fn, unit) \
  BENCHMARK(fn)->Unit(benchmark::unit)->UseRealTime()->MeasureProcessCPUTime()

// Counts `flops` per iteration; Google Benchmark divides by the time (shown as e.g. 60G/s).
void set_flops(benchmark::State& state, double flops) {
  state.counters["FLOP/s"] =
      benchmark::Counter(flops * double(state.iterations()), benchmark::Counter::kIsRate);
}

// ---- sgemm: difflab's matmul against OpenBLAS called directly ----

void BM_matmul_tensor(benchmark::State& state) {
  const int64_t n = state.range(0);
  Tensor a = randn({n, n}, 1), b = randn({n, n}, 2);
  for (auto _ : state) {
    Tensor c = T::matmul(a, b);
    benchmark::DoNotOptimize(c.raw_data());
  }
  set_flops(state, 2.0 * double(n) * double(n) * double(n));
}
WALL_BENCHMARK(BM_matmul_tensor, kMillisecond)->Arg(256)->Arg(512)->Arg(1024);

void BM_cblas_sgemm(benchmark::State& state) {
  const int n = int(state.range(0));
  Tensor a = randn({n, n}, 1), b = randn({n, n}, 2), c = T::Tensor::empty({n, n});
  for (auto _ : state) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a.data<float>(), n,
                b.data<float>(), n, 0.0f, c.data<float>(), n);
    benchmark::ClobberMemory();
  }
  set_flops(state, 2.0 * double(n) * double(n) * double(n));
}
WALL_BENCHMARK(BM_cblas_sgemm, kMillisecond)->Arg(256)->Arg(512)->Arg(1024);

// The products of a 3x3 convolution C -> C at S x S as OpenBLAS runs them for `images` images
// at once (difflab's image-parallel conv2d runs one image per call): forward W [C, 9C] x col
// [9C, images S^2], input gradient Wᵀ x dY, weight gradient dY x colᵀ. Shows how the short
// products of the low-resolution levels fall below the 1024³ rate.
void BM_cblas_conv_gemm(benchmark::State& state) {
  const int c = int(state.range(0)), n = int(state.range(1) * state.range(1) * state.range(2));
  const int k = 9 * c;
  const int64_t kind = state.range(3);  // 0 forward, 1 input gradient, 2 weight gradient
  Tensor w = randn({c, k}, 1), col = randn({k, n}, 2), dy = randn({c, n}, 3);
  Tensor out = T::Tensor::empty({kind == 2 ? int64_t(c) * k : int64_t(std::max(c, k)) * n});
  for (auto _ : state) {
    if (kind == 0)
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, c, n, k, 1.0f, w.data<float>(), k,
                  col.data<float>(), n, 0.0f, out.data<float>(), n);
    else if (kind == 1)
      cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, k, n, c, 1.0f, w.data<float>(), k,
                  dy.data<float>(), n, 0.0f, out.data<float>(), n);
    else
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, c, k, n, 1.0f, dy.data<float>(), n,
                  col.data<float>(), n, 0.0f, out.data<float>(), k);
    benchmark::ClobberMemory();
  }
  set_flops(state, 2.0 * double(c) * double(n) * double(k));
}
WALL_BENCHMARK(BM_cblas_conv_gemm, kMicrosecond)
    ->ArgNames({"channels", "size", "images", "kind"})
    ->ArgsProduct({{32}, {28}, {1, 4}, {0, 1, 2}})
    ->ArgsProduct({{64}, {14}, {1, 4}, {0, 1, 2}})
    ->ArgsProduct({{128}, {7}, {1, 8}, {0, 1, 2}});

// Attention scores of 8 heads on 14x14 tokens, batch 8: 64 small products [196, 32] x [32, 196].
void BM_matmul_batched(benchmark::State& state) {
  Tensor q = randn({64, 196, 32}, 14), k = randn({64, 196, 32}, 15);
  for (auto _ : state) {
    Tensor c = T::matmul(q, k.transpose(1, 2));
    benchmark::DoNotOptimize(c.raw_data());
  }
  set_flops(state, 2.0 * 64 * 196 * 196 * 32);
}
WALL_BENCHMARK(BM_matmul_batched, kMillisecond);

// ---- conv2d 3x3, 64 -> 64 channels, 28x28, batch 64, padding 1 ----

struct ConvSetup {
  Tensor x = randn({64, 64, 28, 28}, 3), w = randn({64, 64, 3, 3}, 4), b = randn({64}, 5);
  Tensor gout = randn({64, 64, 28, 28}, 6);
  T::Conv2dParams p{.pad_h = 1, .pad_w = 1};
  static constexpr double kFlops = 2.0 * 64 * 64 * 28 * 28 * 64 * 9;  // forward MACs x 2
};

void BM_conv2d_forward(benchmark::State& state) {
  ConvSetup s;
  for (auto _ : state) {
    Tensor y = T::conv2d(s.x, s.w, s.b, s.p);
    benchmark::DoNotOptimize(y.raw_data());
  }
  set_flops(state, ConvSetup::kFlops);
}
WALL_BENCHMARK(BM_conv2d_forward, kMillisecond);

void BM_conv2d_input_grad(benchmark::State& state) {
  ConvSetup s;
  for (auto _ : state) {
    Tensor dx = T::conv2d_input_grad(s.gout, s.w, s.x.shape(), s.p);
    benchmark::DoNotOptimize(dx.raw_data());
  }
  set_flops(state, ConvSetup::kFlops);
}
WALL_BENCHMARK(BM_conv2d_input_grad, kMillisecond);

void BM_conv2d_weight_grad(benchmark::State& state) {
  ConvSetup s;
  for (auto _ : state) {
    Tensor dw = T::conv2d_weight_grad(s.gout, s.x, s.w.shape(), s.p);
    benchmark::DoNotOptimize(dw.raw_data());
  }
  set_flops(state, ConvSetup::kFlops);
}
WALL_BENCHMARK(BM_conv2d_weight_grad, kMillisecond);

void BM_conv2d_forward_backward(benchmark::State& state) {
  ConvSetup s;
  Var x(s.x, true), w(s.w, true), b(s.b, true), gout(s.gout);
  for (auto _ : state) {
    Var y = ag::conv2d(x, w, b, s.p);
    auto g = ag::grad({y}, {x, w, b}, {gout});
    benchmark::DoNotOptimize(g[0].value().raw_data());
  }
  set_flops(state, 3.0 * ConvSetup::kFlops);  // forward, input grad, weight grad
}
WALL_BENCHMARK(BM_conv2d_forward_backward, kMillisecond);

// ---- the default U-Net's 3x3 convolutions, batch 64: C -> C channels at S x S, the three
// levels (32 at 28, 64 at 14, 128 at 7) costing the same FLOPs; forward + both gradients, and
// each alone; path 0 im2col + GEMM, 1 the direct 3x3 kernels (tensor/cpu/conv3x3.h), 2 Winograd
// F(2x2, 3x3) (tensor/cpu/winograd.h) where it applies, else as 1, 3 as 2 but F(4x4, 3x3) on
// planes 5 or more wide ----

// Sets the conv2d path for a benchmark's lifetime.
class ConvPath {
 public:
  explicit ConvPath(int64_t path)
      : direct_(T::cpu::conv3x3_enabled()),
        winograd_(T::cpu::winograd_enabled()),
        winograd4_(T::cpu::winograd4_enabled()) {
    T::cpu::set_conv3x3_enabled(path >= 1);
    T::cpu::set_winograd_enabled(path >= 2);
    T::cpu::set_winograd4_enabled(path >= 3);
  }
  ~ConvPath() {
    T::cpu::set_conv3x3_enabled(direct_);
    T::cpu::set_winograd_enabled(winograd_);
    T::cpu::set_winograd4_enabled(winograd4_);
  }
  ConvPath(const ConvPath&) = delete;
  ConvPath& operator=(const ConvPath&) = delete;

 private:
  bool direct_, winograd_, winograd4_;
};

void BM_conv2d_unet_level(benchmark::State& state) {
  const int64_t c = state.range(0), size = state.range(1);
  const ConvPath path(state.range(2));
  Var x(randn({64, c, size, size}, 14), true), w(randn({c, c, 3, 3}, 15), true);
  Var b(randn({c}, 16), true), gout(randn({64, c, size, size}, 17));
  const T::Conv2dParams p{.pad_h = 1, .pad_w = 1};
  for (auto _ : state) {
    Var y = ag::conv2d(x, w, b, p);
    auto g = ag::grad({y}, {x, w, b}, {gout});
    benchmark::DoNotOptimize(g[0].value().raw_data());
  }
  set_flops(state, 3.0 * 2.0 * 64 * double(c * c * 9 * size * size));
}
WALL_BENCHMARK(BM_conv2d_unet_level, kMillisecond)
    ->ArgNames({"channels", "size", "path"})
    ->ArgsProduct({{32}, {28}, {0, 1, 2, 3}})
    ->ArgsProduct({{64}, {14}, {0, 1, 2, 3}})
    ->ArgsProduct({{128}, {7}, {0, 1, 2, 3}});

// One of the three alone: part 0 the forward (the sampler's), 1 the input gradient, 2 the
// weight gradient.
void BM_conv2d_unet_level_part(benchmark::State& state) {
  const int64_t c = state.range(0), size = state.range(1), part = state.range(3);
  const ConvPath path(state.range(2));
  Tensor x = randn({64, c, size, size}, 14), w = randn({c, c, 3, 3}, 15), b = randn({c}, 16);
  Tensor gout = randn({64, c, size, size}, 17);
  const T::Conv2dParams p{.pad_h = 1, .pad_w = 1};
  for (auto _ : state) {
    Tensor y = part == 0   ? T::conv2d(x, w, b, p)
               : part == 1 ? T::conv2d_input_grad(gout, w, x.shape(), p)
                           : T::conv2d_weight_grad(gout, x, w.shape(), p);
    benchmark::DoNotOptimize(y.raw_data());
  }
  set_flops(state, 2.0 * 64 * double(c * c * 9 * size * size));
}
WALL_BENCHMARK(BM_conv2d_unet_level_part, kMillisecond)
    ->ArgNames({"channels", "size", "path", "part"})
    ->ArgsProduct({{32}, {28}, {0, 1, 2, 3}, {0, 1, 2}})
    ->ArgsProduct({{64}, {14}, {0, 1, 2, 3}, {0, 1, 2}})
    ->ArgsProduct({{128}, {7}, {0, 1, 2, 3}, {0, 1, 2}});

// ---- SiLU forward and its gradient factor on [64, 64, 28, 28] (the logistic function's exp) ----

void BM_silu_and_grad(benchmark::State& state) {
  Tensor x = randn({64, 64, 28, 28}, 18);
  for (auto _ : state) {
    Tensor y = T::unary(T::UnaryOp::silu, x);
    Tensor d = T::unary(T::UnaryOp::silu_grad, x);
    benchmark::DoNotOptimize(y.raw_data());
    benchmark::DoNotOptimize(d.raw_data());
  }
  state.SetBytesProcessed(int64_t(state.iterations()) * 2 * int64_t(x.nbytes()));
}
WALL_BENCHMARK(BM_silu_and_grad, kMillisecond);

// ---- group_norm on [64, 64, 28, 28], 32 groups, affine ----

struct NormSetup {
  Tensor x = randn({64, 64, 28, 28}, 7), w = randn({64}, 8), b = randn({64}, 9);
  Tensor gout = randn({64, 64, 28, 28}, 10);
};

void BM_group_norm_forward(benchmark::State& state) {
  NormSetup s;
  for (auto _ : state) {
    auto out = T::group_norm(s.x, 32, s.w, s.b, 1e-5);
    benchmark::DoNotOptimize(out.y.raw_data());
  }
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(s.x.nbytes()));
}
WALL_BENCHMARK(BM_group_norm_forward, kMillisecond);

void BM_group_norm_forward_backward(benchmark::State& state) {
  NormSetup s;
  Var x(s.x, true), w(s.w, true), b(s.b, true), gout(s.gout);
  for (auto _ : state) {
    Var y = ag::group_norm(x, 32, w, b, 1e-5);
    auto g = ag::grad({y}, {x, w, b}, {gout});
    benchmark::DoNotOptimize(g[0].value().raw_data());
  }
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(s.x.nbytes()));
}
WALL_BENCHMARK(BM_group_norm_forward_backward, kMillisecond);

// silu(group_norm(x)) forward and backward: as two nodes (arg 0) or fused (arg 1).
void BM_group_norm_silu_forward_backward(benchmark::State& state) {
  NormSetup s;
  Var x(s.x, true), w(s.w, true), b(s.b, true), gout(s.gout);
  const bool fused = state.range(0) == 1;
  for (auto _ : state) {
    Var y = fused ? ag::group_norm_silu(x, 32, w, b, 1e-5)
                  : ag::silu(ag::group_norm(x, 32, w, b, 1e-5));
    auto g = ag::grad({y}, {x, w, b}, {gout});
    benchmark::DoNotOptimize(g[0].value().raw_data());
  }
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(s.x.nbytes()));
}
WALL_BENCHMARK(BM_group_norm_silu_forward_backward, kMillisecond)->Arg(0)->Arg(1);

// ---- elementwise chain: sum(silu(x * a + b)), a and b per-channel (broadcast) ----

void BM_elementwise_chain(benchmark::State& state) {
  Tensor x = randn({64, 64, 28, 28}, 11), a = randn({64, 1, 1}, 12), b = randn({64, 1, 1}, 13);
  for (auto _ : state) {
    Tensor y = T::unary(T::UnaryOp::silu,
                        T::binary(T::BinaryOp::add, T::binary(T::BinaryOp::mul, x, a), b));
    Tensor s = T::sum(y, {});
    benchmark::DoNotOptimize(s.raw_data());
  }
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(x.nbytes()));
}
WALL_BENCHMARK(BM_elementwise_chain, kMillisecond);

// ---- backward of a small MLP: plain vs recorded (create_graph) ----
// The forward runs once outside the loop with the graph retained; each iteration is one
// backward pass, so the difference between the two is the cost of recording the backward.

struct MlpSetup {
  std::vector<Var> params;
  Var loss;
  explicit MlpSetup(int64_t batch = 128, int64_t width = 256, int layers = 3) {
    Var h(randn({batch, width}, 20));
    for (int l = 0; l < layers; ++l) {
      Var w(T::affine(randn({width, width}, 21 + l), 1.0 / 16.0, 0.0), true);
      Var b(randn({width}, 31 + l), true);
      params.push_back(w);
      params.push_back(b);
      h = ag::silu(ag::linear(h, w, b));
    }
    loss = ag::sum(ag::square(h));
  }
};

void mlp_backward(benchmark::State& state, bool create_graph) {
  MlpSetup s;
  for (auto _ : state) {
    auto g = ag::grad({s.loss}, s.params, {}, create_graph, /*allow_unused=*/false,
                      /*retain_graph=*/true);
    benchmark::DoNotOptimize(g[0].value().raw_data());
  }
}
void BM_mlp_backward(benchmark::State& state) { mlp_backward(state, false); }
void BM_mlp_backward_create_graph(benchmark::State& state) { mlp_backward(state, true); }
WALL_BENCHMARK(BM_mlp_backward, kMicrosecond);
WALL_BENCHMARK(BM_mlp_backward_create_graph, kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
