// The divergence registry and the cdm.* settings grammar (matching/divergence_registry.h,
// divergence_settings.h): built-in names, lookup errors listing the names, user registration at
// run time, every built-in evaluated and differentiated through the table, and the parser's
// values, errors and help lines.
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <set>

#include "autograd/engine.h"
#include "autograd/functions.h"
#include "matching/divergence_registry.h"
#include "tensor/factory.h"
#include "tensor/random.h"
#include "tests/support/check_message.h"

using namespace difflab;
using namespace difflab::matching;
using ag::Var;
using difflab::testing::message_has;
using tensor::DType;

namespace {

Var randvar(const tensor::Shape& s, uint64_t seed, double shift = 0.0, bool rg = false) {
  tensor::Generator g(seed);
  return Var(tensor::affine(tensor::randn(s, DType::f64, &g), 1.0, shift), rg);
}

// ‖mean X − mean Y‖²: a user divergence, as a Python binding would register one.
Var mean_gap(const Var& x, const Var& y, const DivergenceSettings&, tensor::Generator*) {
  return ag::sum(ag::square(ag::mean(x, {0}) - ag::mean(y, {0})));
}

const std::vector<std::string> builtins = {"mmd_u",    "mmd_v",     "mmd_sqrt",  "energy",
                                           "energy_u", "sliced_w1", "sliced_w2", "sinkhorn"};

bool parse_fails(const std::vector<std::pair<std::string, std::string>>& kv,
                 std::initializer_list<const char*> parts) {
  try {
    parse_divergence_settings(kv);
  } catch (const difflab::Error& e) {
    return message_has(e, parts);
  }
  BOOST_TEST_MESSAGE("no error for " << kv.front().first << "=" << kv.front().second);
  return false;
}

}  // namespace

BOOST_AUTO_TEST_CASE(builtin_names_and_unknown_lookup) {
  const auto names = divergence_registry().names();
  BOOST_TEST(std::vector<std::string>(names.begin(), names.begin() + 8) == builtins);
  for (const auto& n : builtins) {
    BOOST_TEST_INFO(n);
    BOOST_TEST(divergence_registry().contains(n));
    BOOST_TEST(!divergence_registry().description(n).empty());
  }
  BOOST_TEST(!divergence_registry().contains("nope"));
  BOOST_CHECK_EXCEPTION(divergence_registry().find("nope"), difflab::Error,
                        [](const difflab::Error& e) {
                          return message_has(e, {"unknown divergence 'nope'", "mmd_u", "mmd_sqrt",
                                                 "energy_u", "sliced_w2", "sinkhorn"});
                        });
  // A fresh table filled by the one registration call holds exactly the built-ins.
  DivergenceRegistry fresh;
  BOOST_TEST(fresh.names().empty());
  register_builtin_divergences(fresh);
  BOOST_TEST(fresh.names() == builtins);
}

