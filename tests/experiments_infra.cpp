// Experiment infrastructure: validated configs, run folders and metrics logs, PNG grids,
// HTML reports with SVG plots, atomic writes.
#include <boost/test/unit_test.hpp>
#include <filesystem>

#include "experiments/config.h"
#include "experiments/image_grid.h"
#include "experiments/io.h"
#include "experiments/report.h"
#include "experiments/run_folder.h"
#include "tensor/factory.h"
#include "tests/support/check_message.h"

using namespace difflab;
using namespace difflab::experiments;
using difflab::testing::message_has;
namespace fs = std::filesystem;

namespace {
Config sample_config() {
  Config c;
  c.declare_int("train.steps", 1000, 1, 10000000, "training steps")
      .declare_double("train.lr", 2e-4, 0.0, 1.0, "learning rate")
      .declare_bool("model.ema", true, "keep an EMA of the weights")
      .declare_string("diffusion.param", "eps", {"eps", "x", "v"}, "prediction target");
  return c;
}
std::string tmpdir(const std::string& name) {
  std::string d = (fs::temp_directory_path() / ("difflab_test_" + name)).string();
  fs::remove_all(d);
  return d;
}
}  // namespace

BOOST_AUTO_TEST_CASE(config_defaults_json_and_overrides) {
  Config c = sample_config();
  BOOST_TEST(c.get_int("train.steps") == 1000);
  c.load_json(nlohmann::json::parse(R"({"train": {"steps": 50, "lr": 0.001}, "model.ema": false})"));
  BOOST_TEST(c.get_int("train.steps") == 50);
  BOOST_TEST(c.get_double("train.lr") == 0.001);
  BOOST_TEST(!c.get_bool("model.ema"));
  c.set("diffusion.param=v");
  c.set("train.steps=7");
  BOOST_TEST(c.get_string("diffusion.param") == "v");
  BOOST_TEST(c.get_int("train.steps") == 7);
  auto r = c.resolved();
  BOOST_TEST(r["train"]["steps"].get<int>() == 7);
  BOOST_TEST(r["diffusion"]["param"].get<std::string>() == "v");
  // The resolved config loads back to the same values.
  Config c2 = sample_config();
  c2.load_json(r);
  BOOST_TEST(c2.resolved() == r);
}

BOOST_AUTO_TEST_CASE(config_errors_name_key_range_and_suggestion) {
  Config c = sample_config();
  BOOST_CHECK_EXCEPTION(c.set("train.stpes=5"), difflab::Error, [](const difflab::Error& e) {
    return message_has(e, {"unknown key 'train.stpes'", "did you mean 'train.steps'"});
  });
  BOOST_CHECK_EXCEPTION(c.set("train.steps=0"), difflab::Error, [](const difflab::Error& e) {
    return message_has(e, {"train.steps", "out of range", "[1, 10000000]"});
  });
  BOOST_CHECK_EXCEPTION(c.set("train.steps=1.5"), difflab::Error, [](const difflab::Error& e) {
    return message_has(e, {"train.steps", "integer"});
  });
  BOOST_CHECK_EXCEPTION(c.set("train.lr=fast"), difflab::Error, [](const difflab::Error& e) {
    return message_has(e, {"train.lr", "number"});
  });
  BOOST_CHECK_EXCEPTION(c.set("diffusion.param=score"), difflab::Error,
                        [](const difflab::Error& e) {
                          return message_has(e, {"diffusion.param", "'score'", "eps, x, v"});
                        });
  BOOST_CHECK_EXCEPTION(c.set("model.ema=yes"), difflab::Error, [](const difflab::Error& e) {
    return message_has(e, {"model.ema", "true or false"});
  });
  BOOST_CHECK_EXCEPTION(c.set("noequals"), difflab::Error,
                        [](const difflab::Error& e) { return message_has(e, {"key=value"}); });
  std::string d = tmpdir("cfg");
  make_dirs(d);
  write_file_atomic(d + "/bad.json", "{\"train\": {\"steps\": 5,}");
  BOOST_CHECK_EXCEPTION(c.load_file(d + "/bad.json"), difflab::Error, [](const difflab::Error& e) {
    return message_has(e, {"bad.json", "not valid JSON"});
  });
  BOOST_CHECK_EXCEPTION(c.load_file(d + "/missing.json"), difflab::Error,
                        [](const difflab::Error& e) { return message_has(e, {"missing.json"}); });
  fs::remove_all(d);
}

