// The default U-Net, Adam, EMA and gradient clipping on CUDA against the CPU, and the CUDA
// allocator over training steps (live bytes back to baseline, MemoryScope's peak). Skipped,
// with the reason, where no GPU can be used.
#include <boost/test/unit_test.hpp>
#include <memory>

#include "autograd/engine.h"
#include "autograd/functions.h"
#include "autograd/inspect.h"
#include "nn/clip.h"
#include "nn/ema.h"
#include "nn/optim.h"
#include "nn/unet.h"
#include "tensor/allocator.h"
#include "tensor/factory.h"
#include "tensor/random.h"
#include "tests/support/parity.h"

using namespace difflab;
using tensor::Device;
using tensor::DType;
using tensor::Tensor;
namespace dt = difflab::testing;
namespace utf = boost::unit_test;

namespace {

const Device kGpu = Device::cuda(0);

// Mean squared output of the U-Net on a fixed batch: a scalar loss for gradient checks.
ag::Var unet_loss(const nn::UNet& net, const Tensor& x, const Tensor& t, const Device& d) {
  ag::Var y = net.forward(ag::Var(x.to(d)), t.to(d));
  return ag::mean(ag::square(y), {});
}

struct Batch {
  Tensor x, t;
};

Batch make_batch(int64_t b, uint64_t seed) {
  tensor::Generator gen(seed);
  return {tensor::randn({b, 1, 28, 28}, DType::f32, &gen),
          tensor::uniform({b}, 0.0, 999.0, DType::f32, &gen)};
}

}  // namespace

BOOST_AUTO_TEST_CASE(default_unet_forward_and_gradients, *utf::precondition(dt::CudaAvailable())) {
  tensor::Generator g1(11), g2(11);
  nn::UNet cpu_net(nn::UNetConfig{}, &g1), gpu_net(nn::UNetConfig{}, &g2);
  gpu_net.to(kGpu);
  BOOST_TEST(gpu_net.device() == kGpu);
  Batch b = make_batch(4, 5);
  ag::Var lc = unet_loss(cpu_net, b.x, b.t, Device::cpu());
  ag::Var lg = unet_loss(gpu_net, b.x, b.t, kGpu);
  BOOST_TEST(dt::scaled_max_diff(lg.value(), lc.value()) < 1e-4);
  auto pc = cpu_net.named_parameters(), pg = gpu_net.named_parameters();
  auto gc = ag::grad({lc}, cpu_net.parameters()), gg = ag::grad({lg}, gpu_net.parameters());
  BOOST_REQUIRE(gc.size() == gg.size());
  for (size_t i = 0; i < gc.size(); ++i) {
    BOOST_TEST(gg[i].value().device() == kGpu);
    double d = dt::scaled_max_diff(gg[i].value(), gc[i].value());
    BOOST_CHECK_MESSAGE(d < 2e-4, pc[i].first << ": gradient differs by " << d);
  }
}

BOOST_AUTO_TEST_CASE(adam_ema_clip_match_cpu, *utf::precondition(dt::CudaAvailable())) {
  tensor::Generator gen(3);
  Tensor w0 = tensor::randn({257, 3}, DType::f64, &gen);
  ag::Var wc(w0.clone(), true), wg(w0.to(kGpu), true);
  nn::AdamOptions o;
  o.lr = 1e-2;
  o.weight_decay = 0.1;
  nn::AdamW oc({wc}, o), og({wg}, o);
  nn::Ema ec({{"w", wc}}, {0.9, true, true}), eg({{"w", wg}}, {0.9, true, true});
  for (int step = 0; step < 5; ++step) {
    Tensor target = tensor::randn({257, 3}, DType::f64, &gen);
    for (auto* p : {&wc, &wg}) {
      ag::Var l = ag::sum(ag::square(ag::sub(*p, ag::Var(target.to(p->value().device())))), {});
      p->zero_grad();
      l.backward();
    }
    const double nc = nn::clip_grad_norm_({wc}, 1.0), ng = nn::clip_grad_norm_({wg}, 1.0);
    BOOST_TEST(std::abs(nc - ng) <= 1e-9 * nc);
    oc.step();
    og.step();
    ec.update(0.9);
    eg.update(0.9);
    BOOST_TEST(dt::scaled_max_diff(wg.value(), wc.value()) < 1e-12);
  }
  ec.swap();
  eg.swap();
  BOOST_TEST(dt::scaled_max_diff(wg.value(), wc.value()) < 1e-12);
}

