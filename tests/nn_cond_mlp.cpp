// The conditional MLP of consistency models (nn/cond_mlp.h): parameter names and shapes, the
// condition and the noise level reaching the output, input errors, and an f64 gradcheck with
// respect to x and the condition (MLGD-F differentiates samples with respect to c).
#include <boost/test/unit_test.hpp>
#include <cmath>

#include "autograd/functions.h"
#include "autograd/gradcheck.h"
#include "nn/cond_mlp.h"
#include "tensor/factory.h"
#include "tensor/random.h"
#include "tests/support/check_message.h"

using namespace difflab;
using ag::Var;
using difflab::testing::message_has;
using tensor::DType;
using tensor::Tensor;

namespace {

nn::CondMLPConfig small_config() {
  nn::CondMLPConfig c;
  c.dim = 2;
  c.cond_dim = 3;
  c.hidden = 8;
  c.blocks = 2;
  c.time_embed_dim = 4;
  return c;
}

double max_abs_diff(const Tensor& a, const Tensor& b) {
  auto va = a.to(DType::f64).contiguous().to_vector<double>();
  auto vb = b.to(DType::f64).contiguous().to_vector<double>();
  double m = 0;
  for (size_t i = 0; i < va.size(); ++i) m = std::max(m, std::abs(va[i] - vb[i]));
  return m;
}

}  // namespace

