// `difflab compare-runs` on two hand-made run folders: the table holds each metric's last
// logged value and step, a dash where a run never logged the metric, the labels, and the
// highest-step sample grid as the page's only embedded image; the compared runs stay untouched;
// bad labels, a missing folder and an unknown metric fail by name before anything is written.
// Views read one run's columns from other metric names (a distill run's "student/<m>@4"), and
// grids pick the image shown.
#include <boost/test/unit_test.hpp>
#include <filesystem>

#include "experiments/compare_runs.h"
#include "experiments/image_grid.h"
#include "experiments/io.h"
#include "experiments/report.h"
#include "experiments/run_folder.h"
#include "tensor/factory.h"
#include "tests/support/check_message.h"
#include "tests/support/run_helpers.h"

using namespace difflab;
using namespace difflab::experiments;
using namespace difflab::testing;
namespace fs = std::filesystem;

namespace {

size_t count(const std::string& text, const std::string& part) {
  size_t n = 0;
  for (size_t p = text.find(part); p != std::string::npos; p = text.find(part, p + 1)) ++n;
  return n;
}

// run-a logs frechet and kid at steps 100 and 200 and has grids at steps 90 and 200 (90 sorts
// after 200 by name, so a name order would pick the wrong one); run-b logs only frechet and has
// no samples/ or checkpoints/ folder at all. Returns the bytes of run-a's step-200 grid.
std::string make_runs(const std::string& base) {
  RunFolder a(base + "/run-a"), b(base + "/run-b");
  a.log_metric(100, "frechet", 11.5);
  a.log_metric(100, "kid", 0.25);
  a.log_metric(200, "frechet", 7.25);
  a.log_metric(200, "kid", 0.125);
  b.log_metric(100, "frechet", 33.5);
  b.log_metric(200, "frechet", 22.75);
  fs::remove(b.path("samples"));
  fs::remove(b.path("checkpoints"));
  write_png_grid(a.sample_path("step90"), tensor::zeros({1, 1, 2, 2}));
  return write_png_grid(a.sample_path("step200"), tensor::ones({1, 1, 3, 3}));
}

CommandArgs compare(const std::string& base, const std::string& out,
                    std::vector<std::string> extra) {
  CommandArgs args;
  args.run_dir = base + "/" + out;
  args.sets = {"compare.runs=" + base + "/run-a," + base + "/run-b"};
  args.sets.insert(args.sets.end(), extra.begin(), extra.end());
  return args;
}

}  // namespace

