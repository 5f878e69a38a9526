// Forward outputs and gradients against PyTorch 1.13 references (tests/fixtures/*.bin, written
// in float64 by tests/fixtures/make_fixtures.py). Each case is rebuilt from the stored inputs
// with difflab's Var ops, in f64 (to ~1e-10 of the tensor's scale) and in f32 (to ~1e-4).
#include <unistd.h>

#include <algorithm>
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>

#include "autograd/engine.h"
#include "autograd/functions.h"
#include "tests/support/fixtures.h"

namespace {

using difflab::ag::Var;
using difflab::tensor::DType;
using difflab::tensor::shape_str;
using difflab::tensor::Tensor;
using difflab::testing::Fixture;
namespace ag = difflab::ag;

using Params = std::map<std::string, Var>;
using CaseFn = std::function<Var(const Params&)>;

constexpr double kTolF64 = 1e-10;
constexpr double kTolF32 = 1e-4;

// max |got - ref| / max |ref|: relative to the tensor's scale, so entries near zero (e.g. a
// bias gradient that nearly cancels) do not demand more than the arithmetic can give.
double scaled_error(const Tensor& got, const Tensor& ref) {
  auto g = got.to(DType::f64).contiguous().to_vector<double>();
  auto r = ref.to(DType::f64).contiguous().to_vector<double>();
  double diff = 0, scale = 0;
  for (size_t i = 0; i < r.size(); ++i) {
    diff = std::max(diff, std::abs(g[i] - r[i]));
    scale = std::max(scale, std::abs(r[i]));
  }
  if (std::isnan(diff) || std::any_of(g.begin(), g.end(), [](double v) { return std::isnan(v); }))
    return INFINITY;
  return scale > 0 ? diff / scale : diff;
}

// Returns the scaled error (infinity when the result is missing or misshapen).
double check_close(const std::string& what, const Tensor& got, const Tensor& ref, double tol) {
  BOOST_TEST_CONTEXT(what) {
    BOOST_REQUIRE_MESSAGE(got.defined(), what << ": result is undefined");
    BOOST_REQUIRE_MESSAGE(got.shape() == ref.shape(), what << ": shape " << shape_str(got.shape())
                                                           << " vs reference "
                                                           << shape_str(ref.shape()));
    const double err = scaled_error(got, ref);
    BOOST_CHECK_MESSAGE(err <= tol, what << ": scaled error " << err << " > " << tol);
    return err;
  }
  return INFINITY;
}

// Rebuilds one recorded case (prefix.<input>, prefix.out, prefix.gout, prefix.grad.<input>)
// in `dtype` and compares the output and every input's gradient (via ag::grad).
void check_case(const Fixture& f, const std::string& prefix, const std::vector<std::string>& inputs,
                const CaseFn& fn, DType dtype, double tol) {
  const std::string tag = f.path() + " [" + prefix + "] " + difflab::tensor::dtype_name(dtype);
  Params p;
  std::vector<Var> leaves;
  for (const auto& name : inputs) {
    leaves.emplace_back(f.at(prefix + name).to(dtype), true);
    p[name] = leaves.back();
  }
  Var out = fn(p);
  BOOST_REQUIRE_EQUAL(out.dtype(), dtype);
  double worst = check_close(tag + " forward", out.value(), f.at(prefix + "out"), tol);
  Var gout(f.at(prefix + "gout").to(dtype));
  auto grads = ag::grad({out}, leaves, {gout});
  BOOST_REQUIRE_EQUAL(grads.size(), inputs.size());
  for (size_t i = 0; i < inputs.size(); ++i)
    worst = std::max(worst, check_close(tag + " grad " + inputs[i], grads[i].value(),
                                        f.at(prefix + "grad." + inputs[i]), tol));
  BOOST_TEST_MESSAGE(tag << ": worst scaled error " << worst << " (tolerance " << tol << ")");
}

void check_both_dtypes(const Fixture& f, const std::string& prefix,
                       const std::vector<std::string>& inputs, const CaseFn& fn) {
  check_case(f, prefix, inputs, fn, DType::f64, kTolF64);
  check_case(f, prefix, inputs, fn, DType::f32, kTolF32);
}

Fixture load(const std::string& file) {
  return difflab::testing::load_fixture(difflab::testing::fixture_path(file));
}

// The diffusion U-Net self-attention block of make_fixtures.py's attention_block.
Var attention_block(const Params& p, int64_t groups) {
  const Var& x = p.at("x");
  const int64_t n = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
  Var hn = ag::group_norm(x, groups, p.at("gn_w"), p.at("gn_b"), 1e-5);
  Var qkv = ag::reshape(ag::conv2d(hn, p.at("qkv_w"), p.at("qkv_b")), {n, 3 * c, h * w});
  Var q = ag::slice(qkv, 1, 0, c), k = ag::slice(qkv, 1, c, 2 * c);
  Var v = ag::slice(qkv, 1, 2 * c, 3 * c);
  Var attn = ag::softmax(ag::matmul(ag::transpose(q, 1, 2), k) / std::sqrt(double(c)), -1);
  Var o = ag::reshape(ag::matmul(v, ag::transpose(attn, 1, 2)), {n, c, h, w});
  return x + ag::conv2d(o, p.at("proj_w"), p.at("proj_b"));
}

const std::vector<std::string> kAttentionInputs = {"x",     "gn_w",   "gn_b",  "qkv_w",
                                                   "qkv_b", "proj_w", "proj_b"};

}  // namespace