BOOST_AUTO_TEST_CASE(cond_mlp_parameter_names_and_shapes) {
  tensor::Generator g(1);
  nn::CondMLP net(small_config(), &g);
  const auto named = net.named_parameters();
  std::vector<std::string> names;
  for (const auto& [n, p] : named) names.push_back(n);
  const std::vector<std::string> expect{
      "temb.mlp.0.weight",   "temb.mlp.0.bias",   "temb.mlp.2.weight",  "temb.mlp.2.bias",
      "cond_emb.weight",     "cond_emb.bias",     "layers.0.fc.weight", "layers.0.fc.bias",
      "layers.0.emb.weight", "layers.0.emb.bias", "layers.1.fc.weight", "layers.1.fc.bias",
      "layers.1.emb.weight", "layers.1.emb.bias", "out.weight",         "out.bias"};
  BOOST_TEST(names == expect, boost::test_tools::per_element());
  BOOST_TEST(net.state_dict().at("cond_emb.weight").shape() == (tensor::Shape{16, 3}),
             boost::test_tools::per_element());
  BOOST_TEST(net.state_dict().at("layers.0.fc.weight").shape() == (tensor::Shape{8, 2}),
             boost::test_tools::per_element());
  BOOST_TEST(net.state_dict().at("layers.1.emb.weight").shape() == (tensor::Shape{8, 16}),
             boost::test_tools::per_element());

  nn::CondMLPConfig unc = small_config();
  unc.cond_dim = 0;
  nn::CondMLP u(unc, &g);
  BOOST_TEST(u.state_dict().count("cond_emb.weight") == 0u);
  Var out = u.forward(Var(tensor::randn({5, 2}, DType::f32, &g)),
                      tensor::full({5}, 1.0, DType::f32), Var());
  BOOST_TEST(out.shape() == (tensor::Shape{5, 2}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(cond_mlp_output_depends_on_condition_and_sigma) {
  tensor::Generator g(2);
  nn::CondMLP net(small_config(), &g);
  const Var x(tensor::randn({4, 2}, DType::f32, &g));
  const Var c1(tensor::randn({4, 3}, DType::f32, &g)), c2(tensor::randn({4, 3}, DType::f32, &g));
  const Tensor s1 = tensor::full({4}, 0.5, DType::f32), s2 = tensor::full({4}, 5.0, DType::f32);
  const Tensor base = net.forward(x, s1, c1).value();
  BOOST_TEST(max_abs_diff(base, net.forward(x, s1, c1).value()) == 0.0);
  BOOST_TEST(max_abs_diff(base, net.forward(x, s1, c2).value()) > 1e-4);
  BOOST_TEST(max_abs_diff(base, net.forward(x, s2, c1).value()) > 1e-4);
}

BOOST_AUTO_TEST_CASE(cond_mlp_rejects_bad_inputs) {
  tensor::Generator g(3);
  nn::CondMLP net(small_config(), &g);
  const Var x(tensor::randn({4, 2}, DType::f32, &g));
  const Tensor s = tensor::full({4}, 1.0, DType::f32);
  BOOST_CHECK_EXCEPTION(net.forward(x, s, Var(tensor::zeros({4, 2}))), Error, [](const Error& e) {
    return message_has(e, {"CondMLP: cond", "[4, 3]"});
  });
  BOOST_CHECK_EXCEPTION(net.forward(x, s, Var()), Error,
                        [](const Error& e) { return message_has(e, {"CondMLP: cond"}); });
  BOOST_CHECK_EXCEPTION(net.forward(x, tensor::zeros({4}), Var(tensor::zeros({4, 3}))), Error,
                        [](const Error& e) { return message_has(e, {"positive"}); });
  nn::CondMLPConfig bad = small_config();
  bad.blocks = 0;
  BOOST_CHECK_EXCEPTION(std::make_shared<nn::CondMLP>(bad, &g), Error,
                        [](const Error& e) { return message_has(e, {"blocks=0"}); });
}

BOOST_AUTO_TEST_CASE(cond_mlp_gradcheck_f64_in_x_and_condition) {
  tensor::Generator g(4);
  nn::CondMLP net(small_config(), &g);
  net.to(DType::f64);
  const Tensor s = tensor::from_vector(std::vector<double>{0.01, 0.3, 2.0}, {3}, DType::f64);
  Var x(tensor::randn({3, 2}, DType::f64, &g), true),
      c(tensor::randn({3, 3}, DType::f64, &g), true);
  auto r = ag::gradcheck([&](const std::vector<Var>& in) { return net.forward(in[0], s, in[1]); },
                         {x, c});
  BOOST_TEST(r.ok, r.message);
  BOOST_TEST(r.checked == 15);
}

namespace {

// An 8×8 one-channel image condition through the convolutional encoder (4 features).
nn::CondMLPConfig image_config() {
  nn::CondMLPConfig c = small_config();
  nn::CondEncoderConfig e;
  e.height = 8, e.width = 8, e.features = 4, e.dropout = 0.0;
  c.encoder = e;
  c.cond_dim = e.input_dim();
  return c;
}

}  // namespace

BOOST_AUTO_TEST_CASE(cond_mlp_image_encoder_names_shapes_and_errors) {
  tensor::Generator g(5);
  nn::CondMLP net(image_config(), &g);
  const auto sd = net.state_dict();
  BOOST_TEST(sd.at("cond_enc.conv1.weight").shape() == (tensor::Shape{32, 1, 3, 3}),
             boost::test_tools::per_element());
  BOOST_TEST(sd.at("cond_enc.conv4.weight").shape() == (tensor::Shape{64, 64, 3, 3}),
             boost::test_tools::per_element());
  BOOST_TEST(sd.at("cond_enc.out.weight").shape() == (tensor::Shape{4, 64 * 2 * 2}),
             boost::test_tools::per_element());
  BOOST_TEST(sd.at("cond_emb.weight").shape() == (tensor::Shape{16, 4}),
             boost::test_tools::per_element());
  const Var x(tensor::randn({3, 2}, DType::f32, &g));
  const Tensor s = tensor::full({3}, 1.0, DType::f32);
  const Var c1(tensor::randn({3, 64}, DType::f32, &g)), c2(tensor::randn({3, 64}, DType::f32, &g));
  BOOST_TEST(max_abs_diff(net.forward(x, s, c1).value(), net.forward(x, s, c2).value()) > 1e-5);
  BOOST_CHECK_EXCEPTION(net.forward(x, s, Var(tensor::zeros({3, 63}))), Error, [](const Error& e) {
    return message_has(e, {"CondMLP: cond", "64"});
  });
  nn::CondMLPConfig bad = image_config();
  bad.cond_dim = 10;
  BOOST_CHECK_EXCEPTION(std::make_shared<nn::CondMLP>(bad, &g), Error, [](const Error& e) {
    return message_has(e, {"cond_dim=10", "64"});
  });
  bad = image_config();
  bad.encoder->height = 6;
  bad.cond_dim = 48;
  BOOST_CHECK_EXCEPTION(std::make_shared<nn::CondMLP>(bad, &g), Error,
                        [](const Error& e) { return message_has(e, {"divisible by 4"}); });
}

// MLGD-F moves the image: the sample's gradient with respect to every pixel of the condition
// must be right (f64 finite differences through conv, GroupNorm+SiLU, pooling and the MLP).
BOOST_AUTO_TEST_CASE(cond_mlp_image_encoder_gradcheck_f64) {
  tensor::Generator g(6);
  nn::CondMLP net(image_config(), &g);
  net.to(DType::f64);
  const Tensor s = tensor::from_vector(std::vector<double>{0.05, 1.5}, {2}, DType::f64);
  Var x(tensor::randn({2, 2}, DType::f64, &g), true),
      c(tensor::randn({2, 64}, DType::f64, &g), true);
  auto r = ag::gradcheck([&](const std::vector<Var>& in) { return net.forward(in[0], s, in[1]); },
                         {x, c});
  BOOST_TEST(r.ok, r.message);
  BOOST_TEST(r.checked == 2 * 2 + 2 * 64);
}
