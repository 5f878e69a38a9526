// The default U-Net against PyTorch (tests/fixtures/unet_default.bin, written by
// make_unet_fixture.py from the reference model's code): output, every parameter gradient and
// the input gradient, in f32 and f64. Then the configurable parts: classes, 32×32×3, level
// attention, several res blocks, and input errors.
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <map>
#include <set>

#include "autograd/engine.h"
#include "autograd/functions.h"
#include "autograd/grad_mode.h"
#include "autograd/inspect.h"
#include "nn/lora.h"
#include "nn/optim.h"
#include "nn/unet.h"
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

// max |got − ref| / max |ref| (as tests/reference_torch.cpp).
double scaled_error(const Tensor& got, const Tensor& ref) {
  BOOST_REQUIRE_MESSAGE(got.shape() == ref.shape(), "shape " << tensor::shape_str(got.shape())
                                                             << " vs reference "
                                                             << tensor::shape_str(ref.shape()));
  auto g = got.to(DType::f64).contiguous().to_vector<double>();
  auto r = ref.to(DType::f64).contiguous().to_vector<double>();
  double diff = 0, scale = 0;
  for (size_t i = 0; i < r.size(); ++i) {
    if (std::isnan(g[i])) return INFINITY;
    diff = std::max(diff, std::abs(g[i] - r[i]));
    scale = std::max(scale, std::abs(r[i]));
  }
  return scale > 0 ? diff / scale : diff;
}

// The fixture script's hashed_uniform (make_unet_fixture.py): splitmix64 over
// fnv1a64(name) + (i + 1)·golden, top 53 bits, lo + (hi − lo)·u in f64, rounded to f32.
Tensor hashed_uniform(const std::string& name, const tensor::Shape& shape, double lo, double hi) {
  uint64_t seed = 0xCBF29CE484222325ull;
  for (unsigned char c : name) seed = (seed ^ c) * 0x100000001B3ull;
  Tensor t = Tensor::empty(shape, DType::f32);
  float* p = t.data<float>();
  for (int64_t i = 0; i < t.numel(); ++i) {
    uint64_t z = seed + uint64_t(i + 1) * 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    const double u = double(z >> 11) * 0x1p-53;
    p[i] = float(lo + (hi - lo) * u);
  }
  return t;
}

// The reference state dict: the names and shapes of the stored gradients, values from the hash.
nn::StateDict reference_weights(const testing::Fixture& f) {
  nn::StateDict sd;
  const std::string pre = "grad.";
  for (const auto& key : f.names()) {
    if (key.rfind(pre, 0) != 0 || key == "grad.x") continue;
    const std::string name = key.substr(pre.size());
    const std::string owner = name.substr(0, name.rfind('.'));
    const bool is_weight = name.substr(name.rfind('.') + 1) == "weight";
    const tensor::Shape& w = f.at(pre + owner + ".weight").shape();
    double lo, hi;
    if (w.size() >= 2) {
      int64_t fan = 1;
      for (size_t d = 1; d < w.size(); ++d) fan *= w[d];
      hi = 1.0 / std::sqrt(double(fan));
      lo = -hi;
    } else if (is_weight) {
      lo = 0.8, hi = 1.2;
    } else {
      lo = -0.2, hi = 0.2;
    }
    sd[name] = hashed_uniform(name, f.at(key).shape(), lo, hi);
  }
  return sd;
}

const testing::Fixture& fixture() {
  static const testing::Fixture f =
      testing::load_fixture(testing::fixture_path("unet_default.bin"));
  return f;
}

// Loads the fixture's weights into a default UNet and returns it.
std::shared_ptr<nn::UNet> reference_unet() {
  const auto& f = fixture();
  nn::StateDict ref = reference_weights(f);
  // The generator must agree with the script's: compare each parameter's first values.
  for (const auto& [name, t] : ref) {
    Tensor head = f.at("head." + name);
    BOOST_REQUIRE_MESSAGE(scaled_error(t.reshape({-1}).slice(0, 0, head.numel()), head) < 1e-6,
                          "hashed weights of " << name << " differ from the fixture's");
  }
  auto net = std::make_shared<nn::UNet>();
  net->load_state_dict(nn::unet_state_dict_from_reference(ref));  // strict: every key matches
  return net;
}

