// Checkpointing schedules through a K-step chain: every schedule gives full backprop's gradient
// (f64, 1e-10), runs exactly its formula's number of forwards, and holds what it claims.
#include <boost/test/unit_test.hpp>
#include <cmath>

#include "autograd/chain_gradient.h"
#include "autograd/functions.h"
#include "tensor/factory.h"
#include "tensor/ops.h"
#include "tensor/random.h"

using namespace difflab;
using ag::Var;
using tensor::Tensor;

namespace {

// z_{k+1} = tanh(z W + (k + 1) b / K) + 0.5 z: nonlinear, reads both params at every step.
struct Chain {
  Var w, b;
  int64_t steps;
  int64_t calls = 0;
  explicit Chain(int64_t k) : steps(k) {
    tensor::Generator g(7);
    w = Var(tensor::affine(tensor::randn({3, 3}, tensor::DType::f64, &g), 0.5, 0.0), true);
    b = Var(tensor::randn({1, 3}, tensor::DType::f64, &g), true);
  }
  ag::ChainStep step() {
    return [this](int64_t k, const Var& z) {
      ++calls;
      return ag::tanh(ag::matmul(z, w) + b * (double(k + 1) / double(steps))) + z * 0.5;
    };
  }
};

Tensor initial() {
  tensor::Generator g(11);
  return tensor::randn({4, 3}, tensor::DType::f64, &g);
}

ag::ChainLoss loss() {
  return [](const Var& z) { return ag::sum(ag::square(z - 0.3)); };
}

double rel_err(const Tensor& a, const Tensor& b) {
  const Tensor d = tensor::binary(tensor::BinaryOp::sub, a, b);
  const double den = std::sqrt(tensor::sum(tensor::binary(tensor::BinaryOp::mul, b, b), {}).item());
  return std::sqrt(tensor::sum(tensor::binary(tensor::BinaryOp::mul, d, d), {}).item()) / den;
}

ag::ChainGradient run(const std::string& plan, int64_t k, int64_t* calls = nullptr) {
  Chain c(k);
  ag::ChainGradient g =
      ag::chain_gradient(c.step(), {c.w, c.b}, initial(), k, loss(), ag::parse_chain_plan(plan));
  if (calls) *calls = c.calls;
  return g;
}

}  // namespace

BOOST_AUTO_TEST_CASE(every_schedule_gives_full_backprops_gradient) {
  const int64_t k = 8;
  const ag::ChainGradient ref = run("full", k);
  for (const char* plan : {"per_step", "segments", "two_level", "revolve:2", "revolve:3",
                           "revolve:4", "recompute"}) {
    BOOST_TEST_CONTEXT(plan) {
      const ag::ChainGradient g = run(plan, k);
      BOOST_TEST(rel_err(g.grad_initial, ref.grad_initial) <= 1e-10);
      BOOST_TEST(rel_err(g.grad_params[0], ref.grad_params[0]) <= 1e-10);
      BOOST_TEST(rel_err(g.grad_params[1], ref.grad_params[1]) <= 1e-10);
      BOOST_TEST(g.loss.item() == ref.loss.item());
    }
  }
  // And full backprop itself against a central difference in one weight.
  Chain c(k);
  const double h = 1e-6;
  auto loss_at = [&](double dw) {
    Chain d(k);
    Tensor wv = d.w.value().clone();
    wv.data<double>()[4] += dw;
    d.w = Var(wv, true);
    return ag::chain_gradient(d.step(), {d.w, d.b}, initial(), k, loss(), {}).loss.item();
  };
  const double fd = (loss_at(h) - loss_at(-h)) / (2 * h);
  BOOST_TEST(std::abs(fd - ref.grad_params[0].data<double>()[4]) <= 1e-7 * (1 + std::abs(fd)));
}

BOOST_AUTO_TEST_CASE(forward_counts_equal_the_formulas) {
  for (int64_t k : {1, 5, 8, 13}) {
    for (const char* plan :
         {"full", "per_step", "segments", "two_level", "revolve:2", "revolve:4", "recompute"}) {
      BOOST_TEST_CONTEXT(plan << " K=" << k) {
        int64_t calls = 0;
        const ag::ChainGradient g = run(plan, k, &calls);
        BOOST_TEST(g.counts.forwards == calls);
        BOOST_TEST(calls == ag::chain_forwards(ag::parse_chain_plan(plan), k));
        BOOST_TEST(g.counts.vjps == k);
      }
    }
  }
  BOOST_TEST(ag::chain_forwards(ag::parse_chain_plan("per_step"), 10) == 19);
  BOOST_TEST(ag::chain_forwards(ag::parse_chain_plan("recompute"), 10) == 45 + 10);
  BOOST_TEST(ag::chain_forwards(ag::parse_chain_plan("revolve:10"), 1024) == 3755 + 1024);
}

