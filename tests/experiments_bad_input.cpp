// Bad input is refused with a message naming what is wrong (issue 9), table-driven: tensor ops
// (shapes, dtypes, devices, sizes beyond memory), autograd misuse, configuration (unknown key with
// a suggestion, wrong type, out-of-range value, malformed file), checkpoints (missing, truncated,
// corrupt header, missing tensor, wrong shape), data files (missing, malformed) and devices. The
// same is checked through the `difflab` executable: exit status 1, the message on stderr, and
// no run folder left behind.
#include <sys/wait.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <filesystem>
#include <functional>

#include "autograd/engine.h"
#include "autograd/functions.h"
#include "experiments/command.h"
#include "experiments/config.h"
#include "experiments/data/fashion_mnist.h"
#include "experiments/data/mnist.h"
#include "experiments/ddpm_model.h"
#include "experiments/io.h"
#include "experiments/train_ddpm.h"
#include "nn/layers.h"
#include "nn/safetensors.h"
#include "tensor/device.h"
#include "tensor/factory.h"
#include "tensor/ops.h"
#include "tests/support/run_helpers.h"

using namespace difflab;
using namespace difflab::tensor;
using namespace difflab::experiments;
using namespace difflab::testing;
namespace fs = std::filesystem;

namespace {

struct Case {
  std::string name;
  std::function<void()> run;
  std::vector<std::string> expect;  // substrings the message must contain
};

// Runs every case: each must throw difflab::Error whose message has every expected piece.
int check_table(const std::vector<Case>& cases) {
  int n = 0;
  for (const auto& c : cases) {
    BOOST_TEST_CONTEXT("case '" << c.name << "'") {
      try {
        c.run();
        BOOST_ERROR("no error was raised");
      } catch (const difflab::Error& e) {
        const std::string msg = e.what();
        BOOST_TEST_MESSAGE(c.name << ": " << msg);
        for (const auto& piece : c.expect)
          BOOST_TEST(msg.find(piece) != std::string::npos,
                     "message lacks '" << piece << "': " << msg);
      } catch (const std::exception& e) {
        BOOST_ERROR("a " << typeid(e).name() << " instead of difflab::Error: " << e.what());
      }
    }
    ++n;
  }
  return n;
}

std::string temp_path(const std::string& name) {
  return (fs::temp_directory_path() / ("difflab_bad_" + name)).string();
}

void write_text(const std::string& path, const std::string& s) { write_file_atomic(path, s); }

Tensor f32(const Shape& s) { return zeros(s, DType::f32); }

}  // namespace

