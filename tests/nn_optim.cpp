// Optimizers, clipping, EMA and LR schedules against PyTorch 1.13 (tests/fixtures/optim.bin,
// written by make_optim_fixture.py), their errors, thread-count independence, and bit-exact
// resume from a saved training state.
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <numbers>

#include "autograd/functions.h"
#include "nn/clip.h"
#include "nn/ema.h"
#include "nn/lr_schedule.h"
#include "nn/optim.h"
#include "nn/train_state.h"
#include "tensor/factory.h"
#include "tensor/random.h"
#include "tensor/threads.h"
#include "tests/support/check_message.h"
#include "tests/support/fixtures.h"

using namespace difflab;
using difflab::testing::message_has;
using nn::Tensor;
using nn::Var;
using tensor::DType;

namespace {

const testing::Fixture& fixture() {
  static const testing::Fixture f = testing::load_fixture(testing::fixture_path("optim.bin"));
  return f;
}

double max_abs_diff(const Tensor& a, const Tensor& b) {
  BOOST_REQUIRE(a.shape() == b.shape());
  auto va = a.contiguous().to(DType::f64).to_vector<double>();
  auto vb = b.contiguous().to(DType::f64).to_vector<double>();
  double m = 0;
  for (size_t i = 0; i < va.size(); ++i) m = std::max(m, std::abs(va[i] - vb[i]));
  return m;
}

bool same_bits(const Tensor& a, const Tensor& b) {
  if (a.dtype() != b.dtype() || a.shape() != b.shape()) return false;
  Tensor ca = a.contiguous(), cb = b.contiguous();
  return std::memcmp(ca.raw_data(), cb.raw_data(), ca.nbytes()) == 0;
}

const std::vector<std::string> kParams = {"w", "b"};

std::unique_ptr<nn::Optimizer> make_optimizer(const std::string& cfg, std::vector<Var> params) {
  const auto& f = fixture();
  auto hp = [&](const char* k) { return f.scalar(cfg + ".hp." + k); };
  if (cfg.rfind("sgd", 0) == 0) {
    nn::SGDOptions o;
    o.lr = hp("lr");
    o.momentum = hp("momentum");
    o.dampening = hp("dampening");
    o.weight_decay = hp("weight_decay");
    o.nesterov = f.integer(cfg + ".hp.nesterov") != 0;
    return std::make_unique<nn::SGD>(params, o);
  }
  nn::AdamOptions o;
  o.lr = hp("lr");
  o.beta1 = hp("beta1");
  o.beta2 = hp("beta2");
  o.eps = hp("eps");
  o.weight_decay = hp("weight_decay");
  o.amsgrad = f.integer(cfg + ".hp.amsgrad") != 0;
  if (cfg == "adamw") return std::make_unique<nn::AdamW>(params, o);
  return std::make_unique<nn::Adam>(params, o);
}

}  // namespace