// Runs loss = sum(out · R) in `dtype`; checks out, d/dx and every parameter's gradient.
void check_parity(DType dtype, double tol_out, double tol_grad) {
  const auto& f = fixture();
  auto net = reference_unet();
  net->to(dtype);
  Var x(f.at("x").to(dtype), true);
  Var out = net->forward(x, f.at("t").to(dtype));
  const bool f64 = dtype == DType::f64;
  const double e_out = scaled_error(out.value(), f.at(f64 ? "out64" : "out"));
  BOOST_TEST_MESSAGE(tensor::dtype_name(dtype) << " output scaled error " << e_out);
  BOOST_TEST(e_out < tol_out);
  ag::sum(ag::mul(out, Var(f.at("R").to(dtype)))).backward();
  const double e_x = scaled_error(x.grad().value(), f.at(f64 ? "grad64.x" : "grad.x"));
  BOOST_TEST(e_x < (f64 ? tol_out : tol_grad));
  double worst = 0;
  std::string worst_name;
  int64_t checked = 0;
  for (const auto& [name, p] : net->named_parameters()) {
    const std::string ref = nn::unet_reference_name(name);
    BOOST_REQUIRE_MESSAGE(p.grad().defined(), name << " got no gradient");
    const double e = scaled_error(p.grad().value(), f.at("grad." + ref));
    BOOST_TEST(e < tol_grad, name << " (" << ref << ") scaled error " << e);
    if (e > worst) worst = e, worst_name = name;
    ++checked;
  }
  BOOST_TEST(checked == int64_t(reference_weights(f).size()));
  BOOST_TEST_MESSAGE(tensor::dtype_name(dtype) << " d/dx " << e_x << ", worst parameter gradient "
                                               << worst << " (" << worst_name << ")");
}

}  // namespace

BOOST_AUTO_TEST_CASE(default_unet_has_the_reference_parameter_count_and_names) {
  tensor::Generator gen(1);
  nn::UNet net({}, &gen);
  BOOST_TEST_MESSAGE("default U-Net parameters: " << net.num_parameters());
  BOOST_TEST(net.num_parameters() == 994593);
  BOOST_TEST(net.num_parameters() == fixture().integer("num_parameters"));
  std::set<std::string> mine, ref;
  for (const auto& [n, t] : net.state_dict()) {
    const std::string r = nn::unet_reference_name(n);
    BOOST_TEST(nn::unet_name_from_reference(r) == n);  // the mapping is a bijection
    mine.insert(r);
  }
  for (const auto& k : fixture().names())
    if (k.rfind("grad.", 0) == 0 && k != "grad.x") ref.insert(k.substr(5));
  BOOST_TEST(mine == ref);
  BOOST_TEST(nn::unet_reference_name("down.1.res.0.c1.weight") == "d2.c1.weight");
  BOOST_TEST(nn::unet_reference_name("down.0.down.bias") == "down1.bias");
  BOOST_TEST(nn::unet_reference_name("up.1.res.0.skip.weight") == "u2.skip.weight");
  BOOST_TEST(nn::unet_reference_name("mid.attn.qkv.weight") == "ma.qkv.weight");
  BOOST_TEST(nn::unet_reference_name("out.2.weight") == "out.2.weight");
  BOOST_CHECK_EXCEPTION(nn::unet_reference_name("down.0.res.1.c1.weight"), Error,
                        [](const Error& e) { return message_has(e, {"down.0.res.1.c1.weight"}); });
}

BOOST_AUTO_TEST_CASE(default_unet_matches_torch_f32) { check_parity(DType::f32, 1e-4, 1e-4); }

// The f64 run compares with torch's f64 output (stored in f64) and with its gradients rounded
// to f32 (so 1e-6 is the storage's precision, not the arithmetic's).
BOOST_AUTO_TEST_CASE(default_unet_matches_torch_f64) { check_parity(DType::f64, 1e-10, 1e-6); }

BOOST_AUTO_TEST_CASE(class_conditional_unet) {
  tensor::Generator gen(2);
  nn::UNetConfig cfg;
  cfg.base_channels = 16;
  cfg.num_classes = 10;
  nn::UNet net(cfg, &gen);
  BOOST_TEST(net.state_dict().at("label_emb.weight").shape() == (tensor::Shape{11, 64}));
  Tensor x = tensor::randn({3, 1, 28, 28}, DType::f32, &gen);
  Tensor t = tensor::full({3}, 500.0);
  Tensor lab = tensor::from_vector<int64_t>({0, 9, 10}, {3});
  ag::NoGradGuard ng;
  Var y = net.forward(Var(x), t, lab);
  BOOST_TEST(y.shape() == (tensor::Shape{3, 1, 28, 28}));
  // Undefined labels mean the null class; other labels change the output.
  Tensor null_lab = tensor::full({3}, 10.0, DType::i64);
  BOOST_TEST(scaled_error(net.forward(Var(x), t).value(),
                          net.forward(Var(x), t, null_lab).value()) == 0.0);
  BOOST_TEST(scaled_error(y.value(), net.forward(Var(x), t, null_lab).value()) > 0.0);
  BOOST_CHECK_EXCEPTION(net.forward(Var(x), t, tensor::from_vector<int64_t>({0, 1, 11}, {3})),
                        Error, [](const Error& e) { return message_has(e, {"index 11"}); });
  nn::UNet uncond(nn::UNetConfig{}, &gen);
  BOOST_CHECK_EXCEPTION(uncond.forward(Var(x), t, lab), Error,
                        [](const Error& e) { return message_has(e, {"unconditional"}); });
}

