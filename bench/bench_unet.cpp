// The default U-Net (the PyTorch reference architecture, 994,593 parameters) at batch 64, 28x28:
// one Adam training step (eps-MSE on x + eps, as ../shared/reference/torch_unet_anchor.py times
// it) and the no-grad forward of the sampler's inner loop.
#include <benchmark/benchmark.h>

#include "autograd/functions.h"
#include "autograd/grad_mode.h"
#include "nn/optim.h"
#include "nn/unet.h"
#include "tensor/ops.h"
#include "tensor/random.h"

using namespace difflab;
using ag::Var;

namespace {

struct Setup {
  tensor::Generator gen{0};
  nn::UNet model{nn::UNetConfig{}, &gen};
  tensor::Tensor x = tensor::randn({64, 1, 28, 28}, tensor::DType::f32, &gen);
};

void BM_unet_train_step(benchmark::State& state) {
  Setup s;
  nn::AdamOptions ao;
  ao.lr = 2e-4;
  nn::Adam opt(s.model.parameters(), ao);
  for (auto _ : state) {
    tensor::Tensor t = tensor::uniform({64}, 0, 1000, tensor::DType::f32, &s.gen);
    tensor::Tensor eps = tensor::randn({64, 1, 28, 28}, tensor::DType::f32, &s.gen);
    Var out = s.model.forward(Var(tensor::binary(tensor::BinaryOp::add, s.x, eps)), t);
    Var loss = ag::mean(ag::square(ag::sub(out, Var(eps))));
    opt.zero_grad();
    loss.backward();
    opt.step();
    benchmark::DoNotOptimize(loss.value().raw_data());
  }
}
BENCHMARK(BM_unet_train_step)->Unit(benchmark::kMillisecond)->UseRealTime()->MeasureProcessCPUTime();

void BM_unet_forward_nograd(benchmark::State& state) {
  Setup s;
  ag::NoGradGuard ng;
  for (auto _ : state) {
    tensor::Tensor t = tensor::uniform({64}, 0, 1000, tensor::DType::f32, &s.gen);
    Var out = s.model.forward(Var(s.x), t);
    benchmark::DoNotOptimize(out.value().raw_data());
  }
}
BENCHMARK(BM_unet_forward_nograd)->Unit(benchmark::kMillisecond)->UseRealTime()->MeasureProcessCPUTime();

}  // namespace

BENCHMARK_MAIN();
