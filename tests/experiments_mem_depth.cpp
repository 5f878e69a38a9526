// `difflab mem-depth` on the 2-D MLP at small K: every acceptance check of spec §4.4 holds, the
// rows carry what the report needs, bad settings are named, and the command resumes.
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <filesystem>
#include <sys/wait.h>

#include "experiments/config.h"
#include "experiments/io.h"
#include "experiments/mem_depth.h"
#include "experiments/mem_depth_report.h"
#include "support/run_helpers.h"

using namespace difflab;
using namespace difflab::experiments;

namespace {

MemDepthSettings small(const std::string& sampler) {
  Config c = mem_depth_config();
  c.set("mem.samplers=" + sampler);
  c.set("mem.steps=2,4,8");
  c.set("mem.batch=16");
  c.set("mem.repeats=1");
  c.declare_int("seed", 0, 0, 1000, "as resolve_config declares it");
  return mem_depth_settings(c);
}

std::vector<MemDepthRow> rows_of(const MemDepthSettings& s, const std::string& sampler) {
  std::vector<MemDepthRow> all;
  for (int64_t k : s.steps)
    for (auto& r : mem_depth_rows(s, sampler, k)) all.push_back(r);
  return all;
}

}  // namespace

BOOST_AUTO_TEST_CASE(every_acceptance_check_passes_on_the_mlp) {
  for (const char* sampler : {"ddim", "ddpm"}) {
    const std::vector<MemDepthRow> rows = rows_of(small(sampler), sampler);
    int checks = 0;
    for (const std::string& line : mem_depth_checks(rows)) {
      BOOST_TEST_MESSAGE(line);
      BOOST_TEST_CONTEXT(sampler << ": " << line) {
        BOOST_TEST(line.rfind("FAIL", 0) != 0);
      }
      checks += line.rfind("PASS", 0) == 0;
    }
    BOOST_TEST(checks >= 6);
    // Score function only on DDPM, the adjoint only on DDIM; truncation needs k < K.
    for (const auto& r : rows) {
      BOOST_TEST(!(r.method == "score_function" && std::string(sampler) == "ddim"));
      BOOST_TEST(!(r.method.rfind("adjoint", 0) == 0 && std::string(sampler) == "ddpm"));
      BOOST_TEST(!(r.method == "truncated:4" && r.steps <= 4));
      BOOST_TEST(r.peak_bytes > 0);
      BOOST_TEST(r.vjps == (r.method.rfind("truncated:", 0) == 0 ? std::stoll(r.method.substr(10)) : r.steps));
    }
  }
}

BOOST_AUTO_TEST_CASE(slopes_fit_powers) {
  BOOST_TEST(std::abs(loglog_slope({1, 2, 4, 8}, {3, 6, 12, 24}) - 1.0) < 1e-12);
  BOOST_TEST(std::abs(loglog_slope({1, 2, 4, 8}, {5, 5, 5, 5})) < 1e-12);
  BOOST_TEST(std::abs(linear_slope({1, 2, 4}, {10, 12, 16}) - 2.0) < 1e-12);
  BOOST_TEST(std::isnan(loglog_slope({1}, {1})));
}

BOOST_AUTO_TEST_CASE(bad_settings_are_named) {
  Config c = mem_depth_config();
  c.set("mem.methods=full,binomial");
  try {
    mem_depth_settings(c);
    BOOST_FAIL("an unknown method was accepted");
  } catch (const Error& e) {
    BOOST_TEST(std::string(e.what()).find("binomial") != std::string::npos);
  }
  Config d = mem_depth_config();
  d.set("mem.samplers=euler");
  BOOST_CHECK_THROW(mem_depth_settings(d), Error);
  Config e = mem_depth_config();
  e.set("mem.steps=0,4");
  BOOST_CHECK_THROW(mem_depth_settings(e), Error);
}

BOOST_AUTO_TEST_CASE(the_command_writes_rows_and_resumes) {
  const std::string dir = testing::fresh_temp_dir("mem_depth_cli");
  const std::vector<std::string> args{"mem-depth", "--run", dir, "--threads", "1",
                                      "--set", "mem.steps=1,2", "--set", "mem.samplers=ddim",
                                      "--set", "mem.methods=full,per_step,revolve:2",
                                      "--set", "mem.repeats=1"};
  auto run = [&](std::vector<std::string> a) {
    const int st = testing::wait_status(testing::spawn_difflab(a, dir + ".log"));
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  };
  BOOST_TEST(run(args) == 0);
  BOOST_TEST(file_exists(dir + "/report.html"));
  const auto rows = nlohmann::json::parse(read_file(dir + "/rows.json"));
  BOOST_TEST(rows.size() == 6u);
  BOOST_TEST(rows[0].contains("rss_peak_bytes"));
  const auto stamp = std::filesystem::last_write_time(dir + "/rows.json");
  std::vector<std::string> again = args;
  again.push_back("--resume");
  BOOST_TEST(run(again) == 0);
  BOOST_TEST((std::filesystem::last_write_time(dir + "/rows.json") == stamp));  // nothing redone
}