BOOST_AUTO_TEST_SUITE(reference_torch)

BOOST_AUTO_TEST_CASE(conv2d_configs) {
  Fixture f = load("conv2d.bin");
  const int64_t count = f.integer("count");
  BOOST_REQUIRE_GE(count, 3);
  for (int64_t i = 0; i < count; ++i) {
    const std::string pre = "cfg" + std::to_string(i) + ".";
    auto s = f.ints(pre + "stride"), pad = f.ints(pre + "padding"), d = f.ints(pre + "dilation");
    difflab::tensor::Conv2dParams cp;
    cp.stride_h = s[0], cp.stride_w = s[1], cp.pad_h = pad[0], cp.pad_w = pad[1];
    cp.dil_h = d[0], cp.dil_w = d[1], cp.groups = f.integer(pre + "groups");
    check_both_dtypes(f, pre, {"x", "w", "b"}, [&](const Params& p) {
      return ag::conv2d(p.at("x"), p.at("w"), p.at("b"), cp);
    });
  }
}

BOOST_AUTO_TEST_CASE(group_norm_affine) {
  Fixture f = load("group_norm.bin");
  const int64_t count = f.integer("count");
  BOOST_REQUIRE_GE(count, 1);
  for (int64_t i = 0; i < count; ++i) {
    const std::string pre = "cfg" + std::to_string(i) + ".";
    const int64_t groups = f.integer(pre + "groups");
    const double eps = f.scalar(pre + "eps");
    check_both_dtypes(f, pre, {"x", "weight", "bias"}, [&](const Params& p) {
      return ag::group_norm(p.at("x"), groups, p.at("weight"), p.at("bias"), eps);
    });
  }
}

BOOST_AUTO_TEST_CASE(softmax_middle_dim) {
  Fixture f = load("softmax.bin");
  const int64_t dim = f.integer("dim");
  check_both_dtypes(f, "softmax.", {"x"},
                    [&](const Params& p) { return ag::softmax(p.at("x"), dim); });
  check_both_dtypes(f, "log_softmax.", {"x"},
                    [&](const Params& p) { return ag::log_softmax(p.at("x"), dim); });
}

BOOST_AUTO_TEST_CASE(matmul_broadcast) {
  Fixture f = load("matmul.bin");
  auto mm = [](const Params& p) { return ag::matmul(p.at("a"), p.at("b")); };
  check_both_dtypes(f, "bcast.", {"a", "b"}, mm);
  check_both_dtypes(f, "vec_mat.", {"a", "b"}, mm);
}

BOOST_AUTO_TEST_CASE(attention_block_grad) {
  Fixture f = load("attention.bin");
  const int64_t groups = f.integer("groups");
  check_both_dtypes(f, "", kAttentionInputs,
                    [&](const Params& p) { return attention_block(p, groups); });
}

// The same block through Var::backward, which accumulates into the leaves' .grad.
BOOST_AUTO_TEST_CASE(attention_block_backward_accumulates) {
  Fixture f = load("attention.bin");
  Params p;
  for (const auto& name : kAttentionInputs) p[name] = Var(f.at(name).clone(), true);
  Var out = attention_block(p, f.integer("groups"));
  out.backward(Var(f.at("gout")));
  for (const auto& name : kAttentionInputs) {
    BOOST_REQUIRE_MESSAGE(p[name].grad().defined(), name << " has no .grad after backward");
    check_close("attention backward() grad " + name, p[name].grad().value(), f.at("grad." + name),
                kTolF64);
  }
}

