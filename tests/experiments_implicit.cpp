// `difflab implicit` from the command line: the hexagon experiment writes its report and
// metrics; bad methods and a missing base model are refused with messages naming them.
#include <boost/test/unit_test.hpp>
#include <sys/wait.h>

#include "experiments/io.h"
#include "support/run_helpers.h"

using namespace difflab;

namespace {

int run(const std::vector<std::string>& args, const std::string& log) {
  const int st = testing::wait_status(testing::spawn_difflab(args, log));
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

}  // namespace

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
