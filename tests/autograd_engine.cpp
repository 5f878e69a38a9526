// The backward engine: shared subgraphs, deep chains, memory release, retain_graph, no-grad,
// ag::grad and ag::jvp against closed forms, checkpointing, anomaly mode, graph inspection.
#include <boost/test/unit_test.hpp>
#include <cmath>

#include "autograd/checkpoint.h"
#include "autograd/engine.h"
#include "autograd/functions.h"
#include "autograd/grad_mode.h"
#include "autograd/inspect.h"
#include "autograd/node.h"
#include "tensor/allocator.h"
#include "tests/support/check_message.h"
#include "tensor/factory.h"
#include "tensor/random.h"

using namespace difflab;
using difflab::testing::message_has;
using ag::Var;
using tensor::DType;
using tensor::Tensor;

namespace {
Var randvar(const tensor::Shape& s, uint64_t seed, bool rg = true) {
  tensor::Generator g(seed);
  return Var(tensor::randn(s, DType::f64, &g), rg);
}
double max_abs_diff(const Tensor& a, const Tensor& b) {
  auto va = a.to_vector<double>(), vb = b.to_vector<double>();
  BOOST_REQUIRE_EQUAL(va.size(), vb.size());
  double m = 0;
  for (size_t i = 0; i < va.size(); ++i) m = std::max(m, std::abs(va[i] - vb[i]));
  return m;
}
}  // namespace

BOOST_AUTO_TEST_CASE(shared_subexpression_accumulates) {
  Var x = randvar({5}, 1);
  Var y = ag::mul(x, x);          // used twice below
  Var z = ag::sum(ag::add(y, ag::mul(y, x)));  // sum(x² + x³)
  z.backward();
  // d/dx = 2x + 3x²
  Tensor expect = (ag::mul(x, Var(tensor::full({5}, 2.0, DType::f64))) +
                   ag::mul(ag::square(x), Var(tensor::full({5}, 3.0, DType::f64))))
                      .value();
  BOOST_TEST(max_abs_diff(x.grad().value(), expect) < 1e-12);
  // A second backward on a new graph accumulates into .grad.
  ag::sum(x).backward();
  BOOST_TEST(max_abs_diff(x.grad().value(),
                          (Var(expect) + 1.0).value()) < 1e-12);
}

BOOST_AUTO_TEST_CASE(chain_of_100000_nodes) {
  Var x(tensor::full({1}, 1.0, DType::f64), true);
  Var y = x;
  const int n = 100000;
  for (int i = 0; i < n; ++i) y = ag::affine(y, 1.00001, 0.0);
  auto st = ag::graph_stats(y);
  BOOST_TEST(st.nodes == n);
  ag::sum(y).backward();
  BOOST_TEST(std::abs(x.grad().item() - std::pow(1.00001, n)) < 1e-9);
  // A second deep graph destroyed without running backward must not overflow the stack.
  Var z = x;
  for (int i = 0; i < n; ++i) z = ag::sin(z);
  z = Var();
  BOOST_TEST(true);
}

BOOST_AUTO_TEST_CASE(saved_values_freed_after_backward) {
  auto& alloc = tensor::CpuAllocator::instance();
  Var w = randvar({64, 64}, 2);
  size_t before = alloc.stats().live_bytes;
  {
    Var x = randvar({32, 64}, 3, false);
    Var h = x;
    for (int i = 0; i < 4; ++i) h = ag::tanh(ag::matmul(h, w));
    Var loss = ag::sum(ag::square(h));
    BOOST_TEST(ag::graph_stats(loss).saved_bytes > 0);
    loss.backward();
    // Every node released its saved values as soon as it ran.
    BOOST_TEST(ag::graph_stats(loss).saved_bytes == 0u);
  }
  // Only w.grad (64x64 f64) remains beyond the baseline.
  size_t grad_bytes = tensor::CpuAllocator::bucket_size(64 * 64 * 8);
  BOOST_TEST(alloc.stats().live_bytes == before + grad_bytes);
  w.zero_grad();
  BOOST_TEST(alloc.stats().live_bytes == before);
}