BOOST_AUTO_TEST_CASE(table_holds_last_values_dashes_labels_and_latest_grid) {
  const std::string base = fresh_temp_dir("compare_runs");
  const std::string grid = make_runs(base);
  BOOST_TEST(run_compare_runs(compare(
                 base, "out",
                 {"compare.labels=model A, first; model B", "compare.title=Two fakes"})) == 0);
  BOOST_REQUIRE(fs::exists(base + "/out/report.html"));
  BOOST_TEST(fs::exists(base + "/out/config.json"));
  const std::string html = read_file(base + "/out/report.html");
  BOOST_TEST(html.find("<h1>Two fakes</h1>") != std::string::npos);
  BOOST_TEST(html.find("<td>7.25 (step 200)</td>") != std::string::npos);
  BOOST_TEST(html.find("<td>22.75 (step 200)</td>") != std::string::npos);
  BOOST_TEST(html.find("<td>0.125 (step 200)</td>") != std::string::npos);
  BOOST_TEST(html.find("11.5") == std::string::npos);  // first values are not shown
  BOOST_TEST(html.find("33.5") == std::string::npos);
  BOOST_TEST(count(html, "<td>–</td>") == 1u);  // run-b's kid
  BOOST_TEST(html.find("<td>model A, first</td>") != std::string::npos);
  BOOST_TEST(html.find("<td>model B</td>") != std::string::npos);
  BOOST_TEST(count(html, "data:image/png;base64,") == 1u);
  BOOST_TEST(html.find(base64_encode(grid)) != std::string::npos);  // step200, not step90
  BOOST_TEST(html.find("run-b/samples holds no PNG") != std::string::npos);
  // Compared runs are read only: no folder appears in run-b, no file is added to run-a.
  BOOST_TEST(!fs::exists(base + "/run-b/samples"));
  BOOST_TEST(!fs::exists(base + "/run-b/checkpoints"));
  BOOST_TEST(!fs::exists(base + "/run-a/report.html"));

  // Default labels are the folders' names; compare.metrics picks and orders the columns.
  BOOST_TEST(run_compare_runs(compare(base, "out2", {"compare.metrics=kid"})) == 0);
  const std::string two = read_file(base + "/out2/report.html");
  BOOST_TEST(two.find("<td>run-a</td>") != std::string::npos);
  BOOST_TEST(two.find("<th>kid</th>") != std::string::npos);
  BOOST_TEST(two.find("<th>frechet</th>") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(bad_labels_missing_folder_and_unknown_metric_fail_by_name) {
  const std::string base = fresh_temp_dir("compare_runs_bad");
  make_runs(base);
  BOOST_CHECK_EXCEPTION(run_compare_runs(compare(base, "out", {"compare.labels=one;two;three"})),
                        difflab::Error, [](const difflab::Error& e) {
                          return message_has(e, {"compare.labels", "3 labels", "2 runs"});
                        });
  CommandArgs missing = compare(base, "out", {});
  missing.sets[0] += "," + base + "/no-such-run";
  const std::string name = base + "/no-such-run";
  BOOST_CHECK_EXCEPTION(run_compare_runs(missing), difflab::Error, [&](const difflab::Error& e) {
    return message_has(e, {name.c_str(), "does not exist"});
  });
  BOOST_CHECK_EXCEPTION(run_compare_runs(compare(base, "out", {"compare.metrics=frechet,fid"})),
                        difflab::Error, [](const difflab::Error& e) {
                          return message_has(e, {"compare.metrics", "'fid'"});
                        });
  BOOST_TEST(!fs::exists(base + "/out"));  // every error came before anything was written
}

// A distill-like run logs "student/frechet@4" and "student/frechet@1": two views of the one
// folder show each student as its own row under the plain "frechet" column, beside run-a.
BOOST_AUTO_TEST_CASE(views_and_grids_show_one_run_as_several_rows) {
  const std::string base = fresh_temp_dir("compare_runs_views");
  make_runs(base);
  RunFolder d(base + "/distill");
  d.log_metric(10, "student/frechet@4", 41.5);
  d.log_metric(20, "student/frechet@1", 61.5);
  d.log_metric(20, "ddim/frechet@1", 999.5);
  const std::string four = write_png_grid(d.sample_path("student_4"), tensor::ones({1, 1, 5, 5}));
  write_png_grid(d.sample_path("student_1"), tensor::zeros({1, 1, 4, 4}));
  CommandArgs args;
  args.run_dir = base + "/out";
  const std::string dd = base + "/distill";
  args.sets = {"compare.runs=" + base + "/run-a," + dd + "," + dd,
               "compare.labels=A; 4-step student; 1-step student",
               "compare.views= ; student/{}@4 ; student/{}@1",
               "compare.grids=;samples/student_4.png;", "compare.metrics=frechet"};
  BOOST_TEST(run_compare_runs(args) == 0);
  const std::string html = read_file(base + "/out/report.html");
  BOOST_TEST(html.find("<td>7.25 (step 200)</td>") != std::string::npos);
  BOOST_TEST(html.find("<td>41.5 (step 10)</td>") != std::string::npos);
  BOOST_TEST(html.find("<td>61.5 (step 20)</td>") != std::string::npos);
  BOOST_TEST(html.find("999.5") == std::string::npos);  // ddim/ is outside both views
  BOOST_TEST(html.find("(student/{}@4)</td>") != std::string::npos);
  BOOST_TEST(html.find(base64_encode(four)) != std::string::npos);

  // Wrong counts, a view without {} and a missing grid fail by name.
  auto with = [&](const std::string& set) {
    CommandArgs a = args;
    a.run_dir = base + "/bad";
    a.sets.push_back(set);
    return a;
  };
  BOOST_CHECK_EXCEPTION(run_compare_runs(with("compare.views=;student/{}@4")), difflab::Error,
                        [](const difflab::Error& e) {
                          return message_has(e, {"compare.views", "2 items", "3 runs"});
                        });
  BOOST_CHECK_EXCEPTION(run_compare_runs(with("compare.views=;student/frechet@4;")),
                        difflab::Error, [](const difflab::Error& e) {
                          return message_has(e, {"compare.views", "student/frechet@4", "{}"});
                        });
  BOOST_CHECK_EXCEPTION(run_compare_runs(with("compare.grids=;;samples/nope.png")),
                        difflab::Error, [](const difflab::Error& e) {
                          return message_has(e, {"compare.grids", "samples/nope.png"});
                        });
  BOOST_TEST(!fs::exists(base + "/bad"));
}