// Concept discovery's adaptation (spec_mlgdf_concepts §3.9): a new class row and LoRA train on
// a frozen model; every base weight stays bit-identical and the old classes are untouched at B = 0.
BOOST_AUTO_TEST_CASE(added_class_row_trains_while_base_weights_stay_bit_identical) {
  tensor::Generator gen(4);
  nn::UNetConfig cfg;
  cfg.base_channels = 8;
  cfg.channel_mults = {1, 2};
  cfg.num_classes = 3;
  nn::UNet net(cfg, &gen);
  Tensor x = tensor::randn({2, 1, 28, 28}, DType::f32, &gen);
  Tensor t = tensor::full({2}, 300.0);
  Tensor old_lab = tensor::from_vector<int64_t>({0, 3}, {2});
  Var before = net.forward(Var(x), t, old_lab);
  std::map<std::string, Tensor> base;
  for (const auto& [name, p] : net.named_parameters()) base[name] = p.value().clone();
  nn::apply_lora(net, nn::LoRAConfig{}, {}, &gen);
  const int64_t label = net.add_class(net.state_dict().at("label_emb.weight").select(0, 1).clone());
  BOOST_TEST(label == 4);
  BOOST_TEST(net.added_classes() == 1);
  const Tensor row0 = net.state_dict().at("label_new.0").clone();
  BOOST_TEST(scaled_error(net.forward(Var(x), t, old_lab).value(), before.value()) == 0.0);
  nn::Adam opt(net.parameters(true), nn::AdamOptions{});
  const Tensor new_lab = tensor::full({2}, double(label), DType::i64);
  for (int step = 0; step < 3; ++step) {
    opt.zero_grad();
    ag::backward({ag::mean(ag::square(net.forward(Var(x), t, new_lab)))});
    opt.step();
  }
  BOOST_TEST(scaled_error(net.state_dict().at("label_new.0"), row0) > 0.0);
  for (const auto& [name, value] : base)
    BOOST_TEST(scaled_error(net.state_dict().at(name), value) == 0.0, name << " moved");
  BOOST_CHECK_EXCEPTION(net.forward(Var(x), t, tensor::full({2}, 5.0, DType::i64)), Error,
                        [](const Error& e) { return message_has(e, {"label 5", "[0, 5)"}); });
  nn::UNet uncond(nn::UNetConfig{}, &gen);
  BOOST_CHECK_EXCEPTION(uncond.add_class(row0), Error,
                        [](const Error& e) { return message_has(e, {"unconditional"}); });
}

BOOST_AUTO_TEST_CASE(rgb_32_with_level_attention_and_two_res_blocks) {
  tensor::Generator gen(3);
  nn::UNetConfig cfg;
  cfg.in_channels = 3;
  cfg.image_size = 32;
  cfg.base_channels = 16;
  cfg.channel_mults = {1, 2, 2, 4};
  cfg.num_res_blocks = 2;
  cfg.attention_resolutions = {16};
  cfg.dropout = 0.1;
  nn::UNet net(cfg, &gen);
  auto sd = net.state_dict();
  // Levels at 32, 16, 8; middle at 4. Attention after each res block at 16×16 only.
  BOOST_TEST(sd.count("down.1.attn.0.qkv.weight"));
  BOOST_TEST(sd.count("down.1.attn.1.qkv.weight"));
  BOOST_TEST(sd.count("up.1.attn.1.o.bias"));
  BOOST_TEST(!sd.count("down.0.attn.0.qkv.weight"));
  BOOST_TEST(!sd.count("down.2.attn.0.qkv.weight"));
  BOOST_TEST(sd.count("down.2.down.weight"));
  BOOST_TEST(sd.at("up.0.res.0.c1.weight").shape() == (tensor::Shape{16, 32 + 16, 3, 3}));
  BOOST_TEST(sd.at("up.2.res.0.c1.weight").shape() == (tensor::Shape{32, 64 + 32, 3, 3}));
  BOOST_TEST(sd.at("mid.res1.c1.weight").shape() == (tensor::Shape{64, 32, 3, 3}));
  BOOST_TEST(sd.at("out.2.weight").shape() == (tensor::Shape{3, 16, 3, 3}));
  Tensor x = tensor::randn({2, 3, 32, 32}, DType::f32, &gen);
  Tensor t = tensor::from_vector<float>({1.f, 999.f}, {2});
  Var xv(x, true);
  Var y = net.forward(xv, t);
  BOOST_TEST(y.shape() == (tensor::Shape{2, 3, 32, 32}));
  ag::sum(ag::square(y)).backward();
  BOOST_TEST(xv.grad().defined());
  for (const auto& [n, p] : net.named_parameters()) BOOST_TEST(p.grad().defined(), n);
  // Dropout: train-mode outputs vary with the generator, eval-mode outputs do not.
  ag::NoGradGuard ng;
  tensor::Generator d1(7), d2(8);
  nn::set_dropout_generator(net, &d1);
  Tensor a = net.forward(Var(x), t).value();
  nn::set_dropout_generator(net, &d2);
  BOOST_TEST(scaled_error(net.forward(Var(x), t).value(), a) > 0.0);
  net.eval();
  BOOST_TEST(scaled_error(net.forward(Var(x), t).value(), net.forward(Var(x), t).value()) == 0.0);
}

