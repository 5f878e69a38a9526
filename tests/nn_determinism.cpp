// One U-Net training step (forward, loss, backward through autograd, Adam) gives the same bits
// at 1, 2 and 3 threads: issue 9's "same seed and config give bit-identical weights across 1 and
// 2 threads on CPU". It passes through every CPU kernel of training — convolutions and their
// gradients, attention's batched matmuls, linear layers, group norm, reductions — so any kernel
// whose result depends on the thread count shows up here (tests/tensor_determinism.cpp checks
// the kernels one by one).
#include <boost/test/unit_test.hpp>
#include <cstring>
#include <string>
#include <vector>

#include "autograd/functions.h"
#include "nn/optim.h"
#include "nn/unet.h"
#include "tensor/factory.h"
#include "tensor/random.h"
#include "tensor/threads.h"

using namespace difflab;
using ag::Var;
using tensor::DType;
using tensor::Tensor;

namespace {

bool bit_equal(const Tensor& a, const Tensor& b) {
  Tensor ca = a.contiguous(), cb = b.contiguous();
  return ca.shape() == cb.shape() && ca.dtype() == cb.dtype() &&
         std::memcmp(ca.raw_data(), cb.raw_data(), ca.nbytes()) == 0;
}

struct StepResult {
  Tensor loss;
  std::vector<std::string> names;
  std::vector<Tensor> grads, params;
};

// A fresh model from a fixed seed, one step of ε-prediction-style regression on fixed data.
StepResult train_step(int threads) {
  tensor::set_num_threads(threads);
  nn::UNetConfig cfg;
  cfg.base_channels = 16;
  cfg.channel_mults = {1, 2};
  cfg.attention_resolutions = {16};  // attention at full resolution: [B, 256, 256] scores
  cfg.image_size = 16;
  cfg.norm_groups = 4;
  tensor::Generator init(11);
  nn::UNet net(cfg, &init);
  tensor::Generator data(12);
  Tensor x = tensor::randn({4, 1, 16, 16}, DType::f32, &data);
  Tensor target = tensor::randn({4, 1, 16, 16}, DType::f32, &data);
  Tensor t = tensor::uniform({4}, 0.0, 1000.0, DType::f32, &data);

  auto named = net.named_parameters();
  std::vector<Var> params;
  for (auto& [name, p] : named) params.push_back(p);
  nn::Adam opt(params, nn::AdamOptions{.lr = 1e-2});
  Var loss = ag::mean(ag::square(net.forward(Var(x), t) - Var(target)));
  loss.backward();
  StepResult r;
  r.loss = loss.value().clone();
  for (auto& [name, p] : named) {
    r.names.push_back(name);
    r.grads.push_back(p.grad().value().clone());
  }
  opt.step();
  for (auto& [name, p] : named) r.params.push_back(p.value().clone());
  return r;
}

}  // namespace

BOOST_AUTO_TEST_CASE(unet_training_step_bit_identical_across_threads) {
  const int saved = tensor::get_num_threads();
  const StepResult one = train_step(1);
  BOOST_REQUIRE(!one.params.empty());
  for (int n : {2, 3}) {
    const StepResult other = train_step(n);
    BOOST_TEST(bit_equal(one.loss, other.loss), "loss at " << n << " threads differs from 1");
    BOOST_REQUIRE(other.names == one.names);
    for (size_t i = 0; i < one.names.size(); ++i) {
      BOOST_TEST(bit_equal(one.grads[i], other.grads[i]),
                 "gradient of " << one.names[i] << " at " << n << " threads differs from 1");
      BOOST_TEST(bit_equal(one.params[i], other.params[i]),
                 one.names[i] << " after the Adam step at " << n << " threads differs from 1");
    }
  }
  tensor::set_num_threads(saved);
}