BOOST_AUTO_TEST_CASE(revolve_closed_form_matches_the_dynamic_program) {
  int mismatches = 0;
  for (int64_t c = 1; c <= 6; ++c)
    for (int64_t l = 1; l < 60; ++l) mismatches += ag::revolve_forwards(l, c) != ag::revolve_forwards_dp(l, c);
  BOOST_TEST(mismatches == 0);
  BOOST_TEST(ag::revolve_forwards(1024, 10) == 3755);  // the spec's worked example
  BOOST_TEST(ag::revolve_forwards_dp(1024, 10) == 3755);
}

BOOST_AUTO_TEST_CASE(schedules_hold_the_states_they_claim) {
  const int64_t k = 16;
  BOOST_TEST(run("full", k).counts.peak_states == 1);
  BOOST_TEST(run("per_step", k).counts.peak_states == k);
  BOOST_TEST(run("recompute", k).counts.peak_states == 1);
  BOOST_TEST(run("revolve:3", k).counts.peak_states == 3);
  BOOST_TEST(run("segments", k).counts.peak_states == 4);       // states at 0, 4, 8, 12
  BOOST_TEST(run("two_level", k).counts.peak_states == 4 + 3);  // and 3 inside a segment
  // Activations: full backprop tapes K steps, the others one step (segments: √K).
  const size_t one = run("per_step", k).counts.peak_saved_bytes;
  BOOST_TEST(run("per_step", 2 * k).counts.peak_saved_bytes == one);
  BOOST_TEST(run("revolve:2", k).counts.peak_saved_bytes == one);
  // Each step saves its input (matmul) and tanh's output, 2 × 4 × 3 doubles; W is a parameter,
  // not an activation. Full backprop's tape grows by exactly that per step.
  const size_t per = 2 * 4 * 3 * sizeof(double);
  const size_t full = run("full", k).counts.peak_saved_bytes;
  BOOST_TEST(run("full", 2 * k).counts.peak_saved_bytes - full == size_t(k) * per);
  BOOST_TEST(one == per + 4 * 3 * sizeof(double));  // the last step's tape holds the loss too
}

BOOST_AUTO_TEST_CASE(truncation_keeps_only_the_last_steps) {
  const int64_t k = 8;
  const ag::ChainGradient ref = run("full", k);
  Chain c(k);
  const ag::ChainGradient all =
      ag::truncated_chain_gradient(c.step(), {c.w, c.b}, initial(), k, k, loss());
  BOOST_TEST(rel_err(all.grad_params[0], ref.grad_params[0]) <= 1e-12);
  Chain d(k);
  const ag::ChainGradient one =
      ag::truncated_chain_gradient(d.step(), {d.w, d.b}, initial(), k, 1, loss());
  BOOST_TEST(d.calls == k);
  BOOST_TEST(one.counts.vjps == 1);
  BOOST_TEST(rel_err(one.grad_params[0], ref.grad_params[0]) > 1e-3);  // biased
  BOOST_TEST(tensor::sum(tensor::binary(tensor::BinaryOp::mul, one.grad_initial, one.grad_initial), {}).item() == 0.0);
  BOOST_TEST(one.loss.item() == ref.loss.item());
}

BOOST_AUTO_TEST_CASE(bad_plans_are_named) {
  BOOST_CHECK_THROW(ag::parse_chain_plan("revolve"), Error);
  BOOST_CHECK_THROW(ag::parse_chain_plan("revolve:0"), Error);
  BOOST_CHECK_THROW(ag::parse_chain_plan("binomial"), Error);
  try {
    ag::parse_chain_plan("binomial");
  } catch (const Error& e) {
    BOOST_TEST(std::string(e.what()).find("revolve:C") != std::string::npos);
  }
  Chain c(4);
  BOOST_CHECK_THROW(
      ag::truncated_chain_gradient(c.step(), {c.w}, initial(), 4, 5, loss()), Error);
}