BOOST_AUTO_TEST_CASE(retain_graph_and_second_backward_error) {
  Var x = randvar({3}, 4);
  Var y = ag::sum(ag::exp(x));
  y.backward(Var(), /*retain_graph=*/true);
  Tensor g1 = x.grad().value().clone();
  y.backward();  // allowed: the graph was retained
  BOOST_TEST(max_abs_diff(x.grad().value(), (Var(g1) * 2.0).value()) < 1e-12);
  BOOST_CHECK_EXCEPTION(y.backward(), difflab::Error, [](const difflab::Error& e) {
    return message_has(e, {"a second time", "retain_graph"});
  });
}

BOOST_AUTO_TEST_CASE(no_grad_and_detach) {
  Var x = randvar({3}, 5);
  {
    ag::NoGradGuard ng;
    Var y = ag::exp(x);
    BOOST_TEST(!y.requires_grad());
  }
  Var y = ag::exp(x);
  BOOST_TEST(y.requires_grad());
  BOOST_TEST(!y.is_leaf());
  Var d = y.detach();
  BOOST_TEST(!d.requires_grad());
  BOOST_TEST(d.value().storage() == y.value().storage());
  BOOST_CHECK_EXCEPTION(ag::sum(d).backward(), difflab::Error, [](const difflab::Error& e) {
    return message_has(e, {"does not require grad"});
  });
}

BOOST_AUTO_TEST_CASE(backward_on_non_scalar_names_op_and_shape) {
  Var x = randvar({2, 3}, 6);
  Var y = ag::tanh(x);
  BOOST_CHECK_EXCEPTION(y.backward(), difflab::Error, [](const difflab::Error& e) {
    return message_has(e, {"tanh", "[2, 3]", "grad_outputs"});
  });
  BOOST_CHECK_EXCEPTION(y.backward(randvar({3, 2}, 7, false)), difflab::Error,
                        [](const difflab::Error& e) {
                          return message_has(e, {"[3, 2]", "[2, 3]", "tanh"});
                        });
}

BOOST_AUTO_TEST_CASE(op_errors_name_op_and_shapes) {
  Var a = randvar({2, 3}, 8), b = randvar({4, 3}, 9);
  BOOST_CHECK_EXCEPTION(ag::add(a, b), difflab::Error, [](const difflab::Error& e) {
    return message_has(e, {"add", "[2, 3]", "[4, 3]"});
  });
  BOOST_CHECK_EXCEPTION(ag::matmul(a, a), difflab::Error, [](const difflab::Error& e) {
    return message_has(e, {"matmul", "[2, 3]"});
  });
  Var f(tensor::ones({2, 3}, DType::f32));
  BOOST_CHECK_EXCEPTION(ag::mul(a, f), difflab::Error, [](const difflab::Error& e) {
    return message_has(e, {"mul", "dtype", "f64", "f32"});
  });
}

BOOST_AUTO_TEST_CASE(grad_wrt_inputs_and_intermediates_leaves_dot_grad_alone) {
  Var x = randvar({4}, 10);
  Var h = ag::sin(x);
  Var y = ag::sum(ag::square(h));
  auto g = ag::grad({y}, {h, x});
  // dy/dh = 2h; dy/dx = 2 sin(x) cos(x)
  BOOST_TEST(max_abs_diff(g[0].value(), (h * 2.0).value()) < 1e-12);
  BOOST_TEST(max_abs_diff(g[1].value(), (ag::sin(x * 2.0)).value()) < 1e-12);
  BOOST_TEST(!x.grad().defined());
  BOOST_TEST(!g[1].requires_grad());
  Var unused = randvar({2}, 11);
  BOOST_CHECK_EXCEPTION(ag::grad({ag::sum(ag::exp(x))}, {unused}), difflab::Error,
                        [](const difflab::Error& e) { return message_has(e, {"allow_unused"}); });
}

BOOST_AUTO_TEST_CASE(hessian_vector_product_of_quadratic) {
  // f(x) = ½ xᵀAx: ∇f = ½(A + Aᵀ)x, H v = ½(A + Aᵀ)v.
  const int n = 5;
  Var A = randvar({n, n}, 12, false);
  Var x = randvar({n}, 13), v = randvar({n}, 14, false);
  Var f = ag::sum(ag::mul(x, ag::matmul(A, x))) * 0.5;
  Var g = ag::grad({f}, {x}, {}, /*create_graph=*/true)[0];
  Var sym = (A + ag::transpose(A, 0, 1)) * 0.5;
  BOOST_TEST(max_abs_diff(g.value(), ag::matmul(sym, x).value()) < 1e-12);
  BOOST_TEST(g.requires_grad());
  Var hv = ag::grad({ag::sum(ag::mul(g, v))}, {x}, {}, false, false, /*retain_graph=*/true)[0];
  BOOST_TEST(max_abs_diff(hv.value(), ag::matmul(sym, v).value()) < 1e-12);
  // The same through jvp of the gradient (forward-over-reverse by double VJP).
  Var hv2 = ag::jvp(g, {x}, {v});
  BOOST_TEST(max_abs_diff(hv2.value(), ag::matmul(sym, v).value()) < 1e-12);
}

