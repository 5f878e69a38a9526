// nn layers against direct computations, Module naming and loading, train/eval, and f64
// gradchecks of the U-Net's residual and attention blocks.
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <set>

#include "autograd/engine.h"
#include "autograd/functions.h"
#include "autograd/gradcheck.h"
#include "nn/attention.h"
#include "nn/layers.h"
#include "nn/mlp_score.h"
#include "nn/resblock.h"
#include "nn/time_embedding.h"
#include "tensor/factory.h"
#include "tensor/random.h"
#include "tests/support/check_message.h"
#include "tests/support/fixtures.h"

using namespace difflab;
using ag::Var;
using difflab::testing::message_has;
using tensor::DType;
using tensor::Tensor;

namespace {
Tensor randn64(const tensor::Shape& s, uint64_t seed) {
  tensor::Generator g(seed);
  return tensor::randn(s, DType::f64, &g);
}
double max_abs_diff(const Tensor& a, const Tensor& b) {
  BOOST_REQUIRE(a.shape() == b.shape());
  auto va = a.to(DType::f64).contiguous().to_vector<double>();
  auto vb = b.to(DType::f64).contiguous().to_vector<double>();
  double m = 0;
  for (size_t i = 0; i < va.size(); ++i) m = std::max(m, std::abs(va[i] - vb[i]));
  return m;
}
std::vector<double> vec(const Tensor& t) {
  return t.to(DType::f64).contiguous().to_vector<double>();
}
std::set<std::string> keys(const nn::StateDict& sd) {
  std::set<std::string> k;
  for (auto& [n, t] : sd) k.insert(n);
  return k;
}
}  // namespace

BOOST_AUTO_TEST_CASE(linear_matches_direct_product) {
  tensor::Generator gen(1);
  nn::Linear lin(4, 3, true, &gen);
  lin.to(DType::f64);
  Tensor x = randn64({2, 5, 4}, 2);
  Tensor y = lin.forward(Var(x)).value();
  BOOST_REQUIRE(y.shape() == (tensor::Shape{2, 5, 3}));
  auto w = vec(lin.weight().value()), b = vec(lin.bias().value()), xv = vec(x), yv = vec(y);
  double err = 0;
  for (int r = 0; r < 10; ++r)
    for (int o = 0; o < 3; ++o) {
      double s = b[o];
      for (int i = 0; i < 4; ++i) s += xv[r * 4 + i] * w[o * 4 + i];
      err = std::max(err, std::abs(s - yv[r * 3 + o]));
    }
  BOOST_TEST(err < 1e-12);
  // Default init: U(±1/√fan_in) for weight and bias.
  for (double v : w) BOOST_TEST(std::abs(v) <= 0.5);
  nn::Linear nob(4, 3, false);
  BOOST_TEST(nob.num_parameters() == 12);
  BOOST_TEST(!nob.bias().defined());
}

BOOST_AUTO_TEST_CASE(conv2d_matches_direct_loops) {
  tensor::Generator gen(3);
  // groups 2, stride 2, padding 1, dilation 2: every index path of the layer.
  nn::Conv2d conv(4, 6, 3, 2, 1, 2, 2, true, &gen);
  conv.to(DType::f64);
  BOOST_TEST(conv.num_parameters() == 6 * 2 * 9 + 6);
  const int N = 2, C = 4, H = 7, W = 6, CO = 6, K = 3, S = 2, P = 1, D = 2, G = 2;
  Tensor x = randn64({N, C, H, W}, 4);
  Tensor y = conv.forward(Var(x)).value();
  const int OH = (H + 2 * P - D * (K - 1) - 1) / S + 1, OW = (W + 2 * P - D * (K - 1) - 1) / S + 1;
  BOOST_REQUIRE(y.shape() == (tensor::Shape{N, CO, OH, OW}));
  auto xv = vec(x), wv = vec(conv.weight().value()), bv = vec(conv.bias().value()), yv = vec(y);
  const int cpg = C / G, opg = CO / G;
  double err = 0;
  for (int n = 0; n < N; ++n)
    for (int co = 0; co < CO; ++co)
      for (int oh = 0; oh < OH; ++oh)
        for (int ow = 0; ow < OW; ++ow) {
          double s = bv[co];
          const int g = co / opg;
          for (int ci = 0; ci < cpg; ++ci)
            for (int kh = 0; kh < K; ++kh)
              for (int kw = 0; kw < K; ++kw) {
                const int ih = oh * S - P + kh * D, iw = ow * S - P + kw * D;
                if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                s += xv[((n * C + g * cpg + ci) * H + ih) * W + iw] *
                     wv[((co * cpg + ci) * K + kh) * K + kw];
              }
          err = std::max(err, std::abs(s - yv[((n * CO + co) * OH + oh) * OW + ow]));
        }
  BOOST_TEST(err < 1e-12);
}

