// The default U-Net training step (Adam, eps-MSE, as bench_unet.cpp) and its no-grad forward
// on cuda:0 at batch 64 and 256, each iteration ending in synchronize() so Time is the GPU's.
// Compare with scripts/bench_cuda_torch.py on the same GPU. Without a GPU each case is
// reported as skipped with the reason.
#include <benchmark/benchmark.h>

#include "autograd/functions.h"
#include "autograd/grad_mode.h"
#include "nn/optim.h"
#include "nn/unet.h"
#include "tensor/ops.h"
#include "tensor/random.h"
#if DIFFLAB_HAVE_CUDA
#include "tensor/cuda/runtime.h"
#endif

using namespace difflab;
using ag::Var;
using tensor::Device;
using tensor::DType;

namespace {

const Device kGpu = Device::cuda(0);

bool skip_without_gpu(benchmark::State& state) {
  if (tensor::cuda_device_count() > 0) return false;
  state.SkipWithError(("no GPU: " + tensor::cuda_unavailable_reason()).c_str());
  return true;
}

void sync() {
#if DIFFLAB_HAVE_CUDA
  tensor::cuda::synchronize(0);
#endif
}

void BM_cuda_unet_train_step(benchmark::State& state) {
  if (skip_without_gpu(state)) return;
  const int64_t b = state.range(0);
  tensor::Generator gen(0);
  nn::UNet model(nn::UNetConfig{}, &gen);
  model.to(kGpu);
  tensor::Tensor x = tensor::randn({b, 1, 28, 28}, DType::f32, &gen, kGpu);
  nn::AdamOptions ao;
  ao.lr = 2e-4;
  nn::Adam opt(model.parameters(), ao);
  for (auto _ : state) {
    tensor::Tensor t = tensor::uniform({b}, 0, 1000, DType::f32, &gen, kGpu);
    tensor::Tensor eps = tensor::randn({b, 1, 28, 28}, DType::f32, &gen, kGpu);
    Var out = model.forward(Var(tensor::binary(tensor::BinaryOp::add, x, eps)), t);
    Var loss = ag::mean(ag::square(ag::sub(out, Var(eps))));
    opt.zero_grad();
    loss.backward();
    opt.step();
    sync();
  }
  state.SetItemsProcessed(state.iterations() * b);
}
BENCHMARK(BM_cuda_unet_train_step)->Arg(64)->Arg(256)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_cuda_unet_forward_nograd(benchmark::State& state) {
  if (skip_without_gpu(state)) return;
  const int64_t b = state.range(0);
  tensor::Generator gen(0);
  nn::UNet model(nn::UNetConfig{}, &gen);
  model.to(kGpu);
  tensor::Tensor x = tensor::randn({b, 1, 28, 28}, DType::f32, &gen, kGpu);
  ag::NoGradGuard ng;
  for (auto _ : state) {
    tensor::Tensor t = tensor::uniform({b}, 0, 1000, DType::f32, &gen, kGpu);
    Var out = model.forward(Var(x), t);
    sync();
  }
  state.SetItemsProcessed(state.iterations() * b);
}
BENCHMARK(BM_cuda_unet_forward_nograd)->Arg(64)->Arg(256)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