BOOST_AUTO_TEST_CASE(divergence_of_linear_and_nonlinear_fields) {
  // u(x) = A x has divergence trace(A); computed exactly as Σ_i e_iᵀ J e_i with ag::grad.
  const int n = 4;
  Var A = randvar({n, n}, 15, false);
  Var x = randvar({n}, 16);
  Var u = ag::matmul(A, x);
  double div = 0, trace = 0;
  auto av = A.value().to_vector<double>();
  for (int i = 0; i < n; ++i) {
    Tensor e = tensor::zeros({n}, DType::f64);
    e.slice(0, i, i + 1).fill_(1.0);
    Var Je = ag::jvp(u, {x}, {Var(e)});
    div += Je.value().to_vector<double>()[i];
    trace += av[i * n + i];
  }
  BOOST_TEST(std::abs(div - trace) < 1e-12);
  // u(x) = tanh(x) elementwise: ∇·u = Σ (1 − tanh²(x_i)), via VJPs with create_graph.
  Var t = ag::tanh(x);
  double d2 = 0;
  for (int i = 0; i < n; ++i) {
    Tensor e = tensor::zeros({n}, DType::f64);
    e.slice(0, i, i + 1).fill_(1.0);
    Var row = ag::grad({t}, {x}, {Var(e)}, true)[0];
    d2 += row.value().to_vector<double>()[i];
  }
  double expect = 0;
  for (double xi : x.value().to_vector<double>()) expect += 1 - std::tanh(xi) * std::tanh(xi);
  BOOST_TEST(std::abs(d2 - expect) < 1e-12);
}

// ag::grad with respect to an intermediate walks past it without running what lies behind; that
// part of the graph keeps its saved values for a later backward (a checkpointed step whose
// params include a Var with history, as MLGD's unrolled inner sampler has).
BOOST_AUTO_TEST_CASE(grad_wrt_an_intermediate_keeps_the_graph_behind_it) {
  Var x = randvar({4}, 12, true);
  Var h = ag::exp(x);
  auto gh = ag::grad({ag::sum(h * 3.0)}, {h});
  BOOST_TEST(max_abs_diff(gh[0].value(), tensor::full({4}, 3.0, DType::f64)) == 0.0);
  auto gx = ag::grad({ag::sum(h)}, {x});  // exp's saved output is still there
  BOOST_TEST(max_abs_diff(gx[0].value(), h.value()) < 1e-15);
  // A checkpoint whose param has history: the gradient reaches the leaf behind the param.
  Var a = randvar({3, 3}, 13, true);
  Var w = ag::tanh(a);
  Var y = ag::checkpoint([&](const std::vector<Var>& in) { return ag::matmul(in[0], w); },
                         {randvar({2, 3}, 14, true)}, {w});
  ag::sum(y).backward();
  BOOST_TEST(a.grad().defined());
}

BOOST_AUTO_TEST_CASE(checkpoint_same_gradients_lower_peak) {
  const int layers = 8;
  std::vector<Var> ws;
  for (int i = 0; i < layers; ++i) ws.push_back(randvar({128, 128}, 100 + i) * 0.1);
  for (auto& w : ws) w = Var(w.value(), true);
  Var x = randvar({256, 128}, 99);
  auto block = [&](int i) {
    // Three saved activations per block (matmul input, tanh output, silu input).
    return [&, i](const std::vector<Var>& in) {
      return ag::silu(ag::tanh(ag::matmul(in[0], ws[i])) * 2.0);
    };
  };
  auto run = [&](bool ckpt, size_t& peak) {
    for (auto& w : ws) w.zero_grad();
    x.zero_grad();
    ag::MemoryScope scope;
    Var h = x;
    for (int i = 0; i < layers; ++i)
      h = ckpt ? ag::checkpoint(block(i), {h}, {ws[i]}) : block(i)({h});
    ag::sum(ag::square(h)).backward();
    peak = scope.peak_bytes();
    std::vector<Tensor> g;
    for (auto& w : ws) g.push_back(w.grad().value());
    g.push_back(x.grad().value());
    return g;
  };
  size_t peak_plain = 0, peak_ckpt = 0;
  auto g0 = run(false, peak_plain);
  auto g1 = run(true, peak_ckpt);
  for (size_t i = 0; i < g0.size(); ++i) BOOST_TEST(max_abs_diff(g0[i], g1[i]) == 0.0);
  BOOST_TEST_MESSAGE("peak bytes: plain " << peak_plain << ", checkpointed " << peak_ckpt);
  BOOST_TEST(peak_ckpt < peak_plain * 0.7);
}