BOOST_AUTO_TEST_CASE(user_divergence_registered_at_run_time) {
  Var x = randvar({5, 2}, 1, 0.0, true), y = randvar({4, 2}, 2, 0.5);
  DivergenceRegistry local;
  local.add("mean_gap", "squared distance of the means", mean_gap);
  const double direct = mean_gap(x, y, {}, nullptr).item();
  BOOST_TEST(local.evaluate("mean_gap", x, y, {}).item() == direct);
  BOOST_CHECK_EXCEPTION(local.add("mean_gap", "again", mean_gap), difflab::Error,
                        [](const difflab::Error& e) {
                          return message_has(e, {"mean_gap", "already registered"});
                        });
  BOOST_CHECK_EXCEPTION(local.add("bad name", "", mean_gap), difflab::Error,
                        [](const difflab::Error& e) { return message_has(e, {"bad name"}); });
  BOOST_CHECK_EXCEPTION(local.add("empty", "", DivergenceFn()), difflab::Error,
                        [](const difflab::Error& e) { return message_has(e, {"no function"}); });
  // In the process-wide table it is chosen by the grammar like a built-in, and differentiable.
  divergence_registry().add("test_mean_gap", "squared distance of the means", mean_gap);
  BOOST_TEST(divergence_registry().names().back() == "test_mean_gap");
  const DivergenceSettings s = parse_divergence_settings({{"cdm.divergence", "test_mean_gap"}});
  Var d = divergence(x, y, s);
  BOOST_TEST(d.item() == direct);
  // ∂/∂x_{i,0} = 2(mean X − mean Y)₀/N for every row i.
  auto g = ag::grad({d}, {x})[0].value().to_vector<double>();
  auto xv = x.value().to_vector<double>(), yv = y.value().to_vector<double>();
  double gap0 = 0;
  for (int i = 0; i < 5; ++i) gap0 += xv[size_t(2 * i)] / 5;
  for (int j = 0; j < 4; ++j) gap0 -= yv[size_t(2 * j)] / 4;
  for (int i = 0; i < 5; ++i) BOOST_TEST(std::abs(g[size_t(2 * i)] - 2 * gap0 / 5) < 1e-15);
  bool listed = false;
  for (const auto& h : divergence_setting_help())
    if (h.key == "cdm.divergence") listed = h.help.find("test_mean_gap") != std::string::npos;
  BOOST_TEST(listed);
}

BOOST_AUTO_TEST_CASE(every_builtin_evaluates_and_differentiates) {
  Var x = randvar({6, 2}, 3, 0.0, true), y = randvar({6, 2}, 4, 0.8);
  for (const auto& name : builtins) {
    DivergenceSettings s;
    s.divergence = name;
    s.projections = 16;
    s.sinkhorn.epsilon = 0.1;
    tensor::Generator gen(5);
    Var d = divergence(x, y, s, &gen);
    auto g = ag::grad({d}, {x})[0].value().to_vector<double>();
    double norm = 0;
    for (double v : g) norm += v * v;
    BOOST_TEST_INFO(name << ": value " << d.item() << ", |grad|² " << norm);
    BOOST_TEST(std::isfinite(d.item()));
    BOOST_TEST(d.item() > 0);  // the clouds differ by a shift of 0.8: every kind sees it
    BOOST_TEST((std::isfinite(norm) && norm > 0));
  }
}

BOOST_AUTO_TEST_CASE(grammar_sets_every_field) {
  const DivergenceSettings s = parse_divergence_settings({{"cdm.divergence", "sinkhorn"},
                                                          {"cdm.kernel", "imq"},
                                                          {"cdm.bandwidth", "0.75"},
                                                          {"cdm.projections", "64"},
                                                          {"cdm.sinkhorn_epsilon", "0.01"},
                                                          {"cdm.sinkhorn_p", "1"},
                                                          {"cdm.sinkhorn_iterations", "300"},
                                                          {"cdm.sinkhorn_tolerance", "1e-7"},
                                                          {"cdm.sinkhorn_scaling", "0.8"}});
  BOOST_TEST(s.divergence == "sinkhorn");
  BOOST_TEST(int(s.kernel) == int(KernelKind::imq));
  BOOST_TEST(int(s.bandwidth.mode) == int(BandwidthMode::fixed));
  BOOST_TEST(s.bandwidth.value == 0.75);
  BOOST_TEST(s.projections == 64);
  BOOST_TEST(s.sinkhorn.epsilon == 0.01);
  BOOST_TEST(s.sinkhorn.p == 1);
  BOOST_TEST(s.sinkhorn.max_iterations == 300);
  BOOST_TEST(s.sinkhorn.tolerance == 1e-7);
  BOOST_TEST(s.sinkhorn.scaling == 0.8);
  BOOST_TEST(int(parse_divergence_settings({{"cdm.bandwidth", "multi"}}).bandwidth.mode) ==
             int(BandwidthMode::multi));
  BOOST_TEST(int(parse_divergence_settings({{"cdm.kernel", "energy"}}).kernel) ==
             int(KernelKind::energy));
  // Keys of other parts of a command are left alone.
  DivergenceSettings t;
  BOOST_TEST(!apply_divergence_setting(t, "cdm.steps", "10"));
  BOOST_TEST(t.divergence == "mmd_u");
}