BOOST_AUTO_TEST_CASE(group_norm_and_layer_norm_match_direct_statistics) {
  nn::GroupNorm gn(2, 4, 1e-5);
  gn.to(DType::f64);
  // Non-trivial affine parameters.
  gn.load_state_dict({{"weight", randn64({4}, 5)}, {"bias", randn64({4}, 6)}});
  Tensor x = randn64({3, 4, 5}, 7);
  auto xv = vec(x), yv = vec(gn.forward(Var(x)).value());
  auto w = vec(gn.weight().value()), b = vec(gn.bias().value());
  double err = 0;
  for (int n = 0; n < 3; ++n)
    for (int g = 0; g < 2; ++g) {
      double m = 0, v = 0;
      for (int i = 0; i < 10; ++i) m += xv[n * 20 + g * 10 + i] / 10;
      for (int i = 0; i < 10; ++i) v += std::pow(xv[n * 20 + g * 10 + i] - m, 2) / 10;
      for (int i = 0; i < 10; ++i) {
        const int c = g * 2 + i / 5, idx = n * 20 + g * 10 + i;
        const double ref = (xv[idx] - m) / std::sqrt(v + 1e-5) * w[c] + b[c];
        err = std::max(err, std::abs(ref - yv[idx]));
      }
    }
  BOOST_TEST(err < 1e-12);

  nn::LayerNorm ln({5}, 1e-5);
  ln.to(DType::f64);
  auto ly = vec(ln.forward(Var(x)).value());
  err = 0;
  for (int r = 0; r < 12; ++r) {
    double m = 0, v = 0;
    for (int i = 0; i < 5; ++i) m += xv[r * 5 + i] / 5;
    for (int i = 0; i < 5; ++i) v += std::pow(xv[r * 5 + i] - m, 2) / 5;
    for (int i = 0; i < 5; ++i)
      err = std::max(err, std::abs((xv[r * 5 + i] - m) / std::sqrt(v + 1e-5) - ly[r * 5 + i]));
  }
  BOOST_TEST(err < 1e-12);
  BOOST_CHECK_EXCEPTION(ln.forward(Var(randn64({3, 4}, 1))), Error, [](const Error& e) {
    return message_has(e, {"LayerNorm([5])", "[3, 4]"});
  });
}

BOOST_AUTO_TEST_CASE(embedding_returns_rows_and_rejects_bad_indices) {
  tensor::Generator gen(8);
  nn::Embedding emb(5, 3, &gen);
  Tensor idx = tensor::from_vector<int64_t>({4, 0, 4}, {3});
  Tensor y = emb.forward(idx).value();
  BOOST_REQUIRE(y.shape() == (tensor::Shape{3, 3}));
  BOOST_TEST(max_abs_diff(y.select(0, 0), emb.weight().value().select(0, 4)) == 0.0);
  BOOST_TEST(max_abs_diff(y.select(0, 1), emb.weight().value().select(0, 0)) == 0.0);
  BOOST_CHECK_EXCEPTION(emb.forward(tensor::from_vector<int64_t>({5}, {1})), Error,
                        [](const Error& e) {
                          return message_has(e, {"Embedding(5, 3)", "index 5"});
                        });
}

BOOST_AUTO_TEST_CASE(dropout_follows_train_and_eval) {
  tensor::Generator gen(9);
  nn::Dropout drop(0.25, &gen);
  Tensor x = tensor::ones({4000});
  BOOST_TEST(drop.is_training());
  auto v = vec(drop.forward(Var(x)).value());
  int zeros = 0;
  for (double e : v) {
    BOOST_REQUIRE((e == 0.0 || std::abs(e - 1.0 / 0.75) < 1e-6));
    zeros += e == 0.0;
  }
  BOOST_TEST(zeros > 850);  // expected 1000, sd ~27
  BOOST_TEST(zeros < 1150);
  // Same seed, same mask.
  tensor::Generator g2(9);
  drop.set_generator(&g2);
  BOOST_TEST(max_abs_diff(drop.forward(Var(x)).value(),
                          tensor::from_vector(v, {4000}, DType::f32)) == 0.0);
  drop.eval();
  BOOST_TEST(max_abs_diff(drop.forward(Var(x)).value(), x) == 0.0);
  // eval() reaches nested modules.
  nn::ResBlock rb(8, 8, 4, 8, 0.5);
  rb.eval();
  for (auto& [n, c] : rb.named_children()) BOOST_TEST(!c->is_training());
}