// Hessian-vector products through the recorded backward of every op in the block
// (group_norm, conv2d, softmax, matmul, slices), against torch's double backward.
BOOST_AUTO_TEST_CASE(attention_block_hvp) {
  Fixture f = load("attention.bin");
  Params p;
  std::vector<Var> leaves;
  for (const auto& name : kAttentionInputs) {
    leaves.emplace_back(f.at(name).clone(), true);
    p[name] = leaves.back();
  }
  Var out = attention_block(p, f.integer("groups"));
  auto g = ag::grad({out}, leaves, {Var(f.at("gout"))}, /*create_graph=*/true);
  Var s;
  for (size_t i = 0; i < leaves.size(); ++i) {
    Var term = ag::sum(g[i] * Var(f.at("hvp.dir." + kAttentionInputs[i])));
    s = s.defined() ? s + term : term;
  }
  auto hvp = ag::grad({s}, leaves, {}, false, /*allow_unused=*/true);
  for (size_t i = 0; i < leaves.size(); ++i)
    check_close("attention hvp " + kAttentionInputs[i], hvp[i].value(),
                f.at("hvp." + kAttentionInputs[i]), 1e-9);
}

BOOST_AUTO_TEST_SUITE_END()

// ---- the reader itself ----

namespace {

std::vector<char> read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// A per-process scratch folder for corrupted copies, removed at exit.
struct TempDir {
  std::filesystem::path dir = std::filesystem::temp_directory_path() /
                              ("difflab_fixture_test_" + std::to_string(::getpid()));
  TempDir() { std::filesystem::create_directories(dir); }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
};

std::string write_temp(const std::string& stem, const std::vector<char>& bytes) {
  static TempDir tmp;
  std::string path = (tmp.dir / stem).string();
  std::ofstream(path, std::ios::binary).write(bytes.data(), std::streamsize(bytes.size()));
  return path;
}

// Expects load_fixture(path) (or `fn`) to throw difflab::Error whose message names the file and
// contains `needle`.
void expect_error(const std::function<void()>& fn, const std::string& path,
                  const std::string& needle) {
  try {
    fn();
    BOOST_ERROR("no error for " << path << " (expected '" << needle << "')");
  } catch (const difflab::Error& e) {
    const std::string msg = e.what();
    BOOST_TEST_MESSAGE("error as expected: " << msg);
    BOOST_CHECK_MESSAGE(msg.find(path) != std::string::npos,
                        "message does not name the file: " << msg);
    BOOST_CHECK_MESSAGE(msg.find(needle) != std::string::npos,
                        "message lacks '" << needle << "': " << msg);
  }
}

void expect_load_error(const std::string& path, const std::string& needle) {
  expect_error([&] { difflab::testing::load_fixture(path); }, path, needle);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(fixture_reader)

BOOST_AUTO_TEST_CASE(reads_names_and_shapes) {
  Fixture f = load("matmul.bin");
  BOOST_TEST((f.at("bcast.a").shape() == difflab::tensor::Shape{2, 1, 3, 4}));
  BOOST_TEST((f.at("bcast.out").shape() == difflab::tensor::Shape{2, 3, 3, 5}));
  BOOST_TEST(f.at("bcast.a").dtype() == DType::f64);
  BOOST_TEST(f.names().size() == 12u);
}

BOOST_AUTO_TEST_CASE(rejects_truncated_file) {
  auto bytes = read_bytes(difflab::testing::fixture_path("softmax.bin"));
  BOOST_REQUIRE_GT(bytes.size(), 100u);
  bytes.resize(bytes.size() - 7);  // inside the last tensor's data
  expect_load_error(write_temp("truncated_data.bin", bytes), "truncated");
  bytes.resize(10);  // inside the header
  expect_load_error(write_temp("truncated_header.bin", bytes), "truncated");
  bytes.resize(0);
  expect_load_error(write_temp("empty.bin", bytes), "truncated");
}

BOOST_AUTO_TEST_CASE(rejects_bad_magic_version_and_trailing_bytes) {
  const auto good = read_bytes(difflab::testing::fixture_path("softmax.bin"));
  auto bytes = good;
  bytes[0] ^= 0x5a;
  expect_load_error(write_temp("bad_magic.bin", bytes), "magic");
  bytes = good;
  bytes[4] = 7;  // version 7
  expect_load_error(write_temp("bad_version.bin", bytes), "version 7");
  bytes = good;
  bytes.push_back(0);
  expect_load_error(write_temp("trailing.bin", bytes), "unexpected bytes");
}

BOOST_AUTO_TEST_CASE(rejects_missing_file_and_unknown_key) {
  const std::string missing = difflab::testing::fixture_path("no_such_fixture.bin");
  expect_load_error(missing, "cannot open");
  Fixture f = load("softmax.bin");
  expect_error([&] { f.at("softmax.nope"); }, f.path(), "softmax.nope");
  expect_error([&] { f.integer("softmax.x"); }, f.path(), "expected i64");
}

BOOST_AUTO_TEST_SUITE_END()
