// `difflab concepts` end to end at toy sizes (preset concepts_tiny) on a synthetic MNIST cache
// ($DIFFLAB_MNIST), so no download is needed: the base trains first, every method runs and is
// judged, the sub-run is kept and reused on --resume, and a composition that is not held out is
// refused by name.
#include <boost/test/unit_test.hpp>
#include <filesystem>

#include "experiments/concepts.h"
#include "experiments/io.h"
#include "tests/support/check_message.h"
#include "tests/support/run_helpers.h"
#include "tests/support/synthetic_mnist.h"

using namespace difflab;
using namespace difflab::experiments;
using difflab::testing::fresh_temp_dir;
using difflab::testing::message_has;
namespace fs = std::filesystem;

namespace {

CommandArgs tiny(const std::string& root) {
  CommandArgs a;
  a.preset = "concepts_tiny";
  a.run_dir = root + "/concepts";
  a.threads = 1;
  a.sets = {"concepts.base=" + root + "/base"};
  return a;
}

}  // namespace

BOOST_AUTO_TEST_CASE(tiny_concepts_runs_every_method_and_resumes) {
  const std::string root = fresh_temp_dir("concepts_tiny");
  difflab::testing::use_synthetic_mnist(root + "/mnist.bin");
  BOOST_REQUIRE(run_concepts(tiny(root)) == 0);
  const std::string q = root + "/concepts/compositions/0-red/q0/";
  BOOST_TEST(fs::exists(root + "/base/checkpoints/ema.safetensors"));
  for (const char* f : {"result.json", "query.png", "modes.png", "nearest.png", "query_only.png",
                        "query_only/checkpoints/adapter.safetensors"})
    BOOST_TEST(fs::exists(q + f), f);
  const std::string first = read_file(q + "result.json");
  const nlohmann::json r = nlohmann::json::parse(first);
  BOOST_TEST(r.at("discovery").size() == 2u);  // two PoE seeds
  BOOST_TEST(r.at("real_images").get<int64_t>() == 9);  // 10 held-out digits 0, one the query
  const bool selected = !r.at("discovery")[0].at("chosen").empty();
  BOOST_TEST(r.at("methods").contains("poe") == selected);
  BOOST_TEST(r.at("methods").contains("lora") == selected);
  for (const auto& [method, list] : r.at("methods").items())
    for (const auto& s : list) {
      BOOST_TEST(s.at("n").get<int64_t>() == 8, method);
      for (const char* k : {"digit", "color", "joint", "precision", "recall"})
        BOOST_TEST((s.at(k).get<double>() >= 0 && s.at(k).get<double>() <= 1), method << " " << k);
    }
  const std::string html = read_file(root + "/concepts/report.html");
  BOOST_TEST(html.find("overall") != std::string::npos);
  // --resume keeps the finished sub-run as it is.
  CommandArgs again = tiny(root);
  again.resume = true;
  BOOST_TEST(run_concepts(again) == 0);
  BOOST_TEST(read_file(q + "result.json") == first);
  // A composition the base model trained on is refused, naming it.
  CommandArgs bad = tiny(root);
  bad.sets.push_back("concepts.compositions=3-red");
  BOOST_CHECK_EXCEPTION(run_concepts(bad), Error,
                        [](const Error& e) { return message_has(e, {"3-red", "held-out"}); });
}