BOOST_AUTO_TEST_CASE(time_embedding_features_follow_the_formula) {
  tensor::Generator gen(10);
  nn::SinusoidalTimeEmbedding te(8, &gen);
  Tensor t = tensor::from_vector<float>({0.f, 3.5f, 900.f}, {3});
  auto f = vec(te.features(t, DType::f64));
  const double tv[3] = {0, 3.5, 900};
  double err = 0;
  for (int r = 0; r < 3; ++r)
    for (int i = 0; i < 4; ++i) {
      const double e = tv[r] * std::exp(-std::log(10000.0) * i / 4.0);
      err = std::max(
          {err, std::abs(f[r * 8 + i] - std::sin(e)), std::abs(f[r * 8 + 4 + i] - std::cos(e))});
    }
  BOOST_TEST(err < 1e-12);
  BOOST_TEST(te.forward(t).shape() == (tensor::Shape{3, 32}));
  BOOST_TEST((keys(te.state_dict()) ==
              std::set<std::string>{"mlp.0.weight", "mlp.0.bias", "mlp.2.weight", "mlp.2.bias"}));
  BOOST_TEST(te.num_parameters() == 8 * 32 + 32 + 32 * 32 + 32);
}

BOOST_AUTO_TEST_CASE(resblock_names_counts_and_direct_composition) {
  tensor::Generator gen(11);
  nn::ResBlock rb(8, 16, 12, 8, 0.0, &gen);
  BOOST_TEST((keys(rb.state_dict()) ==
              std::set<std::string>{"n1.weight", "n1.bias", "c1.weight", "c1.bias", "t.weight",
                                    "t.bias", "n2.weight", "n2.bias", "c2.weight", "c2.bias",
                                    "skip.weight", "skip.bias"}));
  BOOST_TEST(rb.num_parameters() ==
             2 * 8 + 16 * 8 * 9 + 16 + 12 * 16 + 16 + 2 * 16 + 16 * 16 * 9 + 16 + 16 * 8 + 16);
  nn::ResBlock same(8, 8, 12);
  BOOST_TEST(!same.state_dict().count("skip.weight"));  // identity skip when cin == cout

  rb.to(DType::f64);
  auto sd = rb.state_dict();
  Var x(randn64({2, 8, 5, 4}, 12)), e(randn64({2, 12}, 13));
  auto P = [&](const std::string& k) { return Var(sd.at(k)); };
  tensor::Conv2dParams pad1;
  pad1.pad_h = pad1.pad_w = 1;
  Var h = ag::conv2d(ag::silu(ag::group_norm(x, 8, P("n1.weight"), P("n1.bias"))), P("c1.weight"),
                     P("c1.bias"), pad1);
  h = h + ag::reshape(ag::linear(e, P("t.weight"), P("t.bias")), {2, 16, 1, 1});
  h = ag::conv2d(ag::silu(ag::group_norm(h, 8, P("n2.weight"), P("n2.bias"))), P("c2.weight"),
                 P("c2.bias"), pad1);
  Var ref = h + ag::conv2d(x, P("skip.weight"), P("skip.bias"));
  BOOST_TEST(max_abs_diff(rb.forward(x, e).value(), ref.value()) < 1e-12);
  BOOST_CHECK_EXCEPTION(rb.forward(Var(randn64({2, 4, 5, 4}, 1)), e), Error, [](const Error& e) {
    return message_has(e, {"ResBlock(8->16", "[2, 4, 5, 4]"});
  });
  BOOST_CHECK_EXCEPTION(rb.forward(x, Var(randn64({2, 7}, 1))), Error, [](const Error& e) {
    return message_has(e, {"ResBlock(8->16", "embedding", "[2, 7]"});
  });
}