BOOST_AUTO_TEST_CASE(tensor_and_autograd_errors_name_the_problem) {
  Conv2dParams p;
  std::vector<Case> cases = {
      {"add with mismatched shapes",
       [] {
         binary(BinaryOp::add, f32({2, 3}), f32({4, 3}));
       },
       {"add", "[2, 3]", "[4, 3]"}},
      {"mul with mismatched dtypes",
       [] { binary(BinaryOp::mul, f32({2}), zeros({2}, DType::f64)); },
       {"mul", "dtype", "f32", "f64"}},
      {"matmul inner dims",
       [] {
         matmul(f32({2, 3}), f32({4, 5}));
       },
       {"matmul", "[2, 3]", "[4, 5]"}},
      {"matmul of an integer tensor",
       [] {
         matmul(zeros({2, 2}, DType::i64), zeros({2, 2}, DType::i64));
       },
       {"matmul", "i64"}},
      {"conv2d channel mismatch",
       [p] {
         conv2d(f32({1, 3, 8, 8}), f32({4, 2, 3, 3}), Tensor(), p);
       },
       {"conv2d", "[1, 3, 8, 8]", "[4, 2, 3, 3]"}},
      {"conv2d of a 3-D input",
       [p] {
         conv2d(f32({3, 8, 8}), f32({4, 3, 3, 3}), Tensor(), p);
       },
       {"conv2d", "[3, 8, 8]"}},
      {"reshape to a different size",
       [] {
         f32({2, 3}).reshape({4, 2});
       },
       {"[2, 3]", "[4, 2]"}},
      {"softmax over a missing dim",
       [] {
         softmax(f32({2, 3}), 5);
       },
       {"softmax", "5"}},
      {"group_norm with groups not dividing channels",
       [] {
         group_norm(f32({2, 6, 4, 4}), 4, Tensor(), Tensor(), 1e-5);
       },
       {"group_norm", "4", "6"}},
      {"index_select out of range",
       [] {
         index_select(f32({3, 2}), 0, from_vector({0, 7}, {2}, DType::i64));
       },
       {"index_select", "7"}},
      {"index_select with a float index",
       [] {
         index_select(f32({3, 2}), 0, f32({2}));
       },
       {"index_select", "i64"}},
      {"embedding index out of range",
       [] {
         embedding(f32({4, 2}), from_vector({4}, {1}, DType::i64));
       },
       {"embedding", "4"}},
      {"cat of mismatched shapes",
       [] {
         cat({f32({2, 3}), f32({2, 4})}, 0);
       },
       {"cat", "[2, 3]", "[2, 4]"}},
      {"a tensor moved to a missing device", [] { f32({2}).to(Device::cuda(0)); }, {"cuda:0"}},
      {"an allocation beyond memory",
       [] {
         Tensor a = ones({1, 1}).expand({int64_t(1) << 22, int64_t(1) << 22});
         binary(BinaryOp::add, a, a);
       },
       {"add", "out of memory", "64.0 TiB", "f32[4194304, 4194304]"}},
      {"a matmul whose output exceeds memory",
       [] {
         Tensor a = ones({1, 1}).expand({int64_t(1) << 22, 1});
         Tensor b = ones({1, 1}).expand({1, int64_t(1) << 22});
         matmul(a, b);
       },
       {"matmul", "out of memory", "64.0 TiB"}},
      {"a conv2d whose output exceeds memory",
       [] {
         Tensor x = ones({1, 1, 1, 1}).expand({int64_t(1) << 20, 1, 128, 128});
         conv2d(x, ones({1024, 1, 1, 1}), Tensor(), Conv2dParams{});
       },
       {"conv2d", "out of memory"}},
      {"a shape with more elements than int64",
       [] {
         zeros({int64_t(1) << 30, int64_t(1) << 30, int64_t(1) << 30});
       },
       {"[1073741824, 1073741824, 1073741824]", "2^62"}},
      {"a negative size",
       [] {
         zeros({2, -1});
       },
       {"negative", "[2, -1]"}},
      {"backward of a non-scalar without a gradient",
       [] {
         ag::Var x(f32({3}), true);
         ag::mul(x, x).backward();
       },
       {"backward", "[3]"}},
      {"grad with respect to an unused input",
       [] {
         ag::Var x(f32({3}), true), y(f32({3}), true);
         ag::grad({ag::sum(ag::mul(x, x))}, {y});
       },
       {"grad", "allow_unused"}},
      {"unknown device name", [] { parse_device("gpu"); }, {"unknown device 'gpu'", "cuda"}},
      // "no CUDA backend" in a CPU-only build, "no CUDA device can be used" without a GPU.
      {"a CUDA device that cannot be used",
       [] { check_device_available(parse_device("cuda:1")); },
       {"cuda:1", cuda_device_count() > 0 ? "present" : "no CUDA", "--device cpu"}},
  };
  int n = check_table(cases);
  BOOST_TEST_MESSAGE(n << " tensor/autograd/device cases");
}

