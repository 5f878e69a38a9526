// LoRA adapters on Linear and Conv2d: the adapted model starts at the base model, only A and B
// train, a step moves only them, and merging folds the update into the base weight exactly.
#include <boost/test/unit_test.hpp>
#include <cmath>

#include "autograd/engine.h"
#include "autograd/functions.h"
#include "autograd/grad_mode.h"
#include "nn/lora.h"
#include "nn/unet.h"
#include "tensor/factory.h"
#include "tensor/ops.h"
#include "tensor/random.h"
#include "tests/support/check_message.h"

using namespace difflab;
using ag::Var;
using difflab::testing::message_has;
using tensor::DType;
using tensor::Tensor;

namespace {
double max_abs_diff(const Tensor& a, const Tensor& b) {
  BOOST_REQUIRE(a.shape() == b.shape());
  auto va = a.to(DType::f64).contiguous().to_vector<double>();
  auto vb = b.to(DType::f64).contiguous().to_vector<double>();
  double m = 0;
  for (size_t i = 0; i < va.size(); ++i) m = std::max(m, std::abs(va[i] - vb[i]));
  return m;
}
double max_abs(const Tensor& a) { return max_abs_diff(a, tensor::zeros_like(a)); }

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// A small U-Net: Linear layers (time embedding, ResBlock.t) and Conv2d layers of every kind
// (3x3, stride-2, 1x1 in attention and skips).
nn::UNetConfig small_config() {
  nn::UNetConfig c;
  c.base_channels = 8;
  c.channel_mults = {1, 2};
  c.image_size = 8;
  c.norm_groups = 4;
  return c;
}

void set_random_b(nn::Module& root, uint64_t seed) {
  tensor::Generator g(seed);
  for (auto& [n, p] : root.named_parameters())
    if (ends_with(n, ".lora.B") || n == "lora.B")
      p.value().copy_(tensor::affine(tensor::randn(p.shape(), p.dtype(), &g), 0.1, 0.0));
}
}  // namespace

BOOST_AUTO_TEST_CASE(linear_lora_is_base_plus_scaled_low_rank_update) {
  tensor::Generator gen(1);
  nn::Linear lin(6, 5, true, &gen);
  lin.to(DType::f64);
  Tensor x = tensor::randn({4, 6}, DType::f64, &gen);
  Tensor base = lin.forward(Var(x)).value();
  auto lora = nn::add_lora(lin, {2, 8.0}, &gen);
  BOOST_TEST(lora->scale() == 4.0);
  BOOST_TEST(lora->A().shape() == (tensor::Shape{2, 6}));
  BOOST_TEST(lora->B().shape() == (tensor::Shape{5, 2}));
  BOOST_TEST(lora->A().dtype() == DType::f64);  // follows the base weight's dtype
  BOOST_TEST(max_abs_diff(lin.forward(Var(x)).value(), base) == 0.0);  // B = 0 at init
  BOOST_TEST(!lin.weight().requires_grad());
  BOOST_TEST(!lin.bias().requires_grad());
  auto names = lin.named_parameters(true);
  BOOST_REQUIRE(names.size() == 2u);
  BOOST_TEST(names[0].first == "lora.A");
  BOOST_TEST(names[1].first == "lora.B");
  set_random_b(lin, 2);
  // y = W x + b + (α/r)·B A x
  Tensor direct = tensor::binary(
      tensor::BinaryOp::add, base,
      tensor::affine(tensor::matmul(tensor::matmul(x, lora->A().value().transpose(0, 1)),
                                    lora->B().value().transpose(0, 1)),
                     4.0, 0.0));
  Tensor adapted = lin.forward(Var(x)).value();
  BOOST_TEST(max_abs_diff(adapted, direct) < 1e-12);
  BOOST_TEST(max_abs_diff(adapted, base) > 1e-3);
  lora->merge();
  BOOST_TEST(max_abs_diff(lin.forward(Var(x)).value(), adapted) < 1e-12);
  BOOST_CHECK_EXCEPTION(lora->merge(), Error,
                        [](const Error& e) { return message_has(e, {"already merged"}); });
  BOOST_CHECK_EXCEPTION(nn::add_lora(lin, {}), Error, [](const Error& e) {
    return message_has(e, {"Linear(6->5)", "adapter"});
  });
}

BOOST_AUTO_TEST_CASE(conv_lora_uses_the_base_geometry_and_merges_exactly) {
  tensor::Generator gen(3);
  nn::Conv2d conv(3, 4, 3, 2, 1, 1, 1, true, &gen);  // stride 2, padding 1
  conv.to(DType::f64);
  Tensor x = tensor::randn({2, 3, 7, 6}, DType::f64, &gen);
  Tensor base = conv.forward(Var(x)).value();
  auto lora = nn::add_lora(conv, {2, 2.0}, &gen);
  BOOST_TEST(lora->A().shape() == (tensor::Shape{2, 3, 3, 3}));
  BOOST_TEST(lora->B().shape() == (tensor::Shape{4, 2, 1, 1}));
  BOOST_TEST(max_abs_diff(conv.forward(Var(x)).value(), base) == 0.0);
  set_random_b(conv, 4);
  Tensor adapted = conv.forward(Var(x)).value();
  BOOST_TEST(max_abs_diff(adapted, base) > 1e-3);
  Tensor w0 = conv.weight().value().clone();
  lora->merge();
  BOOST_TEST(max_abs_diff(conv.weight().value(),
                          tensor::binary(tensor::BinaryOp::add, w0, lora->delta_weight())) == 0.0);
  BOOST_TEST(max_abs_diff(conv.forward(Var(x)).value(), adapted) < 1e-12);
  nn::Conv2d grouped(4, 4, 3, 1, 1, 1, 2);
  BOOST_CHECK_EXCEPTION(nn::add_lora(grouped, {}), Error, [](const Error& e) {
    return message_has(e, {"Conv2d(4->4, k=3, padding=1, groups=2)", "groups = 1"});
  });
}