BOOST_AUTO_TEST_CASE(grammar_errors_name_the_value_and_the_choices) {
  BOOST_TEST(parse_fails({{"cdm.bandwidth", "-1"}},
                         {"cdm.bandwidth", "'-1'", "median", "multi", "positive number"}));
  BOOST_TEST(parse_fails({{"cdm.bandwidth", "foo"}}, {"cdm.bandwidth", "'foo'", "median"}));
  BOOST_TEST(parse_fails({{"cdm.bandwidth", "0"}}, {"'0'"}));
  BOOST_TEST(parse_fails({{"cdm.kernel", "rbf"}},
                         {"cdm.kernel", "'rbf'", "gaussian", "laplace", "imq", "energy"}));
  BOOST_TEST(
      parse_fails({{"cdm.divergence", "wasserstein"}},
                  {"cdm.divergence", "unknown divergence 'wasserstein'", "mmd_u", "sinkhorn"}));
  BOOST_TEST(parse_fails({{"cdm.projections", "0"}}, {"cdm.projections", "'0'", "integer >= 1"}));
  BOOST_TEST(parse_fails({{"cdm.projections", "1.5"}}, {"'1.5'"}));
  BOOST_TEST(parse_fails({{"cdm.sinkhorn_p", "3"}}, {"cdm.sinkhorn_p", "'3'", "1 or 2"}));
  BOOST_TEST(parse_fails({{"cdm.sinkhorn_epsilon", "0"}}, {"cdm.sinkhorn_epsilon", "> 0"}));
  BOOST_TEST(parse_fails({{"cdm.sinkhorn_tolerance", "-1"}}, {"cdm.sinkhorn_tolerance", ">= 0"}));
  BOOST_TEST(parse_fails({{"cdm.sinkhorn_scaling", "1"}}, {"cdm.sinkhorn_scaling", "[0, 1)"}));
  BOOST_TEST(parse_fails({{"cdm.sinkhorn_iterations", "ten"}}, {"'ten'"}));
  BOOST_TEST(parse_fails({{"cdm.kernal", "imq"}}, {"unknown divergence setting 'cdm.kernal'",
                                                   "cdm.kernel", "cdm.bandwidth"}));
  // Contradictions within one kernel, whatever the order of the keys.
  BOOST_TEST(parse_fails({{"cdm.bandwidth", "0.5"}, {"cdm.kernel", "energy"}},
                         {"cdm.bandwidth", "energy"}));
  BOOST_TEST(parse_fails({{"cdm.kernel", "energy"}, {"cdm.bandwidth", "median"}},
                         {"cdm.bandwidth", "energy"}));
  BOOST_TEST(
      parse_fails({{"cdm.bandwidth", "multi"}, {"cdm.kernel", "laplace"}}, {"multi", "laplace"}));
}

BOOST_AUTO_TEST_CASE(help_has_one_line_per_key) {
  const auto help = divergence_setting_help();
  std::set<std::string> keys;
  for (const auto& h : help) {
    BOOST_TEST_INFO(h.key);
    BOOST_TEST(h.key.rfind("cdm.", 0) == 0);
    BOOST_TEST(!h.help.empty());
    BOOST_TEST(h.help.find('\n') == std::string::npos);
    keys.insert(h.key);
    // Every key in the help is one the grammar accepts (the value may be refused).
    DivergenceSettings s;
    bool known = true;
    try {
      known = apply_divergence_setting(s, h.key, "1");
    } catch (const difflab::Error&) {
    }
    BOOST_TEST(known);
  }
  BOOST_TEST(keys.size() == help.size());
  BOOST_TEST(help.size() == 9u);
  for (const char* k : {"cdm.divergence", "cdm.kernel", "cdm.bandwidth", "cdm.projections",
                        "cdm.sinkhorn_epsilon", "cdm.sinkhorn_p"})
    BOOST_TEST(keys.count(k) == 1u);
}