BOOST_AUTO_TEST_CASE(input_and_config_errors_name_the_module_and_shapes) {
  nn::UNet net;
  Tensor t = tensor::zeros({2});
  BOOST_CHECK_EXCEPTION(net.forward(Var(tensor::zeros({2, 3, 28, 28})), t), Error,
                        [](const Error& e) {
                          return message_has(e, {"UNet", "[2, 3, 28, 28]", "[B, 1, 28, 28]"});
                        });
  BOOST_CHECK_EXCEPTION(net.forward(Var(tensor::zeros({2, 1, 32, 32})), t), Error,
                        [](const Error& e) {
                          return message_has(e, {"UNet", "[2, 1, 32, 32]"});
                        });
  BOOST_CHECK_EXCEPTION(net.forward(Var(tensor::zeros({2, 1, 28, 28})), tensor::zeros({3})), Error,
                        [](const Error& e) {
                          return message_has(e, {"UNet: timesteps", "[3]", "[2]"});
                        });
  nn::UNetConfig bad;
  bad.image_size = 30;  // 30 is not divisible by 4
  BOOST_CHECK_EXCEPTION(nn::UNet{bad}, Error,
                        [](const Error& e) { return message_has(e, {"image_size=30"}); });
  bad = {};
  bad.attention_resolutions = {16};
  BOOST_CHECK_EXCEPTION(nn::UNet{bad}, Error,
                        [](const Error& e) { return message_has(e, {"attention resolution 16"}); });
  bad = {};
  bad.base_channels = 12;  // 12 is not divisible by the 8 norm groups
  BOOST_CHECK_EXCEPTION(nn::UNet{bad}, Error,
                        [](const Error& e) { return message_has(e, {"norm_groups=8"}); });
}

BOOST_AUTO_TEST_CASE(level_checkpointing_keeps_gradients_and_drops_activations) {
  tensor::Generator gen(5);
  nn::UNetConfig cfg;
  cfg.base_channels = 8;
  cfg.channel_mults = {1, 2, 2};
  cfg.attention_resolutions = {14};
  nn::UNet net(cfg, &gen);
  net.to(DType::f64);
  const Tensor x = tensor::randn({2, 1, 28, 28}, DType::f64, &gen);
  const Tensor t = tensor::from_vector<double>({3.0, 700.0}, {2});
  auto run = [&](bool ckpt, size_t* saved) {
    net.set_level_checkpointing(ckpt);
    Var xv(x, true);
    const Var loss = ag::sum(ag::square(net.forward(xv, t)));
    *saved = ag::graph_stats(loss, net.parameters()).saved_bytes;
    std::vector<Var> wrt{xv};
    for (const Var& p : net.parameters()) wrt.push_back(p);
    std::vector<Tensor> g;
    for (const Var& v : ag::grad({loss}, wrt)) g.push_back(v.value());
    return g;
  };
  size_t plain_bytes = 0, ckpt_bytes = 0;
  const std::vector<Tensor> plain = run(false, &plain_bytes), ckpt = run(true, &ckpt_bytes);
  BOOST_REQUIRE(plain.size() == ckpt.size());
  for (size_t i = 0; i < plain.size(); ++i) BOOST_TEST(scaled_error(ckpt[i], plain[i]) <= 1e-12);
  BOOST_TEST_MESSAGE("saved bytes: " << plain_bytes << " plain, " << ckpt_bytes << " by level");
  BOOST_TEST(double(ckpt_bytes) < 0.5 * double(plain_bytes));
  // Dropout in training mode would redraw its masks when recomputing: refused.
  nn::UNetConfig dcfg = cfg;
  dcfg.dropout = 0.1;
  nn::UNet dnet(dcfg, &gen);
  dnet.set_level_checkpointing(true);
  BOOST_CHECK_THROW(dnet.forward(Var(tensor::randn({1, 1, 28, 28}, DType::f32, &gen), true),
                                 tensor::from_vector<float>({5.f}, {1})),
                    Error);
}