BOOST_AUTO_TEST_CASE(run_folder_metrics_and_resume_truncation) {
  std::string d = tmpdir("run");
  RunFolder run(d);
  BOOST_TEST(fs::is_directory(d + "/checkpoints"));
  BOOST_TEST(fs::is_directory(d + "/samples"));
  run.write_config(sample_config().resolved());
  BOOST_TEST(run.read_config()["train"]["steps"].get<int>() == 1000);
  for (int s = 1; s <= 5; ++s) run.log_metric(s * 10, "loss", 1.0 / s);
  run.log_metric(50, "mmd", 0.25);
  auto rows = run.read_metrics();
  BOOST_TEST(rows.size() == 6u);
  BOOST_TEST(rows[1].step == 20);
  BOOST_TEST(rows[1].value == 0.5);
  BOOST_TEST(rows[5].metric == "mmd");
  // A torn last line (crash mid-write) is skipped, not fatal.
  {
    std::FILE* f = std::fopen((d + "/metrics.csv").c_str(), "a");
    std::fputs("60,lo", f);
    std::fclose(f);
  }
  BOOST_TEST(run.read_metrics().size() == 6u);
  run.truncate_metrics_after(30);
  rows = run.read_metrics();
  BOOST_TEST(rows.size() == 3u);
  BOOST_TEST(rows.back().step == 30);
  // Atomic writes leave no temporary files behind.
  for (auto& e : fs::directory_iterator(d))
    BOOST_TEST(e.path().string().find(".tmp.") == std::string::npos);
  fs::remove_all(d);
}

BOOST_AUTO_TEST_CASE(png_grid_has_expected_size) {
  tensor::Tensor imgs = tensor::linspace(-1, 1, 10 * 1 * 4 * 5).reshape({10, 1, 4, 5});
  std::string png = png_grid(imgs, 4, 2);
  BOOST_TEST(png.substr(1, 3) == "PNG");
  auto be32 = [&](size_t off) {
    return (uint32_t(uint8_t(png[off])) << 24) | (uint32_t(uint8_t(png[off + 1])) << 16) |
           (uint32_t(uint8_t(png[off + 2])) << 8) | uint32_t(uint8_t(png[off + 3]));
  };
  BOOST_TEST(be32(16) == 4u * (5 + 2) + 2);  // width: 4 per row
  BOOST_TEST(be32(20) == 3u * (4 + 2) + 2);  // height: 3 rows
  BOOST_CHECK_EXCEPTION(png_grid(tensor::zeros({2, 2, 4, 4})), difflab::Error,
                        [](const difflab::Error& e) { return message_has(e, {"[2, 2, 4, 4]"}); });
}

BOOST_AUTO_TEST_CASE(report_embeds_plots_and_images) {
  BOOST_TEST(base64_encode("Man") == "TWFu");
  BOOST_TEST(base64_encode("Ma") == "TWE=");
  BOOST_TEST(base64_encode("M") == "TQ==");
  Report r("test <run>");
  r.heading("Loss");
  r.plot({{"train", {1, 2, 3}, {1.0, 0.5, 0.25}}}, {"loss", "step", "loss", false, true});
  r.table({"steps", "mmd"}, {{"1", "0.5"}});
  r.image("grid", png_grid(tensor::zeros({1, 1, 2, 2})));
  std::string html = r.html();
  BOOST_TEST(html.find("<svg") != std::string::npos);
  BOOST_TEST(html.find("polyline") != std::string::npos);
  BOOST_TEST(html.find("data:image/png;base64,iVBOR") != std::string::npos);
  BOOST_TEST(html.find("test &lt;run&gt;") != std::string::npos);
  std::string svg = svg_line_plot({}, {"empty", "", "", false, false});
  BOOST_TEST(svg.find("no data") != std::string::npos);
}