BOOST_AUTO_TEST_CASE(three_steps_match_pytorch) {
  const auto& f = fixture();
  for (std::string cfg : {"sgd_nesterov", "sgd_dampened", "adam_l2", "adam_amsgrad", "adamw"}) {
    BOOST_TEST_CONTEXT("config " << cfg) {
      std::vector<Var> params;
      for (auto& k : kParams) params.emplace_back(f.at("init." + k).clone(), true);
      auto opt = make_optimizer(cfg, params);
      for (int t = 0; t < 3; ++t) {
        for (size_t i = 0; i < params.size(); ++i)
          params[i].set_grad(Var(f.at("grad" + std::to_string(t) + "." + kParams[i]).clone()));
        opt->step();
        for (size_t i = 0; i < params.size(); ++i)
          BOOST_TEST(max_abs_diff(params[i].value(), f.at(cfg + ".step" + std::to_string(t) + "." +
                                                          kParams[i])) < 1e-12,
                     "step " << t << " parameter " << kParams[i]);
      }
      // The state matches PyTorch's, buffer for buffer, under PyTorch's names.
      for (size_t i = 0; i < params.size(); ++i) {
        const nn::ParamState& st = opt->state(i);
        const std::string pre = cfg + ".state." + kParams[i] + ".";
        size_t n_torch = 0;
        for (auto& name : f.names()) {
          if (name.rfind(pre, 0) != 0) continue;
          const std::string buf = name.substr(pre.size());
          if (buf == "step") {
            BOOST_TEST(st.step == f.integer(name));
            continue;
          }
          ++n_torch;
          BOOST_REQUIRE_MESSAGE(st.buffers.count(buf), "missing buffer " << buf);
          BOOST_TEST(max_abs_diff(st.buffers.at(buf), f.at(name)) < 1e-12, "buffer " << buf);
        }
        BOOST_TEST(st.buffers.size() == n_torch);
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(f32_parameters_follow_the_f64_reference) {
  const auto& f = fixture();
  std::vector<Var> params;
  for (auto& k : kParams) params.emplace_back(f.at("init." + k).to(DType::f32), true);
  auto opt = make_optimizer("adamw", params);
  for (int t = 0; t < 3; ++t) {
    for (size_t i = 0; i < params.size(); ++i)
      params[i].set_grad(Var(f.at("grad" + std::to_string(t) + "." + kParams[i]).to(DType::f32)));
    opt->step();
  }
  BOOST_TEST(params[0].dtype() == DType::f32);
  for (size_t i = 0; i < params.size(); ++i)
    BOOST_TEST(max_abs_diff(params[i].value(), f.at("adamw.step2." + kParams[i])) < 1e-5);
}

BOOST_AUTO_TEST_CASE(parameters_without_gradient_are_skipped) {
  Var a(tensor::ones({3}, DType::f64), true), b(tensor::ones({2}, DType::f64), true);
  nn::Adam opt({a, b}, {.lr = 0.1});
  a.set_grad(Var(tensor::full({3}, 2.0, DType::f64)));
  opt.step();
  BOOST_TEST(same_bits(b.value(), tensor::ones({2}, DType::f64)));
  BOOST_TEST(opt.state(1).step == 0);
  BOOST_TEST(opt.state(1).buffers.empty());
  BOOST_TEST(opt.state(0).step == 1);
  // Adam's first step moves every coordinate by lr (m̂ / √v̂ = ±1, up to eps).
  BOOST_TEST(max_abs_diff(a.value(), tensor::full({3}, 0.9, DType::f64)) < 1e-7);
  opt.zero_grad();
  BOOST_TEST(!a.grad().defined());
}

BOOST_AUTO_TEST_CASE(optimizer_errors_name_the_problem) {
  Var a(tensor::ones({3}, DType::f64), true);
  BOOST_CHECK_EXCEPTION(
      nn::SGD({a}, {.lr = 0.1, .momentum = 0.0, .nesterov = true}), Error,
      [](const Error& e) { return message_has(e, {"Nesterov momentum requires a momentum"}); });
  BOOST_CHECK_EXCEPTION(nn::Adam({a, a}, {}), Error, [](const Error& e) {
    return message_has(e, {"parameter 1 is the same Var as parameter 0"});
  });
  BOOST_CHECK_EXCEPTION(nn::Adam({ag::mul(a, a)}, {}), Error, [](const Error& e) {
    return message_has(e, {"parameter 0 is not a leaf", "mul"});
  });
  BOOST_CHECK_EXCEPTION(nn::Adam({a}, {.beta2 = 1.0}), Error, [](const Error& e) {
    return message_has(e, {"Adam", "invalid beta2 1"});
  });
  BOOST_CHECK_EXCEPTION(nn::AdamW({a}, {.lr = -1.0}), Error, [](const Error& e) {
    return message_has(e, {"invalid learning rate -1"});
  });
  nn::AdamW opt({a}, {});
  a.set_grad(Var(tensor::ones({3}, DType::f32)));
  BOOST_CHECK_EXCEPTION(opt.step(), Error, [](const Error& e) {
    return message_has(e, {"AdamW.step: parameter 0 is f64[3] cpu but its gradient is f32[3]"});
  });
  BOOST_CHECK_EXCEPTION(opt.set_lr(NAN), Error,
                        [](const Error& e) { return message_has(e, {"AdamW.set_lr"}); });
}

BOOST_AUTO_TEST_CASE(updates_do_not_depend_on_the_thread_count) {
  // Large enough for the parallel path; the clip norm uses fixed blocks.
  const int64_t n = 200003;
  auto run = [&](int threads) {
    tensor::set_num_threads(threads);
    tensor::Generator g(5);
    Var p(tensor::randn({n}, DType::f32, &g), true);
    nn::Adam opt({p}, {.lr = 1e-2, .weight_decay = 0.01, .amsgrad = true});
    double norm = 0;
    for (int t = 0; t < 3; ++t) {
      p.set_grad(Var(tensor::randn({n}, DType::f32, &g)));
      norm = nn::clip_grad_norm_({p}, 10.0);
      opt.step();
    }
    return std::make_pair(p.value().clone(), norm);
  };
  const int before = tensor::get_num_threads();
  auto [p1, n1] = run(1);
  auto [p2, n2] = run(2);
  auto [p3, n3] = run(3);
  tensor::set_num_threads(before);
  BOOST_TEST(same_bits(p1, p2));
  BOOST_TEST(same_bits(p1, p3));
  BOOST_TEST(n1 == n2);
  BOOST_TEST(n1 == n3);
}

BOOST_AUTO_TEST_CASE(clip_grad_norm_matches_pytorch) {
  const auto& f = fixture();
  for (int c = 0; c < 4; ++c) {
    const std::string pre = "clip" + std::to_string(c) + ".";
    BOOST_TEST_CONTEXT("case " << c) {
      std::vector<Var> params;
      for (auto& k : kParams) {
        params.emplace_back(tensor::zeros_like(f.at("clip.g." + k)), true);
        params.back().set_grad(Var(f.at("clip.g." + k).clone()));
      }
      double total =
          nn::clip_grad_norm_(params, f.scalar(pre + "max_norm"), f.scalar(pre + "norm_type"));
      BOOST_TEST(std::abs(total - f.scalar(pre + "total")) < 1e-12);
      for (size_t i = 0; i < params.size(); ++i)
        BOOST_TEST(max_abs_diff(params[i].grad().value(), f.at(pre + "out." + kParams[i])) < 1e-12);
    }
  }
}

BOOST_AUTO_TEST_CASE(clipping_never_writes_into_shared_gradients) {
  // One gradient tensor shared by two leaves (the engine may hand out the same tensor).
  Tensor shared = tensor::full({4}, 3.0, DType::f64);
  Var a(tensor::zeros({4}, DType::f64), true), b(tensor::zeros({4}, DType::f64), true), c;
  a.set_grad(Var(shared));
  b.set_grad(Var(shared));
  const double total = nn::clip_grad_norm_({a, b}, 1.0);
  BOOST_TEST(std::abs(total - std::sqrt(8 * 9.0)) < 1e-12);
  const double coef = 1.0 / (total + 1e-6);
  BOOST_TEST(max_abs_diff(a.grad().value(), tensor::full({4}, 3.0 * coef, DType::f64)) < 1e-15);
  BOOST_TEST(max_abs_diff(b.grad().value(), tensor::full({4}, 3.0 * coef, DType::f64)) < 1e-15);
  BOOST_TEST(same_bits(shared, tensor::full({4}, 3.0, DType::f64)));
  // No gradients at all: norm 0.
  BOOST_TEST(nn::clip_grad_norm_({c}, 1.0) == 0.0);

  nn::clip_grad_value_({a, b}, 0.2);
  BOOST_TEST(max_abs_diff(a.grad().value(), tensor::full({4}, 0.2, DType::f64)) == 0.0);
  Var d(tensor::zeros({3}, DType::f64), true);
  d.set_grad(Var(tensor::from_vector<double>({-5.0, 0.1, 7.0}, {3})));
  nn::clip_grad_value_({d}, 1.0);
  BOOST_TEST(d.grad().value().to_vector<double>() == std::vector<double>({-1.0, 0.1, 1.0}));

  d.set_grad(Var(tensor::from_vector<double>({NAN, 1.0, 1.0}, {3})));
  BOOST_CHECK_EXCEPTION(nn::clip_grad_norm_({d}, 1.0, 2.0, true), Error, [](const Error& e) {
    return message_has(e, {"clip_grad_norm_", "nan"});
  });
  BOOST_CHECK_EXCEPTION(nn::clip_grad_norm_({d}, 1.0, -1.0), Error, [](const Error& e) {
    return message_has(e, {"norm_type must be positive"});
  });
}

BOOST_AUTO_TEST_CASE(ema_step_matches_pytorch_lerp) {
  const auto& f = fixture();
  for (int i = 0; i < 2; ++i) {
    const std::string pre = "ema" + std::to_string(i) + ".";
    Var p(f.at(pre + "shadow").clone(), true);
    nn::Ema ema({{"p", p}}, {.decay = f.scalar(pre + "decay")});
    p.value().copy_(f.at(pre + "param"));
    BOOST_TEST(ema.update() == f.scalar(pre + "decay"));
    BOOST_TEST(max_abs_diff(ema.state_dict().at("p"), f.at(pre + "out")) < 1e-12);
    BOOST_TEST(ema.num_updates() == 1);
  }
}

BOOST_AUTO_TEST_CASE(ema_warmup_swap_and_copy_to) {
  Var p(tensor::zeros({2}, DType::f64), true);
  nn::Ema ema({{"p", p}}, {.decay = 0.5, .warmup = true});
  // TensorFlow's num_updates warm-up: min(decay, (1 + t) / (10 + t)).
  BOOST_TEST(ema.current_decay() == 0.1);
  p.value().fill_(1.0);
  BOOST_TEST(ema.update() == 0.1);  // shadow = 0.1·0 + 0.9·1
  BOOST_TEST(max_abs_diff(ema.state_dict().at("p"), tensor::full({2}, 0.9, DType::f64)) < 1e-15);
  BOOST_TEST(ema.current_decay() == 2.0 / 11.0);
  ema.set_num_updates(100);
  BOOST_TEST(ema.current_decay() == 0.5);  // capped by the decay
  BOOST_TEST(ema.update(0.25) == 0.25);    // an explicit decay, still capped by the warm-up

  // swap() exchanges values in place; twice restores the exact bits.
  Tensor before_p = p.value().clone(), before_s = ema.state_dict().at("p").clone();
  const void* storage = p.value().raw_data();
  ema.swap();
  BOOST_TEST(same_bits(p.value(), before_s));
  BOOST_TEST(same_bits(ema.state_dict().at("p"), before_p));
  BOOST_TEST(p.value().raw_data() == storage);  // the same tensor, written in place
  ema.swap();
  BOOST_TEST(same_bits(p.value(), before_p));

  ema.copy_to();
  BOOST_TEST(same_bits(p.value(), before_s));
  BOOST_CHECK_EXCEPTION(ema.load_state_dict({{"q", tensor::zeros({2}, DType::f64)}}), Error,
                        [](const Error& e) {
                          return message_has(e, {"missing keys 'p'", "unexpected keys 'q'"});
                        });
  BOOST_CHECK_EXCEPTION(ema.load_state_dict({{"p", tensor::zeros({3}, DType::f64)}}), Error,
                        [](const Error& e) {
                          return message_has(e, {"'p'", "f64[3]"});
                        });
}

BOOST_AUTO_TEST_CASE(lr_schedule_values_at_key_steps) {
  auto lr = nn::warmup_cosine_lr(1.0, 10, 110, 0.1);
  BOOST_TEST(lr(0) == 0.1);  // the first step already moves
  BOOST_TEST(std::abs(lr(4) - 0.5) < 1e-15);
  BOOST_TEST(lr(9) == 1.0);   // end of warm-up
  BOOST_TEST(lr(10) == 1.0);  // start of the cosine
  BOOST_TEST(std::abs(lr(35) - (0.1 + 0.9 * 0.5 * (1 + std::cos(std::numbers::pi / 4)))) < 1e-15);
  BOOST_TEST(std::abs(lr(60) - 0.55) < 1e-15);  // half way: the mean of base and floor
  BOOST_TEST(std::abs(lr(109) - (0.1 + 0.45 * (1 + std::cos(std::numbers::pi * 0.99)))) < 1e-15);
  BOOST_TEST(lr(110) == 0.1);
  BOOST_TEST(lr(100000) == 0.1);
  // Monotone after the warm-up.
  for (int64_t s = 10; s < 120; ++s) BOOST_TEST(lr(s + 1) <= lr(s));
  auto no_warmup = nn::warmup_cosine_lr(2.0, 0, 4);
  BOOST_TEST(no_warmup(0) == 2.0);
  BOOST_TEST(std::abs(no_warmup(2) - 1.0) < 1e-15);
  BOOST_TEST(no_warmup(4) == 0.0);

  auto lin = nn::linear_decay_lr(0.4, 8);
  BOOST_TEST(lin(0) == 0.4);
  BOOST_TEST(lin(2) == 0.4 * (1.0 - 2.0 / 8.0));  // the formula distillation rounds always used
  BOOST_TEST(lin(7) == 0.4 * (1.0 - 7.0 / 8.0));
  BOOST_TEST(lin(8) == 0.0);
  BOOST_TEST(lin(50) == 0.0);

  Var a(tensor::ones({1}, DType::f64), true);
  nn::SGD opt({a}, {.lr = 0.5});
  BOOST_TEST(nn::apply_lr(opt, nn::constant_lr(0.03), 7) == 0.03);
  BOOST_TEST(opt.lr() == 0.03);
  BOOST_TEST(nn::apply_lr(opt, lr, 4) == lr(4));
  BOOST_TEST(opt.lr() == lr(4));

  BOOST_CHECK_EXCEPTION(nn::warmup_cosine_lr(1.0, 20, 10), Error, [](const Error& e) {
    return message_has(e, {"warmup_steps <= total_steps", "warmup_steps 20", "total_steps 10"});
  });
  BOOST_CHECK_EXCEPTION(nn::warmup_cosine_lr(1.0, 0, 10, 2.0), Error,
                        [](const Error& e) { return message_has(e, {"min_lr 2"}); });
  BOOST_CHECK_EXCEPTION(lr(-1), Error,
                        [](const Error& e) { return message_has(e, {"negative step -1"}); });
}

namespace {

class Lin : public nn::Module {
 public:
  Lin(int64_t in, int64_t out, tensor::Generator& g)
      : weight(register_parameter(
            "weight", tensor::affine(tensor::randn({out, in}, DType::f32, &g), 0.5, 0))),
        bias(register_parameter("bias", tensor::zeros({out}))) {}
  Var forward(const Var& x) const { return ag::linear(x, weight, bias); }
  Var weight, bias;  // handles sharing the registered parameters
};

class TinyMlp : public nn::Module {
 public:
  explicit TinyMlp(uint64_t seed) {
    tensor::Generator g(seed);
    fc1 = register_module("fc1", std::make_shared<Lin>(3, 16, g));
    fc2 = register_module("fc2", std::make_shared<Lin>(16, 2, g));
    register_buffer("scale", tensor::full({1}, 0.5));
  }
  Var forward(const Var& x) const { return fc2->forward(ag::silu(fc1->forward(x))); }
  std::shared_ptr<Lin> fc1, fc2;
};

// A small training loop whose every source of state goes through the train state: weights,
// optimizer moments, EMA, the data generator and the data position; the LR follows the step.
struct Trainer {
  TinyMlp model;
  std::unique_ptr<nn::Optimizer> opt;
  nn::Ema ema;
  tensor::Generator gen;
  nn::LrSchedule lr = nn::warmup_cosine_lr(2e-2, 3, 10, 1e-3);
  int64_t data_position = 0;

  Trainer(uint64_t init_seed, uint64_t data_seed, bool sgd)
      : model(init_seed),
        opt(sgd ? std::unique_ptr<nn::Optimizer>(std::make_unique<nn::SGD>(
                      model.parameters(),
                      nn::SGDOptions{
                          .lr = 0, .momentum = 0.9, .weight_decay = 1e-3, .nesterov = true}))
                : std::make_unique<nn::AdamW>(model.parameters(),
                                              nn::AdamOptions{.weight_decay = 0.05})),
        ema(model, {.decay = 0.9, .warmup = true}),
        gen(data_seed) {}

  void step(int64_t s) {
    nn::apply_lr(*opt, lr, s);
    Tensor x = tensor::randn({8, 3}, DType::f32, &gen), y = tensor::randn({8, 2}, DType::f32, &gen);
    data_position += 8;
    Var loss = ag::mean(ag::square(model.forward(Var(x)) - Var(y)));
    opt->zero_grad();
    loss.backward();
    nn::clip_grad_norm_(opt->params(), 0.5);
    opt->step();
    ema.update();
  }
};

std::string temp_path(const std::string& name) {
  auto dir =
      std::filesystem::temp_directory_path() / ("difflab_nn_optim_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  return (dir / name).string();
}

}  // namespace

BOOST_AUTO_TEST_CASE(resume_from_train_state_is_bit_exact) {
  for (bool sgd : {false, true}) {
    BOOST_TEST_CONTEXT((sgd ? "SGD" : "AdamW")) {
      Trainer full(1, 1234, sgd);
      for (int64_t s = 0; s < 10; ++s) full.step(s);

      Trainer first(1, 1234, sgd);
      for (int64_t s = 0; s < 5; ++s) first.step(s);
      const std::string path = temp_path("state.safetensors");
      nn::TrainState saved = nn::capture_train_state(5, first.model, *first.opt, &first.ema,
                                                     first.gen, first.data_position);
      saved.extra["config"] = R"({"lr": 0.02})";
      nn::save_train_state(path, saved);

      // A fresh trainer with other weights and another data seed, restored from the file.
      Trainer resumed(999, 777, sgd);
      BOOST_TEST(!same_bits(resumed.model.state_dict().at("fc1.weight"),
                            full.model.state_dict().at("fc1.weight")));
      nn::TrainState st = nn::load_train_state(path);
      BOOST_TEST(st.step == 5);
      BOOST_TEST(st.data_position == 40);
      BOOST_TEST(st.extra.at("config") == R"({"lr": 0.02})");
      BOOST_TEST(st.lr == first.opt->lr());
      nn::restore_train_state(st, resumed.model, *resumed.opt, &resumed.ema, resumed.gen);
      resumed.data_position = st.data_position;
      for (int64_t s = st.step; s < 10; ++s) resumed.step(s);

      for (auto& [k, t] : full.model.state_dict())
        BOOST_TEST(same_bits(resumed.model.state_dict().at(k), t), "model " << k);
      for (auto& [k, t] : full.ema.state_dict())
        BOOST_TEST(same_bits(resumed.ema.state_dict().at(k), t), "ema " << k);
      BOOST_TEST(resumed.ema.num_updates() == 10);
      for (size_t i = 0; i < full.opt->size(); ++i) {
        BOOST_TEST(resumed.opt->state(i).step == full.opt->state(i).step);
        for (auto& [b, t] : full.opt->state(i).buffers)
          BOOST_TEST(same_bits(resumed.opt->state(i).buffers.at(b), t), "buffer " << b);
      }
      BOOST_TEST(resumed.gen.seed() == full.gen.seed());
      BOOST_TEST(resumed.gen.offset() == full.gen.offset());
      BOOST_TEST(resumed.data_position == full.data_position);
      std::filesystem::remove(path);
    }
  }
}

BOOST_AUTO_TEST_CASE(train_state_errors_name_the_problem) {
  Trainer t(1, 1, false);
  t.step(0);
  const std::string path = temp_path("errors.safetensors");
  nn::save_safetensors(path, {{"w", tensor::ones({1})}});
  BOOST_CHECK_EXCEPTION(nn::load_train_state(path), Error, [](const Error& e) {
    return message_has(e, {"errors.safetensors", "is not a difflab train state"});
  });
  nn::save_train_state(path, nn::capture_train_state(1, t.model, *t.opt, nullptr, t.gen));
  nn::TrainState st = nn::load_train_state(path);
  BOOST_TEST(!st.has_ema);
  Trainer other(2, 2, true);
  BOOST_CHECK_EXCEPTION(
      nn::restore_train_state(st, other.model, *other.opt, nullptr, other.gen), Error,
      [](const Error& e) { return message_has(e, {"saved by AdamW but the optimizer is SGD"}); });
  BOOST_CHECK_EXCEPTION(nn::restore_train_state(st, t.model, *t.opt, &t.ema, t.gen), Error,
                        [](const Error& e) { return message_has(e, {"no EMA shadows"}); });

  // Optimizer state dicts: unknown keys, shapes that do not fit, missing buffers.
  std::vector<std::string> names;
  for (auto& [n, v] : t.model.named_parameters()) names.push_back(n);
  nn::StateDict sd = t.opt->state_dict(names);
  BOOST_TEST(sd.count("fc1.weight.exp_avg") == 1u);
  BOOST_TEST(sd.at("fc1.weight.step").item() == 1.0);
  nn::StateDict bad = sd;
  bad["fc1.weight.momentum_buffer"] = tensor::zeros({16, 3});
  BOOST_CHECK_EXCEPTION(t.opt->load_state_dict(bad, names), Error, [](const Error& e) {
    return message_has(e, {"unexpected keys 'fc1.weight.momentum_buffer'"});
  });
  bad = sd;
  bad["fc2.bias.exp_avg_sq"] = tensor::zeros({3});
  BOOST_CHECK_EXCEPTION(t.opt->load_state_dict(bad, names), Error, [](const Error& e) {
    return message_has(e, {"key 'fc2.bias.exp_avg_sq' is f32[3]", "f32[2]"});
  });
  bad = sd;
  bad.erase("fc2.bias.exp_avg");
  BOOST_CHECK_EXCEPTION(t.opt->load_state_dict(bad, names), Error, [](const Error& e) {
    return message_has(e, {"'fc2.bias.exp_avg' is missing", "1 steps were taken"});
  });
  std::filesystem::remove_all(std::filesystem::path(path).parent_path());
}