// The attention block against the PyTorch fixture of make_fixtures.py (same formula, groups 4).
BOOST_AUTO_TEST_CASE(attention_block_matches_torch_fixture) {
  auto f = difflab::testing::load_fixture(difflab::testing::fixture_path("attention.bin"));
  nn::AttentionBlock attn(8, 4);
  attn.to(DType::f64);
  attn.load_state_dict({{"n.weight", f.at("gn_w")},
                        {"n.bias", f.at("gn_b")},
                        {"qkv.weight", f.at("qkv_w")},
                        {"qkv.bias", f.at("qkv_b")},
                        {"o.weight", f.at("proj_w")},
                        {"o.bias", f.at("proj_b")}});
  Var x(f.at("x"), true);
  Var y = attn.forward(x);
  BOOST_TEST(max_abs_diff(y.value(), f.at("out")) < 1e-10);
  auto sd = attn.named_parameters();
  std::vector<Var> wrt{x};
  for (auto& [n, p] : sd) wrt.push_back(p);
  auto g = ag::grad({y}, wrt, {Var(f.at("gout"))});
  BOOST_TEST(max_abs_diff(g[0].value(), f.at("grad.x")) < 1e-9);
  const std::map<std::string, std::string> ref = {
      {"n.weight", "grad.gn_w"},  {"n.bias", "grad.gn_b"},     {"qkv.weight", "grad.qkv_w"},
      {"qkv.bias", "grad.qkv_b"}, {"o.weight", "grad.proj_w"}, {"o.bias", "grad.proj_b"}};
  for (size_t i = 0; i < sd.size(); ++i)
    BOOST_TEST(max_abs_diff(g[i + 1].value(), f.at(ref.at(sd[i].first))) < 1e-9, sd[i].first);
  BOOST_CHECK_EXCEPTION(attn.forward(Var(randn64({1, 4, 2, 2}, 1))), Error, [](const Error& e) {
    return message_has(e, {"AttentionBlock(8)", "[1, 4, 2, 2]"});
  });
}

BOOST_AUTO_TEST_CASE(state_dict_names_and_load_errors) {
  tensor::Generator gen(14);
  nn::AttentionBlock attn(8, 8, &gen);
  const std::set<std::string> expect{"n.weight", "n.bias",   "qkv.weight",
                                     "qkv.bias", "o.weight", "o.bias"};
  BOOST_TEST(keys(attn.state_dict()) == expect);
  BOOST_TEST(attn.num_parameters() == 16 + 24 * 8 + 24 + 64 + 8);

  auto sd = attn.state_dict();
  nn::StateDict bad = sd;
  bad["qkv.weight"] = tensor::zeros({24, 8});
  BOOST_CHECK_EXCEPTION(attn.load_state_dict(bad), Error, [](const Error& e) {
    return message_has(e, {"qkv.weight", "[24, 8]", "[24, 8, 1, 1]"});
  });
  nn::StateDict partial = sd;
  partial.erase("o.bias");
  partial["extra.weight"] = tensor::zeros({1});
  BOOST_CHECK_EXCEPTION(attn.load_state_dict(partial), Error, [](const Error& e) {
    return message_has(e, {"missing", "o.bias", "unexpected", "extra.weight"});
  });
  // Loading copies values in: a second block takes the first's weights and output.
  nn::AttentionBlock other(8, 8);
  other.load_state_dict(sd);
  Tensor x = tensor::randn({2, 8, 3, 3}, DType::f32, &gen);
  BOOST_TEST(max_abs_diff(other.forward(Var(x)).value(), attn.forward(Var(x)).value()) == 0.0);
}

BOOST_AUTO_TEST_CASE(same_seed_same_model) {
  tensor::Generator g1(15), g2(15), g3(16);
  nn::ResBlock a(8, 16, 4, 8, 0.0, &g1), b(8, 16, 4, 8, 0.0, &g2), c(8, 16, 4, 8, 0.0, &g3);
  auto sa = a.state_dict(), sb = b.state_dict(), sc = c.state_dict();
  BOOST_TEST(max_abs_diff(sa.at("c1.weight"), sb.at("c1.weight")) == 0.0);
  BOOST_TEST(max_abs_diff(sa.at("c1.weight"), sc.at("c1.weight")) > 0.0);
}

BOOST_AUTO_TEST_CASE(resblock_gradcheck_f64) {
  tensor::Generator gen(17);
  nn::ResBlock rb(4, 6, 3, 2, 0.0, &gen);
  rb.to(DType::f64);
  Var x(randn64({1, 4, 3, 3}, 18), true);
  Var e(randn64({1, 3}, 19), true);
  BOOST_REQUIRE(rb.named_parameters()[4].first == "t.weight");
  Var w = rb.named_parameters()[4].second;
  Var c1 = rb.named_parameters()[3].second;  // c1.bias
  BOOST_REQUIRE(rb.named_parameters()[3].first == "c1.bias");
  auto r = ag::gradcheck([&](const std::vector<Var>& in) { return rb.forward(in[0], in[1]); },
                         {x, e, w, c1});
  BOOST_TEST(r.ok, r.message);
  BOOST_TEST(r.checked == 36 + 3 + 18 + 6);
}