// A million-element parameter: grids of thousands of blocks in the Adam (AMSGrad, L2), AdamW,
// SGD (Nesterov) and EMA kernels, and the two-pass reduction in the gradient norm. f32, the
// training dtype, with f32 tolerances; f64 to rounding.
BOOST_AUTO_TEST_CASE(optimizers_and_ema_on_a_million_elements,
                     *utf::precondition(dt::CudaAvailable())) {
  for (DType d : {DType::f32, DType::f64}) {
    const double tol = d == DType::f32 ? 2e-5 : 1e-12;
    tensor::Generator gen(5);
    Tensor w0 = tensor::randn({1000, 1000}, d, &gen);
    std::vector<ag::Var> cpu, gpu;
    for (int i = 0; i < 3; ++i) {
      cpu.emplace_back(w0.clone(), true);
      gpu.emplace_back(w0.to(kGpu), true);
    }
    nn::AdamOptions ao;
    ao.lr = 1e-2, ao.weight_decay = 0.05, ao.amsgrad = true;
    nn::SGDOptions so;
    so.momentum = 0.9, so.nesterov = true, so.weight_decay = 1e-3;
    auto make = [&](std::vector<ag::Var>& v) {
      std::vector<std::unique_ptr<nn::Optimizer>> o;
      o.push_back(std::make_unique<nn::Adam>(std::vector<ag::Var>{v[0]}, ao));
      o.push_back(std::make_unique<nn::AdamW>(std::vector<ag::Var>{v[1]}, ao));
      o.push_back(std::make_unique<nn::SGD>(std::vector<ag::Var>{v[2]}, so));
      return o;
    };
    auto oc = make(cpu), og = make(gpu);
    nn::Ema ec({{"w", cpu[0]}}, {0.99, true, true}), eg({{"w", gpu[0]}}, {0.99, true, true});
    for (int step = 0; step < 3; ++step) {
      Tensor target = tensor::randn({1000, 1000}, d, &gen);
      for (auto* side : {&cpu, &gpu}) {
        for (auto& p : *side) {
          ag::Var t(target.to(p.value().device()));
          p.zero_grad();
          ag::sum(ag::square(ag::sub(p, t)), {}).backward();
        }
      }
      const double nc = nn::clip_grad_norm_(cpu, 100.0), ng = nn::clip_grad_norm_(gpu, 100.0);
      BOOST_TEST(std::abs(nc - ng) <= tol * nc);
      for (size_t i = 0; i < oc.size(); ++i) {
        oc[i]->step();
        og[i]->step();
      }
      ec.update(0.99);
      eg.update(0.99);
      for (size_t i = 0; i < cpu.size(); ++i)
        BOOST_TEST(dt::scaled_max_diff(gpu[i].value(), cpu[i].value()) < tol, "parameter " << i);
    }
    ec.swap();
    eg.swap();
    BOOST_TEST(dt::scaled_max_diff(gpu[0].value(), cpu[0].value()) < tol);
  }
}

BOOST_AUTO_TEST_CASE(training_steps_release_memory, *utf::precondition(dt::CudaAvailable())) {
  tensor::Generator gen(4);
  nn::UNetConfig cfg;
  cfg.base_channels = 16;
  nn::UNet net(cfg, &gen);
  net.to(kGpu);
  nn::Adam opt(net.parameters(), nn::AdamOptions{});
  Batch b = make_batch(8, 6);
  auto step = [&] {
    opt.zero_grad();
    unet_loss(net, b.x, b.t, kGpu).backward();
    opt.step();
  };
  step();  // allocates the optimizer state and the gradients
  const size_t after_first = tensor::memory_stats(kGpu).live_bytes;
  size_t peak = 0;
  {
    ag::MemoryScope scope(kGpu);
    step();
    peak = scope.peak_bytes();
    BOOST_TEST(scope.live_delta() == 0);
  }
  BOOST_TEST(tensor::memory_stats(kGpu).live_bytes == after_first);
  // The step held activations beyond the parameters' state: more than the batch itself.
  BOOST_TEST(peak > size_t(b.x.nbytes()));
  BOOST_TEST_MESSAGE("U-Net(16) batch 8 training step on cuda: peak " << peak << " bytes above "
                                                                      << after_first);
}

BOOST_AUTO_TEST_CASE(random_streams_match_cpu, *utf::precondition(dt::CudaAvailable())) {
  for (DType d : {DType::f32, DType::f64}) {
    tensor::Generator a(123, 7), b(123, 7);
    Tensor uc = tensor::rand({1001}, d, &a), ug = tensor::rand({1001}, d, &b, kGpu);
    BOOST_TEST(dt::scaled_max_diff(ug, uc) == 0.0);
    BOOST_TEST(a.offset() == b.offset());
    Tensor nc = tensor::randn({3, 333}, d, &a), ng = tensor::randn({3, 333}, d, &b, kGpu);
    BOOST_TEST(dt::scaled_max_diff(ng, nc) < (d == DType::f32 ? 1e-5 : 1e-12));
    BOOST_TEST(a.offset() == b.offset());
  }
  tensor::Generator a(9), b(9);
  Tensor ic = tensor::randint(-3, 17, {999}, &a), ig = tensor::randint(-3, 17, {999}, &b, kGpu);
  BOOST_TEST(dt::scaled_max_diff(ig, ic) == 0.0);
}
