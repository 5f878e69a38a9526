// `difflab implicit`: the hexagon experiment's headline (spec_distillation_implicit §3.10
// Q1–Q2: ID-∞ moves the mass to c₂ through c₁); from the command line it writes its report and
// metrics; bad methods and a missing base model are refused with messages naming them.
#include <sys/wait.h>

#include <boost/test/unit_test.hpp>

#include "experiments/implicit.h"
#include "experiments/io.h"
#include "support/run_helpers.h"
#include "tensor/ops.h"

using namespace difflab;
using tensor::DType;
using tensor::Tensor;

namespace {

std::vector<double> vec(const Tensor& t) { return t.to(DType::f64).to_vector<double>(); }

int run(const std::vector<std::string>& args, const std::string& log) {
  const int st = testing::wait_status(testing::spawn_difflab(args, log));
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

}  // namespace

BOOST_AUTO_TEST_CASE(hexagon_id_infinity_moves_the_mass_to_c2_through_c1) {
  matching::LangevinSettings s;  // the official defaults: 5000 steps, γ 0.2, η 0.1
  const auto rows =
      experiments::run_hexagon({experiments::parse_implicit_method("id", s)}, 1000, 0);
  const auto& r = rows[0];
  BOOST_TEST(r.result.trace.reward.back() >= 0.29);
  BOOST_TEST(r.exact_reward >= 0.29);
  BOOST_TEST(r.weights[1] > 0.9);  // c₂ = (2, 3.46)
  // c₁ = (4, 0) holds the most mass at some point before c₂ does.
  int64_t c1_first = -1, c2_first = -1;
  for (size_t i = 0; i < r.result.trace.step.size(); ++i) {
    const std::vector<double> w = vec(tensor::softmax(r.result.trace.theta[i], 0));
    if (c1_first < 0 && w[0] > 0.5) c1_first = r.result.trace.step[i];
    if (c2_first < 0 && w[1] > 0.5) c2_first = r.result.trace.step[i];
  }
  BOOST_TEST_MESSAGE("c1 > 0.5 at step " << c1_first << ", c2 > 0.5 at step " << c2_first);
  BOOST_TEST(c1_first >= 0);
  BOOST_TEST(c1_first < c2_first);
}

BOOST_AUTO_TEST_CASE(bad_methods_are_named) {
  const matching::LangevinSettings s;
  BOOST_CHECK_THROW(experiments::parse_implicit_method("nested", s), Error);
  BOOST_CHECK_THROW(experiments::parse_implicit_method("nested:0", s), Error);
  BOOST_CHECK_THROW(experiments::parse_implicit_method("langevin:3", s), Error);
  BOOST_CHECK_THROW(experiments::parse_implicit_method("nested:6000", s), Error);
  BOOST_TEST(experiments::parse_implicit_method("nested:10x10", s).settings.steps == 50000);
  BOOST_TEST(experiments::parse_implicit_method("unrolled:5", s).settings.unrolled);
}

BOOST_AUTO_TEST_CASE(hexagon_writes_report_and_metrics) {
  const std::string dir = testing::fresh_temp_dir("implicit_hexagon");
  BOOST_TEST(run({"implicit", "--run", dir, "--threads", "1", "--set", "implicit.steps=200", "--set",
                  "implicit.particles=100", "--set", "implicit.methods=id,nested:10,unrolled:5"},
                 dir + ".log") == 0);
  BOOST_TEST(experiments::file_exists(dir + "/report.html"));
  const std::string metrics = experiments::read_file(dir + "/metrics.csv");
  for (const char* m : {"reward[id]", "exact_reward[nested:10]", "reward[unrolled:5]"})
    BOOST_TEST(metrics.find(m) != std::string::npos, m);
}

BOOST_AUTO_TEST_CASE(bad_input_is_named) {
  const std::string dir = testing::fresh_temp_dir("implicit_bad");
  BOOST_TEST(run({"implicit", "--run", dir, "--set", "implicit.methods=id,langevin:4"}, dir + ".log") != 0);
  BOOST_TEST(experiments::read_file(dir + ".log").find("langevin:4") != std::string::npos);
  BOOST_TEST(run({"implicit", "--run", dir, "--set", "implicit.experiment=mnist", "--set",
                  "implicit.base=" + dir + "/nowhere", "--set", "implicit.base_preset="},
                 dir + ".log2") != 0);
  BOOST_TEST(experiments::read_file(dir + ".log2").find("no trained DDPM") != std::string::npos);
}