BOOST_AUTO_TEST_CASE(attention_gradcheck_f64) {
  tensor::Generator gen(20);
  nn::AttentionBlock attn(4, 2, &gen);
  attn.to(DType::f64);
  Var x(randn64({2, 4, 2, 3}, 21), true);
  auto params = attn.named_parameters();
  BOOST_REQUIRE(params[2].first == "qkv.weight");
  Var qkv = params[2].second;
  auto r = ag::gradcheck([&](const std::vector<Var>& in) { return attn.forward(in[0]); }, {x, qkv});
  BOOST_TEST(r.ok, r.message);
  BOOST_TEST(r.checked == 48 + 48);
}

BOOST_AUTO_TEST_CASE(mlp_score_net_shapes_labels_and_errors) {
  tensor::Generator gen(22);
  nn::MLPScoreNetConfig cfg;
  cfg.dim = 3;
  cfg.hidden = 16;
  cfg.depth = 2;
  cfg.time_embed_dim = 8;
  cfg.num_classes = 4;
  nn::MLPScoreNet net(cfg, &gen);
  const int64_t e = 32;
  BOOST_TEST(net.num_parameters() == (8 * e + e + e * e + e) + 5 * e + (3 * 16 + 16) +
                                         2 * (2 * (16 * 16 + 16) + e * 16 + 16) + (16 * 3 + 3));
  BOOST_TEST(net.state_dict().count("blocks.1.fc2.weight"));
  Tensor x = tensor::randn({5, 3}, DType::f32, &gen), t = tensor::rand({5}, DType::f32, &gen);
  Tensor lab = tensor::from_vector<int64_t>({0, 1, 2, 3, 4}, {5});
  Var y = net.forward(Var(x), t, lab);
  BOOST_TEST(y.shape() == (tensor::Shape{5, 3}));
  // No labels = the null class (row num_classes).
  Tensor null_lab = tensor::full({5}, 4.0, DType::i64);
  BOOST_TEST(max_abs_diff(net.forward(Var(x), t).value(),
                          net.forward(Var(x), t, null_lab).value()) == 0.0);
  BOOST_TEST(max_abs_diff(net.forward(Var(x), t).value(), y.value()) > 0.0);
  BOOST_CHECK_EXCEPTION(net.forward(Var(tensor::zeros({5, 2})), t), Error, [](const Error& e) {
    return message_has(e, {"MLPScoreNet", "[5, 2]", "[B, 3]"});
  });
  nn::MLPScoreNet uncond(nn::MLPScoreNetConfig{}, &gen);
  BOOST_CHECK_EXCEPTION(uncond.forward(Var(tensor::zeros({5, 2})), t, lab), Error,
                        [](const Error& e) { return message_has(e, {"unconditional"}); });
  // A gradient reaches every parameter.
  uncond.to(DType::f64);
  Var xs(randn64({4, 2}, 23));
  ag::sum(ag::square(uncond.forward(xs, tensor::full({4}, 10.0, DType::f64)))).backward();
  for (auto& [n, p] : uncond.named_parameters()) BOOST_TEST(p.grad().defined(), n);
}

BOOST_AUTO_TEST_CASE(layer_errors_name_the_layer) {
  nn::Linear lin(4, 3);
  BOOST_CHECK_EXCEPTION(lin.forward(Var(tensor::zeros({2, 5}))), Error, [](const Error& e) {
    return message_has(e, {"Linear(4->3)", "[2, 5]"});
  });
  BOOST_CHECK_EXCEPTION(lin.forward(Var(tensor::zeros({2, 4}, DType::f64))), Error,
                        [](const Error& e) {
                          return message_has(e, {"Linear(4->3)", "f64"});
                        });
  nn::Conv2d conv(3, 8, 3, 1, 1);
  BOOST_CHECK_EXCEPTION(conv.forward(Var(tensor::zeros({1, 2, 8, 8}))), Error, [](const Error& e) {
    return message_has(e, {"Conv2d(3->8, k=3, padding=1)", "[1, 2, 8, 8]"});
  });
  nn::GroupNorm gn(8, 32);
  BOOST_CHECK_EXCEPTION(gn.forward(Var(tensor::zeros({1, 16, 2, 2}))), Error, [](const Error& e) {
    return message_has(e, {"GroupNorm(8, 32)", "[1, 16, 2, 2]"});
  });
  BOOST_CHECK_EXCEPTION(nn::GroupNorm(3, 32), Error, [](const Error& e) {
    return message_has(e, {"groups=3", "channels=32"});
  });
}