BOOST_AUTO_TEST_CASE(config_errors_name_the_key_and_the_range) {
  const std::string bad_json = temp_path("bad.json"), array_json = temp_path("array.json");
  write_text(bad_json, "{\"train\": {\"steps\": 10,}}");
  write_text(array_json, "[1, 2]");
  auto cfg = [] {
    Config c = ddpm_config();
    resolve_config(c, CommandArgs{});
    return c;
  };
  std::vector<Case> cases = {
      {"unknown key",
       [&] { cfg().set("train.setps=10"); },
       {"train.setps", "did you mean 'train.steps'"}},
      {"unknown nested key in a file",
       [&] { cfg().load_json(nlohmann::json::parse(R"({"model": {"hiden": 3}})"), "f.json"); },
       {"f.json", "model.hiden", "did you mean 'model.hidden'"}},
      {"integer key given a string",
       [&] { cfg().set("train.steps=many"); },
       {"train.steps", "expects an integer", "many"}},
      {"integer key given a fraction",
       [&] { cfg().set("train.batch=2.5"); },
       {"train.batch", "expects an integer"}},
      {"integer out of range",
       [&] { cfg().set("train.batch=0"); },
       {"train.batch", "out of range", "[1, 65536]"}},
      {"number out of range",
       [&] { cfg().set("train.lr=3"); },
       {"train.lr", "out of range", "[0, 1]"}},
      {"number given NaN", [&] { cfg().set("train.lr=NaN"); }, {"train.lr"}},
      {"bool given a number",
       [&] { cfg().set("sample.clip_x0=1"); },
       {"sample.clip_x0", "true or false"}},
      {"choice not allowed",
       [&] { cfg().set("diffusion.param=score"); },
       {"diffusion.param", "score", "eps, x0, v"}},
      {"assignment without '='",
       [&] { cfg().set("train.steps"); },
       {"--set", "key=value", "train.steps"}},
      {"malformed JSON file", [&] { cfg().load_file(bad_json); }, {bad_json, "not valid JSON"}},
      {"JSON file that is not an object",
       [&] { cfg().load_file(array_json); },
       {array_json, "object"}},
      {"missing config file",
       [&] { cfg().load_file(temp_path("nope.json")); },
       {temp_path("nope.json")}},
      {"unknown preset",
       [&] {
         Config c = ddpm_config();
         CommandArgs a;
         a.preset = "ddpm_rnig";
         resolve_config(c, a);
       },
       {"unknown preset 'ddpm_rnig'"}},
      {"threads out of range",
       [&] { cfg().set("threads=100000"); },
       {"threads", "out of range", "[0, 256]"}},
  };
  int n = check_table(cases);
  BOOST_TEST_MESSAGE(n << " config cases");
  fs::remove(bad_json);
  fs::remove(array_json);
}

BOOST_AUTO_TEST_CASE(checkpoint_and_data_errors_name_the_file_and_key) {
  // A valid checkpoint of a small module, and damaged copies of it.
  nn::Linear lin(3, 2);
  const std::string good = temp_path("good.safetensors");
  nn::save_module(good, lin);
  const std::string bytes = read_file(good);
  auto variant = [&](const std::string& name, const std::string& content) {
    std::string p = temp_path(name);
    write_text(p, content);
    return p;
  };
  const std::string truncated = variant("truncated.safetensors", bytes.substr(0, bytes.size() - 5));
  std::string corrupt = bytes;
  corrupt[9] = '#';  // inside the JSON header
  const std::string corrupt_header = variant("corrupt.safetensors", corrupt);
  std::string huge = bytes;
  for (int i = 0; i < 8; ++i) huge[i] = char(0x7f);  // header length beyond the file
  const std::string huge_header = variant("huge.safetensors", huge);
  const std::string missing_tensor = temp_path("missing_tensor.safetensors");
  nn::save_safetensors(missing_tensor, {{"weight", zeros({2, 3})}});
  const std::string wrong_shape = temp_path("wrong_shape.safetensors");
  nn::save_safetensors(wrong_shape, {{"weight", zeros({3, 2})}, {"bias", zeros({2})}});
  const std::string wrong_dtype = temp_path("wrong_dtype.safetensors");
  nn::save_safetensors(wrong_dtype, {{"weight", zeros({2, 3}, DType::i64)}, {"bias", zeros({2})}});

  // Data files: a missing MNIST cache, a malformed one, a missing Fashion-MNIST directory.
  const std::string junk_mnist = variant("mnist.bin", "not an MNIST cache at all");
  const std::string no_dir = temp_path("no_such_dir");

  auto load_into = [](const std::string& p) {
    return [p] {
      nn::Linear m(3, 2);
      nn::load_module(p, m);
    };
  };
  std::vector<Case> cases = {
      {"missing checkpoint",
       load_into(temp_path("absent.safetensors")),
       {temp_path("absent.safetensors")}},
      {"truncated checkpoint", load_into(truncated), {truncated}},
      {"corrupt header", load_into(corrupt_header), {corrupt_header, "header"}},
      {"header length beyond the file", load_into(huge_header), {huge_header, "header"}},
      {"missing tensor", load_into(missing_tensor), {missing_tensor, "bias"}},
      {"tensor of the wrong shape",
       load_into(wrong_shape),
       {wrong_shape, "weight", "[2, 3]", "[3, 2]"}},
      {"tensor of the wrong dtype", load_into(wrong_dtype), {wrong_dtype, "weight", "i64"}},
      {"missing MNIST cache",
       [] { read_mnist_cache(temp_path("no_mnist.bin")); },
       {temp_path("no_mnist.bin"), "scripts/fetch_mnist.sh"}},
      {"malformed MNIST cache", [&] { read_mnist_cache(junk_mnist); }, {junk_mnist}},
      {"missing Fashion-MNIST",
       [&] { load_fashion_mnist(no_dir); },
       {no_dir, "dataset-fashion-mnist"}},
  };
  int n = check_table(cases);
  BOOST_TEST_MESSAGE(n << " checkpoint/data cases");
  for (const auto& p : {good, truncated, corrupt_header, huge_header, missing_tensor, wrong_shape,
                        wrong_dtype, junk_mnist})
    fs::remove(p);
}