BOOST_AUTO_TEST_CASE(checkpoint_supports_create_graph) {
  Var x = randvar({3}, 20);
  auto f = [](const std::vector<Var>& in) { return ag::sin(ag::square(in[0])); };
  Var y1 = ag::sum(f({x}));
  Var y2 = ag::sum(ag::checkpoint(f, {x}));
  Var g1 = ag::grad({y1}, {x}, {}, true)[0];
  Var g2 = ag::grad({y2}, {x}, {}, true)[0];
  BOOST_TEST(max_abs_diff(g1.value(), g2.value()) < 1e-14);
  Var h1 = ag::grad({ag::sum(g1)}, {x})[0];
  Var h2 = ag::grad({ag::sum(g2)}, {x})[0];
  BOOST_TEST(max_abs_diff(h1.value(), h2.value()) < 1e-12);
}

BOOST_AUTO_TEST_CASE(anomaly_mode_names_the_op) {
  Var x(tensor::from_vector<double>({1.0, -1.0}, {2}), true);
  {
    ag::AnomalyGuard guard;
    BOOST_CHECK_EXCEPTION(ag::log(x), difflab::Error, [](const difflab::Error& e) {
      return message_has(e, {"anomaly", "forward of 'log'", "NaN/Inf"});
    });
    // Forward is finite, backward of sqrt at 0 is infinite.
    Var z(tensor::from_vector<double>({0.0, 4.0}, {2}), true);
    Var y = ag::sum(ag::sqrt(z) * 3.0);
    BOOST_CHECK_EXCEPTION(y.backward(), difflab::Error, [](const difflab::Error& e) {
      return message_has(e, {"anomaly", "backward of 'sqrt'", "path"});
    });
  }
  // Without the guard NaN passes silently, as in any framework.
  Var y = ag::log(x);
  BOOST_TEST(std::isnan(y.value().to_vector<double>()[1]));
}

BOOST_AUTO_TEST_CASE(dump_graph_lists_ops_and_saved_bytes) {
  Var w = randvar({3, 4}, 30);
  w.set_name("w");
  Var x = randvar({2, 3}, 31, false);
  Var y = ag::sum(ag::exp(ag::matmul(x, w)));
  std::string text = ag::dump_graph(y);
  BOOST_TEST_MESSAGE(text);
  BOOST_TEST(text.find("matmul") != std::string::npos);
  BOOST_TEST(text.find("exp") != std::string::npos);
  BOOST_TEST(text.find("'w'") != std::string::npos);
  // matmul saves x (2x3 f64 = 48 B) for w's gradient; exp saves its output (2x4 f64 = 64 B).
  BOOST_TEST(text.find("saved 48 B") != std::string::npos);
  BOOST_TEST(text.find("saved 64 B") != std::string::npos);
  std::string dot = ag::dump_graph_dot(y);
  BOOST_TEST(dot.rfind("digraph", 0) == 0);
  BOOST_TEST(dot.find("->") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(backward_without_create_graph_records_nothing) {
  Var x = randvar({3}, 40);
  Var y = ag::sum(ag::tanh(ag::square(x)));
  y.backward();
  BOOST_TEST(!x.grad().requires_grad());
  Var x2 = randvar({3}, 40);
  Var y2 = ag::sum(ag::tanh(ag::square(x2)));
  y2.backward(Var(), false, /*create_graph=*/true);
  BOOST_TEST(x2.grad().requires_grad());
  BOOST_TEST(max_abs_diff(x.grad().value(), x2.grad().value()) == 0.0);
}