BOOST_AUTO_TEST_CASE(apply_lora_to_a_unet_trains_only_the_adapters) {
  tensor::Generator gen(5);
  nn::UNet net(small_config(), &gen);
  Tensor x = tensor::randn({2, 1, 8, 8}, DType::f32, &gen);
  Tensor t = tensor::from_vector<float>({10.f, 700.f}, {2});
  Tensor base_out;
  {
    ag::NoGradGuard ng;
    base_out = net.forward(Var(x), t).value();
  }
  const int64_t base_params = net.num_parameters();
  // Adapt the attention and ResBlock convolutions and the time-embedding Linears.
  auto adapted = nn::apply_lora(
      net, {4, 4.0},
      [](const std::string& p) {
        return p.find("attn.qkv") != std::string::npos || ends_with(p, ".c1") ||
               p.rfind("temb.mlp", 0) == 0;
      },
      &gen);
  BOOST_TEST_MESSAGE("adapted: " << adapted.size() << " layers");
  BOOST_TEST(std::count(adapted.begin(), adapted.end(), "mid.attn.qkv") == 1);
  BOOST_TEST(std::count(adapted.begin(), adapted.end(), "temb.mlp.0") == 1);
  BOOST_TEST(std::count(adapted.begin(), adapted.end(), "down.0.res.0.c1") == 1);
  BOOST_TEST(std::count(adapted.begin(), adapted.end(), "inp") == 0);
  BOOST_TEST(adapted.size() == 1u + 2u + 4u);  // mid attn; 2 temb Linears; c1 of 4 ResBlocks
  // Only A and B are trainable; the base is untouched in the state dict.
  auto trainable = net.named_parameters(true);
  BOOST_TEST(trainable.size() == 2 * adapted.size());
  for (auto& [n, p] : trainable)
    BOOST_TEST((ends_with(n, ".lora.A") || ends_with(n, ".lora.B")), n);
  BOOST_TEST(net.num_parameters() > base_params);
  {
    ag::NoGradGuard ng;
    BOOST_TEST(max_abs_diff(net.forward(Var(x), t).value(), base_out) == 0.0);
  }
  // One SGD step: only A and B move.
  nn::StateDict before;
  for (auto& [n, v] : net.state_dict()) before[n] = v.clone();
  Var out = net.forward(Var(x), t);
  ag::sum(ag::square(out)).backward();
  for (auto& [n, p] : net.named_parameters()) {
    if (!p.requires_grad()) {
      BOOST_TEST(!p.grad().defined(), n);
      continue;
    }
    BOOST_REQUIRE_MESSAGE(p.grad().defined(), n << " has no gradient");
    p.value().copy_(tensor::binary(tensor::BinaryOp::sub, p.value(),
                                   tensor::affine(p.grad().value(), 0.1, 0.0)));
  }
  int64_t moved_b = 0;
  for (auto& [n, v] : net.state_dict()) {
    const double d = max_abs_diff(v, before.at(n));
    if (ends_with(n, ".lora.B"))
      moved_b += d > 0;
    else if (!ends_with(n, ".lora.A"))
      BOOST_TEST(d == 0.0, n << " changed");
  }
  BOOST_TEST(moved_b == int64_t(adapted.size()));  // B's gradient is nonzero even though B = 0
  Tensor adapted_out;
  {
    ag::NoGradGuard ng;
    adapted_out = net.forward(Var(x), t).value();
    BOOST_TEST(max_abs_diff(adapted_out, base_out) > 0.0);
    // merge_lora folds every adapter into its base weight: same function, adapters inactive.
    BOOST_TEST(nn::merge_lora(net) == int64_t(adapted.size()));
    BOOST_TEST(net.named_parameters(true).empty());
    const double err = max_abs_diff(net.forward(Var(x), t).value(), adapted_out);
    BOOST_TEST(err < 1e-5 * std::max(1.0, max_abs(adapted_out)), "merge error " << err);
  }
  BOOST_TEST(nn::merge_lora(net) == 0);
}

BOOST_AUTO_TEST_CASE(lora_follows_module_to_f64) {
  tensor::Generator gen(6);
  nn::UNet net(small_config(), &gen);
  nn::apply_lora(net, {2, 2.0}, {}, &gen);
  set_random_b(net, 7);
  net.to(DType::f64);
  for (auto& [n, p] : net.named_parameters()) BOOST_TEST((p.dtype() == DType::f64), n);
  Tensor x = tensor::randn({1, 1, 8, 8}, DType::f64, &gen);
  Tensor t = tensor::full({1}, 50.0, DType::f64);
  ag::NoGradGuard ng;
  Tensor before = net.forward(Var(x), t).value();
  nn::merge_lora(net);  // the adapters' base-weight handles see the converted weights
  BOOST_TEST(max_abs_diff(net.forward(Var(x), t).value(), before) < 1e-10);
}