// Through the executable: exit status 1 (never a crash), the message on stderr, and no run
// folder written for a refused command.
BOOST_AUTO_TEST_CASE(the_command_line_refuses_bad_input_cleanly) {
  struct CliCase {
    std::string name;
    std::vector<std::string> args;
    std::vector<std::string> expect;
    std::map<std::string, std::string> env;
  };
  const std::string run = temp_path("cli_run");
  const std::string bad_cfg = temp_path("cli_bad.json");
  write_text(bad_cfg, "{\"train\": {\"lr\": \"fast\"}}");
  std::vector<CliCase> cases = {
      {"unknown key",
       {"train-ddpm", "--preset", "ddpm_tiny", "--set", "train.setps=3"},
       {"train.setps", "did you mean 'train.steps'"},
       {}},
      {"value out of range",
       {"train-ddpm", "--preset", "ddpm_tiny", "--set", "train.batch=0"},
       {"train.batch", "out of range"},
       {}},
      {"wrong type in a config file",
       {"train-ddpm", "--config", bad_cfg},
       {bad_cfg, "train.lr", "expects a number"},
       {}},
      {"missing device",
       {"train-ddpm", "--preset", "ddpm_tiny", "--device", "cuda"},
       {"cuda:0", "--device cpu"},
       {}},
      {"unknown device",
       {"train-ddpm", "--preset", "ddpm_tiny", "--device", "tpu"},
       {"unknown device 'tpu'"},
       {}},
      {"missing data file",
       {"train-ddpm", "--preset", "ddpm_tiny", "--set", "data.name=mnist"},
       {temp_path("cli_no_mnist.bin"), "fetch_mnist.sh"},
       {{"DIFFLAB_MNIST", temp_path("cli_no_mnist.bin")}}},
      {"resume of a run that does not exist",
       {"train-ddpm", "--resume"},
       {"no run to resume", "config.json"},
       {}},
      {"sample from a run that does not exist", {"sample"}, {"no run to resume"}, {}},
      {"unknown preset",
       {"train-ddpm", "--preset", "ddpm_rnig"},
       {"unknown preset 'ddpm_rnig'", "ddpm_ring", "difflab presets"},
       {}},
      {"a key renamed for this command",
       {"train-flux", "--preset", "flux_tiny", "--set", "sample.steps=5"},
       {"'sample.steps' is now 'langevin.steps'"},
       {}},
  };
  for (auto& c : cases) {
    BOOST_TEST_CONTEXT("command line case '" << c.name << "'") {
      fs::remove_all(run);
      const std::string err = temp_path("cli_err.txt");
      std::vector<std::string> args = c.args;
      args.push_back("--run");
      args.push_back(run);
      pid_t pid = spawn_difflab(args, err, c.env, /*stderr_only=*/true);
      BOOST_REQUIRE(pid >= 0);
      const int st = wait_status(pid);
      BOOST_TEST(WIFEXITED(st), "the process did not exit normally (signal "
                                    << (WIFSIGNALED(st) ? WTERMSIG(st) : 0) << ")");
      BOOST_TEST(WEXITSTATUS(st) == 1);
      const std::string msg = read_file(err);
      BOOST_TEST_MESSAGE(c.name << ": exit " << WEXITSTATUS(st) << ", " << msg);
      for (const auto& piece : c.expect)
        BOOST_TEST(msg.find(piece) != std::string::npos, "stderr lacks '" << piece << "': " << msg);
      BOOST_TEST(!fs::exists(run), "a refused command left " << run << " behind");
      fs::remove(err);
    }
  }
  BOOST_TEST_MESSAGE(cases.size() << " command-line cases");
  fs::remove(bad_cfg);
  fs::remove_all(run);
}
